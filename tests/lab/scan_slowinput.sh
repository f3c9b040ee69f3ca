#!/usr/bin/env bash
# A slow producer on standard input must not stop the scan's loop: stall.test's probe
# times out (--timeout 2) and its line is written while the next input line is still
# 5 s away. With a blocking read the loop, and every timer with it, waited for the input.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"
lab_start || exit 1

out=$TMPD/out.jsonl
( echo stall.test; sleep 5; echo dane-ok.test ) |
	"$bin" scan --dns-config "$DANEMX_DNS_CONFIG" --port "$DANEMX_LAB_PORT" --timeout 2 \
		--quiet --single-key --output "$out" &
scan=$!
sleep 3.5
t_check "stall.test written before the next line arrives" grep -q '"domain":"stall.test","verdict":"tempfail"' "$out"
t_check "the scan is still waiting for input" kill -0 $scan
wait $scan
t_expect "scan exits 0" 0 $?
t_check "the late line is scanned too" grep -q '"domain":"dane-ok.test","verdict":"verified"' "$out"
t_expect "two lines" 2 "$(wc -l <"$out")"
lab_stop
t_summary

#!/usr/bin/env bash
# danemx lookup: bad options and files give the documented exit code and exactly one line
# on stderr naming the culprit; nothing here needs the network (errors come before any query,
# the silent resolver is a local UDP port nobody reads).
set -u
bin=$1
tmp=$(mktemp -d /tmp/danemx-lookup-err.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # check WANT_EXIT NEEDLE DESCRIPTION -- command...
	local want=$1 needle=$2 what=$3; shift 4
	"$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
	local lines; lines=$(wc -l <"$tmp/err")
	if [ "$got" != "$want" ]; then
		echo "FAIL: $what: exit $got, want $want"; cat "$tmp/err"; fail=$((fail + 1))
	elif ! grep -qF -- "$needle" "$tmp/err"; then
		echo "FAIL: $what: stderr lacks '$needle':"; cat "$tmp/err"; fail=$((fail + 1))
	elif [ "$want" != 64 ] && [ "$lines" != 1 ]; then
		echo "FAIL: $what: $lines lines on stderr, want 1"; cat "$tmp/err"; fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
}
printf 'server:\n\tno-such-knob: yes\n' >"$tmp/bad.conf"
printf '; empty\n' >"$tmp/empty.ds"
printf 'server:\nauth-zone:\n\tname: "x.test."\n\tzonefile: "%s/missing.zone"\n' "$tmp" >"$tmp/nozone.conf"

check 78 "/nonexistent/anchor.key" "missing trust anchor" -- "$bin" lookup --trust-anchor /nonexistent/anchor.key example.test
check 78 "no DS or DNSKEY" "empty trust anchor" -- "$bin" lookup --trust-anchor "$tmp/empty.ds" example.test
check 78 "no-such-knob" "malformed --dns-config" -- "$bin" lookup --dns-config "$tmp/bad.conf" example.test
check 78 "/nonexistent/lab.conf" "missing --dns-config" -- "$bin" lookup --dns-config /nonexistent/lab.conf example.test
check 78 "missing.zone" "config naming a missing zone file" -- "$bin" lookup --dns-config "$tmp/nozone.conf" x.test
check 64 "bad resolver address '300.0.0.1'" "bad --resolver address" -- "$bin" lookup --resolver 300.0.0.1 example.test
check 64 "127.0.0.1@99999" "bad --resolver port" -- "$bin" lookup --resolver 127.0.0.1@99999 example.test
check 64 "--timeout" "bad --timeout" -- "$bin" lookup --timeout -1 example.test
check 64 "unknown record type 'NOPE'" "bad type" -- "$bin" lookup example.test NOPE
check 64 "bad domain name" "bad name" -- "$bin" lookup "a b.test"
check 64 "usage: danemx lookup" "no name" -- "$bin" lookup
check 64 "usage: danemx lookup" "unknown option" -- "$bin" lookup --frobnicate example.test

# A resolver address where nothing answers (an unused loopback address, so parallel tests
# cannot be listening there): timeout or failure within the bound, then exit 69.
port=$(( 30000 + $$ % 5000 ))
silent="127.254.$(( RANDOM % 250 + 1 )).$(( RANDOM % 250 + 1 ))"
start=$(date +%s%N)
printf '%s\n' ". IN DS 1 13 2 0000000000000000000000000000000000000000000000000000000000000000" >"$tmp/any.ds"
check 69 "resolver $silent@$port does not answer" "silent resolver" -- \
	"$bin" lookup --timeout 0.5 --trust-anchor "$tmp/any.ds" --resolver "$silent@$port" mx.example.org
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$ms" -gt 5000 ]; then echo "FAIL: silent resolver took ${ms} ms"; fail=$((fail + 1)); else pass=$((pass + 1)); fi
grep -Eq '^status:  (timeout|fail)' "$tmp/out" || { echo "FAIL: silent resolver: no timeout status"; cat "$tmp/out"; fail=$((fail + 1)); }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# bench/check_all.sh: does `danemx check` over every lab domain at once take little more
# time than the slowest domain alone? Prints the wall time of all domains in one run, of
# each domain alone (slowest and sum), and the ratios. A figure, not a pass/fail test.
# Usage: bench/check_all.sh [path/to/danemx]   (default build/danemx)
set -eu
bin=${1:-build/danemx}
here=$(cd "$(dirname "$0")/.." && pwd)
timeout_s=${TIMEOUT:-3}
out=$(mktemp -d /tmp/danemx-bench.XXXXXX)
trap 'kill $lab 2>/dev/null; wait $lab 2>/dev/null; rm -rf "$out"' EXIT
port=$((20000 + RANDOM % 20000))
"$bin" lab up --port "$port" >"$out/lab.out" 2>"$out/lab.err" &
lab=$!
for _ in $(seq 1 100); do grep -q '^lab ready' "$out/lab.out" && break; sleep 0.1; done
. "$(sed -n 's/^lab ready: //p' "$out/lab.out")/lab.env"
doms=$("$bin" lab list | awk 'NR>1{print $2}')
opts=(--dns-config "$DANEMX_DNS_CONFIG" --port "$port" --timeout "$timeout_s" --json)
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms); "$bin" check "${opts[@]}" $doms >/dev/null 2>&1 || true; all=$(( $(ms) - t0 ))
slowest=0; slowest_d=; sum=0; n=0
for d in $doms; do
	t0=$(ms); "$bin" check "${opts[@]}" "$d" >/dev/null 2>&1 || true; t=$(( $(ms) - t0 ))
	sum=$((sum + t)); n=$((n + 1))
	if [ $t -gt $slowest ]; then slowest=$t; slowest_d=$d; fi
done
printf 'domains checked            %d (lab scenarios, --timeout %ss)\n' "$n" "$timeout_s"
printf 'all at once (one run)      %6d ms\n' "$all"
printf 'slowest alone (%s) %6d ms\n' "$slowest_d" "$slowest"
printf 'sum of each alone          %6d ms\n' "$sum"
awk -v a="$all" -v s="$slowest" -v u="$sum" 'BEGIN{printf "all / slowest              %6.2f\nsum / all (speed-up)       %6.2f\n", a/s, u/a}'

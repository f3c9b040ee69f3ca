#!/usr/bin/env bash
# Benchmark: danemx scan against Postfix's posttls-finger over the same generated lab of
# DANE domains (lab up --bulk: signed, one MX each, TLSA 3 1 1, 4% planted failures),
# with this machine's TLS handshake rate (openssl s_time, same certificate type) as the
# ceiling. Prints figures in one run; not a pass/fail test. Needs root: the lab listens on
# port 25 of loopback addresses (posttls-finger looks TLSA up at _PORT._tcp, so the port
# must be 25 for the records to apply), its unbound on port 53 of a free loopback address,
# and posttls-finger runs under `unshare -m` with a bind-mounted resolv.conf pointing there
# (/etc is never edited).
#   bench/scan.sh [-n SMALL] [-N LARGE] [-c CONCURRENCY] [-C BIG_CONCURRENCY] [BIN]
# Figures: domains/s and peak RSS of `danemx scan --single-key` (one handshake per
# address, as posttls-finger does) and of posttls-finger run with `xargs -P CONCURRENCY`
# (peak RSS: the largest single process, and that times CONCURRENCY as the aggregate);
# CPU seconds of the scanner and of the lab's receivers (who is the bottleneck); peak RSS
# at SMALL and LARGE list sizes; per-domain memory at BIG_CONCURRENCY domains in flight:
# (RSS at BIG - RSS at 10) / (BIG - 10), both over the same 5000 names.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
n=2000 N=20000 c=100 C=1000
while getopts n:N:c:C: o; do
	case $o in n) n=$OPTARG ;; N) N=$OPTARG ;; c) c=$OPTARG ;; C) C=$OPTARG ;; *) exit 64 ;; esac
done
shift $((OPTIND - 1))
bin=${1:-$here/build/danemx}
[ "$(id -u)" -eq 0 ] || { echo "bench/scan.sh: needs root (port 25, port 53, unshare)" >&2; exit 77; }
command -v posttls-finger >/dev/null || { echo "posttls-finger missing (make deps)" >&2; exit 69; }
for a in 127.1.0.1 127.2.0.1; do
	ss -ltn "src $a" | grep -q ':25 ' && { echo "bench/scan.sh: $a:25 is in use" >&2; exit 69; }
done
dnsip=
for i in $(seq 1 200); do
	a=127.53.$((RANDOM % 250)).$((1 + RANDOM % 250))
	ss -lun "src $a" | grep -q ':53 ' || { dnsip=$a; break; }
done
tmp=$(mktemp -d /tmp/danemx-bench-scan.XXXXXX)
chmod 755 "$tmp"
labpid= spid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	[ -n "$labpid" ] && kill "$labpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null
cpu_of() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f", (t > 0 ? n / t : 0) }'; }
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }

echo "bench/scan.sh: $(nproc) CPUs, $(openssl version | cut -d' ' -f1-2), lists of $n and $N domains"
t0=$(date +%s.%N)
"$bin" lab up --dir "$tmp/lab" --port 25 --bulk "$N" --dns-listen "$dnsip@53" >"$tmp/lab.out" 2>"$tmp/lab.err" &
labpid=$!
for _ in $(seq 1 600); do grep -q '^lab ready' "$tmp/lab.out" && break; kill -0 $labpid 2>/dev/null || break; sleep 0.2; done
grep -q '^lab ready' "$tmp/lab.out" || { echo "lab did not start:"; tail -5 "$tmp/lab.err"; exit 1; }
echo "lab: $N signed bulk domains built and served in $(calc "$(date +%s.%N) - $t0") s (one signed zone)"
. "$tmp/lab/lab.env"
big=$tmp/lab/bulk.txt
small=$tmp/small.txt
head -n "$n" "$big" >"$small"
nverified=$(head -n "$n" "$tmp/lab/bulk-expect.tsv" | grep -c verified)

# danemx scan: one run, wall time, peak RSS, CPU of the scanner and of the lab.
scan() { # LIST CONCURRENCY NAME [extra options]
	local list=$1 conc=$2 name=$3 l0 l1
	shift 3
	l0=$(cpu_of $labpid)
	/usr/bin/time -f "%e %M %U %S" -o "$tmp/$name.time" "$bin" scan --dns-config "$DANEMX_DNS_CONFIG" \
		--quiet --concurrency "$conc" --timeout 30 --output "$tmp/$name.jsonl" "$@" "$list"
	l1=$(cpu_of $labpid)
	read -r wall rss u s <"$tmp/$name.time"
	lines=$(wc -l <"$tmp/$name.jsonl")
	ver=$(grep -c '"verdict":"verified"' "$tmp/$name.jsonl")
	echo "$name: $lines domains ($ver verified) in $wall s = $(rate "$lines" "$wall") domains/s;" \
		"peak RSS $((rss / 1024)) MiB; CPU: scan $(calc "$u + $s") s, lab receivers $(calc "$l1 - $l0") s"
}
echo
echo "== danemx scan --single-key, concurrency $c, $n domains"
scan "$small" "$c" scan-small --single-key
scan_rate=$(rate "$lines" "$wall"); rss_small=$rss
ncpu=$(nproc)
echo "== danemx scan --single-key --shard K/$ncpu: one process per CPU, concurrency $c each, $n domains"
t0=$(date +%s.%N)
for k in $(seq 1 "$ncpu"); do
	"$bin" scan --dns-config "$DANEMX_DNS_CONFIG" --quiet --single-key --concurrency "$c" --timeout 30 \
		--shard "$k/$ncpu" --output "$tmp/shard$k.jsonl" "$small" &
done
wait
sh_wall=$(calc "$(date +%s.%N) - $t0")
sh_lines=$(cat "$tmp"/shard*.jsonl | wc -l)
shard_rate=$(rate "$sh_lines" "$sh_wall")
echo "shards: $sh_lines domains in $sh_wall s = $shard_rate domains/s"
echo "== danemx scan (default: both key types probed on DANE hosts), concurrency $c, $n domains"
scan "$small" "$c" scan-both

# posttls-finger: same list, same parallelism, through the lab's unbound as system resolver.
echo "== posttls-finger -c -l dane, xargs -P $c, $n domains"
mkdir -p "$tmp/pf"
printf 'compatibility_level = 3.6\n' >"$tmp/pf/main.cf"
printf 'nameserver %s\noptions trust-ad attempts:2 timeout:5\n' "$dnsip" >"$tmp/resolv.conf"
cat >"$tmp/pf.sh" <<PF
mount --bind "$tmp/resolv.conf" /etc/resolv.conf || exit 1
export MAIL_CONFIG="$tmp/pf"
xargs -P "$c" -n 1 sh -c '/usr/bin/time -f %M -a -o "$tmp/pf.rss" posttls-finger -c -l dane "\$0" 2>&1' <"$small" >"$tmp/pf.out"
PF
t0=$(date +%s.%N)
unshare -m --propagation private sh "$tmp/pf.sh"
pf_wall=$(calc "$(date +%s.%N) - $t0")
pf_ver=$(grep -c 'Verified TLS connection established' "$tmp/pf.out")
pf_rss=$(sort -n "$tmp/pf.rss" | tail -1)
pf_rate=$(rate "$n" "$pf_wall")
echo "posttls-finger: $n domains ($pf_ver verified, want $nverified) in $pf_wall s = $pf_rate domains/s;" \
	"peak RSS $((pf_rss / 1024)) MiB per process, x $c = $((pf_rss * c / 1024)) MiB at once"

# The ceiling: full TLS handshakes per second with openssl s_time, same key type (P-256).
echo "== openssl s_time -new (one client, one s_server), certificate $(basename "$tmp/lab/certs/bulk.chain.pem")"
sport=$((20000 + RANDOM % 20000))
openssl s_server -quiet -accept "127.2.250.1:$sport" -cert "$tmp/lab/certs/bulk.chain.pem" \
	-key "$tmp/lab/certs/bulk.key.pem" -www >/dev/null 2>&1 &
spid=$!
sleep 0.5
openssl s_time -connect "127.2.250.1:$sport" -new -time 10 >"$tmp/stime.out" 2>&1
kill $spid; wait $spid 2>/dev/null; spid=
hs=$(awk '/connections in [0-9.]+s;/ {print $5}' "$tmp/stime.out" | head -1)
hsn=$(awk '/connections in [0-9.]+ real seconds/ {print $1, $4}' "$tmp/stime.out" | head -1)
hs_rate=$(echo "$hsn" | awk '{ printf "%.1f", ($2 > 0 ? $1 / $2 : 0) }')
echo "s_time: $hsn (connections, real seconds) = $hs_rate handshakes/s${hs:+ ($hs per user second)}"

echo "== memory: list size and domains in flight"
# The lab's libunbound config loads the whole signed zone (all $N domains) into every
# scanning process: measured here with an empty list and subtracted below as the baseline.
/usr/bin/time -f "%M" -o "$tmp/empty.time" "$bin" scan --dns-config "$DANEMX_DNS_CONFIG" --quiet /dev/null
base=$(cat "$tmp/empty.time")
echo "baseline: scan of an empty list, peak RSS $((base / 1024)) MiB (libunbound with the lab's auth-zone)"
scan "$big" "$c" scan-large --single-key
rss_large=$rss
mid=$tmp/mid.txt
head -n 5000 "$big" >"$mid"
scan "$mid" 10 scan-c10 --single-key
rss10=$rss
scan "$mid" "$C" scan-c$C --single-key
rssC=$rss
per=$(awk -v a="$rssC" -v b="$rss10" -v c="$C" 'BEGIN { printf "%.1f", (a - b) / (c - 10) }')
echo
echo "== summary"
echo "danemx scan:      $scan_rate domains/s, peak RSS $((rss_small / 1024)) MiB ($n domains, concurrency $c)"
echo "posttls-finger:   $pf_rate domains/s, $((pf_rss * c / 1024)) MiB at once ($c processes)"
echo "danemx scan x $ncpu: $shard_rate domains/s with --shard K/$ncpu, one process per CPU"
echo "ratio:            $(awk -v a="$scan_rate" -v b="$pf_rate" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }') one process; $(awk -v a="$shard_rate" -v b="$pf_rate" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }') with $ncpu shards (target >= 10x)"
echo "ceiling:          $hs_rate TLS handshakes/s (s_time); scan reaches $(awk -v a="$scan_rate" -v b="$hs_rate" 'BEGIN { printf "%.0f%%", (b > 0 ? 100 * a / b : 0) }') of it (target >= 50%)"
echo "RSS:              $((rss_small / 1024)) MiB at $n domains, $((rss_large / 1024)) MiB at $N domains (concurrency $c);"
echo "                  above the empty-list baseline: $(((rss_small - base) / 1024)) MiB and $(((rss_large - base) / 1024)) MiB (the rest grows with the"
echo "                  resolver cache, bounded by dns_opts.bulk: msg 32m + rrset 64m + key 16m)"
echo "per domain:       $per KiB per domain in flight at concurrency $C, (RSS at $C - RSS at 10) / $((C - 10)),"
echo "                  same 5000-name list (target <= 64 KiB)"

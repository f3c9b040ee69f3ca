#!/usr/bin/env bash
# Figures, not a test: wall time of `danemx check` over every lab domain at once against
# Postfix's posttls-finger -l dane over the same domains one after another and eight at a
# time (xargs -P 8), both through the lab's unbound daemon, in one run; prints the times
# and the ratios. Like tests/lab/interop_posttls_finger.sh it runs in a private network and
# mount namespace (lab on port 25, DNS on 127.0.0.153:53, /etc/resolv.conf bind-mounted
# only in there); it must never touch the host's /etc or network. Needs root.
# Usage: bench/check_vs_posttls.sh [path/to/danemx] [rounds]
set -u
bin=$(readlink -f "${1:-build/danemx}")
rounds=${2:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
TMO=3               # per-phase timeout on both sides (the stall scenario waits this long)

if [ "${DANEMX_BENCH_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench: needs root (unshare -mn)" >&2; exit 1; }
	command -v posttls-finger >/dev/null || { echo "bench: no posttls-finger" >&2; exit 1; }
	[ -x "$bin" ] || { echo "bench: no danemx binary at $bin" >&2; exit 1; }
	DANEMX_BENCH_NS=1 exec unshare -mn bash "$0" "$bin" "$rounds"
fi

. "$src/tests/lab/lib.bash"
ip link set lo up
LAB_PORT=25 lab_start --dns-listen 127.0.0.153@53 >/dev/null || exit 1
PF=$TMPD/pf
mkdir -p "$PF"
printf '%s\n' 'compatibility_level = 3.6' 'smtp_dns_support_level = dnssec' \
	'myhostname = bench.danemx.test' 'dnssec_probe = ns:test' >"$PF/main.cf"
printf 'nameserver 127.0.0.153\noptions edns0 trust-ad\n' >"$PF/resolv.conf"
mount --bind "$PF/resolv.conf" /etc/resolv.conf || exit 1
cat >"$PF/danemx.conf" <<EOF
server:
	trust-anchor-file: "$DANEMX_LAB_ANCHOR"
	local-zone: "test." nodefault
	do-not-query-localhost: no
forward-zone:
	name: "."
	forward-addr: 127.0.0.153@53
EOF
doms=$("$bin" lab list | awk 'NR>1{print $2}')
export MAIL_CONFIG=$PF TMO

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
pf_one() { timeout 15 posttls-finger -c -l dane -t "$TMO" -T "$TMO" "$1" >/dev/null 2>&1; }
export -f pf_one

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }

# measure LABEL DOMAINS...: best of $rounds for each of the three ways; prints the figures.
measure() {
	local label=$1 c s p t bc='' bs='' bp=''
	shift
	for _ in $(seq 1 "$rounds"); do
		t=$(date +%s%N)
		"$bin" check --json --dns-config "$PF/danemx.conf" --port 25 --timeout "$TMO" "$@" \
			>/dev/null 2>&1
		c=$(ms "$t")
		t=$(date +%s%N)
		for d in "$@"; do pf_one "$d"; done
		s=$(ms "$t")
		t=$(date +%s%N)
		printf '%s\n' "$@" | xargs -P 8 -I{} bash -c 'pf_one "$1"' _ {}
		p=$(ms "$t")
		[ -z "$bc" ] || [ "$c" -lt "$bc" ] && bc=$c
		[ -z "$bs" ] || [ "$s" -lt "$bs" ] && bs=$s
		[ -z "$bp" ] || [ "$p" -lt "$bp" ] && bp=$p
	done
	echo "== $label: $# domains, best of $rounds rounds"
	printf '  %-40s %6s ms\n' "danemx check, all domains at once" "$bc" \
		"posttls-finger, one domain at a time" "$bs" \
		"posttls-finger, xargs -P 8" "$bp"
	echo "  ratio sequential/danemx $(ratio "$bs" "$bc")x, xargs -P 8/danemx $(ratio "$bp" "$bc")x"
}

measure "every lab scenario (stall waits the ${TMO} s timeout on both sides)" $doms
# shellcheck disable=SC2046 # one domain per word
measure "without the stall and endless-banner servers" $(printf '%s\n' $doms | grep -v -e '^stall\.' -e '^endless-banner\.')
echo "note: danemx probes every MX host and address (both key types on DANE hosts);" \
	"posttls-finger stops at the first address that answers"
lab_stop >/dev/null
rm -rf "$TMPD"

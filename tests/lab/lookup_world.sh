#!/usr/bin/env bash
# danemx lookup against a tiny signed lab world built here with the ldns tools (ldns-keygen,
# ldns-signzone), independently of src/lab/zones: secure MX/TLSA, CNAME, NXDOMAIN, NODATA,
# an unsigned delegation (insecure) and a corrupted signature (bogus), each with its exit code.
set -u
bin=$1
tmp=$(mktemp -d /tmp/danemx-lookup-world.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
cd "$tmp" || exit 1

kt=$(ldns-keygen -a ECDSAP256SHA256 -k test.) && ka=$(ldns-keygen -a ECDSAP256SHA256 -k a.test.) || {
	echo "ldns-keygen failed"; echo "0 passed, 1 failed"; exit 1; }
soa() { printf '%s 3600 IN SOA ns.test. hostmaster.%s 1 3600 600 86400 300\n%s 3600 IN NS ns.test.\n' "$1" "$1" "$1"; }
{
	soa test.
	echo "ns.test. 3600 IN A 127.0.0.1"
	echo "a.test. 3600 IN NS ns.test."
	cat "$ka.ds"
	echo "u.test. 3600 IN NS ns.test."
	cat "$kt.key"
} >test.zone
{
	soa a.test.
	echo "a.test. 3600 IN MX 10 mx.a.test."
	echo "mx.a.test. 3600 IN A 127.0.0.2"
	echo "_25._tcp.mx.a.test. 3600 IN TLSA 3 1 1 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
	echo "alias.a.test. 3600 IN CNAME mx.a.test."
	echo "badsig.a.test. 3600 IN A 127.0.0.3"
	cat "$ka.key"
} >a.test.zone
{ soa u.test.; echo "mx.u.test. 3600 IN A 127.0.0.6"; } >u.test.zone
ldns-signzone test.zone "$kt" && ldns-signzone a.test.zone "$ka" || {
	echo "ldns-signzone failed"; echo "0 passed, 1 failed"; exit 1; }
# Corrupt the signature over badsig.a.test. A: flip one base64 character in its middle.
awk -F'\t' 'BEGIN{OFS="\t"} $1=="badsig.a.test." && $4=="RRSIG" && $5 ~ /^A / {
	n = split($5, f, " "); s = f[n]; m = int(length(s) / 2);
	c = substr(s, m, 1); c = (c == "A") ? "B" : "A";
	f[n] = substr(s, 1, m - 1) c substr(s, m + 1); $5 = f[1];
	for (i = 2; i <= n; i++) $5 = $5 " " f[i] } {print}' a.test.zone.signed >a.signed.tmp && mv a.signed.tmp a.test.zone.signed
cat "$kt.ds" >anchor.ds
{
	printf 'server:\n\tmodule-config: "validator iterator"\n\ttrust-anchor-file: "%s/anchor.ds"\n' "$tmp"
	printf '\tlocal-zone: "." refuse\n\tlocal-zone: "test." transparent\n'
	for z in test. a.test. u.test.; do
		f="$tmp/${z}zone"; [ -f "$f.signed" ] && f="$f.signed"
		printf 'auth-zone:\n\tname: "%s"\n\tzonefile: "%s"\n\tfor-upstream: yes\n\tfor-downstream: no\n\tfallback-enabled: no\n' "$z" "$f"
	done
} >lab.conf

look() { # look WANT_EXIT DESCRIPTION NEEDLE... -- args
	local want=$1 what=$2; shift 2
	local needles=()
	while [ "$1" != "--" ]; do needles+=("$1"); shift; done; shift
	"$bin" lookup --dns-config "$tmp/lab.conf" --timeout 5 "$@" >out 2>err; local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: $what: exit $got, want $want"; cat out err; fail=$((fail + 1)); return
	fi
	for n in "${needles[@]}"; do
		if ! grep -qF -- "$n" out; then echo "FAIL: $what: no '$n' in:"; cat out; fail=$((fail + 1)); return; fi
	done
	pass=$((pass + 1))
}
look 0 "secure MX" "dnssec:  secure" "a.test. 3600 IN MX 10 mx.a.test." -- a.test MX
look 0 "secure TLSA json" '"dnssec": "secure"' '"usage": 3' '"mtype": 1' -- --json _25._tcp.mx.a.test TLSA
look 0 "CNAME chain" "cname:   alias.a.test. -> mx.a.test." "chain:   secure" "mx.a.test. 3600 IN A 127.0.0.2" -- alias.a.test
look 3 "secure NXDOMAIN" "status:  nxdomain" "dnssec:  secure" -- _25._tcp.nothere.a.test TLSA
look 3 "secure NODATA" "status:  nodata" "dnssec:  secure" -- mx.a.test TLSA
look 0 "insecure delegation" "dnssec:  insecure" "127.0.0.6" -- mx.u.test A
look 2 "bogus signature" "dnssec:  bogus" "why:     validation failure" -- badsig.a.test A
look 0 "lower-cased, dot added" "query:   mx.a.test. A" -- MX.A.TEST

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

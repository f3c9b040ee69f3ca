#!/usr/bin/env bash
# danemx tlsa audit against the lab: a clean setup is clean (exit 0), each planted problem
# is found with its code and exit status (stale 3 1 1, stale 2 1 1, PKIX-only, Full(0) and
# 3 0 x, a long TTL, an RRSIG that expires in 3 days, a next key covered or not, a DANE
# failure, a bogus TLSA RRset), --json carries the same, and bad input (unreadable or
# non-PEM/DER --next, bad numbers, bad names, a resolver that cannot validate) gives a
# one-line error and the documented exit code.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"

lab_start || exit 1
o=(--dns-config "$DANEMX_DNS_CONFIG" --port "$DANEMX_LAB_PORT" --timeout 3)
next="$DANEMX_LAB_DIR/certs/mx1.rollover.test-next.key.pem"

# audit NAME [options]: text in $TMPD/a.out, exit status in $rc
audit() { "$bin" tlsa audit "${o[@]}" "$@" >"$TMPD/a.out" 2>"$TMPD/a.err"; rc=$?; }
has() { grep -q -- "$1" "$TMPD/a.out"; }

# --- clean setups -------------------------------------------------------------------
for d in dane-ok.test dane-ta.test implicit-mx.test cname-mx.test mx1.dane-ok.test; do
	audit "$d"
	t_expect "$d: clean, exit 0" 0 "$rc"
	t_check "$d: says ok" grep -q "^$d: ok (verdict verified): 0 critical, 0 warnings" "$TMPD/a.out"
done
audit dane-ok.test
t_check "dane-ok: the record matches the leaf" has "3 1 1 [0-9a-f]*  matches: authenticated the leaf at 127.1.0.3 (ecdsa key)"
audit dane-ta.test
t_check "dane-ta: OpenSSL matched the 2 1 1" has "2 1 1 [0-9a-f]*  matches: authenticated the chain at 127.1.0.6"

# --- planted problems ---------------------------------------------------------------
audit rollover.test
t_expect "rollover without --next: warning" 1 "$rc"
t_check "rollover: the unused key's record is stale" has "^warning stale-record mx1.rollover.test 3 1 1"
audit rollover.test --next "$next"
t_expect "rollover with its next key: clean" 0 "$rc"
t_check "rollover: the record is staged for --next" has "  staged: --next $next"
t_check "rollover: next key covered" has "^note next-covered: --next $next is covered"
audit dane-ok.test --next "$next"
t_expect "a next key nobody published: warning" 1 "$rc"
t_check "next-uncovered named" has "^warning next-uncovered mx1.dane-ok.test: --next $next: no published record matches this key"
audit stale-ta.test
t_expect "stale-ta: warning" 1 "$rc"
t_check "stale-ta: the 2 1 1 for a CA not sent" has "^warning stale-ta mx1.stale-ta.test 2 1 1"
audit stale-ta.test --next "$DANEMX_LAB_ROOT_CA"
t_expect "stale-ta with the root staged: clean" 0 "$rc"
audit pkix-only.test
t_expect "pkix-only: warning" 1 "$rc"
t_expect "pkix-only: both PKIX records named" 2 "$(grep -c '^warning pkix-usage' "$TMPD/a.out")"
t_check "pkix-only: encrypt-only verdict" has "^warning encrypt-only mx1.pkix-only.test"
audit dane-300.test
t_expect "dane-300: warning" 1 "$rc"
t_check "dane-300: Full(0)" has "^warning full-data mx1.dane-300.test 3 0 0"
t_check "dane-300: 3 0 x breaks at renewal" has "^warning cert-selector .*breaks when the certificate is renewed"
audit rrsig-soon.test
t_expect "rrsig-soon: warning" 1 "$rc"
t_check "rrsig-soon: the TLSA RRSIG expires soon" has "^warning rrsig-soon mx1.rrsig-soon.test: the RRSIG of the TLSA RRset"
audit rrsig-soon.test --rrsig-days 1
t_expect "rrsig-soon with --rrsig-days 1: clean" 0 "$rc"
audit dane-ok.test --max-ttl 60
t_expect "TTL above --max-ttl: warning" 1 "$rc"
t_check "ttl-long named" has "^warning ttl-long mx1.dane-ok.test: the TLSA TTL is"
audit dual-cert.test
t_expect "dual-cert: critical" 2 "$rc"
t_check "dual-cert: the RSA key fails" has "^critical dane-fail mx1.dual-cert.test: .*rsa key"
audit two-mx.test
t_expect "two-mx: critical" 2 "$rc"
t_check "two-mx: the second MX is fine" has "^  mx2.two-mx.test  verified"
audit bogus-tlsa.test
t_expect "bogus-tlsa: critical" 2 "$rc"
t_check "bogus-tlsa: tempfail" has "^critical tempfail mx1.bogus-tlsa.test: .*bogus"
audit plaintext.test
t_expect "plaintext: warning (no DANE)" 1 "$rc"
audit null-mx.test
t_expect "null MX: ok, nothing to audit" 0 "$rc"
t_check "null MX: a note" has "^note nomail: nothing to audit"

# --- JSON ---------------------------------------------------------------------------
"$bin" tlsa audit "${o[@]}" --json --next "$next" rollover.test >"$TMPD/r.json"
t_expect "json: exit 0" 0 "$?"
"$bin" tlsa audit "${o[@]}" --json pkix-only.test >"$TMPD/p.json"
t_expect "json: pkix-only exit 1" 1 "$?"
python3 - "$TMPD/r.json" "$TMPD/p.json" >"$TMPD/json.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = json.load(open(sys.argv[2]))
def want(c, what):
    print(("ok " if c else "FAIL ") + what)
want(r["status"] == "ok" and r["exit"] == 0 and r["verdict"] == "verified", "rollover status")
states = sorted(x["state"] for x in r["hosts"][0]["records"])
want(states == ["matches", "staged"], "rollover record states %s" % states)
want(r["next"][0]["covered"] is True and r["next"][0]["key_only"] is True, "next covered")
want([f["code"] for f in r["findings"]] == ["next-covered"], "rollover findings")
want(isinstance(r["hosts"][0]["tlsa_rrsig_expires"], int), "rrsig expiry is a number")
want(p["status"] == "warning" and p["exit"] == 1, "pkix status")
codes = sorted(f["code"] for f in p["findings"])
want(codes == ["encrypt-only", "pkix-usage", "pkix-usage"], "pkix codes %s" % codes)
want(all(f["rule"] for f in p["findings"]), "every finding has a rule")
PY
t_check "json reports as the text does" ! grep -q FAIL "$TMPD/json.txt"
grep FAIL "$TMPD/json.txt"

# --- bad input ----------------------------------------------------------------------
audit dane-ok.test --next /nonexistent/next.pem
t_expect "unreadable --next: 66" 66 "$rc"
t_check "unreadable --next: says so" grep -q "next.pem" "$TMPD/a.err"
printf 'this is not a certificate\n' >"$TMPD/junk.pem"
audit dane-ok.test --next "$TMPD/junk.pem"
t_expect "--next neither PEM nor DER: 65" 65 "$rc"
t_check "--next junk: one line" test "$(wc -l <"$TMPD/a.err")" -eq 1
audit dane-ok.test --max-ttl abc
t_expect "--max-ttl abc: 64" 64 "$rc"
audit dane-ok.test --rrsig-days -1
t_expect "--rrsig-days -1: 64" 64 "$rc"
audit dane-ok.test --port 0
t_expect "--port 0: 64" 64 "$rc"
audit
t_expect "no name: 64" 64 "$rc"
audit dane-ok.test two-mx.test
t_expect "two names: 64" 64 "$rc"
audit 'bad..name'
t_expect "invalid name: 64" 64 "$rc"
t_check "invalid name: says why" grep -q "invalid domain name" "$TMPD/a.err"
printf '. IN DS 1 8 2 %064d\n' 0 >"$TMPD/anchor"
"$bin" tlsa audit --trust-anchor "$TMPD/anchor" --resolver 127.0.0.1@1 --timeout 1 dane-ok.test \
	>"$TMPD/a.out" 2>"$TMPD/a.err"
t_expect "silent resolver: 69" 69 "$?"
t_check "silent resolver: named" grep -q "resolver 127.0.0.1@1 does not answer" "$TMPD/a.err"
# the lab's own config without its trust anchor: nothing can validate
sed '/trust-anchor/d' "$DANEMX_DNS_CONFIG" >"$TMPD/noanchor.conf"
"$bin" tlsa audit --dns-config "$TMPD/noanchor.conf" --port "$DANEMX_LAB_PORT" --timeout 3 dane-ok.test \
	>"$TMPD/a.out" 2>"$TMPD/a.err"
t_expect "resolver cannot validate: 3" 3 "$?"
t_check "resolver cannot validate: says so" grep -q "cannot validate DNSSEC" "$TMPD/a.err"
"$bin" tlsa create --usage 4 "$DANEMX_LAB_ROOT_CA" >"$TMPD/a.out" 2>"$TMPD/a.err"
t_expect "tlsa create --usage 4: 64" 64 "$?"
t_check "--usage 4: no record printed" test ! -s "$TMPD/a.out"

lab_stop
t_summary

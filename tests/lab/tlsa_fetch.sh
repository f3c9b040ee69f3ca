#!/usr/bin/env bash
# danemx tlsa fetch against the lab receivers: the chain each serves, with candidate
# records equal to what `tlsa create` computes from the lab's own files, those in the zone
# marked [published]; both certificates of a dual RSA/ECDSA server; --json; and the
# errors: no STARTTLS, no address, a stalled server (bounded by --timeout), bad usage.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"

lab_start || exit 1
o=(--dns-config "$DANEMX_DNS_CONFIG" --port "$DANEMX_LAB_PORT" --timeout 3)
certs=$DANEMX_LAB_DIR/certs
fetch() { "$bin" tlsa fetch "${o[@]}" "$@" >"$TMPD/f.out" 2>"$TMPD/f.err"; rc=$?; }

fetch mx1.dane-ok.test
t_expect "dane-ok: exit 0" 0 "$rc"
leaf311=$("$bin" tlsa create "$certs/mx1.dane-ok.test.chain.pem" | head -1)
ca211=$("$bin" tlsa create "$certs/mx1.dane-ok.test.chain.pem" | sed -n 2p)
t_check "dane-ok: the leaf's 3 1 1 as tlsa create computes it, published" \
	grep -q "^      $leaf311  \[published\]$" "$TMPD/f.out"
t_check "dane-ok: the issuer's 2 1 1, not published" grep -q "^      $ca211$" "$TMPD/f.out"
t_check "dane-ok: the chain line" grep -q "^127.1.0.3 port $DANEMX_LAB_PORT (ecdsa key): TLSv1" "$TMPD/f.out"
t_check "dane-ok: leaf subject" grep -q "^  0 CN=mx1.dane-ok.test" "$TMPD/f.out"
t_expect "dane-ok: three leaf candidates" 3 "$(grep -c '^      3 [01] [12] ' "$TMPD/f.out")"

fetch mx1.dane-ta.test
t_expect "dane-ta: exit 0" 0 "$rc"
root211=$("$bin" tlsa create --usage 2 "$DANEMX_LAB_ROOT_CA")
t_check "dane-ta: the root's 2 1 1 published at depth 2" \
	bash -c "sed -n '/^  2 CN=danemx lab root CA/,\$p' '$TMPD/f.out' | grep -q '^      $root211  \[published\]'"

fetch mx1.dual-cert.test
t_expect "dual-cert: exit 0" 0 "$rc"
rsa311=$("$bin" tlsa create "$certs/mx1.dual-cert.test-rsa.chain.pem" | head -1)
t_check "dual-cert: the RSA chain too" grep -q "(rsa key): TLSv1" "$TMPD/f.out"
t_check "dual-cert: RSA leaf record, not published" grep -q "^      $rsa311$" "$TMPD/f.out"

fetch mx1.pkix-only.test
t_check "pkix-only: the published 1 1 1 shown as unusable" \
	grep -q "^      1 1 1 [0-9a-f]*  \[published, unusable: " "$TMPD/f.out"
t_check "pkix-only: the 0 1 1 for the root, not sent" \
	grep -q "^published, matching no certificate above: 0 1 1 " "$TMPD/f.out"

fetch mx1.no-tlsa.test
t_expect "no-tlsa: exit 0" 0 "$rc"
t_check "no-tlsa: nothing published" ! grep -q "published" "$TMPD/f.out"

"$bin" tlsa fetch "${o[@]}" --json mx1.dane-ok.test >"$TMPD/f.json"
t_expect "json: exit 0" 0 "$?"
python3 - "$TMPD/f.json" "$leaf311" >"$TMPD/json.txt" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
c = o["chains"][0]["certificates"]
ok = (o["host"] == "mx1.dane-ok.test" and o["tlsa_dnssec"] == "secure" and
      o["published"] == [sys.argv[2]] and len(c) == 2 and
      c[0]["candidates"][0] == {"record": sys.argv[2], "published": True} and
      not any(x["published"] for x in c[1]["candidates"]))
print("ok" if ok else "FAIL " + json.dumps(o)[:300])
PY
t_check "json: chain, candidates and published flags" grep -q "^ok" "$TMPD/json.txt"

# --- errors -------------------------------------------------------------------------
fetch mx1.no-starttls.test
t_expect "no STARTTLS: 69" 69 "$rc"
t_check "no STARTTLS: says so" grep -q "no certificate chain: STARTTLS not offered" "$TMPD/f.err"
t_check "no STARTTLS: nothing on stdout" test ! -s "$TMPD/f.out"
fetch mx1.plaintext.test
t_expect "plaintext: 69" 69 "$rc"
fetch no-such-host.test
t_expect "no address: 68" 68 "$rc"
t_check "no address: says so" grep -q "no address records" "$TMPD/f.err"
start=$(date +%s)
"$bin" tlsa fetch --dns-config "$DANEMX_DNS_CONFIG" --port "$DANEMX_LAB_PORT" --timeout 1 \
	mx1.stall.test >/dev/null 2>"$TMPD/f.err"
rc=$?
t_expect "stalled server: 69" 69 "$rc"
t_check "stalled server: bounded by --timeout" test $(( $(date +%s) - start )) -le 10
fetch
t_expect "no host: 64" 64 "$rc"
fetch --port 70000 mx1.dane-ok.test
t_expect "--port 70000: 64" 64 "$rc"
fetch mx1.dane-ok.test mx1.dane-ta.test
t_expect "two hosts: 64" 64 "$rc"

lab_stop
t_summary

#!/usr/bin/env bash
# danemx check against every lab scenario: the verdict the lab expects, the reason that
# explains it, the JSON core fields, the text and nagios forms and their exit codes, and
# bad input (invalid names, over-long names, a non-existent domain) with no hang.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"

lab_start || exit 1
dnsopt=(--dns-config "$DANEMX_DNS_CONFIG" --port "$DANEMX_LAB_PORT" --timeout 3)

doms=$("$bin" lab list | awk 'NR>1{print $2}')
out=$TMPD/all.jsonl
start=$(date +%s%N)
"$bin" check --json "${dnsopt[@]}" $doms >"$out" 2>"$TMPD/all.err"
rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_expect "exit code 2 when some domain fails" 2 "$rc"

# Every domain's verdict equals the lab's expectation, and every reason says why.
"$bin" lab list --json >"$TMPD/list.json"
python3 - "$out" "$TMPD/list.json" >"$TMPD/verdicts.txt" <<'EOF'
import json, sys
want = {s["domain"]: s["expect"] for s in json.load(open(sys.argv[2]))}
reasons = {
    "dane-wrong.test": "no TLSA record matches",
    "two-mx.test": "mx1.two-mx.test",
    "bogus-tlsa.test": "bogus",
    "bogus-mx.test": "bogus",
    "expired-rrsig.test": "expired",
    "no-starttls.test": "STARTTLS not offered",
    "dane-ta-badname.test": "unrelated.example",
    "dual-cert.test": "rsa key",
    "two-addr.test": "127.1.1.",
    "null-mx.test": "null MX",
    "stall.test": "timeout",
    "endless-banner.test": "longer than",
    "pkix-only.test": "no usable TLSA",
    "plaintext.test": "STARTTLS not offered",
    "insecure-mx.test": "not DNSSEC-signed",
}
seen = set()
for line in open(sys.argv[1]):
    o = json.loads(line)
    d = o["domain"]
    seen.add(d)
    for k in ("domain", "verdict", "reason", "mx"):
        if k not in o:
            print(f"FAIL {d}: no core field {k}")
    ok = o["verdict"] == want.get(d)
    print(("ok" if ok else "FAIL") + f" {d}: verdict {o['verdict']} want {want.get(d)}")
    if d in reasons and reasons[d] not in o["reason"]:
        print(f"FAIL {d}: reason {o['reason']!r} lacks {reasons[d]!r}")
    for h in o["mx"]:
        for k in ("host", "preference", "verdict", "reason", "tlsa", "addresses"):
            if k not in h:
                print(f"FAIL {d}: host lacks {k}")
        if h["verdict"] == "nomail":
            print(f"FAIL {d}: a host verdict is nomail")
        for a in h["addresses"]:
            for k in ("address", "verdict", "reason"):
                if k not in a:
                    print(f"FAIL {d}: address lacks {k}")
    if o["verdict"] == "verified":
        m = [p.get("matched") for h in o["mx"] for a in h["addresses"] for p in a["probes"]
             if p["verdict"] == "verified"]
        if not m or any(x is None for x in m):
            print(f"FAIL {d}: verified without the matched record")
for d in want:
    if d not in seen:
        print(f"FAIL {d}: no result")
EOF
t_check "every scenario verdict as the lab expects" ! grep -q FAIL "$TMPD/verdicts.txt"
grep FAIL "$TMPD/verdicts.txt" | head -20
n=$(grep -c '^ok' "$TMPD/verdicts.txt")
echo "# $n scenarios with the expected verdict; all at once in ${elapsed_ms} ms"

# (How long all domains take together against the slowest alone: bench/check_all.sh.)

# Text report and exit codes for single domains.
"$bin" check "${dnsopt[@]}" dane-ok.test >"$TMPD/ok.txt" 2>&1
t_expect "verified domain exits 0" 0 $?
t_check "text report names the matched record" grep -q "TLSA 3 1 1 matched" "$TMPD/ok.txt"
t_check "text report shows the chain" grep -q "CN=mx1.dane-ok.test" "$TMPD/ok.txt"
"$bin" check "${dnsopt[@]}" nodnssec.test >/dev/null 2>&1
t_expect "opportunistic domain exits 1" 1 $?
"$bin" check "${dnsopt[@]}" --nagios dane-wrong.test >"$TMPD/nag.txt" 2>&1
t_expect "nagios CRITICAL exits 2" 2 $?
t_check "nagios status line" grep -q "^DANE CRITICAL - dane-wrong.test dane-fail: .*|.*dane-fail=1" "$TMPD/nag.txt"
"$bin" check "${dnsopt[@]}" --nagios dane-ok.test >"$TMPD/nag.txt" 2>&1
t_expect "nagios OK exits 0" 0 $?
t_check "nagios OK line" grep -q "^DANE OK - dane-ok.test verified" "$TMPD/nag.txt"
NO_COLOR=1 "$bin" check "${dnsopt[@]}" --color auto dane-ok.test >"$TMPD/nocolor.txt" 2>/dev/null
t_check "plain report has the verdict" grep -q "^dane-ok.test  VERIFIED" "$TMPD/nocolor.txt"
t_check "no colour when not a terminal" ! grep -q $'\033' "$TMPD/nocolor.txt"
"$bin" check "${dnsopt[@]}" --color always dane-ok.test | grep -q $'\033'
t_expect "colour when asked" 0 $?

# --insecure-mx-policy may: the insecure MX's TLSA records are ignored.
"$bin" check --json "${dnsopt[@]}" --insecure-mx-policy may insecure-mx.test >"$TMPD/imx.json" 2>/dev/null
t_check "insecure-mx-policy may gives opportunistic" grep -q '"verdict":"opportunistic"' "$TMPD/imx.json"

# -4 only: the dane-312 host also has ::1; with -4 no IPv6 address is probed.
"$bin" check --json -4 "${dnsopt[@]}" dane-312.test >"$TMPD/v4.json" 2>/dev/null
t_check "-4 probes the IPv4 address" grep -q '"family":"ipv4","verdict":"verified"' "$TMPD/v4.json"
t_check "-4 probes no IPv6 address" ! grep -q '"family":"ipv6"' "$TMPD/v4.json"

# Bad input: a one-line error and exit 64, nothing checked.
for bad in "exa mple.test" "bad-.test" "a..test" "$(printf 'a%.0s' $(seq 1 64)).test" \
	   "$(printf 'abcdefghi.%.0s' $(seq 1 26))test" "ü.test"; do
	"$bin" check "${dnsopt[@]}" "$bad" >"$TMPD/bad.out" 2>"$TMPD/bad.err"
	t_expect "invalid name '${bad:0:20}...' exits 64" 64 $?
	t_check "invalid name gives one line" test "$(grep -c 'invalid domain name' "$TMPD/bad.err")" -eq 1
done
"$bin" check "${dnsopt[@]}" >/dev/null 2>&1
t_expect "no domain exits 64" 64 $?
"$bin" check "${dnsopt[@]}" --port 0 dane-ok.test >/dev/null 2>&1
t_expect "--port 0 exits 64" 64 $?
"$bin" check "${dnsopt[@]}" --insecure-mx-policy maybe dane-ok.test >/dev/null 2>&1
t_expect "bad --insecure-mx-policy exits 64" 64 $?

# A domain that does not exist: a clear verdict, fast.
"$bin" check --json "${dnsopt[@]}" no-such-domain.test >"$TMPD/nx.json" 2>/dev/null
t_check "NXDOMAIN is nomail with its reason" grep -q '"verdict":"nomail","reason":"the domain does not exist' "$TMPD/nx.json"

# A name that exists with no MX and no address (an empty non-terminal): nowhere to deliver.
"$bin" check --json "${dnsopt[@]}" _tcp.mx1.dane-ok.test >"$TMPD/noaddr.json" 2>/dev/null
t_check "implicit MX without addresses is nomail" grep -q '"verdict":"nomail","reason":"no MX records and no address records' "$TMPD/noaddr.json"

# A resolver that cannot validate (no trust anchor for the lab): exit 3, never a DANE verdict.
sed '/trust-anchor/d' "$DANEMX_DNS_CONFIG" >"$TMPD/noanchor.conf"
"$bin" check --json --dns-config "$TMPD/noanchor.conf" --port "$DANEMX_LAB_PORT" --timeout 3 dane-ok.test >"$TMPD/nv.json" 2>"$TMPD/nv.err"
t_expect "resolver cannot validate exits 3" 3 $?
t_check "says the resolver cannot validate" grep -q "resolver cannot validate" "$TMPD/nv.err"
t_check "JSON marks validation failed" grep -q '"validation":"failed"' "$TMPD/nv.json"

lab_stop
t_summary

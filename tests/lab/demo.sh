#!/usr/bin/env bash
# danemx demo: the four demonstrations behave as expected (asserted from --json: status,
# TLS, where the message landed, whether the tap could read it), the text fits 80
# columns, and nothing is left behind, also after Ctrl-C with --keep.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"

# A private TMPDIR: what the demo leaves behind is visible there and nowhere else.
export TMPDIR=$TMPD/tmp
mkdir -p "$TMPDIR"

timeout 60 "$bin" demo --json >"$TMPD/demo.json" 2>"$TMPD/demo.err"
t_expect "demo --json exits 0" 0 $?
python3 - "$TMPD/demo.json" >"$TMPD/demo.check" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t = d["tests"]
def want(cond, what):
    print(("ok " if cond else "FAIL ") + what)
want(len(t) == 4, "four tests")
for x in t:
    for k in ("name", "expected", "actual", "ok", "landed"):
        want(k in x, f"{x.get('domain')}: field {k}")
want(t[0]["domain"] == "plaintext.test" and t[0]["status"] == "delivered" and t[0]["tls"] == "plaintext"
     and t[0]["landed"] == "mx1.plaintext.test" and t[0]["tap_read_message"] is True, "1: plaintext, read by the tap")
want(t[1]["status"] == "delivered" and t[1]["tls"] == "verified" and t[1]["landed"] == "mx1.dane-ok.test"
     and t[1]["tap_read_message"] is False, "2: DANE-verified, unreadable on the wire")
want(t[2]["status"] == "deferred" and t[2]["landed"] is None and t[2]["messages_landed"] == 0
     and "no TLSA record matches" in t[2]["reason"], "3: forged TLSA, deferred, delivered nowhere")
want(t[3]["status"] == "delivered" and t[3]["landed"] == "mx2.two-mx.test" and t[3]["messages_landed"] == 1
     and t[3]["tls"] == "verified", "4: delivered by the second MX only")
want(all(x["ok"] for x in t) and d["ok"] is True, "all ok")
PY
t_check "demo outcomes" ! grep -q FAIL "$TMPD/demo.check"
grep FAIL "$TMPD/demo.check"

timeout 60 "$bin" demo >"$TMPD/demo.txt" 2>&1
t_expect "demo (text) exits 0" 0 $?
t_check "text fits 80 columns" test "$(awk 'length($0) > 80' "$TMPD/demo.txt" | wc -l)" -eq 0
t_check "text shows the tap reading plaintext" grep -q "a man in the middle READ the message" "$TMPD/demo.txt"
t_check "text shows the forged record not matching" grep -q "does NOT match the published TLSA record" "$TMPD/demo.txt"
t_check "summary says all four" grep -q "All four behaved as DANE promises" "$TMPD/demo.txt"

# --keep: runs until Ctrl-C, then removes the lab.
"$bin" demo --keep >"$TMPD/keep.txt" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "keeps running" "$TMPD/keep.txt" && break; sleep 0.1; done
t_check "--keep says how to use the lab" grep -q "danemx check --dns-config" "$TMPD/keep.txt"
dir=$(sed -n 's/.*removes \(.*danemx-demo-[A-Za-z0-9]*\)).*/\1/p' "$TMPD/keep.txt")
t_check "--keep lab directory exists while running" test -d "$dir"
kill -INT $pid
for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
t_check "Ctrl-C stops the demo" ! kill -0 $pid 2>/dev/null
wait $pid 2>/dev/null
t_check "Ctrl-C removes the lab directory" test ! -e "$dir"

t_expect "nothing left behind in TMPDIR" "" "$(ls -A "$TMPDIR")"
"$bin" demo --bogus >/dev/null 2>&1
t_expect "bad option exits 64" 64 $?
t_summary

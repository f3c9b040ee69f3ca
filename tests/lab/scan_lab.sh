#!/usr/bin/env bash
# danemx scan against the lab: verdicts equal those of `check` for every lab domain,
# garbage input lines reported (never fatal), shards 1/3 2/3 3/3 together equal the
# unsharded output, --resume after a kill (and after a torn last line) gives every
# domain exactly once, and the survey summary (text and --summary-json).
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"

lab_start --bulk 300 || exit 1
dnsopt=(--dns-config "$DANEMX_DNS_CONFIG" --port "$DANEMX_LAB_PORT" --timeout 3)
doms=$("$bin" lab list | awk 'NR>1{print $2}')
bulk=$DANEMX_LAB_DIR/bulk.txt

# The input: every lab domain, comments, blank lines, an IDN, and garbage.
in=$TMPD/in.txt
{
	echo "# the lab scenarios"
	for d in $doms; do echo "$d"; done
	echo
	echo "   DANE-OK.test.   "            # duplicate in another spelling
	echo "bad..name"
	echo "two words.test"
	printf 'x\xff\xfe.test\n'
	printf 'nul\000byte.test\n'
	head -c 3000 /dev/zero | tr '\0' a; echo
	echo "bücher.test"
	printf 'last-line-no-newline.test'
} >"$in"
ngarbage=5

"$bin" check --json "${dnsopt[@]}" $doms >"$TMPD/check.jsonl" 2>/dev/null
"$bin" scan "${dnsopt[@]}" --output "$TMPD/scan.jsonl" --summary-json "$TMPD/sum.json" \
	"$in" 2>"$TMPD/scan.err"
t_expect "scan exits 0" 0 $?
t_check "text summary on stderr" grep -q "^scan summary: " "$TMPD/scan.err"

python3 - "$TMPD/check.jsonl" "$TMPD/scan.jsonl" "$TMPD/sum.json" "$ngarbage" \
	>"$TMPD/cmp.txt" 2>&1 <<'PY'
import json, sys
check = {}
for l in open(sys.argv[1]):
    o = json.loads(l); check[o["domain"]] = o["verdict"]
scan, errors, n = {}, [], 0
for l in open(sys.argv[2]):
    n += 1
    o = json.loads(l)
    if o["domain"] is None:
        errors.append(o)
        if "input" not in o or not o["error"]["reason"]:
            print("FAIL error line without input or reason:", l[:100])
        continue
    scan.setdefault(o["domain"], []).append(o["verdict"])
for d, v in check.items():
    if d not in scan:
        print(f"FAIL {d}: not in scan output")
    elif any(x != v for x in scan[d]):
        print(f"FAIL {d}: scan {scan[d]} check {v}")
    else:
        print(f"ok {d} {v}")
if scan.get("dane-ok.test") != ["verified", "verified"]:
    print("FAIL the duplicate spelling was not checked as dane-ok.test", scan.get("dane-ok.test"))
for d in ("xn--bcher-kva.test", "last-line-no-newline.test"):
    if d not in scan:
        print(f"FAIL {d} missing (IDN / last line)")
if len(errors) != int(sys.argv[4]):
    print(f"FAIL {len(errors)} error lines, want {sys.argv[4]}:", [e["input"][:30] for e in errors])
if not any("longer than" in e["error"]["reason"] for e in errors):
    print("FAIL no 'line longer than' error")
s = json.load(open(sys.argv[3]))
if s["domains"] != n - len(errors) or s["invalid_input"] != len(errors):
    print("FAIL summary counts", s["domains"], s["invalid_input"], n, len(errors))
if sum(s["verdicts"].values()) != s["domains"]:
    print("FAIL summary verdicts do not add up")
if s["tlsa_parameters"].get("3 1 1", 0) < 10 or not s["failure_reasons"]:
    print("FAIL summary TLSA distribution / failure reasons", s["tlsa_parameters"], s["failure_reasons"])
PY
t_check "scan verdicts equal check verdicts; garbage reported" ! grep -q FAIL "$TMPD/cmp.txt"
grep FAIL "$TMPD/cmp.txt" | head -10
echo "# $(grep -c '^ok' "$TMPD/cmp.txt") lab domains: scan verdict == check verdict"

# Bulk: every generated domain gets the verdict the lab planted.
"$bin" scan "${dnsopt[@]}" --quiet --concurrency 50 --single-key --output "$TMPD/bulk.jsonl" "$bulk"
t_expect "bulk scan exits 0" 0 $?
python3 - "$DANEMX_LAB_DIR/bulk-expect.tsv" "$TMPD/bulk.jsonl" >"$TMPD/bulk.txt" <<'PY'
import json, sys
want = dict(l.split("\t")[:2] for l in open(sys.argv[1]))
got = [json.loads(l) for l in open(sys.argv[2])]
if len(got) != len(want):
    print("FAIL", len(got), "lines for", len(want), "domains")
for o in got:
    if want.get(o["domain"]) != o["verdict"]:
        print("FAIL", o["domain"], o["verdict"], "want", want.get(o["domain"]))
PY
t_check "bulk verdicts as planted" ! grep -q FAIL "$TMPD/bulk.txt"
grep FAIL "$TMPD/bulk.txt" | head -5

# Shards: 1/3 + 2/3 + 3/3 == all, no overlap (also for the error lines).
cat "$in" "$bulk" >"$TMPD/all.txt"
"$bin" scan "${dnsopt[@]}" --quiet --single-key --output "$TMPD/full.jsonl" "$TMPD/all.txt"
for k in 1 2 3; do
	"$bin" scan "${dnsopt[@]}" --quiet --single-key --shard "$k/3" \
		--output "$TMPD/s$k.jsonl" "$TMPD/all.txt"
done
keys() { python3 -c '
import json, sys
for f in sys.argv[1:]:
    for l in open(f):
        o = json.loads(l); print(o["domain"] or "input:" + o["input"], o["verdict"])' "$@" | sort; }
keys "$TMPD/full.jsonl" >"$TMPD/full.keys"
keys "$TMPD/s1.jsonl" "$TMPD/s2.jsonl" "$TMPD/s3.jsonl" >"$TMPD/shards.keys"
t_check "shards together equal the unsharded set" cmp -s "$TMPD/full.keys" "$TMPD/shards.keys"
for k in 1 2 3; do
	n=$(wc -l <"$TMPD/s$k.jsonl")
	t_check "shard $k/3 is about a third ($n lines)" test "$n" -gt 60 -a "$n" -lt 160
done
"$bin" scan "${dnsopt[@]}" --shard 4/3 "$bulk" >/dev/null 2>&1
t_expect "--shard 4/3 exits 64" 64 $?

# Resume: kill a slow scan midway, tear its last line, resume: every domain exactly once.
out=$TMPD/resume.jsonl
"$bin" scan "${dnsopt[@]}" --quiet --concurrency 2 --output "$out" "$bulk" &
pid=$!
for _ in $(seq 1 100); do
	[ -f "$out" ] && [ "$(wc -l <"$out")" -ge 40 ] && break
	sleep 0.1
done
kill -KILL "$pid"; wait "$pid" 2>/dev/null
before=$(wc -l <"$out")
echo "# killed after $before of 300 lines"
t_check "killed scan left partial output ($before lines)" test "$before" -ge 1 -a "$before" -lt 300
printf '{"domain":"bulk00299.test","verdict":"verif' >>"$out"   # a torn last line
"$bin" scan "${dnsopt[@]}" --quiet --concurrency 50 --output "$out" --resume "$bulk" 2>"$TMPD/resume.err"
t_expect "resumed scan exits 0" 0 $?
python3 - "$bulk" "$out" >"$TMPD/resume.txt" <<'PY'
import json, sys, collections
want = [l.strip() for l in open(sys.argv[1]) if l.strip()]
c = collections.Counter()
for l in open(sys.argv[2]):
    try:
        c[json.loads(l)["domain"]] += 1
    except Exception as e:
        print("FAIL torn or bad line:", l[:60])
for d in want:
    if c[d] != 1:
        print("FAIL", d, "appears", c[d], "times")
if len(c) != len(want):
    print("FAIL", len(c), "distinct domains, want", len(want))
PY
t_check "after kill + torn line + resume: each domain exactly once" ! grep -q FAIL "$TMPD/resume.txt"
grep FAIL "$TMPD/resume.txt" | head -5
# resuming a finished scan checks nothing more
"$bin" scan "${dnsopt[@]}" --output "$out" --resume "$bulk" 2>"$TMPD/resume2.err"
t_check "resuming a complete output checks nothing" grep -q "^scan summary: 0 domains checked" "$TMPD/resume2.err"
t_expect "and leaves it as it was" 300 "$(wc -l <"$out")"

# Usage errors and unreadable input.
"$bin" scan "${dnsopt[@]}" --resume "$bulk" >/dev/null 2>&1
t_expect "--resume without --output exits 64" 64 $?
"$bin" scan "${dnsopt[@]}" "$TMPD/no-such-file" >/dev/null 2>&1
t_expect "missing input exits 66" 66 $?
"$bin" scan "${dnsopt[@]}" --concurrency 0 "$bulk" >/dev/null 2>&1
t_expect "--concurrency 0 exits 64" 64 $?
printf 'dane-ok.test\n' | "$bin" scan "${dnsopt[@]}" --quiet - >"$TMPD/stdin.jsonl"
t_check "names from standard input" grep -q '"domain":"dane-ok.test","verdict":"verified"' "$TMPD/stdin.jsonl"

lab_stop
t_summary

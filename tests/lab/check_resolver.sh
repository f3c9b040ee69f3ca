#!/usr/bin/env bash
# danemx check through a forwarding resolver (the lab's unbound daemon) with the lab's
# trust anchor: answers are validated in-process, so bogus data is caught here even though
# the forwarder passes it on; a wrong trust anchor makes "resolver cannot validate" (exit 3),
# never a DANE verdict.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"

dport=$(lab_free_dns_port) || { echo "FAIL: no free port for the lab DNS"; exit 1; }
lab_start --dns-listen "127.0.0.1@$dport" || exit 1
opts=(--resolver "127.0.0.1@$dport" --trust-anchor "$DANEMX_LAB_ANCHOR" --port "$DANEMX_LAB_PORT" --timeout 3)

"$bin" check --json "${opts[@]}" dane-ok.test bogus-mx.test nodnssec.test >"$TMPD/fwd.json" 2>"$TMPD/fwd.err"
t_expect "exit 2 (bogus-mx fails)" 2 $?
t_check "dane-ok verified through the forwarder" grep -q '"domain":"dane-ok.test","verdict":"verified"' "$TMPD/fwd.json"
t_check "bogus-mx is tempfail, validated here" grep -q '"domain":"bogus-mx.test","verdict":"tempfail","reason":"MX lookup DNSSEC validation failed (bogus)' "$TMPD/fwd.json"
t_check "nodnssec is opportunistic" grep -q '"domain":"nodnssec.test","verdict":"opportunistic"' "$TMPD/fwd.json"

# A trust anchor that does not match the lab's key: nothing can validate.
# (well-formed: the same DS with the first digest digit changed)
awk '{ if ($4 == "DS") { d=$NF; $NF=(substr(d,1,1)=="a" ? "b" : "a") substr(d,2) } print }' "$DANEMX_LAB_ANCHOR" >"$TMPD/wrong.ds"
t_check "the wrong anchor differs" ! cmp -s "$TMPD/wrong.ds" "$DANEMX_LAB_ANCHOR"
"$bin" check --nagios --resolver "127.0.0.1@$dport" --trust-anchor "$TMPD/wrong.ds" --port "$DANEMX_LAB_PORT" --timeout 3 dane-ok.test >"$TMPD/wrong.out" 2>"$TMPD/wrong.err"
t_expect "wrong trust anchor exits 3" 3 $?
t_check "nagios UNKNOWN: resolver cannot validate" grep -q "^DANE UNKNOWN - resolver cannot validate DNSSEC" "$TMPD/wrong.out"

# A resolver address where nothing answers: unavailable (69), named, quickly.
"$bin" check --resolver 127.0.0.1@9 --trust-anchor "$DANEMX_LAB_ANCHOR" --timeout 1 dane-ok.test >/dev/null 2>"$TMPD/silent.err"
t_expect "silent resolver exits 69" 69 $?
t_check "silent resolver is named" grep -q "resolver 127.0.0.1@9 does not answer" "$TMPD/silent.err"

lab_stop
t_check "the lab's unbound daemon is gone" ! pgrep -f "unbound -d -c $LAB_DIR" >/dev/null
t_summary

#!/usr/bin/env bash
# danemx send through a forwarding resolver (the lab's unbound daemon, --resolver) with
# the lab's trust anchor (--trust-anchor): validation happens in-process, so DANE delivery
# works and bogus data still defers. With a wrong trust anchor nothing validates and every
# recipient is deferred (never delivered without DANE); a resolver that does not answer
# defers within --timeout; a missing trust anchor file is bad configuration (78).
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"

dport=$(lab_free_dns_port) || { echo "FAIL: no free port for the lab DNS"; exit 1; }
lab_start --dns-listen "127.0.0.1@$dport" || exit 1
. "$src/tests/lab/fixtures/send_lib.bash"

msg=$TMPD/msg.txt
printf 'From: a@sender.test\nSubject: via a forwarder\n\nbody\n' >"$msg"
fsend() { # fsend ANCHOR ARGS...
	local anchor=$1
	shift
	"$bin" send --resolver "127.0.0.1@$dport" --trust-anchor "$anchor" --port "$DANEMX_LAB_PORT" \
		--timeout 3 --from a@sender.test "$@" "$msg" >"$TMPD/out" 2>"$TMPD/err"
	RC=$?
}

mail_clear
fsend "$DANEMX_LAB_ANCHOR" --to b@dane-ok.test --to c@bogus-mx.test
t_expect "forwarder: exit code (bogus-mx deferred)" 75 "$RC"
t_check "forwarder: dane-ok delivered, verified" grep -q \
	'^b@dane-ok.test: delivered via mx1.dane-ok.test .* tls=verified' "$TMPD/out"
stored_equals "forwarder: dane-ok" mx1.dane-ok.test "$msg"
t_check "forwarder: bogus-mx deferred, validated here" grep -q \
	'^c@bogus-mx.test: deferred: bogus-mx.test: MX lookup DNSSEC validation failed (bogus)' "$TMPD/out"

# A trust anchor that does not match the lab's key (the same DS, first digest digit changed).
awk '{ if ($4 == "DS") { d=$NF; $NF=(substr(d,1,1)=="a" ? "b" : "a") substr(d,2) } print }' \
	"$DANEMX_LAB_ANCHOR" >"$TMPD/wrong.ds"
t_check "the wrong anchor differs" ! cmp -s "$TMPD/wrong.ds" "$DANEMX_LAB_ANCHOR"
mail_clear
fsend "$TMPD/wrong.ds" --to b@dane-ok.test --to c@nodnssec.test
t_expect "wrong anchor: exit code" 75 "$RC"
t_expect "wrong anchor: both deferred" 2 "$(grep -c '^[bc]@[a-z-]*.test: deferred: .*DNSSEC validation failed' "$TMPD/out")"
t_expect "wrong anchor: nothing delivered anywhere" 0 "$(mail_count)"

# A resolver address where nothing answers: deferred within the timeout.
start=$(date +%s)
"$bin" send --resolver "127.0.0.1@$((dport + 1))" --trust-anchor "$DANEMX_LAB_ANCHOR" --port "$DANEMX_LAB_PORT" \
	--timeout 1 --from a@sender.test --to b@dane-ok.test "$msg" >"$TMPD/out" 2>"$TMPD/err"
rc=$?
took=$(($(date +%s) - start))
t_expect "silent resolver: exit code" 75 "$rc"
t_check "silent resolver: deferred, timed out" grep -q '^b@dane-ok.test: deferred: dane-ok.test: MX lookup timed out' "$TMPD/out"
t_check "silent resolver: gave up within 5 s (took $took s)" test "$took" -lt 5

fsend /nonexistent/root.key --to b@dane-ok.test
t_expect "missing trust anchor: exit code 78" 78 "$RC"
t_expect "missing trust anchor: error line" "danemx: send: trust anchor /nonexistent/root.key: No such file or directory" "$(cat "$TMPD/err")"

lab_stop
t_check "the lab's unbound daemon is gone" ! pgrep -f "unbound -d -c $LAB_DIR" >/dev/null
t_summary

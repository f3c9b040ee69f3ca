#!/usr/bin/env bash
# danemx send against servers that misbehave or refuse part of the work, found through the
# lab's DNS: a danemx serve with --max-rcpt 2 on the dane-ok MX address (2 delivered, the
# third deferred with the 452), and fixtures/fake_smtp.py on the plaintext.test MX address:
# it drops the connection after DATA or after the dot, answers 421 to the dot (never
# reported as delivered: exit 75), records BODY=8BITMIME, and lacks 8BITMIME (an 8-bit
# message is refused: exit 65, nothing sent), rejects the message (65) or some RCPTs with
# 550 / 450 (bounced / deferred per recipient: 67, 75). No server is left running.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"
lab_start || exit 1
. "$src/tests/lab/fixtures/send_lib.bash"

SPID= FPID=
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
trap 'stop_pid "$SPID"; stop_pid "$FPID"; lab_stop >/dev/null 2>&1' EXIT

msg=$TMPD/msg.txt
printf 'From: a@sender.test\nSubject: faults\n\nbody\n.leading dot\n' >"$msg"
printf 'From: a@sender.test\nSubject: 8-bit\n\ncaf\xc3\xa9\n' >"$TMPD/m8.txt"

# --- a server that takes 2 recipients of 3 -------------------------------------------------
md=$TMPD/md
: >"$TMPD/serve.out"
"$bin" serve --listen 127.1.0.3:0 --hostname mx1.dane-ok.test --max-rcpt 2 --maildir "$md" \
	--cert "$DANEMX_LAB_DIR/certs/mx1.dane-ok.test.chain.pem" \
	--key "$DANEMX_LAB_DIR/certs/mx1.dane-ok.test.key.pem" >"$TMPD/serve.out" 2>"$TMPD/serve.err" &
SPID=$!
sport=
for _ in $(seq 100); do
	sport=$(awk '/^; listening on/{print $NF; exit}' "$TMPD/serve.out"); [ -n "$sport" ] && break; sleep 0.1
done
t_check "max-rcpt: serve started" test -n "$sport"
SEND_PORT=${sport:-1} run_send --json --from a@sender.test --to u1@dane-ok.test --to u2@dane-ok.test \
	--to u3@dane-ok.test "$msg"
t_expect "max-rcpt: exit code" 75 "$RC"
st() { jget "$OUT" "[(r['status'], r['tls']) for r in o['recipients'] if r['recipient'] == '$1'][0]"; }
t_expect "max-rcpt: u1" "('delivered', 'verified')" "$(st u1@dane-ok.test)"
t_expect "max-rcpt: u2" "('delivered', 'verified')" "$(st u2@dane-ok.test)"
t_expect "max-rcpt: u3" "('deferred', 'verified')" "$(st u3@dane-ok.test)"
t_expect "max-rcpt: u3 reply" "452 4.5.3 Error: too many recipients" \
	"$(jget "$OUT" "[r['reply'] for r in o['recipients'] if r['recipient'] == 'u3@dane-ok.test'][0]")"
t_check "max-rcpt: u3 reason names the 452" grep -q 'not accepted by mx1.dane-ok.test: 452 ' \
	<<<"$(jget "$OUT" "[r['reason'] for r in o['recipients'] if r['recipient'] == 'u3@dane-ok.test'][0]")"
t_expect "max-rcpt: one message stored" 1 "$(ls "$md/new" | wc -l)"
t_check "max-rcpt: stored bytes equal the sent bytes" python3 "$FIX/msgcmp.py" \
	"$(ls -d "$md/new/"* | head -1)" "$msg"
t_check "max-rcpt: serve logged 2 recipients" grep -q 'to=<u1@dane-ok.test>,<u2@dane-ok.test>, .*nrcpt=2, status=sent' "$TMPD/serve.err"
stop_pid "$SPID"
SPID=

# --- fake_smtp.py on the plaintext.test MX address -----------------------------------------
fake_start() {
	: >"$TMPD/fake.log"
	: >"$TMPD/fake.out"
	python3 "$FIX/fake_smtp.py" --listen 127.1.0.2 --mode "$1" --log "$TMPD/fake.log" \
		--lifetime 30 >"$TMPD/fake.out" 2>"$TMPD/fake.err" &
	FPID=$!
	fport=
	for _ in $(seq 100); do
		fport=$(awk '/^listening/{print $2}' "$TMPD/fake.out"); [ -n "$fport" ] && break; sleep 0.1
	done
	t_check "fake $1: started" test -n "$fport"
}
fake_stop() { stop_pid "$FPID"; FPID=; }

for spec in drop-dot:'connection lost after DATA: message not delivered' \
	drop-data:'connection closed by the server' 421-dot:'421 4.3.0 going away'; do
	mode=${spec%%:*} why=${spec#*:}
	fake_start "$mode"
	SEND_PORT=${fport:-1} run_send --from a@sender.test --to b@plaintext.test "$msg"
	fake_stop
	t_expect "$mode: exit code" 75 "$RC"
	t_check "$mode: deferred" grep -qF "b@plaintext.test: deferred: no MX host took the message: mx1.plaintext.test 127.1.0.2: " "$OUT"
	t_check "$mode: reason: $why" grep -qF "$why" "$OUT"
	t_check "$mode: never reported delivered" ! grep -q 'delivered via' "$OUT"
	t_check "$mode: the session reached DATA" grep -qx 'DATA' "$TMPD/fake.log"
	case $mode in
	drop-data) t_check "$mode: no message bytes sent" ! grep -q '^\[message' "$TMPD/fake.log" ;;
	*) t_check "$mode: the message was sent (then lost)" grep -q '^\[message [0-9]* bytes\]' "$TMPD/fake.log" ;;
	esac
done

# --- --timeout bounds the MAIL phase too (a server that never answers MAIL FROM) ------------
fake_start stall-mail
start=$(date +%s)
SEND_TIMEOUT=2 SEND_PORT=${fport:-1} run_send --from a@sender.test --to b@plaintext.test "$msg"
took=$(($(date +%s) - start))
fake_stop
t_expect "stall at MAIL: exit code" 75 "$RC"
t_check "stall at MAIL: deferred on the MAIL timeout" grep -q \
	'^b@plaintext.test: deferred: .*timeout in state mail (limit 2000 ms' "$OUT"
t_check "stall at MAIL: gave up within 5 s of a 2 s --timeout (took $took s)" test "$took" -lt 5

# --- 8BITMIME: declared for 8-bit messages only; refused where the server lacks it -----------
fake_start ok
SEND_PORT=${fport:-1} run_send --from a@sender.test --to b@plaintext.test "$TMPD/m8.txt"
r8=$RC
SEND_PORT=${fport:-1} run_send --from a@sender.test --to b@plaintext.test "$msg"
r7=$RC
fake_stop
t_expect "8BITMIME: exit code (8-bit)" 0 "$r8"
t_expect "8BITMIME: exit code (7-bit)" 0 "$r7"
# SIZE= is checked to be present only (RFC 1870 allows an estimate); BODY= exactly.
t_expect "8BITMIME: MAIL FROM lines" "MAIL FROM:<a@sender.test> BODY=8BITMIME|MAIL FROM:<a@sender.test>" \
	"$(grep '^MAIL FROM' "$TMPD/fake.log" | sed 's/ SIZE=[0-9]*//' | paste -sd'|')"
t_expect "8BITMIME: SIZE= on both" 2 "$(grep -c '^MAIL FROM:<a@sender.test> SIZE=[0-9]' "$TMPD/fake.log")"
fake_start no8bit
SEND_PORT=${fport:-1} run_send --from a@sender.test --to b@plaintext.test "$TMPD/m8.txt"
fake_stop
t_expect "no 8BITMIME: exit code" 65 "$RC"
t_check "no 8BITMIME: bounced with the reason" grep -q \
	'^b@plaintext.test: bounced: .*does not offer 8BITMIME' "$OUT"
t_check "no 8BITMIME: no MAIL FROM sent" ! grep -q '^MAIL' "$TMPD/fake.log"

# --- 5xx replies: final, per recipient; a 4xx beside them is deferred, not bounced ----------
fake_start 550-dot
SEND_PORT=${fport:-1} run_send --from a@sender.test --to b@plaintext.test "$msg"
fake_stop
t_expect "550 to the message: exit code" 65 "$RC"
t_check "550 to the message: bounced with the reply" grep -q \
	'^b@plaintext.test: bounced: refused by mx1.plaintext.test: message refused after DATA: 550 5.7.1' "$OUT"
t_check "550 to the message: the attempt keeps its security verdict (plaintext)" grep -q \
	'^  tried mx1.plaintext.test \[127.1.0.2\] (may): plaintext: message refused after DATA: 550 5.7.1' "$OUT"
fake_start rcpt
# rcpt_case NAME WANT_RC LOCALPART:STATUS...   (fake_smtp: bad* get 550, busy* 450, others 250)
rcpt_case() {
	local name=$1 want=$2 args=() p
	shift 2
	for p in "$@"; do args+=(--to "${p%%:*}@plaintext.test"); done
	SEND_PORT=${fport:-1} run_send --json --from a@sender.test "${args[@]}" "$msg"
	t_expect "$name: exit code" "$want" "$RC"
	for p in "$@"; do
		t_expect "$name: ${p%%:*}" "${p#*:}" \
			"$(jget "$OUT" "[r['status'] for r in o['recipients'] if r['recipient'] == '${p%%:*}@plaintext.test'][0]")"
	done
}
rcpt_case "RCPT all 550" 67 bad1:bounced bad2:bounced
rcpt_case "RCPT 250 + 550" 67 ok1:delivered bad1:bounced
rcpt_case "RCPT 450 then 550" 75 busy1:deferred bad1:bounced
rcpt_case "RCPT 550 then 450" 75 bad1:bounced busy1:deferred
rcpt_case "RCPT 250 + 450 + 550" 75 ok1:delivered busy1:deferred bad1:bounced
t_check "RCPT: the 550 reply is the reason" grep -q '550 5.1.1 no such user' \
	<<<"$(jget "$OUT" "[r['reason'] for r in o['recipients'] if r['recipient'] == 'bad1@plaintext.test'][0]")"
t_expect "RCPT: the 450 reply is kept" "450 4.2.1 mailbox busy" \
	"$(jget "$OUT" "[r['reply'] for r in o['recipients'] if r['recipient'] == 'busy1@plaintext.test'][0]")"
fake_stop

lab_stop
t_summary

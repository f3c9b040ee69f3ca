#!/usr/bin/env bash
# The examples in docs/send.md, extracted and run against the lab: the danemx-sendmail
# wrapper (bytes delivered to two domains, the null sender, the exit code passed through,
# -t refused) and the Postfix pipe(8) transport (master.cf and main.cf blocks as written,
# only the binary path and the lab's DNS/port substituted) in a throwaway Postfix: one
# message to three domains is delivered, deferred (with danemx's reason in the log) and
# bounced as send's exit codes say. Needs root and postfix for the pipe(8) part.
set -u
bin=$(readlink -f "$1")   # pipe(8) runs it from another directory
src=$2
. "$src/tests/lab/lib.bash"
lab_start || exit 1
. "$src/tests/lab/fixtures/send_lib.bash"

# The fenced block after the line "<!-- tested by tests/lab/send_docs.sh: NAME -->".
doc_block() {
	awk -v name="$1" '
		index($0, "<!-- tested by tests/lab/send_docs.sh: " name " -->") == 1 { want = 1; next }
		want == 1 && /^```/ { want = 2; next }
		want == 2 && /^```/ { exit }
		want == 2 { print }' "$src/docs/send.md"
}
labopts="--dns-config $DANEMX_DNS_CONFIG --port $DANEMX_LAB_PORT --timeout 3"
msg=$TMPD/msg.txt
printf 'Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <send-docs-1@sender.test>\nFrom: a@sender.test\nTo: b@dane-ok.test\nSubject: docs example\n\n.leading dot\ncaf\xc3\xa9\nlast\n' >"$msg"

# --- the sendmail-style wrapper --------------------------------------------------------------
doc_block danemx-sendmail >"$TMPD/danemx-sendmail"
t_check "wrapper extracted from docs/send.md" grep -q '^exec $DANEMX send' "$TMPD/danemx-sendmail"
t_check "wrapper: sh -n" sh -n "$TMPD/danemx-sendmail"
wrap() { DANEMX=$bin DANEMX_SEND_OPTS=$labopts sh "$TMPD/danemx-sendmail" "$@" <"$msg" >"$TMPD/w.out" 2>"$TMPD/w.err"; }
mail_clear
wrap -oi -f a@sender.test b@dane-ok.test c@plaintext.test
t_expect "wrapper: exit code" 0 "$?"
t_check "wrapper: both recipients delivered" test "$(grep -c ': delivered via ' "$TMPD/w.out")" = 2
stored_equals "wrapper: dane-ok" mx1.dane-ok.test "$msg"
stored_equals "wrapper: plaintext" mx1.plaintext.test "$msg"
# The null sender, seen by fixtures/fake_smtp.py on the plaintext.test MX address.
: >"$TMPD/fake.out"
python3 "$FIX/fake_smtp.py" --listen 127.1.0.2 --log "$TMPD/fake.log" --lifetime 20 >"$TMPD/fake.out" 2>&1 &
fpid=$!
for _ in $(seq 100); do fport=$(awk '/^listening/{print $2}' "$TMPD/fake.out"); [ -n "$fport" ] && break; sleep 0.1; done
DANEMX=$bin DANEMX_SEND_OPTS="--dns-config $DANEMX_DNS_CONFIG --port ${fport:-1} --timeout 3" \
	sh "$TMPD/danemx-sendmail" -i -f '<>' -- b@plaintext.test <"$msg" >"$TMPD/w.out" 2>&1
t_expect "wrapper: null sender: exit code" 0 "$?"
kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null
t_check "wrapper: null sender sent as MAIL FROM:<>" grep -q '^MAIL FROM:<> ' "$TMPD/fake.log"
wrap -fa@sender.test b@dane-wrong.test
t_expect "wrapper: deferral passed through as 75" 75 "$?"
t_check "wrapper: deferral reason on stdout" grep -q '^b@dane-wrong.test: deferred: .*no TLSA record matches' "$TMPD/w.out"
wrap -t
t_expect "wrapper: -t refused with 64" 64 "$?"
t_check "wrapper: -t error line" grep -q '^danemx-sendmail: -t: not supported$' "$TMPD/w.err"

# --- the Postfix pipe(8) transport ----------------------------------------------------------
if [ "$(id -u)" -ne 0 ] || ! command -v postfix >/dev/null; then
	t_check "pipe(8): needs root and postfix (make deps)" false
	lab_stop
	t_summary
fi
pf=$TMPD/pf
pf_stop() {
	local pid
	[ -d "$pf" ] || return 0
	pid=$(tr -d ' ' <"$pf/queue/pid/master.pid" 2>/dev/null)
	postfix -c "$pf" stop >/dev/null 2>&1
	for _ in $(seq 50); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && postfix -c "$pf" abort >/dev/null 2>&1
	return 0
}
trap 'pf_stop; lab_stop >/dev/null 2>&1' EXIT
# pipe(8) runs danemx as user=nobody: it must reach the binary and the lab's DNS files.
chmod 755 "$TMPD"
chmod o+x "$DANEMX_LAB_DIR" "$DANEMX_LAB_DIR/dns"
mkdir -p "$pf/queue" "$pf/data"
chmod 755 "$pf"
chown postfix "$pf/data"
cat >"$pf/main.cf" <<MAINCF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
inet_protocols = ipv4
inet_interfaces = 127.0.0.1
myhostname = relay.sender.test
mydomain = sender.test
myorigin = sender.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
maillog_file_prefixes = $pf
maillog_file = $pf/maillog
smtp_dns_support_level = disabled
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
$(doc_block main.cf)
MAINCF
{ cat "$src/tests/lab/fixtures/postfix-master.cf"; cat <<MASTERCF
$(doc_block master.cf | sed "s|/usr/local/bin/danemx send|$bin send $labopts|")
MASTERCF
} >"$pf/master.cf"
t_check "pipe(8): main.cf lines from docs/send.md" grep -q '^danemx_destination_recipient_limit = 1$' "$pf/main.cf"
t_check "pipe(8): master.cf entry from docs/send.md" grep -q "argv=$bin send .*--from=\${sender} --to=\${recipient}\$" "$pf/master.cf"
postfix -c "$pf" start >"$TMPD/pf-start.log" 2>&1
t_expect "pipe(8): postfix start" 0 "$?"

mail_clear
sendmail -C "$pf" -i -f a@sender.test b@dane-ok.test c@dane-wrong.test d@null-mx.test <"$msg"
t_expect "pipe(8): sendmail accepted the message" 0 "$?"
for _ in $(seq 200); do
	[ "$(grep -c 'relay=danemx, .*status=\(sent\|deferred\|bounced\)' "$pf/maillog" 2>/dev/null)" -ge 3 ] && break
	sleep 0.1
done
t_check "pipe(8): b@dane-ok.test sent" grep -q 'to=<b@dane-ok.test>, relay=danemx, .*status=sent' "$pf/maillog"
t_check "pipe(8): c@dane-wrong.test deferred with danemx's reason" grep -q \
	'to=<c@dane-wrong.test>, relay=danemx, .*status=deferred (temporary failure. Command output: c@dane-wrong.test: deferred: .*no TLSA record matches' "$pf/maillog"
t_check "pipe(8): d@null-mx.test bounced (exit 69)" grep -q 'to=<d@null-mx.test>, relay=danemx, .*dsn=5.3.0, status=bounced (service unavailable. Command output: d@null-mx.test: bounced: null-mx.test: null MX' "$pf/maillog"
# What arrived: Postfix's own Received: line plus the lab's, then the bytes submitted.
f=$(mail_files mx1.dane-ok.test | head -1)
t_check "pipe(8): stored bytes equal the submitted bytes" python3 "$FIX/msgcmp.py" "${f:-/nonexistent}" "$msg"
t_check "pipe(8): relayed by this Postfix" grep -q 'by relay.sender.test (Postfix' "${f:-/nonexistent}"
t_check "pipe(8): delivered over verified DANE (lab receiver saw TLS)" grep -q '(using TLSv1\.[23] with cipher' "${f:-/nonexistent}"
t_expect "pipe(8): nothing else delivered in the lab" 1 "$(mail_count)"

pid=$(tr -d ' ' <"$pf/queue/pid/master.pid" 2>/dev/null)
pf_stop
t_check "pipe(8): postfix master stopped" test -n "$pid" -a ! -e "/proc/${pid:-0}"
lab_stop
t_summary

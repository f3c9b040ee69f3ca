#!/usr/bin/env bash
# Interop: danemx send delivers into a real Postfix smtpd. A throwaway Postfix (its own
# config, queue and data directories in a temp directory; never the system instance)
# listens on the dane-ok MX address 127.1.0.3 at a free port with the lab's certificate and
# key for mx1.dane-ok.test, and delivers dane-ok.test mail with virtual(8) into a Maildir.
# send must report tls=verified (the lab's TLSA 3 1 1 matches Postfix's key) and the bytes
# must arrive (msgcmp.py: minus Postfix's Return-Path/Delivered-To/Received headers, CRLF ->
# LF). Postfix is stopped afterwards and no process is left. Needs root and postfix.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"
if [ "$(id -u)" -ne 0 ] || ! command -v postfix >/dev/null; then
	echo "needs root and postfix (make deps)"; echo "0 passed, 1 failed"; exit 1
fi
lab_start || exit 1
. "$src/tests/lab/fixtures/send_lib.bash"

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

# A free port on 127.1.0.3 (the lab's receiver holds $DANEMX_LAB_PORT there).
# inet_interfaces stays 127.0.0.1: Postfix refuses an address no interface lists (127.1.0.3
# is routed by lo/8 but not configured); the explicit address in master.cf still binds.
port=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 20000))
	[ "$p" = "$DANEMX_LAB_PORT" ] && continue
	(exec 3<>/dev/tcp/127.1.0.3/$p) 2>/dev/null && continue
	port=$p; break
done
t_check "a free port on 127.1.0.3" test -n "$port"

chmod 755 "$TMPD"
mkdir -p "$pf/queue" "$pf/data" "$pf/vmail"
chmod 755 "$pf"
chown postfix "$pf/data"
chown nobody:nogroup "$pf/vmail"
cp "$DANEMX_LAB_DIR/certs/mx1.dane-ok.test.chain.pem" "$DANEMX_LAB_DIR/certs/mx1.dane-ok.test.key.pem" "$pf/"
chmod 600 "$pf/mx1.dane-ok.test.key.pem"
cat >"$pf/main.cf" <<MAINCF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
inet_protocols = ipv4
inet_interfaces = 127.0.0.1
myhostname = mx1.dane-ok.test
mydomain = dane-ok.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
maillog_file_prefixes = $pf
maillog_file = $pf/maillog
smtp_dns_support_level = disabled
smtpd_banner = \$myhostname ESMTP
smtpd_tls_security_level = may
smtpd_tls_chain_files = $pf/mx1.dane-ok.test.key.pem, $pf/mx1.dane-ok.test.chain.pem
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
virtual_mailbox_domains = dane-ok.test
virtual_mailbox_base = $pf/vmail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
message_size_limit = 20000000
queue_run_delay = 1s
MAINCF
{ cat "$src/tests/lab/fixtures/postfix-master.cf"; cat <<MASTERCF
127.1.0.3:$port inet n - n - - smtpd
virtual   unix  -       n       n       -       -       virtual
MASTERCF
} >"$pf/master.cf"
postfix -c "$pf" start >"$TMPD/pf-start.log" 2>&1
t_check "postfix started" test -s "$pf/queue/pid/master.pid" || cat "$TMPD/pf-start.log"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.1.0.3/$port) 2>/dev/null && break; sleep 0.1; done

msg=$TMPD/msg.txt
printf 'Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <send-postfix-1@sender.test>\nFrom: a@sender.test\nTo: u@dane-ok.test\nSubject: danemx send into Postfix\n\n.a line with a leading dot\n..\n.\ncaf\xc3\xa9 8-bit\nCRLF line\r\n\nlast\n' >"$msg"
SEND_PORT=$port run_send --json --from a@sender.test --to u@dane-ok.test "$msg"
t_expect "exit code" 0 "$RC" ; [ "$RC" = 0 ] || cat "$OUT" "$ERR" | cut -c1-600
t_expect "recipient status, mx, tls" "('delivered', 'mx1.dane-ok.test', 'verified')" \
	"$(jget "$OUT" "[(r['status'], r['mx'], r['tls']) for r in o['recipients']][0]")"
t_check "Postfix's 250 queued as" grep -q '^250 2.0.0 Ok: queued as ' \
	<<<"$(jget "$OUT" "o['recipients'][0]['reply']")"
t_expect "DANE-EE match" "{'usage': 3, 'selector': 1, 'mtype': 1, 'depth': 0}" \
	"$(jget "$OUT" "o['domains'][0]['hosts_tried'][-1]['matched']")"

f=
for _ in $(seq 150); do
	f=$(ls "$pf/vmail/box/new/"* 2>/dev/null | head -1); [ -n "$f" ] && break; sleep 0.1
done
t_check "delivered into the Maildir by virtual(8)" test -n "$f"
t_check "stored bytes equal the sent bytes" python3 "$FIX/msgcmp.py" "${f:-/nonexistent}" "$msg" \
	--skip-headers Return-Path,Delivered-To,X-Original-To,Received
t_check "Postfix received it over TLS" grep -q '(using TLSv1\.[23] with cipher' "${f:-/nonexistent}"
t_check "Postfix logged the TLS session" grep -q 'Anonymous TLS connection established from\|TLS connection established from' "$pf/maillog"
t_check "Postfix logged the delivery" grep -q 'to=<u@dane-ok.test>, relay=virtual, .*status=sent' "$pf/maillog"

pid=$(tr -d ' ' <"$pf/queue/pid/master.pid" 2>/dev/null)
pf_stop
t_check "postfix master stopped" test -n "$pid" -a ! -e "/proc/${pid:-0}"
t_check "no postfix process of this instance left" ! pgrep -f "$pf" >/dev/null
lab_stop
t_summary

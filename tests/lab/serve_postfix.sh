#!/usr/bin/env bash
# Interop with a real peer: a throwaway Postfix whose smtp client relays, with
# smtp_tls_security_level = encrypt, to danemx serve; the message lands in the Maildir over
# STARTTLS with the bytes that were submitted. Postfix is stopped afterwards.
set -u
bin=$1 src=$2
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
if [ "$(id -u)" -ne 0 ] || ! command -v postfix >/dev/null; then
	echo "needs root and postfix (make deps)"; echo "0 passed, 1 failed"; exit 1
fi
. "$src/tests/lab/serve_postfix.lib"
tmp=$(mktemp -d /tmp/danemx-pf.XXXXXX)
chmod 755 "$tmp"
spid=
cleanup() { pf_stop "$tmp/pf"; [ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem \
	-subj /CN=mx.example.test -days 30 2>/dev/null
"$bin" serve --listen 127.0.0.1:0 --hostname mx.example.test --cert cert.pem --key key.pem \
	--maildir "$tmp/md" --domain example.test >serve.out 2>serve.err &
spid=$!
port=
for _ in $(seq 50); do
	port=$(awk '/^; listening on/{print $NF; exit}' serve.out); [ -n "$port" ] && break; sleep 0.1
done
[ -n "$port" ] || { bad "serve did not start: $(cat serve.err)"; echo "$pass passed, $fail failed"; exit 1; }

pf_setup "$tmp/pf" "relayhost = [127.0.0.1]:$port
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1" ""
pf_start "$tmp/pf" && ok || bad "postfix start: $(cat "$tmp/pf/start.log")"

# Full headers so that Postfix's cleanup adds only its Received: line.
printf 'Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <interop-1@sender.example.test>\nFrom: a@sender.example.test\nTo: u@example.test\nSubject: postfix interop\n\n.a line with a leading dot\n..\n.\nplain \xc3\xa9\n\nlast\n' >msg.eml
sent=0
sendmail -i -C "$tmp/pf" -f a@sender.example.test u@example.test <msg.eml && sent=1
[ $sent = 1 ] && ok || bad "sendmail failed"
f=
for _ in $(seq $((sent * 300))); do
	f=$(ls md/new/* 2>/dev/null | head -1); [ -n "$f" ] && break; sleep 0.1
done
if [ -z "$f" ]; then
	bad "nothing delivered in 30 s: $(tail -5 pf/maillog 2>/dev/null)"
else
	got=$(awk 'h==0 && (/^Received:/ || /^[ \t]/) {next} {h=1; print}' "$f" | sha256sum)
	[ "$got" = "$(sha256sum <msg.eml)" ] && ok || bad "stored bytes differ: $(diff <(awk 'h==0 && (/^Received:/ || /^[ \t]/) {next} {h=1; print}' "$f") msg.eml | head)"
	grep -q '(using TLSv1.[23] with cipher' "$f" && ok || bad "not received over TLS: $(head -5 "$f")"
	grep -q 'by client.example.test (Postfix' "$f" && ok || bad "not relayed by Postfix"
fi
sleep 0.5
grep -q 'TLS connection established to 127.0.0.1' pf/maillog && ok || bad "postfix log lacks TLS"
grep -q 'status=sent' pf/maillog && ok || bad "postfix log lacks status=sent"
grep -q 'tls=TLSv1.[23] with cipher.*status=sent' serve.err && ok || bad "serve log line"
pf_stop "$tmp/pf"
pid=$(cat pf/queue/pid/master.pid 2>/dev/null | tr -d ' ')
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && bad "postfix master $pid still running" || ok

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

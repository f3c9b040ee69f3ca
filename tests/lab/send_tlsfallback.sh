#!/usr/bin/env bash
# An opportunistic host (no TLSA: plaintext.test is unsigned) that offers STARTTLS but
# breaks the handshake: send retries the same address in plaintext, as Postfix does
# (RFC 7435), reports both attempts and tls=plaintext. A DANE host never gets that retry:
# two-mx's MX 1 with the same broken TLS is skipped for MX 2.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"
lab_start || exit 1
. "$src/tests/lab/fixtures/send_lib.bash"

port=$(lab_free_port)
python3 "$FIX/fake_smtp.py" --listen 127.1.0.2 --port "$port" --mode bad-tls \
	--log "$TMPD/fake.log" --lifetime 30 >"$TMPD/fake.out" 2>&1 &
fake=$!
for _ in $(seq 1 50); do grep -q listening "$TMPD/fake.out" 2>/dev/null && break; sleep 0.1; done
printf 'From: a@sender.test\r\nTo: bob@plaintext.test\r\nSubject: fallback\r\n\r\nhello\r\n' >"$TMPD/msg"
SEND_PORT=$port run_send --json --from a@sender.test --to bob@plaintext.test "$TMPD/msg"
t_expect "delivered: exit 0" 0 "$RC"
t_check "delivered in plaintext" test "$(jget "$OUT" 'o["recipients"][0]["status"] + " " + o["recipients"][0]["tls"]')" = "delivered plaintext"
t_check "two attempts: TLS failed, then plaintext" test "$(jget "$OUT" '" ".join(a["requirement"] for a in o["domains"][0]["hosts_tried"])')" = "may none"
t_check "the first attempt says TLS failed" grep -q 'TLS failed' "$OUT"
t_check "the fake server saw STARTTLS, then a second session with MAIL" test "$(grep -c '^MAIL FROM' "$TMPD/fake.log")" -eq 1
kill $fake 2>/dev/null; wait $fake 2>/dev/null

# the same broken TLS on a DANE host: no plaintext retry, the next MX takes it
python3 "$FIX/fake_smtp.py" --listen 127.1.0.9 --port "$port" --mode bad-tls \
	--log "$TMPD/fake2.log" --lifetime 30 >"$TMPD/fake2.out" 2>&1 &
fake=$!
mkdir -p "$TMPD/md"
"$bin" serve --listen "127.1.0.10:$port" --hostname mx2.two-mx.test --maildir "$TMPD/md" \
	--cert "$DANEMX_LAB_DIR/certs/mx2.two-mx.test.chain.pem" \
	--key "$DANEMX_LAB_DIR/certs/mx2.two-mx.test.key.pem" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 1 50); do
	grep -q listening "$TMPD/fake2.out" 2>/dev/null && (exec 3<>/dev/tcp/127.1.0.10/$port) 2>/dev/null && break
	sleep 0.1
done
SEND_PORT=$port run_send --json --from a@sender.test --to bob@two-mx.test "$TMPD/msg"
t_expect "DANE host: delivered by MX 2, exit 0" 0 "$RC"
t_check "DANE host: verified via mx2" test "$(jget "$OUT" 'o["recipients"][0]["mx"] + " " + o["recipients"][0]["tls"]')" = "mx2.two-mx.test verified"
t_check "DANE host: no plaintext session to MX 1" test "$(grep -c '^MAIL FROM' "$TMPD/fake2.log")" -eq 0
kill $fake $srv 2>/dev/null; wait $fake $srv 2>/dev/null
lab_stop
t_summary

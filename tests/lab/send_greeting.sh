#!/usr/bin/env bash
# A 5xx greeting is plaintext that anyone on the path can forge: send must not take it as
# final. two-mx.test: MX 1 (127.1.0.9) greets with 554 (a fake server), MX 2 (127.1.0.10) is
# a real danemx serve with the lab's certificate for it. The message must reach MX 2,
# DANE-verified; the 554 is in MX 1's attempt, and nothing bounces.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"
lab_start || exit 1
. "$src/tests/lab/fixtures/send_lib.bash"

port=$(lab_free_port)
python3 "$FIX/fake_smtp.py" --listen 127.1.0.9 --port "$port" --mode 554-greet \
	--log "$TMPD/fake.log" --lifetime 30 >"$TMPD/fake.out" 2>&1 &
fake=$!
mkdir -p "$TMPD/md"
"$bin" serve --listen "127.1.0.10:$port" --hostname mx2.two-mx.test --maildir "$TMPD/md" \
	--cert "$DANEMX_LAB_DIR/certs/mx2.two-mx.test.chain.pem" \
	--key "$DANEMX_LAB_DIR/certs/mx2.two-mx.test.key.pem" >"$TMPD/serve.out" 2>"$TMPD/serve.err" &
srv=$!
for _ in $(seq 1 50); do
	grep -q listening "$TMPD/fake.out" 2>/dev/null && (exec 3<>/dev/tcp/127.1.0.10/$port) 2>/dev/null && break
	sleep 0.1
done
printf 'From: a@sender.test\r\nTo: bob@two-mx.test\r\nSubject: greeting\r\n\r\nhello\r\n' >"$TMPD/msg"
SEND_PORT=$port run_send --json --from a@sender.test --to bob@two-mx.test "$TMPD/msg"
t_expect "delivered: exit 0" 0 "$RC"
t_check "recipient delivered via mx2, verified" test "$(jget "$OUT" 'o["recipients"][0]["status"] + " " + o["recipients"][0]["mx"] + " " + o["recipients"][0]["tls"]')" = "delivered mx2.two-mx.test verified"
t_check "mx1's 554 greeting is in its attempt" grep -q '554 5.3.2 fake.test no service' "$OUT"
t_check "the message is in mx2's Maildir" test "$(ls "$TMPD/md/new" | wc -l)" -eq 1
kill $fake $srv 2>/dev/null
wait $fake $srv 2>/dev/null
lab_stop
t_summary

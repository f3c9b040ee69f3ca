#!/usr/bin/env bash
# Never lose an accepted message: kill -9 of danemx serve during DATA leaves nothing in
# new/; kill -9 right after the 250 leaves the message complete in new/; and under a kill
# at a random moment of a stream of messages, every message that got 250 is complete in
# new/ and nothing partial is there. Also: SIGHUP swaps the certificate for new connections.
set -u
# A write to the socket after the kill must fail (EPIPE), not kill this script.
trap '' PIPE
bin=$1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
tmp=$(mktemp -d /tmp/danemx-crash.XXXXXX)
spid=
cleanup() { [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; exec 3<&- 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"

nstart=0
start() { # start ARGS...: sets $spid and $port
	nstart=$((nstart + 1))
	"$bin" serve --listen 127.0.0.1:0 --hostname mx.example.test "$@" >serve.$nstart.out 2>>serve.err &
	spid=$!
	port=
	for _ in $(seq 50); do
		port=$(awk '/^; listening on/{print $NF; exit}' serve.$nstart.out 2>/dev/null)
		[ -n "$port" ] && return 0
		sleep 0.1
	done
	return 1
}
say() { printf '%s\r\n' "$@" >&3; }
reply() { # reply: read one whole reply from fd 3, print its code (or "eof")
	local line
	while IFS= read -r -t 5 line <&3; do
		line=${line%$'\r'}
		case $line in [0-9][0-9][0-9]-*) continue ;; esac
		echo "${line:0:3}"
		return 0
	done
	echo eof
}
open() { exec 3<>/dev/tcp/127.0.0.1/"$port"; }
begin_msg() { # after the banner: EHLO MAIL RCPT DATA, expect 354
	say "EHLO crash.test" "MAIL FROM:<a@sender.test>" "RCPT TO:<u@example.test>" "DATA"
	local codes="$(reply) $(reply) $(reply) $(reply)"
	[ "$codes" = "250 250 250 354" ] || echo "unexpected: $codes" >&2
}
complete() { # complete FILE: the file ends with its END marker line
	tail -n 1 "$1" | grep -q '^END-OF-MESSAGE [0-9]*$'
}

# 1. kill -9 during DATA: nothing in new/.
start --no-starttls --maildir "$tmp/md" || bad "serve did not start"
open; reply >/dev/null
begin_msg
for i in $(seq 200); do say "line $i of a message that never ends"; done
sleep 0.3
kill -9 "$spid"; wait "$spid" 2>/dev/null; spid=
exec 3<&-
[ -z "$(ls md/new)" ] && ok || bad "partial message in new/: $(ls md/new)"

# 2. kill -9 right after the 250: the message is complete in new/.
start --no-starttls --maildir "$tmp/md" || bad "serve did not restart"
open; reply >/dev/null
begin_msg
for i in $(seq 200); do say "line $i"; done
say "END-OF-MESSAGE 1" "."
code=$(reply)
kill -9 "$spid"; wait "$spid" 2>/dev/null; spid=
exec 3<&-
n=$(ls md/new | wc -l)
if [ "$code" = 250 ] && [ "$n" = 1 ] && complete md/new/* && [ "$(grep -c '^line ' md/new/*)" = 200 ]; then ok
else bad "after 250: code $code, $n files"; fi

# 3. A stream of messages, killed at a random moment.
rm -f md/new/*
start --no-starttls --maildir "$tmp/md" || bad "serve did not restart"
acked=0
(sleep 0.$((RANDOM % 9 + 1)); kill -9 "$spid" 2>/dev/null) &
killer=$!
open; reply >/dev/null
say "EHLO crash.test"; reply >/dev/null
for m in $(seq 1 500); do
	say "MAIL FROM:<a@sender.test>" "RCPT TO:<u@example.test>" "DATA"
	[ "$(reply) $(reply) $(reply)" = "250 250 354" ] || break
	for i in $(seq 20); do say "message $m line $i"; done
	say "END-OF-MESSAGE $m" "."
	[ "$(reply)" = 250 ] || break
	acked=$((acked + 1))
done
wait "$killer"; wait "$spid" 2>/dev/null; spid=
exec 3<&-
files=$(ls md/new | wc -l)
echo "random kill: $acked messages acknowledged, $files in new/"
incomplete=0
for f in md/new/*; do [ -e "$f" ] || continue; complete "$f" || incomplete=$((incomplete + 1)); done
# Every acknowledged message is there; at most one more (renamed, killed before its 250).
if [ "$acked" -gt 0 ] && [ "$files" -ge "$acked" ] && [ "$files" -le $((acked + 1)) ] && [ $incomplete -eq 0 ]; then ok
else bad "random kill: acked $acked, files $files, incomplete $incomplete"; fi
for m in $(seq 1 "$acked"); do
	grep -lq "^END-OF-MESSAGE $m\$" md/new/* || { bad "acknowledged message $m missing"; break; }
done

# 4. SIGHUP: a new connection sees the new certificate.
mkcert() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem \
	-out cert.pem -subj "/CN=$1" -days 30 2>/dev/null; }
peer_cn() { openssl s_client -starttls smtp -connect 127.0.0.1:"$port" -servername mx.example.test \
	</dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'; }
mkcert before.example.test
start --cert cert.pem --key key.pem --maildir "$tmp/md" || bad "serve with TLS did not start"
cn1=$(peer_cn)
mkcert after.example.test
kill -HUP "$spid"; sleep 0.3
cn2=$(peer_cn)
[ "$cn1" = before.example.test ] && [ "$cn2" = after.example.test ] && ok || bad "SIGHUP: '$cn1' then '$cn2'"
grep -q 'certificates reloaded' serve.err && ok || bad "no reload log line"
kill -0 "$spid" 2>/dev/null && ok || bad "serve died on SIGHUP"
kill -TERM "$spid"; wait "$spid"; rc=$?; spid=
[ $rc -eq 0 ] && ok || bad "exit $rc after SIGTERM"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

#!/usr/bin/env bash
# danemx serve against swaks: delivery over STARTTLS (TLS 1.3 and 1.2) into the Maildir with
# the bytes intact, the TLSA records printed at start match the chain (3 1 1 leaf, 2 1 1
# issuer), --no-starttls hides STARTTLS, --domain refuses others, SIGTERM exits 0.
set -u
bin=$1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
command -v swaks >/dev/null || { echo "swaks missing (make deps)"; echo "0 passed, 1 failed"; exit 1; }
perl -MNet::SSLeay -e1 2>/dev/null || { echo "libnet-ssleay-perl missing (make deps)"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d /tmp/danemx-swaks.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# A CA and a leaf signed by it; the chain file holds both, leaf first.
cd "$tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-subj /CN=Lab-CA -days 30 -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
	-subj /CN=mx.example.test 2>/dev/null
printf 'subjectAltName=DNS:mx.example.test\n' >ext.cnf
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 30 \
	-extfile ext.cnf 2>/dev/null
cat leaf.pem ca.pem >chain.pem
spki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }

start() { # start NAME ARGS...: runs serve, sets $port
	local name=$1; shift
	"$bin" serve --listen 127.0.0.1:0 --hostname mx.example.test "$@" >"$name.out" 2>"$name.err" &
	pids+=($!)
	for _ in $(seq 50); do
		port=$(awk '/^; listening on/{print $NF; exit}' "$name.out")
		[ -n "$port" ] && return 0
		sleep 0.1
	done
	cat "$name.err"
	return 1
}

start tls --cert chain.pem --key leaf.key --maildir "$tmp/md" --domain example.test || { bad "serve did not start"; }
spid=${pids[-1]}
grep -qx "_25._tcp.mx.example.test. IN TLSA 3 1 1 $(spki leaf.pem)" tls.out && ok || bad "3 1 1 record: $(cat tls.out)"
grep -qx "_25._tcp.mx.example.test. IN TLSA 2 1 1 $(spki ca.pem)" tls.out && ok || bad "2 1 1 record"
# A CA-issued leaf without its issuer in the file: 3 1 1 and a note, no 2 1 1.
timeout 1 "$bin" serve --listen 127.0.0.1:0 --hostname mx.example.test --cert leaf.pem --key leaf.key \
	--maildir "$tmp/md0" >leafonly.out 2>/dev/null
grep -q '^; no 2 1 1 record: leaf.pem holds no issuer' leafonly.out && ! grep -q 'IN TLSA 2 1 1 ' leafonly.out &&
	grep -q ' 3 1 1 ' leafonly.out && ok || bad "leaf-only chain: $(cat leafonly.out)"

# The message, with lines that need dot-stuffing and 8-bit bytes. No final CRLF: swaks
# adds one before the final dot.
printf 'From: a@sender.test\r\nTo: u@example.test\r\nSubject: interop\r\n\r\n.leading dot\r\n..two\r\n.\r\nx\r\n\xc3\xa9t\xc3\xa9\r\nlast line' >msg.eml
for proto in tlsv1_3 tlsv1_2; do
	rm -f md/new/*
	swaks -4 --server 127.0.0.1:"$port" --tls --tls-protocol "$proto" --from a@sender.test \
		--to u@example.test --data @msg.eml >swaks.$proto 2>&1
	grep -q '<~  250 2.0.0 Ok: queued as' swaks.$proto && ok || bad "swaks $proto: $(tail -5 swaks.$proto)"
	f=$(ls md/new/* 2>/dev/null | head -1)
	if [ -z "$f" ]; then bad "$proto: nothing in new/"; continue; fi
	want=$( (sed 's/\r$//' msg.eml; echo) | sha256sum)
	# Stored: Received: header (and its folded lines), then the message with LF endings.
	got=$(awk 'h==0 && (/^Received:/ || /^\t/) {next} {h=1; print}' "$f" | sha256sum)
	[ "$want" = "$got" ] && ok || bad "$proto: stored bytes differ"
	v=TLSv1.3; [ $proto = tlsv1_2 ] && v=TLSv1.2
	grep -q "(using $v with cipher " "$f" && ok || bad "$proto: Received: lacks TLS facts: $(head -4 "$f")"
done
swaks -4 --server 127.0.0.1:"$port" --tls --from a@sender.test --to u@other.test --data @msg.eml >swaks.dom 2>&1
grep -q '<~\* 550 5.1.1' swaks.dom && ok || bad "--domain: $(grep '550\|250' swaks.dom | tail -2)"
grep -q 'status=sent' tls.err && grep -q 'tls=TLSv1.3 with cipher' tls.err && ok || bad "log lines: $(cat tls.err)"

start plain --no-starttls --maildir "$tmp/md2" || bad "plain serve did not start"
swaks -4 --server 127.0.0.1:"$port" --tls --from a@sender.test --to u@example.test --data @msg.eml >swaks.plain 2>&1
grep -q 'STARTTLS' swaks.plain && ! grep -q '250-STARTTLS' swaks.plain && ok || bad "--no-starttls still offers it"
[ -z "$(ls md2/new)" ] && ok || bad "--tls client delivered without TLS"

kill -TERM "$spid"; wait "$spid"; rc=$?
[ $rc -eq 0 ] && ok || bad "exit after SIGTERM: $rc"
"$bin" serve --listen 127.0.0.1:0 --cert chain.pem --key ca.key --maildir "$tmp/md3" >/dev/null 2>mismatch.err; rc=$?
[ $rc -eq 78 ] && grep -q 'ca.key.*mismatch\|does not match' mismatch.err && ok || bad "key mismatch: rc $rc $(cat mismatch.err)"
"$bin" serve --listen 127.0.0.1:0 --maildir "$tmp/md3" >/dev/null 2>&1; rc=$?
[ $rc -eq 64 ] && ok || bad "missing --cert: rc $rc"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

#!/usr/bin/env bash
# danemx lab up, end to end: start the lab on a free port, wait for its readiness line,
# check every receiver answers SMTP with the right STARTTLS offer, that openssl s_client
# sees each scenario's certificate, that the TLSA records in the zone files match the
# certificates served for the good scenarios (and not for the forged one), that the evil
# responders misbehave as designed, and that SIGTERM leaves nothing behind. A second run
# with --dir and --dns-listen checks the unbound child answers with validated data and is
# stopped too.
set -u
bin=$1
src=${2:-.}
pass=0 fail=0
work=$(mktemp -d /tmp/danemx-labtest.XXXXXX)
lab_pid=""

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION -- command...
	local what=$1; shift 2
	if "$@"; then ok; else bad "$what"; fi
}
cleanup() {
	[ -n "$lab_pid" ] && kill -KILL "$lab_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# Start `danemx lab up ARGS` on a free port; sets lab_pid, port, dir. Retries on another
# port when the first is taken (another test run in parallel).
start_lab() {
	local try
	for try in 1 2 3 4 5; do
		port=$((20000 + (RANDOM + $$ * 7) % 20000))
		"$bin" lab up --port "$port" "$@" >"$work/out" 2>"$work/err" &
		lab_pid=$!
		for _ in $(seq 1 300); do
			grep -q '^lab ready: ' "$work/out" 2>/dev/null && break
			kill -0 "$lab_pid" 2>/dev/null || break
			sleep 0.1
		done
		if grep -q '^lab ready: ' "$work/out"; then
			dir=$(sed -n 's/^lab ready: //p' "$work/out")
			return 0
		fi
		wait "$lab_pid" 2>/dev/null
		lab_pid=""
		grep -q 'cannot listen\|in use' "$work/err" || break
	done
	echo "lab did not become ready:"; cat "$work/err"
	return 1
}

# Stop the lab with SIGTERM; 0 when it exits 0 within 10 s.
stop_lab() {
	local rc
	kill -TERM "$lab_pid"
	for _ in $(seq 1 100); do
		kill -0 "$lab_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$lab_pid" 2>/dev/null; then
		bad "lab still running 10 s after SIGTERM"
		kill -KILL "$lab_pid"
	fi
	wait "$lab_pid"; rc=$?
	lab_pid=""
	return $rc
}

bracket() { case $1 in *:*) echo "[$1]";; *) echo "$1";; esac; }

# EHLO and QUIT over a plain connection; prints the replies.
smtp_ehlo() {
	timeout 5 bash -c 'exec 3<>/dev/tcp/$0/$1 || exit 1
		printf "EHLO lab-test.test\r\nQUIT\r\n" >&3; cat <&3' "$1" "$2" 2>/dev/null | tr -d '\r'
}

# The certificate chain an address presents after STARTTLS (PEM, leaf first).
tls_chain() {
	timeout 10 openssl s_client -starttls smtp -connect "$(bracket "$1"):$2" -showcerts \
		</dev/null 2>/dev/null | sed -n '/BEGIN CERT/,/END CERT/p'
}
first_cert() { awk '/BEGIN CERT/{n++} n==1' ; }
last_cert() { awk '/BEGIN CERT/{n++; buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' ; }
spki_hash() { openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | "$1" | cut -d' ' -f1; }
cert_full() { openssl x509 -outform DER | od -An -v -tx1 | tr -d ' \n'; }

# The rdata hex of the TLSA records at _25._tcp.TARGET with fields U S M, from the zones.
zone_tlsa() {
	cat "$dir"/dns/*.zone | awk -v o="_25._tcp.$1" -v f="$2 $3 $4" \
		'$1 == o && $4 == "TLSA" && ($5 " " $6 " " $7) == f { print tolower($8) }'
}

# --- lab list -------------------------------------------------------------------------
"$bin" lab list --json >"$work/list.json" 2>"$work/err"
check "lab list --json exits 0" -- test $? -eq 0
n=$(grep -c '"name":' "$work/list.json")
check "lab list --json has >= 29 scenarios (got $n)" -- test "$n" -ge 29
check "lab list shows two-mx as dane-fail" -- \
	bash -c "'$bin' lab list | grep -Eq '^two-mx +two-mx.test +dane-fail'"
"$bin" lab up --port 0 >/dev/null 2>&1
check "lab up --port 0 is a usage error" -- test $? -eq 64
"$bin" lab up --dns-listen 192.0.2.1@53 >/dev/null 2>&1
check "lab up --dns-listen off loopback is a usage error" -- test $? -eq 64
"$bin" lab build >/dev/null 2>&1
check "lab build without --dir is a usage error" -- test $? -eq 64

# --- up ---------------------------------------------------------------------------------
if ! start_lab; then
	echo "$pass passed, $((fail + 1)) failed"; exit 1
fi
check "temp lab dir exists" -- test -d "$dir"
# shellcheck disable=SC1091
. "$dir/lab.env"
check "lab.env port" -- test "$DANEMX_LAB_PORT" = "$port"
check "lab.env dns config" -- test -r "$DANEMX_DNS_CONFIG"
check "lab.env anchor" -- test -r "$DANEMX_LAB_ANCHOR"
check "lab.env maildir root" -- test -d "$DANEMX_LAB_MAILDIR"

nhosts=0
while IFS=$'\t' read -r sc host target addr hport starttls evil cn chain expect; do
	case $sc in \#*) continue;; esac
	nhosts=$((nhosts + 1))
	if [ "$evil" = endless-banner ]; then
		got=$(timeout 3 bash -c 'exec 3<>/dev/tcp/$0/$1; head -c 70000 <&3' "$addr" "$port" | tr -d 'x')
		check "$sc: endless banner starts with 220 and has no line end" -- test "$got" = "220 "
		continue
	fi
	if [ "$evil" = stall ]; then
		got=$(timeout 2 bash -c 'exec 3<>/dev/tcp/$0/$1 || exit 9; cat <&3' "$addr" "$port"; echo "rc=$?")
		check "$sc: stalling server accepts and says nothing ($got)" -- test "$got" = "rc=124"
		continue
	fi
	reply=$(smtp_ehlo "$addr" "$port")
	check "$sc $addr: banner names $host" -- grep -q "^220 ${host%.} " <<<"$reply"
	check "$sc $addr: EHLO answered" -- grep -q "^250 " <<<"$reply"
	if [ "$starttls" = yes ]; then
		check "$sc $addr: STARTTLS offered" -- grep -q "^250.STARTTLS" <<<"$reply"
		tls_chain "$addr" "$port" >"$work/chain.pem"
		subj=$(first_cert <"$work/chain.pem" | openssl x509 -noout -subject -nameopt multiline 2>/dev/null |
			sed -n 's/^ *commonName *= *//p')
		check "$sc $addr: certificate CN '$subj' is '$cn'" -- test "$subj" = "$cn"
	else
		check "$sc $addr: STARTTLS not offered" -- bash -c "! grep -q STARTTLS <<<'$reply'"
	fi
done <"$dir/hosts.tsv"
check "hosts.tsv lists >= 30 receiver addresses (got $nhosts)" -- test "$nhosts" -ge 30

# TLSA in the zones against the certificates actually served.
addr_of() { awk -F'\t' -v s="$1" '$1 == s { print $4; exit }' "$dir/hosts.tsv"; }
target_of() { awk -F'\t' -v s="$1" '$1 == s { print $3; exit }' "$dir/hosts.tsv"; }
for sc in dane-ok dane-expired dane-othername rollover malformed-plus cname-mx implicit-mx insecure-mx; do
	h=$(tls_chain "$(addr_of $sc)" "$port" | first_cert | spki_hash sha256sum)
	check "$sc: a 3 1 1 record in the zone matches the served key" -- \
		grep -qx "$h" <(zone_tlsa "$(target_of $sc)" 3 1 1)
done
h=$(tls_chain "$(addr_of dane-312)" "$port" | first_cert | spki_hash sha512sum)
check "dane-312: 3 1 2 matches" -- grep -qx "$h" <(zone_tlsa mx1.dane-312.test. 3 1 2)
if grep -q $'\t::1\t' "$dir/hosts.tsv"; then   # absent where ::1 cannot be bound
	h=$(tls_chain ::1 "$port" | first_cert | spki_hash sha512sum)
	check "dane-312 over ::1: 3 1 2 matches" -- grep -qx "$h" <(zone_tlsa mx1.dane-312.test. 3 1 2)
fi
h=$(tls_chain "$(addr_of dane-300)" "$port" | first_cert | cert_full)
check "dane-300: 3 0 0 is the served certificate" -- grep -qx "$h" <(zone_tlsa mx1.dane-300.test. 3 0 0)
h=$(tls_chain "$(addr_of dane-ta)" "$port" | last_cert | spki_hash sha256sum)
check "dane-ta: 2 1 1 matches the last certificate sent (the root)" -- \
	grep -qx "$h" <(zone_tlsa mx1.dane-ta.test. 2 1 1)
check "dane-ta: the root is in the served chain" -- \
	test "$(tls_chain "$(addr_of dane-ta)" "$port" | grep -c 'BEGIN CERT')" -eq 3
h=$(tls_chain "$(addr_of dane-wrong)" "$port" | first_cert | spki_hash sha256sum)
check "dane-wrong: the 3 1 1 record does not match" -- \
	bash -c "test -n '$(zone_tlsa mx1.dane-wrong.test. 3 1 1)' && ! grep -qx '$h' <(echo '$(zone_tlsa mx1.dane-wrong.test. 3 1 1)')"
second=$(awk -F'\t' '$1 == "two-addr" { print $4 }' "$dir/hosts.tsv" | sed -n 2p)
h=$(tls_chain "$second" "$port" | first_cert | spki_hash sha256sum)
check "two-addr: the second address's key does not match" -- \
	bash -c "! grep -qx '$h' <(echo '$(zone_tlsa mx1.two-addr.test. 3 1 1)')"

# The dual server: ECDSA by default, RSA to a client that only takes RSA signatures.
dual=$(addr_of dual-cert)
alg() { timeout 10 openssl s_client -starttls smtp -connect "$dual:$port" "$@" </dev/null 2>/dev/null |
	openssl x509 -noout -text 2>/dev/null | sed -n 's/^ *Public Key Algorithm: *//p'; }
check "dual-cert: ECDSA certificate by default" -- test "$(alg)" = id-ecPublicKey
check "dual-cert: RSA certificate for an RSA-only client" -- \
	test "$(alg -sigalgs rsa_pss_rsae_sha256:RSA+SHA256)" = rsaEncryption

# Mail lands in the MX host's Maildir, over STARTTLS and in the clear.
swaks --server "$(addr_of dane-ok)" --port "$port" --to postmaster@dane-ok.test \
	--from lab-test@sender.test --tls --header "Subject: lab-up-tls" >"$work/swaks" 2>&1
check "swaks over STARTTLS to dane-ok delivered" -- \
	grep -rqs "Subject: lab-up-tls" "$DANEMX_LAB_MAILDIR/mx1.dane-ok.test/new"
swaks --server "$(addr_of plaintext)" --port "$port" --to postmaster@plaintext.test \
	--from lab-test@sender.test --header "Subject: lab-up-plain" >"$work/swaks" 2>&1
check "swaks in the clear to plaintext delivered" -- \
	grep -rqs "Subject: lab-up-plain" "$DANEMX_LAB_MAILDIR/mx1.plaintext.test/new"
swaks --server "$(addr_of dane-ok)" --port "$port" --to someone@elsewhere.test \
	--from lab-test@sender.test >"$work/swaks" 2>&1
check "a receiver refuses recipients outside its domain" -- grep -q '<\*\* 55[0-9]' "$work/swaks"

# A second lab on the same port cannot listen: exit 69, one-line reason, no temp dir left.
mkdir -p "$work/tmp2"
TMPDIR=$work/tmp2 timeout 30 "$bin" lab up --port "$port" >"$work/out2" 2>"$work/err2"
check "second lab on a busy port exits 69" -- test $? -eq 69
check "second lab names the busy address" -- grep -q "127.1.0.1:$port.*cannot listen\|127.1.0.1:$port.*in use\|:$port" "$work/err2"
check "second lab printed no readiness line" -- test ! -s "$work/out2"
check "second lab removed its temp dir" -- test -z "$(ls -A "$work/tmp2")"

check "lab stops cleanly on SIGTERM" -- stop_lab
check "temp lab dir removed" -- test ! -e "$dir"
check "nothing listens on the lab port any more" -- bash -c "! ss -ltn | grep -q ':$port '"

# --- up with --dir and --dns-listen: the unbound child -------------------------------------
dnsport=$((20000 + (RANDOM + $$ * 13) % 20000))
if start_lab --dir "$work/kept" --dns-listen "127.0.0.1@$dnsport"; then
	ans=$(drill -D -p "$dnsport" @127.0.0.1 MX dane-ok.test 2>&1)
	check "unbound child answers MX dane-ok.test with AD" -- \
		bash -c "grep -q 'flags:.* ad' <<<'$ans' && grep -q 'mx1.dane-ok.test' <<<'$ans'"
	ans=$(drill -D -p "$dnsport" @127.0.0.1 MX bogus-mx.test 2>&1)
	check "unbound child refuses the bogus MX (SERVFAIL)" -- grep -q 'SERVFAIL' <<<"$ans"
	upid=$(ps -eo pid=,args= | awk -v c="$work/kept/dns/unbound-daemon.conf" 'index($0, c) && /unbound -d/ { print $1 }')
	check "unbound child runs" -- test -n "$upid"
	check "lab with --dir stops cleanly" -- stop_lab
	check "unbound child is gone" -- bash -c "! kill -0 '${upid:-0}' 2>/dev/null"
	check "a given --dir is kept" -- test -r "$work/kept/lab.env"
else
	bad "lab up --dns-listen did not start"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

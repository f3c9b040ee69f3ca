#!/usr/bin/env bash
# danemx send against the lab: what arrives where (bytes compared with msgcmp.py: stored
# file minus the receiver's Received: header, CRLF -> LF on both sides), the per-recipient
# status and reason, and the exit code, for plaintext, opportunistic, DANE-EE and DANE-TA
# delivery; a wrong TLSA, a bad first MX, a stripped STARTTLS and bogus DNS (nothing
# delivered, deferred, 75); --level dane-only to an unsigned domain (refused, 69) and the
# other levels; mixed outcomes across domains; the JSON core; an 8-bit message, a 10 MB
# message, one over the server's SIZE and one with an over-long line; -4/-6; and every lab
# scenario delivered exactly where `danemx lab list --json` says.
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"
lab_start || exit 1
. "$src/tests/lab/fixtures/send_lib.bash"

"$bin" lab list --json >"$TMPD/list.json"
delivers_to() { jget "$TMPD/list.json" "[s['delivers_to'] for s in o if s['domain'] == '$1'][0]"; }

msg=$TMPD/msg.txt
printf 'From: a@sender.test\nTo: b@lab.test\nSubject: send test\n\nline one\n.a line with a leading dot\n..\n.\nCRLF line\r\nlast line without a newline' >"$msg"

# --- delivery with the TLS each domain calls for --------------------------------------
for spec in plaintext.test:plaintext nodnssec.test:encrypted dane-ok.test:verified dane-ta.test:verified; do
	dom=${spec%%:*} tls=${spec#*:}
	mx=$(delivers_to "$dom")
	mx=${mx%.}
	mail_clear
	run_send --from a@sender.test --to "b@$dom" "$msg"
	t_expect "$dom: exit code" 0 "$RC"
	t_check "$dom: status line (delivered via $mx, tls=$tls)" grep -Eq \
		"^b@$dom: delivered via $mx \[127\.[0-9.]+:$DANEMX_LAB_PORT\] tls=$tls: delivered to $mx " "$OUT"
	stored_equals "$dom" "$mx" "$msg"
	t_expect "$dom: messages anywhere in the lab" 1 "$(mail_count)"
	case $dom in
	dane-ok.test) t_check "$dom: DANE-EE match reported" grep -q \
		"^  tried $mx \[127.1.0.3\] (dane): verified, TLSA 3 1 1 matched at depth 0: 250 " "$OUT" ;;
	dane-ta.test) t_check "$dom: DANE-TA match reported above the leaf" grep -Eq \
		"^  tried $mx \[127.1.0.6\] \(dane\): verified, TLSA 2 1 1 matched at depth [12]: 250 " "$OUT" ;;
	plaintext.test) t_check "$dom: no STARTTLS, plaintext" grep -q "(may): plaintext: 250 " "$OUT" ;;
	nodnssec.test) t_check "$dom: opportunistic TLS" grep -q "(may): opportunistic: 250 " "$OUT" ;;
	esac
done

# --- a TLSA record that matches nothing: not delivered anywhere, deferred ---------------
mail_clear
run_send --from a@sender.test --to b@dane-wrong.test "$msg"
t_expect "dane-wrong: exit code" 75 "$RC"
t_check "dane-wrong: deferred with the reason" grep -q \
	'^b@dane-wrong.test: deferred: .*no TLSA record matches' "$OUT"
t_expect "dane-wrong: messages anywhere in the lab" 0 "$(mail_count)"

# --- two MX, the first with a wrong TLSA: delivered via the second only -----------------
mail_clear
run_send --from a@sender.test --to b@two-mx.test "$msg"
t_expect "two-mx: exit code" 0 "$RC"
t_expect "two-mx: lab says it delivers to" mx2.two-mx.test. "$(delivers_to two-mx.test)"
t_check "two-mx: delivered via mx2, verified" grep -q \
	'^b@two-mx.test: delivered via mx2.two-mx.test .* tls=verified' "$OUT"
t_check "two-mx: mx1 tried first and failed DANE" grep -q \
	'^  tried mx1.two-mx.test \[127.1.0.9\] (dane): dane-fail: DANE authentication failed' "$OUT"
stored_equals "two-mx" mx2.two-mx.test "$msg"
t_expect "two-mx: nothing at mx1" 0 "$(mail_files mx1.two-mx.test | wc -l)"

# --- TLSA published, STARTTLS stripped: no plaintext fallback ---------------------------
mail_clear
run_send --from a@sender.test --to b@no-starttls.test "$msg"
t_expect "no-starttls: exit code" 75 "$RC"
t_check "no-starttls: deferred, STARTTLS required" grep -q \
	'^b@no-starttls.test: deferred: .*STARTTLS not offered, but TLS is required' "$OUT"
t_expect "no-starttls: messages anywhere in the lab" 0 "$(mail_count)"

# --- bogus DNS: mail waits ---------------------------------------------------------------
for spec in bogus-mx.test:'MX lookup DNSSEC validation failed (bogus)' \
	bogus-tlsa.test:'TLSA lookup is DNSSEC-bogus' expired-rrsig.test:'signature expired'; do
	dom=${spec%%:*} why=${spec#*:}
	mail_clear
	run_send --from a@sender.test --to "b@$dom" "$msg"
	t_expect "$dom: exit code" 75 "$RC"
	t_check "$dom: deferred: $why" grep -qF "b@$dom: deferred: " "$OUT"
	t_check "$dom: reason says $why" grep -qF "$why" "$OUT"
	t_expect "$dom: messages anywhere in the lab" 0 "$(mail_count)"
done

# --- --level dane-only: an unsigned domain is refused, a DANE domain is not -------------
mail_clear
run_send --level dane-only --from a@sender.test --to b@nodnssec.test "$msg"
t_expect "dane-only to nodnssec: exit code" 69 "$RC"
t_check "dane-only to nodnssec: bounced with the reason" grep -q \
	'^b@nodnssec.test: bounced: no usable TLSA records for mx1.nodnssec.test .*--level dane-only' "$OUT"
t_expect "dane-only to nodnssec: messages anywhere in the lab" 0 "$(mail_count)"
run_send --level dane-only --from a@sender.test --to b@dane-ok.test "$msg"
t_expect "dane-only to dane-ok: exit code" 0 "$RC"
stored_equals "dane-only to dane-ok" mx1.dane-ok.test "$msg"

# --- the other levels: what each does to a few domains --------------------------------------
# level domain exit status tls-or-reason-fragment
while read -r level dom want st frag; do
	mail_clear
	run_send --level "$level" --from a@sender.test --to "b@$dom" "$msg"
	t_expect "--level $level to $dom: exit code" "$want" "$RC"
	t_check "--level $level to $dom: $st ($frag)" grep -q "^b@$dom: $st.*$frag" "$OUT"
	t_expect "--level $level to $dom: messages anywhere in the lab" "$([ "$st" = delivered ] && echo 1 || echo 0)" "$(mail_count)"
done <<'LEVELS'
encrypt plaintext.test 75 deferred STARTTLS not offered, but TLS is required (encrypt)
encrypt nodnssec.test 0 delivered tls=encrypted
encrypt dane-ok.test 0 delivered tls=verified
may dane-wrong.test 0 delivered tls=encrypted
none dane-ok.test 0 delivered tls=plaintext
dane-only dane-wrong.test 75 deferred no TLSA record matches
dane-only null-mx.test 69 bounced null MX
LEVELS

# --- recipients across three domains, mixed outcomes; the JSON core -----------------------
mail_clear
run_send --json --from a@sender.test --to u1@dane-ok.test --to b@dane-wrong.test \
	--to u2@dane-ok.test --to c@null-mx.test "$msg"
t_expect "mixed: exit code (a deferred recipient wins)" 75 "$RC"
j=$OUT
t_expect "mixed: every recipient reported once, grouped by domain in first-seen order" \
	"['u1@dane-ok.test', 'u2@dane-ok.test', 'b@dane-wrong.test', 'c@null-mx.test']" \
	"$(jget "$j" "[r['recipient'] for r in o['recipients']]")"
t_expect "mixed: every recipient has the core keys" True \
	"$(jget "$j" "all(set(('recipient','status','mx','tls','reason')) <= set(r) for r in o['recipients'])")"
st() { jget "$j" "[(r['status'], r['mx'], r['tls']) for r in o['recipients'] if r['recipient'] == '$1'][0]"; }
why() { jget "$j" "[r['reason'] for r in o['recipients'] if r['recipient'] == '$1'][0]"; }
t_expect "mixed: u1@dane-ok.test" "('delivered', 'mx1.dane-ok.test', 'verified')" "$(st u1@dane-ok.test)"
t_expect "mixed: u2@dane-ok.test" "('delivered', 'mx1.dane-ok.test', 'verified')" "$(st u2@dane-ok.test)"
t_expect "mixed: b@dane-wrong.test status" deferred "$(jget "$j" "[r['status'] for r in o['recipients'] if r['recipient'] == 'b@dane-wrong.test'][0]")"
t_check "mixed: b@dane-wrong.test reason" grep -q 'no TLSA record matches' <<<"$(why b@dane-wrong.test)"
t_expect "mixed: b@dane-wrong.test mx is the last host tried" "('deferred', 'mx1.dane-wrong.test', 'none')" "$(st b@dane-wrong.test)"
t_expect "mixed: c@null-mx.test" "('bounced', None, 'none')" "$(st c@null-mx.test)"
t_check "mixed: c@null-mx.test reason" grep -qi 'null MX' <<<"$(why c@null-mx.test)"
stored_equals "mixed" mx1.dane-ok.test "$msg"
t_expect "mixed: messages anywhere in the lab (one message, two recipients)" 1 "$(mail_count)"
t_expect "mixed: level in the JSON" dane "$(jget "$j" "o['level']")"
t_expect "mixed: domains[] with the tried hosts" "[('dane-ok.test', True), ('dane-wrong.test', False), ('null-mx.test', False)]" \
	"$(jget "$j" "sorted((d['domain'], d['delivered']) for d in o['domains'])")"

# --- an 8-bit message: BODY=8BITMIME (see send_faults.sh), bytes intact ---------------------
mail_clear
printf 'From: a@sender.test\nSubject: 8-bit\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9 \xe2\x82\xac \xff\xfe latin-1 \xe9\n\x01\x7f control bytes\n' >"$TMPD/m8.txt"
run_send --from a@sender.test --to b@dane-ok.test "$TMPD/m8.txt"
t_expect "8-bit: exit code" 0 "$RC"
t_check "8-bit: delivered, verified" grep -q '^b@dane-ok.test: delivered via mx1.dane-ok.test .*tls=verified' "$OUT"
stored_equals "8-bit" mx1.dane-ok.test "$TMPD/m8.txt"

# --- a 10 MB message (10,000,000 bytes, CRLF lines, some with leading dots) ---------------
mail_clear
python3 - "$TMPD/big.txt" <<'PY'
import sys, random
random.seed(7)
out = bytearray(b"From: a@sender.test\r\nSubject: 10 MB\r\n\r\n")
i = 0
while len(out) < 10_000_000 - 100:
    line = (b"." if i % 97 == 0 else b"") + b"%08d " % i + bytes(random.choice(b"abcdefghij .") for _ in range(60))
    out += line + b"\r\n"
    i += 1
out += b"x" * (10_000_000 - len(out) - 2) + b"\r\n"
open(sys.argv[1], "wb").write(out)
PY
t_expect "10 MB: test message size" 10000000 "$(stat -c %s "$TMPD/big.txt")"
start=$(date +%s)
run_send --from a@sender.test --to b@dane-ok.test "$TMPD/big.txt"
t_expect "10 MB: exit code" 0 "$RC"
t_check "10 MB: delivered, verified" grep -q '^b@dane-ok.test: delivered via mx1.dane-ok.test .*tls=verified' "$OUT"
stored_equals "10 MB" mx1.dane-ok.test "$TMPD/big.txt"
t_check "10 MB: under 30 s" test $(($(date +%s) - start)) -lt 30

# --- larger than the server's SIZE (the lab receivers take 10 MiB): refused before DATA, 65 --
mail_clear
python3 -c 'import sys; sys.stdout.write("Subject: 11 MB\n\n" + ("y" * 70 + "\n") * 160000)' >"$TMPD/big11.txt"
run_send --from a@sender.test --to b@dane-ok.test "$TMPD/big11.txt"
t_expect "over SIZE: exit code" 65 "$RC"
t_check "over SIZE: bounced, not sent" grep -q \
	"^b@dane-ok.test: bounced: refused by mx1.dane-ok.test: message of [0-9]* bytes exceeds the server's SIZE limit of 10485760 bytes (RFC 1870): not sent" "$OUT"
t_expect "over SIZE: messages anywhere in the lab" 0 "$(mail_count)"

# --- a line over the RFC 5321 limit: the lab server refuses the message (5xx): bounced, 65 --
mail_clear
python3 -c 'import sys; sys.stdout.write("Subject: long\n\n" + "x" * 5000 + "\n")' >"$TMPD/long.txt"
run_send --from a@sender.test --to b@dane-ok.test "$TMPD/long.txt"
t_expect "long line: exit code" 65 "$RC"
t_check "long line: bounced with the server's 5xx" grep -q \
	'^b@dane-ok.test: bounced: refused by mx1.dane-ok.test: message refused after DATA: 5[0-9][0-9] ' "$OUT"
t_check "long line: the attempt was verified, then refused" grep -q \
	'^  tried mx1.dane-ok.test \[127.1.0.3\] (dane): verified, TLSA 3 1 1 matched at depth 0: message refused after DATA: 5' "$OUT"
t_expect "long line: messages anywhere in the lab" 0 "$(mail_count)"

# --- IPv6: -6 to a host with AAAA ::1 goes there; -6 to an IPv4-only host is deferred ------
mail_clear
run_send -6 --from a@sender.test --to b@dane-312.test "$msg"
t_expect "-6 dane-312: exit code" 0 "$RC"
t_check "-6 dane-312: delivered via [::1], verified (3 1 2)" grep -q \
	"^b@dane-312.test: delivered via mx1.dane-312.test \[::1\]:$DANEMX_LAB_PORT tls=verified: delivered to mx1.dane-312.test \[::1\]:$DANEMX_LAB_PORT (verified)$" "$OUT"
stored_equals "-6 dane-312" mx1.dane-312.test "$msg"
mail_clear
run_send -4 --from a@sender.test --to b@dane-312.test "$msg"
t_check "-4 dane-312: delivered via 127.1.0.19" grep -q "^b@dane-312.test: delivered via mx1.dane-312.test \[127.1.0.19:" "$OUT"
mail_clear
run_send -6 --from a@sender.test --to b@dane-ok.test "$msg"
t_expect "-6 dane-ok: exit code" 75 "$RC"
t_check "-6 dane-ok: deferred, no IPv6 address" grep -q '^b@dane-ok.test: deferred: .*has no IPv6 address records' "$OUT"
t_expect "-6 dane-ok: messages anywhere in the lab" 0 "$(mail_count)"

# --- every lab scenario: delivered exactly where `lab list --json` says, or nowhere ----------
# Two scenarios are judged here by what RFC 7672 asks of send rather than by delivers_to
# (which says null for both): two-addr.test has one good address beside the bad one, and
# a host is delivered to via its next address when one fails DANE (RFC 7672 2.2); send
# offers ECDSA, so dual-cert.test's server picks the ECDSA key the TLSA matches.
jget "$TMPD/list.json" "'\\n'.join(s['domain'] + ' ' + str(s['delivers_to']) for s in o)" >"$TMPD/scen.txt"
while read -r dom want; do
	case $dom in
	two-addr.test) want=mx1.two-addr.test. ;;
	dual-cert.test) want=mx1.dual-cert.test. ;;
	esac
	mail_clear
	SEND_TIMEOUT=2 run_send --from a@sender.test --to "b@$dom" "$msg"
	if [ "$want" = None ]; then
		t_check "$dom: not delivered (exit $RC)" test "$RC" = 75 -o "$RC" = 69
		t_check "$dom: deferred or bounced" grep -Eq "^b@$dom: (deferred|bounced): " "$OUT"
		t_expect "$dom: messages anywhere in the lab" 0 "$(mail_count)"
	else
		t_expect "$dom: exit code" 0 "$RC"
		t_check "$dom: delivered via ${want%.}" grep -q "^b@$dom: delivered via ${want%.} " "$OUT"
		t_expect "$dom: messages at ${want%.}" 1 "$(mail_files "${want%.}" | wc -l)"
		t_expect "$dom: messages anywhere in the lab" 1 "$(mail_count)"
	fi
	if [ "$dom" = two-addr.test ]; then
		t_check "$dom: delivered via the good address" grep -q \
			"^b@$dom: delivered via mx1.two-addr.test \[127.1.0.25:" "$OUT"
	fi
done <"$TMPD/scen.txt"

lab_stop
t_summary

#!/usr/bin/env bash
# danemx tlsa verify against the lab world: for each scenario, the chain a receiver serves
# and the TLSA records its zone publishes, judged offline by OpenSSL's DANE code. The
# expected outcomes are the RFC 7672 ones: DANE-EE ignores names and dates, DANE-TA checks
# the name, a wrong digest or another key fails, malformed and PKIX-only sets are unusable.
# Also: records as arguments and from a file, and the error exits.
set -u
bin=$(realpath "$1")
pass=0 fail=0
work=$(mktemp -d /tmp/danemx-tlsaverify.XXXXXX)
trap 'rm -rf "$work"' EXIT
lab=$work/lab

expect_rc() { # expect_rc DESCRIPTION WANT command...
	local what=$1 want=$2; shift 2
	"$@" >"$work/out" 2>"$work/err"; local got=$?
	if [ "$got" = "$want" ]; then pass=$((pass + 1)); else
		echo "FAIL: $what: exit $got, want $want"; cat "$work/out" "$work/err"; fail=$((fail + 1)); fi
}
want_out() { # want_out DESCRIPTION PATTERN
	if grep -q "$2" "$work/out"; then pass=$((pass + 1)); else
		echo "FAIL: $1: output lacks '$2'"; cat "$work/out"; fail=$((fail + 1)); fi
}

if ! "$bin" lab build --dir "$lab" >/dev/null 2>"$work/err"; then
	cat "$work/err"; echo "0 passed, 1 failed"; exit 1
fi
# The TLSA lines of _25._tcp.TARGET in the zone files.
records() { cat "$lab"/dns/*.zone | awk -v o="_25._tcp.$1" '$1 == o && $4 == "TLSA"' >"$work/rr.$1"; echo "$work/rr.$1"; }
chain() { echo "$lab/certs/$1.chain.pem"; }
verify() { # verify SCENARIO-HOST WANT [CHAIN-BASE]
	local h=$1 want=$2 base=${3:-$1}
	expect_rc "$h ($base)" "$want" "$bin" tlsa verify --host "$h" --records "$(records "$h.")" "$(chain "$base")"
}

verify mx1.dane-ok.test 0
want_out "dane-ok names the leaf match" "verified: the chain matches 3 1 1 .* at depth 0"
verify mx1.dane-expired.test 0
verify mx1.dane-othername.test 0
verify mx1.dane-ta.test 0
want_out "dane-ta matches at the root" "verified: the chain matches 2 1 1 .* at depth 2"
verify mx1.dane-ta-badname.test 1
want_out "dane-ta-badname fails the name" "failed: hostname mismatch"
verify mx1.dane-wrong.test 1
want_out "dane-wrong" "failed: no matching DANE TLSA records"
verify mx1.two-mx.test 1
verify mx2.two-mx.test 0
verify mx1.dane-312.test 0
verify mx1.dane-300.test 0
verify mx1.rollover.test 0
verify mx1.malformed-plus.test 0
want_out "malformed record reported unusable" "^unusable: 3 1 1 "
verify mx1.malformed-only.test 65
want_out "malformed-only" "no usable DANE record"
verify mx1.pkix-only.test 65
want_out "pkix-only records ignored" "^ignored: 1 1 1 "
verify smtp.cname-mx.test 0 mx1.cname-mx.test
verify implicit-mx.test 0
verify mx1.two-addr.test 0
verify mx1.two-addr.test 1 mx1.two-addr.test-2
verify mx1.dual-cert.test 0
verify mx1.dual-cert.test 1 mx1.dual-cert.test-rsa

# Records on the command line; the leaf's own 3 1 1 from tlsa create.
rec=$("$bin" tlsa create "$(chain mx1.dane-ok.test)" | head -n 1)
expect_rc "record argument" 0 "$bin" tlsa verify "$(chain mx1.dane-ok.test)" "$rec"
expect_rc "record argument, chain with another key" 1 "$bin" tlsa verify "$(chain mx1.two-addr.test-2)" "$rec"
expect_rc "mnemonic record" 0 "$bin" tlsa verify "$(chain mx1.dane-ok.test)" "DANE-EE SPKI SHA2-256 ${rec#3 1 1 }"
expect_rc "bad record" 65 "$bin" tlsa verify "$(chain mx1.dane-ok.test)" "3 1 1 xyz"
grep -q "invalid character 'x'" "$work/err" || { echo "FAIL: bad record message"; fail=$((fail + 1)); }
expect_rc "missing chain" 66 "$bin" tlsa verify "$work/none.pem" "$rec"
expect_rc "missing records file" 66 "$bin" tlsa verify --records "$work/none" "$(chain mx1.dane-ok.test)"
expect_rc "no records at all" 64 "$bin" tlsa verify "$(chain mx1.dane-ok.test)"
printf '# comment\n\n%s\n3 1 1 zz\n' "$rec" >"$work/badfile"
expect_rc "bad line in a records file" 65 "$bin" tlsa verify --records "$work/badfile" "$(chain mx1.dane-ok.test)"
grep -q "badfile:4:" "$work/err" || { echo "FAIL: records file line number"; fail=$((fail + 1)); }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

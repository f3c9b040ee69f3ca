#!/usr/bin/env bash
# danemx tlsa create, byte for byte against three independent tools run offline on the same
# files: ldns-dane (ldnsutils, -c CERTFILE), hash-slinger's tlsa (--certificate) and GnuTLS
# danetool (--load-certificate/--load-pubkey). Covers ECDSA and RSA leaves, every selector
# and matching type, PEM and DER, certificates, private and public keys, and the CA record
# of a chain. Also the error paths: missing file, junk, selector 0 for a key, bad options.
set -u
bin=$(realpath "$1")
pass=0 fail=0
work=$(mktemp -d /tmp/danemx-tlsacreate.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
host=mx.example.test

ok() { pass=$((pass + 1)); }
same() { # same DESCRIPTION GOT WANT
	if [ -n "$2" ] && [ "$2" = "$3" ]; then ok; else
		echo "FAIL: $1"; echo "  got:  '$2'"; echo "  want: '$3'"; fail=$((fail + 1)); fi
}
expect_rc() { # expect_rc DESCRIPTION WANT command...
	local what=$1 want=$2; shift 2
	"$@" >out 2>err; local got=$?
	if [ "$got" = "$want" ]; then ok; else echo "FAIL: $what: exit $got, want $want"; cat err; fail=$((fail + 1)); fi
}

# A CA and two leaves (ECDSA, RSA) with distinct names, v3 extensions, like a real chain.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-subj "/CN=Test CA" -days 30 -addext basicConstraints=critical,CA:TRUE 2>/dev/null
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:%s\n' "$host" >leaf.ext
for kt in ec rsa; do
	if [ $kt = ec ]; then kopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); else kopt=(-newkey rsa:2048); fi
	openssl req -new "${kopt[@]}" -nodes -keyout $kt.key -subj "/CN=$host" -out $kt.csr 2>/dev/null
	openssl x509 -req -in $kt.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
		-extfile leaf.ext -out $kt.pem 2>/dev/null
	cat $kt.pem ca.pem >$kt.chain.pem
	openssl x509 -in $kt.pem -outform DER -out $kt.der
	openssl pkey -in $kt.key -pubout -out $kt.pub.pem
	openssl pkey -in $kt.key -pubout -outform DER -out $kt.pub.der
done
[ -s ec.pem ] && [ -s rsa.pem ] || { echo "cannot make test certificates"; echo "0 passed, 1 failed"; exit 1; }

ours() { "$bin" tlsa create --host "$host" "$@" 2>&1; }
ldns() { # ldns-dane's line without its TTL, tabs as spaces; -n: no name check (CA files)
	ldns-dane -n -c "$1" create "$host" 25 "$2" "$3" "$4" 2>&1 | awk '{print $1, $3, $4, $5, $6, $7, $8}'
}
hs() { tlsa --create --certificate "$1" --usage "$2" --selector "$3" --mtype "$4" --port 25 "$host" 2>&1 | tail -n 1; }
gnu() { # danetool's "( 03 01 01 hex )" as "3 1 1 hex"; extra options after the file
	local f=$1; shift
	danetool --tlsa-rr --host "$host" --port 25 "$f" "$@" 2>&1 |
		awk '$4 == "(" {print $1, $2, $3, $5 + 0, $6 + 0, $7 + 0, $8}'
}

for kt in ec rsa; do
	for s in 0 1; do
		for m in 0 1 2; do
			got=$(ours --usage 3 --selector $s --mtype $m $kt.pem)
			same "$kt 3 $s $m vs hash-slinger" "$got" "$(hs $kt.pem 3 $s $m)"
			same "$kt 3 $s $m vs ldns-dane" "$got" "$(ldns $kt.pem 3 $s $m)"
			[ $m = 0 ] && continue   # danetool hashes only
			hash=$([ $m = 1 ] && echo sha256 || echo sha512)
			x509=(); [ $s = 0 ] && x509=(--x509)
			same "$kt 3 $s $m vs danetool" "$got" \
				"$(gnu --load-certificate=$kt.pem --hash=$hash "${x509[@]}")"
		done
	done
	leaf=$(ours $kt.pem)
	same "$kt: default is 3 1 1" "$leaf" "$(hs $kt.pem 3 1 1)"
	same "$kt: DER certificate" "$(ours $kt.der)" "$leaf"
	# (danetool 3.7 --inder finds no certificate in a DER file, so DER is compared with PEM)
	same "$kt: private key file" "$(ours $kt.key)" "$leaf"
	same "$kt: public key PEM" "$(ours $kt.pub.pem)" "$leaf"
	same "$kt: public key DER" "$(ours $kt.pub.der)" "$leaf"
	same "$kt: public key vs danetool --load-pubkey" "$(ours $kt.pub.pem)" \
		"$(gnu --load-pubkey=$kt.pub.pem --hash=sha256)"
	# a chain: 3 1 1 for the leaf, then 2 1 1 for the CA that issued it
	ca=$(ours --usage 2 ca.pem)
	same "$kt chain: two records, leaf then issuing CA" "$(ours $kt.chain.pem)" "$leaf"$'\n'"$ca"
	same "$kt chain --usage 2 is the issuing CA" "$(ours --usage 2 $kt.chain.pem)" "$ca"
done
same "CA 2 1 1 vs hash-slinger" "$(ours --usage 2 ca.pem)" "$(hs ca.pem 2 1 1)"
same "CA 2 1 1 vs ldns-dane" "$(ours --usage 2 ca.pem)" "$(ldns ca.pem 2 1 1)"
same "CA 2 1 1 vs danetool --ca" "$(ours --usage 2 ca.pem)" "$(gnu --load-certificate=ca.pem --ca --hash=sha256)"
same "CA 2 0 1 vs ldns-dane" "$(ours --usage 2 --selector 0 ca.pem)" "$(ldns ca.pem 2 0 1)"
same "mnemonics" "$(ours --usage DANE-EE --selector SPKI --mtype SHA2-512 ec.pem)" "$(hs ec.pem 3 1 2)"
same "no --host: rdata only" "$("$bin" tlsa create ec.pem)" "$(ours ec.pem | cut -d' ' -f4-)"
same "--port 465" "$(ours --port 465 ec.pem)" \
	"$(tlsa --create --certificate ec.pem --usage 3 --selector 1 --mtype 1 --port 465 $host 2>&1 | tail -n 1)"

expect_rc "missing file" 66 "$bin" tlsa create nonexistent.pem
grep -q "nonexistent.pem: No such file" err || { echo "FAIL: missing file message"; fail=$((fail + 1)); }
echo "not a certificate" >junk
expect_rc "junk file" 65 "$bin" tlsa create junk
expect_rc "selector 0 for a key" 65 "$bin" tlsa create --selector 0 ec.key
grep -q "needs a certificate" err || { echo "FAIL: key selector message"; fail=$((fail + 1)); }
expect_rc "usage 256" 64 "$bin" tlsa create --usage 256 ec.pem
expect_rc "port 0" 64 "$bin" tlsa create --port 0 ec.pem
expect_rc "two files" 64 "$bin" tlsa create ec.pem rsa.pem
expect_rc "no subcommand" 64 "$bin" tlsa
expect_rc "empty output on error" 65 "$bin" tlsa create junk
[ -s out ] && { echo "FAIL: output on stdout for an error"; fail=$((fail + 1)); }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

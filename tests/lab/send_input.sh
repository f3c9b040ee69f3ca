#!/usr/bin/env bash
# danemx send with bad input: missing --from or --to, bad addresses (CR/LF injection too),
# an unreadable FILE, an empty message, --max-size exceeded, a bad --level, --port,
# --max-size or --helo, extra arguments. Each is one clear error line on stderr (then the
# usage text where the command line is incomplete), nothing on stdout, and the exit code
# `danemx help send` documents. No lab is needed: the input is refused before any DNS work
# (the --dns-config given does not exist, which would exit 78 if it were reached).
set -u
bin=$(readlink -f "$1")   # also run as nobody from $TMPD
src=$2
. "$src/tests/lab/lib.bash"

msg=$TMPD/msg.txt
printf 'Subject: x\n\nbody\n' >"$msg"
: >"$TMPD/empty.txt"

# refused WANT_RC 'FIRST STDERR LINE (grep -E)' ARGS...
refused() {
	local want=$1 re=$2 name
	shift 2
	name="send $*"
	"$bin" send --dns-config /nonexistent/unbound.conf "$@" >"$TMPD/out" 2>"$TMPD/err" <"$TMPD/empty.txt"
	t_expect "$name: exit code" "$want" "$?"
	t_check "$name: error line /$re/" grep -Eq "$re" <(head -1 "$TMPD/err")
	t_expect "$name: nothing on stdout" 0 "$(wc -c <"$TMPD/out")"
	t_expect "$name: error is one line (plus usage)" 1 "$(grep -vc '^usage: \|^ \|^Run ' "$TMPD/err")"
}

refused 64 '^danemx: send: --from is required$' --to b@x.test "$msg"
refused 64 '^danemx: send: at least one --to is required$' --from a@x.test "$msg"
refused 64 '^danemx: send: --to bogus: not an address \(local@domain\)$' --from a@x.test --to bogus "$msg"
refused 64 '^danemx: send: --to @x.test: not an address' --from a@x.test --to @x.test "$msg"
refused 64 '^danemx: send: --to b@x..test: invalid domain name' --from a@x.test --to b@x..test "$msg"
refused 64 '^danemx: send: --to b@x.test\\x0d\\x0aDATA: invalid domain name' --from a@x.test \
	--to $'b@x.test\r\nDATA' "$msg"
refused 64 '^danemx: send: --to c\\x0ad@x.test: local part has a character' --from a@x.test --to b@x.test --to 'b@x.test' --to "$(printf 'c\nd@x.test')" "$msg"
refused 64 '^danemx: send: --to b@x.test.: the domain ends with a dot' --from a@x.test --to b@x.test. "$msg"
refused 64 '^danemx: send: --from: local part has a character that needs quoting' --from 'a b@x.test' --to b@x.test "$msg"
refused 64 '^danemx: send: --from: invalid domain name' --from "a@$(printf 'b%.0s' $(seq 70)).test" --to b@x.test "$msg"
refused 66 '^danemx: send: /nonexistent/msg: No such file or directory$' --from a@x.test --to b@x.test /nonexistent/msg
refused 66 "^danemx: send: reading $TMPD: Is a directory$" --from a@x.test --to b@x.test "$TMPD"
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null; then
	# A file its user may not read (root reads everything, so run as nobody).
	chmod 755 "$TMPD"
	printf 'Subject: x\n\nsecret\n' >"$TMPD/secret.txt"
	chmod 600 "$TMPD/secret.txt"
	runuser -u nobody -- "$bin" send --dns-config /nonexistent/unbound.conf --from a@x.test \
		--to b@x.test "$TMPD/secret.txt" >"$TMPD/out" 2>"$TMPD/err" </dev/null
	t_expect "unreadable FILE (permission): exit code" 66 "$?"
	t_expect "unreadable FILE (permission): error line" \
		"danemx: send: $TMPD/secret.txt: Permission denied" "$(cat "$TMPD/err")"
fi
refused 65 '^danemx: send: the message is empty$' --from a@x.test --to b@x.test "$TMPD/empty.txt"
refused 65 '^danemx: send: the message is empty$' --from a@x.test --to b@x.test
refused 65 '^danemx: send: the message is larger than 10 bytes \(--max-size\)$' --from a@x.test --to b@x.test \
	--max-size 10 "$msg"
refused 64 '^danemx: send: --level: want dane, dane-only, encrypt, may or none: best$' --level best \
	--from a@x.test --to b@x.test "$msg"
refused 64 '^danemx: send: --max-size: not a size in bytes: -5$' --max-size -5 --from a@x.test --to b@x.test "$msg"
refused 64 '^danemx: send: --max-size: not a size in bytes: 1k$' --max-size 1k --from a@x.test --to b@x.test "$msg"
refused 64 '^danemx: send: --port: not a port number: 65536$' --port 65536 --from a@x.test --to b@x.test "$msg"
refused 64 '^danemx: send: --helo x\\x0d\\x0aQUIT: invalid domain name' --helo $'x\r\nQUIT' \
	--from a@x.test --to b@x.test "$msg"
refused 64 '^danemx: send: --helo \[: not an address literal' --helo '[' --from a@x.test --to b@x.test "$msg"
refused 64 '^danemx: send: at most one FILE$' --from a@x.test --to b@x.test "$msg" "$msg"
refused 64 "unrecognized option '--frobnicate'" --frobnicate --from a@x.test --to b@x.test "$msg"
# Accepted input reaches the resolver set-up: the null sender, an address literal EHLO.
refused 78 '^danemx: send: DNS config /nonexistent/unbound.conf: No such file or directory$' \
	--from '' --helo '[127.0.0.1]' --to b@x.test "$msg"

# The codes above are the ones `danemx help send` documents.
"$bin" help send >"$TMPD/help" 2>&1
for s in '0 all delivered' '75 some recipient deferred' '69 the' '67 a recipient was rejected' \
	'65 the' '64 usage' '66 FILE unreadable' '69/78 resolver unavailable / bad configuration'; do
	t_check "help send documents '$s'" grep -qF "$s" "$TMPD/help"
done
t_summary

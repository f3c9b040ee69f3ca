#!/usr/bin/env bash
# The command line contract: help, version, and exit 64 with usage on stderr for bad input.
set -u
bin=$1
fail=0
expect() { # expect CODE DESCRIPTION -- command...
	local want=$1 what=$2; shift 3
	"$@" >/tmp/danemx-cli.$$.out 2>/tmp/danemx-cli.$$.err; local got=$?
	if [ "$got" != "$want" ]; then echo "FAIL: $what: exit $got, want $want"; fail=1; fi
}
expect 0 "help" -- "$bin" help
expect 0 "--version" -- "$bin" --version
grep -q '^danemx [0-9]' /tmp/danemx-cli.$$.out || { echo "FAIL: --version output"; fail=1; }
expect 64 "unknown command" -- "$bin" no-such-command
grep -q "unknown command 'no-such-command'" /tmp/danemx-cli.$$.err || { echo "FAIL: unknown command message"; fail=1; }
[ -s /tmp/danemx-cli.$$.out ] && { echo "FAIL: usage went to stdout"; fail=1; }
expect 64 "unknown global option" -- "$bin" --bogus
expect 64 "no command" -- "$bin"
expect 64 "help for unknown command" -- "$bin" help nothing
for c in $("$bin" help | awk '/^  [a-z]+ /{print $1}'); do
	expect 0 "help $c" -- "$bin" help "$c"
	grep -q "^usage: danemx $c" /tmp/danemx-cli.$$.out || { echo "FAIL: help $c has no usage line"; fail=1; }
	grep -q "$c" "$2/docs/danemx.1" || { echo "FAIL: $c missing from danemx.1"; fail=1; }
	# every long option the help shows is in the manual, flag for flag
	for o in $("$bin" help "$c" | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
		grep -q -- "Fl -${o#--}\b" "$2/docs/danemx.1" || { echo "FAIL: $c $o missing from danemx.1"; fail=1; }
	done
done
# make install's layout, honouring PREFIX and DESTDIR (cmake --install is what it runs)
dest=$(mktemp -d /tmp/danemx-install.XXXXXX)
DESTDIR=$dest cmake --install "$(dirname "$bin")" --prefix /opt/dmx >/dev/null 2>&1
[ -x "$dest/opt/dmx/bin/danemx" ] || { echo "FAIL: install: no $dest/opt/dmx/bin/danemx"; fail=1; }
[ -f "$dest/opt/dmx/share/man/man1/danemx.1" ] || { echo "FAIL: install: no manual page"; fail=1; }
"$dest/opt/dmx/bin/danemx" --version >/dev/null 2>&1 || { echo "FAIL: installed binary does not run"; fail=1; }
rm -rf "$dest"
rm -f /tmp/danemx-cli.$$.*
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail

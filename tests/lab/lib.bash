# Shared helpers for tests/lab/*.sh (sourced; named .bash so CTest does not run it
# as a test). Needs $bin (the danemx binary).
#   lab_start [extra lab-up options]   start `danemx lab up` on a free port (or on $LAB_PORT
#                                      when set, e.g. 25 inside a private network namespace);
#                                      sources lab.env
#   lab_stop                           stop it and check that nothing is left behind
#   lab_free_dns_port                  a port free for UDP and TCP, for --dns-listen
#   t_check NAME [!] cmd...            a check that passes when cmd succeeds (fails, with !)
#   t_expect NAME WANT GOT             a check that passes when WANT == GOT
#   t_summary                          print "N passed, M failed"; exit 1 on any failure

T_PASS=0
T_FAIL=0
TMPD=$(mktemp -d /tmp/danemx-test.XXXXXX)
LAB_PID=

t_check() {
	local name=$1 neg=0 ok=0
	shift
	if [ "$1" = "!" ]; then
		neg=1
		shift
	fi
	"$@" && ok=1
	[ $neg -eq 1 ] && ok=$((1 - ok))
	if [ $ok -eq 1 ]; then
		T_PASS=$((T_PASS + 1))
	else
		T_FAIL=$((T_FAIL + 1))
		echo "FAIL: $name"
	fi
}

t_expect() {
	if [ "$2" = "$3" ]; then
		T_PASS=$((T_PASS + 1))
	else
		T_FAIL=$((T_FAIL + 1))
		echo "FAIL: $1: got $3, want $2"
	fi
}

t_summary() {
	rm -rf "$TMPD"
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

# A port no other test of this run uses: tests run in parallel under ctest -j.
lab_free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>/dev/tcp/127.1.0.3/$p) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# A port free for UDP and TCP (a DNS server binds both), for `lab up --dns-listen`.
lab_free_dns_port() {
	local p
	for _ in $(seq 1 20); do
		p=$((40000 + RANDOM % 20000))
		if ! ss -Hlntu "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

lab_start() {
	local port=${LAB_PORT:-}
	[ -n "$port" ] || port=$(lab_free_port) || { echo "FAIL: no free port"; return 1; }
	"$bin" lab up --port "$port" "$@" >"$TMPD/lab.out" 2>"$TMPD/lab.err" &
	LAB_PID=$!
	# Normally ~1 s; the bound is generous for a loaded machine (ctest -j, sanitizers).
	for _ in $(seq 1 600); do
		grep -q '^lab ready: ' "$TMPD/lab.out" 2>/dev/null && break
		kill -0 "$LAB_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^lab ready: ' "$TMPD/lab.out"; then
		echo "FAIL: lab did not start"; cat "$TMPD/lab.err"
		return 1
	fi
	LAB_DIR=$(sed -n 's/^lab ready: //p' "$TMPD/lab.out")
	. "$LAB_DIR/lab.env"
	trap 'lab_stop >/dev/null 2>&1' EXIT
}

lab_stop() {
	[ -n "$LAB_PID" ] || return 0
	kill -TERM "$LAB_PID" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$LAB_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$LAB_PID" 2>/dev/null && kill -KILL "$LAB_PID"
	wait "$LAB_PID" 2>/dev/null
	LAB_PID=
	t_check "lab directory removed" test ! -e "$LAB_DIR"
}

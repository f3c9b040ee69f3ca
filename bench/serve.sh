#!/usr/bin/env bash
# Benchmark: danemx serve against Postfix's own smtpd, same certificate, same load.
# Prints figures (messages/s, peak RSS), not a pass/fail test. Needs root (Postfix).
#   bench/serve.sh [-n MESSAGES] [-s SESSIONS] [-l BYTES] [-i IDLE] [BIN]
# Load: smtp-source (Postfix) cannot speak TLS, so the STARTTLS figures use a relay: a
# throwaway Postfix whose smtpd takes smtp-source's mail and whose smtp client delivers it
# over STARTTLS (encrypt) with SESSIONS parallel connections to the server under test. The
# relay is the same for both servers; its own cost is in both figures. The "plain" figures
# are smtp-source straight to the server (no TLS). A third figure drives SESSIONS
# concurrent STARTTLS sessions straight at each server from python3's smtplib. Postfix's smtpd hands mail to the discard
# transport after its fsync'd queue file; danemx fsyncs into a Maildir. Peak RSS is danemx's
# VmHWM, and for Postfix the largest sum of VmRSS over its smtpd/cleanup processes sampled
# every 0.1 s. At the end IDLE idle connections (and IDLE/4 after STARTTLS, with python3)
# are opened to danemx to show what an idle session costs.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
n=500 s=20 l=2048 idle=2000
while getopts n:s:l:i: o; do
	case $o in n) n=$OPTARG ;; s) s=$OPTARG ;; l) l=$OPTARG ;; i) idle=$OPTARG ;; *) exit 64 ;; esac
done
shift $((OPTIND - 1))
bin=${1:-$here/build/danemx}
[ "$(id -u)" -eq 0 ] || { echo "bench/serve.sh: needs root for the Postfix instances" >&2; exit 77; }
command -v smtp-source >/dev/null || { echo "smtp-source missing (make deps)" >&2; exit 69; }
. "$here/tests/lab/serve_postfix.lib"
tmp=$(mktemp -d /tmp/danemx-bench.XXXXXX)
chmod 755 "$tmp"
spid=
cleanup() {
	pf_stop "$tmp/relay"; pf_stop "$tmp/target"
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	wait 2>/dev/null; rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
ulimit -n $((idle + 4096)) 2>/dev/null || ulimit -n 65536

free_port() { # a port in 20000-40000 nobody listens on
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		ss -ltn "sport = :$p" | grep -q LISTEN || { echo $p; return; }
	done
}
now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f", (t > 0 ? n / t : 0) }'; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem \
	-subj /CN=mx.example.test -days 30 2>/dev/null
chmod 644 key.pem cert.pem

# The server under test, 1: danemx serve.
"$bin" serve --listen 127.0.0.1:0 --hostname mx.example.test --cert cert.pem --key key.pem \
	--maildir "$tmp/md" --max-conn 100000 >serve.out 2>serve.err &
spid=$!
for _ in $(seq 50); do dport=$(awk '/^; listening on/{print $NF; exit}' serve.out); [ -n "$dport" ] && break; sleep 0.1; done

# The server under test, 2: Postfix smtpd with the same certificate.
pport=$(free_port)
pf_setup "$tmp/target" "smtpd_tls_cert_file = $tmp/cert.pem
smtpd_tls_key_file = $tmp/key.pem
smtpd_tls_security_level = may
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
default_transport = discard:
relay_transport = discard:
default_process_limit = 1000
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
myhostname = mx.example.test" "127.0.0.1:$pport inet n - n - - smtpd"
pf_start "$tmp/target" || { cat "$tmp/target/start.log"; exit 1; }

# The relay that turns smtp-source's plaintext into STARTTLS sessions.
rport=$(free_port)
pf_setup "$tmp/relay" "mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:$dport
smtp_tls_security_level = encrypt
default_process_limit = 1000
default_destination_concurrency_limit = $s
initial_destination_concurrency = $s
smtp_destination_concurrency_failed_cohort_limit = 100
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0" "127.0.0.1:$rport inet n - n - - smtpd"
pf_start "$tmp/relay" || { cat "$tmp/relay/start.log"; exit 1; }

# Postfix's peak RSS: the largest sum of VmRSS (kB) over the target's master and children.
postfix_pids() { # children of the target's master
	local m; m=$(tr -d ' ' <"$tmp/target/queue/pid/master.pid")
	echo "$m $(pgrep -P "$m" | tr '\n' ' ')"
}
sample_pf() {
	local max=0 sum
	while [ -e "$tmp/sampling" ]; do
		sum=0
		for p in $(postfix_pids); do
			r=$(awk '/^VmRSS/{print $2}' /proc/$p/status 2>/dev/null); sum=$((sum + ${r:-0}))
		done
		[ $sum -gt $max ] && max=$sum && echo $max >"$tmp/pf.rss"
		sleep 0.1
	done
}

plain_run() { # plain_run PORT: smtp-source straight at the server; prints msgs/s
	local t0 t1
	t0=$(now)
	smtp-source -s "$s" -m "$n" -l "$l" -f a@sender.test -t u@example.test 127.0.0.1:"$1" >/dev/null 2>&1
	t1=$(now)
	rate "$n" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
}
tls_run() { # tls_run PORT: through the relay, over STARTTLS; prints msgs/s
	local t0 t1 before done_
	postconf -c "$tmp/relay" -e "relayhost = [127.0.0.1]:$1" >/dev/null
	postfix -c "$tmp/relay" reload >/dev/null 2>&1; sleep 1
	before=$(grep -c 'status=sent' "$tmp/relay/maillog" 2>/dev/null)
	t0=$(now)
	smtp-source -s "$s" -m "$n" -l "$l" -f a@sender.test -t u@example.test 127.0.0.1:"$rport" >/dev/null 2>&1
	for _ in $(seq 1200); do
		done_=$(( $(grep -c 'status=sent' "$tmp/relay/maillog" 2>/dev/null) - before ))
		[ "$done_" -ge "$n" ] && break
		sleep 0.1
	done
	t1=$(now)
	rate "$done_" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
}

pytls_run() { # pytls_run PORT: SESSIONS python threads, each one STARTTLS session for its share
	python3 - "$1" "$n" "$s" "$l" <<'PY' 2>/dev/null || echo 0
import smtplib, ssl, sys, threading, time
port, n, s, l = (int(x) for x in sys.argv[1:5])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
body = ("Subject: bench\r\n\r\n" + ("x" * 76 + "\r\n") * max(1, l // 78)).encode()
sent = [0]
lock = threading.Lock()
def worker(k):
    c = smtplib.SMTP("127.0.0.1", port, timeout=60); c.ehlo(); c.starttls(context=ctx); c.ehlo()
    for _ in range(k):
        c.sendmail("a@sender.test", ["u@example.test"], body)
        with lock: sent[0] += 1
    c.quit()
t0 = time.time()
ts = [threading.Thread(target=worker, args=(n // s + (1 if i < n % s else 0),)) for i in range(s)]
for t in ts: t.start()
for t in ts: t.join()
print("%.1f" % (sent[0] / (time.time() - t0)))
PY
}

touch "$tmp/sampling"; sample_pf & sampler=$!
d_plain=$(plain_run "$dport"); p_plain=$(plain_run "$pport")
d_tls=$(tls_run "$dport"); p_tls=$(tls_run "$pport")
d_pytls=$(pytls_run "$dport"); p_pytls=$(pytls_run "$pport")
tls_sessions=$(grep -c 'TLS established' serve.err)
rm -f "$tmp/sampling"; wait $sampler
d_rss=$(awk '/^VmHWM/{print $2}' /proc/$spid/status)
p_rss=$(cat "$tmp/pf.rss" 2>/dev/null || echo 0)

# Idle connections: what a few thousand cost danemx, plain and after STARTTLS.
idle_cost() { # idle_cost COUNT TLS(0|1): prints the RSS growth in kB
	local r0 r1 pid
	r0=$(awk '/^VmRSS/{print $2}' /proc/$spid/status)
	python3 - "$dport" "$1" "$2" >/dev/null 2>&1 <<'PY' &
import smtplib, socket, ssl, sys, time
port, n, tls = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
keep = []
for _ in range(n):
    if tls:
        s = smtplib.SMTP("127.0.0.1", port, timeout=30); s.ehlo(); s.starttls(context=ctx); s.ehlo()
    else:
        s = socket.create_connection(("127.0.0.1", port))
    keep.append(s)
print("ready", flush=True)
time.sleep(4)
PY
	pid=$!
	# Wait until all are connected (the script prints once done), then sample.
	for _ in $(seq 600); do
		[ "$(ss -Htn state established "sport = :$dport" | wc -l)" -ge "$1" ] && break
		sleep 0.1
	done
	sleep 1
	r1=$(awk '/^VmRSS/{print $2}' /proc/$spid/status)
	wait $pid
	echo $((r1 - r0))
}
idle_plain=$(idle_cost "$idle" 0)
idle_tls_n=$((idle / 4))
idle_tls=$(idle_cost "$idle_tls_n" 1)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf 'danemx serve vs Postfix %s smtpd: %s messages of %s bytes, %s sessions\n' \
	"$(postconf -d -h mail_version)" "$n" "$l" "$s"
printf '%-38s %12s %12s %8s\n' "figure" "danemx" "postfix" "ratio"
printf '%-38s %12s %12s %8s\n' "messages/s, plain (direct)" "$d_plain" "$p_plain" "$(ratio "$d_plain" "$p_plain")"
printf '%-38s %12s %12s %8s\n' "messages/s, STARTTLS (via relay)" "$d_tls" "$p_tls" "$(ratio "$d_tls" "$p_tls")"
printf '%-38s %12s %12s %8s\n' "messages/s, STARTTLS (python, direct)" "$d_pytls" "$p_pytls" "$(ratio "$d_pytls" "$p_pytls")"
printf '%-38s %12s %12s %8s\n' "peak RSS kB (all processes)" "$d_rss" "$p_rss" "$(ratio "$d_rss" "$p_rss")"
printf 'danemx: %s TLS sessions served; idle connections: %s plain added %s kB RSS (%s bytes each),\n' \
	"$tls_sessions" "$idle" "$idle_plain" "$(( idle_plain * 1024 / (idle > 0 ? idle : 1) ))"
printf '        %s after STARTTLS added %s kB RSS (%s bytes each)\n' \
	"$idle_tls_n" "$idle_tls" "$(( idle_tls * 1024 / (idle_tls_n > 0 ? idle_tls_n : 1) ))"

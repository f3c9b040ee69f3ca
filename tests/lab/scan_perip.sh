#!/usr/bin/env bash
# danemx scan --per-ip: 510 domains whose MX hosts all share one address (the bulk lab
# with one receiver address). A counting proxy on that address (another port) forwards
# to the receiver and records the peak of client connections open at once; with
# --per-ip 4 it must never exceed 4, and without the cap it does (so the proxy can tell).
set -u
bin=$1
src=$2
. "$src/tests/lab/lib.bash"

lab_start --bulk 520 --bulk-addrs 1 || exit 1
list=$TMPD/shared.txt
awk -F'\t' '$3 == "127.2.0.1" {print $1}' "$DANEMX_LAB_DIR/bulk-expect.tsv" >"$list"
n=$(wc -l <"$list")
t_check "at least 500 domains share 127.2.0.1 ($n)" test "$n" -ge 500

# The proxy: counts a client connection from accept until the client's EOF. Before it
# accepts, it handles everything already readable, so a connection the client closed
# before opening the next one is never counted together with it.
proxy() {
	exec python3 - "$1" "$2" "$3" <<'PY'
import selectors, socket, sys
listen_port, upstream_port, peak_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.2.0.1", listen_port)); ls.listen(1024)
sel = selectors.DefaultSelector()
peer, is_client = {}, {}
open_clients = peak = total = 0
def close_pair(s):
    global open_clients
    for x in (s, peer.get(s)):
        if x is None or x not in peer: continue
        if is_client[x]: open_clients -= 1
        sel.unregister(x); x.close(); del peer[x]; del is_client[x]
def pump(s):
    try: data = s.recv(65536)
    except OSError: data = b""
    if not data:
        close_pair(s); return
    try: peer[s].sendall(data)
    except OSError: close_pair(s)
def drain():
    while True:
        ev = [k for k, _ in sel.select(0) if k.fileobj is not ls]
        if not ev: return
        for k in ev:
            if k.fileobj in peer: pump(k.fileobj)
sel.register(ls, selectors.EVENT_READ)
with open(peak_file + ".ready", "w"): pass
while True:
    for k, _ in sel.select(1):
        if k.fileobj is ls:
            drain()
            c, _ = ls.accept()
            u = socket.create_connection(("127.2.0.1", upstream_port))
            peer[c], peer[u], is_client[c], is_client[u] = u, c, True, False
            sel.register(c, selectors.EVENT_READ); sel.register(u, selectors.EVENT_READ)
            open_clients += 1; total += 1
            peak = max(peak, open_clients)
            with open(peak_file, "w") as f: f.write(f"{peak} {total}\n")
            break   # the other events may have been handled by drain(): select again
        elif k.fileobj in peer:
            pump(k.fileobj)
PY
}

run_through_proxy() {   # $1 name, then scan options
	local name=$1 pport pid
	shift
	pport=$(lab_free_port)
	proxy "$pport" "$DANEMX_LAB_PORT" "$TMPD/$name.peak" &
	pid=$!
	for _ in $(seq 1 50); do [ -e "$TMPD/$name.peak.ready" ] && break; sleep 0.1; done
	"$bin" scan --dns-config "$DANEMX_DNS_CONFIG" --port "$pport" --timeout 10 --quiet \
		--concurrency 100 --output "$TMPD/$name.jsonl" "$@" "$list"
	echo $? >"$TMPD/$name.rc"
	kill "$pid"; wait "$pid" 2>/dev/null
}

verdicts_ok() {
	python3 - "$DANEMX_LAB_DIR/bulk-expect.tsv" "$1" <<'PY'
import json, sys
want = dict(l.split("\t")[:2] for l in open(sys.argv[1]))
got = [json.loads(l) for l in open(sys.argv[2])]
bad = [o["domain"] for o in got if want.get(o["domain"]) != o["verdict"]]
print(len(got), "results,", len(bad), "unexpected:", bad[:3])
sys.exit(1 if bad or len(got) < 500 else 0)
PY
}

run_through_proxy capped --per-ip 4
t_expect "capped scan exits 0" 0 "$(cat "$TMPD/capped.rc")"
read -r peak total <"$TMPD/capped.peak"
echo "# --per-ip 4: peak $peak connections at once over $total connections"
t_check "the receiver never saw more than 4 at once (peak $peak)" test "$peak" -le 4
t_check "every domain was probed ($total connections)" test "$total" -ge "$n"
t_check "capped verdicts as planted" verdicts_ok "$TMPD/capped.jsonl"

run_through_proxy free
read -r peak total <"$TMPD/free.peak"
echo "# no cap: peak $peak connections at once"
t_check "without --per-ip the proxy sees more than 4 at once (peak $peak)" test "$peak" -gt 4

lab_stop
t_summary

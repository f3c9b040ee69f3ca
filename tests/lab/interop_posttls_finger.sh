#!/usr/bin/env bash
# Interop with Postfix: posttls-finger(1) -l dane and `danemx check` look at the same lab
# world through the same DNS server (the lab's validating unbound daemon) and must reach
# the same verdict for every scenario, per address and per domain; the mapping from
# posttls-finger's log lines to danemx's vocabulary, and every case where the two differ,
# is in docs/interop-posttls-finger.md. The whole test runs in a private network and mount
# namespace: the lab listens on port 25 (posttls-finger looks for TLSA records at
# _PORT._tcp, the lab publishes _25._tcp) and on 127.0.0.153:53, /etc/resolv.conf is
# bind-mounted over only in here, and per-address runs block the other addresses with ip
# rules. It must never touch the host's /etc, network or processes, and never wait
# unbounded: every posttls-finger call runs under timeout(1) with -t/-T bounds.
# Needs root (namespaces); elsewhere it prints a SKIP note and exits 0.
set -u
bin=$1
src=${2:-.}

if [ "${DANEMX_INTEROP_NS:-}" != 1 ]; then
	why=
	[ "$(id -u)" = 0 ] || why="not root (needs unshare -mn)"
	for c in posttls-finger unshare ip python3 timeout ss; do
		command -v "$c" >/dev/null 2>&1 || why="${why:+$why; }no $c"
	done
	# unshare's own words tell a container without CAP_SYS_ADMIN ("Operation not
	# permitted") from a chroot whose / is not a mount point ("cannot change root
	# filesystem propagation"; bind-mount the root onto itself).
	if [ -z "$why" ] && ! err=$(unshare -mn true 2>&1); then
		why="unshare -mn refused: ${err:-no reason given}"
	fi
	if [ -n "$why" ]; then
		echo "SKIP: interop with posttls-finger not run: $why"
		echo "0 passed, 0 failed"
		exit 0
	fi
	DANEMX_INTEROP_NS=1 exec unshare -mn bash "$0" "$bin" "$src"
fi

. "$src/tests/lab/lib.bash"
PF_TIMEOUT=3        # posttls-finger -t/-T and danemx --timeout: the stall scenario's wait
DNS_ADDR=127.0.0.153
PF=$TMPD/pf
mkdir -p "$PF/log"

# The namespace starts with lo down; the local routing table moves behind our rule slot
# (pref 100) so an ip rule can make one address unreachable for a per-address run.
ns_setup() {
	ip link set lo up || return 1
	ip rule add pref 32000 table local && ip rule del pref 0 || return 1
	ip -6 rule add pref 32000 table local && ip -6 rule del pref 0 || return 1
	# resolv.conf cannot name a port: the lab DNS must own port 53 of its address.
	if [ -n "$(ss -Hlnu "src $DNS_ADDR:53")$(ss -Hlnt "src $DNS_ADDR:53")" ]; then
		echo "FAIL: $DNS_ADDR:53 is taken"; return 1
	fi
}

# posttls-finger reads main.cf from MAIL_CONFIG; nothing in /etc/postfix is used.
pf_setup() {
	cat >"$PF/main.cf" <<-EOF
	compatibility_level = 3.6
	smtp_dns_support_level = dnssec
	myhostname = interop.danemx.test
	inet_protocols = all
	dnssec_probe = ns:test
	EOF
	# trust-ad: glibc passes the AD bit through only when told to.
	printf 'nameserver %s\noptions edns0 trust-ad\n' "$DNS_ADDR" >"$PF/resolv.conf"
	mount --bind "$PF/resolv.conf" /etc/resolv.conf || return 1
	# Clients that accept only one signature algorithm family, to reach each side of a
	# server with both an RSA and an ECDSA certificate.
	pf_sigalgs "$PF/rsa.cnf" rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:RSA+SHA256:RSA+SHA384
	pf_sigalgs "$PF/ecdsa.cnf" ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512
	# danemx through the same daemon (it still validates in-process, from the lab anchor).
	cat >"$PF/danemx.conf" <<-EOF
	server:
		trust-anchor-file: "$DANEMX_LAB_ANCHOR"
		local-zone: "test." nodefault
		do-not-query-localhost: no
	forward-zone:
		name: "."
		forward-addr: $DNS_ADDR@53
	EOF
}

pf_sigalgs() {
	printf '%s\n' 'openssl_conf = init' '[init]' 'ssl_conf = ssl' '[ssl]' 'system_default = sys' \
		'[sys]' "SignatureAlgorithms = $2" >"$1"
}

# pf LOG DOMAIN [env...]: one bounded posttls-finger run; its exit code goes to LOG.rc.
pf() {
	local log=$1 dom=$2
	shift 2
	env MAIL_CONFIG="$PF" "$@" timeout 15 posttls-finger -v -l dane -t $PF_TIMEOUT \
		-T $PF_TIMEOUT "$dom" >"$log" 2>&1
	echo $? >"$log.rc"
}

# pf_only LOG DOMAIN ADDR ALL... [-- ENV...]: a run in which every address of DOMAIN but
# ADDR is unreachable (EACCES at connect), so posttls-finger reaches exactly ADDR.
pf_only() {
	local log=$1 dom=$2 want=$3 a
	local -a all=() env=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do all+=("$1"); shift; done
	[ $# -gt 0 ] && shift && env=("$@")
	for a in "${all[@]}"; do
		[ "$a" = "$want" ] || ip_block add "$a"
	done
	pf "$log" "$dom" "${env[@]}"
	for a in "${all[@]}"; do
		[ "$a" = "$want" ] || ip_block del "$a"
	done
}

ip_block() {
	case $2 in
	*:*) ip -6 rule "$1" to "$2" prohibit pref 100;;
	*) ip rule "$1" to "$2" prohibit pref 100;;
	esac
}

ns_setup || { echo "FAIL: namespace set-up"; T_FAIL=1; t_summary; }
LAB_PORT=25 lab_start --dns-listen "$DNS_ADDR@53" || { T_FAIL=1; t_summary; }
pf_setup || { echo "FAIL: posttls-finger set-up"; T_FAIL=1; lab_stop; t_summary; }
unbound_pid=$(cat "$LAB_DIR/dns/unbound.pid" 2>/dev/null)

doms="$("$bin" lab list | awk 'NR>1{print $2}') no-such-domain.test"
"$bin" lab list --json >"$PF/list.json"
start=$(date +%s%N)
"$bin" check --json --dns-config "$PF/danemx.conf" --port 25 --timeout $PF_TIMEOUT $doms \
	>"$PF/check.jsonl" 2>"$PF/check.err"
t_expect "danemx check exit code (some domain fails)" 2 $?
t_check "danemx check: no sanitizer report" ! grep -q 'Sanitizer' "$PF/check.err"
echo "# danemx check, all $(echo $doms | wc -w) domains at once: $(( ($(date +%s%N) - start) / 1000000 )) ms"
t_check "danemx validated through the lab daemon" ! grep -q '"validation":"failed' "$PF/check.jsonl"

# The addresses danemx saw, and which of them served both key types.
python3 - "$PF/check.jsonl" >"$PF/addrs.txt" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    addrs = [a for h in o["mx"] for a in h["addresses"]]
    for a in addrs:
        kinds = [p["key_type"] for p in a.get("probes", []) if p["verdict"] != "not-applicable"]
        print(o["domain"], a["address"], ",".join(kinds) or "-",
              " ".join(x["address"] for x in addrs))
EOF

# posttls-finger: once per domain as it stands (it picks one address), then once per
# address where a domain has several, then ECDSA-only and RSA-only clients where a server
# has both key types.
start=$(date +%s%N)
for d in $doms; do
	pf "$PF/log/$d" "$d"
done
while read -r d a kinds all; do
	[ "$(echo $all | wc -w)" -gt 1 ] && pf_only "$PF/log/$d@$a" "$d" "$a" $all
	case $kinds in
	*ecdsa*rsa* | *rsa*ecdsa*)
		for kt in ecdsa rsa; do
			pf_only "$PF/log/$d@$a.$kt" "$d" "$a" $all -- OPENSSL_CONF="$PF/$kt.cnf"
		done;;
	esac
done <"$PF/addrs.txt"
echo "# posttls-finger, one call at a time: $(( ($(date +%s%N) - start) / 1000000 )) ms"

python3 - "$PF" "${INTEROP_TABLE:-}" <<'EOF' >"$PF/compare.txt"
import json, os, re, sys
pf, table = sys.argv[1], sys.argv[2]
ORDER = ["dane-fail", "tempfail", "plaintext", "opportunistic", "encrypt-only", "trusted",
         "verified", "nomail"]

def classify(log):
    """posttls-finger's log -> (danemx verdict, the line that decides it)."""
    lines = log.splitlines()
    def first(pat):
        for l in lines:
            if re.search(pat, l):
                return l.replace("posttls-finger: ", "", 1)
        return None
    m = first(r"Destination address lookup failed")
    if m:
        if "nullMX" in m:
            return "nomail", m
        if "try again" in m:
            return "tempfail", m
        return ("nomail" if "Host not found" in m else "tempfail"), m
    tls = first(r"(Verified|Trusted|Untrusted|Anonymous) TLS connection established")
    conn = first(r"Connected to ")
    if conn is None and tls is None:
        m = first(r"Failed to establish session|while reading server greeting|lost connection")
        return "tempfail", m or "(no output)"
    # What dane_host_level decided for the address it connected to (-v): the message just
    # before "connect_addr: trying: HOST[ADDR]"; nothing printed means DANE applied.
    host = re.search(r"(?:Connected to|established to) (\S+\[[^\]]+\])", tls or conn).group(1)
    seg, cut = [], None
    for l in lines:
        if "connect_addr: trying: " + host in l:
            cut = list(seg)
        if "connect_addr: trying:" in l:
            seg = []
        else:
            seg.append(l)
    seg = " ".join(cut or [])
    unusable = "no usable TLSA records found" in seg or "all TLSA records unusable" in log
    dane = not unusable and "no TLSA records found" not in seg
    m = first(r"while reading server greeting|lost connection|SSL_connect error")
    if tls is None and m:
        return ("dane-fail" if dane and "SSL_connect" in m else "tempfail"), m
    if tls is None:                      # connected, EHLO answered, no STARTTLS offered
        if re.search(r"< 250[- ]STARTTLS", log):
            return "tempfail", first(r"STARTTLS")
        ehlo = [l.split("< ", 1)[1] for l in lines if re.search(r": < 250[- ]", l)]
        why = "EHLO reply without STARTTLS: " + " | ".join(ehlo[1:] or ehlo)
        return ("dane-fail" if dane or unusable else "plaintext"), why
    if tls.startswith("Verified"):
        return "verified", tls
    if tls.startswith("Trusted"):
        return "trusted", tls
    if dane:
        return "dane-fail", first(r"verification failed") or tls
    if unusable:
        w = first(r"TLSA records unusable|unsupported TLSA|unusable TLSA RR")
        return "encrypt-only", (w + " => " if w else "") + tls
    return "opportunistic", tls

def short(line):
    line = re.sub(r": TLSv1\.\d with cipher .*", "", line)
    line = re.sub(r"fingerprint=.*", "...", line)
    return line[:150]

def verdict_of(name):
    path = os.path.join(pf, "log", name)
    rc = open(path + ".rc").read().strip()
    v, line = classify(open(path, errors="replace").read())
    return v, short(line), rc

def reached(name):
    """The address posttls-finger's own run ended on, and the key type it was shown."""
    log = open(os.path.join(pf, "log", name), errors="replace").read()
    m = re.search(r"(?:Connected to|established to) \S+\[([^\]]+)\]", log)
    k = re.search(r"server-signature (ECDSA|RSA)", log)
    return (m.group(1) if m else None), (k.group(1).lower() if k else None)

want = {s["domain"]: s for s in json.load(open(os.path.join(pf, "list.json")))}
rows = []
for jl in open(os.path.join(pf, "check.jsonl")):
    o = json.loads(jl)
    d = o["domain"]
    dv, dline, rc = verdict_of(d)
    print(f"rc {d} {rc}")
    addrs = [(h, a) for h in o["mx"] for a in h["addresses"]]
    per = []
    for h, a in addrs:
        n = f"{d}@{a['address']}"
        if os.path.exists(os.path.join(pf, "log", n)):
            v, line, rc = verdict_of(n)
            print(f"rc {n} {rc}")
        else:
            v, line = dv, dline
        kinds = {p["key_type"]: p["verdict"] for p in a.get("probes", [])}
        if os.path.exists(os.path.join(pf, "log", n + ".rsa")):
            for kt in ("ecdsa", "rsa"):
                kv, kl, rc = verdict_of(f"{n}.{kt}")
                print(f"rc {n}.{kt} {rc}")
                print(f"cmp {n}[{kt}] {kinds.get(kt)} {kv}")
                rows.append((d, f"{a['address']} ({kt} client)", kinds.get(kt), kv, kl))
            v = min([v] + [verdict_of(f"{n}.{kt}")[0] for kt in ("ecdsa", "rsa")],
                    key=ORDER.index)
        print(f"cmp {n} {a['verdict']} {v}")
        per.append(v)
        if len(addrs) > 1:
            rows.append((d, a["address"], a["verdict"], v, line))
    # posttls-finger on its own stops at the first address that answers: its verdict
    # there must be danemx's verdict for that address (for that key type).
    at, kt = reached(d)
    for h, a in addrs:
        if len(addrs) > 1 and a["address"] == at:
            kinds = {p["key_type"]: p["verdict"] for p in a.get("probes", [])}
            print(f"cmp {d}(first:{at}) {kinds.get(kt, a['verdict'])} {dv}")
    # posttls-finger's verdict for the domain: its own run when it is one address (or none),
    # else the worst of its per-address runs (RFC 7672 2.2: every MX host must pass).
    pv = min(per, key=ORDER.index) if len(per) > 1 else (per[0] if per else dv)
    print(f"cmp {d} {o['verdict']} {pv}")
    if d in want:
        print(f"cmp {d}(lab) {want[d]['expect']} {pv}")
    if len(addrs) > 1:
        rows.append((d, f"its own run (reached {at})", "", dv, dline))
    rows.append((d, "domain" if len(addrs) > 1 else "", o["verdict"], pv,
                 "worst of the rows above" if len(addrs) > 1 else dline))
if table:
    with open(table, "w") as f:
        f.write("| domain | scope | danemx | posttls-finger | posttls-finger's deciding line |\n")
        f.write("| --- | --- | --- | --- | --- |\n")
        for r in rows:
            f.write("| %s | %s | %s | %s | `%s` |\n" % tuple(x if x else "" for x in r))
EOF

while read -r kind name want got; do
	case $kind in
	cmp) t_expect "verdict $name (danemx vs posttls-finger)" "$want" "$got";;
	# It reports and does not judge: exit 0 even on failures; 124 would be our timeout.
	rc) t_expect "posttls-finger $name exit code" 0 "$want";;
	esac
done <"$PF/compare.txt"
t_check "every scenario compared" test "$(grep -c '^cmp [^ ]*(lab)' "$PF/compare.txt")" -eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$PF/list.json")"

lab_stop
t_check "the lab's unbound daemon stopped with the lab" test -n "$unbound_pid" -a ! -d "/proc/${unbound_pid:-0}"
t_summary

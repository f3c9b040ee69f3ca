/*
 * cmd_demo: `danemx demo`, the four classic demonstrations of DANE for SMTP, offline and
 * in one process: the lab (signed zones, certificates, receivers), a passive tap on the
 * path, and the send engine. It narrates what the DNS said, what the server presented,
 * what the sender decided and why, and where the message went, then compares each outcome
 * with the expectation. It leaves nothing behind: the lab directory is removed on exit and
 * on Ctrl-C. It decides nothing about DANE itself: the engine does.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/commands.h"
#include "dns/dns.h"
#include "engine/deliver.h"
#include "lab/receivers.h"
#include "lab/tap.h"
#include "lab/world.h"
#include "tls/tls_client.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

static int cmd_demo_run(int argc, char **argv);

const struct command cmd_demo_def = {
	"demo",
	cmd_demo_run,
	"the four demonstrations of DANE-secured mail, offline, in one command",
	"danemx demo [--json] [--keep] [--port N]",
	"Builds the offline lab (signed zones under test., certificates, receivers on\n"
	"127.1.0.x), relays every connection through a passive tap, and sends one message\n"
	"for each demonstration:\n"
	"  1. via an insecure server: plaintext, the tap reads the message\n"
	"  2. to a DANE-secured address: TLSA 3 1 1 verified, the tap sees only TLS\n"
	"  3. a forged TLSA record: refused and deferred, delivered nowhere\n"
	"  4. two MX, the first broken: delivered by the second only\n"
	"Options:\n"
	"  --json                  the four results as one JSON object\n"
	"  --keep                  keep the lab running afterwards and show how to use it;\n"
	"                          Ctrl-C stops it and cleans up\n"
	"  --port N                the receivers' port (default: a free one); the tap uses N+1\n"
	"Exit status: 0 when all four behave as expected, 1 when one does not, 69 when the\n"
	"lab cannot start, 64 usage.\n",
};

#define DEMO_SECRET "revenue 4.2M"

struct demo_test {
	const char *scenario;
	const char *title;
	const char *expect_text;     /* for the summary table */
	int expect_delivered;
	const char *expect_tls;      /* "plaintext", "verified" or NULL (not delivered) */
	int expect_tap_reads;        /* the eavesdropper can read the message */
	/* outcome */
	const struct lab_scenario *sc;
	struct deliver_result *res;
	char landed[DNS_NAME_MAX];   /* the host whose Maildir got the message, or "" */
	int landed_count;            /* messages that arrived anywhere in the scenario */
	int tap_read;                /* the tap saw the secret */
	size_t tap_tls_records;
	char actual[96];
	int ok;
};

static struct demo_test tests[] = {
	{"plaintext", "Sending via an insecure mail server", "delivered, plaintext, tap reads",
	 1, "plaintext", 1, NULL, NULL, "", 0, 0, 0, "", 0},
	{"dane-ok", "Sending to a DANE-secured address", "delivered by mx1, verified",
	 1, "verified", 0, NULL, NULL, "", 0, 0, 0, "", 0},
	{"dane-wrong", "A bad guy (or a mistake): the TLSA record does not match",
	 "deferred, delivered nowhere", 0, NULL, 0, NULL, NULL, "", 0, 0, 0, "", 0},
	{"two-mx", "Two MX hosts, the first broken", "delivered by mx2 only, verified",
	 1, "verified", 0, NULL, NULL, "", 0, 0, 0, "", 0},
};
#define NTESTS (sizeof(tests) / sizeof(tests[0]))

struct demo {
	struct event_base *base;
	struct lab_world *world;
	struct lab_receivers *recv;
	struct tap *taps[16];
	const char *tap_addr[16];
	size_t ntaps;
	struct dns_ctx *dns;
	SSL_CTX *ctx;
	char dir[4096];
	unsigned port, tap_port;
	int json, keep, interrupted, done;
	struct event *sigint, *sigterm;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* A port free on 127.1.0.0/16 right now (bind to port 0 and read it back). */
static unsigned free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd < 0)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f010001);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port < 65000 ? port : 0;
}

static int count_maildir(const char *maildir)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	int n = 0;

	str_printf(path, sizeof(path), "%s/new", maildir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct demo *dm = arg;

	(void)sig;
	(void)what;
	dm->interrupted = 1;
	event_base_loopbreak(dm->base);
}

static int demo_setup(struct demo *dm, char *err, size_t errlen)
{
	struct lab_world_opts wo = {0};
	struct dns_opts dopts = {0};
	struct tls_client_opts topts = {0};
	enum dns_err why;

	if (mkdtemp(dm->dir) == NULL) {
		str_printf(err, errlen, "cannot create %s: %s", dm->dir, strerror(errno));
		return -1;
	}
	if (dm->port == 0 && (dm->port = free_port()) == 0) {
		str_copy(err, "no free port on 127.1.0.1", errlen);
		return -1;
	}
	dm->tap_port = dm->port + 1;
	wo.port = dm->port;
	wo.no_ipv6 = 1;
	if (lab_world_build(dm->dir, &wo, &dm->world, err, errlen) < 0)
		return -1;
	if ((dm->recv = lab_receivers_start(dm->base, dm->world, err, errlen)) == NULL)
		return -1;
	for (size_t i = 0; i < dm->world->nhosts && dm->ntaps < 16; i++) {
		const struct lab_host *h = &dm->world->hosts[i];
		int demo = 0;
		for (size_t k = 0; k < NTESTS; k++)
			demo |= strcmp(h->sc->name, tests[k].scenario) == 0;
		if (!demo || h->naddr == 0)
			continue;
		dm->taps[dm->ntaps] = tap_start(dm->base, h->addr[0], dm->tap_port, dm->port, err, errlen);
		if (dm->taps[dm->ntaps] == NULL)
			return -1;
		dm->tap_addr[dm->ntaps++] = h->addr[0];
	}
	dopts.config = dm->world->dns.ub_conf;
	dopts.timeout_ms = 5000;
	if ((dm->dns = dns_ctx_new(dm->base, &dopts, &why, err, errlen)) == NULL)
		return -1;
	if ((dm->ctx = tls_client_ctx_new(&topts, err, errlen)) == NULL)
		return -1;
	return 0;
}

static void demo_teardown(struct demo *dm)
{
	for (size_t i = 0; i < dm->ntaps; i++)
		tap_stop(dm->taps[i]);
	lab_receivers_stop(dm->recv);
	SSL_CTX_free(dm->ctx);
	dns_ctx_free(dm->dns);
	lab_world_free(dm->world);
	if (dm->dir[0] != '\0' && strstr(dm->dir, "XXXXXX") == NULL)
		nftw(dm->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void deliver_cb(struct deliver_result *res, void *arg)
{
	struct demo_test *t = arg;

	t->res = res;
}

/* ---- narration ------------------------------------------------------------------------ */

/* Print first, then text wrapped at 80 columns; continuation lines indented by 10. */
static void say_wrapped(const char *first, const char *text)
{
	size_t col = strlen(first), len;
	const char *p = text;

	fputs(first, stdout);
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, " ");
		if (len > 69)
			len = 69; /* an unbreakable word longer than a line is cut */
		if (col > 10 && col + 1 + len > 79) {
			fputs("\n          ", stdout);
			col = 10;
		} else {
			fputc(' ', stdout);
			col++;
		}
		fwrite(p, 1, len, stdout);
		col += len;
		p += strcspn(p, " ");
	}
	fputc('\n', stdout);
}

static void say_dns(const struct check_result *d)
{
	printf("   DNS    MX %s: %s\n", d->domain,
	       d->mx_lookup.sec == DNS_SEC_SECURE ? "DNSSEC-validated (secure)" :
	       d->mx_lookup.sec == DNS_SEC_BOGUS ? "BOGUS" : "not signed: a forger could change it");
	for (size_t i = 0; i < d->nhosts; i++) {
		const struct check_host *h = &d->hosts[i];
		printf("          %u %s -> %s (%s)\n", h->preference, h->name,
		       h->naddrs ? h->addrs[0].addr.text : "no address",
		       h->addr_sec == DNS_SEC_SECURE ? "secure" : "not signed");
		if (h->tlsa_lookup.done && h->ntlsa > 0) {
			printf("          TLSA _25._tcp.%s (%s):\n", h->tlsa_base,
			       h->tlsa_lookup.sec == DNS_SEC_SECURE ? "secure" : dns_sec_name(h->tlsa_lookup.sec));
			for (size_t k = 0; k < h->ntlsa; k++) {
				char *hex = str_hex(h->tlsa[k].rr.data, h->tlsa[k].rr.len);
				printf("          %u %u %u %.64s\n", h->tlsa[k].rr.usage, h->tlsa[k].rr.selector,
				       h->tlsa[k].rr.mtype, hex != NULL ? hex : "");
				free(hex);
			}
		} else {
			printf("          TLSA none: %s\n", h->tlsa_lookup.done ? h->tlsa_lookup.status
							       : "not looked up (the zone is not signed)");
		}
	}
}

/* Does the presented key's SHA-256 equal a 3 1 1 record of the host? */
static int key_in_tlsa(const struct check_host *h, const unsigned char *spki)
{
	for (size_t k = 0; h != NULL && k < h->ntlsa; k++)
		if (h->tlsa[k].rr.selector == 1 && h->tlsa[k].rr.mtype == 1 && h->tlsa[k].rr.len == 32 &&
		    memcmp(h->tlsa[k].rr.data, spki, 32) == 0)
			return 1;
	return 0;
}

static const struct check_host *dest_host(const struct check_result *d, const char *name)
{
	for (size_t i = 0; d != NULL && i < d->nhosts; i++)
		if (strcmp(d->hosts[i].name, name) == 0)
			return &d->hosts[i];
	return NULL;
}

static void say_attempts(const struct deliver_result *res)
{
	for (size_t i = 0; i < res->nattempts; i++) {
		const struct deliver_attempt *a = &res->attempts[i];
		const struct check_host *h = dest_host(res->dest, a->host);
		char line[CHECK_REASON_MAX + 64];

		if (a->have_leaf) {
			char *hex = str_hex(a->leaf_spki_sha256, 32);
			printf("   Server %s presented %.50s\n", a->host, a->leaf_subject);
			printf("          key   %.64s\n", hex != NULL ? hex : "");
			if (h != NULL && h->ntlsa > 0)
				printf("          %s\n", key_in_tlsa(h, a->leaf_spki_sha256)
					? "this key matches the published TLSA record"
					: "this key does NOT match the published TLSA record");
			free(hex);
		} else if (a->address[0]) {
			printf("   Server %s: %s\n", a->host,
			       a->starttls_offered ? "no TLS session" : "offers no STARTTLS: no encryption possible");
		}
		if (h != NULL) {
			str_printf(line, sizeof(line), "TLS %s for %s: %s.", a->requirement, a->host, h->req_reason);
			say_wrapped("   Sender", line);
		}
		str_printf(line, sizeof(line), "%s, %s: %s", verdict_name(a->v),
			   a->delivered ? "message accepted" : "message NOT sent", a->reason);
		say_wrapped("         ", line); /* 9 + the separating space: column 10 */
	}
}

static void say_tap(const struct tap_capture *cap, struct demo_test *t)
{
	char lines[8][96];
	size_t tls_records = 0, tls_bytes = 0;
	size_t n = tap_readable_lines(cap, lines, 8, &tls_records, &tls_bytes);

	t->tap_read = cap->c2s != NULL && memmem(cap->c2s, cap->c2s_len, DEMO_SECRET, strlen(DEMO_SECRET)) != NULL;
	t->tap_tls_records = tls_records;
	if (cap->connections == 0) {
		printf("   Tap    saw no connection\n");
		return;
	}
	if (t->tap_read) {
		printf("   Tap    a man in the middle READ the message:\n");
		for (size_t i = 0; i < n; i++)
			if (strncmp(lines[i], "Subject:", 8) == 0 || strncmp(lines[i], "MAIL FROM", 9) == 0 ||
			    strncmp(lines[i], "RCPT TO", 7) == 0 || strstr(lines[i], DEMO_SECRET) != NULL)
				printf("          | %s\n", lines[i]);
		{
			/* the secret line itself may be past the first 8 lines */
			const char *p = memmem(cap->c2s, cap->c2s_len, DEMO_SECRET, strlen(DEMO_SECRET));
			const char *b = p;
			while (b > (const char *)cap->c2s && b[-1] != '\n')
				b--;
			printf("          | %.*s\n", (int)(p - b) + (int)strlen(DEMO_SECRET), b);
		}
	} else {
		printf("   Tap    %zu plaintext lines (EHLO, STARTTLS), then %zu TLS records\n"
		       "          (%zu bytes): the message is unreadable on the wire\n",
		       n, tls_records, tls_bytes);
	}
}

static void judge(struct demo *dm, struct demo_test *t)
{
	const struct deliver_rcpt *r = t->res != NULL && t->res->nrcpts > 0 ? &t->res->rcpts[0] : NULL;
	int delivered = r != NULL && r->status == RCPT_DELIVERED;
	const char *want_host = t->sc->delivers_to;
	char want[DNS_NAME_MAX] = "";

	(void)dm;
	if (want_host != NULL) {
		str_copy(want, want_host, sizeof(want));
		if (want[0] && want[strlen(want) - 1] == '.')
			want[strlen(want) - 1] = '\0';
	}
	if (delivered)
		str_printf(t->actual, sizeof(t->actual), "delivered by %.*s, %s",
			   (int)strcspn(t->landed, "."), t->landed[0] ? t->landed : "?", r->tls);
	else
		str_printf(t->actual, sizeof(t->actual), "%s, delivered nowhere",
			   r ? rcpt_status_name(r->status) : "no result");
	if (delivered && t->landed_count > 1)
		str_printf(t->actual, sizeof(t->actual), "delivered %d times", t->landed_count);
	t->ok = delivered == t->expect_delivered && t->landed_count == (t->expect_delivered ? 1 : 0) &&
		(!t->expect_delivered || (strcmp(r->tls, t->expect_tls) == 0 && strcmp(t->landed, want) == 0)) &&
		t->tap_read == t->expect_tap_reads;
}

static int run_one(struct demo *dm, struct demo_test *t, int idx)
{
	struct deliver_params dp;
	const char *rcpts[1];
	char to[300], msg[1024];
	int before[LAB_MAX_HOSTS] = {0};
	size_t hosts[LAB_MAX_HOSTS], nh = 0;
	struct tap_capture cap = {0};

	t->sc = lab_scenario_find(t->scenario);
	if (t->sc == NULL)
		return -1;
	for (size_t i = 0; i < dm->world->nhosts && nh < LAB_MAX_HOSTS; i++)
		if (dm->world->hosts[i].sc == t->sc) {
			hosts[nh] = i;
			before[nh++] = count_maildir(dm->world->hosts[i].maildir);
		}
	for (size_t i = 0; i < dm->ntaps; i++) {
		tap_take(dm->taps[i], &cap);
		tap_capture_free(&cap);
	}
	str_printf(to, sizeof(to), "bob@%s.test", t->sc->name);
	str_printf(msg, sizeof(msg),
		   "From: Alice <alice@sender.test>\r\nTo: Bob <%s>\r\n"
		   "Subject: Quarterly numbers (demonstration %d)\r\n"
		   "Message-ID: <demo%d@sender.test>\r\n\r\n"
		   "Bob, the numbers are in: " DEMO_SECRET ". Please do not forward.\r\n", to, idx, idx);
	rcpts[0] = to;
	memset(&dp, 0, sizeof(dp));
	dp.check.dns = dm->dns;
	dp.check.ssl_ctx = dm->ctx;
	dp.check.port = (uint16_t)dm->tap_port;
	dp.check.helo = "sender.test";
	dp.check.families = CHECK_INET;
	dp.check.insecure_mx_dane = 1;
	dp.check.timeout_ms = 5000;
	dp.level = DELIVER_DANE;
	dp.mail_from = "alice@sender.test";
	dp.rcpts = rcpts;
	dp.nrcpts = 1;
	dp.msg = msg;
	dp.msg_len = strlen(msg);
	if (deliver_start(dm->base, &dp, to + 4, deliver_cb, t) < 0)
		return -1;
	while (t->res == NULL && !dm->interrupted && event_base_loop(dm->base, EVLOOP_ONCE) == 0)
		;
	if (dm->interrupted)
		return -1;
	for (size_t k = 0; k < nh; k++) {
		const struct lab_host *h = &dm->world->hosts[hosts[k]];
		int got = count_maildir(h->maildir) - before[k];
		t->landed_count += got;
		if (got > 0) {
			str_copy(t->landed, h->name, sizeof(t->landed));
			if (t->landed[0] && t->landed[strlen(t->landed) - 1] == '.')
				t->landed[strlen(t->landed) - 1] = '\0';
		}
	}
	/* what the taps on this scenario's addresses saw */
	memset(&cap, 0, sizeof(cap));
	for (size_t i = 0; i < dm->ntaps; i++) {
		struct tap_capture c;
		int mine = 0;
		for (size_t k = 0; k < nh; k++)
			mine |= strcmp(dm->tap_addr[i], dm->world->hosts[hosts[k]].addr[0]) == 0;
		tap_take(dm->taps[i], &c);
		if (mine && c.connections > 0 && cap.connections == 0)
			cap = c;
		else if (mine && c.connections > 0) {
			cap.connections += c.connections;
			tap_capture_free(&c);
		} else
			tap_capture_free(&c);
	}
	if (!dm->json) {
		printf("\n%d. %s (%s.test)\n", idx, t->title, t->sc->name);
		say_dns(t->res->dest);
		say_attempts(t->res);
	}
	if (dm->json) {
		t->tap_read = cap.c2s != NULL && memmem(cap.c2s, cap.c2s_len, DEMO_SECRET, strlen(DEMO_SECRET)) != NULL;
	} else {
		say_tap(&cap, t);
	}
	tap_capture_free(&cap);
	judge(dm, t);
	if (!dm->json)
		printf("   Result %s%s\n          expected: %s -> %s\n", t->actual,
		       t->tap_read ? ", read by tap" : "", t->expect_text,
		       t->ok ? "as expected" : "NOT AS EXPECTED");
	return 0;
}

static void print_summary(void)
{
	printf("\nSummary\n  #  %-32s %-32s %s\n", "expected", "actual", "ok");
	for (size_t i = 0; i < NTESTS; i++)
		printf("  %zu  %-32.32s %-32.32s %s\n", i + 1, tests[i].expect_text, tests[i].actual,
		       tests[i].ok ? "yes" : "NO");
}

static void print_json(void)
{
	struct buf b = BUF_INIT(0);
	struct json j;
	int all = 1;

	json_init(&j, &b, 0);
	json_obj_begin(&j);
	json_key(&j, "tests");
	json_arr_begin(&j);
	for (size_t i = 0; i < NTESTS; i++) {
		const struct demo_test *t = &tests[i];
		const struct deliver_rcpt *r = t->res && t->res->nrcpts ? &t->res->rcpts[0] : NULL;
		all &= t->ok;
		json_obj_begin(&j);
		json_kv_str(&j, "name", t->title);
		json_key(&j, "domain");
		if (t->sc != NULL) {
			char dom[DNS_NAME_MAX];
			str_printf(dom, sizeof(dom), "%s.test", t->sc->name);
			json_str(&j, dom);
		} else {
			json_null(&j);
		}
		json_kv_str(&j, "expected", t->expect_text);
		json_kv_str(&j, "actual", t->actual);
		json_kv_bool(&j, "ok", t->ok);
		json_kv_str(&j, "status", r ? rcpt_status_name(r->status) : NULL);
		json_kv_str(&j, "tls", r ? r->tls : NULL);
		json_kv_str(&j, "landed", t->landed[0] ? t->landed : NULL);
		json_kv_int(&j, "messages_landed", t->landed_count);
		json_kv_bool(&j, "tap_read_message", t->tap_read);
		json_kv_str(&j, "reason", r ? r->reason : NULL);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_kv_bool(&j, "ok", all);
	json_obj_end(&j);
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

static void keep_running(struct demo *dm)
{
	printf("\nThe lab keeps running (Ctrl-C stops it and removes %s).\n"
	       "In another shell:\n"
	       "  . %s\n"
	       "  danemx check --dns-config \"$DANEMX_DNS_CONFIG\" --port $DANEMX_LAB_PORT dane-ok.test\n"
	       "  danemx send --dns-config \"$DANEMX_DNS_CONFIG\" --port $DANEMX_LAB_PORT \\\n"
	       "      --from you@sender.test --to you@two-mx.test message.txt\n"
	       "  danemx lookup --dns-config \"$DANEMX_DNS_CONFIG\" _25._tcp.mx1.dane-ok.test TLSA\n"
	       "  danemx lab list        (every scenario, with what it shows)\n"
	       "Mail lands in $DANEMX_LAB_MAILDIR/<MX host>/new/. A validating resolver can use the\n"
	       "zones in %s/dns with the trust anchor %s.\n",
	       dm->dir, dm->world->env_path, dm->dir, dm->world->dns.anchor_file);
	fflush(stdout);
	event_base_dispatch(dm->base); /* until SIGINT/SIGTERM break it */
}

static int cmd_demo_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"keep", no_argument, NULL, 'k'},
		{"port", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	struct demo dm;
	char err[512];
	int c, rc = 0;
	unsigned long v;

	memset(&dm, 0, sizeof(dm));
	{
		const char *tmp = getenv("TMPDIR");
		if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 1024)
			tmp = "/tmp";
		str_printf(dm.dir, sizeof(dm.dir), "%s/danemx-demo-XXXXXX", tmp);
	}
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': dm.json = 1; break;
		case 'k': dm.keep = 1; break;
		case 'p':
			if (str_to_ulong(optarg, 1, 65534, &v) < 0) {
				fprintf(stderr, "danemx: demo: --port: not a port number: %s\n", optarg);
				return EX_USAGE;
			}
			dm.port = (unsigned)v;
			break;
		default:
			return cmd_usage(&cmd_demo_def);
		}
	}
	if (optind != argc)
		return cmd_usage(&cmd_demo_def);
	if ((dm.base = event_base_new()) == NULL)
		return EX_OSERR;
	dm.sigint = evsignal_new(dm.base, SIGINT, on_signal, &dm);
	dm.sigterm = evsignal_new(dm.base, SIGTERM, on_signal, &dm);
	event_add(dm.sigint, NULL);
	event_add(dm.sigterm, NULL);
	if (demo_setup(&dm, err, sizeof(err)) < 0) {
		fprintf(stderr, "danemx: demo: the lab cannot start: %s\n", err);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (!dm.json)
		printf("danemx demo: four demonstrations of DANE for SMTP, offline.\n"
		       "The lab: DNSSEC-signed zones under test. (trust anchor test.), one receiver per\n"
		       "MX host on 127.1.0.x, every connection relayed by a passive tap that shows\n"
		       "what a man in the middle can read. The sender validates every lookup.\n");
	for (size_t i = 0; i < NTESTS && !dm.interrupted; i++)
		if (run_one(&dm, &tests[i], (int)i + 1) < 0 && !dm.interrupted) {
			str_copy(tests[i].actual, "could not run", sizeof(tests[i].actual));
			tests[i].ok = 0;
		}
	if (dm.interrupted) {
		fprintf(stderr, "danemx: demo: interrupted; cleaning up\n");
		rc = 130;
		goto out;
	}
	if (dm.json)
		print_json();
	else
		print_summary();
	for (size_t i = 0; i < NTESTS; i++)
		if (!tests[i].ok)
			rc = 1;
	if (!dm.json)
		printf("%s\n", rc == 0 ? "All four behaved as DANE promises." :
		       "Some demonstration did not behave as expected.");
	fflush(stdout);
	if (dm.keep)
		keep_running(&dm);
out:
	for (size_t i = 0; i < NTESTS; i++) {
		deliver_result_free(tests[i].res);
		tests[i].res = NULL;
	}
	demo_teardown(&dm);
	event_free(dm.sigint);
	event_free(dm.sigterm);
	event_base_free(dm.base);
	return rc;
}

/* Unit tests for src/dns against a lab world written by src/lab/zones in a temp dir:
 * secure, insecure, bogus (with why), NXDOMAIN/NODATA, CNAME chains, timeouts, many
 * queries in flight, callbacks that start or cancel queries, and set-up errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <cmocka.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "dns/dns.h"
#include "lab/zones.h"

static char labdir[] = "/tmp/danemx-dns-XXXXXX";
static struct lab_dns_paths paths;
static char daemon_addr[64];
static time_t soon_expiry;

#define TLSA_HEX "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
#define NHOSTS 200

static int world_setup(void **state)
{
	char err[256], rr[128];
	struct lab_zoneset *zs = lab_zoneset_new("test.");
	struct lab_zone *a, *u;
	static const char *const arr[] = {
		"a.test. IN MX 10 mx.a.test.", "a.test. IN MX 20 alias.a.test.",
		"mx IN A 127.0.0.2", "mx IN AAAA ::1",
		"_25._tcp.mx IN TLSA 3 1 1 " TLSA_HEX,
		"alias IN CNAME mx", "out IN CNAME mx.u.test.", "loop1 IN CNAME loop2", "loop2 IN CNAME loop1",
		"badsig IN A 127.0.0.3", "expired IN A 127.0.0.4", "soon IN A 127.0.0.5",
		"txt IN TXT \"hello world\"",
	};
	(void)state;
	if (mkdtemp(labdir) == NULL || zs == NULL)
		return -1;
	a = lab_zone_add(zs, "a.test", LAB_ZONE_SIGNED, err, sizeof(err));
	u = lab_zone_add(zs, "u.test", LAB_ZONE_UNSIGNED, err, sizeof(err));
	if (a == NULL || u == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(arr) / sizeof(arr[0]); i++)
		if (lab_zone_rr(a, arr[i], err, sizeof(err)) != 0)
			return -1;
	for (int i = 0; i < NHOSTS; i++) {
		snprintf(rr, sizeof(rr), "h%d IN A 127.0.%d.%d", i, i / 250, i % 250 + 1);
		if (lab_zone_rr(a, rr, err, sizeof(err)) != 0)
			return -1;
	}
	if (lab_zone_rr(u, "u.test. IN MX 10 mx.u.test.", err, sizeof(err)) != 0 ||
	    lab_zone_rr(u, "mx IN A 127.0.0.6", err, sizeof(err)) != 0 ||
	    lab_zone_rr(u, "_25._tcp.mx IN TLSA 3 1 1 " TLSA_HEX, err, sizeof(err)) != 0 ||
	    lab_zone_fault(a, "badsig", LDNS_RR_TYPE_A, LAB_FAULT_BAD_SIG) != 0 ||
	    lab_zone_fault(a, "expired", LDNS_RR_TYPE_A, LAB_FAULT_EXPIRED_SIG) != 0 ||
	    lab_zone_sig_expiry(a, "soon", LDNS_RR_TYPE_A, 3600) != 0)
		return -1;
	soon_expiry = time(NULL) + 3600;
	/* the daemon config listens on a loopback address of its own: no parallel collisions */
	snprintf(daemon_addr, sizeof(daemon_addr), "127.%d.%d.%d@%d", 100 + getpid() % 100,
		 getpid() / 100 % 250 + 1, (int)(time(NULL) % 250) + 1, 20000 + getpid() % 20000);
	if (lab_zoneset_daemon_addr(zs, daemon_addr) != 0)
		return -1;
	if (lab_zoneset_write(zs, labdir, &paths, err, sizeof(err)) != 0) {
		fprintf(stderr, "lab_zoneset_write: %s\n", err);
		return -1;
	}
	lab_zoneset_free(zs);
	return 0;
}

static int world_teardown(void **state)
{
	char cmd[LAB_PATH_MAX + 16];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", labdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- harness ---- */

struct env {
	struct event_base *base;
	struct dns_ctx *ctx;
};

static void env_open(struct env *e, const struct dns_opts *o)
{
	char err[512];
	enum dns_err why;
	struct dns_opts lab = { .config = paths.ub_conf };

	assert_non_null(e->base = event_base_new());
	e->ctx = dns_ctx_new(e->base, o != NULL ? o : &lab, &why, err, sizeof(err));
	if (e->ctx == NULL)
		fail_msg("dns_ctx_new: %s", err);
}

static void env_run(struct env *e)
{
	for (int spins = 0; dns_pending(e->ctx) > 0; spins++) {
		assert_true(spins < 100000);
		event_base_loop(e->base, EVLOOP_ONCE);
	}
}

static void env_close(struct env *e)
{
	dns_ctx_free(e->ctx);
	event_base_free(e->base);
}

struct got {
	struct dns_result *res;
	int calls;
};

static void got_cb(struct dns_result *res, void *arg)
{
	struct got *g = arg;
	g->calls++;
	dns_result_free(g->res);
	g->res = res;
}

/* Resolve one name on a fresh loop; the caller frees the result. */
static struct dns_result *resolve(struct env *e, const char *name, uint16_t type)
{
	struct got g = { NULL, 0 };

	assert_non_null(dns_query(e->ctx, name, type, got_cb, &g));
	assert_int_equal(g.calls, 0);       /* never called from inside dns_query */
	env_run(e);
	assert_int_equal(g.calls, 1);
	return g.res;
}

/* ---- tests ---- */

static void test_dns_secure_mx_tlsa(void **state)
{
	struct env e;
	struct dns_result *r;
	(void)state;

	env_open(&e, NULL);
	r = resolve(&e, "A.test", LDNS_RR_TYPE_MX);
	assert_string_equal(r->qname, "a.test.");
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->sec, DNS_SEC_SECURE);
	assert_int_equal(r->nmx, 2);
	assert_int_equal(r->mx[0].preference, 10);
	assert_string_equal(r->mx[0].host, "mx.a.test.");
	assert_string_equal(r->mx[1].host, "alias.a.test.");
	assert_int_equal(r->ttl, 3600);
	assert_int_equal(r->nrrs, 2);
	assert_non_null(r->packet);
	assert_true(r->sig_expire > time(NULL) + 29 * 86400);
	dns_result_free(r);

	r = resolve(&e, "_25._tcp.mx.a.test.", LDNS_RR_TYPE_TLSA);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->sec, DNS_SEC_SECURE);
	assert_int_equal(r->ntlsa, 1);
	assert_int_equal(r->tlsa[0].usage, 3);
	assert_int_equal(r->tlsa[0].selector, 1);
	assert_int_equal(r->tlsa[0].mtype, 1);
	assert_int_equal(r->tlsa[0].len, 32);
	assert_int_equal(r->tlsa[0].data[0], 0x01);
	assert_int_equal(r->tlsa[0].data[31], 0x20);
	dns_result_free(r);

	r = resolve(&e, "mx.a.test", LDNS_RR_TYPE_AAAA);
	assert_int_equal(r->naddrs, 1);
	assert_int_equal(r->addrs[0].family, AF_INET6);
	assert_string_equal(r->addrs[0].text, "::1");
	dns_result_free(r);

	r = resolve(&e, "txt.a.test", LDNS_RR_TYPE_TXT);
	assert_int_equal(r->nrrs, 1);
	assert_non_null(strstr(r->rrs[0], "\"hello world\""));
	dns_result_free(r);
	env_close(&e);
}

static void test_dns_negative(void **state)
{
	struct env e;
	struct dns_result *r;
	(void)state;

	env_open(&e, NULL);
	r = resolve(&e, "_25._tcp.nothere.a.test", LDNS_RR_TYPE_TLSA);
	assert_int_equal(r->status, DNS_NXDOMAIN);
	assert_int_equal(r->sec, DNS_SEC_SECURE);
	assert_int_equal(r->rcode, 3);
	assert_int_equal(r->ttl, 300);           /* min(SOA TTL, SOA minimum) */
	assert_int_equal(r->ntlsa, 0);
	dns_result_free(r);
	r = resolve(&e, "_25._tcp.mx.a.test", LDNS_RR_TYPE_A);   /* name exists, type not */
	assert_int_equal(r->status, DNS_NODATA);
	assert_int_equal(r->sec, DNS_SEC_SECURE);
	dns_result_free(r);
	r = resolve(&e, "_25._tcp.alias.a.test", LDNS_RR_TYPE_TLSA);
	assert_int_equal(r->status, DNS_NXDOMAIN);
	assert_int_equal(r->sec, DNS_SEC_SECURE);
	dns_result_free(r);
	env_close(&e);
}

static void test_dns_insecure(void **state)
{
	struct env e;
	struct dns_result *r;
	(void)state;

	env_open(&e, NULL);
	r = resolve(&e, "u.test", LDNS_RR_TYPE_MX);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->sec, DNS_SEC_INSECURE);
	assert_int_equal(r->nmx, 1);
	assert_string_equal(r->why_bogus, "");
	dns_result_free(r);
	r = resolve(&e, "_25._tcp.mx.u.test", LDNS_RR_TYPE_TLSA);
	assert_int_equal(r->sec, DNS_SEC_INSECURE);
	assert_int_equal(r->ntlsa, 1);          /* parsed, but the caller must see insecure */
	dns_result_free(r);
	r = resolve(&e, "nothere.u.test", LDNS_RR_TYPE_A);
	assert_int_equal(r->status, DNS_NXDOMAIN);
	assert_int_equal(r->sec, DNS_SEC_INSECURE);
	dns_result_free(r);
	env_close(&e);
}

static void test_dns_bogus(void **state)
{
	struct env e;
	struct dns_result *r;
	(void)state;

	env_open(&e, NULL);
	r = resolve(&e, "badsig.a.test", LDNS_RR_TYPE_A);
	assert_int_equal(r->sec, DNS_SEC_BOGUS);
	assert_non_null(strstr(r->why_bogus, "signature"));
	assert_int_equal(r->naddrs, 0);          /* typed data never leaves a bogus answer */
	dns_result_free(r);
	r = resolve(&e, "expired.a.test", LDNS_RR_TYPE_A);
	assert_int_equal(r->sec, DNS_SEC_BOGUS);
	assert_non_null(strstr(r->why_bogus, "expired"));
	assert_int_equal(r->naddrs, 0);
	dns_result_free(r);
	env_close(&e);
}

static void test_dns_sig_expiry(void **state)
{
	struct env e;
	struct dns_result *r;
	(void)state;

	env_open(&e, NULL);
	r = resolve(&e, "soon.a.test", LDNS_RR_TYPE_A);
	assert_int_equal(r->sec, DNS_SEC_SECURE);
	assert_true(r->sig_expire >= soon_expiry - 5 && r->sig_expire <= soon_expiry + 5);
	dns_result_free(r);
	env_close(&e);
}

static void test_dns_cname(void **state)
{
	struct env e;
	struct dns_result *r;
	(void)state;

	env_open(&e, NULL);
	r = resolve(&e, "alias.a.test", LDNS_RR_TYPE_A);      /* same signed zone */
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->sec, DNS_SEC_SECURE);
	assert_int_equal(r->ncnames, 1);
	assert_string_equal(r->cnames[0].owner, "alias.a.test.");
	assert_string_equal(r->cnames[0].target, "mx.a.test.");
	assert_int_equal(r->cnames[0].sec, DNS_SEC_SECURE);
	assert_true(r->chain_secure);
	assert_string_equal(r->canon, "mx.a.test.");
	assert_int_equal(r->naddrs, 1);
	assert_string_equal(r->addrs[0].text, "127.0.0.2");
	dns_result_free(r);
	r = resolve(&e, "out.a.test", LDNS_RR_TYPE_A);        /* into the unsigned zone */
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->sec, DNS_SEC_INSECURE);
	assert_int_equal(r->ncnames, 1);
	assert_string_equal(r->canon, "mx.u.test.");
	assert_false(r->chain_secure);
	assert_int_equal(r->naddrs, 1);
	assert_string_equal(r->addrs[0].text, "127.0.0.6");
	dns_result_free(r);
	r = resolve(&e, "alias.a.test", LDNS_RR_TYPE_CNAME);  /* asked for the CNAME itself */
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->ncnames, 0);
	assert_int_equal(r->nrrs, 1);
	dns_result_free(r);
	r = resolve(&e, "loop1.a.test", LDNS_RR_TYPE_A);
	assert_true(r->status == DNS_FAIL);
	dns_result_free(r);
	env_close(&e);
}

/* A UDP socket that reads and never answers: the resolver "is there" but silent. */
static int silent_socket(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void test_dns_timeout(void **state)
{
	char addr[64];
	int port, fd = silent_socket(&port);
	struct dns_opts o = { .resolver = addr, .timeout_ms = 300, .trust_anchor = paths.anchor_file };
	struct env e;
	struct dns_result *r;
	(void)state;

	snprintf(addr, sizeof(addr), "127.0.0.1@%d", port);
	env_open(&e, &o);
	r = resolve(&e, "mx.a.test", LDNS_RR_TYPE_A);
	assert_int_equal(r->status, DNS_TIMEOUT);
	assert_true(r->elapsed_ms >= 250 && r->elapsed_ms < 2000);
	assert_non_null(strstr(r->reason, "300 ms"));
	dns_result_free(r);
	env_close(&e);   /* libunbound still waits for its own answer: dropped safely */
	assert_int_equal(dns_resolver_answers(addr, 200), 0);
	assert_int_equal(dns_resolver_answers("not-an-address", 200), -1);
	close(fd);
}

/* dns_resolver_answers sees any reply, whatever its rcode: a child echoes one datagram. */
static void test_dns_resolver_answers(void **state)
{
	char addr[64], pkt[512];
	int port, fd = silent_socket(&port), status;
	pid_t pid;
	(void)state;

	snprintf(addr, sizeof(addr), "127.0.0.1@%d", port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &flen);
		if (n >= 12) {
			pkt[2] |= (char)0x80;   /* QR */
			sendto(fd, pkt, (size_t)n, 0, (struct sockaddr *)&from, flen);
		}
		_exit(0);
	}
	assert_int_equal(dns_resolver_answers(addr, 5000), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fd);
}

struct many {
	int ok, secure, calls;
};

static void many_cb(struct dns_result *res, void *arg)
{
	struct many *m = arg;
	m->calls++;
	m->ok += res->status == DNS_OK && res->naddrs == 1;
	m->secure += res->sec == DNS_SEC_SECURE;
	dns_result_free(res);
}

static void test_dns_many(void **state)
{
	struct env e;
	struct many m = { 0, 0, 0 };
	struct dns_opts bulk = { .config = paths.ub_conf, .bulk = 1 };
	char name[64];
	(void)state;

	env_open(&e, &bulk);   /* the bulk tuning must not break anything */
	for (int i = 0; i < NHOSTS; i++) {
		snprintf(name, sizeof(name), "h%d.a.test", i);
		assert_non_null(dns_query(e.ctx, name, LDNS_RR_TYPE_A, many_cb, &m));
	}
	assert_int_equal(dns_pending(e.ctx), NHOSTS);
	env_run(&e);
	assert_int_equal(m.calls, NHOSTS);
	assert_int_equal(m.ok, NHOSTS);
	assert_int_equal(m.secure, NHOSTS);
	env_close(&e);
}

/* A callback that starts the next lookup (cached the second time, so libunbound answers
 * inside ub_resolve_event) and cancels another pending one. */
struct chain {
	struct dns_ctx *ctx;
	int depth, calls, victim_calls;
	struct dns_query *victim;
	char last[DNS_NAME_MAX];
};

static void victim_cb(struct dns_result *res, void *arg)
{
	((struct chain *)arg)->victim_calls++;
	dns_result_free(res);
}

static void chain_cb(struct dns_result *res, void *arg)
{
	struct chain *c = arg;
	int before = c->calls++;

	snprintf(c->last, sizeof(c->last), "%s", res->qname);
	assert_int_equal(res->sec, DNS_SEC_SECURE);
	dns_result_free(res);
	if (c->victim != NULL) {
		dns_cancel(c->victim);
		c->victim = NULL;
	}
	if (c->depth-- > 0) {
		assert_non_null(dns_query(c->ctx, "mx.a.test", LDNS_RR_TYPE_A, chain_cb, c));
		assert_int_equal(c->calls, before + 1);   /* not re-entered */
	}
}

static void test_dns_callback_requery(void **state)
{
	struct env e;
	struct chain c = { 0 };
	(void)state;

	env_open(&e, NULL);
	c.ctx = e.ctx;
	c.depth = 5;
	assert_non_null(dns_query(e.ctx, "mx.a.test", LDNS_RR_TYPE_A, chain_cb, &c));
	c.victim = dns_query(e.ctx, "h1.a.test", LDNS_RR_TYPE_A, victim_cb, &c);
	env_run(&e);
	assert_int_equal(c.calls, 6);
	assert_int_equal(c.victim_calls, 0);
	assert_string_equal(c.last, "mx.a.test.");
	env_close(&e);
}

static void free_ctx_cb(struct dns_result *res, void *arg)
{
	struct env *e = arg;
	dns_result_free(res);
	dns_query(e->ctx, "h2.a.test", LDNS_RR_TYPE_A, got_cb, NULL);  /* dropped with the ctx */
	dns_ctx_free(e->ctx);
	e->ctx = NULL;
}

static void test_dns_cancel_and_free(void **state)
{
	struct env e;
	struct got g = { NULL, 0 };
	struct dns_query *q;
	(void)state;

	env_open(&e, NULL);
	q = dns_query(e.ctx, "mx.a.test", LDNS_RR_TYPE_A, got_cb, &g);
	dns_cancel(q);
	assert_int_equal(dns_pending(e.ctx), 0);
	for (int i = 0; i < 5; i++)
		event_base_loop(e.base, EVLOOP_NONBLOCK);
	assert_int_equal(g.calls, 0);
	/* a bad name is a DNS_ERROR result, delivered from the loop */
	dns_result_free(resolve(&e, "", LDNS_RR_TYPE_A));
	assert_non_null(q = dns_query(e.ctx, "bad name.test", LDNS_RR_TYPE_A, got_cb, &g));
	env_run(&e);
	assert_int_equal(g.res->status, DNS_ERROR);
	dns_result_free(g.res);
	/* dns_ctx_free from inside a callback */
	dns_query(e.ctx, "h3.a.test", LDNS_RR_TYPE_A, free_ctx_cb, &e);
	dns_query(e.ctx, "h4.a.test", LDNS_RR_TYPE_A, got_cb, NULL);
	while (e.ctx != NULL)
		event_base_loop(e.base, EVLOOP_ONCE);
	event_base_free(e.base);
}

static void test_dns_validation_probe(void **state)
{
	struct env e;
	struct got g = { NULL, 0 };
	char conf[LAB_PATH_MAX + 32];
	FILE *fp;
	(void)state;

	env_open(&e, NULL);
	assert_string_equal(dns_anchor_zone(e.ctx), "test.");
	dns_probe_validation(e.ctx, got_cb, &g);
	env_run(&e);
	assert_true(dns_result_validates(g.res));
	dns_result_free(g.res);
	env_close(&e);

	/* the same zones without a trust anchor: nothing can validate */
	snprintf(conf, sizeof(conf), "%s/noanchor.conf", labdir);
	assert_non_null(fp = fopen(conf, "w"));
	fprintf(fp, "server:\n\tlocal-zone: \".\" refuse\n\tlocal-zone: \"test.\" transparent\n"
		    "auth-zone:\n\tname: \"test.\"\n\tzonefile: \"%s/test.zone\"\n"
		    "\tfor-upstream: yes\n\tfor-downstream: no\n\tfallback-enabled: no\n", labdir);
	fclose(fp);
	struct dns_opts o = { .config = conf };
	env_open(&e, &o);
	assert_null(dns_anchor_zone(e.ctx));
	g.calls = 0;
	g.res = NULL;
	dns_probe_validation(e.ctx, got_cb, &g);
	env_run(&e);
	assert_false(dns_result_validates(g.res));
	assert_int_equal(g.res->status, DNS_ERROR);
	dns_result_free(g.res);
	g.res = NULL;
	dns_result_free(resolve(&e, "test.", LDNS_RR_TYPE_SOA));
	env_close(&e);
}

static void expect_ctx_error(const struct dns_opts *o, enum dns_err want, const char *needle)
{
	struct event_base *base = event_base_new();
	char err[512] = "";
	enum dns_err why = DNS_E_OK;

	assert_null(dns_ctx_new(base, o, &why, err, sizeof(err)));
	assert_int_equal(why, want);
	if (strstr(err, needle) == NULL || strchr(err, '\n') != NULL)
		fail_msg("error '%s' lacks '%s' or is not one line", err, needle);
	event_base_free(base);
}

static void test_dns_setup_errors(void **state)
{
	char bad[LAB_PATH_MAX + 32], empty[LAB_PATH_MAX + 32];
	FILE *fp;
	(void)state;

	expect_ctx_error(&(struct dns_opts){ .trust_anchor = "/nonexistent/anchor" }, DNS_E_CONFIG,
			 "/nonexistent/anchor");
	expect_ctx_error(&(struct dns_opts){ .config = "/nonexistent/conf" }, DNS_E_CONFIG,
			 "/nonexistent/conf");
	snprintf(bad, sizeof(bad), "%s/bad.conf", labdir);
	assert_non_null(fp = fopen(bad, "w"));
	fputs("server:\n\tno-such-option: 1\n", fp);
	fclose(fp);
	expect_ctx_error(&(struct dns_opts){ .config = bad }, DNS_E_CONFIG, "no-such-option");
	snprintf(empty, sizeof(empty), "%s/empty.ds", labdir);
	assert_non_null(fp = fopen(empty, "w"));
	fputs("; nothing here\n", fp);
	fclose(fp);
	expect_ctx_error(&(struct dns_opts){ .trust_anchor = empty }, DNS_E_CONFIG, "no DS or DNSKEY");
	assert_non_null(fp = fopen(empty, "w"));
	fputs("test. IN DS garbage\n", fp);
	fclose(fp);
	expect_ctx_error(&(struct dns_opts){ .trust_anchor = empty }, DNS_E_CONFIG, "line");
	expect_ctx_error(&(struct dns_opts){ .resolver = "300.1.1.1" }, DNS_E_USAGE, "300.1.1.1");
	expect_ctx_error(&(struct dns_opts){ .resolver = "127.0.0.1@0" }, DNS_E_USAGE, "@0");
	expect_ctx_error(&(struct dns_opts){ .resolver = "127.0.0.1@53x" }, DNS_E_USAGE, "53x");
	expect_ctx_error(&(struct dns_opts){ .resolver = "" }, DNS_E_USAGE, "resolver");
}

/* The daemon config serves the same world: start `unbound -d -c` on it and resolve through
 * it with --resolver and the lab anchor. Validation still happens here. */
static void test_dns_daemon(void **state)
{
	struct dns_opts o = { .resolver = daemon_addr, .trust_anchor = paths.anchor_file,
			      .timeout_ms = 3000 };
	struct env e;
	struct dns_result *r;
	pid_t pid;
	int status, up = 0;
	(void)state;

	if (access("/usr/sbin/unbound", X_OK) != 0)
		skip();
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execl("/usr/sbin/unbound", "unbound", "-d", "-c", paths.daemon_conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && !up; i++)   /* up to ~10 s; refused probes return at once */
		if (!(up = dns_resolver_answers(daemon_addr, 100) == 1))
			usleep(100 * 1000);
	if (up) {
		env_open(&e, &o);
		r = resolve(&e, "a.test", LDNS_RR_TYPE_MX);
		assert_int_equal(r->status, DNS_OK);
		assert_int_equal(r->sec, DNS_SEC_SECURE);
		assert_int_equal(r->nmx, 2);
		dns_result_free(r);
		r = resolve(&e, "badsig.a.test", LDNS_RR_TYPE_A);
		assert_int_equal(r->sec, DNS_SEC_BOGUS);
		dns_result_free(r);
		r = resolve(&e, "mx.u.test", LDNS_RR_TYPE_A);
		assert_int_equal(r->sec, DNS_SEC_INSECURE);
		dns_result_free(r);
		env_close(&e);
	}
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!up)
		fail_msg("unbound -d -c %s never answered on %s", paths.daemon_conf, daemon_addr);
}

static void test_dns_names(void **state)
{
	char buf[16];
	(void)state;
	assert_int_equal(dns_type_from_name("MX"), 15);
	assert_int_equal(dns_type_from_name("tlsa"), 52);
	assert_int_equal(dns_type_from_name("TYPE65"), 65);
	assert_int_equal(dns_type_from_name("NOPE"), 0);
	assert_string_equal(dns_type_name(52, buf, sizeof(buf)), "TLSA");
	assert_string_equal(dns_status_name(DNS_NODATA), "nodata");
	assert_string_equal(dns_sec_name(DNS_SEC_BOGUS), "bogus");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_secure_mx_tlsa),
		cmocka_unit_test(test_dns_negative),
		cmocka_unit_test(test_dns_insecure),
		cmocka_unit_test(test_dns_bogus),
		cmocka_unit_test(test_dns_sig_expiry),
		cmocka_unit_test(test_dns_cname),
		cmocka_unit_test(test_dns_timeout),
		cmocka_unit_test(test_dns_resolver_answers),
		cmocka_unit_test(test_dns_many),
		cmocka_unit_test(test_dns_callback_requery),
		cmocka_unit_test(test_dns_cancel_and_free),
		cmocka_unit_test(test_dns_validation_probe),
		cmocka_unit_test(test_dns_setup_errors),
		cmocka_unit_test(test_dns_daemon),
		cmocka_unit_test(test_dns_names),
	};
	return cmocka_run_group_tests(tests, world_setup, world_teardown);
}

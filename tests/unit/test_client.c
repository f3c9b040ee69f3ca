/*
 * Unit tests for src/smtp/client: the probe and the delivery against a tiny scripted SMTP
 * responder on the same event loop (127.0.0.1, port 0), with STARTTLS and per-run
 * certificates. Each case asserts the failure category, the stage, and what the server
 * saw (the command transcript and the DATA bytes), so a client that sent MAIL FROM after
 * a DANE failure, or mangled the message, fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "clientcerts.h"
#include "io/conn.h"
#include "smtp/client.h"
#include "util/buf.h"
#include "util/log.h"

/* ---- the responder ---- */

struct responder {
	struct event_base *base;
	int lfd;
	uint16_t port;
	struct event *lev;
	struct conn *c;
	SSL_CTX *sctx;
	/* script */
	const char *banner;        /* sent on accept; NULL = stall */
	int endless_banner;        /* send 5000 bytes without a line end */
	int drip;                  /* send the banner one byte per 50 ms, never ending it */
	struct event *drip_ev;
	const char *ehlo;          /* reply to EHLO (before and after TLS) */
	const char *ehlo2;         /* reply to EHLO after TLS when set */
	const char *starttls;      /* reply to STARTTLS (may carry injected lines) */
	const char *helo;          /* reply to HELO */
	int drop_after_data;       /* close instead of answering the final dot */
	int silent_after_data;     /* never answer the final dot */
	/* what it saw */
	struct buf transcript;     /* "EHLO|STARTTLS|..." verbs, TLS marked "[tls]" */
	struct buf data;           /* DATA lines with CRLF, as received (still stuffed) */
	char mail_line[256];       /* the last MAIL command */
	int in_data;
};

static void rsp_line(struct responder *r, const char *line, size_t len)
{
	char verb[16] = "";

	if (r->in_data) {
		buf_append(&r->data, line, len);
		buf_puts(&r->data, "\r\n");
		if (len == 1 && line[0] == '.') {
			r->in_data = 0;
			buf_puts(&r->transcript, ".|");
			if (r->silent_after_data)
				return;
			if (r->drop_after_data) {
				conn_free(r->c);
				r->c = NULL;
				return;
			}
			conn_printf(r->c, "250 2.0.0 queued\r\n");
		}
		return;
	}
	sscanf(line, "%15[A-Za-z]", verb);
	buf_puts(&r->transcript, verb);
	buf_puts(&r->transcript, "|");
	if (strcasecmp(verb, "EHLO") == 0) {
		conn_printf(r->c, "%s", conn_tls_active(r->c) && r->ehlo2 ? r->ehlo2 : r->ehlo);
	} else if (strcasecmp(verb, "HELO") == 0) {
		conn_printf(r->c, "%s", r->helo ? r->helo : "250 mx\r\n");
	} else if (strcasecmp(verb, "STARTTLS") == 0) {
		conn_printf(r->c, "%s", r->starttls ? r->starttls : "220 2.0.0 go\r\n");
		if (r->starttls == NULL || strncmp(r->starttls, "220", 3) == 0) {
			buf_puts(&r->transcript, "[tls]|");
			conn_starttls(r->c, SSL_new(r->sctx), CONN_TLS_SERVER);
		}
	} else if (strcasecmp(verb, "MAIL") == 0) {
		snprintf(r->mail_line, sizeof(r->mail_line), "%.*s", (int)len, line);
		conn_printf(r->c, "250 2.1.0 ok\r\n");
	} else if (strcasecmp(verb, "RCPT") == 0) {
		if (strstr(line, "bad") != NULL)
			conn_printf(r->c, "550 5.1.1 no such user\r\n");
		else
			conn_printf(r->c, "250 2.1.5 ok\r\n");
	} else if (strcasecmp(verb, "DATA") == 0) {
		r->in_data = 1;
		conn_printf(r->c, "354 go ahead\r\n");
	} else if (strcasecmp(verb, "QUIT") == 0) {
		conn_printf(r->c, "221 2.0.0 bye\r\n");
	} else {
		conn_printf(r->c, "500 5.5.2 what\r\n");
	}
}

static void rsp_conn_cb(struct conn *c, enum conn_event ev, void *arg)
{
	struct responder *r = arg;
	const char *line;
	size_t len;

	if (ev == CONN_EV_INPUT) {
		while (r->c != NULL && conn_readline(c, &line, &len) == CONN_LINE_OK)
			rsp_line(r, line, len);
	} else if (ev == CONN_EV_EOF || ev == CONN_EV_ERROR || ev == CONN_EV_TLS_FAILED) {
		conn_free(c);
		r->c = NULL;
	}
}

static void rsp_drip_cb(evutil_socket_t fd, short what, void *arg)
{
	struct responder *r = arg;

	if (r->c != NULL)
		conn_write(r->c, r->drip++ < 4 ? &"220 "[r->drip - 1] : "x", 1);
}

static void rsp_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct responder *r = arg;
	char err[128], junk[5000];
	int s = accept(r->lfd, NULL, NULL);

	assert_true(s >= 0);
	assert_null(r->c);
	r->c = conn_accept(r->base, s, rsp_conn_cb, r, err, sizeof(err));
	assert_non_null(r->c);
	if (r->drip) {
		struct timeval tv = {0, 50000};
		r->drip_ev = event_new(r->base, -1, EV_PERSIST, rsp_drip_cb, r);
		event_add(r->drip_ev, &tv);
	} else if (r->endless_banner) {
		memset(junk, 'x', sizeof(junk));
		memcpy(junk, "220 ", 4);
		conn_write(r->c, junk, sizeof(junk));
	} else if (r->banner != NULL) {
		conn_printf(r->c, "%s", r->banner);
	}
}

static void rsp_init(struct responder *r, struct event_base *base, SSL_CTX *sctx)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(r, 0, sizeof(*r));
	r->base = base;
	r->sctx = sctx;
	r->banner = "220 mx.example.test ESMTP test\r\n";
	r->ehlo = "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n"
		  "250-8BITMIME\r\n250 STARTTLS\r\n";
	buf_init(&r->transcript, 0);
	buf_init(&r->data, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(r->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(r->lfd, 4), 0);
	assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&sin, &len), 0);
	r->port = ntohs(sin.sin_port);
	r->lev = event_new(base, r->lfd, EV_READ | EV_PERSIST, rsp_accept_cb, r);
	event_add(r->lev, NULL);
}

static void rsp_fini(struct responder *r)
{
	if (r->drip_ev != NULL)
		event_free(r->drip_ev);
	event_free(r->lev);
	close(r->lfd);
	conn_free(r->c);
	buf_free(&r->transcript);
	buf_free(&r->data);
}

/* ---- fixtures ---- */

struct fixture {
	EVP_PKEY *key;
	X509 *leaf;
	SSL_CTX *sctx, *cctx;
	unsigned char spki[32], wrong[32];
	struct tlsa_rr good, bad;
};

static struct fixture F;

static int setup(void **state)
{
	char err[256];
	(void)state;
	F.key = cc_key(0);
	F.leaf = cc_cert(F.key, "mx.example.test", 0, NULL, NULL, -1, 30);
	F.sctx = cc_server_ctx(NULL, F.leaf, F.key, NULL);
	F.cctx = tls_client_ctx_new(NULL, err, sizeof(err));
	assert_non_null(F.cctx);
	cc_spki_sha256(F.leaf, F.spki);
	memcpy(F.wrong, F.spki, 32);
	F.wrong[31] ^= 1;
	F.good = (struct tlsa_rr){3, 1, 1, 32, F.spki};
	F.bad = (struct tlsa_rr){3, 1, 1, 32, F.wrong};
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(F.leaf);
	EVP_PKEY_free(F.key);
	SSL_CTX_free(F.sctx);
	SSL_CTX_free(F.cctx);
	return 0;
}

struct outcome {
	struct event_base *base;
	int done;
	struct smtp_client_result res;   /* copied; rcpt pointer not valid after free */
	struct smtp_rcpt_result rcpt[4];
};

static void done_cb(struct smtp_client *sc, const struct smtp_client_result *res, void *arg)
{
	struct outcome *o = arg;

	o->done++;
	o->res = *res;
	for (size_t i = 0; i < res->nrcpts && i < 4; i++)
		o->rcpt[i] = res->rcpt[i];
	o->res.rcpt = NULL;
	smtp_client_free(sc);   /* allowed from the callback */
	event_base_loopbreak(o->base);
}

static void params_for(struct smtp_client_params *p, const struct responder *r,
		       enum smtp_tls_req tls, const struct tlsa_rr *rr)
{
	smtp_client_defaults(p);
	p->addr.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &p->addr.u.v4);
	strcpy(p->addr.text, "127.0.0.1");
	p->port = r->port;
	p->helo_name = "client.test";
	p->tls = tls;
	p->ssl_ctx = F.cctx;
	p->tlsa = rr;
	p->ntlsa = rr != NULL;
	p->tlsa_base = "mx.example.test";
	p->to.banner_ms = p->to.ehlo_ms = p->to.tls_ms = p->to.quit_ms = 2000;
	p->to.mail_ms = p->to.rcpt_ms = p->to.data_ms = p->to.data_done_ms = 2000;
}

/* Run the loop until the session reports (or 5 s pass). */
static void run(struct event_base *base, const struct smtp_client_params *p, struct outcome *o)
{
	struct timeval limit = {5, 0};
	char err[256];
	struct smtp_client *sc;

	memset(o, 0, sizeof(*o));
	o->base = base;
	sc = smtp_client_start(base, p, done_cb, o, err, sizeof(err));
	if (sc == NULL)
		fail_msg("start: %s", err);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(o->done, 1);
	/* let the responder see the last bytes */
	limit.tv_sec = 0;
	limit.tv_usec = 50000;
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
}

#define EXPECT(o, cat, st)                                                                  \
	do {                                                                                \
		if ((o)->res.fail != (cat) || (o)->res.stage != (st))                       \
			fail_msg("got %s at %s (%s), want %s at %s",                        \
				 smtp_fail_name((o)->res.fail), smtp_state_name((o)->res.stage), \
				 (o)->res.reason, smtp_fail_name(cat), smtp_state_name(st));  \
	} while (0)

struct env {
	struct event_base *base;
	struct responder r;
	struct smtp_client_params p;
	struct outcome o;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));

	e->base = event_base_new();
	rsp_init(&e->r, e->base, F.sctx);
	return e;
}

static void env_free(struct env *e)
{
	rsp_fini(&e->r);
	event_base_free(e->base);
	free(e);
}

static void test_probe_dane_verified(void **state)
{
	struct env *e = env_new();
	(void)state;
	params_for(&e->p, &e->r, SMTP_TLS_DANE, &F.good);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_NONE, SMTP_ST_QUIT);
	assert_true(e->o.res.tls && e->o.res.dane_checked && e->o.res.ehlo2_ok);
	assert_int_equal(e->o.res.dane.status, DANE_STATUS_VERIFIED);
	assert_int_equal(e->o.res.dane.depth, 0);
	assert_int_equal(e->o.res.dane.match_index, 0);
	assert_true(e->o.res.starttls_offered);
	assert_int_equal(e->o.res.ehlo.size_max, 100000);
	assert_string_equal(e->o.res.banner, "220 mx.example.test ESMTP test");
	assert_int_equal(e->o.res.tls_facts.nchain, 1);
	assert_string_equal(e->o.res.tls_facts.chain[0].sans, "mx.example.test");
	assert_string_equal(buf_cstr(&e->r.transcript), "EHLO|STARTTLS|[tls]|EHLO|QUIT|");
	env_free(e);
}

static void test_dane_mismatch_no_mail(void **state)
{
	struct env *e = env_new();
	const char *rcpts[] = {"user@example.test"};
	(void)state;
	params_for(&e->p, &e->r, SMTP_TLS_DANE, &F.bad);
	e->p.mode = SMTP_MODE_DELIVER;
	e->p.mail_from = "sender@client.test";
	e->p.rcpts = rcpts;
	e->p.nrcpts = 1;
	e->p.msg = "Subject: x\n\nhello\n";
	e->p.msg_len = strlen(e->p.msg);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_DANE, SMTP_ST_TLS);
	assert_int_equal(e->o.res.dane.status, DANE_STATUS_NO_MATCH);
	assert_non_null(strstr(e->o.res.reason, "DANE authentication failed: no TLSA record"));
	assert_false(e->o.res.delivered);
	/* after the failed check only QUIT went over the wire: no EHLO, no MAIL */
	assert_string_equal(buf_cstr(&e->r.transcript), "EHLO|STARTTLS|[tls]|QUIT|");
	env_free(e);
}

static void test_starttls_missing(void **state)
{
	struct env *e = env_new();
	(void)state;
	e->r.ehlo = "250-mx.example.test\r\n250 PIPELINING\r\n";
	params_for(&e->p, &e->r, SMTP_TLS_DANE, &F.good);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_DANE, SMTP_ST_EHLO);
	assert_false(e->o.res.starttls_offered);
	assert_string_equal(e->o.res.reason, "STARTTLS not offered, but TLS is required (dane)");
	assert_string_equal(buf_cstr(&e->r.transcript), "EHLO|QUIT|");
	/* encrypt: category tls; may: plaintext is fine */
	params_for(&e->p, &e->r, SMTP_TLS_ENCRYPT, NULL);
	buf_reset(&e->r.transcript);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_TLS, SMTP_ST_EHLO);
	params_for(&e->p, &e->r, SMTP_TLS_MAY, NULL);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_NONE, SMTP_ST_QUIT);
	assert_false(e->o.res.tls);
	env_free(e);
}

static void test_stall_times_out(void **state)
{
	struct env *e = env_new();
	(void)state;
	e->r.banner = NULL;
	params_for(&e->p, &e->r, SMTP_TLS_MAY, NULL);
	e->p.to.banner_ms = 300;
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_TIMEOUT, SMTP_ST_BANNER);
	assert_true(e->o.res.total_ms >= 250 && e->o.res.total_ms < 1500);
	assert_non_null(strstr(e->o.res.reason, "timeout in state banner"));
	env_free(e);
}

/* Progress is not an excuse: a byte every 50 ms still ends at the phase deadline. */
static void test_drip_hits_deadline(void **state)
{
	struct env *e = env_new();
	(void)state;
	e->r.drip = 1;
	params_for(&e->p, &e->r, SMTP_TLS_MAY, NULL);
	e->p.to.banner_ms = 400;
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_TIMEOUT, SMTP_ST_BANNER);
	assert_true(e->o.res.total_ms >= 350 && e->o.res.total_ms < 1500);
	assert_true(e->r.drip > 5);
	env_free(e);
}

static void test_endless_banner(void **state)
{
	struct env *e = env_new();
	(void)state;
	e->r.endless_banner = 1;
	params_for(&e->p, &e->r, SMTP_TLS_MAY, NULL);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_PROTOCOL, SMTP_ST_BANNER);
	assert_non_null(strstr(e->o.res.reason, "reply line longer than"));
	assert_string_equal(buf_cstr(&e->r.transcript), "");
	env_free(e);
}

static void test_malformed_and_refused(void **state)
{
	struct env *e = env_new();
	(void)state;
	e->r.banner = "220-mx\r\n221 changed code\r\n";
	params_for(&e->p, &e->r, SMTP_TLS_MAY, NULL);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_PROTOCOL, SMTP_ST_BANNER);
	assert_string_equal(e->o.res.reason, "reply code changed inside a multi-line reply in "
			    "state banner: \"221 changed code\"");
	rsp_fini(&e->r);
	rsp_init(&e->r, e->base, F.sctx);
	e->r.banner = "554 5.7.1 go away\x1b[0m\r\n";
	params_for(&e->p, &e->r, SMTP_TLS_MAY, NULL);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_PROTOCOL, SMTP_ST_BANNER);   /* ESC in text: malformed */
	rsp_fini(&e->r);
	rsp_init(&e->r, e->base, F.sctx);
	e->r.banner = "421 4.3.2 busy\r\n";
	params_for(&e->p, &e->r, SMTP_TLS_MAY, NULL);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_REJECTED, SMTP_ST_BANNER);
	assert_true(e->o.res.temporary);
	assert_string_equal(e->o.res.reason, "server refused the session: 421 4.3.2 busy");
	env_free(e);
}

static void test_ehlo_refused(void **state)
{
	struct env *e = env_new();
	(void)state;
	e->r.ehlo = "502 5.5.1 no EHLO here\r\n";
	params_for(&e->p, &e->r, SMTP_TLS_MAY, NULL);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_NONE, SMTP_ST_QUIT);
	assert_true(e->o.res.used_helo);
	assert_string_equal(buf_cstr(&e->r.transcript), "EHLO|HELO|QUIT|");
	buf_reset(&e->r.transcript);
	params_for(&e->p, &e->r, SMTP_TLS_DANE, &F.good);
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_DANE, SMTP_ST_EHLO);
	assert_string_equal(buf_cstr(&e->r.transcript), "EHLO|QUIT|");
	env_free(e);
}

static void test_injection_discarded(void **state)
{
	struct env *e = env_new();
	(void)state;
	e->r.starttls = "220 2.0.0 go\r\n250 injected\r\n";
	params_for(&e->p, &e->r, SMTP_TLS_DANE, &F.good);
	/* the responder only upgrades on a plain 220 prefix; it does here */
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_NONE, SMTP_ST_QUIT);
	assert_int_equal(e->o.res.plaintext_discarded, strlen("250 injected\r\n"));
	assert_int_equal(e->o.res.dane.status, DANE_STATUS_VERIFIED);
	env_free(e);
}

static const char MSG[] = "Subject: dots\n\n.leading dot\nline\r\n..two\n.\nlast";
static const char WANT_DATA[] =
	"Subject: dots\r\n\r\n..leading dot\r\nline\r\n...two\r\n..\r\nlast\r\n.\r\n";

static void deliver(struct env *e, const char *const *rcpts, size_t n, const char *msg)
{
	params_for(&e->p, &e->r, SMTP_TLS_DANE, &F.good);
	e->p.mode = SMTP_MODE_DELIVER;
	e->p.mail_from = "sender@client.test";
	e->p.rcpts = rcpts;
	e->p.nrcpts = n;
	e->p.msg = msg;
	e->p.msg_len = strlen(msg);
	run(e->base, &e->p, &e->o);
}

static void test_deliver_dotstuffed(void **state)
{
	const char *rcpts[] = {"a@example.test", "bad@example.test", "b@example.test"};
	struct env *e = env_new();
	(void)state;

	/* pipelined */
	deliver(e, rcpts, 3, MSG);
	EXPECT(&e->o, SMTP_FAIL_NONE, SMTP_ST_QUIT);
	assert_true(e->o.res.delivered);
	assert_int_equal(e->o.res.final_code, 250);
	assert_int_equal(e->o.res.rcpts_accepted, 2);
	assert_int_equal(e->o.rcpt[1].code, 550);
	assert_string_equal(e->o.rcpt[1].enh, "5.1.1");
	assert_string_equal(e->o.rcpt[1].reply, "550 5.1.1 no such user");
	assert_true(e->o.rcpt[0].accepted && e->o.rcpt[2].accepted);
	assert_string_equal(buf_cstr(&e->r.data), WANT_DATA);
	assert_string_equal(buf_cstr(&e->r.transcript),
			    "EHLO|STARTTLS|[tls]|EHLO|MAIL|RCPT|RCPT|RCPT|DATA|.|QUIT|");

	/* not pipelined: same bytes, one command at a time */
	rsp_fini(&e->r);
	rsp_init(&e->r, e->base, F.sctx);
	e->r.ehlo = "250-mx.example.test\r\n250 STARTTLS\r\n";
	e->r.ehlo2 = "250-mx.example.test\r\n250 8BITMIME\r\n";
	deliver(e, rcpts, 3, MSG);
	EXPECT(&e->o, SMTP_FAIL_NONE, SMTP_ST_QUIT);
	assert_true(e->o.res.delivered);
	assert_string_equal(buf_cstr(&e->r.data), WANT_DATA);
	env_free(e);
}

static void test_deliver_refusals(void **state)
{
	const char *bad[] = {"bad@example.test"}, *good[] = {"a@example.test"};
	struct env *e = env_new();
	(void)state;

	/* every recipient refused: no DATA content goes out (pipelined DATA gets "." only) */
	deliver(e, bad, 1, "hi\n");
	EXPECT(&e->o, SMTP_FAIL_REJECTED, SMTP_ST_RCPT);
	assert_false(e->o.res.delivered);
	assert_string_equal(buf_cstr(&e->r.data), ".\r\n");

	/* SIZE smaller than the message: refused before MAIL */
	rsp_fini(&e->r);
	rsp_init(&e->r, e->base, F.sctx);
	e->r.ehlo = "250-mx\r\n250-SIZE 10\r\n250 STARTTLS\r\n";
	deliver(e, good, 1, "Subject: more than ten bytes\n\nbody\n");
	EXPECT(&e->o, SMTP_FAIL_REJECTED, SMTP_ST_EHLO2);
	assert_non_null(strstr(e->o.res.reason, "exceeds the server's SIZE limit of 10 bytes"));
	assert_null(strstr(buf_cstr(&e->r.transcript), "MAIL"));

	/* 8-bit message to a server without 8BITMIME: refused, not mangled */
	rsp_fini(&e->r);
	rsp_init(&e->r, e->base, F.sctx);
	e->r.ehlo = "250-mx\r\n250 STARTTLS\r\n";
	deliver(e, good, 1, "Subject: caf\xc3\xa9\n\n\xc3\xa9\n");
	EXPECT(&e->o, SMTP_FAIL_REJECTED, SMTP_ST_EHLO2);
	assert_non_null(strstr(e->o.res.reason, "RFC 6152"));
	assert_null(strstr(buf_cstr(&e->r.transcript), "MAIL"));

	/* connection dropped after the final dot: not delivered */
	rsp_fini(&e->r);
	rsp_init(&e->r, e->base, F.sctx);
	e->r.drop_after_data = 1;
	deliver(e, good, 1, "Subject: x\n\nbody\n");
	EXPECT(&e->o, SMTP_FAIL_CONNECT, SMTP_ST_BODY);
	assert_false(e->o.res.delivered);
	/* over TLS the drop is an EOF without close_notify; either way: */
	assert_true(strncmp(e->o.res.reason, "connection lost after DATA: message not delivered",
			    49) == 0);

	/* no answer to the final dot: a timeout, not a delivery */
	rsp_fini(&e->r);
	rsp_init(&e->r, e->base, F.sctx);
	e->r.silent_after_data = 1;
	params_for(&e->p, &e->r, SMTP_TLS_DANE, &F.good);
	e->p.mode = SMTP_MODE_DELIVER;
	e->p.mail_from = "";
	e->p.rcpts = good;
	e->p.nrcpts = 1;
	e->p.msg = "Subject: x\n\nbody\n";
	e->p.msg_len = strlen(e->p.msg);
	e->p.to.data_done_ms = 300;
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_TIMEOUT, SMTP_ST_BODY);
	assert_false(e->o.res.delivered);
	assert_non_null(strstr(e->o.res.reason, "limit 300 ms"));
	env_free(e);
}

/* A loopback port nobody listens on: bound, read back, closed. */
static uint16_t closed_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void test_deliver_smtputf8(void **state)
{
	const char *rcpts[] = {"j\xc3\xb6rg@example.test"};
	struct env *e = env_new();
	(void)state;

	deliver(e, rcpts, 1, "Subject: x\n\nbody\n");
	EXPECT(&e->o, SMTP_FAIL_REJECTED, SMTP_ST_EHLO2);
	assert_non_null(strstr(e->o.res.reason, "SMTPUTF8 (RFC 6531)"));
	assert_string_equal(e->r.mail_line, "");

	rsp_fini(&e->r);
	rsp_init(&e->r, e->base, F.sctx);
	e->r.ehlo = "250-mx\r\n250-SIZE\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n";
	deliver(e, rcpts, 1, "Subject: x\n\nbody\n");
	EXPECT(&e->o, SMTP_FAIL_NONE, SMTP_ST_QUIT);
	assert_true(e->o.res.delivered);
	/* SIZE counts the message as sent: CRLF line ends (17 bytes with LF -> 20) */
	assert_string_equal(e->r.mail_line, "MAIL FROM:<sender@client.test> SIZE=20 SMTPUTF8");
	env_free(e);
}

static void test_connect_refused_and_params(void **state)
{
	struct env *e = env_new();
	struct smtp_client_params p;
	char err[128];
	(void)state;

	params_for(&e->p, &e->r, SMTP_TLS_MAY, NULL);
	e->p.port = closed_port();
	run(e->base, &e->p, &e->o);
	EXPECT(&e->o, SMTP_FAIL_CONNECT, SMTP_ST_CONNECT);
	assert_non_null(strstr(e->o.res.reason, "refused"));

	params_for(&p, &e->r, SMTP_TLS_DANE, NULL);
	assert_null(smtp_client_start(e->base, &p, done_cb, NULL, err, sizeof(err)));
	assert_string_equal(err, "smtp client: DANE requested without TLSA records or base domain");
	params_for(&p, &e->r, SMTP_TLS_MAY, NULL);
	p.mode = SMTP_MODE_DELIVER;
	p.mail_from = "a@b";
	const char *evil[] = {"x@y>\r\nRCPT TO:<z@w"};
	p.rcpts = evil;
	p.nrcpts = 1;
	p.msg = "m";
	p.msg_len = 1;
	assert_null(smtp_client_start(e->base, &p, done_cb, NULL, err, sizeof(err)));
	assert_string_equal(err, "smtp client: bad recipient address");
	env_free(e);
}

static void test_dotstuff_table(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"", ".\r\n"},
		{"a", "a\r\n.\r\n"},
		{"a\n", "a\r\n.\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{".", "..\r\n.\r\n"},
		{"\n.\n", "\r\n..\r\n.\r\n"},
		{"x.y\n.z", "x.y\r\n..z\r\n.\r\n"},
		{"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT(0);
		assert_int_equal(smtp_dotstuff(cases[i].in, strlen(cases[i].in), &b), BUF_OK);
		if (strcmp(buf_cstr(&b), cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, buf_cstr(&b));
		buf_free(&b);
	}
	assert_true(smtp_msg_is_8bit("a\x80", 2));
	assert_false(smtp_msg_is_8bit("abc\n", 4));
}

int main(void)
{
	if (getenv("DANEMX_TEST_TRACE") != NULL)   /* exercise the trace lines */
		log_set_level(LOG_LVL_TRACE);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dotstuff_table),
		cmocka_unit_test(test_probe_dane_verified),
		cmocka_unit_test(test_dane_mismatch_no_mail),
		cmocka_unit_test(test_starttls_missing),
		cmocka_unit_test(test_stall_times_out),
		cmocka_unit_test(test_drip_hits_deadline),
		cmocka_unit_test(test_endless_banner),
		cmocka_unit_test(test_malformed_and_refused),
		cmocka_unit_test(test_ehlo_refused),
		cmocka_unit_test(test_injection_discarded),
		cmocka_unit_test(test_deliver_dotstuffed),
		cmocka_unit_test(test_deliver_refusals),
		cmocka_unit_test(test_deliver_smtputf8),
		cmocka_unit_test(test_connect_refused_and_params),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Interop test: the SMTP client engine against the SMTP server engine (src/smtp/server)
 * on one event loop, with lab certificates (src/lab/certs): a server holding an ECDSA and
 * an RSA chain is probed once per key type with DANE-EE and DANE-TA records made by
 * tlsa_from_cert(), and a dot-heavy message is delivered and compared with the Maildir.
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
#include <dirent.h>

#include <event2/event.h>

#include "dane/tlsa.h"
#include "lab/certs.h"
#include "smtp/client.h"
#include "smtp/server.h"

struct fix {
	char dir[64], md[128];
	struct lab_pki pki;
	struct lab_leaf ec, rsa;
	struct tlsa_rr ee_ec, ee_rsa, ta_inter;
	struct event_base *base;
	struct smtp_server *srv;
	unsigned port, port6;
	SSL_CTX *cctx;
};

static struct fix F;

static void make_rr(X509 *x, uint8_t usage, struct tlsa_rr *rr)
{
	char err[256];
	assert_int_equal(tlsa_from_cert(x, usage, 1, 1, rr, err, sizeof(err)), 0);
}

static int setup(void **state)
{
	const char *listen[] = {"127.0.0.1:0", "[::1]:0"};
	struct smtp_server_params sp;
	char err[256];
	(void)state;

	snprintf(F.dir, sizeof(F.dir), "/tmp/danemx-cli-XXXXXX");
	assert_non_null(mkdtemp(F.dir));
	snprintf(F.md, sizeof(F.md), "%s/md", F.dir);
	assert_int_equal(lab_pki_create(&F.pki, err, sizeof(err)), 0);
	assert_int_equal(lab_leaf_create(&F.pki, "mx.example.test", 0, &F.ec, err, sizeof(err)), 0);
	assert_int_equal(lab_leaf_create(&F.pki, "mx.example.test", LAB_LEAF_RSA, &F.rsa, err,
					 sizeof(err)), 0);
	assert_int_equal(lab_leaf_write(&F.ec, F.dir, "ec", err, sizeof(err)), 0);
	assert_int_equal(lab_leaf_write(&F.rsa, F.dir, "rsa", err, sizeof(err)), 0);
	make_rr(F.ec.cert, 3, &F.ee_ec);
	make_rr(F.rsa.cert, 3, &F.ee_rsa);
	make_rr(F.pki.inter, 2, &F.ta_inter);

	memset(&sp, 0, sizeof(sp));
	sp.listen = listen;
	sp.nlisten = 2;
	sp.cert_files[0] = F.ec.chain_path;
	sp.key_files[0] = F.ec.key_path;
	sp.cert_files[1] = F.rsa.chain_path;
	sp.key_files[1] = F.rsa.key_path;
	sp.maildir = F.md;
	sp.hostname = "mx.example.test";
	sp.starttls = 1;
	F.base = event_base_new();
	F.srv = smtp_server_new(F.base, &sp, err, sizeof(err));
	if (F.srv == NULL)
		fail_msg("smtp_server_new: %s", err);
	F.port = smtp_server_port(F.srv, 0);
	F.port6 = smtp_server_port(F.srv, 1);
	F.cctx = tls_client_ctx_new(NULL, err, sizeof(err));
	assert_non_null(F.cctx);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	smtp_server_free(F.srv);
	event_base_free(F.base);
	SSL_CTX_free(F.cctx);
	tlsa_rr_free(&F.ee_ec);
	tlsa_rr_free(&F.ee_rsa);
	tlsa_rr_free(&F.ta_inter);
	lab_leaf_free(&F.ec);
	lab_leaf_free(&F.rsa);
	lab_pki_free(&F.pki);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct outcome {
	int done;
	struct smtp_client_result res;
};

static void done_cb(struct smtp_client *sc, const struct smtp_client_result *res, void *arg)
{
	struct outcome *o = arg;

	o->done = 1;
	o->res = *res;
	o->res.rcpt = NULL;
	smtp_client_free(sc);
	event_base_loopbreak(F.base);
}

static void params(struct smtp_client_params *p, enum tls_keytype kt, const struct tlsa_rr *rr)
{
	static const char *names[] = {"mx.example.test", "example.test"};

	smtp_client_defaults(p);
	p->addr.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &p->addr.u.v4);
	strcpy(p->addr.text, "127.0.0.1");
	p->port = (uint16_t)F.port;
	p->helo_name = "client.test";
	p->tls = SMTP_TLS_DANE;
	p->ssl_ctx = F.cctx;
	p->keytype = kt;
	p->tlsa = rr;
	p->ntlsa = 1;
	p->tlsa_base = "mx.example.test.";
	p->refnames = names;
	p->nrefnames = 2;
	p->to.quit_ms = 2000;
}

static void run(const struct smtp_client_params *p, struct outcome *o)
{
	struct timeval limit = {10, 0};
	char err[256];

	memset(o, 0, sizeof(*o));
	if (smtp_client_start(F.base, p, done_cb, o, err, sizeof(err)) == NULL)
		fail_msg("start: %s", err);
	event_base_loopexit(F.base, &limit);
	event_base_dispatch(F.base);
	assert_true(o->done);
}

static void test_probe_per_keytype(void **state)
{
	static const struct {
		enum tls_keytype kt;
		int rr;           /* 0 ee_ec, 1 ee_rsa, 2 ta_inter */
		enum smtp_fail want;
		const char *key;
		int depth;
	} cases[] = {
		{TLS_KEYTYPE_ECDSA, 0, SMTP_FAIL_NONE, "EC", 0},
		{TLS_KEYTYPE_RSA, 1, SMTP_FAIL_NONE, "RSA", 0},
		{TLS_KEYTYPE_RSA, 0, SMTP_FAIL_DANE, "RSA", -1},   /* EC record, RSA cert */
		{TLS_KEYTYPE_ECDSA, 1, SMTP_FAIL_DANE, "EC", -1},
		{TLS_KEYTYPE_ECDSA, 2, SMTP_FAIL_NONE, "EC", 1},   /* DANE-TA on the intermediate */
		{TLS_KEYTYPE_RSA, 2, SMTP_FAIL_NONE, "RSA", 1},
	};
	const struct tlsa_rr *rrs[] = {&F.ee_ec, &F.ee_rsa, &F.ta_inter};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_client_params p;
		struct outcome o;

		params(&p, cases[i].kt, rrs[cases[i].rr]);
		run(&p, &o);
		if (o.res.fail != cases[i].want || o.res.dane.depth != cases[i].depth ||
		    strcmp(o.res.tls_facts.chain[0].key_type, cases[i].key) != 0)
			fail_msg("case %zu: got %s depth %d key %s (%s)", i, smtp_fail_name(o.res.fail),
				 o.res.dane.depth, o.res.tls_facts.chain[0].key_type, o.res.reason);
		assert_true(o.res.ehlo.flags & EHLO_STARTTLS);
		if (cases[i].want == SMTP_FAIL_NONE)
			assert_true(o.res.ehlo2_ok && !(o.res.ehlo2.flags & EHLO_STARTTLS));
	}
}

static void test_probe_ipv6(void **state)
{
	struct smtp_client_params p;
	struct outcome o;
	(void)state;

	params(&p, TLS_KEYTYPE_ANY, &F.ee_ec);
	memset(&p.addr, 0, sizeof(p.addr));
	p.addr.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::1", &p.addr.u.v6), 1);
	strcpy(p.addr.text, "::1");
	p.port = (uint16_t)F.port6;
	run(&p, &o);
	if (o.res.fail != SMTP_FAIL_NONE)
		fail_msg("%s: %s", smtp_fail_name(o.res.fail), o.res.reason);
	assert_int_equal(o.res.dane.status, DANE_STATUS_VERIFIED);
	assert_non_null(strstr(o.res.peer, "[::1]:"));
}

/* The one file in maildir/new without the server's Received: header. */
static void stored_message(char *out, size_t outlen)
{
	char path[512], line[2048];
	struct dirent *de;
	DIR *d;
	FILE *fp;
	int n = 0, inhdr = 1;

	snprintf(path, sizeof(path), "%s/new", F.md);
	assert_non_null(d = opendir(path));
	out[0] = '\0';
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		snprintf(path, sizeof(path), "%s/new/%s", F.md, de->d_name);
		assert_non_null(fp = fopen(path, "r"));
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (inhdr && (strncmp(line, "Received:", 9) == 0 || line[0] == '\t' ||
				      line[0] == ' '))
				continue;
			inhdr = 0;
			strncat(out, line, outlen - strlen(out) - 1);
		}
		fclose(fp);
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static void test_deliver_into_maildir(void **state)
{
	static const char msg[] = "Subject: dots\n\n.leading dot\n..two\n.\n\ncaf\xc3\xa9\nlast\n";
	const char *rcpts[] = {"user@example.test"};
	struct smtp_client_params p;
	struct outcome o;
	char stored[4096];
	(void)state;

	params(&p, TLS_KEYTYPE_ANY, &F.ee_ec);
	p.mode = SMTP_MODE_DELIVER;
	p.mail_from = "sender@client.test";
	p.rcpts = rcpts;
	p.nrcpts = 1;
	p.msg = msg;
	p.msg_len = strlen(msg);
	run(&p, &o);
	if (o.res.fail != SMTP_FAIL_NONE || !o.res.delivered)
		fail_msg("not delivered: %s: %s", smtp_fail_name(o.res.fail), o.res.reason);
	assert_int_equal(o.res.final_code, 250);
	assert_int_equal(o.res.dane.status, DANE_STATUS_VERIFIED);
	stored_message(stored, sizeof(stored));
	assert_string_equal(stored, msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_per_keytype),
		cmocka_unit_test(test_probe_ipv6),
		cmocka_unit_test(test_deliver_into_maildir),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

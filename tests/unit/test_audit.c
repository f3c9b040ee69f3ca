/* Unit tests for src/engine/audit: digest correspondence of every selector/matching type
 * (records computed by dane/tlsa from the same certificate must match the chain facts,
 * a flipped bit must not), bare keys, candidate records, and the findings of audit_run on
 * a hand-built check result: matching, stale, PKIX, Full(0), 3 0 x, long TTL, expiring
 * RRSIG, a --next key that is or is not covered, and OpenSSL's own match counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dane/tlsa.h"
#include "engine/audit.h"
#include "engine/check.h"
#include "smtp/client.h"
#include "testcert.h"

struct fx {
	EVP_PKEY *cakey, *key, *next;
	X509 *ca, *leaf;
};

static struct fx F;

static int setup(void **state)
{
	(void)state;
	F.cakey = tc_key();
	F.key = tc_key();
	F.next = tc_key();
	F.ca = tc_cert(F.cakey, "audit test CA", NULL, NULL, 1);
	F.leaf = tc_cert(F.key, "mx.audit.test", F.ca, F.cakey, 0);
	return F.ca != NULL && F.leaf != NULL && F.next != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(F.leaf);
	X509_free(F.ca);
	EVP_PKEY_free(F.cakey);
	EVP_PKEY_free(F.key);
	EVP_PKEY_free(F.next);
	return 0;
}

static struct tlsa_rr rec(X509 *x, EVP_PKEY *k, uint8_t u, uint8_t s, uint8_t m)
{
	struct tlsa_rr rr;

	if (x != NULL)
		assert_int_equal(tlsa_from_cert(x, u, s, m, &rr, NULL, 0), TLSA_OK);
	else
		assert_int_equal(tlsa_from_pkey(k, u, s, m, &rr, NULL, 0), TLSA_OK);
	return rr;
}

static void test_digests_every_form(void **state)
{
	struct audit_digests leaf, ca;

	(void)state;
	assert_int_equal(audit_digests_from_cert(F.leaf, &leaf), 0);
	assert_int_equal(audit_digests_from_cert(F.ca, &ca), 0);
	for (uint8_t s = 0; s <= 1; s++)
		for (uint8_t m = 0; m <= 2; m++) {
			struct tlsa_rr rr = rec(F.leaf, NULL, 3, s, m);
			assert_true(audit_rr_matches(&rr, &leaf));
			assert_false(audit_rr_matches(&rr, &ca));
			rr.data[rr.len - 1] ^= 1;
			assert_false(audit_rr_matches(&rr, &leaf));
			tlsa_rr_free(&rr);
		}
}

static void test_bare_key(void **state)
{
	struct audit_digests d;
	struct tlsa_rr spki = rec(F.leaf, NULL, 3, 1, 2), cert = rec(F.leaf, NULL, 3, 0, 1);
	struct tlsa_rr other = rec(NULL, F.next, 3, 1, 1), bad = {3, 2, 1, 0, NULL};

	(void)state;
	assert_int_equal(audit_digests_from_pkey(F.key, &d), 0);
	assert_true(audit_rr_matches(&spki, &d));
	assert_false(audit_rr_matches(&cert, &d)); /* a key alone has no certificate */
	assert_false(audit_rr_matches(&other, &d));
	assert_false(audit_rr_matches(&bad, &d));
	tlsa_rr_free(&spki);
	tlsa_rr_free(&cert);
	tlsa_rr_free(&other);
}

static void test_candidates(void **state)
{
	struct cert_facts c;
	struct tlsa_rr out[4], want = rec(F.leaf, NULL, 3, 1, 1);
	size_t n;

	(void)state;
	assert_int_equal(chain_cert_facts(F.leaf, &c), 0);
	n = audit_candidates(&c, 0, out, 4);
	assert_int_equal(n, 3);
	assert_true(tlsa_rr_equal(&out[0], &want));
	assert_int_equal(out[1].mtype, 2);
	assert_int_equal(out[2].selector, 0);
	n = audit_candidates(&c, 1, out, 4);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].usage, 2);
	assert_int_equal(out[1].usage, 2);
	assert_int_equal(audit_candidates(&c, 0, out, 1), 1);
	tlsa_rr_free(&want);
}

/* One host, one address, one probe whose chain is leaf + CA, and these records. */
static struct check_result *result_with(const struct tlsa_rr *rrs, size_t n, uint32_t ttl, time_t sig)
{
	struct check_result *res = calloc(1, sizeof(*res));
	struct check_host *h;
	struct smtp_client_result *c;

	assert_non_null(res);
	strcpy(res->domain, "audit.test");
	res->v = VERDICT_VERIFIED;
	res->nhosts = 1;
	res->hosts = h = calloc(1, sizeof(*h));
	strcpy(h->name, "mx.audit.test");
	h->v = VERDICT_VERIFIED;
	h->tlsa_lookup.done = 1;
	h->tlsa_lookup.sec = DNS_SEC_SECURE;
	strcpy(h->tlsa_lookup.qname, "_25._tcp.mx.audit.test");
	h->tlsa_lookup.ttl = ttl;
	h->tlsa_lookup.sig_expire = sig;
	h->tlsa = calloc(n, sizeof(*h->tlsa));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(tlsa_rr_copy(&h->tlsa[i].rr, &rrs[i]), TLSA_OK);
		h->tlsa[i].usable = rrs[i].usage >= 2;
		h->ntlsa_usable += h->tlsa[i].usable;
	}
	h->ntlsa = n;
	h->naddrs = 1;
	h->addrs = calloc(1, sizeof(*h->addrs));
	strcpy(h->addrs[0].addr.text, "192.0.2.1");
	h->addrs[0].nprobes = 1;
	h->addrs[0].probes[0].key_type = "ecdsa";
	h->addrs[0].probes[0].client = c = calloc(1, sizeof(*c));
	c->tls = 1;
	c->tls_facts.nchain = c->tls_facts.ntotal = 2;
	chain_cert_facts(F.leaf, &c->tls_facts.chain[0]);
	chain_cert_facts(F.ca, &c->tls_facts.chain[1]);
	return res;
}

static size_t count_code(const struct audit_report *r, const char *code, enum audit_sev sev)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nf; i++)
		n += strcmp(r->f[i].code, code) == 0 && r->f[i].sev == sev;
	return n;
}

static void test_clean(void **state)
{
	struct tlsa_rr rrs[2] = {rec(F.leaf, NULL, 3, 1, 1), rec(F.ca, NULL, 2, 1, 1)};
	struct check_result *res = result_with(rrs, 2, 300, time(NULL) + 30 * 86400);
	struct audit_params p = {time(NULL), 3600, 7 * 86400, NULL, 0};
	struct audit_report *r = NULL;

	(void)state;
	assert_int_equal(audit_run(res, &p, &r), 0);
	assert_int_equal(r->sev, AUDIT_OK);
	assert_int_equal(r->nf, 0);
	assert_int_equal(r->hosts[0].recs[0].state, AUDIT_REC_MATCHES);
	assert_int_equal(r->hosts[0].recs[1].state, AUDIT_REC_MATCHES);
	assert_non_null(strstr(r->hosts[0].recs[1].where, "issuer at 192.0.2.1"));
	audit_report_free(r);
	check_result_free(res);
	tlsa_rr_free(&rrs[0]);
	tlsa_rr_free(&rrs[1]);
}

static void test_problems(void **state)
{
	struct tlsa_rr rrs[5] = {rec(F.leaf, NULL, 3, 1, 1), rec(NULL, F.next, 3, 1, 1),
				 rec(F.leaf, NULL, 1, 1, 1), rec(F.leaf, NULL, 3, 0, 0),
				 rec(F.leaf, NULL, 2, 1, 1)};
	struct check_result *res = result_with(rrs, 5, 86400, time(NULL) + 2 * 86400);
	struct audit_params p = {time(NULL), 3600, 7 * 86400, NULL, 0};
	struct audit_report *r = NULL;

	(void)state;
	assert_int_equal(audit_run(res, &p, &r), 0);
	assert_int_equal(r->sev, AUDIT_WARNING);
	assert_int_equal(count_code(r, "stale-record", AUDIT_WARNING), 1);
	assert_int_equal(count_code(r, "pkix-usage", AUDIT_WARNING), 1);
	assert_int_equal(count_code(r, "full-data", AUDIT_WARNING), 1);
	assert_int_equal(count_code(r, "cert-selector", AUDIT_WARNING), 1);
	assert_int_equal(count_code(r, "stale-ta", AUDIT_WARNING), 1); /* 2 x x for the leaf */
	assert_int_equal(count_code(r, "ttl-long", AUDIT_WARNING), 1);
	assert_int_equal(count_code(r, "rrsig-soon", AUDIT_WARNING), 1);
	assert_int_equal(r->hosts[0].recs[1].state, AUDIT_REC_STALE);
	assert_int_equal(r->hosts[0].recs[2].state, AUDIT_REC_UNUSABLE);
	assert_int_equal(r->hosts[0].recs[3].state, AUDIT_REC_MATCHES);
	audit_report_free(r);
	check_result_free(res);
	for (int i = 0; i < 5; i++)
		tlsa_rr_free(&rrs[i]);
}

/* A 2 1 0 for a key the server does not send can still authenticate (OpenSSL takes the key
 * from the record): what OpenSSL matched counts as matching, digests or not. */
static void test_openssl_match(void **state)
{
	struct tlsa_rr rrs[2] = {rec(NULL, F.key, 3, 1, 1), rec(NULL, F.next, 2, 1, 0)};
	struct check_result *res = result_with(rrs, 2, 300, 0);
	struct smtp_client_result *c = res->hosts[0].addrs[0].probes[0].client;
	struct audit_params p = {time(NULL), 3600, 7 * 86400, NULL, 0};
	struct audit_report *r = NULL;

	(void)state;
	assert_int_equal(audit_run(res, &p, &r), 0);
	assert_int_equal(r->hosts[0].recs[1].state, AUDIT_REC_STALE);
	assert_int_equal(count_code(r, "stale-ta", AUDIT_WARNING), 1);
	audit_report_free(r);
	c->dane_checked = 1;
	c->dane.status = DANE_STATUS_VERIFIED;
	c->dane.match_index = 1;
	c->dane.depth = 1;
	assert_int_equal(audit_run(res, &p, &r), 0);
	assert_int_equal(count_code(r, "stale-ta", AUDIT_WARNING), 0);
	assert_int_equal(r->nf, 1); /* only: Full(0) data */
	assert_int_equal(count_code(r, "full-data", AUDIT_WARNING), 1);
	assert_int_equal(r->hosts[0].recs[1].state, AUDIT_REC_MATCHES);
	assert_non_null(strstr(r->hosts[0].recs[1].where, "authenticated the chain at 192.0.2.1"));
	assert_int_equal(r->hosts[0].recs[0].state, AUDIT_REC_MATCHES); /* by digest */
	audit_report_free(r);
	check_result_free(res);
	tlsa_rr_free(&rrs[0]);
	tlsa_rr_free(&rrs[1]);
}

static void write_key(const char *path, EVP_PKEY *k)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
}

static void test_next(void **state)
{
	struct tlsa_rr rrs[2] = {rec(F.leaf, NULL, 3, 1, 1), rec(NULL, F.next, 3, 1, 1)};
	struct check_result *res = result_with(rrs, 2, 300, 0);
	struct audit_next *nx = calloc(2, sizeof(*nx));
	char path[] = "/tmp/danemx-audit-XXXXXX", err[256];
	struct audit_params p = {time(NULL), 3600, 7 * 86400, nx, 1};
	struct audit_report *r = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_key(path, F.next);
	assert_int_equal(audit_next_load(path, &nx[0], err, sizeof(err)), TLSA_OK);
	assert_true(nx[0].key_only);
	assert_int_equal(audit_run(res, &p, &r), 0);
	assert_int_equal(r->sev, AUDIT_OK);
	assert_int_equal(r->hosts[0].recs[1].state, AUDIT_REC_STAGED);
	assert_true(r->next_covered[0]);
	assert_int_equal(count_code(r, "next-covered", AUDIT_OK), 1);
	audit_report_free(r);
	/* a key nobody published: not covered, a warning */
	write_key(path, F.cakey);
	assert_int_equal(audit_next_load(path, &nx[1], err, sizeof(err)), TLSA_OK);
	p.next = &nx[1];
	assert_int_equal(audit_run(res, &p, &r), 0);
	assert_int_equal(r->sev, AUDIT_WARNING);
	assert_false(r->next_covered[0]);
	assert_int_equal(count_code(r, "next-uncovered", AUDIT_WARNING), 1);
	assert_int_equal(r->hosts[0].recs[1].state, AUDIT_REC_STALE);
	audit_report_free(r);
	/* not a certificate or key; a file that is not there */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(audit_next_load(path, &nx[1], err, sizeof(err)), TLSA_EFORMAT);
	unlink(path);
	assert_int_equal(audit_next_load(path, &nx[1], err, sizeof(err)), TLSA_EFILE);
	check_result_free(res);
	free(nx);
	tlsa_rr_free(&rrs[0]);
	tlsa_rr_free(&rrs[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digests_every_form),
		cmocka_unit_test(test_bare_key),
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_problems),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_openssl_match),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

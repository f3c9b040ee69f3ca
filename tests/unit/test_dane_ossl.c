/*
 * Unit tests for src/dane/dane_ossl, src/tls/tls_client and src/tls/chain: real TLS
 * handshakes in memory against certificates made per run, with OpenSSL judging the TLSA
 * records. Each case states the verdict, depth and reason it expects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clientcerts.h"
#include "dane/dane_ossl.h"
#include "dane/tlsa.h"
#include "tls/chain.h"
#include "tls/tls_client.h"

struct pki {
	EVP_PKEY *ca_key, *leaf_key, *rsa_key;
	X509 *ca;
	X509 *leaf;         /* mx.example.test, issued by ca */
	X509 *expired;      /* mx.example.test, issued by ca, expired */
	X509 *other;        /* other.test, self-signed, expired (DANE-EE ignores both) */
	X509 *rsa_leaf;     /* mx.example.test, RSA key, issued by ca */
	SSL_CTX *cctx;
};

static struct pki P;

static int setup(void **state)
{
	char err[256];
	(void)state;
	P.ca_key = cc_key(0);
	P.leaf_key = cc_key(0);
	P.rsa_key = cc_key(1);
	P.ca = cc_cert(P.ca_key, "Test CA", 1, NULL, NULL, -10, 3650);
	P.leaf = cc_cert(P.leaf_key, "mx.example.test", 0, P.ca, P.ca_key, -1, 90);
	P.expired = cc_cert(P.leaf_key, "mx.example.test", 0, P.ca, P.ca_key, -100, -10);
	P.other = cc_cert(P.leaf_key, "other.test", 0, NULL, NULL, -100, -10);
	P.rsa_leaf = cc_cert(P.rsa_key, "mx.example.test", 0, P.ca, P.ca_key, -1, 90);
	P.cctx = tls_client_ctx_new(NULL, err, sizeof(err));
	assert_non_null(P.cctx);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(P.ca);
	X509_free(P.leaf);
	X509_free(P.expired);
	X509_free(P.other);
	X509_free(P.rsa_leaf);
	EVP_PKEY_free(P.ca_key);
	EVP_PKEY_free(P.leaf_key);
	EVP_PKEY_free(P.rsa_key);
	SSL_CTX_free(P.cctx);
	return 0;
}

struct run {
	int setup_rc;
	struct dane_setup_info info;
	struct dane_outcome out;
	struct tls_facts *facts;
};

/* One handshake: server presents leaf (+ extra), client offers rrs for base + names. */
static void run_case(X509 *leaf, EVP_PKEY *key, X509 *extra, const char *base,
		     const char *const *names, size_t nnames, const struct tlsa_rr *rrs,
		     size_t nrrs, struct run *r)
{
	SSL_CTX *sctx = cc_server_ctx(NULL, leaf, key, extra);
	SSL *s = SSL_new(sctx), *c;
	char err[256] = "";

	memset(r, 0, sizeof(*r));
	c = tls_client_ssl_new(P.cctx, base, TLS_KEYTYPE_ANY, err, sizeof(err));
	assert_non_null(c);
	r->setup_rc = dane_ossl_setup(c, base, names, nnames, rrs, nrrs, &r->info, err, sizeof(err));
	assert_int_equal(cc_handshake(c, s), 0);
	dane_ossl_judge(c, rrs, nrrs, names, nnames, &r->out);
	r->facts = calloc(1, sizeof(*r->facts));
	assert_int_equal(chain_tls_facts(c, r->facts), 0);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(sctx);
}

static struct tlsa_rr rr_spki(uint8_t usage, X509 *x, unsigned char *buf)
{
	struct tlsa_rr rr = {usage, 1, 1, 32, buf};
	cc_spki_sha256(x, buf);
	return rr;
}

static void test_ee_matches_expired_other_name(void **state)
{
	unsigned char d[32];
	struct tlsa_rr rr;
	struct run r;
	(void)state;

	rr = rr_spki(3, P.other, d);
	run_case(P.other, P.leaf_key, NULL, "mx.example.test", NULL, 0, &rr, 1, &r);
	assert_int_equal(r.setup_rc, 1);
	assert_int_equal(r.out.status, DANE_STATUS_VERIFIED);
	assert_int_equal(r.out.depth, 0);
	assert_int_equal(r.out.match_index, 0);
	assert_int_equal(r.out.usage, 3);
	assert_string_equal(r.out.reason, "TLSA 3 1 1 matched at depth 0");
	/* chain facts tell the truth about what was accepted */
	assert_int_equal(r.facts->nchain, 1);
	assert_true(r.facts->chain[0].expired);
	assert_string_equal(r.facts->chain[0].sans, "other.test");
	assert_memory_equal(r.facts->chain[0].spki_sha256, d, 32);
	free(r.facts);
}

/* Every selector and matching type, computed by tlsa_from_cert(), matches where it should. */
static void test_selectors_and_mtypes(void **state)
{
	static const struct {
		uint8_t usage, selector, mtype;
		int ca;      /* record for the CA (depth 1) instead of the leaf */
	} cases[] = {
		{3, 0, 0, 0}, {3, 0, 1, 0}, {3, 0, 2, 0}, {3, 1, 0, 0}, {3, 1, 1, 0}, {3, 1, 2, 0},
		{2, 0, 0, 1}, {2, 0, 1, 1}, {2, 0, 2, 1}, {2, 1, 0, 1}, {2, 1, 1, 1}, {2, 1, 2, 1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tlsa_rr rr;
		struct run r;
		char err[256];

		assert_int_equal(tlsa_from_cert(cases[i].ca ? P.ca : P.leaf, cases[i].usage,
						cases[i].selector, cases[i].mtype, &rr, err, sizeof(err)), 0);
		run_case(P.leaf, P.leaf_key, P.ca, "mx.example.test", NULL, 0, &rr, 1, &r);
		if (r.out.status != DANE_STATUS_VERIFIED || r.out.depth != cases[i].ca)
			fail_msg("%u %u %u: %s depth %d (%s)", cases[i].usage, cases[i].selector,
				 cases[i].mtype, dane_status_name(r.out.status), r.out.depth, r.out.reason);
		assert_int_equal(r.out.mtype, cases[i].mtype);
		free(r.facts);
		tlsa_rr_free(&rr);
	}
}

static void test_ta_matches_at_depth(void **state)
{
	unsigned char d[32];
	const char *names[] = {"mx.example.test.", "example.test"};
	struct tlsa_rr rr;
	struct run r;
	(void)state;

	rr = rr_spki(2, P.ca, d);
	run_case(P.leaf, P.leaf_key, P.ca, "mx.example.test.", names, 2, &rr, 1, &r);
	assert_int_equal(r.out.status, DANE_STATUS_VERIFIED);
	assert_int_equal(r.out.depth, 1);
	assert_int_equal(r.out.match_index, 0);
	assert_string_equal(r.out.peername, "mx.example.test");
	assert_int_equal(r.facts->nchain, 2);
	assert_string_equal(r.facts->chain[1].subject, "CN=Test CA");
	assert_string_equal(r.facts->chain[0].key_type, "EC");
	assert_int_equal(r.facts->chain[0].key_bits, 256);
	assert_string_equal(r.facts->version, "TLSv1.3");
	assert_true(r.facts->cipher[0] != '\0');
	free(r.facts);

	/* the next-hop domain as a second reference name also works */
	const char *names2[] = {"example.test", "mx.example.test"};
	run_case(P.leaf, P.leaf_key, P.ca, "mail.hoster.test", names2, 2, &rr, 1, &r);
	assert_int_equal(r.out.status, DANE_STATUS_VERIFIED);
	assert_string_equal(r.out.peername, "mx.example.test");
	free(r.facts);
}

static void test_ta_name_mismatch(void **state)
{
	unsigned char d[32];
	const char *names[] = {"hoster.test."};
	struct tlsa_rr rr;
	struct run r;
	(void)state;

	/* the reason lists every name OpenSSL checked: the base domain and the others */
	rr = rr_spki(2, P.ca, d);
	run_case(P.leaf, P.leaf_key, P.ca, "mail.hoster.test.", names, 1, &rr, 1, &r);
	assert_int_equal(r.out.status, DANE_STATUS_NAME_MISMATCH);
	assert_int_equal(r.out.verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
	assert_string_equal(r.out.reason, "DANE-TA(2) matched but the certificate names "
			    "[mx.example.test] match none of [mail.hoster.test, hoster.test]");
	free(r.facts);
}

static void test_ta_expired_and_incomplete(void **state)
{
	unsigned char d[32];
	struct tlsa_rr rr;
	struct run r;
	(void)state;

	rr = rr_spki(2, P.ca, d);
	run_case(P.expired, P.leaf_key, P.ca, "mx.example.test", NULL, 0, &rr, 1, &r);
	assert_int_equal(r.out.status, DANE_STATUS_EXPIRED);
	assert_non_null(strstr(r.out.reason, "expired"));
	free(r.facts);

	/* server forgets its issuer: nothing to match the TA record against */
	run_case(P.leaf, P.leaf_key, NULL, "mx.example.test", NULL, 0, &rr, 1, &r);
	assert_int_equal(r.out.status, DANE_STATUS_NO_MATCH);
	assert_string_equal(r.out.reason, "no TLSA record matches the 1 certificate(s) the "
			    "server sent (DANE-TA(2) needs the server to send its issuer chain)");
	free(r.facts);
}

static void test_wrong_digest(void **state)
{
	unsigned char d[32];
	struct tlsa_rr rr;
	struct run r;
	(void)state;

	rr = rr_spki(3, P.leaf, d);
	d[0] ^= 0xff;
	run_case(P.leaf, P.leaf_key, P.ca, "mx.example.test", NULL, 0, &rr, 1, &r);
	assert_int_equal(r.setup_rc, 1);
	assert_int_equal(r.out.status, DANE_STATUS_NO_MATCH);
	assert_int_equal(r.out.verify_result, X509_V_ERR_DANE_NO_MATCH);
	assert_int_equal(r.out.match_index, -1);
	assert_string_equal(r.out.reason, "no TLSA record matches the 2 certificate(s) the server sent");
	free(r.facts);
}

static void test_malformed_beside_valid(void **state)
{
	unsigned char d[32], junk[40], shortd[31];
	struct tlsa_rr rrs[4];
	struct run r;
	(void)state;

	memset(junk, 0x5a, sizeof(junk));
	memset(shortd, 1, sizeof(shortd));
	rrs[0] = (struct tlsa_rr){3, 1, 1, sizeof(shortd), shortd};  /* wrong length: policy */
	rrs[1] = (struct tlsa_rr){3, 0, 0, sizeof(junk), junk};      /* not a certificate */
	rrs[2] = (struct tlsa_rr){1, 1, 1, 32, d};                   /* PKIX-EE: unusable */
	rrs[3] = rr_spki(3, P.leaf, d);
	run_case(P.leaf, P.leaf_key, NULL, "mx.example.test", NULL, 0, rrs, 4, &r);
	assert_int_equal(r.setup_rc, 1);
	assert_int_equal(r.info.status[0], DANE_RR_UNUSABLE);
	assert_int_equal(r.info.status[1], DANE_RR_REJECTED);
	assert_int_equal(r.info.status[2], DANE_RR_UNUSABLE);
	assert_int_equal(r.info.status[3], DANE_RR_ADDED);
	assert_int_equal(r.out.status, DANE_STATUS_VERIFIED);
	assert_int_equal(r.out.match_index, 3);
	free(r.facts);
}

static void test_setup_errors(void **state)
{
	unsigned char d[32] = {0};
	struct tlsa_rr pkix = {0, 1, 1, 32, d};
	char err[256];
	SSL *c = tls_client_ssl_new(P.cctx, "mx.example.test", TLS_KEYTYPE_ANY, err, sizeof(err));
	(void)state;

	assert_int_equal(dane_ossl_setup(c, "", NULL, 0, &pkix, 1, NULL, err, sizeof(err)),
			 DANE_OSSL_EINVAL);
	assert_int_equal(dane_ossl_setup(c, "mx.example.test", NULL, 0, &pkix, 1, NULL, err,
					 sizeof(err)), DANE_OSSL_ENONE);
	assert_string_equal(err, "DANE setup: none of 1 TLSA records is usable");
	SSL_free(c);
	assert_int_equal(tls_keytype_parse("ECDSA"), TLS_KEYTYPE_ECDSA);
	assert_int_equal(tls_keytype_parse("dsa"), -1);
	assert_string_equal(dane_status_name(DANE_STATUS_NAME_MISMATCH), "name-mismatch");
}

/* A server with RSA and ECDSA certificates is seen once per key type. */
static void test_keytype_restriction(void **state)
{
	static const struct {
		enum tls_keytype kt;
		int max_version;
		const char *want;
	} cases[] = {
		{TLS_KEYTYPE_ECDSA, 0, "EC"}, {TLS_KEYTYPE_RSA, 0, "RSA"},
		{TLS_KEYTYPE_ECDSA, TLS1_2_VERSION, "EC"}, {TLS_KEYTYPE_RSA, TLS1_2_VERSION, "RSA"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SSL_CTX *sctx = cc_server_ctx(NULL, P.leaf, P.leaf_key, NULL);
		struct cert_facts *f = calloc(1, sizeof(*f));
		char err[256];
		SSL *s, *c;

		cc_server_ctx(sctx, P.rsa_leaf, P.rsa_key, NULL);
		if (cases[i].max_version)
			SSL_CTX_set_max_proto_version(sctx, cases[i].max_version);
		s = SSL_new(sctx);
		c = tls_client_ssl_new(P.cctx, "mx.example.test", cases[i].kt, err, sizeof(err));
		assert_non_null(c);
		assert_int_equal(cc_handshake(c, s), 0);
		assert_int_equal(chain_cert_facts(SSL_get0_peer_certificate(c), f), 0);
		if (strcmp(f->key_type, cases[i].want) != 0)
			fail_msg("case %zu: got key %s want %s", i, f->key_type, cases[i].want);
		free(f);
		SSL_free(c);
		SSL_free(s);
		SSL_CTX_free(sctx);
	}
}

/* Opportunistic TLS takes what old servers offer (RFC 7672 §8.1): TLS 1.0 still works,
 * and DANE-EE still matches over it. */
static void test_old_tls_versions(void **state)
{
	static const struct {
		int v;
		const char *name;
	} versions[] = {{TLS1_VERSION, "TLSv1"}, {TLS1_1_VERSION, "TLSv1.1"}, {TLS1_2_VERSION, "TLSv1.2"}};
	unsigned char d[32];
	struct tlsa_rr rr = rr_spki(3, P.leaf, d);
	(void)state;

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		SSL_CTX *sctx = cc_server_ctx(NULL, P.leaf, P.leaf_key, NULL);
		struct dane_outcome out;
		char err[256];
		SSL *s, *c;

		assert_true(SSL_CTX_set_min_proto_version(sctx, versions[i].v));
		assert_true(SSL_CTX_set_max_proto_version(sctx, versions[i].v));
		assert_true(SSL_CTX_set_cipher_list(sctx, "DEFAULT:@SECLEVEL=0"));
		s = SSL_new(sctx);
		c = tls_client_ssl_new(P.cctx, "mx.example.test", TLS_KEYTYPE_ANY, err, sizeof(err));
		assert_int_equal(dane_ossl_setup(c, "mx.example.test", NULL, 0, &rr, 1, NULL, err,
						 sizeof(err)), 1);
		if (cc_handshake(c, s) != 0)
			fail_msg("%s handshake failed", versions[i].name);
		assert_string_equal(SSL_get_version(c), versions[i].name);
		dane_ossl_judge(c, &rr, 1, NULL, 0, &out);
		assert_int_equal(out.status, DANE_STATUS_VERIFIED);
		SSL_free(c);
		SSL_free(s);
		SSL_CTX_free(sctx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ee_matches_expired_other_name),
		cmocka_unit_test(test_selectors_and_mtypes),
		cmocka_unit_test(test_ta_matches_at_depth),
		cmocka_unit_test(test_ta_name_mismatch),
		cmocka_unit_test(test_ta_expired_and_incomplete),
		cmocka_unit_test(test_wrong_digest),
		cmocka_unit_test(test_malformed_beside_valid),
		cmocka_unit_test(test_setup_errors),
		cmocka_unit_test(test_keytype_restriction),
		cmocka_unit_test(test_old_tls_versions),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

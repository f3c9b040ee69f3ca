/*
 * clientcerts: certificates made per run with OpenSSL's API for the TLS unit tests (a CA,
 * leaves with any name and validity, ECDSA or RSA keys), a server SSL_CTX, and an
 * in-memory handshake over a BIO pair. Included by test_dane_ossl.c and test_client.c
 * only (static functions; not a helper_ file, so other tests do not link OpenSSL code).
 * Test code: failures abort through cmocka's assert.
 */
#ifndef DANEMX_CLIENTCERTS_H
#define DANEMX_CLIENTCERTS_H

#include <string.h>

#define CC_UNUSED __attribute__((unused))

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static EVP_PKEY *cc_key(int rsa)
{
	EVP_PKEY *k = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	assert_non_null(k);
	return k;
}

CC_UNUSED static void cc_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_true(X509_add_ext(x, ext, -1));
	X509_EXTENSION_free(ext);
}

/* A certificate for key named cn (and SAN DNS:cn unless ca), valid from now+from_days to
 * now+to_days, signed by issuer/ikey (NULL: self-signed). */
static X509 *cc_cert(EVP_PKEY *key, const char *cn, int ca, X509 *issuer, EVP_PKEY *ikey,
		     long from_days, long to_days)
{
	static long serial = 1;
	X509 *x = X509_new();
	char san[300];

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400L);
	X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400L);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x));
	if (ca) {
		cc_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		cc_ext(x, issuer != NULL ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		snprintf(san, sizeof(san), "DNS:%s", cn);
		cc_ext(x, issuer != NULL ? issuer : x, NID_subject_alt_name, san);
	}
	assert_true(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	return x;
}

CC_UNUSED static void cc_spki_sha256(X509 *x, unsigned char out[32])
{
	unsigned char *der = NULL;
	unsigned int len = 0;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

	assert_true(n > 0);
	assert_true(EVP_Digest(der, (size_t)n, out, &len, EVP_sha256(), NULL));
	OPENSSL_free(der);
}

/* A server context with leaf/key and the extra chain (may be NULL); call again on the
 * same ctx (ctx != NULL) to add a second certificate of another key type. */
static SSL_CTX *cc_server_ctx(SSL_CTX *ctx, X509 *leaf, EVP_PKEY *key, X509 *extra)
{
	if (ctx == NULL) {
		ctx = SSL_CTX_new(TLS_server_method());
		assert_non_null(ctx);
		SSL_CTX_set_security_level(ctx, 0);
	}
	assert_true(SSL_CTX_use_certificate(ctx, leaf));
	assert_true(SSL_CTX_use_PrivateKey(ctx, key));
	if (extra != NULL)
		assert_true(SSL_CTX_add1_chain_cert(ctx, extra));
	return ctx;
}

/* Run a handshake between client and server over a BIO pair; 0 when both finish. */
CC_UNUSED static int cc_handshake(SSL *client, SSL *server)
{
	BIO *cb = NULL, *sb = NULL;
	int cdone = 0, sdone = 0;

	assert_true(BIO_new_bio_pair(&cb, 0, &sb, 0));
	SSL_set_bio(client, cb, cb);
	SSL_set_bio(server, sb, sb);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	for (int i = 0; i < 100 && !(cdone && sdone); i++) {
		int r;
		if (!cdone) {
			r = SSL_do_handshake(client);
			if (r == 1)
				cdone = 1;
			else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ)
				return -1;
		}
		if (!sdone) {
			r = SSL_do_handshake(server);
			if (r == 1)
				sdone = 1;
			else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ)
				return -1;
		}
	}
	return cdone && sdone ? 0 : -1;
}

#endif

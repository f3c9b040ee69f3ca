/*
 * testcert: throwaway keys and certificates for the serve unit tests, made with the
 * OpenSSL API per run (never committed). Static functions, included by the tests that
 * need them; not a helper_*.c so that other unit tests do not link it.
 */
#ifndef DANEMX_TESTCERT_H
#define DANEMX_TESTCERT_H

#include <stdio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TC_UNUSED __attribute__((unused))

TC_UNUSED static EVP_PKEY *tc_key(void)
{
	return EVP_EC_gen("P-256");
}

static void tc_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext != NULL) {
		X509_add_ext(cert, ext, -1);
		X509_EXTENSION_free(ext);
	}
}

/* A certificate for key named cn, signed by issuer/ikey (self-signed when NULL). */
TC_UNUSED static X509 *tc_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, int ca)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	char san[300];

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	tc_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints,
	       ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (!ca) {
		snprintf(san, sizeof(san), "DNS:%s", cn);
		tc_ext(x, issuer != NULL ? issuer : x, NID_subject_alt_name, san);
	}
	X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256());
	return x;
}

/* Write the chain (leaf first) and the key as PEM files. 0 on success. */
TC_UNUSED static int tc_write(const char *certpath, X509 *const *chain, int n, const char *keypath,
		    EVP_PKEY *key)
{
	FILE *f;
	int ok = 1;

	if ((f = fopen(certpath, "w")) == NULL)
		return -1;
	for (int i = 0; i < n; i++)
		ok &= PEM_write_X509(f, chain[i]);
	fclose(f);
	if ((f = fopen(keypath, "w")) == NULL)
		return -1;
	ok &= PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	return ok ? 0 : -1;
}

#endif

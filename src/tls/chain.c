/*
 * chain: read session and certificate facts out of OpenSSL into plain structs. Every
 * string that came from a certificate is escaped (str_escape) before it is stored, since
 * certificates are peer data. Never judges and never prints.
 */
#include "tls/chain.h"
#include "util/str.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

static void name_text(const X509_NAME *n, char *dst, size_t dstsize)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long len;

	dst[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (len = BIO_get_mem_data(b, &p)) > 0)
		str_escape(dst, dstsize, p, (size_t)len);
	BIO_free(b);
}

static void time_text(const ASN1_TIME *t, char *dst, size_t dstsize, time_t *tt)
{
	struct tm tm;

	dst[0] = '\0';
	*tt = 0;
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return;
	strftime(dst, dstsize, "%Y-%m-%dT%H:%M:%SZ", &tm);
	*tt = timegm(&tm);
}

static void key_facts(X509 *x, struct cert_facts *out)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	const char *type;
	size_t glen = 0;

	if (pk == NULL)
		return;
	type = EVP_PKEY_get0_type_name(pk);
	str_copy(out->key_type, type != NULL ? type : "unknown", sizeof(out->key_type));
	out->key_bits = EVP_PKEY_get_bits(pk);
	if (EVP_PKEY_is_a(pk, "EC") &&
	    !EVP_PKEY_get_group_name(pk, out->key_curve, sizeof(out->key_curve), &glen))
		out->key_curve[0] = '\0';
}

static void san_facts(X509 *x, struct cert_facts *out)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char esc[CHAIN_SANS_MAX];

	if (gens == NULL) {
		ERR_clear_error();
		return;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != GEN_DNS)
			continue;
		str_escape(esc, sizeof(esc), ASN1_STRING_get0_data(g->d.dNSName),
			   (size_t)ASN1_STRING_length(g->d.dNSName));
		if (out->sans[0] != '\0')
			str_cat(out->sans, ", ", sizeof(out->sans));
		str_cat(out->sans, esc, sizeof(out->sans));
	}
	GENERAL_NAMES_free(gens);
}

static void digest_facts(X509 *x, struct cert_facts *out)
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int len;

	X509_digest(x, EVP_sha256(), out->cert_sha256, &mdlen);
	X509_digest(x, EVP_sha512(), out->cert_sha512, &mdlen);
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (len > 0) {
		EVP_Digest(der, (size_t)len, out->spki_sha256, &mdlen, EVP_sha256(), NULL);
		EVP_Digest(der, (size_t)len, out->spki_sha512, &mdlen, EVP_sha512(), NULL);
	}
	OPENSSL_free(der);
}

int chain_cert_facts(X509 *x, struct cert_facts *out)
{
	memset(out, 0, sizeof(*out));
	if (x == NULL)
		return -1;
	name_text(X509_get_subject_name(x), out->subject, sizeof(out->subject));
	name_text(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
	time_text(X509_get0_notBefore(x), out->not_before, sizeof(out->not_before),
		  &out->not_before_t);
	time_text(X509_get0_notAfter(x), out->not_after, sizeof(out->not_after),
		  &out->not_after_t);
	out->expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
	out->not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(x)) > 0;
	out->self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
	key_facts(x, out);
	san_facts(x, out);
	digest_facts(x, out);
	ERR_clear_error();
	return 0;
}

static void session_facts(SSL *ssl, struct tls_facts *out)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int nid = 0;
	const char *gname;

	str_copy(out->version, SSL_get_version(ssl), sizeof(out->version));
	if (c != NULL) {
		str_copy(out->cipher, SSL_CIPHER_get_name(c), sizeof(out->cipher));
		out->cipher_bits = SSL_CIPHER_get_bits(c, NULL);
	}
	nid = SSL_get_negotiated_group(ssl);
	if (nid > 0 && (gname = SSL_group_to_name(ssl, nid)) != NULL)
		str_copy(out->group, gname, sizeof(out->group));
	if (SSL_get_peer_signature_type_nid(ssl, &nid) && nid != NID_undef)
		str_copy(out->peer_sig_type, OBJ_nid2sn(nid), sizeof(out->peer_sig_type));
}

int chain_tls_facts(SSL *ssl, struct tls_facts *out)
{
	STACK_OF(X509) *sk;

	memset(out, 0, sizeof(*out));
	if (ssl == NULL || SSL_get_session(ssl) == NULL)
		return -1;
	session_facts(ssl, out);
	/* client side: the chain as sent, leaf first */
	if ((sk = SSL_get_peer_cert_chain(ssl)) != NULL) {
		out->ntotal = (size_t)sk_X509_num(sk);
		for (size_t i = 0; i < out->ntotal && i < CHAIN_MAX; i++)
			chain_cert_facts(sk_X509_value(sk, (int)i), &out->chain[out->nchain++]);
	}
	ERR_clear_error();
	return 0;
}

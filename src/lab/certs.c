/*
 * certs: make the lab's CA hierarchy and leaf certificates in memory and write the
 * PEM files the receivers load. Every run gets fresh keys, so nothing here is a
 * committed secret. It must never write a CA private key, and never reuse a lab
 * certificate outside the lab.
 */
#include "lab/certs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "util/str.h"

#define DAY (24L * 60 * 60)

const char *lab_certs_strerror(int err)
{
	switch (err) {
	case LAB_CERTS_OK: return "ok";
	case LAB_CERTS_ECRYPTO: return "OpenSSL error";
	case LAB_CERTS_EIO: return "cannot write file";
	case LAB_CERTS_EINVAL: return "invalid argument";
	}
	return "unknown error";
}


static int crypto_fail(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return str_err(LAB_CERTS_ECRYPTO, err, errlen, "%s: %s", what, r != NULL ? r : "failed");
}

/* A positive random 127-bit serial: distinct per certificate without bookkeeping. */
static int set_serial(X509 *x)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return 0;
	raw[0] &= 0x7f;
	raw[0] |= 0x01;
	if ((bn = BN_bin2bn(raw, sizeof(raw), NULL)) != NULL)
		ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* The fields every certificate has: version, serial, names, validity, key. */
static X509 *cert_base(const char *cn, X509 *issuer, EVP_PKEY *key, long from, long to)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (x == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) || !set_serial(x) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"danemx lab", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), from) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), to) == NULL || !X509_set_pubkey(x, key)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static X509 *make_ca(const char *cn, X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY *key)
{
	X509 *x = cert_base(cn, issuer, key, -DAY, 3650 * DAY);
	X509 *iss = issuer != NULL ? issuer : x;

	if (x == NULL)
		return NULL;
	if (!add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(x, iss, NID_subject_key_identifier, "hash") ||
	    (issuer != NULL && !add_ext(x, iss, NID_authority_key_identifier, "keyid:always")) ||
	    X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int lab_pki_create(struct lab_pki *pki, char *err, size_t errlen)
{
	struct lab_pki p;

	memset(&p, 0, sizeof(p));
	if ((p.root_key = EVP_EC_gen("P-256")) == NULL || (p.int_key = EVP_EC_gen("P-256")) == NULL ||
	    (p.ec_key = EVP_EC_gen("P-256")) == NULL) {
		lab_pki_free(&p);
		return crypto_fail(err, errlen, "key generation");
	}
	if ((p.root = make_ca("danemx lab root CA", NULL, NULL, p.root_key)) == NULL ||
	    (p.inter = make_ca("danemx lab intermediate CA", p.root, p.root_key, p.int_key)) == NULL) {
		lab_pki_free(&p);
		return crypto_fail(err, errlen, "CA certificate");
	}
	*pki = p;
	return LAB_CERTS_OK;
}

void lab_pki_free(struct lab_pki *pki)
{
	if (pki == NULL)
		return;
	EVP_PKEY_free(pki->root_key);
	EVP_PKEY_free(pki->int_key);
	EVP_PKEY_free(pki->ec_key);
	EVP_PKEY_free(pki->rsa_key);
	X509_free(pki->root);
	X509_free(pki->inter);
	memset(pki, 0, sizeof(*pki));
}

/* The leaf's key: fresh, or the shared one for its type (up-referenced). */
static EVP_PKEY *leaf_key(struct lab_pki *pki, int flags)
{
	EVP_PKEY **shared = (flags & LAB_LEAF_RSA) ? &pki->rsa_key : &pki->ec_key;

	if (flags & LAB_LEAF_OWN_KEY)
		return (flags & LAB_LEAF_RSA) ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	if (*shared == NULL)
		*shared = (flags & LAB_LEAF_RSA) ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	if (*shared == NULL || !EVP_PKEY_up_ref(*shared))
		return NULL;
	return *shared;
}

static X509 *make_leaf(struct lab_pki *pki, const char *name, int flags, EVP_PKEY *key)
{
	int self = (flags & LAB_LEAF_SELF_SIGNED) != 0;
	long from = (flags & LAB_LEAF_EXPIRED) ? -30 * DAY : -DAY;
	long to = (flags & LAB_LEAF_EXPIRED) ? -DAY : 825 * DAY;
	X509 *x = cert_base(name, self ? NULL : pki->inter, key, from, to);
	X509 *iss = self ? x : pki->inter;
	char san[300];

	if (x == NULL)
		return NULL;
	snprintf(san, sizeof(san), "DNS:%s", name);
	if (!add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, iss, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    !add_ext(x, iss, NID_subject_alt_name, san) ||
	    !add_ext(x, iss, NID_subject_key_identifier, "hash") ||
	    (!self && !add_ext(x, iss, NID_authority_key_identifier, "keyid:always")) ||
	    X509_sign(x, self ? key : pki->int_key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* What the server sends after the leaf. */
static STACK_OF(X509) *leaf_chain(const struct lab_pki *pki, int flags)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	if (sk == NULL || (flags & LAB_LEAF_SELF_SIGNED))
		return sk;
	if (!X509_add_cert(sk, pki->inter, X509_ADD_FLAG_UP_REF) ||
	    ((flags & LAB_LEAF_CHAIN_ROOT) && !X509_add_cert(sk, pki->root, X509_ADD_FLAG_UP_REF))) {
		sk_X509_pop_free(sk, X509_free);
		return NULL;
	}
	return sk;
}

int lab_leaf_create(struct lab_pki *pki, const char *name, int flags, struct lab_leaf *out,
		    char *err, size_t errlen)
{
	struct lab_leaf l;

	memset(&l, 0, sizeof(l));
	if (name == NULL || name[0] == '\0' || strlen(name) > 253)
		return str_err(LAB_CERTS_EINVAL, err, errlen, "leaf name must be 1-253 characters");
	if ((l.key = leaf_key(pki, flags)) == NULL)
		return crypto_fail(err, errlen, "leaf key generation");
	if ((l.cert = make_leaf(pki, name, flags, l.key)) == NULL ||
	    (l.chain = leaf_chain(pki, flags)) == NULL) {
		lab_leaf_free(&l);
		return crypto_fail(err, errlen, "leaf certificate");
	}
	*out = l;
	return LAB_CERTS_OK;
}

void lab_leaf_free(struct lab_leaf *leaf)
{
	if (leaf == NULL)
		return;
	X509_free(leaf->cert);
	EVP_PKEY_free(leaf->key);
	sk_X509_pop_free(leaf->chain, X509_free);
	memset(leaf, 0, sizeof(*leaf));
}

/* Open path for writing with the given mode, as a BIO. */
static BIO *open_out(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	BIO *b;

	if (fd < 0)
		return NULL;
	if ((b = BIO_new_fd(fd, BIO_CLOSE)) == NULL)
		close(fd);
	return b;
}

static int write_certs(const char *path, X509 *first, STACK_OF(X509) *rest, char *err, size_t errlen)
{
	BIO *b = open_out(path, 0644);
	int ok;

	if (b == NULL)
		return str_err(LAB_CERTS_EIO, err, errlen, "%s: %s", path, strerror(errno));
	ok = PEM_write_bio_X509(b, first);
	for (int i = 0; ok && rest != NULL && i < sk_X509_num(rest); i++)
		ok = PEM_write_bio_X509(b, sk_X509_value(rest, i));
	ok = BIO_flush(b) == 1 && ok;
	BIO_free(b);
	return ok ? LAB_CERTS_OK : str_err(LAB_CERTS_EIO, err, errlen, "%s: write failed", path);
}

static int join(char *dst, size_t size, const char *dir, const char *base, const char *suffix,
		char *err, size_t errlen)
{
	int n = snprintf(dst, size, "%s/%s%s", dir, base, suffix);

	if (n < 0 || (size_t)n >= size)
		return str_err(LAB_CERTS_EINVAL, err, errlen, "path too long: %s/%s%s", dir, base, suffix);
	return LAB_CERTS_OK;
}

int lab_pki_write(const struct lab_pki *pki, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = join(path, sizeof(path), dir, "root", ".pem", err, errlen)) != LAB_CERTS_OK ||
	    (rc = write_certs(path, pki->root, NULL, err, errlen)) != LAB_CERTS_OK ||
	    (rc = join(path, sizeof(path), dir, "intermediate", ".pem", err, errlen)) != LAB_CERTS_OK)
		return rc;
	return write_certs(path, pki->inter, NULL, err, errlen);
}

int lab_leaf_write(struct lab_leaf *leaf, const char *dir, const char *base, char *err, size_t errlen)
{
	BIO *b;
	int rc, ok;

	if ((rc = join(leaf->key_path, sizeof(leaf->key_path), dir, base, ".key.pem", err, errlen)) ||
	    (rc = join(leaf->chain_path, sizeof(leaf->chain_path), dir, base, ".chain.pem", err, errlen)))
		return rc;
	if ((b = open_out(leaf->key_path, 0600)) == NULL)
		return str_err(LAB_CERTS_EIO, err, errlen, "%s: %s", leaf->key_path, strerror(errno));
	ok = PEM_write_bio_PrivateKey(b, leaf->key, NULL, NULL, 0, NULL, NULL);
	ok = BIO_flush(b) == 1 && ok;
	BIO_free(b);
	if (!ok)
		return str_err(LAB_CERTS_EIO, err, errlen, "%s: write failed", leaf->key_path);
	return write_certs(leaf->chain_path, leaf->cert, leaf->chain, err, errlen);
}

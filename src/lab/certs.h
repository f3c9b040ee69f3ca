/*
 * certs: the X.509 material of the offline lab, generated per run with OpenSSL's API: a
 * root CA, an intermediate under it, and leaf certificates (ECDSA P-256 by default, RSA
 * 2048 on request; self-signed, expired or named for anything the scenario wants), written
 * as key and chain PEM files. It must never be used to make certificates for anything but
 * the lab: the CA key lives only in memory and is never written to disk.
 */
#ifndef DANEMX_LAB_CERTS_H
#define DANEMX_LAB_CERTS_H

#include <limits.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum lab_certs_err {
	LAB_CERTS_OK = 0,
	LAB_CERTS_ECRYPTO = -1,   /* OpenSSL failed (key generation, signing, encoding) */
	LAB_CERTS_EIO = -2,       /* cannot write a file */
	LAB_CERTS_EINVAL = -3,    /* bad argument (name too long, empty...) */
};

struct lab_pki {
	EVP_PKEY *root_key;
	X509 *root;              /* "danemx lab root CA", self-signed */
	EVP_PKEY *int_key;
	X509 *inter;             /* "danemx lab intermediate CA", issued by root */
	EVP_PKEY *ec_key;        /* shared leaf key (P-256) where a scenario does not care */
	EVP_PKEY *rsa_key;       /* shared RSA-2048 leaf key, made on first use */
};

/* Leaf variants; combine with |. */
enum lab_leaf_flags {
	LAB_LEAF_RSA = 1 << 0,          /* RSA-2048 instead of ECDSA P-256 */
	LAB_LEAF_OWN_KEY = 1 << 1,      /* a fresh key, not the shared one (a "next" key) */
	LAB_LEAF_SELF_SIGNED = 1 << 2,  /* issued by itself; the chain file has only the leaf */
	LAB_LEAF_EXPIRED = 1 << 3,      /* notAfter yesterday */
	LAB_LEAF_CHAIN_ROOT = 1 << 4,   /* chain file ends with the root (DANE-TA(2) on the root) */
};

struct lab_leaf {
	X509 *cert;
	EVP_PKEY *key;               /* a reference (shared keys are up-referenced) */
	STACK_OF(X509) *chain;       /* the certificates sent after the leaf, in order */
	char key_path[PATH_MAX];     /* set by lab_leaf_write */
	char chain_path[PATH_MAX];   /* leaf first, then chain */
};

const char *lab_certs_strerror(int err);

/* Root, intermediate and the shared EC key. err gets a one-line reason on failure. */
int lab_pki_create(struct lab_pki *pki, char *err, size_t errlen);
void lab_pki_free(struct lab_pki *pki);
/* Write DIR/root.pem and DIR/intermediate.pem (certificates only). */
int lab_pki_write(const struct lab_pki *pki, const char *dir, char *err, size_t errlen);

/* A leaf for DNS name (subject CN and the one subjectAltName), issued by the
 * intermediate unless LAB_LEAF_SELF_SIGNED. */
int lab_leaf_create(struct lab_pki *pki, const char *name, int flags, struct lab_leaf *out,
		    char *err, size_t errlen);
/* Write DIR/BASE.key.pem (mode 0600) and DIR/BASE.chain.pem; fills the paths. */
int lab_leaf_write(struct lab_leaf *leaf, const char *dir, const char *base,
		   char *err, size_t errlen);
void lab_leaf_free(struct lab_leaf *leaf);

#endif

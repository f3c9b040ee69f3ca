/*
 * chain: the facts of a TLS session for reports: protocol version, cipher, and each
 * certificate the server sent (subject, issuer, validity, key type and size, DNS names,
 * SHA-256 and SHA-512 of the SPKI and of the certificate). Plain structs filled from OpenSSL objects;
 * no judgement (that is dane_ossl's), no printing, no I/O.
 */
#ifndef DANEMX_CHAIN_H
#define DANEMX_CHAIN_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#define CHAIN_MAX 6             /* certificates described; more are counted in ntotal (OpenSSL
				   still verifies the whole chain: this bounds only the report) */
#define CHAIN_NAME_MAX 256      /* subject / issuer one-line form */
#define CHAIN_SANS_MAX 1024     /* DNS names, comma-separated */

struct cert_facts {
	char subject[CHAIN_NAME_MAX];       /* RFC 2253 form, escaped for terminals */
	char issuer[CHAIN_NAME_MAX];
	char not_before[32];                /* "2026-11-28T21:00:00Z" */
	char not_after[32];
	time_t not_before_t, not_after_t;
	int expired;                        /* notAfter before now */
	int not_yet_valid;
	int self_issued;                    /* subject == issuer */
	char key_type[16];                  /* "RSA", "EC", "ED25519", "RSA-PSS", ... */
	int key_bits;
	char key_curve[32];                 /* EC group name when EC, else "" */
	char sans[CHAIN_SANS_MAX];          /* DNS subjectAltNames, "a.test, *.b.test" */
	unsigned char spki_sha256[32];      /* what "x 1 1" TLSA records hold */
	unsigned char cert_sha256[32];      /* what "x 0 1" TLSA records hold */
	unsigned char spki_sha512[64];      /* what "x 1 2" TLSA records hold */
	unsigned char cert_sha512[64];      /* what "x 0 2" TLSA records hold */
};

struct tls_facts {
	char version[16];                   /* "TLSv1.3" */
	char cipher[64];                    /* "TLS_AES_256_GCM_SHA384" */
	int cipher_bits;
	char group[32];                     /* key exchange group when known, else "" */
	char peer_sig_type[32];             /* signature by the server's key, e.g. "ECDSA" */
	size_t nchain;                      /* certificates in chain[] (leaf first) */
	size_t ntotal;                      /* certificates the server sent */
	struct cert_facts chain[CHAIN_MAX];
};

/* Facts about one certificate. Returns 0, or -1 when x is NULL. */
int chain_cert_facts(X509 *x, struct cert_facts *out);
/* Facts about an established session: version, cipher, the server's chain as sent.
 * Returns 0, or -1 when there is no session. */
int chain_tls_facts(SSL *ssl, struct tls_facts *out);

#endif

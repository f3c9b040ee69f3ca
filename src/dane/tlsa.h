/*
 * tlsa: TLSA record utilities on OpenSSL (RFC 6698, RFC 7218 mnemonics): compute a
 * record from a certificate or a public key, parse and format the presentation form,
 * write the zone-file line, load certificates, chains and keys from PEM or DER files.
 * It never matches records against a peer chain and never verifies chains: that is
 * OpenSSL's DANE code (SSL_dane_tlsa_add and friends), driven by the client side.
 * Functions return a tlsa_err code and, when err is not NULL, a one-line reason.
 */
#ifndef DANEMX_TLSA_H
#define DANEMX_TLSA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dns/rr.h"
#include "util/buf.h"

enum tlsa_err {
	TLSA_OK = 0,
	TLSA_ENOMEM = -1,
	TLSA_ESYNTAX = -2,      /* presentation form not understood */
	TLSA_ERANGE = -3,       /* a field or the data is out of bounds */
	TLSA_EUNSUPPORTED = -4, /* selector/mtype we cannot compute, encrypted key... */
	TLSA_ECRYPTO = -5,      /* OpenSSL failed to encode or digest */
	TLSA_EFILE = -6,        /* cannot open or read the file */
	TLSA_EFORMAT = -7,      /* file holds no certificate or key we can decode */
};

enum tlsa_usage { TLSA_PKIX_TA = 0, TLSA_PKIX_EE = 1, TLSA_DANE_TA = 2, TLSA_DANE_EE = 3 };
enum tlsa_selector { TLSA_SEL_CERT = 0, TLSA_SEL_SPKI = 1 };
enum tlsa_mtype { TLSA_MT_FULL = 0, TLSA_MT_SHA256 = 1, TLSA_MT_SHA512 = 2 };

#define TLSA_ERRLEN 256                 /* a good size for err buffers */
#define TLSA_DATA_MAX (65535 - 3)       /* rdata is at most 64 KiB, minus the three octets */
#define TLSA_FILE_MAX (1024L * 1024)    /* largest certificate/key file we read */

const char *tlsa_strerror(int err);

/* Compute a record for cert (any selector) or for a public key (selector 1 only).
 * Supported: selector 0/1, mtype 0/1/2; usage is copied as given. out is set only on
 * success and must be released with tlsa_rr_free(). */
int tlsa_from_cert(X509 *cert, uint8_t usage, uint8_t selector, uint8_t mtype,
		   struct tlsa_rr *out, char *err, size_t errlen);
int tlsa_from_pkey(EVP_PKEY *pkey, uint8_t usage, uint8_t selector, uint8_t mtype,
		   struct tlsa_rr *out, char *err, size_t errlen);

/* Parse "3 1 1 <hex>" or "DANE-EE SPKI SHA2-256 <hex>" (mnemonics case-insensitive,
 * whitespace and zone-file parentheses allowed inside the hex). A leading zone-file
 * prefix ending in the token "TLSA" ("_25._tcp.h. 300 IN TLSA 3 1 1 ...") is skipped.
 * Fields must be 0-255; the hex must be non-empty, even and at most TLSA_DATA_MAX bytes. */
int tlsa_parse(const char *text, struct tlsa_rr *out, char *err, size_t errlen);

/* Append "U S M hex" (numeric fields, lower-case hex) to out. */
int tlsa_format_rdata(const struct tlsa_rr *rr, struct buf *out);
/* Append "_PORT._tcp.HOST. IN TLSA U S M hex" (no newline). host may lack the final
 * dot; port 0 means 25. */
int tlsa_format_zone(const struct tlsa_rr *rr, const char *host, unsigned port, struct buf *out);
/* Write the owner name "_PORT._tcp.HOST." into dst; returns TLSA_ERANGE if it does not fit. */
int tlsa_owner(const char *host, unsigned port, char *dst, size_t dstsize);

/* 1 when the data length is what the matching type demands (32 for SHA2-256, 64 for
 * SHA2-512, non-empty for Full; any non-empty length for unknown types). Records that
 * fail this are "malformed" and unusable (RFC 7671 §9 / RFC 7672 §2.2). */
int tlsa_rr_len_ok(const struct tlsa_rr *rr);
int tlsa_rr_equal(const struct tlsa_rr *a, const struct tlsa_rr *b);
int tlsa_rr_copy(struct tlsa_rr *dst, const struct tlsa_rr *src);
void tlsa_rr_free(struct tlsa_rr *rr);   /* frees data and zeroes; NULL-safe */

/* Mnemonic names (RFC 7218) for a field value, or NULL when it has none. */
const char *tlsa_usage_name(unsigned v);
const char *tlsa_selector_name(unsigned v);
const char *tlsa_mtype_name(unsigned v);

/* What a certificate or key file holds, in file order. PEM (any number of CERTIFICATE,
 * PUBLIC KEY and PRIVATE KEY blocks) and DER (one certificate, SubjectPublicKeyInfo or
 * private key) are told apart by content, not by file name. */
struct tlsa_material {
	STACK_OF(X509) *certs;   /* NULL-free; may be empty; leaf first when a chain */
	EVP_PKEY *pkey;          /* the first key found, or NULL */
	int pkey_private;        /* 1 when pkey came from a private key */
};

int tlsa_load(const char *path, struct tlsa_material *m, char *err, size_t errlen);
/* Same from memory (used by tests and by tlsa_load). */
int tlsa_load_mem(const unsigned char *data, size_t len, const char *name,
		  struct tlsa_material *m, char *err, size_t errlen);
void tlsa_material_free(struct tlsa_material *m);
/* Shorthands: the first certificate (the leaf) / the chain / the first key of a file. */
int tlsa_load_cert(const char *path, X509 **out, char *err, size_t errlen);
int tlsa_load_chain(const char *path, STACK_OF(X509) **out, char *err, size_t errlen);
int tlsa_load_key(const char *path, EVP_PKEY **out, char *err, size_t errlen);

#endif

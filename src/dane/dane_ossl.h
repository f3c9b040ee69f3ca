/*
 * dane_ossl: the glue between our TLSA records and OpenSSL's DANE verifier (RFC 7671,
 * RFC 7672 §3). Before the handshake it enables DANE on an SSL with the TLSA base domain,
 * the reference names for DANE-TA name checks and the usable records; after the handshake
 * it reads OpenSSL's verdict: which record matched at what depth, or a precise reason
 * for the failure. OpenSSL does all matching and chain building; this module never
 * compares digests or walks chains itself, and never touches a socket.
 */
#ifndef DANEMX_DANE_OSSL_H
#define DANEMX_DANE_OSSL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "dns/rr.h"

enum dane_ossl_err {
	DANE_OSSL_OK = 0,
	DANE_OSSL_ESSL = -1,     /* OpenSSL refused DANE setup (reason in err) */
	DANE_OSSL_EINVAL = -2,   /* no base domain, or too many reference names */
	DANE_OSSL_ENONE = -3,    /* no record was accepted: not usable for DANE */
};

/* What happened to each record offered (index = position in the caller's array). */
enum dane_rr_status {
	DANE_RR_ADDED = 0,       /* OpenSSL will match against it */
	DANE_RR_UNUSABLE,        /* skipped by the RFC 7672 rules (policy.h) */
	DANE_RR_REJECTED,        /* OpenSSL refused it (e.g. malformed data) */
};

#define DANE_OSSL_RR_MAX 64      /* records considered; more are ignored */

struct dane_setup_info {
	size_t added;
	size_t skipped;
	size_t nrrs;                                  /* records considered */
	enum dane_rr_status status[DANE_OSSL_RR_MAX];
};

/* Enable DANE on ssl (whose SSL_CTX had SSL_CTX_dane_enable; tls_client does that):
 * base is the TLSA base domain (also SNI when none is set yet), names[] the reference
 * identifiers for DANE-TA name checks (policy_refnames(); base is always included),
 * rrs[] the TLSA records: unusable ones are skipped, the rest fed to OpenSSL. DANE-EE
 * name and date checks are off (RFC 7672 §3.1.1). Returns the number of records added
 * (> 0), DANE_OSSL_ENONE when none could be added, or another negative error with a
 * one-line reason in err. info (optional) gets per-record detail. */
int dane_ossl_setup(SSL *ssl, const char *base, const char *const *names, size_t nnames,
		    const struct tlsa_rr *rrs, size_t nrrs, struct dane_setup_info *info,
		    char *err, size_t errlen);

/* OpenSSL's judgement after the handshake. */
enum dane_status {
	DANE_STATUS_VERIFIED = 0,  /* a TLSA record matched and the chain checks passed */
	DANE_STATUS_NO_MATCH,      /* no record matches the chain the server sent */
	DANE_STATUS_NAME_MISMATCH, /* DANE-TA matched, but no reference name is on the leaf */
	DANE_STATUS_EXPIRED,       /* DANE-TA matched, but a certificate is outside its dates */
	DANE_STATUS_CHAIN,         /* DANE-TA: the chain is incomplete or does not verify */
	DANE_STATUS_OTHER,         /* another verifier error (see reason) */
	DANE_STATUS_NO_PEER_CERT,  /* no certificate from the server (or no handshake) */
	DANE_STATUS_NOT_ENABLED,   /* dane_ossl_setup was not done on this SSL */
};

struct dane_outcome {
	enum dane_status status;
	long verify_result;        /* X509_V_OK or X509_V_ERR_* */
	int depth;                 /* depth of the matched certificate (0 = leaf), or -1 */
	int match_index;           /* index of the matched record in the setup rrs[], or -1 */
	uint8_t usage, selector, mtype;  /* of the matched record */
	char peername[DNS_NAME_MAX]; /* the reference name the leaf matched (DANE-TA), or "" */
	char reason[512];          /* one line; names tried and the certificate's names
				      on a name mismatch */
};

const char *dane_status_name(enum dane_status s);   /* "verified", "no-match", ... */

/* Judge an SSL after its handshake. rrs/nrrs are the records given to setup (to find
 * the matched record's index; nrrs 0 means DANE was not enabled); names/nnames the
 * reference names, used in a name-mismatch reason only when OpenSSL cannot list the
 * names it checked. */
void dane_ossl_judge(SSL *ssl, const struct tlsa_rr *rrs, size_t nrrs,
		     const char *const *names, size_t nnames, struct dane_outcome *out);

#endif

/*
 * audit: the findings of `danemx tlsa audit` and the record arithmetic of `tlsa fetch`,
 * computed from a finished check result (the published, DNSSEC-validated TLSA records
 * and the chains the probes saw) and from certificates or keys staged for the next
 * rollover. Which record belongs to which certificate is a digest comparison against
 * the chain facts (x 0/1 1/2 records; Full(0) data by its SHA-256); whether a chain
 * authenticates stays OpenSSL's verdict, carried in the check result. It never
 * resolves, never connects, never prints and never exits.
 */
#ifndef DANEMX_AUDIT_H
#define DANEMX_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dns/rr.h"
#include "engine/check.h"
#include "tls/chain.h"

struct json;

/* Severities are monitoring-plugin codes: the report's worst is the exit status. */
enum audit_sev { AUDIT_OK = 0, AUDIT_WARNING = 1, AUDIT_CRITICAL = 2, AUDIT_UNKNOWN = 3 };
const char *audit_sev_name(enum audit_sev s);        /* "ok", "warning", ... */

/* What a record is compared with: one certificate, or a bare public key (has_cert 0:
 * selector 0 records cannot match it). */
struct audit_digests {
	int has_cert;
	unsigned char spki_sha256[32], spki_sha512[64];
	unsigned char cert_sha256[32], cert_sha512[64];
};

void audit_digests_from_facts(const struct cert_facts *c, struct audit_digests *out);
/* 0, or -1 when the key or certificate cannot be encoded. */
int audit_digests_from_cert(X509 *x, struct audit_digests *out);
int audit_digests_from_pkey(EVP_PKEY *k, struct audit_digests *out);

/* 1 when the record's data designates this certificate or key under its selector and
 * matching type (the usage is not looked at); 0 otherwise, also for unknown fields. */
int audit_rr_matches(const struct tlsa_rr *rr, const struct audit_digests *d);

/* The records an operator would publish for the certificate at this depth of a chain:
 * 3 1 1, 3 1 2, 3 0 1 for the leaf; 2 1 1, 2 0 1 for an issuer. The data points into c.
 * Returns how many were written (at most max). */
size_t audit_candidates(const struct cert_facts *c, int depth, struct tlsa_rr *out, size_t max);

/* A certificate, chain or key staged for the next rollover (--next FILE). */
#define AUDIT_NEXT_MAX 8
struct audit_next {
	char label[256];                 /* the file name as given, escaped */
	struct audit_digests d[CHAIN_MAX]; /* [0] the leaf (or the key), then its issuers */
	size_t n;
	int key_only;
};
/* Load FILE (PEM or DER; a certificate, a chain leaf first, or a public/private key).
 * Returns TLSA_OK, or a tlsa_err code (TLSA_EFILE: cannot read) with a reason. */
int audit_next_load(const char *path, struct audit_next *out, char *err, size_t errlen);

enum audit_rec_state {
	AUDIT_REC_MATCHES,      /* matches a certificate the server presents now */
	AUDIT_REC_STAGED,       /* matches only a --next certificate or key */
	AUDIT_REC_STALE,        /* usable, matches nothing presented or staged */
	AUDIT_REC_UNUSABLE,     /* not usable for SMTP (PKIX usage, malformed, unknown) */
	AUDIT_REC_UNCHECKED,    /* usable, but no chain was seen to compare it with */
};
const char *audit_rec_state_name(enum audit_rec_state s);

struct audit_rec {
	const struct check_tlsa_rec *t;  /* the published record, in the check result */
	enum audit_rec_state state;
	char where[160];                 /* what it matched: "leaf at 192.0.2.1 (ecdsa)" */
};

struct audit_finding {
	enum audit_sev sev;              /* AUDIT_OK: a note (e.g. a covered next key) */
	const char *code;                /* stable name: "stale-record", "ttl-long", ... */
	const char *rule;                /* the RFC section behind it, or NULL */
	char host[DNS_NAME_MAX];         /* "" for the whole destination */
	char record[160];                /* the record, shortened, or "" */
	char text[512];
};

struct audit_host {
	const struct check_host *h;
	struct audit_rec *recs;          /* one per published TLSA record, same order */
	size_t nrecs;
	size_t nchains;                  /* chains seen (per address and key type) */
};

struct audit_report {
	const struct check_result *res;  /* not owned */
	enum audit_sev sev;              /* the worst finding, the verdict's status included */
	struct audit_host *hosts;
	size_t nhosts;
	struct audit_finding *f;
	size_t nf, fcap;
	const struct audit_next *next;   /* not owned */
	size_t nnext;
	int next_covered[AUDIT_NEXT_MAX]; /* per next: covered on every host with DANE */
};

struct audit_params {
	time_t now;
	uint32_t ttl_max;                /* warn when a TLSA TTL is above this (seconds) */
	long rrsig_warn;                 /* warn when an RRSIG expires within this (seconds) */
	const struct audit_next *next;
	size_t nnext;                    /* at most AUDIT_NEXT_MAX */
};

/* The findings for one finished check (made with connect on). 0, or -1 when out of
 * memory; *out is set only on success and is freed with audit_report_free. */
int audit_run(const struct check_result *res, const struct audit_params *p,
	      struct audit_report **out);
void audit_report_free(struct audit_report *r);
/* The report as one JSON object (docs/tlsa.md). */
void audit_report_json(const struct audit_report *r, struct json *j);

#endif

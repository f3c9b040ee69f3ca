/*
 * policy: the RFC 7672 decisions as pure functions. Given what the DNS said (MX RRset
 * security, the host's address security, the TLSA lookup outcome and records) it decides
 * the TLS requirement for one MX host, which TLSA records OpenSSL may be given, which TLSA
 * base names to try (CNAME rules) and which names a DANE-TA certificate may carry. Every
 * decision comes with a reason and the RFC section. It never does I/O, never allocates,
 * never logs; it never turns a failed or bogus lookup into a downgrade.
 */
#ifndef DANEMX_POLICY_H
#define DANEMX_POLICY_H

#include <stddef.h>

#include "dns/rr.h"

/* Why a TLSA record is or is not usable for SMTP (RFC 7672 §3.1, RFC 7671 §4-5). */
enum tlsa_usability {
	TLSA_USABLE = 0,
	TLSA_UNUSABLE_PKIX,      /* usage 0/1: PKIX-TA/PKIX-EE are not for SMTP (RFC 7672 §3.1.3) */
	TLSA_UNUSABLE_USAGE,     /* usage > 3 */
	TLSA_UNUSABLE_SELECTOR,  /* selector > 1 */
	TLSA_UNUSABLE_MTYPE,     /* matching type > 2 */
	TLSA_UNUSABLE_LENGTH,    /* digest length wrong for its matching type, or empty data */
};

/* Classify one record; *reason (optional) gets a static one-line explanation. */
enum tlsa_usability policy_tlsa_usability(const struct tlsa_rr *rr, const char **reason);
/* How many of n records are usable. */
size_t policy_tlsa_count_usable(const struct tlsa_rr *rrs, size_t n);

/* The TLSA lookup outcome as the resolver reports it. NXDOMAIN and NODATA mean a
 * DNSSEC-validated denial; an unsigned denial or unsigned records are TLSA_LOOKUP_INSECURE. */
enum tlsa_outcome {
	TLSA_LOOKUP_SECURE = 0,    /* validated answer (records in rrs; none = same as NODATA) */
	TLSA_LOOKUP_INSECURE,      /* answer or denial without a DNSSEC chain */
	TLSA_LOOKUP_BOGUS,         /* validation failed */
	TLSA_LOOKUP_SERVFAIL,      /* lookup failed (SERVFAIL, REFUSED, other rcode) */
	TLSA_LOOKUP_TIMEOUT,       /* no answer in time */
	TLSA_LOOKUP_NXDOMAIN,      /* validated: no such name */
	TLSA_LOOKUP_NODATA,        /* validated: name exists, no TLSA */
	TLSA_LOOKUP_NOT_LOOKED_UP, /* not asked (e.g. addresses insecure) */
};
const char *tlsa_outcome_name(enum tlsa_outcome o);

/* The TLS requirement for a host. */
enum tls_level {
	TLS_LEVEL_MAY = 0,   /* opportunistic: TLS if offered, no authentication */
	TLS_LEVEL_ENCRYPT,   /* TLS mandatory, unauthenticated (secure TLSA, none usable) */
	TLS_LEVEL_DANE,      /* TLS mandatory, authenticated by the usable TLSA records */
	TLS_LEVEL_TEMPFAIL,  /* DNS failure or bogus data: do not deliver now, never downgrade */
};
const char *tls_level_name(enum tls_level l);  /* "may", "encrypt", "dane", "tempfail" */

/* What to do with an MX host reached through an insecure MX RRset (RFC 7672 §2.2.1). */
enum insecure_mx_policy {
	INSECURE_MX_MAY = 0,  /* strict opportunistic: ignore the host's TLSA records */
	INSECURE_MX_DANE,     /* still enforce secure TLSA; success is "trusted", not "verified" */
};

struct policy_input {
	enum dns_sec mx_sec;      /* the MX RRset (for an implicit MX: the domain's address RRset) */
	enum dns_sec addr_sec;    /* the host's A/AAAA lookups including any CNAME chain */
	enum tlsa_outcome tlsa;
	const struct tlsa_rr *rrs;
	size_t nrrs;
	enum insecure_mx_policy insecure_mx;
};

struct policy_result {
	enum tls_level level;
	int trusted;              /* DANE level for a host from an insecure MX RRset */
	size_t usable;            /* usable records among rrs */
	size_t unusable;
	const char *reason;       /* static, one line */
	const char *rfc;          /* static, e.g. "RFC 7672 §2.2" */
};

/* The host's TLS requirement (after Postfix dane_host_level()). Always fills out. */
void policy_host_level(const struct policy_input *in, struct policy_result *out);

/* TLSA base domains to try, in order (RFC 7672 §2.2.2, RFC 7671 §7): for a secure
 * address lookup, the fully CNAME-expanded name first, then the MX host name when it
 * differs; none when the address lookup (any link of the chain) is not secure. Names
 * are copied as given (presentation form). */
struct tlsa_bases {
	size_t n;
	char name[2][DNS_NAME_MAX];
};
void policy_tlsa_bases(const char *host, const char *expanded, enum dns_sec addr_sec,
		       struct tlsa_bases *out);
/* "_PORT._tcp.BASE." into dst (tlsa_owner() with the checks the engine wants: port
 * 1-65535, a non-root base). Returns 0, or -1 when invalid or it does not fit. */
int policy_tlsa_qname(const char *base, unsigned port, char *dst, size_t dstsize);

/* Reference identifiers for DANE-TA name checks (RFC 7672 §3.2.2): the TLSA base domain,
 * the MX host name when different, and the next-hop (recipient) domain when different.
 * Lower case, without the trailing dot (the form SSL_add1_host() wants), no duplicates;
 * NULL or empty inputs are skipped. */
#define POLICY_REFNAMES_MAX 3
struct refnames {
	size_t n;
	char name[POLICY_REFNAMES_MAX][DNS_NAME_MAX];
};
void policy_refnames(const char *tlsa_base, const char *mx_host, const char *nexthop,
		     struct refnames *out);

#endif

/*
 * dns: asynchronous DNS lookups with in-process DNSSEC validation (libunbound) on the
 * caller's libevent loop. Every answer says secure, insecure or bogus (with why), and a
 * lookup ends in exactly one of: an answer, NXDOMAIN, NODATA, a failure, a timeout or a
 * local error. It never prints, never exits, never hands typed records (MX, addresses,
 * TLSA) out of a bogus answer, and never calls a user callback from inside dns_query():
 * callbacks always run from the event loop, so a callback may start new queries.
 */
#ifndef DANEMX_DNS_H
#define DANEMX_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dns/rr.h"

struct event_base;

#define DNS_DEFAULT_ANCHOR "/usr/share/dns/root.key"   /* Debian's dns-root-data */
#define DNS_DEFAULT_TIMEOUT_MS 10000
#define DNS_MAX_CNAMES 16          /* longer chains end the lookup with DNS_FAIL */

/* Context options, shared by every command (filled by src/cli/cli_dns.c). */
struct dns_opts {
	const char *trust_anchor;  /* DS/DNSKEY file; NULL: DNS_DEFAULT_ANCHOR (not with config) */
	const char *resolver;      /* "ADDR[@PORT]": forward to it, still validating here */
	const char *config;        /* unbound.conf-style file for libunbound (e.g. the lab) */
	unsigned timeout_ms;       /* per query; 0: DNS_DEFAULT_TIMEOUT_MS */
	int bulk;                  /* many queries (scan): bigger caches and outgoing range */
};

/* Why dns_ctx_new failed; src/cli/cli_dns.c maps these to sysexits. */
enum dns_err {
	DNS_E_OK = 0,
	DNS_E_USAGE,               /* malformed option value, e.g. a bad resolver address */
	DNS_E_CONFIG,              /* missing/unreadable/malformed trust anchor or config */
	DNS_E_UNAVAILABLE,         /* the resolver cannot be used */
	DNS_E_NOMEM,
};
const char *dns_err_name(enum dns_err e);

enum dns_status {
	DNS_OK = 0,                /* the RRset exists (possibly after CNAMEs) */
	DNS_NXDOMAIN,              /* the (final) name does not exist */
	DNS_NODATA,                /* the name exists, the type does not */
	DNS_FAIL,                  /* SERVFAIL or another error rcode, or a broken answer */
	DNS_TIMEOUT,               /* no answer within the per-query timeout */
	DNS_ERROR,                 /* a local error: bad name, libunbound error, memory */
};
const char *dns_status_name(enum dns_status s);   /* "ok", "nxdomain", ... */
const char *dns_sec_name(enum dns_sec s);         /* "secure", "insecure", "bogus" */

/* One CNAME link. libunbound validates the whole answer (every link and the final
 * RRset) and gives one status for all of it: a secure answer means every link is secure;
 * an insecure or bogus answer does not say which link made it so. So a link's sec is the
 * answer's sec, and dns_result.chain_secure is true only for a secure answer. */
struct dns_cname {
	char owner[DNS_NAME_MAX];
	char target[DNS_NAME_MAX];
	enum dns_sec sec;
};

/* Read sec before status: a bogus answer keeps the status its rcode implies (DNS_FAIL
 * for a SERVFAIL, but DNS_OK or DNS_NXDOMAIN are possible too) and must be treated as
 * bogus whatever the status says. */
struct dns_result {
	char qname[DNS_NAME_MAX];  /* as asked, lower case, with the trailing dot */
	uint16_t qtype;
	int rcode;                 /* DNS rcode of the answer (-1 for timeout/local error) */
	enum dns_status status;
	enum dns_sec sec;
	char why_bogus[512];       /* libunbound's reason when sec is bogus, else "" */
	char reason[256];          /* one line for FAIL/TIMEOUT/ERROR, else "" */
	uint32_t ttl;              /* answer RRset TTL (min), or the negative TTL; 0 unknown */
	long elapsed_ms;           /* from dns_query() to the answer */
	int ratelimited;

	struct dns_cname *cnames;  /* the chain followed from qname, in order */
	size_t ncnames;
	int chain_secure;          /* 1 when there are links and the answer is secure */
	char canon[DNS_NAME_MAX];  /* the final owner name (qname when no CNAME) */

	/* The final RRset of type qtype at canon. Typed arrays stay empty when bogus. */
	struct mx_rr *mx;          /* qtype MX, by preference (ties: answer order) */
	size_t nmx;
	struct addr_rr *addrs;     /* qtype A or AAAA */
	size_t naddrs;
	struct tlsa_rr *tlsa;      /* qtype TLSA */
	size_t ntlsa;
	char **rrs;                /* every record of the final RRset in presentation form */
	size_t nrrs;

	time_t sig_expire;         /* earliest RRSIG expiration over that RRset; 0 if none */
	unsigned char *packet;     /* the raw answer as libunbound returned it, or NULL */
	size_t packet_len;
};

void dns_result_free(struct dns_result *res);

struct dns_ctx;
struct dns_query;

/* The callback owns res and frees it with dns_result_free(). It runs from the loop,
 * never from inside dns_query(); it may start queries, cancel other queries, and even
 * call dns_ctx_free() (the context then goes away once the callback returns). */
typedef void dns_cb(struct dns_result *res, void *arg);

/* Build a context on base. On failure: NULL, a one-line reason in err (naming the file
 * or address and the cause) and the class in *why. */
struct dns_ctx *dns_ctx_new(struct event_base *base, const struct dns_opts *opts,
			    enum dns_err *why, char *err, size_t errlen);
/* Pending queries are dropped without callbacks. NULL-safe. */
void dns_ctx_free(struct dns_ctx *ctx);

/* Start a lookup. NULL only when out of memory (then no callback); every other problem
 * (a bad name included) arrives as a DNS_ERROR result through cb. The handle is valid
 * until cb starts or dns_cancel() is called. */
struct dns_query *dns_query(struct dns_ctx *ctx, const char *name, uint16_t qtype,
			    dns_cb *cb, void *arg);
/* Forget a pending query: its callback will not run. Safe at any time before it runs. */
void dns_cancel(struct dns_query *q);
/* Queries whose callback has not run yet (cancelled ones excluded). */
size_t dns_pending(const struct dns_ctx *ctx);

/* "Can this resolver validate?": the zone whose trust anchor the context uses ("." for
 * the default root anchor, the anchor file's owner, or the first anchor named in a
 * --dns-config file); NULL when none is configured, i.e. nothing can come back secure. */
const char *dns_anchor_zone(const struct dns_ctx *ctx);
/* Ask for the DNSKEY set of the anchor zone; the resolver validates iff the result is
 * secure (dns_result_validates). Without an anchor the result is DNS_ERROR, insecure. */
struct dns_query *dns_probe_validation(struct dns_ctx *ctx, dns_cb *cb, void *arg);
int dns_result_validates(const struct dns_result *res);

/* Diagnostics after a failure with opts.resolver set: does anything answer a plain UDP
 * query at ADDR[@PORT] within timeout_ms? 1 yes, 0 no (silent or refused), -1 bad
 * address. It BLOCKS up to timeout_ms: for commands after their loop, not for engines. */
int dns_resolver_answers(const char *resolver, unsigned timeout_ms);

/* Type names: "MX" -> 15, "TYPE65" -> 65; 0 when unknown. And back ("TYPE65"). */
uint16_t dns_type_from_name(const char *name);
const char *dns_type_name(uint16_t type, char *buf, size_t buflen);

#endif

/*
 * check: the engine's pipeline for one destination domain, run on the caller's event loop:
 * MX lookup -> per host address and TLSA lookups (all at once, in RFC 7672 order) -> the
 * TLS requirement per host -> one probe per address (and per key type) -> verdicts folded
 * per address, host and domain. It fills a result tree and calls back once; it never
 * prints and never exits. check, scan, send and demo all run this one engine.
 */
#ifndef DANEMX_CHECK_H
#define DANEMX_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/ssl.h>

#include "dns/rr.h"
#include "engine/verdict.h"

struct event_base;
struct dns_ctx;
struct smtp_client_result;
struct iplimit;

#define CHECK_REASON_MAX 512
#define CHECK_MAX_HOSTS 32         /* MX hosts considered, in preference order */
#define CHECK_MAX_ADDRS 32         /* addresses probed per host; more are counted, not probed */

enum check_family { CHECK_INET = 1, CHECK_INET6 = 2 };

/* What the TLSA lookup and RFC 7672 say a host requires. */
enum check_tls_req {
	CHECK_REQ_NONE,      /* not decided (no addresses) */
	CHECK_REQ_DANE,      /* usable TLSA: authenticated TLS */
	CHECK_REQ_ENCRYPT,   /* secure TLSA RRset without a usable record: TLS, unauthenticated */
	CHECK_REQ_MAY,       /* no secure TLSA: opportunistic TLS, plaintext allowed */
	CHECK_REQ_TEMPFAIL,  /* TLSA or address lookup failed or bogus: do not use this host */
};
const char *check_tls_req_name(enum check_tls_req r);

/* The outcome of one DNS lookup, as reported. */
struct check_lookup {
	int done;
	char qname[DNS_NAME_MAX];
	const char *status;        /* "ok", "nxdomain", "nodata", "fail", "timeout", "error" */
	int failed;                /* bogus, failed, timed out: proves nothing */
	enum dns_sec sec;
	char why_bogus[256];
	uint32_t ttl;
	time_t sig_expire;         /* earliest RRSIG expiration of the answer; 0 if none */
};

struct check_tlsa_rec {
	struct tlsa_rr rr;
	int usable;
	char why[128];             /* why the record is unusable; empty when usable */
};

struct check_probe {
	const char *key_type;      /* "any", "ecdsa", "rsa" */
	enum verdict v;
	char reason[CHECK_REASON_MAX];
	const char *rule;
	int unreachable;           /* could not connect: ignorable beside another answering address */
	int not_applicable;        /* a key type the server does not offer: not counted */
	struct smtp_client_result *client; /* the probe's facts (banner, TLS, chain, match) */
};

struct check_address {
	struct addr_rr addr;
	enum verdict v;
	char reason[CHECK_REASON_MAX];
	int ignorable;
	struct check_probe probes[2];
	size_t nprobes;
};

struct check_host {
	char name[DNS_NAME_MAX];   /* as in the MX RRset, no final dot */
	uint16_t preference;
	char canonical[DNS_NAME_MAX];
	size_t ncname;
	char (*cname_owner)[DNS_NAME_MAX];
	char (*cname_target)[DNS_NAME_MAX];
	int cname_secure;
	struct check_lookup a, aaaa, tlsa_lookup;
	enum dns_sec addr_sec;     /* the weakest of the address lookups that answered */
	char tlsa_base[DNS_NAME_MAX];
	struct check_tlsa_rec *tlsa;
	size_t ntlsa, ntlsa_usable;
	enum check_tls_req req;
	int trusted;               /* DANE applies through an insecure MX RRset (policy.c decides) */
	char req_reason[CHECK_REASON_MAX];
	enum verdict v;
	char reason[CHECK_REASON_MAX];
	const char *rule;
	struct check_address *addrs;
	size_t naddrs;
	size_t addrs_dropped;      /* addresses beyond CHECK_MAX_ADDRS, not probed */
};

struct check_result {
	char domain[DNS_NAME_MAX]; /* no final dot */
	enum verdict v;
	char reason[CHECK_REASON_MAX];
	const char *rule;
	struct check_lookup mx_lookup;
	int implicit_mx, null_mx;
	int decided_by_dns;        /* v was decided at the MX stage (nomail, tempfail) */
	struct check_host *hosts;
	size_t nhosts;
	char validation_error[256]; /* non-empty: the resolver cannot validate; no DANE verdict */
	char input_error[256];      /* non-empty: the name itself was invalid */
	double elapsed_ms;
};

struct check_params {
	struct dns_ctx *dns;       /* shared by all checks (one cache) */
	SSL_CTX *ssl_ctx;          /* client context with DANE enabled */
	uint16_t port;             /* 25 */
	const char *helo;          /* EHLO name */
	int families;              /* CHECK_INET | CHECK_INET6 */
	int insecure_mx_dane;      /* 1: enforce secure TLSA below an insecure MX RRset (trusted) */
	int resolve_only;          /* stop after the TLS requirement: no probes, no verdicts
				      (send's delivery stage takes over from there) */
	int both_keys;             /* probe ECDSA and RSA separately where DANE applies */
	unsigned timeout_ms;       /* per protocol phase */
	size_t max_hosts;          /* MX hosts considered, in preference order */
	int host_only;             /* the name is an MX host: no MX lookup, it is the only host
				      (as if a secure MX RRset named it; tlsa fetch) */
	struct iplimit *iplimit;   /* optional per-address connection cap (engine/iplimit.h),
				      shared by all checks; NULL: no cap */
};

typedef void (*check_done_cb)(struct check_result *res, void *arg);

struct check_job;
/* Start checking one domain. The callback runs once, from the loop; it owns res (free
 * it with check_result_free). Returns NULL only when out of memory. */
struct check_job *check_start(struct event_base *base, const struct check_params *p,
			      const char *domain, check_done_cb cb, void *arg);
void check_result_free(struct check_result *res);

/* The result as one JSON object (docs/check-json.md), for check --json, scan and demo. */
struct json;
void check_result_json(const struct check_result *res, struct json *j);

/* Validate and normalise a domain name typed by a user: lower case, no final dot,
 * A-labels only (IDNs must be converted first). 0 on success, else -1 with why. */
int check_normalise_domain(const char *in, char *out, size_t outlen, char *why, size_t whylen);

#endif

/*
 * hosttls: what an SMTP session to one MX host needs from the resolution (the usable
 * TLSA records, the TLSA base domain as SNI, the DANE-TA reference names), and what a
 * finished session means as a verdict. The one place where check's probes and send's
 * deliveries turn a host into client parameters and an outcome into a verdict, so the
 * two can never disagree. It never connects and never decides policy (policy.c did).
 */
#ifndef DANEMX_HOSTTLS_H
#define DANEMX_HOSTTLS_H

#include <stddef.h>

#include "dane/policy.h"
#include "engine/check.h"
#include "smtp/client.h"

#define HOSTTLS_RR_MAX 32

struct host_tls {
	struct tlsa_rr rrs[HOSTTLS_RR_MAX];   /* usable records; data stays with the host */
	size_t nrrs;
	struct refnames refs;
	const char *names[POLICY_REFNAMES_MAX];
	char sni[DNS_NAME_MAX];
	enum check_tls_req req;
	int trusted;
};

/* Fill t in place (it must not move afterwards: names point into it). */
void host_tls_init(struct host_tls *t, const struct check_host *h, const char *nexthop);
/* Set p's TLS fields for requirement tls (SNI always; records and names for DANE). */
void host_tls_apply(const struct host_tls *t, enum smtp_tls_req tls, struct smtp_client_params *p);
enum smtp_tls_req host_tls_smtp_req(enum check_tls_req req);

/* The verdict of a finished session under the host's requirement, with its rule and a
 * reason (peer text already escaped by the client). *unreachable is set when nothing
 * answered at all. A refusal (4xx/5xx) over a session that met the requirement keeps the
 * security reached: the refusal is the reason. */
enum verdict host_tls_verdict(const struct host_tls *t, enum smtp_tls_req tls,
			      const struct smtp_client_result *r, const char **rule,
			      char *reason, size_t reasonlen, int *unreachable);

#endif

/*
 * verdict: the fixed vocabulary of danemx results and the rules that fold address verdicts
 * into a host verdict and host verdicts into a domain verdict. Pure functions: no I/O.
 * A domain passes only when every MX host passes; one good MX never hides a broken one.
 */
#ifndef DANEMX_VERDICT_H
#define DANEMX_VERDICT_H

#include <stddef.h>

enum verdict {
	VERDICT_VERIFIED,       /* DANE-authenticated; MX RRset and everything below secure */
	VERDICT_TRUSTED,        /* DANE-authenticated, but the MX RRset itself was insecure */
	VERDICT_OPPORTUNISTIC,  /* no DANE applies; STARTTLS was used */
	VERDICT_PLAINTEXT,      /* no DANE applies; no STARTTLS offered */
	VERDICT_ENCRYPT_ONLY,   /* secure TLSA RRset with no usable record: TLS, unauthenticated */
	VERDICT_DANE_FAIL,      /* DANE required and not met: mail is not delivered there */
	VERDICT_TEMPFAIL,       /* DNS bogus/failed, timeout, unreachable: mail is deferred */
	VERDICT_NOMAIL,         /* null MX or no such domain: the domain takes no mail */
	VERDICT_COUNT
};

const char *verdict_name(enum verdict v);
/* Parse a verdict name; -1 when unknown. */
int verdict_parse(const char *name);

/* 1 when the verdict means mail would be delivered with the protection the domain publishes. */
int verdict_is_pass(enum verdict v);
/* 1 when DANE authenticated the server. */
int verdict_is_dane(enum verdict v);

/*
 * Folding. Failures dominate (dane-fail over tempfail), then the weakest protection among
 * the passes: plaintext < opportunistic < encrypt-only < trusted < verified. Entries marked
 * "ignorable" (an unreachable address family when another address answered) do not count
 * unless nothing else does. An empty list folds to tempfail.
 */
struct verdict_item {
	enum verdict v;
	int ignorable;
};
enum verdict verdict_fold(const struct verdict_item *items, size_t n, size_t *worst_index);

/* Monitoring-plugin status for a verdict: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
int verdict_nagios(enum verdict v);

#endif

/*
 * deliver: one domain's share of a message, delivered with DANE. The check pipeline
 * resolves the destination (MX, addresses, TLSA, the RFC 7672 requirement per host);
 * this stage then tries the hosts in preference order (random within equal preference),
 * every address of a host before the next host, with the TLS the host requires. A host
 * that fails DANE, or whose TLSA lookup failed, is skipped, never downgraded. It reports
 * per recipient and per attempt; it never prints, never exits, never alters the message.
 */
#ifndef DANEMX_DELIVER_H
#define DANEMX_DELIVER_H

#include <stddef.h>

#include "engine/check.h"

enum deliver_level {
	DELIVER_DANE = 0,     /* RFC 7672 opportunistic DANE (default) */
	DELIVER_DANE_ONLY,    /* refuse hosts without usable TLSA records */
	DELIVER_ENCRYPT,      /* TLS always; DANE where it applies */
	DELIVER_MAY,          /* opportunistic TLS, TLSA records ignored (Postfix "may") */
	DELIVER_NONE,         /* plaintext, never STARTTLS */
};
const char *deliver_level_name(enum deliver_level l);
int deliver_level_parse(const char *s);      /* -1 when unknown */

enum rcpt_status { RCPT_DELIVERED = 0, RCPT_DEFERRED, RCPT_BOUNCED };
const char *rcpt_status_name(enum rcpt_status s);

/* Why a recipient bounced: the exit code of send depends on it. */
enum bounce_kind { BOUNCE_NONE = 0, BOUNCE_NOMAIL, BOUNCE_POLICY, BOUNCE_RCPT, BOUNCE_MESSAGE };

struct deliver_rcpt {
	const char *addr;            /* the caller's string */
	enum rcpt_status status;
	enum bounce_kind bounce;
	char mx[DNS_NAME_MAX];       /* the host that took it, or the last one tried */
	char address[48];
	const char *tls;             /* "verified", "trusted", "encrypted", "plaintext", "none" */
	char reason[CHECK_REASON_MAX];
	char reply[512];             /* the server's reply to RCPT or to the final dot */
};

struct deliver_attempt {
	char host[DNS_NAME_MAX];
	char address[48];            /* "" when the host was skipped without connecting */
	const char *requirement;     /* "dane", "encrypt", "may", "none", "skipped" */
	enum verdict v;              /* the attempt's security verdict */
	int delivered;
	char reason[CHECK_REASON_MAX];
	int matched;                 /* a TLSA record matched */
	unsigned usage, selector, mtype;
	int depth;
	int starttls_offered, tls;   /* what the server offered and what was reached */
	char tls_version[16];
	char leaf_subject[256];      /* the certificate the server presented, when TLS ran */
	unsigned char leaf_spki_sha256[32];
	int have_leaf;
};

struct deliver_result {
	char domain[DNS_NAME_MAX];
	struct check_result *dest;   /* the resolution (hosts, records, requirements) */
	struct deliver_rcpt *rcpts;
	size_t nrcpts;
	struct deliver_attempt *attempts;
	size_t nattempts;
	int delivered;               /* the message was accepted (for at least one recipient) */
};

struct deliver_params {
	struct check_params check;   /* resolver, TLS context, port, EHLO name, timeouts */
	enum deliver_level level;
	const char *mail_from;
	const char *const *rcpts;    /* all in this domain */
	size_t nrcpts;
	const char *msg;
	size_t msg_len;
};

typedef void (*deliver_done_cb)(struct deliver_result *res, void *arg);

/* Start delivering; the callback runs once from the loop and owns res
 * (deliver_result_free). -1 only when out of memory. All params pointers must stay valid
 * until the callback. */
int deliver_start(struct event_base *base, const struct deliver_params *p, const char *domain,
		  deliver_done_cb cb, void *arg);
void deliver_result_free(struct deliver_result *res);

#endif

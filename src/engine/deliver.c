/*
 * deliver: the delivery stage after the shared resolution (see deliver.h). One SMTP
 * session at a time per domain, in RFC 5321 §5.1 order. Where a host requires DANE or
 * encryption, a failure moves on to the next address or host; it never retries the same
 * host with weaker TLS. A message is delivered only on a 2xx after the final dot.
 */
#include "engine/deliver.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dane/policy.h"
#include "engine/hosttls.h"
#include "smtp/client.h"
#include "util/log.h"
#include "util/str.h"

struct deliver_job {
	struct event_base *base;
	struct deliver_params p;
	struct deliver_result *res;
	size_t *order;               /* host indexes in the order they are tried */
	size_t nhosts, hi, ai;       /* current host (index into order) and address */
	struct smtp_client *sc;
	struct host_tls tls;         /* the current host's records, SNI and names */
	enum smtp_tls_req host_req;  /* what the current host gets under the level */
	enum smtp_tls_req cur_req;   /* what the current session uses (none on a plaintext retry) */
	int plain_retry;             /* the current address was already retried in plaintext */
	size_t local_refusals;       /* MX hosts the message could not be sent to as it is */
	deliver_done_cb cb;
	void *arg;
};

static const char *const level_names[] = {"dane", "dane-only", "encrypt", "may", "none"};

const char *deliver_level_name(enum deliver_level l)
{
	return (unsigned)l < 5 ? level_names[l] : "?";
}

int deliver_level_parse(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *rcpt_status_name(enum rcpt_status s)
{
	static const char *const names[] = {"delivered", "deferred", "bounced"};
	return (unsigned)s < 3 ? names[s] : "?";
}

static void try_next(struct deliver_job *job);
static int start_session(struct deliver_job *job, struct check_host *h, struct check_address *a);

static void all_rcpts(struct deliver_result *res, enum rcpt_status st, enum bounce_kind bk,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void all_rcpts(struct deliver_result *res, enum rcpt_status st, enum bounce_kind bk,
		      const char *fmt, ...)
{
	char why[CHECK_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < res->nrcpts; i++) {
		struct deliver_rcpt *r = &res->rcpts[i];
		if (r->status == RCPT_DELIVERED || r->status == RCPT_BOUNCED)
			continue;
		r->status = st;
		r->bounce = bk;
		str_copy(r->reason, why, sizeof(r->reason));
	}
}

static void job_done(struct deliver_job *job)
{
	struct deliver_result *res = job->res;

	free(job->order);
	job->cb(res, job->arg);
	free(job);
}

static struct deliver_attempt *attempt_new(struct deliver_job *job, const struct check_host *h)
{
	struct deliver_result *res = job->res;
	struct deliver_attempt *na = realloc(res->attempts, (res->nattempts + 1) * sizeof(*na));

	if (na == NULL)
		return NULL;
	res->attempts = na;
	na = &res->attempts[res->nattempts++];
	memset(na, 0, sizeof(*na));
	str_copy(na->host, h->name, sizeof(na->host));
	na->depth = -1;
	return na;
}

/* The TLS this host gets under the chosen level; -1 when the level refuses the host. */
static int effective_req(const struct deliver_job *job, const struct check_host *h,
			 enum smtp_tls_req *out, char *why, size_t whylen)
{
	switch (job->p.level) {
	case DELIVER_NONE: *out = SMTP_TLS_NONE; return 0;
	case DELIVER_MAY: *out = SMTP_TLS_MAY; return 0;
	default: break;
	}
	switch (h->req) {
	case CHECK_REQ_TEMPFAIL:
		str_copy(why, h->reason[0] ? h->reason : h->req_reason, whylen);
		return -1;
	case CHECK_REQ_DANE: *out = SMTP_TLS_DANE; return 0;
	case CHECK_REQ_ENCRYPT: *out = SMTP_TLS_ENCRYPT; break;
	default: *out = job->p.level == DELIVER_ENCRYPT ? SMTP_TLS_ENCRYPT : SMTP_TLS_MAY; break;
	}
	if (job->p.level == DELIVER_DANE_ONLY) {
		str_printf(why, whylen, "no usable TLSA records for %s (%s) and --level dane-only",
			   h->name, h->req_reason);
		return -1;
	}
	return 0;
}

static const char *tls_reached(const struct deliver_job *job, const struct smtp_client_result *r)
{
	if (r->dane_checked && r->dane.status == DANE_STATUS_VERIFIED)
		return job->tls.trusted ? "trusted" : "verified";
	return r->tls ? "encrypted" : "plaintext";
}

static void record_rcpts(struct deliver_job *job, const struct check_host *h,
			 const struct smtp_client_result *r)
{
	struct deliver_result *res = job->res;

	for (size_t i = 0; i < res->nrcpts; i++) {
		struct deliver_rcpt *d = &res->rcpts[i];
		const struct smtp_rcpt_result *rr = i < r->nrcpts && r->rcpt != NULL ? &r->rcpt[i] : NULL;

		str_copy(d->mx, h->name, sizeof(d->mx));
		str_copy(d->address, r->peer, sizeof(d->address));
		d->tls = tls_reached(job, r);
		if (rr != NULL && rr->accepted && r->delivered) {
			d->status = RCPT_DELIVERED;
			str_copy(d->reply, r->final_reply, sizeof(d->reply));
			/* r->peer is "127.0.0.1:25" or, for IPv6, already bracketed "[::1]:25" */
			str_printf(d->reason, sizeof(d->reason),
				   r->peer[0] == '[' ? "delivered to %s %s (%s)" : "delivered to %s [%s] (%s)",
				   h->name, r->peer, d->tls);
		} else if (rr != NULL && rr->code >= 500) {
			d->status = RCPT_BOUNCED;
			d->bounce = BOUNCE_RCPT;
			str_copy(d->reply, rr->reply, sizeof(d->reply));
			str_printf(d->reason, sizeof(d->reason), "recipient rejected by %s: %s", h->name, rr->reply);
		} else {
			d->status = RCPT_DEFERRED;
			str_copy(d->reply, rr != NULL ? rr->reply : r->final_reply, sizeof(d->reply));
			str_printf(d->reason, sizeof(d->reason), "not accepted by %s: %s", h->name,
				   rr != NULL && rr->code ? rr->reply : r->reason);
		}
	}
}


/* MAIL was accepted, no recipient was, and at least one RCPT got a 5xx. */
static int rcpt_5xx(const struct smtp_client_result *r)
{
	if (r->rcpts_accepted != 0 || r->mail_code < 200 || r->mail_code >= 300 || r->rcpt == NULL)
		return 0;
	for (size_t i = 0; i < r->nrcpts; i++)
		if (r->rcpt[i].code >= 500)
			return 1;
	return 0;
}

static void session_done(struct smtp_client *sc, const struct smtp_client_result *r, void *arg)
{
	struct deliver_job *job = arg;
	struct check_host *h = &job->res->dest->hosts[job->order[job->hi]];
	struct deliver_attempt *at = &job->res->attempts[job->res->nattempts - 1];

	at->delivered = r->delivered;
	at->starttls_offered = r->starttls_offered;
	at->tls = r->tls;
	if (r->tls && r->tls_facts.nchain > 0) {
		at->have_leaf = 1;
		str_copy(at->tls_version, r->tls_facts.version, sizeof(at->tls_version));
		str_copy(at->leaf_subject, r->tls_facts.chain[0].subject, sizeof(at->leaf_subject));
		memcpy(at->leaf_spki_sha256, r->tls_facts.chain[0].spki_sha256, 32);
	}
	if (r->dane_checked && r->dane.status == DANE_STATUS_VERIFIED) {
		at->matched = 1;
		at->usage = r->dane.usage;
		at->selector = r->dane.selector;
		at->mtype = r->dane.mtype;
		at->depth = r->dane.depth;
	}
	{
		const char *rule;
		int unreachable;
		at->v = host_tls_verdict(&job->tls, job->cur_req, r, &rule, at->reason,
					 sizeof(at->reason), &unreachable);
	}
	if (r->delivered) {
		str_copy(at->reason, r->final_reply, sizeof(at->reason));
		record_rcpts(job, h, r);
		job->res->delivered = 1;
		smtp_client_free(sc);
		job_done(job);
		return;
	}
	if (r->fail == SMTP_FAIL_TLS && job->cur_req == SMTP_TLS_MAY && !job->plain_retry) {
		/* An opportunistic host (no usable TLSA) whose TLS fails: retry the same address
		 * in plaintext once, as Postfix does (RFC 7435). Never for DANE or encrypt. */
		struct check_host *hh = h;
		smtp_client_free(sc);
		job->sc = NULL;
		job->plain_retry = 1;
		job->cur_req = SMTP_TLS_NONE;
		if (start_session(job, hh, &hh->addrs[job->ai]) == 0)
			return;
		job->ai++;
		try_next(job);
		return;
	}
	if (r->fail == SMTP_FAIL_REJECTED && rcpt_5xx(r)) {
		/* MAIL accepted, no RCPT: each recipient by its own reply, whatever the last
		 * reply was. A 5xx is final (no other MX is asked for it), a 4xx deferred. */
		record_rcpts(job, h, r);
		smtp_client_free(sc);
		job_done(job);
		return;
	}
	if (r->fail == SMTP_FAIL_REJECTED && !r->temporary &&
	    (r->mail_code >= 500 || r->data_code >= 500 || r->final_code >= 500)) {
		/* A 5xx to MAIL or to the message, over a session whose TLS met the host's
		 * requirement, is final (RFC 5321 §4.2.1): no other MX is asked. A 5xx before
		 * MAIL (a greeting or EHLO reply, unauthenticated plaintext a man in the middle
		 * can forge) is not: the next address or host is tried, as Postfix does. */
		all_rcpts(job->res, RCPT_BOUNCED, BOUNCE_MESSAGE, "refused by %s: %s", h->name, r->reason);
		smtp_client_free(sc);
		job_done(job);
		return;
	}
	if (r->fail == SMTP_FAIL_REJECTED && r->local_refusal)
		job->local_refusals++;  /* SIZE or 8BITMIME: this MX cannot take it; another may */
	smtp_client_free(sc);
	job->sc = NULL;
	job->ai++;
	try_next(job);
}

static int start_session(struct deliver_job *job, struct check_host *h, struct check_address *a)
{
	struct smtp_client_params p;
	struct deliver_attempt *at;
	char err[256];
	unsigned t = job->p.check.timeout_ms;

	if ((at = attempt_new(job, h)) == NULL)
		return -1;
	str_copy(at->address, a->addr.text, sizeof(at->address));
	at->requirement = smtp_tls_req_name(job->cur_req);
	smtp_client_defaults(&p);
	p.addr = a->addr;
	p.port = job->p.check.port;
	p.helo_name = job->p.check.helo;
	p.mode = SMTP_MODE_DELIVER;
	p.ssl_ctx = job->p.check.ssl_ctx;
	host_tls_apply(&job->tls, job->cur_req, &p);
	/* --timeout bounds every phase but the wait for the reply to the final dot, which keeps
	 * RFC 5321 4.5.3.2.6's 10 minutes: giving up earlier risks a duplicate (RFC 1047). */
	if (t > 0)
		p.to.connect_ms = p.to.banner_ms = p.to.ehlo_ms = p.to.starttls_ms = p.to.tls_ms =
			p.to.mail_ms = p.to.rcpt_ms = p.to.data_ms = p.to.data_block_ms = p.to.quit_ms = t;
	p.mail_from = job->p.mail_from;
	p.rcpts = job->p.rcpts;
	p.nrcpts = job->p.nrcpts;
	p.msg = job->p.msg;
	p.msg_len = job->p.msg_len;
	job->sc = smtp_client_start(job->base, &p, session_done, job, err, sizeof(err));
	if (job->sc == NULL) {
		str_printf(at->reason, sizeof(at->reason), "not started: %s", err);
		at->v = VERDICT_TEMPFAIL;
		return -1;
	}
	return 0;
}


/* Try the next address, or the next host; when none is left, defer everyone. */
static void try_next(struct deliver_job *job)
{
	struct check_result *dest = job->res->dest;

	for (; job->hi < job->nhosts; job->hi++, job->ai = 0) {
		struct check_host *h = &dest->hosts[job->order[job->hi]];
		char why[CHECK_REASON_MAX];

		if (job->ai == 0) {
			if (effective_req(job, h, &job->host_req, why, sizeof(why)) < 0 || h->naddrs == 0) {
				struct deliver_attempt *at = attempt_new(job, h);
				if (at != NULL) {
					at->requirement = "skipped";
					at->v = h->req == CHECK_REQ_TEMPFAIL || h->naddrs == 0 ? VERDICT_TEMPFAIL
											     : VERDICT_DANE_FAIL;
					str_copy(at->reason, h->naddrs == 0 ? h->reason : why, sizeof(at->reason));
				}
				continue;
			}
			host_tls_init(&job->tls, h, job->res->domain);
		}
		for (; job->ai < h->naddrs; job->ai++) {
			job->cur_req = job->host_req;
			job->plain_retry = 0;
			if (start_session(job, h, &h->addrs[job->ai]) == 0)
				return;
		}
	}
	/* Nothing delivered. When every host that was reached refused the message as it is
	 * (too big, 8-bit data without 8BITMIME), no retry can help: it bounces. */
	if (job->local_refusals > 0) {
		size_t reached = 0;
		for (size_t i = 0; i < job->res->nattempts; i++)
			reached += job->res->attempts[i].address[0] != '\0' &&
				   job->res->attempts[i].v != VERDICT_TEMPFAIL;
		if (reached == job->local_refusals) {
			const struct deliver_attempt *last = &job->res->attempts[job->res->nattempts - 1];
			all_rcpts(job->res, RCPT_BOUNCED, BOUNCE_MESSAGE, "refused by %s: %s",
				  last->host, last->reason);
			job_done(job);
			return;
		}
	}
	/* Nothing delivered: every host's reason is in the attempts. */
	if (job->p.level == DELIVER_DANE_ONLY && job->res->nattempts > 0) {
		int all_policy = 1;
		for (size_t i = 0; i < job->res->nattempts; i++)
			all_policy &= job->res->attempts[i].v == VERDICT_DANE_FAIL &&
				      strcmp(job->res->attempts[i].requirement, "skipped") == 0;
		if (all_policy) {
			all_rcpts(job->res, RCPT_BOUNCED, BOUNCE_POLICY, "%s", job->res->attempts[0].reason);
			job_done(job);
			return;
		}
	}
	{
		char why[CHECK_REASON_MAX] = "";
		size_t off = 0;
		for (size_t i = 0; i < job->res->nattempts && off < sizeof(why) - 1; i++) {
			const struct deliver_attempt *at = &job->res->attempts[i];
			str_printf(why + off, sizeof(why) - off, "%s%s%s%s: %s", i ? "; " : "", at->host,
				   at->address[0] ? " " : "", at->address, at->reason);
			off = strlen(why);
		}
		all_rcpts(job->res, RCPT_DEFERRED, BOUNCE_NONE, "no MX host took the message: %s",
			  job->res->nattempts ? why : "no MX host to try");
		/* deliver.h: mx is "the host that took it, or the last one tried" */
		for (size_t i = 0; i < job->res->nrcpts && job->res->nattempts > 0; i++)
			if (job->res->rcpts[i].mx[0] == '\0')
				str_copy(job->res->rcpts[i].mx, job->res->attempts[job->res->nattempts - 1].host,
					 sizeof(job->res->rcpts[i].mx));
	}
	job_done(job);
}

/* Preference order; equal preferences shuffled (RFC 5321 §5.1) to spread load. */
static void order_hosts(struct deliver_job *job)
{
	struct check_result *dest = job->res->dest;

	for (size_t i = 0; i < dest->nhosts; i++)
		job->order[i] = i;
	for (size_t i = 0; i < dest->nhosts;) {
		size_t j = i;
		while (j < dest->nhosts && dest->hosts[j].preference == dest->hosts[i].preference)
			j++;
		for (size_t k = j - 1; k > i; k--) {
			size_t r = i + arc4random_uniform((uint32_t)(k - i + 1)), t = job->order[k];
			job->order[k] = job->order[r];
			job->order[r] = t;
		}
		i = j;
	}
	job->nhosts = dest->nhosts;
}

static void resolved(struct check_result *dest, void *arg)
{
	struct deliver_job *job = arg;

	job->res->dest = dest;
	if (dest->decided_by_dns) {
		if (dest->v == VERDICT_NOMAIL)
			all_rcpts(job->res, RCPT_BOUNCED, BOUNCE_NOMAIL, "%s: %s", dest->domain, dest->reason);
		else
			all_rcpts(job->res, RCPT_DEFERRED, BOUNCE_NONE, "%s: %s", dest->domain, dest->reason);
		job_done(job);
		return;
	}
	job->order = calloc(dest->nhosts ? dest->nhosts : 1, sizeof(*job->order));
	if (job->order == NULL) {
		all_rcpts(job->res, RCPT_DEFERRED, BOUNCE_NONE, "out of memory");
		job_done(job);
		return;
	}
	order_hosts(job);
	try_next(job);
}

int deliver_start(struct event_base *base, const struct deliver_params *p, const char *domain,
		  deliver_done_cb cb, void *arg)
{
	struct deliver_job *job = calloc(1, sizeof(*job));
	struct check_params cp;

	if (job == NULL || (job->res = calloc(1, sizeof(*job->res))) == NULL ||
	    (job->res->rcpts = calloc(p->nrcpts ? p->nrcpts : 1, sizeof(*job->res->rcpts))) == NULL)
		goto fail;
	job->base = base;
	job->p = *p;
	job->cb = cb;
	job->arg = arg;
	str_copy(job->res->domain, domain, sizeof(job->res->domain));
	job->res->nrcpts = p->nrcpts;
	for (size_t i = 0; i < p->nrcpts; i++) {
		job->res->rcpts[i].addr = p->rcpts[i];
		job->res->rcpts[i].status = RCPT_DEFERRED;
		job->res->rcpts[i].tls = "none";
	}
	cp = p->check;
	cp.resolve_only = 1;
	if (check_start(base, &cp, domain, resolved, job) == NULL)
		goto fail;
	return 0;
fail:
	if (job != NULL && job->res != NULL) {
		free(job->res->rcpts);
		free(job->res);
	}
	free(job);
	return -1;
}

void deliver_result_free(struct deliver_result *res)
{
	if (res == NULL)
		return;
	check_result_free(res->dest);
	free(res->rcpts);
	free(res->attempts);
	free(res);
}

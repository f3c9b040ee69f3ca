/*
 * dns: libunbound (event flavour) on the caller's libevent loop. A query object lives
 * until both sides are done with it: libunbound (which still holds it as callback data
 * until its own callback runs) and the user (callback delivered, or cancelled). ub_cancel
 * is never used: in the event flavour it assumes a background worker and would free the
 * query under the running mesh, so a cancelled or timed-out query becomes a tombstone
 * whose late answer is dropped. Every user callback runs from a libevent event, never
 * from inside ub_resolve_event (which answers cached and local data synchronously).
 * This file never prints and never exits.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldns/ldns.h>
#include <unbound.h>
#include <unbound-event.h>

#include "dns/dns.h"
#include "util/log.h"
#include "util/str.h"

enum dq_state { DQ_PENDING, DQ_ANSWERED, DQ_DONE };
static const char *const dq_state_names[] = { "pending", "answered", "done" };

struct dns_query {
	struct dns_ctx *ctx;
	struct dns_query *prev, *next;   /* ctx->queries: every object not yet freed */
	enum dq_state state;
	int ub_pending;                  /* libunbound still holds this as callback data */
	int user_done;                   /* callback ran or the user cancelled */
	int in_cb;                       /* its user callback is running */
	struct event *ev;                /* timeout, and the deferred delivery */
	struct timeval started;
	dns_cb *cb;
	void *arg;
	struct dns_result *res;
};

struct dns_ctx {
	struct event_base *base;
	struct ub_ctx *ub;
	struct dns_query *queries;
	size_t pending;                  /* queries whose user callback is still due */
	unsigned timeout_ms;
	int in_callback;                 /* depth of user callbacks running */
	int dying;                       /* dns_ctx_free called from a callback */
	int closing;                     /* inside ub_ctx_delete: ignore libunbound callbacks */
	char *anchor_zone;
	int unblock_after_finalize;      /* remove the built-in local zone of anchor_zone */
};

static const char *const status_names[] = { "ok", "nxdomain", "nodata", "fail", "timeout", "error" };
static const char *const sec_names[] = { "insecure", "bogus", "secure" };
static const char *const err_names[] = { "ok", "usage", "config", "unavailable", "nomem" };

const char *dns_status_name(enum dns_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] : "?";
}

const char *dns_sec_name(enum dns_sec s)
{
	return (unsigned)s < sizeof(sec_names) / sizeof(sec_names[0]) ? sec_names[s] : "?";
}

const char *dns_err_name(enum dns_err e)
{
	return (unsigned)e < sizeof(err_names) / sizeof(err_names[0]) ? err_names[e] : "?";
}

uint16_t dns_type_from_name(const char *name)
{
	return name != NULL && *name != '\0' ? (uint16_t)ldns_get_rr_type_by_name(name) : 0;
}

const char *dns_type_name(uint16_t type, char *buf, size_t buflen)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);

	if (d != NULL && d->_name != NULL && type != 0)
		str_copy(buf, d->_name, buflen);
	else
		snprintf(buf, buflen, "TYPE%u", type);
	return buf;
}

/* ---- results ---- */

void dns_result_free(struct dns_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->ntlsa; i++)
		free(res->tlsa[i].data);
	for (size_t i = 0; i < res->nrrs; i++)
		free(res->rrs[i]);
	free(res->tlsa);
	free(res->rrs);
	free(res->mx);
	free(res->addrs);
	free(res->cnames);
	free(res->packet);
	free(res);
}

static void rdf_name(const ldns_rdf *rdf, char *out, size_t outlen)
{
	char *s = rdf != NULL ? ldns_rdf2str(rdf) : NULL;

	str_copy(out, s != NULL ? s : "", outlen);
	str_lower(out);
	free(s);
}

static int owner_is(const ldns_rr *rr, const char *name)
{
	char o[DNS_NAME_MAX];

	rdf_name(ldns_rr_owner(rr), o, sizeof(o));
	return strcmp(o, name) == 0;
}

/* Follow CNAMEs from qname through the answer section; sets canon. -1 on a loop or a
 * chain longer than DNS_MAX_CNAMES. */
static int parse_chain(struct dns_result *res, const ldns_rr_list *ans)
{
	str_copy(res->canon, res->qname, sizeof(res->canon));
	if (res->qtype == LDNS_RR_TYPE_CNAME)
		return 0;
	for (;;) {
		const ldns_rr *link = NULL;
		for (size_t i = 0; i < ldns_rr_list_rr_count(ans) && link == NULL; i++) {
			const ldns_rr *rr = ldns_rr_list_rr(ans, i);
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && owner_is(rr, res->canon))
				link = rr;
		}
		if (link == NULL)
			return 0;
		if (res->ncnames >= DNS_MAX_CNAMES)
			return -1;
		if (res->cnames == NULL &&
		    (res->cnames = calloc(DNS_MAX_CNAMES, sizeof(*res->cnames))) == NULL)
			return -1;
		struct dns_cname *c = &res->cnames[res->ncnames++];
		str_copy(c->owner, res->canon, sizeof(c->owner));
		rdf_name(ldns_rr_rdf(link, 0), c->target, sizeof(c->target));
		c->sec = res->sec;
		str_copy(res->canon, c->target, sizeof(res->canon));
	}
}

static int add_text(struct dns_result *res, const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr), *nl;
	char **n;

	if (s == NULL)
		return -1;
	if ((nl = strchr(s, '\n')) != NULL)
		*nl = '\0';
	if ((n = realloc(res->rrs, (res->nrrs + 1) * sizeof(*n))) == NULL) {
		free(s);
		return -1;
	}
	res->rrs = n;
	res->rrs[res->nrrs++] = s;
	return 0;
}

static int add_mx(struct dns_result *res, const ldns_rr *rr)
{
	struct mx_rr *mx = &res->mx[res->nmx];

	if (ldns_rr_rd_count(rr) != 2)
		return -1;
	mx->preference = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
	rdf_name(ldns_rr_rdf(rr, 1), mx->host, sizeof(mx->host));
	res->nmx++;
	return 0;
}

static int add_addr(struct dns_result *res, const ldns_rr *rr)
{
	struct addr_rr *a = &res->addrs[res->naddrs];
	const ldns_rdf *rd = ldns_rr_rdf(rr, 0);

	if (rd == NULL)
		return -1;
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && ldns_rdf_size(rd) == 4) {
		a->family = AF_INET;
		memcpy(&a->u.v4, ldns_rdf_data(rd), 4);
	} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && ldns_rdf_size(rd) == 16) {
		a->family = AF_INET6;
		memcpy(&a->u.v6, ldns_rdf_data(rd), 16);
	} else {
		return -1;
	}
	if (inet_ntop(a->family, &a->u, a->text, sizeof(a->text)) == NULL)
		return -1;
	res->naddrs++;
	return 0;
}

/* TLSA rdata is parsed from the wire bytes so an odd presentation cannot matter. */
static int add_tlsa(struct dns_result *res, const ldns_rr *rr)
{
	struct tlsa_rr *t = &res->tlsa[res->ntlsa];
	const ldns_rdf *f[4];

	if (ldns_rr_rd_count(rr) != 4)
		return -1;
	for (int i = 0; i < 4; i++)
		if ((f[i] = ldns_rr_rdf(rr, i)) == NULL)
			return -1;
	if (ldns_rdf_size(f[0]) != 1 || ldns_rdf_size(f[1]) != 1 || ldns_rdf_size(f[2]) != 1)
		return -1;
	t->usage = ldns_rdf_data(f[0])[0];
	t->selector = ldns_rdf_data(f[1])[0];
	t->mtype = ldns_rdf_data(f[2])[0];
	t->len = ldns_rdf_size(f[3]);
	if ((t->data = malloc(t->len ? t->len : 1)) == NULL)
		return -1;
	memcpy(t->data, ldns_rdf_data(f[3]), t->len);
	res->ntlsa++;
	return 0;
}

static int alloc_typed(struct dns_result *res, size_t n)
{
	if (n == 0 || res->sec == DNS_SEC_BOGUS)
		return 0;
	switch (res->qtype) {
	case LDNS_RR_TYPE_MX:
		return (res->mx = calloc(n, sizeof(*res->mx))) ? 0 : -1;
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA:
		return (res->addrs = calloc(n, sizeof(*res->addrs))) ? 0 : -1;
	case LDNS_RR_TYPE_TLSA:
		return (res->tlsa = calloc(n, sizeof(*res->tlsa))) ? 0 : -1;
	default:
		return 0;
	}
}

static int add_typed(struct dns_result *res, const ldns_rr *rr)
{
	if (res->sec == DNS_SEC_BOGUS)
		return 0;   /* never hand bogus data to the policy layer */
	switch (res->qtype) {
	case LDNS_RR_TYPE_MX:
		return add_mx(res, rr);
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA:
		return add_addr(res, rr);
	case LDNS_RR_TYPE_TLSA:
		return add_tlsa(res, rr);
	default:
		return 0;
	}
}

static int is_final(const struct dns_result *res, const ldns_rr *rr)
{
	return ldns_rr_get_type(rr) == res->qtype && owner_is(rr, res->canon);
}

static void note_rrsig(struct dns_result *res, const ldns_rr *rr)
{
	const ldns_rdf *cov = ldns_rr_rrsig_typecovered(rr), *exp = ldns_rr_rrsig_expiration(rr);
	time_t t, now;

	if (cov == NULL || exp == NULL || ldns_rdf2rr_type(cov) != res->qtype || !owner_is(rr, res->canon))
		return;
	/* RFC 4034 3.1.5: a 32-bit serial number, read as the time nearest to now. */
	now = time(NULL);
	t = now + (int32_t)((uint32_t)ldns_rdf2native_int32(exp) - (uint32_t)now);
	if (t != 0 && (res->sig_expire == 0 || t < res->sig_expire))
		res->sig_expire = t;
}

static void sort_mx(struct dns_result *res);

/* The final RRset: text for every record, typed records, TTL, RRSIG expiry. */
static int parse_rrset(struct dns_result *res, const ldns_rr_list *ans)
{
	size_t n = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++)
		n += is_final(res, ldns_rr_list_rr(ans, i));
	if (alloc_typed(res, n) != 0)
		return -1;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ans, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG) {
			note_rrsig(res, rr);
			continue;
		}
		if (!is_final(res, rr))
			continue;
		if (res->nrrs == 0 || ldns_rr_ttl(rr) < res->ttl)
			res->ttl = ldns_rr_ttl(rr);
		if (add_text(res, rr) != 0 || add_typed(res, rr) != 0)
			return -1;
	}
	sort_mx(res);
	return 0;
}

/* MX by preference; equal preferences keep the (resolver-shuffled) answer order, which
 * is the randomisation RFC 5321 5.1 asks for. Insertion sort: stable, and sets are small. */
static void sort_mx(struct dns_result *res)
{
	for (size_t i = 1; i < res->nmx; i++) {
		struct mx_rr t = res->mx[i];
		size_t j = i;
		for (; j > 0 && res->mx[j - 1].preference > t.preference; j--)
			res->mx[j] = res->mx[j - 1];
		res->mx[j] = t;
	}
}

/* RFC 2308: the negative TTL is the smaller of the SOA's TTL and its MINIMUM. */
static void negative_ttl(struct dns_result *res, const ldns_pkt *pkt)
{
	const ldns_rr_list *auth = ldns_pkt_authority(pkt);

	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(auth, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7) {
			uint32_t min = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
			res->ttl = ldns_rr_ttl(rr) < min ? ldns_rr_ttl(rr) : min;
			return;
		}
	}
}

static void set_reason(struct dns_result *res, enum dns_status st, const char *why)
{
	res->status = st;
	str_copy(res->reason, why, sizeof(res->reason));
}

static void parse_packet(struct dns_result *res, const unsigned char *wire, size_t len)
{
	ldns_pkt *pkt = NULL;

	if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK) {
		set_reason(res, DNS_FAIL, "unparsable answer packet");
		return;
	}
	if (res->rcode == LDNS_RCODE_NOERROR)   /* the event API says 0 for NXDOMAIN too */
		res->rcode = ldns_pkt_get_rcode(pkt);
	if (parse_chain(res, ldns_pkt_answer(pkt)) != 0) {
		set_reason(res, DNS_FAIL, "CNAME chain too long or looping");
	} else if (parse_rrset(res, ldns_pkt_answer(pkt)) != 0) {
		set_reason(res, DNS_ERROR, "out of memory or malformed record in the answer");
	} else if (res->rcode == LDNS_RCODE_NXDOMAIN) {
		res->status = DNS_NXDOMAIN;
		negative_ttl(res, pkt);
	} else if (res->rcode == LDNS_RCODE_NOERROR) {
		res->status = res->nrrs > 0 ? DNS_OK : DNS_NODATA;
		if (res->nrrs == 0)
			negative_ttl(res, pkt);
	}
	ldns_pkt_free(pkt);
}

static void fill_result(struct dns_result *res, int rcode, const void *packet, int len,
			int sec, const char *why_bogus)
{
	char rc[32];

	res->rcode = rcode;
	res->sec = sec == 2 ? DNS_SEC_SECURE : sec == 1 ? DNS_SEC_BOGUS : DNS_SEC_INSECURE;
	if (why_bogus != NULL)
		str_copy(res->why_bogus, why_bogus, sizeof(res->why_bogus));
	if (res->sec == DNS_SEC_BOGUS && res->why_bogus[0] == '\0')
		str_copy(res->why_bogus, "validation failure (no reason given)", sizeof(res->why_bogus));
	if (packet != NULL && len > 0 && (res->packet = malloc((size_t)len)) != NULL) {
		memcpy(res->packet, packet, (size_t)len);
		res->packet_len = (size_t)len;
	}
	if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
		const ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, rcode);
		snprintf(rc, sizeof(rc), "%s", lt != NULL ? lt->name : "unknown rcode");
		set_reason(res, DNS_FAIL, res->sec == DNS_SEC_BOGUS ? res->why_bogus : rc);
	}
	if (res->packet != NULL)   /* a SERVFAIL packet still shows a bogus answer's records */
		parse_packet(res, res->packet, res->packet_len);
	else if (res->status != DNS_FAIL)
		set_reason(res, DNS_FAIL, "no answer packet");
	if (res->status == DNS_OK && res->ncnames > 0)
		res->chain_secure = res->sec == DNS_SEC_SECURE;
}

/* ---- queries ---- */

static void dq_trace(const struct dns_query *q, enum dq_state to)
{
	if (log_enabled(LOG_LVL_TRACE))
		log_trace("dns: %s/%u: %s -> %s", q->res ? q->res->qname : "?",
			  q->res ? q->res->qtype : 0, dq_state_names[q->state], dq_state_names[to]);
}

static void dq_unlink_free(struct dns_query *q)
{
	struct dns_ctx *ctx = q->ctx;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		ctx->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	if (q->ev != NULL)
		event_free(q->ev);
	dns_result_free(q->res);
	free(q);
}

static long ms_since(const struct timeval *t0)
{
	struct timeval now, d;

	gettimeofday(&now, NULL);
	timersub(&now, t0, &d);
	return (long)d.tv_sec * 1000 + d.tv_usec / 1000;
}

static void ctx_destroy(struct dns_ctx *ctx);

/* The one place user callbacks run: from the loop (timer or event_active). */
static void dq_event(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_ctx *ctx = q->ctx;
	struct dns_result *res = q->res;

	if (q->user_done)
		return;
	if (q->state == DQ_PENDING) {   /* the timer fired first */
		res->elapsed_ms = ms_since(&q->started);
		snprintf(res->reason, sizeof(res->reason), "no answer within %u ms", ctx->timeout_ms);
		res->status = DNS_TIMEOUT;
	}
	dq_trace(q, DQ_DONE);
	q->state = DQ_DONE;
	q->user_done = 1;
	q->res = NULL;
	ctx->pending--;
	ctx->in_callback++;
	q->in_cb = 1;
	q->cb(res, q->arg);
	q->in_cb = 0;
	ctx->in_callback--;
	if (ctx->dying) {
		if (ctx->in_callback == 0)
			ctx_destroy(ctx);
		return;
	}
	if (!q->ub_pending)
		dq_unlink_free(q);
}

/* libunbound's callback: may run inside ub_resolve_event, so only record and defer. */
static void dq_ub_done(void *arg, int rcode, void *packet, int len, int sec, char *why_bogus,
		       int ratelimited)
{
	struct dns_query *q = arg;

	q->ub_pending = 0;
	if (q->ctx->closing)
		return;                  /* ub_ctx_delete flushing the mesh; ctx frees q */
	if (q->user_done) {              /* tombstone: cancelled or timed out */
		if (!q->in_cb)           /* else dq_event frees it after the callback */
			dq_unlink_free(q);
		return;
	}
	q->res->elapsed_ms = ms_since(&q->started);
	q->res->ratelimited = ratelimited;
	fill_result(q->res, rcode, packet, len, sec, why_bogus);
	dq_trace(q, DQ_ANSWERED);
	q->state = DQ_ANSWERED;
	evtimer_del(q->ev);
	event_active(q->ev, EV_TIMEOUT, 0);
}

static int name_normalize(const char *name, char *out, size_t outlen)
{
	size_t n = str_copy(out, name, outlen);

	if (n == 0 || n + 2 > outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] <= 0x20 || out[i] == 0x7f || out[i] == '"')
			return -1;
	if (out[n - 1] != '.')
		str_cat(out, ".", outlen);
	str_lower(out);
	return 0;
}

static struct dns_query *dq_new(struct dns_ctx *ctx, const char *name, uint16_t qtype,
				dns_cb *cb, void *arg)
{
	struct dns_query *q = calloc(1, sizeof(*q));

	if (q == NULL || (q->res = calloc(1, sizeof(*q->res))) == NULL ||
	    (q->ev = evtimer_new(ctx->base, dq_event, q)) == NULL) {
		if (q != NULL)
			free(q->res);
		free(q);
		return NULL;
	}
	q->ctx = ctx;
	q->cb = cb;
	q->arg = arg;
	q->res->qtype = qtype;
	q->res->rcode = -1;
	str_copy(q->res->qname, name != NULL ? name : "", sizeof(q->res->qname));
	gettimeofday(&q->started, NULL);
	q->next = ctx->queries;
	if (ctx->queries != NULL)
		ctx->queries->prev = q;
	ctx->queries = q;
	ctx->pending++;
	return q;
}

/* Deliver a local error from the loop, like any other result. */
static void dq_fail_soon(struct dns_query *q, const char *why)
{
	set_reason(q->res, DNS_ERROR, why);
	q->state = DQ_ANSWERED;
	event_active(q->ev, EV_TIMEOUT, 0);
}

struct dns_query *dns_query(struct dns_ctx *ctx, const char *name, uint16_t qtype,
			    dns_cb *cb, void *arg)
{
	struct dns_query *q = dq_new(ctx, name, qtype, cb, arg);
	struct timeval tv = { (time_t)(ctx->timeout_ms / 1000), (suseconds_t)(ctx->timeout_ms % 1000) * 1000 };
	char norm[DNS_NAME_MAX];
	int rc, id = 0;

	if (q == NULL)
		return NULL;
	if (name == NULL || name_normalize(name, norm, sizeof(norm)) != 0) {
		dq_fail_soon(q, "invalid domain name");
		return q;
	}
	str_copy(q->res->qname, norm, sizeof(q->res->qname));
	evtimer_add(q->ev, &tv);
	q->ub_pending = 1;
	rc = ub_resolve_event(ctx->ub, norm, qtype, LDNS_RR_CLASS_IN, q, dq_ub_done, &id);
	if (rc != 0) {
		q->ub_pending = 0;
		evtimer_del(q->ev);
		dq_fail_soon(q, ub_strerror(rc));
	}
	return q;
}

void dns_cancel(struct dns_query *q)
{
	if (q == NULL || q->user_done)
		return;
	q->user_done = 1;
	q->ctx->pending--;
	event_del(q->ev);
	if (!q->ub_pending)
		dq_unlink_free(q);
}

size_t dns_pending(const struct dns_ctx *ctx)
{
	return ctx->pending;
}

/* ---- the context ---- */


/* A trust anchor file must parse and hold at least one DS or DNSKEY record; libunbound
 * would only notice at the first query, and then answer everything insecure or SERVFAIL. */
static int anchor_file_check(const char *path, char **zone, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 3600;
	int line = 1, found = 0, rc = -1;

	if (fp == NULL) {
		str_err(0, err, errlen, "trust anchor %s: %s", path, strerror(errno));
		return -1;
	}
	while (!feof(fp)) {
		ldns_rr *rr = NULL;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line);
		if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (st != LDNS_STATUS_OK) {
			str_err(0, err, errlen, "trust anchor %s line %d: %s", path, line,
			       ldns_get_errorstr_by_id(st));
			goto out;
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DS || ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY) {
			if (!found++ && zone != NULL && *zone == NULL) {
				char name[DNS_NAME_MAX];
				rdf_name(ldns_rr_owner(rr), name, sizeof(name));
				*zone = strdup(name);
			}
		}
		ldns_rr_free(rr);
	}
	if (!found) {
		str_err(0, err, errlen, "trust anchor %s: no DS or DNSKEY record in it", path);
		goto out;
	}
	rc = 0;
out:
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	fclose(fp);
	return rc;
}

/* The value of "key: value" with optional quotes, in place; NULL when the line differs. */
static char *conf_value(char *line, const char *key)
{
	char *p = line, *v, *e;
	size_t klen = strlen(key);

	while (isspace((unsigned char)*p))
		p++;
	if (strncmp(p, key, klen) != 0)
		return NULL;
	for (v = p + klen; isspace((unsigned char)*v) || *v == '"'; v++)
		;
	for (e = v + strlen(v); e > v && (isspace((unsigned char)e[-1]) || e[-1] == '"'); e--)
		;
	*e = '\0';
	return v;
}

/* What libunbound would only discover at the first query (or never say): files the
 * config names that cannot be read, and which zone its trust anchor is for. */
static int config_scan(const char *path, char **zone, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[4096], *v;
	int rc = -1, n = 0;

	if (fp == NULL) {
		str_err(0, err, errlen, "DNS config %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		n++;
		if ((v = conf_value(line, "trust-anchor-file:")) != NULL ||
		    (v = conf_value(line, "auto-trust-anchor-file:")) != NULL) {
			if (anchor_file_check(v, zone, err, errlen) != 0)
				goto out;
		} else if ((v = conf_value(line, "zonefile:")) != NULL && access(v, R_OK) != 0) {
			str_err(0, err, errlen, "DNS config %s line %d: zone file %s: %s", path, n, v,
			       strerror(errno));
			goto out;
		} else if ((v = conf_value(line, "trust-anchor:")) != NULL && *zone == NULL) {
			v[strcspn(v, " \t")] = '\0';
			*zone = strdup(v);
		}
	}
	rc = 0;
out:
	fclose(fp);
	return rc;
}

/* libunbound reports config and start-up problems on stderr, several lines each. While it
 * reads its configuration we catch that text and keep the first error line, so the caller
 * can print one clear line. */
struct capture {
	int saved;
	FILE *tmp;
};

static void capture_begin(struct capture *c)
{
	fflush(stderr);
	c->saved = -1;
	if ((c->tmp = tmpfile()) == NULL)
		return;
	if ((c->saved = dup(STDERR_FILENO)) < 0 || dup2(fileno(c->tmp), STDERR_FILENO) < 0) {
		if (c->saved >= 0)
			close(c->saved);
		c->saved = -1;
	}
}

/* Restore stderr; copy the first line that says "error" (minus unbound's prefix) to out. */
static void capture_end(struct capture *c, char *out, size_t outlen)
{
	char line[512], *p;

	if (outlen > 0)
		out[0] = '\0';
	fflush(stderr);
	if (c->saved >= 0) {
		dup2(c->saved, STDERR_FILENO);
		close(c->saved);
	}
	if (c->tmp == NULL)
		return;
	rewind(c->tmp);
	while (fgets(line, sizeof(line), c->tmp) != NULL) {
		if ((p = strstr(line, "error: ")) == NULL && (p = strstr(line, "failed")) == NULL)
			continue;
		if (strncmp(p, "error: ", 7) == 0 && strstr(line, "libunbound[") != NULL)
			p += 7;
		else
			p = line;
		p[strcspn(p, "\r\n")] = '\0';
		str_escape(out, outlen, p, strlen(p));
		break;
	}
	fclose(c->tmp);
}

static int parse_resolver(const char *spec, char *out, size_t outlen)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *at = strchr(spec, '@');
	size_t alen = at != NULL ? (size_t)(at - spec) : strlen(spec);
	char *end;
	long port = 53;

	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, spec, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)
		return -1;
	if (at != NULL) {
		errno = 0;
		port = strtol(at + 1, &end, 10);
		if (at[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
			return -1;
	}
	snprintf(out, outlen, "%s@%ld", addr, port);
	return 0;
}

static int set_opt(struct dns_ctx *ctx, const char *opt, const char *val, char *err, size_t errlen)
{
	int rc = ub_ctx_set_option(ctx->ub, opt, val);

	if (rc != 0)
		str_err(0, err, errlen, "libunbound option %s %s: %s", opt, val, ub_strerror(rc));
	return rc;
}

static int ctx_tune(struct dns_ctx *ctx, const struct dns_opts *o, char *err, size_t errlen)
{
	static const char *const bulk[][2] = {
		{ "outgoing-range:", "4096" }, { "num-queries-per-thread:", "2048" },
		{ "msg-cache-size:", "32m" }, { "rrset-cache-size:", "64m" },
		{ "key-cache-size:", "16m" }, { "infra-cache-numhosts:", "50000" },
	};

	if (o->config == NULL && set_opt(ctx, "val-log-level:", "2", err, errlen) != 0)
		return -1;
	for (size_t i = 0; o->bulk && i < sizeof(bulk) / sizeof(bulk[0]); i++)
		if (set_opt(ctx, bulk[i][0], bulk[i][1], err, errlen) != 0)
			return -1;
	return 0;
}

static enum dns_err ctx_use_config(struct dns_ctx *ctx, const char *path, char *err, size_t errlen)
{
	struct capture cap;
	char why[256];
	int rc;

	if (config_scan(path, &ctx->anchor_zone, err, errlen) != 0)
		return DNS_E_CONFIG;
	capture_begin(&cap);
	rc = ub_ctx_config(ctx->ub, path);
	capture_end(&cap, why, sizeof(why));
	if (rc != 0) {
		str_err(0, err, errlen, "DNS config %s: %s", path, why[0] ? why : ub_strerror(rc));
		return DNS_E_CONFIG;
	}
	return DNS_E_OK;
}

static enum dns_err ctx_use_anchor(struct dns_ctx *ctx, const char *path, char *err, size_t errlen)
{
	int rc;

	if (anchor_file_check(path, &ctx->anchor_zone, err, errlen) != 0)
		return DNS_E_CONFIG;
	if ((rc = ub_ctx_add_ta_file(ctx->ub, path)) != 0) {
		str_err(0, err, errlen, "trust anchor %s: %s", path, ub_strerror(rc));
		return DNS_E_CONFIG;
	}
	return DNS_E_OK;
}

static enum dns_err ctx_use_resolver(struct dns_ctx *ctx, const char *spec, char *err,
				     size_t errlen)
{
	char fwd[INET6_ADDRSTRLEN + 8];
	int rc;

	if (parse_resolver(spec, fwd, sizeof(fwd)) != 0) {
		str_err(0, err, errlen, "bad resolver address '%s': want an IPv4 or IPv6 address, "
		       "optionally @PORT (1-65535)", spec);
		return DNS_E_USAGE;
	}
	/* unbound refuses to query loopback addresses by default; a local resolver is the
	 * usual case here (the lab daemon, a host's own validating cache). */
	if (set_opt(ctx, "do-not-query-localhost:", "no", err, errlen) != 0)
		return DNS_E_CONFIG;
	if ((rc = ub_ctx_set_fwd(ctx->ub, fwd)) != 0) {
		str_err(0, err, errlen, "resolver %s: %s", spec, ub_strerror(rc));
		return DNS_E_USAGE;
	}
	return DNS_E_OK;
}

/* libunbound answers special-use names (test., ...) locally; a zone we hold an anchor for
 * must be resolved (e.g. the lab served by an unbound daemon through --resolver). This
 * finalizes the libunbound context, so it comes last. */
static enum dns_err ctx_unblock_anchor(struct dns_ctx *ctx, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	if (ctx->anchor_zone == NULL || strcmp(ctx->anchor_zone, ".") == 0)
		return DNS_E_OK;
	ctx->unblock_after_finalize = 1;
	return DNS_E_OK;
}

/* A special-use anchor zone (RFC 6761, e.g. test.) is one of libunbound's built-in local
 * zones, which answer before any forwarder is asked. They exist only once the context is
 * finalised (its first query), so the zone is removed right after that: the forwarder's
 * answers, validated here against the anchor, then come through. */
static enum dns_err ctx_unblock_finalized(struct dns_ctx *ctx, char *err, size_t errlen)
{
	int rc;

	if (!ctx->unblock_after_finalize)
		return DNS_E_OK;
	rc = ub_ctx_zone_remove(ctx->ub, ctx->anchor_zone);
	if (rc != 0 && rc != UB_NOERROR) {
		str_err(0, err, errlen, "DNS resolver set-up failed: %s", ub_strerror(rc));
		return DNS_E_CONFIG;
	}
	return DNS_E_OK;
}

/* Options in the order that lets each one be explained by its own error. */
static enum dns_err ctx_configure(struct dns_ctx *ctx, const struct dns_opts *o, char *err,
				  size_t errlen)
{
	const char *anchor = o->trust_anchor;
	char fwd[INET6_ADDRSTRLEN + 8];
	enum dns_err e;

	/* a malformed address is a usage error, reported before any file is looked at */
	if (o->resolver != NULL && parse_resolver(o->resolver, fwd, sizeof(fwd)) != 0)
		return ctx_use_resolver(ctx, o->resolver, err, errlen);
	if (o->config != NULL && (e = ctx_use_config(ctx, o->config, err, errlen)) != DNS_E_OK)
		return e;
	if (o->config == NULL && anchor == NULL)
		anchor = DNS_DEFAULT_ANCHOR;    /* with a config, the file decides */
	if (anchor != NULL && (e = ctx_use_anchor(ctx, anchor, err, errlen)) != DNS_E_OK)
		return e;
	if (o->resolver != NULL && (e = ctx_use_resolver(ctx, o->resolver, err, errlen)) != DNS_E_OK)
		return e;
	if (ctx_tune(ctx, o, err, errlen) != 0)
		return DNS_E_CONFIG;
	return o->config == NULL ? ctx_unblock_anchor(ctx, err, errlen) : DNS_E_OK;
}

static void finalize_done(void *arg, int rcode, void *packet, int len, int sec, char *why, int rl)
{
	struct dns_query *q = arg;

	q->ub_pending = 0;
	if (!q->ctx->closing)
		dq_unlink_free(q);
}

/* libunbound reads anchors and zone files at its first query: make that happen now, with
 * a local name, so a broken setup fails here and not as a stream of SERVFAILs. */
static enum dns_err ctx_finalize(struct dns_ctx *ctx, char *err, size_t errlen)
{
	struct dns_query *q = dq_new(ctx, "localhost.", LDNS_RR_TYPE_A, NULL, NULL);
	struct capture cap;
	char why[256];
	int rc;

	if (q == NULL) {
		str_err(0, err, errlen, "out of memory");
		return DNS_E_NOMEM;
	}
	q->user_done = 1;         /* internal: a tombstone from the start */
	ctx->pending--;
	q->ub_pending = 1;
	capture_begin(&cap);
	rc = ub_resolve_event(ctx->ub, "localhost.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, q,
			      finalize_done, NULL);
	capture_end(&cap, why, sizeof(why));
	if (rc != 0) {
		q->ub_pending = 0;
		dq_unlink_free(q);
		str_err(0, err, errlen, "DNS resolver set-up failed: %s", why[0] ? why : ub_strerror(rc));
		return DNS_E_CONFIG;
	}
	return DNS_E_OK;
}

struct dns_ctx *dns_ctx_new(struct event_base *base, const struct dns_opts *opts,
			    enum dns_err *why, char *err, size_t errlen)
{
	struct dns_ctx *ctx = calloc(1, sizeof(*ctx));
	enum dns_err e = DNS_E_NOMEM;

	str_err(0, err, errlen, "out of memory");
	if (ctx == NULL)
		goto fail;
	ctx->base = base;
	ctx->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
	if ((ctx->ub = ub_ctx_create_event(base)) == NULL) {
		str_err(0, err, errlen, "cannot create the libunbound context");
		goto fail;
	}
	if (log_enabled(LOG_LVL_DEBUG))   /* danemx -v -v: libunbound's own trace too */
		ub_ctx_debuglevel(ctx->ub, log_enabled(LOG_LVL_TRACE) ? 3 : 1);
	if ((e = ctx_configure(ctx, opts, err, errlen)) != DNS_E_OK ||
	    (e = ctx_finalize(ctx, err, errlen)) != DNS_E_OK ||
	    (e = ctx_unblock_finalized(ctx, err, errlen)) != DNS_E_OK)
		goto fail;
	if (why != NULL)
		*why = DNS_E_OK;
	return ctx;
fail:
	if (why != NULL)
		*why = e;
	dns_ctx_free(ctx);
	return NULL;
}

static void ctx_destroy(struct dns_ctx *ctx)
{
	struct dns_query *q, *qn;

	ctx->closing = 1;   /* ub_ctx_delete may call back for queries still in its mesh */
	if (ctx->ub != NULL)
		ub_ctx_delete(ctx->ub);
	for (q = ctx->queries; q != NULL; q = qn) {
		qn = q->next;
		if (q->ev != NULL)
			event_free(q->ev);
		dns_result_free(q->res);
		free(q);
	}
	free(ctx->anchor_zone);
	free(ctx);
}

void dns_ctx_free(struct dns_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->in_callback > 0) {
		ctx->dying = 1;      /* dq_event destroys it when the callback returns */
		return;
	}
	ctx_destroy(ctx);
}

const char *dns_anchor_zone(const struct dns_ctx *ctx)
{
	return ctx->anchor_zone;
}

struct dns_query *dns_probe_validation(struct dns_ctx *ctx, dns_cb *cb, void *arg)
{
	struct dns_query *q;

	if (ctx->anchor_zone != NULL)
		return dns_query(ctx, ctx->anchor_zone, LDNS_RR_TYPE_DNSKEY, cb, arg);
	if ((q = dq_new(ctx, ".", LDNS_RR_TYPE_DNSKEY, cb, arg)) != NULL)
		dq_fail_soon(q, "no trust anchor configured: nothing can be validated");
	return q;
}

int dns_result_validates(const struct dns_result *res)
{
	return res != NULL && res->status == DNS_OK && res->sec == DNS_SEC_SECURE;
}

/* ---- diagnostics ---- */

static int resolver_sockaddr(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char norm[INET6_ADDRSTRLEN + 8], *at;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	int port;

	if (spec == NULL || parse_resolver(spec, norm, sizeof(norm)) != 0 ||
	    (at = strchr(norm, '@')) == NULL)
		return -1;
	*at = '\0';
	port = atoi(at + 1);
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, norm, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, norm, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else {
		return -1;
	}
	return 0;
}

/* One UDP query ". NS" straight to the resolver: any reply with our ID, whatever its
 * rcode, shows that something answers there. */
int dns_resolver_answers(const char *resolver, unsigned timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	ldns_pkt *pkt = NULL;
	uint8_t *wire = NULL, reply[512];
	size_t wlen = 0;
	struct pollfd pfd = { .fd = -1, .events = POLLIN };
	ssize_t n;
	int rc = -1;

	if (resolver_sockaddr(resolver, &ss, &sslen) != 0)
		return -1;
	if (ldns_pkt_query_new_frm_str(&pkt, ".", LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN, LDNS_RD) !=
	    LDNS_STATUS_OK || ldns_pkt2wire(&wire, pkt, &wlen) != LDNS_STATUS_OK || wlen < 12)
		goto out;
	wire[0] = 0x5a;        /* a fixed ID is enough: the socket is connected and ours */
	wire[1] = 0xa5;
	rc = 0;
	if ((pfd.fd = socket(ss.ss_family, SOCK_DGRAM, 0)) < 0 ||
	    connect(pfd.fd, (struct sockaddr *)&ss, sslen) != 0 ||
	    send(pfd.fd, wire, wlen, 0) != (ssize_t)wlen)
		goto out;
	if (poll(&pfd, 1, (int)timeout_ms) == 1 && (n = recv(pfd.fd, reply, sizeof(reply), 0)) >= 12 &&
	    reply[0] == 0x5a && reply[1] == 0xa5)
		rc = 1;
out:
	if (pfd.fd >= 0)
		close(pfd.fd);
	free(wire);
	ldns_pkt_free(pkt);
	return rc;
}

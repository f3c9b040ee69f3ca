/*
 * check: the pipeline for one destination domain (see check.h). Lookups run as soon as
 * RFC 7672 order allows: the MX lookup, then the address lookups of every host at once,
 * then each host's TLSA lookup, then the probes of every address at once. Each stage only
 * hands data forward: a probe never re-resolves and nothing here prints. Every wait is
 * bounded by the resolver's per-query timeout or the SMTP client's phase timeouts.
 */
#include "engine/check.h"
#include "engine/probe.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#include "dane/policy.h"
#include "dns/dns.h"
#include "util/log.h"
#include "util/str.h"

#define T_A 1
#define T_MX 15
#define T_AAAA 28
#define T_TLSA 52

struct check_job;

struct host_state {
	struct check_job *job;
	struct check_host *h;
	int pending;               /* lookups or probes outstanding for this host */
	struct tlsa_bases bases;
	size_t base_next;
	struct host_tls *tls;      /* what the host's probes share; freed when the host ends */
};

struct check_job {
	struct event_base *base;
	struct check_params p;
	struct check_result *res;
	struct host_state *hs;
	int pending;               /* hosts not finished */
	struct timespec start;
	check_done_cb cb;
	void *arg;
	struct event *finish_ev;
};

static void host_after_addresses(struct host_state *hs);
static void host_start_tlsa(struct host_state *hs);
static void host_start_probes(struct host_state *hs);
static void host_finish(struct host_state *hs);
static void job_finish(struct check_job *job);

const char *check_tls_req_name(enum check_tls_req r)
{
	static const char *const names[] = {"none", "dane", "encrypt", "may", "tempfail"};
	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "none";
}

/* Copy a name without its trailing dot (the form reports and SNI use). */
static void name_nodot(char *dst, size_t dstlen, const char *src)
{
	size_t n;

	str_copy(dst, src, dstlen);
	n = strlen(dst);
	if (n > 1 && dst[n - 1] == '.')
		dst[n - 1] = '\0';
}

static int lookup_failed(const struct dns_result *r);

static void lookup_record(struct check_lookup *l, const struct dns_result *r)
{
	l->failed = lookup_failed(r);
	l->done = 1;
	name_nodot(l->qname, sizeof(l->qname), r->qname);
	l->status = dns_status_name(r->status);
	l->sec = r->sec;
	str_copy(l->why_bogus, r->why_bogus, sizeof(l->why_bogus));
	if (r->why_bogus[0] == '\0' && r->reason[0] != '\0')
		str_copy(l->why_bogus, r->reason, sizeof(l->why_bogus));
	l->ttl = r->ttl;
	l->sig_expire = r->sig_expire;
}

/* A lookup that neither answered nor proved absence: the host or domain is unusable. */
static int lookup_failed(const struct dns_result *r)
{
	return r->sec == DNS_SEC_BOGUS || r->status == DNS_FAIL || r->status == DNS_TIMEOUT ||
	       r->status == DNS_ERROR;
}

static const char *lookup_failure_text(const struct dns_result *r)
{
	if (r->sec == DNS_SEC_BOGUS)
		return "DNSSEC validation failed (bogus)";
	if (r->status == DNS_TIMEOUT)
		return "timed out";
	return "failed";
}

static void set_reason(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(char *dst, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, CHECK_REASON_MAX, fmt, ap);
	va_end(ap);
}

/* ---- MX stage ---------------------------------------------------------------------- */

static int mx_cmp(const void *a, const void *b)
{
	const struct mx_rr *x = a, *y = b;
	return (int)x->preference - (int)y->preference;
}

static void domain_verdict(struct check_result *res, enum verdict v, const char *rule,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void domain_verdict(struct check_result *res, enum verdict v, const char *rule,
			   const char *fmt, ...)
{
	va_list ap;

	res->v = v;
	res->rule = rule;
	res->decided_by_dns = 1;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

static int hosts_alloc(struct check_job *job, size_t n)
{
	struct check_result *res = job->res;

	res->hosts = calloc(n ? n : 1, sizeof(*res->hosts));
	job->hs = calloc(n ? n : 1, sizeof(*job->hs));
	if (res->hosts == NULL || job->hs == NULL)
		return -1;
	res->nhosts = n;
	for (size_t i = 0; i < n; i++) {
		job->hs[i].job = job;
		job->hs[i].h = &res->hosts[i];
	}
	return 0;
}

static void host_lookup_cb(struct dns_result *r, void *arg);

static void host_start(struct host_state *hs)
{
	struct check_job *job = hs->job;
	char qname[DNS_NAME_MAX + 2];

	snprintf(qname, sizeof(qname), "%s.", hs->h->name);
	job->pending++;
	if (job->p.families & CHECK_INET) {
		hs->pending++;
		if (dns_query(job->p.dns, qname, T_A, host_lookup_cb, hs) == NULL)
			hs->pending--;
	}
	if (job->p.families & CHECK_INET6) {
		hs->pending++;
		if (dns_query(job->p.dns, qname, T_AAAA, host_lookup_cb, hs) == NULL)
			hs->pending--;
	}
	if (hs->pending == 0) {
		set_reason(hs->h->reason, "out of memory starting lookups");
		hs->h->v = VERDICT_TEMPFAIL;
		host_finish(hs);
	}
}

static void mx_lookup_cb(struct dns_result *r, void *arg)
{
	struct check_job *job = arg;
	struct check_result *res = job->res;
	size_t n = 0;

	lookup_record(&res->mx_lookup, r);
	if (lookup_failed(r)) {
		domain_verdict(res, VERDICT_TEMPFAIL, "RFC 7672 §2.2.1",
			       "MX lookup %s%s%s", lookup_failure_text(r),
			       r->why_bogus[0] || r->reason[0] ? ": " : "",
			       r->why_bogus[0] ? r->why_bogus : r->reason);
		goto done;
	}
	if (r->status == DNS_NXDOMAIN) {
		domain_verdict(res, VERDICT_NOMAIL, "RFC 5321 §5.1",
			       "the domain does not exist (NXDOMAIN, %s)", dns_sec_name(r->sec));
		goto done;
	}
	if (r->status == DNS_NODATA || r->nmx == 0) {
		/* No MX RRset: the domain itself is the implicit MX (RFC 5321 §5.1). */
		res->implicit_mx = 1;
		if (hosts_alloc(job, 1) < 0)
			goto oom;
		str_copy(res->hosts[0].name, res->domain, sizeof(res->hosts[0].name));
		res->hosts[0].preference = 0;
		host_start(&job->hs[0]);
		goto done;
	}
	if (r->nmx == 1 && strcmp(r->mx[0].host, ".") == 0) {
		res->null_mx = 1;
		domain_verdict(res, VERDICT_NOMAIL, "RFC 7505 §3",
			       "null MX: the domain accepts no mail");
		goto done;
	}
	qsort(r->mx, r->nmx, sizeof(r->mx[0]), mx_cmp);
	if (hosts_alloc(job, r->nmx) < 0)
		goto oom;
	for (size_t i = 0; i < r->nmx && n < job->p.max_hosts; i++) {
		char name[DNS_NAME_MAX];
		int dup = 0;

		if (strcmp(r->mx[i].host, ".") == 0)
			continue; /* a null MX beside real ones is ignored */
		name_nodot(name, sizeof(name), r->mx[i].host);
		for (size_t k = 0; k < n; k++)
			dup |= str_ieq(res->hosts[k].name, name);
		if (dup)
			continue;
		str_copy(res->hosts[n].name, name, sizeof(res->hosts[n].name));
		res->hosts[n].preference = r->mx[i].preference;
		n++;
	}
	res->nhosts = n;
	/* Hold the job while hosts start: a host that fails at once must not finish it. */
	job->pending++;
	for (size_t i = 0; i < n; i++)
		host_start(&job->hs[i]);
	job->pending--;
	if (n == 0)
		domain_verdict(res, VERDICT_NOMAIL, "RFC 7505 §3", "no usable MX host");
	goto done;
oom:
	domain_verdict(res, VERDICT_TEMPFAIL, NULL, "out of memory");
done:
	dns_result_free(r);
	if (job->pending == 0)
		job_finish(job);
}

/* ---- address stage ---------------------------------------------------------------- */

static int addrs_append(struct check_host *h, const struct dns_result *r)
{
	struct check_address *na;
	size_t take = r->naddrs;

	/* A hostile zone can publish hundreds of addresses: admit at most CHECK_MAX_ADDRS
	 * per host (counted, and said in the reason), and fold every admitted one. */
	if (h->naddrs + take > CHECK_MAX_ADDRS) {
		h->addrs_dropped += h->naddrs + take - CHECK_MAX_ADDRS;
		take = CHECK_MAX_ADDRS - h->naddrs;
	}
	if (take == 0)
		return 0;
	na = realloc(h->addrs, (h->naddrs + take) * sizeof(*na));
	if (na == NULL)
		return -1;
	h->addrs = na;
	for (size_t i = 0; i < take; i++) {
		memset(&na[h->naddrs], 0, sizeof(na[0]));
		na[h->naddrs].addr = r->addrs[i];
		h->naddrs++;
	}
	return 0;
}

static void cname_record(struct check_host *h, const struct dns_result *r)
{
	if (h->ncname > 0 || r->ncnames == 0) {
		if (h->canonical[0] == '\0')
			name_nodot(h->canonical, sizeof(h->canonical), r->canon[0] ? r->canon : r->qname);
		return;
	}
	h->cname_owner = calloc(r->ncnames, sizeof(*h->cname_owner));
	h->cname_target = calloc(r->ncnames, sizeof(*h->cname_target));
	if (h->cname_owner == NULL || h->cname_target == NULL)
		return;
	for (size_t i = 0; i < r->ncnames; i++) {
		name_nodot(h->cname_owner[i], DNS_NAME_MAX, r->cnames[i].owner);
		name_nodot(h->cname_target[i], DNS_NAME_MAX, r->cnames[i].target);
	}
	h->ncname = r->ncnames;
	h->cname_secure = r->chain_secure;
	name_nodot(h->canonical, sizeof(h->canonical), r->canon);
}

static void host_lookup_cb(struct dns_result *r, void *arg)
{
	struct host_state *hs = arg;
	struct check_host *h = hs->h;
	struct check_lookup *l = r->qtype == T_A ? &h->a : &h->aaaa;

	lookup_record(l, r);
	if (!lookup_failed(r)) {
		cname_record(h, r);
		if (addrs_append(h, r) < 0)
			log_warnx("%s: out of memory recording addresses", h->name);
	}
	dns_result_free(r);
	if (--hs->pending == 0)
		host_after_addresses(hs);
}

static void host_fail(struct host_state *hs, enum verdict v, enum check_tls_req req,
		      const char *rule, const char *reason)
{
	struct check_host *h = hs->h;

	h->v = v;
	h->req = req;
	h->rule = rule;
	str_copy(h->reason, reason, sizeof(h->reason));
	str_copy(h->req_reason, reason, sizeof(h->req_reason));
}

/* Both address lookups are in: decide whether TLSA applies and look it up. */
static void host_after_addresses(struct host_state *hs)
{
	struct check_host *h = hs->h;
	struct check_lookup *ls[2] = {&h->a, &h->aaaa};
	char why[CHECK_REASON_MAX];
	int answered = 0, insecure = 0;

	for (int i = 0; i < 2; i++) {
		struct check_lookup *l = ls[i];
		if (!l->done)
			continue;
		if (l->failed) {
			set_reason(why, "%s lookup of %s %s%s%s", i == 0 ? "A" : "AAAA",
				 h->name, l->sec == DNS_SEC_BOGUS ? "is bogus" : l->status,
				 l->why_bogus[0] ? ": " : "", l->why_bogus);
			host_fail(hs, VERDICT_TEMPFAIL, CHECK_REQ_TEMPFAIL, "RFC 7672 §2.2.2", why);
			host_finish(hs);
			return;
		}
		answered++;
		if (l->sec != DNS_SEC_SECURE)
			insecure = 1;
	}
	h->addr_sec = answered && !insecure ? DNS_SEC_SECURE : DNS_SEC_INSECURE;
	if (h->canonical[0] == '\0')
		str_copy(h->canonical, h->name, sizeof(h->canonical));
	if (h->naddrs == 0 && hs->job->res->implicit_mx && answered > 0) {
		/* No MX and no address: RFC 5321 §5.1 leaves nowhere to deliver (Postfix bounces). */
		domain_verdict(hs->job->res, VERDICT_NOMAIL, "RFC 5321 §5.1",
			       "no MX records and no address records: the domain takes no mail");
		host_fail(hs, VERDICT_TEMPFAIL, CHECK_REQ_TEMPFAIL, "RFC 5321 §5.1",
			  "the domain itself (implicit MX) has no address records");
		host_finish(hs);
		return;
	}
	if (h->naddrs == 0) {
		set_reason(why, "MX host %s has no %saddress records", h->name,
			 hs->job->p.families == CHECK_INET ? "IPv4 " :
			 hs->job->p.families == CHECK_INET6 ? "IPv6 " : "");
		host_fail(hs, VERDICT_TEMPFAIL, CHECK_REQ_TEMPFAIL, "RFC 5321 §5.1", why);
		host_finish(hs);
		return;
	}
	policy_tlsa_bases(h->name, h->canonical, h->addr_sec, &hs->bases);
	host_start_tlsa(hs);
}

/* ---- TLSA stage --------------------------------------------------------------------- */

static enum tlsa_outcome tlsa_outcome_of(const struct dns_result *r)
{
	if (r->sec == DNS_SEC_BOGUS)
		return TLSA_LOOKUP_BOGUS;
	switch (r->status) {
	case DNS_TIMEOUT: return TLSA_LOOKUP_TIMEOUT;
	case DNS_FAIL:
	case DNS_ERROR: return TLSA_LOOKUP_SERVFAIL;
	default: break;
	}
	if (r->sec != DNS_SEC_SECURE)
		return TLSA_LOOKUP_INSECURE;
	if (r->status == DNS_NXDOMAIN)
		return TLSA_LOOKUP_NXDOMAIN;
	if (r->status == DNS_NODATA || r->ntlsa == 0)
		return TLSA_LOOKUP_NODATA;
	return TLSA_LOOKUP_SECURE;
}

static enum check_tls_req req_of(enum tls_level l)
{
	switch (l) {
	case TLS_LEVEL_DANE: return CHECK_REQ_DANE;
	case TLS_LEVEL_ENCRYPT: return CHECK_REQ_ENCRYPT;
	case TLS_LEVEL_TEMPFAIL: return CHECK_REQ_TEMPFAIL;
	default: return CHECK_REQ_MAY;
	}
}

static void host_decide(struct host_state *hs, enum tlsa_outcome o)
{
	struct check_host *h = hs->h;
	struct policy_input in = {0};
	struct policy_result out;
	struct tlsa_rr *rrs = NULL;

	if (h->ntlsa > 0) {
		if ((rrs = calloc(h->ntlsa, sizeof(*rrs))) == NULL) {
			host_fail(hs, VERDICT_TEMPFAIL, CHECK_REQ_TEMPFAIL, NULL, "out of memory");
			host_finish(hs);
			return;
		}
		for (size_t i = 0; i < h->ntlsa; i++)
			rrs[i] = h->tlsa[i].rr;
	}
	in.mx_sec = hs->job->res->mx_lookup.sec;
	in.addr_sec = h->addr_sec;
	in.tlsa = o;
	in.rrs = rrs;
	in.nrrs = rrs != NULL ? h->ntlsa : 0;
	in.insecure_mx = hs->job->p.insecure_mx_dane ? INSECURE_MX_DANE : INSECURE_MX_MAY;
	policy_host_level(&in, &out);
	free(rrs);
	h->req = req_of(out.level);
	h->trusted = out.trusted;
	h->ntlsa_usable = out.usable;
	h->rule = out.rfc;
	str_copy(h->req_reason, out.reason, sizeof(h->req_reason));
	if (h->req == CHECK_REQ_TEMPFAIL) {
		char why[CHECK_REASON_MAX];
		set_reason(why, "%s%s%s", out.reason,
			 h->tlsa_lookup.why_bogus[0] ? ": " : "", h->tlsa_lookup.why_bogus);
		host_fail(hs, VERDICT_TEMPFAIL, CHECK_REQ_TEMPFAIL, out.rfc, why);
		host_finish(hs);
		return;
	}
	host_start_probes(hs);
}

static void tlsa_cb(struct dns_result *r, void *arg);

static void host_start_tlsa(struct host_state *hs)
{
	struct check_job *job = hs->job;
	char qname[DNS_NAME_MAX];

	if (hs->bases.n == 0 ||
	    (job->res->mx_lookup.sec != DNS_SEC_SECURE && !job->p.insecure_mx_dane)) {
		host_decide(hs, TLSA_LOOKUP_NOT_LOOKED_UP);
		return;
	}
	/* The TLSA owner is always _25._tcp: --port only moves where a lab probe connects. */
	if (policy_tlsa_qname(hs->bases.name[hs->base_next], 25, qname,
			      sizeof(qname)) < 0) {
		host_fail(hs, VERDICT_TEMPFAIL, CHECK_REQ_TEMPFAIL, "RFC 7672 §2.2.3",
			  "TLSA owner name too long");
		host_finish(hs);
		return;
	}
	name_nodot(hs->h->tlsa_base, sizeof(hs->h->tlsa_base), hs->bases.name[hs->base_next]);
	hs->base_next++;
	hs->pending++;
	if (dns_query(job->p.dns, qname, T_TLSA, tlsa_cb, hs) == NULL) {
		hs->pending--;
		host_fail(hs, VERDICT_TEMPFAIL, CHECK_REQ_TEMPFAIL, NULL, "out of memory");
		host_finish(hs);
	}
}

/* Keep the records (densely); -1 when out of memory: the caller must not go on. */
static int tlsa_record(struct check_host *h, const struct dns_result *r)
{
	h->tlsa = calloc(r->ntlsa ? r->ntlsa : 1, sizeof(*h->tlsa));
	if (h->tlsa == NULL)
		return -1;
	for (size_t i = 0; i < r->ntlsa; i++) {
		struct check_tlsa_rec *t = &h->tlsa[h->ntlsa];
		const char *why = NULL;

		t->rr = r->tlsa[i];
		t->rr.data = malloc(r->tlsa[i].len ? r->tlsa[i].len : 1);
		if (t->rr.data == NULL)
			return -1;
		memcpy(t->rr.data, r->tlsa[i].data, r->tlsa[i].len);
		t->usable = policy_tlsa_usability(&t->rr, &why) == TLSA_USABLE;
		if (!t->usable && why != NULL)
			str_copy(t->why, why, sizeof(t->why));
		h->ntlsa++;
	}
	return 0;
}

static void tlsa_cb(struct dns_result *r, void *arg)
{
	struct host_state *hs = arg;
	struct check_host *h = hs->h;
	enum tlsa_outcome o = tlsa_outcome_of(r);

	hs->pending--;
	lookup_record(&h->tlsa_lookup, r);
	/* No records at the expanded name: RFC 7672 §2.2.2 says try the original name next. */
	if ((o == TLSA_LOOKUP_NXDOMAIN || o == TLSA_LOOKUP_NODATA || o == TLSA_LOOKUP_INSECURE) &&
	    hs->base_next < hs->bases.n) {
		dns_result_free(r);
		host_start_tlsa(hs);
		return;
	}
	if (o == TLSA_LOOKUP_SECURE && tlsa_record(h, r) < 0) {
		dns_result_free(r);
		host_fail(hs, VERDICT_TEMPFAIL, CHECK_REQ_TEMPFAIL, NULL, "out of memory keeping TLSA records");
		host_finish(hs);
		return;
	}
	dns_result_free(r);
	host_decide(hs, o);
}

/* ---- probe stage ---------------------------------------------------------------------- */

static void address_done(struct check_address *a, void *arg)
{
	struct host_state *hs = arg;

	(void)a;
	if (--hs->pending == 0)
		host_finish(hs);
}

static void host_start_probes(struct host_state *hs)
{
	struct check_job *job = hs->job;
	struct check_host *h = hs->h;
	struct probe_req req;

	if (job->p.resolve_only) {
		host_finish(hs);
		return;
	}
	if ((hs->tls = malloc(sizeof(*hs->tls))) == NULL) {
		host_fail(hs, VERDICT_TEMPFAIL, CHECK_REQ_TEMPFAIL, NULL, "out of memory");
		host_finish(hs);
		return;
	}
	host_tls_init(hs->tls, h, job->res->domain);
	memset(&req, 0, sizeof(req));
	req.base = job->base;
	req.ssl_ctx = job->p.ssl_ctx;
	req.port = job->p.port;
	req.helo = job->p.helo;
	req.tls = hs->tls;
	req.both_keys = job->p.both_keys;
	req.timeout_ms = job->p.timeout_ms;
	req.iplimit = job->p.iplimit;
	for (size_t i = 0; i < h->naddrs; i++) {
		hs->pending++;
		if (probe_address(&req, &h->addrs[i], address_done, hs) < 0)
			hs->pending--;
	}
	if (hs->pending == 0)
		host_finish(hs);
}

/* ---- folding -------------------------------------------------------------------------- */

static void host_finish(struct host_state *hs)
{
	struct check_host *h = hs->h;
	struct check_job *job = hs->job;

	if (job->p.resolve_only) {
		/* no verdicts: the caller's stage decides */
	} else if (h->naddrs > 0 && h->req != CHECK_REQ_TEMPFAIL &&
	    h->req != CHECK_REQ_NONE) {
		struct verdict_item items[CHECK_MAX_ADDRS];
		size_t n = h->naddrs, worst = 0;

		for (size_t i = 0; i < n; i++) {
			items[i].v = h->addrs[i].v;
			items[i].ignorable = h->addrs[i].ignorable;
		}
		h->v = verdict_fold(items, n, &worst);
		for (size_t k = 0; k < h->addrs[worst].nprobes; k++)
			if (!h->addrs[worst].probes[k].not_applicable && h->addrs[worst].probes[k].v == h->v &&
			    h->addrs[worst].probes[k].rule != NULL)
				h->rule = h->addrs[worst].probes[k].rule;
		if (h->addrs_dropped > 0)
			log_warnx("%s: %zu more addresses not probed (at most %d per host)", h->name,
				  h->addrs_dropped, CHECK_MAX_ADDRS);
		if (h->v == VERDICT_VERIFIED || h->v == VERDICT_TRUSTED)
			set_reason(h->reason, "%s on every address that answered (%s)",
				   h->v == VERDICT_TRUSTED ? "DANE-authenticated (insecure MX RRset)"
							   : "DANE-authenticated",
				   h->addrs[worst].reason);
		else
			set_reason(h->reason, "%s: %s", h->addrs[worst].addr.text, h->addrs[worst].reason);
	} else if (h->req == CHECK_REQ_TEMPFAIL || h->naddrs == 0) {
		/* reason already set by host_fail */
		for (size_t i = 0; i < h->naddrs; i++) {
			h->addrs[i].v = VERDICT_TEMPFAIL;
			str_copy(h->addrs[i].reason, "not probed: the host is unusable", CHECK_REASON_MAX);
		}
	}
	free(hs->tls);
	hs->tls = NULL;
	if (--job->pending == 0)
		job_finish(job);
}

static void domain_fold(struct check_result *res)
{
	struct verdict_item items[CHECK_MAX_HOSTS];
	size_t n = res->nhosts, worst = 0, pass = 0;

	for (size_t i = 0; i < n; i++) {
		items[i].v = res->hosts[i].v;
		items[i].ignorable = 0;
		pass += verdict_is_pass(res->hosts[i].v);
	}
	res->v = verdict_fold(items, n, &worst);
	res->rule = res->hosts[worst].rule;
	if (res->v == VERDICT_VERIFIED || res->v == VERDICT_TRUSTED)
		set_reason(res->reason, "all %zu MX host%s DANE-authenticated%s", n, n == 1 ? "" : "s",
			   res->v == VERDICT_TRUSTED ? " (the MX RRset is not DNSSEC-signed)" : "");
	else if (verdict_is_pass(res->v))
		set_reason(res->reason, "%s: %s", res->hosts[worst].name, res->hosts[worst].reason);
	else
		set_reason(res->reason, "%zu of %zu MX hosts fail; %s: %s", n - pass, n,
			   res->hosts[worst].name, res->hosts[worst].reason);
}

/* A named MX host: no MX lookup, so nothing about it can be insecure; the host is the
 * only one, its TLSA decides alone. The result is still delivered from the loop. */
static void host_only_start(struct check_job *job)
{
	struct check_result *res = job->res;

	res->mx_lookup.sec = DNS_SEC_SECURE;
	res->mx_lookup.status = "skipped";
	str_copy(res->mx_lookup.qname, res->domain, sizeof(res->mx_lookup.qname));
	if (hosts_alloc(job, 1) < 0) {
		domain_verdict(res, VERDICT_TEMPFAIL, NULL, "out of memory");
		job_finish(job);
		return;
	}
	str_copy(res->hosts[0].name, res->domain, sizeof(res->hosts[0].name));
	host_start(&job->hs[0]);
}

static void job_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct check_job *job = arg;
	struct check_result *res = job->res;
	struct timespec now;

	(void)fd;
	(void)what;
	if (res->nhosts > 0 && res->reason[0] == '\0' && !job->p.resolve_only)
		domain_fold(res);
	clock_gettime(CLOCK_MONOTONIC, &now);
	res->elapsed_ms = (double)(now.tv_sec - job->start.tv_sec) * 1e3 +
			  (double)(now.tv_nsec - job->start.tv_nsec) / 1e6;
	event_free(job->finish_ev);
	free(job->hs);
	job->cb(res, job->arg);
	free(job);
}

/* Always deliver the result from the loop, never from inside check_start(). */
static void job_finish(struct check_job *job)
{
	event_active(job->finish_ev, 0, 0);
}

struct check_job *check_start(struct event_base *base, const struct check_params *p,
			      const char *domain, check_done_cb cb, void *arg)
{
	struct check_job *job = calloc(1, sizeof(*job));
	char qname[DNS_NAME_MAX + 1];

	if (job == NULL || (job->res = calloc(1, sizeof(*job->res))) == NULL)
		goto fail;
	job->finish_ev = event_new(base, -1, 0, job_finish_cb, job);
	if (job->finish_ev == NULL)
		goto fail;
	job->base = base;
	job->p = *p;
	if (job->p.max_hosts == 0 || job->p.max_hosts > CHECK_MAX_HOSTS)
		job->p.max_hosts = CHECK_MAX_HOSTS;
	if (job->p.families == 0)
		job->p.families = CHECK_INET | CHECK_INET6;
	job->cb = cb;
	job->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &job->start);
	str_copy(job->res->domain, domain, sizeof(job->res->domain));
	if (job->p.host_only) {
		host_only_start(job);
		return job;
	}
	snprintf(qname, sizeof(qname), "%s.", domain);
	if (dns_query(p->dns, qname, T_MX, mx_lookup_cb, job) == NULL)
		goto fail;
	return job;
fail:
	if (job != NULL) {
		if (job->finish_ev != NULL)
			event_free(job->finish_ev);
		free(job->res);
		free(job);
	}
	return NULL;
}

void check_result_free(struct check_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->nhosts; i++) {
		struct check_host *h = &res->hosts[i];
		for (size_t k = 0; k < h->naddrs; k++)
			for (size_t j = 0; j < h->addrs[k].nprobes; j++)
				probe_facts_free(h->addrs[k].probes[j].client);
		for (size_t k = 0; k < h->ntlsa; k++)
			free(h->tlsa[k].rr.data);
		free(h->tlsa);
		free(h->addrs);
		free(h->cname_owner);
		free(h->cname_target);
	}
	free(res->hosts);
	free(res);
}

int check_normalise_domain(const char *in, char *out, size_t outlen, char *why, size_t whylen)
{
	size_t n = strlen(in), label = 0;

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > 253) {
		snprintf(why, whylen, "invalid domain name: %s", n == 0 ? "empty" : "longer than 253 characters");
		return -1;
	}
	if (n + 1 > outlen) {
		snprintf(why, whylen, "invalid domain name: too long");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '.') {
			if (label == 0 || in[i - 1] == '-') {
				snprintf(why, whylen, "invalid domain name: empty label or label ending in '-'");
				return -1;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			   c == '_' || (c == '-' && label > 0)) {
			if (++label > 63) {
				snprintf(why, whylen, "invalid domain name: a label is longer than 63 characters");
				return -1;
			}
		} else {
			char esc[16];
			str_escape(esc, sizeof(esc), &in[i], 1);
			snprintf(why, whylen, "invalid domain name: character '%s' (IDNs must be given as A-labels, xn--...)", esc);
			return -1;
		}
	}
	if (in[n - 1] == '-') {
		snprintf(why, whylen, "invalid domain name: label ending in '-'");
		return -1;
	}
	memcpy(out, in, n);
	out[n] = '\0';
	str_lower(out);
	return 0;
}

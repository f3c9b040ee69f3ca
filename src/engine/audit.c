/*
 * audit: findings about a destination's TLSA records, from one finished check (see
 * audit.h). Every finding has a severity, a stable code and, where one applies, the RFC
 * section behind it; the report's severity is the worst of them and of the check's
 * verdict, so `tlsa audit` exits like `check --nagios`. Record-to-certificate
 * correspondence is by digest, for the report only: it must never decide whether a
 * chain authenticates (OpenSSL did, in the probe) and never print.
 */
#include "engine/audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dane/dane_ossl.h"
#include "dane/tlsa.h"
#include "dns/dns.h"
#include "engine/verdict.h"
#include "smtp/client.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/str.h"

const char *audit_sev_name(enum audit_sev s)
{
	static const char *const names[] = {"ok", "warning", "critical", "unknown"};
	return (unsigned)s < 4 ? names[s] : "unknown";
}

const char *audit_rec_state_name(enum audit_rec_state s)
{
	static const char *const names[] = {"matches", "staged", "stale", "unusable", "unchecked"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unchecked";
}

/* ---- digests ------------------------------------------------------------------------ */

void audit_digests_from_facts(const struct cert_facts *c, struct audit_digests *out)
{
	out->has_cert = 1;
	memcpy(out->spki_sha256, c->spki_sha256, sizeof(out->spki_sha256));
	memcpy(out->spki_sha512, c->spki_sha512, sizeof(out->spki_sha512));
	memcpy(out->cert_sha256, c->cert_sha256, sizeof(out->cert_sha256));
	memcpy(out->cert_sha512, c->cert_sha512, sizeof(out->cert_sha512));
}

int audit_digests_from_cert(X509 *x, struct audit_digests *out)
{
	struct cert_facts *f = malloc(sizeof(*f));
	int rc = -1;

	if (f != NULL && chain_cert_facts(x, f) == 0) {
		audit_digests_from_facts(f, out);
		rc = 0;
	}
	free(f);
	return rc;
}

/* A bare key: only the SPKI digests exist; tlsa.c computes them as `tlsa create` does. */
int audit_digests_from_pkey(EVP_PKEY *k, struct audit_digests *out)
{
	struct tlsa_rr a, b;

	memset(out, 0, sizeof(*out));
	if (tlsa_from_pkey(k, 3, 1, 1, &a, NULL, 0) != TLSA_OK)
		return -1;
	if (tlsa_from_pkey(k, 3, 1, 2, &b, NULL, 0) != TLSA_OK) {
		tlsa_rr_free(&a);
		return -1;
	}
	if (a.len == sizeof(out->spki_sha256) && b.len == sizeof(out->spki_sha512)) {
		memcpy(out->spki_sha256, a.data, a.len);
		memcpy(out->spki_sha512, b.data, b.len);
	}
	tlsa_rr_free(&a);
	tlsa_rr_free(&b);
	return 0;
}

int audit_rr_matches(const struct tlsa_rr *rr, const struct audit_digests *d)
{
	unsigned char full[32];
	const unsigned char *d256, *d512;

	if (rr->data == NULL || rr->len == 0 || rr->selector > 1 || (rr->selector == 0 && !d->has_cert))
		return 0;
	d256 = rr->selector == 0 ? d->cert_sha256 : d->spki_sha256;
	d512 = rr->selector == 0 ? d->cert_sha512 : d->spki_sha512;
	switch (rr->mtype) {
	case 0: /* Full: the DER itself; equal DER has equal SHA-256 */
		return EVP_Digest(rr->data, rr->len, full, NULL, EVP_sha256(), NULL) == 1 &&
		       memcmp(full, d256, 32) == 0;
	case 1: return rr->len == 32 && memcmp(rr->data, d256, 32) == 0;
	case 2: return rr->len == 64 && memcmp(rr->data, d512, 64) == 0;
	default: return 0;
	}
}

size_t audit_candidates(const struct cert_facts *c, int depth, struct tlsa_rr *out, size_t max)
{
	uint8_t u = depth == 0 ? 3 : 2;
	struct tlsa_rr all[3] = {
		{u, 1, 1, 32, (unsigned char *)c->spki_sha256},
		{u, 1, 2, 64, (unsigned char *)c->spki_sha512},
		{u, 0, 1, 32, (unsigned char *)c->cert_sha256},
	};
	size_t n = 0;

	for (size_t i = 0; i < 3 && n < max; i++) {
		if (depth > 0 && all[i].mtype == 2)
			continue; /* for an issuer, 2 1 1 and 2 0 1 are what operators publish */
		out[n++] = all[i];
	}
	return n;
}

int audit_next_load(const char *path, struct audit_next *out, char *err, size_t errlen)
{
	struct tlsa_material m;
	int rc, n;

	memset(out, 0, sizeof(*out));
	str_escape(out->label, sizeof(out->label), path, strlen(path));
	if ((rc = tlsa_load(path, &m, err, errlen)) != TLSA_OK)
		return rc;
	n = sk_X509_num(m.certs);
	for (int i = 0; i < n && out->n < CHAIN_MAX && rc == TLSA_OK; i++)
		if (audit_digests_from_cert(sk_X509_value(m.certs, i), &out->d[out->n++]) != 0)
			rc = TLSA_ECRYPTO;
	if (n == 0 && rc == TLSA_OK) {
		out->key_only = 1;
		if (m.pkey == NULL || audit_digests_from_pkey(m.pkey, &out->d[0]) != 0)
			rc = m.pkey == NULL ? TLSA_EFORMAT : TLSA_ECRYPTO;
		else
			out->n = 1;
	}
	if (rc != TLSA_OK && err != NULL)
		str_printf(err, errlen, "%s: %s", out->label,
			   rc == TLSA_EFORMAT ? "no certificate or key in the file" : "cannot digest the key");
	tlsa_material_free(&m);
	return rc;
}

/* ---- findings ----------------------------------------------------------------------- */

static void rr_text(const struct tlsa_rr *rr, char *dst, size_t size)
{
	struct buf b = BUF_INIT(0);

	dst[0] = '\0';
	if (rr == NULL)
		return;
	if (tlsa_format_rdata(rr, &b) == TLSA_OK && str_copy(dst, buf_cstr(&b), size) >= size && size > 4)
		memcpy(dst + size - 4, "...", 4);
	buf_free(&b);
}

static struct audit_finding *finding(struct audit_report *r, enum audit_sev sev, const char *code,
				     const char *rule, const char *host, const struct tlsa_rr *rr,
				     const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static struct audit_finding *finding(struct audit_report *r, enum audit_sev sev, const char *code,
				     const char *rule, const char *host, const struct tlsa_rr *rr,
				     const char *fmt, ...)
{
	struct audit_finding *f;
	va_list ap;

	if (r->nf == r->fcap) {
		size_t cap = r->fcap ? r->fcap * 2 : 16;
		struct audit_finding *nf = realloc(r->f, cap * sizeof(*nf));
		if (nf == NULL)
			return NULL;
		r->f = nf;
		r->fcap = cap;
	}
	f = &r->f[r->nf++];
	memset(f, 0, sizeof(*f));
	f->sev = sev;
	f->code = code;
	f->rule = rule;
	str_copy(f->host, host != NULL ? host : "", sizeof(f->host));
	rr_text(rr, f->record, sizeof(f->record));
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	if (sev > r->sev && sev != AUDIT_UNKNOWN)
		r->sev = sev;
	return f;
}

static void iso_time(time_t t, char *dst, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(dst, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		str_copy(dst, "?", size);
}

static void rrsig_check(struct audit_report *r, const struct audit_params *p, const char *host,
			const char *what, const struct check_lookup *l)
{
	char when[32];
	long left;

	if (!l->done || l->sec != DNS_SEC_SECURE || l->sig_expire == 0)
		return;
	left = (long)(l->sig_expire - p->now);
	if (left >= p->rrsig_warn)
		return;
	iso_time(l->sig_expire, when, sizeof(when));
	finding(r, AUDIT_WARNING, "rrsig-soon", "RFC 4035 §5.3.1", host, NULL,
		"the RRSIG of the %s RRset %s expires at %s (in %ld h): re-sign the zone, or "
		"validating senders will find it bogus and defer mail", what, l->qname, when,
		left > 0 ? left / 3600 : 0);
}

/* ---- records against the chains ------------------------------------------------------ */

/* The live chain of a probe, or NULL when that probe completed no handshake. */
static const struct tls_facts *probe_chain(const struct check_probe *pr)
{
	const struct smtp_client_result *c = pr->client;

	return c != NULL && c->tls && c->tls_facts.nchain > 0 ? &c->tls_facts : NULL;
}

static size_t host_nchains(const struct check_host *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->naddrs; i++)
		for (size_t j = 0; j < h->addrs[i].nprobes; j++)
			n += probe_chain(&h->addrs[i].probes[j]) != NULL;
	return n;
}

/* Usage 3 designates the leaf, usage 2 an issuer sent in the chain (RFC 7671 §5.1, §5.2). */
static int depth_fits(const struct tlsa_rr *rr, size_t depth)
{
	return rr->usage == TLSA_DANE_EE ? depth == 0 : rr->usage == TLSA_DANE_TA ? depth > 0 : 0;
}

/* The host's record that OpenSSL matched in this probe, or -1. The probe was given the
 * usable records in order (check.c), and match_index counts in that list. */
static int ossl_matched(const struct check_host *h, const struct check_probe *pr)
{
	const struct smtp_client_result *c = pr->client;
	int want, k = 0;

	if (c == NULL || !c->dane_checked || c->dane.status != DANE_STATUS_VERIFIED ||
	    (want = c->dane.match_index) < 0)
		return -1;
	for (size_t i = 0; i < h->ntlsa; i++)
		if (h->tlsa[i].usable && k++ == want)
			return (int)i;
	return -1;
}

/* Matched by OpenSSL in a probe (what decides), else paired by digest (what the report
 * adds: records OpenSSL did not need, like a second one for the same chain). */
static int rec_match_live(const struct check_host *h, size_t idx, char *where, size_t wlen)
{
	const struct tlsa_rr *rr = &h->tlsa[idx].rr;

	for (size_t i = 0; i < h->naddrs; i++)
		for (size_t j = 0; j < h->addrs[i].nprobes; j++) {
			const struct check_probe *pr = &h->addrs[i].probes[j];
			if (ossl_matched(h, pr) != (int)idx)
				continue;
			str_printf(where, wlen, "authenticated %s at %s (%s key)",
				   pr->client->dane.depth == 0 ? "the leaf" : "the chain",
				   h->addrs[i].addr.text, pr->key_type);
			return 1;
		}
	for (size_t i = 0; i < h->naddrs; i++)
		for (size_t j = 0; j < h->addrs[i].nprobes; j++) {
			const struct tls_facts *tf = probe_chain(&h->addrs[i].probes[j]);
			for (size_t k = 0; tf != NULL && k < tf->nchain; k++) {
				struct audit_digests d;
				if (!depth_fits(rr, k))
					continue;
				audit_digests_from_facts(&tf->chain[k], &d);
				if (!audit_rr_matches(rr, &d))
					continue;
				str_printf(where, wlen, "%s at %s (%s key)", k == 0 ? "the leaf" : "an issuer",
					   h->addrs[i].addr.text, h->addrs[i].probes[j].key_type);
				return 1;
			}
		}
	return 0;
}

/* Does rr designate the staged material? A lone certificate may be a staged CA. */
static int rec_match_next(const struct tlsa_rr *rr, const struct audit_next *nx)
{
	for (size_t k = 0; k < nx->n; k++) {
		if (rr->usage == TLSA_DANE_EE && k > 0)
			break;
		if (rr->usage == TLSA_DANE_TA && k == 0 && nx->n > 1)
			continue;
		if (audit_rr_matches(rr, &nx->d[k]))
			return 1;
	}
	return 0;
}

static void rec_unusable(struct audit_report *r, const char *host, const struct check_tlsa_rec *t)
{
	if (t->rr.usage == TLSA_PKIX_TA || t->rr.usage == TLSA_PKIX_EE)
		finding(r, AUDIT_WARNING, "pkix-usage", "RFC 7672 §3.1.3", host, &t->rr,
			"PKIX-%s(%u) is not used by SMTP senders: the record authenticates nothing; "
			"publish DANE-EE(3) or DANE-TA(2) instead", t->rr.usage == 0 ? "TA" : "EE",
			t->rr.usage);
	else
		finding(r, AUDIT_WARNING, "unusable-record", "RFC 7672 §2.2", host, &t->rr,
			"unusable: %s", t->why[0] ? t->why : "unsupported parameters");
}

/* Warnings a usable record earns by its form alone, whatever it matches. */
static void rec_form(struct audit_report *r, const char *host, const struct tlsa_rr *rr)
{
	if (rr->mtype == TLSA_MT_FULL)
		finding(r, AUDIT_WARNING, "full-data", "RFC 7671 §10.1", host, rr,
			"matching type Full(0) puts the whole %s in DNS (large answers, TCP fallback); "
			"publish its SHA2-256 digest (x %u 1) instead",
			rr->selector == 0 ? "certificate" : "public key", rr->selector);
	if (rr->usage == TLSA_DANE_EE && rr->selector == TLSA_SEL_CERT)
		finding(r, AUDIT_WARNING, "cert-selector", "RFC 7671 §5.1", host, rr,
			"3 0 x binds the certificate, not the key: it breaks when the certificate is "
			"renewed, even with the same key; 3 1 1 survives renewal");
}

static void rec_stale(struct audit_report *r, const struct audit_params *p, const char *host,
		      const struct tlsa_rr *rr)
{
	if (rr->usage == TLSA_DANE_TA)
		finding(r, AUDIT_WARNING, "stale-ta", "RFC 7671 §5.2.2", host, rr,
			"matches no certificate the server sends: a CA the chain no longer uses (remove "
			"the record), or a trust anchor missing from the chain (the server must send it)");
	else
		finding(r, AUDIT_WARNING, "stale-record", "RFC 7671 §8.1", host, rr,
			"matches no certificate the server presents%s: a stale record, to remove once "
			"no server uses its key%s", p->nnext ? " nor any --next file" : "",
			p->nnext ? "" : " (or a staged next key: name it with --next FILE)");
}

static void audit_records(struct audit_report *r, const struct audit_params *p, struct audit_host *ah)
{
	const struct check_host *h = ah->h;

	for (size_t i = 0; i < ah->nrecs; i++) {
		struct audit_rec *ar = &ah->recs[i];
		const struct tlsa_rr *rr = &h->tlsa[i].rr;

		ar->t = &h->tlsa[i];
		if (!h->tlsa[i].usable) {
			ar->state = AUDIT_REC_UNUSABLE;
			str_copy(ar->where, h->tlsa[i].why, sizeof(ar->where));
			rec_unusable(r, h->name, &h->tlsa[i]);
			continue;
		}
		rec_form(r, h->name, rr);
		if (rec_match_live(h, i, ar->where, sizeof(ar->where))) {
			ar->state = AUDIT_REC_MATCHES;
			continue;
		}
		ar->state = ah->nchains == 0 ? AUDIT_REC_UNCHECKED : AUDIT_REC_STALE;
		for (size_t k = 0; k < p->nnext; k++)
			if (rec_match_next(rr, &p->next[k])) {
				ar->state = AUDIT_REC_STAGED;
				str_printf(ar->where, sizeof(ar->where), "--next %s", p->next[k].label);
				break;
			}
		if (ar->state == AUDIT_REC_STALE)
			rec_stale(r, p, h->name, rr);
	}
}

/* ---- hosts and the destination ---------------------------------------------------------- */

static const char *verdict_code(enum verdict v)
{
	switch (v) {
	case VERDICT_DANE_FAIL: return "dane-fail";
	case VERDICT_TEMPFAIL: return "tempfail";
	case VERDICT_ENCRYPT_ONLY: return "encrypt-only";
	case VERDICT_OPPORTUNISTIC:
	case VERDICT_PLAINTEXT: return "no-dane";
	default: return "verdict";
	}
}

static void host_verdict(struct audit_report *r, const struct check_host *h)
{
	int s = verdict_nagios(h->v);

	if (s == 0)
		return;
	finding(r, s >= 2 ? AUDIT_CRITICAL : AUDIT_WARNING, verdict_code(h->v), h->rule, h->name, NULL,
		"%s: %s", verdict_name(h->v), h->reason);
}

static void host_ttl(struct audit_report *r, const struct audit_params *p, const struct check_host *h)
{
	const struct check_lookup *l = &h->tlsa_lookup;

	if (h->ntlsa == 0 || l->sec != DNS_SEC_SECURE || l->ttl <= p->ttl_max)
		return;
	finding(r, AUDIT_WARNING, "ttl-long", "RFC 7671 §8.1", h->name, NULL,
		"the TLSA TTL is %u s: a rollover must wait that long between publishing the new "
		"record and switching keys (keep it at most %u s)", l->ttl, p->ttl_max);
}

/* Per staged file: covered on this host when one of its usable records designates it. */
static void host_next(struct audit_report *r, const struct audit_params *p, const struct check_host *h,
		      int *covered)
{
	for (size_t k = 0; k < p->nnext; k++) {
		int hit = 0;
		for (size_t i = 0; i < h->ntlsa && !hit; i++)
			hit = h->tlsa[i].usable && rec_match_next(&h->tlsa[i].rr, &p->next[k]);
		if (hit)
			continue;
		covered[k] = 0;
		finding(r, AUDIT_WARNING, "next-uncovered", "RFC 7671 §8.1", h->name, NULL,
			"--next %s: no published record matches this %s; publish its record (e.g. `danemx "
			"tlsa create %s`), wait for the TTL, then switch", p->next[k].label,
			p->next[k].key_only ? "key" : "certificate", p->next[k].label);
	}
}

static int audit_host(struct audit_report *r, const struct audit_params *p, size_t idx, int *covered,
		      int *dane_hosts)
{
	struct audit_host *ah = &r->hosts[idx];
	const struct check_host *h = &r->res->hosts[idx];

	ah->h = h;
	ah->nchains = host_nchains(h);
	ah->nrecs = h->ntlsa;
	if (h->ntlsa > 0 && (ah->recs = calloc(h->ntlsa, sizeof(*ah->recs))) == NULL)
		return -1;
	host_verdict(r, h);
	rrsig_check(r, p, h->name, "A", &h->a);
	rrsig_check(r, p, h->name, "AAAA", &h->aaaa);
	rrsig_check(r, p, h->name, "TLSA", &h->tlsa_lookup);
	host_ttl(r, p, h);
	audit_records(r, p, ah);
	if (h->ntlsa_usable > 0) {
		(*dane_hosts)++;
		host_next(r, p, h, covered);
	}
	return 0;
}

static void next_summary(struct audit_report *r, const struct audit_params *p, const int *covered,
			 int dane_hosts)
{
	for (size_t k = 0; k < p->nnext; k++) {
		r->next_covered[k] = dane_hosts > 0 && covered[k];
		if (dane_hosts == 0)
			finding(r, AUDIT_WARNING, "next-uncovered", "RFC 7671 §8.1", NULL, NULL,
				"--next %s: no MX host publishes usable TLSA records", p->next[k].label);
		else if (covered[k])
			finding(r, AUDIT_OK, "next-covered", "RFC 7671 §8.1", NULL, NULL,
				"--next %s is covered by the published records: switch to it once they "
				"have been in DNS for longer than their TTL", p->next[k].label);
	}
}

int audit_run(const struct check_result *res, const struct audit_params *p, struct audit_report **out)
{
	struct audit_report *r = calloc(1, sizeof(*r));
	int covered[AUDIT_NEXT_MAX], dane_hosts = 0, s;

	if (r == NULL)
		return -1;
	r->res = res;
	r->next = p->next;
	r->nnext = p->nnext < AUDIT_NEXT_MAX ? p->nnext : AUDIT_NEXT_MAX;
	for (size_t k = 0; k < AUDIT_NEXT_MAX; k++)
		covered[k] = 1;
	if (res->nhosts > 0 && (r->hosts = calloc(res->nhosts, sizeof(*r->hosts))) == NULL)
		goto oom;
	r->nhosts = res->nhosts;
	s = verdict_nagios(res->v);
	if (res->decided_by_dns && s > 0)
		finding(r, s >= 2 ? AUDIT_CRITICAL : AUDIT_WARNING, verdict_code(res->v), res->rule, NULL,
			NULL, "%s: %s", verdict_name(res->v), res->reason);
	else if (res->v == VERDICT_NOMAIL) /* as check --nagios: OK, but say there was nothing */
		finding(r, AUDIT_OK, "nomail", res->rule, NULL, NULL, "nothing to audit: %s", res->reason);
	rrsig_check(r, p, NULL, "MX", &res->mx_lookup);
	for (size_t i = 0; i < res->nhosts; i++)
		if (audit_host(r, p, i, covered, &dane_hosts) != 0)
			goto oom;
	next_summary(r, p, covered, dane_hosts);
	if (s > (int)r->sev)
		r->sev = (enum audit_sev)s;
	*out = r;
	return 0;
oom:
	audit_report_free(r);
	return -1;
}

void audit_report_free(struct audit_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nhosts; i++)
		free(r->hosts[i].recs);
	free(r->hosts);
	free(r->f);
	free(r);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void json_rr(struct json *j, const char *key, const struct tlsa_rr *rr)
{
	struct buf b = BUF_INIT(0);

	json_key(j, key);
	if (tlsa_format_rdata(rr, &b) == TLSA_OK)
		json_str(j, buf_cstr(&b));
	else
		json_null(j);
	buf_free(&b);
}

static void json_host(struct json *j, const struct audit_host *ah)
{
	const struct check_host *h = ah->h;

	json_obj_begin(j);
	json_kv_str(j, "host", h->name);
	json_kv_str(j, "verdict", verdict_name(h->v));
	json_kv_str(j, "reason", h->reason);
	json_kv_str(j, "tlsa_name", h->tlsa_lookup.done ? h->tlsa_lookup.qname : NULL);
	json_kv_str(j, "tlsa_dnssec", h->tlsa_lookup.done ? dns_sec_name(h->tlsa_lookup.sec) : NULL);
	json_kv_int(j, "tlsa_ttl", h->tlsa_lookup.done ? (long long)h->tlsa_lookup.ttl : 0);
	json_key(j, "tlsa_rrsig_expires");
	if (h->tlsa_lookup.sig_expire != 0)
		json_int(j, (long long)h->tlsa_lookup.sig_expire);
	else
		json_null(j);
	json_kv_int(j, "chains", (long long)ah->nchains);
	json_key(j, "records");
	json_arr_begin(j);
	for (size_t i = 0; i < ah->nrecs; i++) {
		json_obj_begin(j);
		json_rr(j, "record", &ah->recs[i].t->rr);
		json_kv_bool(j, "usable", ah->recs[i].t->usable);
		json_kv_str(j, "state", audit_rec_state_name(ah->recs[i].state));
		json_kv_str(j, "where", ah->recs[i].where);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static void json_finding(struct json *j, const struct audit_finding *f)
{
	json_obj_begin(j);
	json_kv_str(j, "severity", audit_sev_name(f->sev));
	json_kv_str(j, "code", f->code);
	json_kv_str(j, "host", f->host[0] ? f->host : NULL);
	json_kv_str(j, "record", f->record[0] ? f->record : NULL);
	json_kv_str(j, "text", f->text);
	json_kv_str(j, "rule", f->rule);
	json_obj_end(j);
}

void audit_report_json(const struct audit_report *r, struct json *j)
{
	json_obj_begin(j);
	json_kv_str(j, "name", r->res->domain);
	json_kv_str(j, "status", audit_sev_name(r->sev));
	json_kv_int(j, "exit", (long long)r->sev);
	json_kv_str(j, "verdict", verdict_name(r->res->v));
	json_kv_str(j, "reason", r->res->reason);
	json_kv_bool(j, "implicit_mx", r->res->implicit_mx);
	json_key(j, "hosts");
	json_arr_begin(j);
	for (size_t i = 0; i < r->nhosts; i++)
		json_host(j, &r->hosts[i]);
	json_arr_end(j);
	json_key(j, "next");
	json_arr_begin(j);
	for (size_t k = 0; k < r->nnext; k++) {
		json_obj_begin(j);
		json_kv_str(j, "file", r->next[k].label);
		json_kv_bool(j, "key_only", r->next[k].key_only);
		json_kv_bool(j, "covered", r->next_covered[k]);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "findings");
	json_arr_begin(j);
	for (size_t i = 0; i < r->nf; i++)
		json_finding(j, &r->f[i]);
	json_arr_end(j);
	json_obj_end(j);
}

/*
 * hosttls: session parameters from a resolved host, and a session's outcome as a verdict
 * (see hosttls.h). Where TLS was required, a missing STARTTLS or a failed handshake is a
 * failure, never a lesser success.
 */
#include "engine/hosttls.h"

#include <string.h>

#include "util/str.h"

void host_tls_init(struct host_tls *t, const struct check_host *h, const char *nexthop)
{
	const char *base = h->tlsa_base[0] ? h->tlsa_base : h->name;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < h->ntlsa && t->nrrs < HOSTTLS_RR_MAX; i++)
		if (h->tlsa[i].usable)
			t->rrs[t->nrrs++] = h->tlsa[i].rr;
	policy_refnames(base, h->name, nexthop, &t->refs);
	for (size_t i = 0; i < t->refs.n; i++)
		t->names[i] = t->refs.name[i];
	str_copy(t->sni, base, sizeof(t->sni));
	t->req = h->req;
	t->trusted = h->trusted;
}

enum smtp_tls_req host_tls_smtp_req(enum check_tls_req req)
{
	switch (req) {
	case CHECK_REQ_DANE: return SMTP_TLS_DANE;
	case CHECK_REQ_ENCRYPT: return SMTP_TLS_ENCRYPT;
	default: return SMTP_TLS_MAY;
	}
}

void host_tls_apply(const struct host_tls *t, enum smtp_tls_req tls, struct smtp_client_params *p)
{
	p->tls = tls;
	p->sni = t->sni;
	if (tls == SMTP_TLS_DANE) {
		p->tlsa = t->rrs;
		p->ntlsa = t->nrrs;
		p->tlsa_base = t->sni;
		p->refnames = t->names;
		p->nrefnames = t->refs.n;
	}
}

/* What a session that met its requirement reached. */
static enum verdict reached(const struct host_tls *t, enum smtp_tls_req tls,
			    const struct smtp_client_result *r, const char **rule, char *reason,
			    size_t reasonlen)
{
	if (tls == SMTP_TLS_DANE && r->dane_checked && r->dane.status == DANE_STATUS_VERIFIED) {
		const struct dane_outcome *d = &r->dane;
		*rule = d->usage == 2 ? "RFC 7672 §3.1.2" : "RFC 7672 §3.1.1";
		str_printf(reason, reasonlen, "TLSA %u %u %u matched the certificate at depth %d%s%s",
			   d->usage, d->selector, d->mtype, d->depth, d->peername[0] ? ", name " : "",
			   d->peername);
		return t->trusted ? VERDICT_TRUSTED : VERDICT_VERIFIED;
	}
	if (tls == SMTP_TLS_ENCRYPT && r->tls) {
		*rule = "RFC 7672 §3.1";
		str_printf(reason, reasonlen, "%s, not authenticated: no usable TLSA record",
			   r->tls_facts.version);
		return VERDICT_ENCRYPT_ONLY;
	}
	*rule = "RFC 7672 §2.2";
	if (r->tls) {
		str_printf(reason, reasonlen, "%s without authentication (no secure TLSA records)",
			   r->tls_facts.version);
		return VERDICT_OPPORTUNISTIC;
	}
	str_copy(reason, tls == SMTP_TLS_NONE ? "plaintext, as asked (no STARTTLS)"
					      : "STARTTLS not offered: mail goes in plaintext", reasonlen);
	return VERDICT_PLAINTEXT;
}

enum verdict host_tls_verdict(const struct host_tls *t, enum smtp_tls_req tls,
			      const struct smtp_client_result *r, const char **rule,
			      char *reason, size_t reasonlen, int *unreachable)
{
	*unreachable = 0;
	switch (r->fail) {
	case SMTP_FAIL_NONE:
		return reached(t, tls, r, rule, reason, reasonlen);
	case SMTP_FAIL_CONNECT:
	case SMTP_FAIL_TIMEOUT:
		*rule = "RFC 5321 §4.5.3.2";
		*unreachable = r->stage <= SMTP_ST_CONNECT;
		str_copy(reason, r->reason, reasonlen);
		return VERDICT_TEMPFAIL;
	case SMTP_FAIL_PROTOCOL:
		*rule = "RFC 5321 §4.2";
		str_copy(reason, r->reason, reasonlen);
		return VERDICT_TEMPFAIL;
	case SMTP_FAIL_REJECTED:
		/* Refused inside a transaction over a session whose TLS met the requirement: the
		 * security reached stands, the refusal is the reason. A refused greeting or
		 * EHLO (unauthenticated plaintext) is a temporary failure. */
		if ((r->stage >= SMTP_ST_MAIL || r->local_refusal) && (r->tls || tls < SMTP_TLS_ENCRYPT)) {
			enum verdict v = reached(t, tls, r, rule, reason, reasonlen);
			str_copy(reason, r->reason, reasonlen);
			return v;
		}
		*rule = "RFC 5321 §4.2";
		str_copy(reason, r->reason, reasonlen);
		return VERDICT_TEMPFAIL;
	case SMTP_FAIL_TLS:
		if (tls < SMTP_TLS_ENCRYPT) {
			/* Opportunistic: a sender falls back to plaintext (RFC 7435); say so. */
			*rule = "RFC 7672 §2.2";
			str_printf(reason, reasonlen, "TLS failed (%s); opportunistic senders fall back to plaintext",
				   r->reason);
			return VERDICT_PLAINTEXT;
		}
		break;
	case SMTP_FAIL_DANE:
		break;
	}
	*rule = tls == SMTP_TLS_DANE ? "RFC 7672 §3" : "RFC 7672 §2.2";
	str_copy(reason, r->reason, reasonlen);
	return VERDICT_DANE_FAIL;
}

/*
 * probe: runs the SMTP client engine against one address as the host's TLS requirement
 * says and turns its outcome into a verdict. Where DANE applies and asked to, a second
 * session restricted to the other key type checks a server that has both an RSA and an
 * ECDSA certificate: a record that matches only one of them breaks half the senders.
 * It never decides policy (policy.c did) and never prints.
 */
#include "engine/probe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client.h"
#include "util/log.h"
#include "util/str.h"

struct addr_probe {
	struct probe_req req;
	struct check_address *a;
	void (*done)(struct check_address *, void *);
	void *arg;
	struct smtp_client *sc;
	struct iplimit_ticket slot;    /* the per-address connection slot (req.iplimit) */
	enum tls_keytype kt;           /* the key type of the session waiting for its slot */
};

static void probe_reason(struct check_probe *pr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void probe_reason(struct check_probe *pr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pr->reason, sizeof(pr->reason), fmt, ap);
	va_end(ap);
}

static struct smtp_client_result *result_copy(const struct smtp_client_result *r)
{
	struct smtp_client_result *c = malloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	*c = *r;
	c->rcpt = NULL; /* probes send no RCPT; the session owns its array */
	c->nrcpts = 0;
	return c;
}

void probe_facts_free(struct smtp_client_result *r) { free(r); }

static int probe_launch(struct addr_probe *ap, enum tls_keytype kt);

/* Fold the address's probes: a key type the server does not offer does not count. */
static void address_fold(struct check_address *a)
{
	struct verdict_item items[2];
	size_t n = 0, worst = 0, unreachable = 0;

	for (size_t i = 0; i < a->nprobes; i++) {
		if (a->probes[i].not_applicable)
			continue;
		items[n].v = a->probes[i].v;
		items[n].ignorable = 0;
		unreachable += a->probes[i].unreachable;
		n++;
	}
	a->v = verdict_fold(items, n, &worst);
	a->ignorable = n > 0 && unreachable == n;
	for (size_t i = 0, k = 0; i < a->nprobes; i++) {
		if (a->probes[i].not_applicable)
			continue;
		if (k++ == worst) {
			if (a->nprobes > 1 && !a->probes[1].not_applicable)
				str_printf(a->reason, sizeof(a->reason), "%s key: %s",
					 a->probes[i].key_type, a->probes[i].reason);
			else
				str_copy(a->reason, a->probes[i].reason, sizeof(a->reason));
		}
	}
}

static void probe_finish(struct addr_probe *ap)
{
	struct check_address *a = ap->a;

	address_fold(a);
	ap->done(a, ap->arg);
	free(ap);
}

static const char *leaf_key(const struct smtp_client_result *r)
{
	return r != NULL && r->tls && r->tls_facts.nchain > 0 ? r->tls_facts.chain[0].key_type : "";
}

static void probe_cb(struct smtp_client *sc, const struct smtp_client_result *r, void *arg)
{
	struct addr_probe *ap = arg;
	struct check_address *a = ap->a;
	struct check_probe *pr = &a->probes[a->nprobes - 1];

	/* r belongs to the session: everything is taken from it before the session goes. */
	pr->client = result_copy(r);
	pr->v = host_tls_verdict(ap->req.tls, host_tls_smtp_req(ap->req.tls->req), r, &pr->rule,
				 pr->reason, sizeof(pr->reason), &pr->unreachable);
	smtp_client_free(sc);
	ap->sc = NULL;
	iplimit_release(ap->req.iplimit, &ap->slot);
	r = pr->client;
	if (r == NULL) {
		probe_finish(ap);
		return;
	}
	if (a->nprobes == 2) {
		/* The other key type: a failed handshake or the same key means not offered. */
		int no_such_key = !r->tls && r->stage == SMTP_ST_TLS &&
				  (r->fail == SMTP_FAIL_TLS || r->fail == SMTP_FAIL_DANE);
		if (no_such_key || (r->tls && strcmp(leaf_key(r), leaf_key(a->probes[0].client)) == 0)) {
			pr->not_applicable = 1;
			probe_reason(pr, "the server offers no %s certificate", pr->key_type);
		}
		probe_finish(ap);
		return;
	}
	if (ap->req.both_keys && ap->req.tls->req == CHECK_REQ_DANE && r->tls) {
		enum tls_keytype other = strcmp(leaf_key(r), "RSA") == 0 ? TLS_KEYTYPE_ECDSA : TLS_KEYTYPE_RSA;
		a->nprobes = 2;
		a->probes[1].key_type = tls_keytype_name(other);
		a->probes[0].key_type = strcmp(leaf_key(r), "RSA") == 0 ? "rsa" : "ecdsa";
		if (probe_launch(ap, other) == 0)
			return;
		a->nprobes = 1;
	}
	probe_finish(ap);
}

static int probe_connect(struct addr_probe *ap, enum tls_keytype kt)
{
	struct smtp_client_params p;
	struct check_probe *pr = &ap->a->probes[ap->a->nprobes - 1];
	char err[256];
	unsigned t = ap->req.timeout_ms;

	smtp_client_defaults(&p);
	p.addr = ap->a->addr;
	p.port = ap->req.port;
	p.helo_name = ap->req.helo;
	p.mode = SMTP_MODE_PROBE;
	p.ssl_ctx = ap->req.ssl_ctx;
	p.keytype = kt;
	host_tls_apply(ap->req.tls, host_tls_smtp_req(ap->req.tls->req), &p);
	if (t > 0) {
		p.to.connect_ms = p.to.banner_ms = p.to.ehlo_ms = p.to.starttls_ms = t;
		p.to.tls_ms = p.to.quit_ms = t;
	}
	ap->sc = smtp_client_start(ap->req.base, &p, probe_cb, ap, err, sizeof(err));
	if (ap->sc == NULL) {
		pr->v = VERDICT_TEMPFAIL;
		probe_reason(pr, "probe not started: %s", err);
		return -1;
	}
	return 0;
}

/* A queued session got its slot: connect now, or finish the address as failed. */
static void probe_granted(void *arg)
{
	struct addr_probe *ap = arg;

	if (probe_connect(ap, ap->kt) == 0)
		return;
	iplimit_release(ap->req.iplimit, &ap->slot);
	if (ap->a->nprobes == 2)
		ap->a->nprobes = 1;   /* as when the second session cannot start at once */
	probe_finish(ap);
}

/* Connect now, or once the address has a free slot (req.iplimit). */
static int probe_launch(struct addr_probe *ap, enum tls_keytype kt)
{
	int r;

	ap->kt = kt;
	if (ap->req.iplimit != NULL) {
		r = iplimit_acquire(ap->req.iplimit, ap->a->addr.text, &ap->slot, probe_granted, ap);
		if (r == 0)
			return 0;
		if (r < 0) {
			probe_reason(&ap->a->probes[ap->a->nprobes - 1], "probe not started: out of memory");
			ap->a->probes[ap->a->nprobes - 1].v = VERDICT_TEMPFAIL;
			return -1;
		}
	}
	if (probe_connect(ap, kt) == 0)
		return 0;
	iplimit_release(ap->req.iplimit, &ap->slot);
	return -1;
}

int probe_address(const struct probe_req *req, struct check_address *a,
		  void (*done)(struct check_address *a, void *arg), void *arg)
{
	struct addr_probe *ap = calloc(1, sizeof(*ap));

	if (ap == NULL) {
		a->v = VERDICT_TEMPFAIL;
		str_copy(a->reason, "out of memory", sizeof(a->reason));
		return -1;
	}
	ap->req = *req;
	ap->a = a;
	ap->done = done;
	ap->arg = arg;
	a->nprobes = 1;
	a->probes[0].key_type = "any";
	if (probe_launch(ap, TLS_KEYTYPE_ANY) < 0) {
		address_fold(a);
		str_copy(a->reason, a->probes[0].reason, sizeof(a->reason));
		free(ap);
		return -1;
	}
	return 0;
}

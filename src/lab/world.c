/*
 * world: the scenario table (the lab's test oracle) and the builder that writes the
 * certificates, signed zones and description files for it. Addresses are 127.1.0.N for
 * the N-th host in table order (127.1.1.N for its second address, ::1 for the one IPv6
 * host), so a given host keeps its address from run to run. It must never bind a socket,
 * never resolve, and never let the engine see an expectation: those go only to
 * `lab list` and to tests.
 */
#include "lab/world.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/pem.h>

#include "dane/tlsa.h"
#include "util/buf.h"
#include "util/str.h"

#define T(src, u, s, m) {(src), (u), (s), (m)}
#define T311 T(LAB_T_LEAF, 3, 1, 1)
#define GOOD {LAB_CN_HOST, 0}
#define TTL 300

static const char *const verdict_names[] = {
	"verified", "trusted", "opportunistic", "plaintext",
	"encrypt-only", "dane-fail", "tempfail", "nomail",
};

const char *lab_verdict_name(enum lab_verdict v)
{
	return (unsigned)v < sizeof(verdict_names) / sizeof(verdict_names[0]) ? verdict_names[v] : "?";
}

/* Each entry: what a correct checker concludes for the domain, and why. */
static const struct lab_scenario scenarios[] = {
	{"nodnssec", "unsigned domain, STARTTLS offered: encrypted but not authenticated",
	 LAB_V_OPPORTUNISTIC, "mx1.nodnssec.test.", 0, LAB_ZONE_UNSIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.nodnssec.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD}}},
	{"plaintext", "unsigned domain, no STARTTLS: mail travels in the clear",
	 LAB_V_PLAINTEXT, "mx1.plaintext.test.", 1, LAB_ZONE_UNSIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.plaintext.test.", .pref = 10, .addrs = 1, .starttls = 0, .cert = GOOD}}},
	{"dane-ok", "DANE-EE 3 1 1 matching the server's key",
	 LAB_V_VERIFIED, "mx1.dane-ok.test.", 1, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.dane-ok.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T311}}}},
	{"dane-expired", "3 1 1 with an expired leaf: DANE-EE ignores validity dates (RFC 7672 3.1.1)",
	 LAB_V_VERIFIED, "mx1.dane-expired.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.dane-expired.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .cert = {LAB_CN_HOST, LAB_LEAF_EXPIRED}, .tlsa = {T311}}}},
	{"dane-othername", "3 1 1 with a leaf issued for another name: DANE-EE ignores names",
	 LAB_V_VERIFIED, "mx1.dane-othername.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.dane-othername.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .cert = {LAB_CN_OTHER, 0}, .tlsa = {T311}}}},
	{"dane-ta", "DANE-TA 2 1 1 for the lab root (sent in the chain), leaf named for the MX host",
	 LAB_V_VERIFIED, "mx1.dane-ta.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.dane-ta.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .cert = {LAB_CN_HOST, LAB_LEAF_CHAIN_ROOT}, .tlsa = {T(LAB_T_ROOT, 2, 1, 1)}}}},
	{"dane-ta-badname", "DANE-TA 2 1 1, but the leaf names neither the MX host nor the domain",
	 LAB_V_DANE_FAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.dane-ta-badname.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .cert = {LAB_CN_NEITHER, LAB_LEAF_CHAIN_ROOT}, .tlsa = {T(LAB_T_ROOT, 2, 1, 1)}}}},
	{"dane-wrong", "3 1 1 whose digest matches no key (a forged or stale record)",
	 LAB_V_DANE_FAIL, NULL, 1, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.dane-wrong.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T(LAB_T_WRONG, 3, 1, 1)}}}},
	{"two-mx", "two MX, the first with a wrong TLSA: every MX must pass, so the domain fails; "
	 "send delivers via the second",
	 LAB_V_DANE_FAIL, "mx2.two-mx.test.", 1, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.two-mx.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T(LAB_T_WRONG, 3, 1, 1)}},
	  {.name = "mx2.two-mx.test.", .pref = 20, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T311}}}},
	{"bogus-tlsa", "TLSA RRset with a broken signature (bogus): mail must wait",
	 LAB_V_TEMPFAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, LAB_DNS_BOGUS_TLSA,
	 {{.name = "mx1.bogus-tlsa.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T311}}}},
	{"bogus-mx", "MX RRset with a broken signature (bogus): mail must wait",
	 LAB_V_TEMPFAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, LAB_DNS_BOGUS_MX,
	 {{.name = "mx1.bogus-mx.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T311}}}},
	{"no-tlsa", "signed domain, MX host without TLSA: no DANE, opportunistic TLS",
	 LAB_V_OPPORTUNISTIC, "mx1.no-tlsa.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.no-tlsa.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD}}},
	{"mx-unsigned", "signed domain, MX host in an unsigned zone: its (wrong) TLSA is insecure, ignored",
	 LAB_V_OPPORTUNISTIC, "mx1.hosts.mx-unsigned.test.", 0, LAB_ZONE_SIGNED,
	 "hosts.mx-unsigned.test.", LAB_ZONE_UNSIGNED, LAB_MX_LIST, 0,
	 {{.name = "mx1.hosts.mx-unsigned.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .cert = GOOD, .tlsa = {T(LAB_T_WRONG, 3, 1, 1)}}}},
	{"pkix-only", "only PKIX-TA/PKIX-EE TLSA (usages 0, 1: unusable for SMTP): encrypt, no auth",
	 LAB_V_ENCRYPT_ONLY, "mx1.pkix-only.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.pkix-only.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T(LAB_T_ROOT, 0, 1, 1), T(LAB_T_LEAF, 1, 1, 1)}}}},
	{"no-starttls", "TLSA published but STARTTLS not offered: a downgrade, DANE fails",
	 LAB_V_DANE_FAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.no-starttls.test.", .pref = 10, .addrs = 1, .starttls = 0, .cert = GOOD,
	   .tlsa = {T311}}}},
	{"cname-mx", "MX host is a CNAME to a name with A and TLSA (RFC 7672 2.2.2)",
	 LAB_V_VERIFIED, "mx1.cname-mx.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.cname-mx.test.", .cname_to = "smtp.cname-mx.test.", .pref = 10,
	   .addrs = 1, .starttls = 1, .cert = GOOD, .tlsa = {T311}}}},
	{"null-mx", "null MX (RFC 7505): the domain accepts no mail",
	 LAB_V_NOMAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_NULL, 0, {{0}}},
	{"implicit-mx", "no MX RRset: the domain is its own host, A + TLSA at the domain (RFC 5321 5.1)",
	 LAB_V_VERIFIED, "implicit-mx.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_IMPLICIT, 0,
	 {{.name = "implicit-mx.test.", .addrs = 1, .starttls = 1, .cert = GOOD, .tlsa = {T311}}}},
	{"dane-312", "DANE-EE 3 1 2 (SHA2-512 of the key); the host also has AAAA ::1",
	 LAB_V_VERIFIED, "mx1.dane-312.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.dane-312.test.", .pref = 10, .addrs = 1, .v6 = 1, .starttls = 1,
	   .cert = GOOD, .tlsa = {T(LAB_T_LEAF, 3, 1, 2)}}}},
	{"dane-300", "DANE-EE 3 0 0 (the whole certificate)",
	 LAB_V_VERIFIED, "mx1.dane-300.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.dane-300.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T(LAB_T_LEAF, 3, 0, 0)}}}},
	{"malformed-plus", "a malformed TLSA (SHA2-256 with 20 bytes) beside a valid one: "
	 "the bad one is ignored",
	 LAB_V_VERIFIED, "mx1.malformed-plus.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.malformed-plus.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .cert = GOOD, .tlsa = {T(LAB_T_MALFORMED, 3, 1, 1), T311}}}},
	{"malformed-only", "only a malformed TLSA: no usable record, encrypt without authentication",
	 LAB_V_ENCRYPT_ONLY, "mx1.malformed-only.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.malformed-only.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .cert = GOOD, .tlsa = {T(LAB_T_MALFORMED, 3, 1, 1)}}}},
	{"rollover", "current and next key both published (3 1 1 + 3 1 1)",
	 LAB_V_VERIFIED, "mx1.rollover.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.rollover.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T311, T(LAB_T_NEXT, 3, 1, 1)}}}},
	{"expired-rrsig", "the TLSA RRSIG has expired (bogus): mail must wait",
	 LAB_V_TEMPFAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, LAB_DNS_EXPIRED_TLSA,
	 {{.name = "mx1.expired-rrsig.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T311}}}},
	{"two-addr", "one MX host with two addresses; the second presents a key the TLSA does not match",
	 LAB_V_DANE_FAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.two-addr.test.", .pref = 10, .addrs = 2, .starttls = 1, .cert = GOOD,
	   .cert2 = {LAB_CN_HOST, LAB_LEAF_OWN_KEY}, .tlsa = {T311}}}},
	{"dual-cert", "RSA+ECDSA server, TLSA matches only the ECDSA key: RSA-only senders fail",
	 LAB_V_DANE_FAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.dual-cert.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .cert2 = {LAB_CN_HOST, LAB_LEAF_RSA}, .dual = 1, .tlsa = {T311}}}},
	{"insecure-mx", "unsigned domain, MX host in a signed zone with good TLSA: DANE on the host "
	 "(trusted, not verified: the MX lookup was insecure)",
	 LAB_V_TRUSTED, "mx1.insecure-mx-hosts.test.", 0, LAB_ZONE_UNSIGNED,
	 "insecure-mx-hosts.test.", LAB_ZONE_SIGNED, LAB_MX_LIST, 0,
	 {{.name = "mx1.insecure-mx-hosts.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .cert = GOOD, .tlsa = {T311}}}},
	{"endless-banner", "the server sends a banner line that never ends: bounded read, tempfail",
	 LAB_V_TEMPFAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.endless-banner.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .evil = LAB_EVIL_ENDLESS_BANNER, .cert = GOOD, .tlsa = {T311}}}},
	{"stall", "the server accepts and never speaks: timeout, tempfail",
	 LAB_V_TEMPFAIL, NULL, 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.stall.test.", .pref = 10, .addrs = 1, .starttls = 1,
	   .evil = LAB_EVIL_STALL, .cert = GOOD, .tlsa = {T311}}}},
	/* Appended (addresses of the hosts above stay as they were): audit findings. */
	{"rrsig-soon", "3 1 1 whose TLSA RRSIG is valid but expires in 3 days: verified today; "
	 "tlsa audit warns",
	 LAB_V_VERIFIED, "mx1.rrsig-soon.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST,
	 LAB_DNS_TLSA_SIG_SOON,
	 {{.name = "mx1.rrsig-soon.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T311}}}},
	{"stale-ta", "3 1 1 matching, beside a 2 1 1 for a CA the server does not send: verified; "
	 "tlsa audit warns about the stale 2 1 1",
	 LAB_V_VERIFIED, "mx1.stale-ta.test.", 0, LAB_ZONE_SIGNED, NULL, 0, LAB_MX_LIST, 0,
	 {{.name = "mx1.stale-ta.test.", .pref = 10, .addrs = 1, .starttls = 1, .cert = GOOD,
	   .tlsa = {T311, T(LAB_T_ROOT, 2, 1, 1)}}}},
};

#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

const struct lab_scenario *lab_scenarios(size_t *n)
{
	*n = NSCEN;
	return scenarios;
}

const struct lab_scenario *lab_scenario_find(const char *name)
{
	for (size_t i = 0; i < NSCEN; i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}


/* dst = a/b; -1 when it does not fit. */
static int pjoin(char *dst, size_t size, const char *a, const char *b)
{
	int n = snprintf(dst, size, "%s/%s", a, b);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- building ----------------------------------------------------------------- */

/* State of one build; freed by build_free. */
struct build {
	struct lab_world *w;
	const struct lab_world_opts *opts;
	struct lab_zoneset *zs;
	char certdir[PATH_MAX];
	char *err;
	size_t errlen;
};

/* The zone of the set that holds owner: the longest origin that is a suffix of it. */
static struct lab_zone *zone_for(struct lab_zoneset *zs, const char *owner)
{
	const char *p = owner;
	struct lab_zone *z;

	while (p != NULL && *p != '\0') {
		if ((z = lab_zoneset_find(zs, p)) != NULL)
			return z;
		p = strchr(p, '.');
		p = p != NULL ? p + 1 : NULL;
	}
	return lab_zoneset_apex(zs);
}

static int add_rr(struct build *b, const char *owner, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int add_rr(struct build *b, const char *owner, const char *fmt, ...)
{
	char text[1024];
	int n;
	va_list ap;

	n = snprintf(text, sizeof(text), "%s %d IN ", owner, TTL);
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	return lab_zone_rr(zone_for(b->zs, owner), text, b->err, b->errlen);
}

static const char *cert_name(const struct lab_host *h, enum lab_cert_name n, char *buf, size_t size)
{
	if (n == LAB_CN_OTHER)
		return "mail.other.test";
	if (n == LAB_CN_NEITHER)
		return "unrelated.example.net";
	str_copy(buf, h->name, size);
	if (buf[0] != '\0' && buf[strlen(buf) - 1] == '.')
		buf[strlen(buf) - 1] = '\0';
	return buf;
}

static int make_leaf(struct build *b, struct lab_host *h, const struct lab_cert_spec *cs,
		     const char *suffix)
{
	char nbuf[DNS_NAME_MAX], base[DNS_NAME_MAX + 16];
	struct lab_leaf *l = &h->leaf[h->nleaf];
	const char *cn = cert_name(h, cs->name, nbuf, sizeof(nbuf));

	if (lab_leaf_create(&b->w->pki, cn, cs->flags, l, b->err, b->errlen) != 0)
		return -1;
	h->nleaf++;
	snprintf(base, sizeof(base), "%s%s", cert_name(h, LAB_CN_HOST, nbuf, sizeof(nbuf)), suffix);
	return lab_leaf_write(l, b->certdir, base, b->err, b->errlen) == 0 ? 0 : -1;
}

/* The staged key of a rollover goes to DIR/certs/HOST-next.key.pem, so that an audit's
 * --next can be shown a key that is already published. */
static int write_next_key(struct build *b, const struct lab_host *h, EVP_PKEY *key)
{
	char nbuf[DNS_NAME_MAX], path[PATH_MAX];
	FILE *fp;
	int fd, ok;

	if (snprintf(path, sizeof(path), "%s/%s-next.key.pem", b->certdir,
		     cert_name(h, LAB_CN_HOST, nbuf, sizeof(nbuf))) >= (int)sizeof(path))
		return str_err(-1, b->err, b->errlen, "path too long");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return str_err(-1, b->err, b->errlen, "%s: %s", path, strerror(errno));
	}
	ok = PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) == 1;
	ok = (fclose(fp) == 0) && ok;
	return ok ? 0 : str_err(-1, b->err, b->errlen, "%s: write failed", path);
}

/* The record's rdata for spec, computed from the host's certificate or the lab's keys. */
static int tlsa_for(struct build *b, const struct lab_host *h, const struct lab_tlsa_spec *t,
		    struct tlsa_rr *rr)
{
	EVP_PKEY *next = NULL;
	int rc;

	if (t->src == LAB_T_ROOT)
		rc = tlsa_from_cert(b->w->pki.root, t->usage, t->selector, t->mtype, rr, b->err, b->errlen);
	else if (t->src == LAB_T_NEXT) {
		if ((next = EVP_EC_gen("P-256")) == NULL)
			return str_err(-1, b->err, b->errlen, "next key generation failed");
		rc = write_next_key(b, h, next) != 0 ? TLSA_EFILE :
		     tlsa_from_pkey(next, t->usage, t->selector, t->mtype, rr, b->err, b->errlen);
		EVP_PKEY_free(next);
	} else
		rc = tlsa_from_cert(h->leaf[0].cert, t->usage, t->selector, t->mtype, rr, b->err, b->errlen);
	if (rc != TLSA_OK)
		return -1;
	if (t->src == LAB_T_WRONG)
		rr->data[rr->len - 1] ^= 0x01;
	if (t->src == LAB_T_MALFORMED && rr->len > 20)
		rr->len = 20;
	return 0;
}

static int add_tlsa(struct build *b, const struct lab_host *h)
{
	struct buf line = BUF_INIT(0);
	struct tlsa_rr rr;
	int rc = 0;

	for (int i = 0; rc == 0 && i < LAB_MAX_TLSA && h->spec->tlsa[i].src != LAB_T_END; i++) {
		if ((rc = tlsa_for(b, h, &h->spec->tlsa[i], &rr)) != 0)
			break;
		buf_reset(&line);
		if (tlsa_format_zone(&rr, h->target, 25, &line) != TLSA_OK)
			rc = str_err(-1, b->err, b->errlen, "cannot format TLSA for %s", h->target);
		else
			rc = lab_zone_rr(zone_for(b->zs, h->target), buf_cstr(&line), b->err, b->errlen);
		tlsa_rr_free(&rr);
	}
	buf_free(&line);
	return rc;
}

static int add_host_records(struct build *b, struct lab_host *h)
{
	const struct lab_host_spec *s = h->spec;

	if (s->cname_to != NULL && add_rr(b, h->name, "CNAME %s", h->target) != 0)
		return -1;
	for (int i = 0; i < h->naddr; i++)
		if (add_rr(b, h->target, "%s %s", strchr(h->addr[i], ':') ? "AAAA" : "A", h->addr[i]) != 0)
			return -1;
	return add_tlsa(b, h);
}

static int build_host(struct build *b, const struct lab_scenario *sc, const struct lab_host_spec *s)
{
	struct lab_host *h = &b->w->hosts[b->w->nhosts];
	unsigned n = (unsigned)b->w->nhosts + 1;
	char nbuf[DNS_NAME_MAX];

	h->sc = sc;
	h->spec = s;
	b->w->nhosts++;
	str_copy(h->name, s->name, sizeof(h->name));
	str_copy(h->target, s->cname_to != NULL ? s->cname_to : s->name, sizeof(h->target));
	snprintf(h->addr[h->naddr++], sizeof(h->addr[0]), "127.1.0.%u", n);
	if (s->addrs > 1)
		snprintf(h->addr[h->naddr++], sizeof(h->addr[0]), "127.1.1.%u", n);
	if (s->v6 && !b->opts->no_ipv6)
		str_copy(h->addr[h->naddr++], "::1", sizeof(h->addr[0]));
	if (pjoin(h->maildir, sizeof(h->maildir), b->w->mail_root,
		  cert_name(h, LAB_CN_HOST, nbuf, sizeof(nbuf))) != 0)
		return str_err(-1, b->err, b->errlen, "path too long");
	if (make_leaf(b, h, &s->cert, "") != 0)
		return -1;
	if ((s->addrs > 1 || s->dual) && make_leaf(b, h, &s->cert2, s->dual ? "-rsa" : "-2") != 0)
		return -1;
	return add_host_records(b, h);
}

static int plant_fault(struct build *b, const struct lab_scenario *sc, const char *domain)
{
	char owner[DNS_NAME_MAX + 16];
	const char *tlsa_host = sc->hosts[0].cname_to ? sc->hosts[0].cname_to : sc->hosts[0].name;
	enum lab_fault f = sc->fault == LAB_DNS_EXPIRED_TLSA ? LAB_FAULT_EXPIRED_SIG : LAB_FAULT_BAD_SIG;

	if (sc->fault == LAB_DNS_OK)
		return 0;
	snprintf(owner, sizeof(owner), "_25._tcp.%s", tlsa_host);
	if (sc->fault == LAB_DNS_TLSA_SIG_SOON)
		return lab_zone_sig_expiry(zone_for(b->zs, owner), owner, LDNS_RR_TYPE_TLSA,
					   LAB_SIG_SOON_DAYS * 86400L) == 0 ? 0 :
		       str_err(-1, b->err, b->errlen, "%s: cannot set the TLSA signature expiry", sc->name);
	if (sc->fault == LAB_DNS_BOGUS_MX)
		return lab_zone_fault(zone_for(b->zs, domain), domain, LDNS_RR_TYPE_MX, f) == 0 ? 0 :
		       str_err(-1, b->err, b->errlen, "%s: cannot plant MX fault", sc->name);
	return lab_zone_fault(zone_for(b->zs, owner), owner, LDNS_RR_TYPE_TLSA, f) == 0 ? 0 :
	       str_err(-1, b->err, b->errlen, "%s: cannot plant TLSA fault", sc->name);
}

static int build_scenario(struct build *b, const struct lab_scenario *sc)
{
	char domain[DNS_NAME_MAX];

	snprintf(domain, sizeof(domain), "%s.test.", sc->name);
	if (lab_zone_add(b->zs, domain, sc->domain_sec, b->err, b->errlen) == NULL)
		return -1;
	if (sc->host_zone != NULL &&
	    lab_zone_add(b->zs, sc->host_zone, sc->host_zone_sec, b->err, b->errlen) == NULL)
		return -1;
	if (sc->mx == LAB_MX_NULL && add_rr(b, domain, "MX 0 .") != 0)
		return -1;
	for (int i = 0; i < LAB_MAX_HOSTS && sc->hosts[i].name != NULL; i++) {
		if (sc->mx == LAB_MX_LIST &&
		    add_rr(b, domain, "MX %u %s", sc->hosts[i].pref, sc->hosts[i].name) != 0)
			return -1;
		if (build_host(b, sc, &sc->hosts[i]) != 0)
			return -1;
	}
	return plant_fault(b, sc, domain);
}

/* Quote a path for a POSIX shell: the directory was checked to hold no single quote. */
static void env_line(FILE *fp, const char *key, const char *value)
{
	fprintf(fp, "%s='%s'\n", key, value);
}

static int write_env(struct lab_world *w, char *err, size_t errlen)
{
	FILE *fp = fopen(w->env_path, "w");

	if (fp == NULL)
		return str_err(-1, err, errlen, "%s: %s", w->env_path, strerror(errno));
	fprintf(fp, "# danemx lab: source this file in a shell (written by danemx lab)\n");
	env_line(fp, "DANEMX_LAB_DIR", w->dir);
	fprintf(fp, "DANEMX_LAB_PORT=%u\n", w->port);
	env_line(fp, "DANEMX_DNS_CONFIG", w->dns.ub_conf);
	env_line(fp, "DANEMX_LAB_ANCHOR", w->dns.anchor_file);
	env_line(fp, "DANEMX_LAB_MAILDIR", w->mail_root);
	env_line(fp, "DANEMX_LAB_HOSTS", w->hosts_path);
	env_line(fp, "DANEMX_LAB_ROOT_CA", w->root_path);
	env_line(fp, "DANEMX_LAB_DNS_DAEMON_CONF", w->dns.daemon_conf);
	env_line(fp, "DANEMX_LAB_DNS_LISTEN", w->dns.daemon_addr);
	return fclose(fp) == 0 ? 0 : str_err(-1, err, errlen, "%s: write failed", w->env_path);
}

static const char *evil_name(enum lab_evil e)
{
	return e == LAB_EVIL_ENDLESS_BANNER ? "endless-banner" : e == LAB_EVIL_STALL ? "stall" : "-";
}

/* One line per receiver address: what lab_up.sh and the demo look up. */
static int write_hosts(struct lab_world *w, char *err, size_t errlen)
{
	FILE *fp = fopen(w->hosts_path, "w");

	if (fp == NULL)
		return str_err(-1, err, errlen, "%s: %s", w->hosts_path, strerror(errno));
	fprintf(fp, "#scenario\thost\ttarget\taddress\tport\tstarttls\tevil\tsubject_cn\tchain\texpect\n");
	for (size_t i = 0; i < w->nhosts; i++) {
		const struct lab_host *h = &w->hosts[i];
		for (int a = 0; a < h->naddr; a++) {
			const struct lab_leaf *l = &h->leaf[a == 1 && h->spec->addrs > 1 ? 1 : 0];
			char cn[256] = "";
			X509_NAME_get_text_by_NID(X509_get_subject_name(l->cert), NID_commonName, cn, sizeof(cn));
			fprintf(fp, "%s\t%s\t%s\t%s\t%u\t%s\t%s\t%s\t%s\t%s\n", h->sc->name, h->name,
				h->target, h->addr[a], w->port, h->spec->starttls ? "yes" : "no",
				evil_name(h->spec->evil), cn, l->chain_path, lab_verdict_name(h->sc->expect));
		}
	}
	return fclose(fp) == 0 ? 0 : str_err(-1, err, errlen, "%s: write failed", w->hosts_path);
}

static int make_dirs(struct lab_world *w, struct build *b, char *err, size_t errlen)
{
	char dnsdir[PATH_MAX];

	if (strchr(w->dir, '\'') != NULL || strchr(w->dir, '"') != NULL || strchr(w->dir, '\n') != NULL ||
	    strlen(w->dir) > PATH_MAX - 512)
		return str_err(-1, err, errlen, "lab directory name is too long or contains a quote");
	if (pjoin(b->certdir, sizeof(b->certdir), w->dir, "certs") != 0 ||
	    pjoin(w->mail_root, sizeof(w->mail_root), w->dir, "mail") != 0 ||
	    pjoin(w->env_path, sizeof(w->env_path), w->dir, "lab.env") != 0 ||
	    pjoin(w->hosts_path, sizeof(w->hosts_path), w->dir, "hosts.tsv") != 0 ||
	    pjoin(w->root_path, sizeof(w->root_path), b->certdir, "root.pem") != 0 ||
	    pjoin(dnsdir, sizeof(dnsdir), w->dir, "dns") != 0)
		return str_err(-1, err, errlen, "lab directory name is too long");
	if ((mkdir(w->dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(b->certdir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(w->mail_root, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(dnsdir, 0700) != 0 && errno != EEXIST))
		return str_err(-1, err, errlen, "%s: cannot create the lab directories: %s", w->dir, strerror(errno));
	return 0;
}

static size_t count_hosts(void)
{
	size_t n = 0;

	for (size_t i = 0; i < NSCEN; i++)
		for (int j = 0; j < LAB_MAX_HOSTS && scenarios[i].hosts[j].name != NULL; j++)
			n++;
	return n;
}

static int build_all(struct build *b)
{
	struct lab_world *w = b->w;
	char dnsdir[PATH_MAX];

	if (make_dirs(w, b, b->err, b->errlen) != 0)
		return -1;
	if (lab_pki_create(&w->pki, b->err, b->errlen) != 0 ||
	    lab_pki_write(&w->pki, b->certdir, b->err, b->errlen) != 0)
		return -1;
	if ((b->zs = lab_zoneset_new("test.")) == NULL)
		return str_err(-1, b->err, b->errlen, "out of memory");
	if (b->opts->dns_listen != NULL && lab_zoneset_daemon_addr(b->zs, b->opts->dns_listen) != 0)
		return str_err(-1, b->err, b->errlen, "bad --dns-listen address '%s' (want ADDR@PORT)",
			    b->opts->dns_listen);
	for (size_t i = 0; i < NSCEN; i++)
		if (build_scenario(b, &scenarios[i]) != 0)
			return -1;
	if (b->opts->extra_zones != NULL &&
	    b->opts->extra_zones(b->opts->extra_arg, b->zs, &w->pki, b->certdir, b->err, b->errlen) != 0)
		return -1;
	if (pjoin(dnsdir, sizeof(dnsdir), w->dir, "dns") != 0)
		return str_err(-1, b->err, b->errlen, "lab directory name is too long");
	if (lab_zoneset_write(b->zs, dnsdir, &w->dns, b->err, b->errlen) != 0)
		return -1;
	return write_env(w, b->err, b->errlen) == 0 && write_hosts(w, b->err, b->errlen) == 0 ? 0 : -1;
}

int lab_world_build(const char *dir, const struct lab_world_opts *opts, struct lab_world **out,
		    char *err, size_t errlen)
{
	static const struct lab_world_opts defaults = {0, NULL, 0, NULL, NULL};
	struct build b = {NULL, opts != NULL ? opts : &defaults, NULL, "", err, errlen};
	struct lab_world *w = calloc(1, sizeof(*w));
	int rc = -1;

	if (w == NULL || (w->hosts = calloc(count_hosts(), sizeof(*w->hosts))) == NULL) {
		str_err(-1, err, errlen, "out of memory");
		goto out;
	}
	b.w = w;
	w->port = b.opts->port != 0 ? b.opts->port : 10025;
	if (str_copy(w->dir, dir, sizeof(w->dir)) >= sizeof(w->dir)) {
		str_err(-1, err, errlen, "lab directory name is too long");
		goto out;
	}
	if ((rc = build_all(&b)) == 0) {
		*out = w;
		w = NULL;
	}
out:
	lab_zoneset_free(b.zs);
	lab_world_free(w);
	return rc;
}

void lab_world_free(struct lab_world *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; w->hosts != NULL && i < w->nhosts; i++)
		for (int j = 0; j < w->hosts[i].nleaf; j++)
			lab_leaf_free(&w->hosts[i].leaf[j]);
	free(w->hosts);
	lab_pki_free(&w->pki);
	free(w);
}

const struct lab_host *lab_world_host_by_addr(const struct lab_world *w, const char *addr)
{
	for (size_t i = 0; i < w->nhosts; i++)
		for (int a = 0; a < w->hosts[i].naddr; a++)
			if (strcmp(w->hosts[i].addr[a], addr) == 0)
				return &w->hosts[i];
	return NULL;
}

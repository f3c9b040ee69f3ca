/*
 * zones: builds and signs the lab's DNS world with ldns, in-process, and writes it into a
 * directory together with the configs that make libunbound (or an unbound daemon) serve
 * it as auth-zones under a lab trust anchor. It never resolves anything, never writes
 * outside the given directory, and reports a fault it could not plant as an error
 * instead of producing a silently valid zone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns/rr.h"
#include "lab/zones.h"
#include "util/str.h"

#define LAB_TTL 3600
#define LAB_NS_LABEL "ns"     /* every zone is served by ns.<apex> (127.0.0.1) */

/* A planted fault or a custom signature validity for one RRset. */
struct lab_sigmod {
	ldns_rdf *owner;
	uint16_t type;
	enum lab_fault fault;      /* 0: only a custom expiry */
	int has_expiry;
	long expires_in;
	struct lab_sigmod *next;
};

struct lab_zone {
	struct lab_zoneset *zs;
	struct lab_zone *parent;
	struct lab_zone *next;     /* insertion order: parents before children */
	ldns_rdf *origin;
	char origin_str[DNS_NAME_MAX];
	enum lab_zone_sec sec;
	ldns_rr_list *rrs;         /* the records added by the caller */
	ldns_key *key;             /* CSK; NULL for unsigned zones */
	ldns_rr *dnskey;
	time_t inception, expiration;
	struct lab_sigmod *mods;
};

struct lab_zoneset {
	struct lab_zone *zones;    /* the apex first */
	struct lab_zone *last;
	char daemon_addr[64];
};


/* Parse a domain name into canonical (lower case, absolute) form. */
static ldns_rdf *name_parse(const char *text)
{
	ldns_rdf *r = NULL;
	char tmp[DNS_NAME_MAX + 1];
	size_t n;

	if (text == NULL || (n = str_copy(tmp, text, sizeof(tmp) - 1)) == 0 || n >= sizeof(tmp) - 2)
		return NULL;
	if (tmp[n - 1] != '.')
		str_cat(tmp, ".", sizeof(tmp));
	if (ldns_str2rdf_dname(&r, tmp) != LDNS_STATUS_OK)
		return NULL;
	ldns_dname2canonical(r);
	return r;
}

static int name_in(const ldns_rdf *name, const ldns_rdf *zone)
{
	return ldns_dname_compare(name, zone) == 0 || ldns_dname_is_subdomain(name, zone);
}

static void name_str(const ldns_rdf *name, char *out, size_t outlen)
{
	char *s = ldns_rdf2str(name);

	str_copy(out, s != NULL ? s : "?", outlen);
	free(s);
}

/* One CSK (flags 257), ECDSA P-256, with its key tag set (ldns leaves it 0 otherwise). */
static int zone_make_key(struct lab_zone *z)
{
	time_t now = time(NULL);

	z->key = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
	if (z->key == NULL)
		return -1;
	z->inception = now - 86400;
	z->expiration = now + (time_t)LAB_SIG_VALIDITY_DAYS * 86400;
	ldns_key_set_pubkey_owner(z->key, ldns_rdf_clone(z->origin));
	ldns_key_set_flags(z->key, LDNS_KEY_ZONE_KEY | LDNS_KEY_SEP_KEY);
	ldns_key_set_inception(z->key, (uint32_t)z->inception);
	ldns_key_set_expiration(z->key, (uint32_t)z->expiration);
	if ((z->dnskey = ldns_key2rr(z->key)) == NULL)
		return -1;
	ldns_rr_set_ttl(z->dnskey, LAB_TTL);
	ldns_key_set_keytag(z->key, ldns_calc_keytag(z->dnskey));
	return 0;
}

static struct lab_zone *zone_new(struct lab_zoneset *zs, ldns_rdf *origin, enum lab_zone_sec sec)
{
	struct lab_zone *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	z->zs = zs;
	z->origin = origin;
	z->sec = sec;
	name_str(origin, z->origin_str, sizeof(z->origin_str));
	if ((z->rrs = ldns_rr_list_new()) == NULL ||
	    (sec != LAB_ZONE_UNSIGNED && zone_make_key(z) != 0)) {
		z->origin = NULL;  /* the caller still owns it on failure */
		ldns_rr_list_deep_free(z->rrs);
		if (z->key != NULL)
			ldns_key_deep_free(z->key);
		ldns_rr_free(z->dnskey);
		free(z);
		return NULL;
	}
	if (zs->last != NULL)
		zs->last->next = z;
	else
		zs->zones = z;
	zs->last = z;
	return z;
}

static void zone_free(struct lab_zone *z)
{
	struct lab_sigmod *m, *mn;

	for (m = z->mods; m != NULL; m = mn) {
		mn = m->next;
		ldns_rdf_deep_free(m->owner);
		free(m);
	}
	ldns_rr_list_deep_free(z->rrs);
	if (z->key != NULL)
		ldns_key_deep_free(z->key);
	ldns_rr_free(z->dnskey);
	ldns_rdf_deep_free(z->origin);
	free(z);
}

struct lab_zoneset *lab_zoneset_new(const char *apex)
{
	struct lab_zoneset *zs = calloc(1, sizeof(*zs));
	ldns_rdf *origin = name_parse(apex);

	if (zs == NULL || origin == NULL || ldns_dname_label_count(origin) == 0 ||
	    zone_new(zs, origin, LAB_ZONE_SIGNED) == NULL) {
		ldns_rdf_deep_free(origin);
		free(zs);
		return NULL;
	}
	str_copy(zs->daemon_addr, "127.0.0.1@5353", sizeof(zs->daemon_addr));
	return zs;
}

void lab_zoneset_free(struct lab_zoneset *zs)
{
	struct lab_zone *z, *zn;

	if (zs == NULL)
		return;
	for (z = zs->zones; z != NULL; z = zn) {
		zn = z->next;
		zone_free(z);
	}
	free(zs);
}

struct lab_zone *lab_zoneset_apex(struct lab_zoneset *zs)
{
	return zs->zones;
}

static struct lab_zone *zoneset_find_rdf(struct lab_zoneset *zs, const ldns_rdf *origin)
{
	for (struct lab_zone *z = zs->zones; z != NULL; z = z->next)
		if (ldns_dname_compare(z->origin, origin) == 0)
			return z;
	return NULL;
}

struct lab_zone *lab_zoneset_find(struct lab_zoneset *zs, const char *origin)
{
	ldns_rdf *o = name_parse(origin);
	struct lab_zone *z = o != NULL ? zoneset_find_rdf(zs, o) : NULL;

	ldns_rdf_deep_free(o);
	return z;
}

/* The deepest zone that contains name, or NULL when name is outside the apex. */
static struct lab_zone *zoneset_closest(struct lab_zoneset *zs, const ldns_rdf *name)
{
	struct lab_zone *best = NULL;

	for (struct lab_zone *z = zs->zones; z != NULL; z = z->next)
		if (name_in(name, z->origin) && (best == NULL ||
		    ldns_dname_label_count(z->origin) > ldns_dname_label_count(best->origin)))
			best = z;
	return best;
}

static ldns_rdf *ns_name(struct lab_zoneset *zs)
{
	char text[DNS_NAME_MAX + 4];

	snprintf(text, sizeof(text), "%s.%s", LAB_NS_LABEL, zs->zones->origin_str);
	return name_parse(text);
}

struct lab_zone *lab_zone_add(struct lab_zoneset *zs, const char *origin_text,
			      enum lab_zone_sec sec, char *err, size_t errlen)
{
	ldns_rdf *origin = name_parse(origin_text), *ns = NULL;
	struct lab_zone *z = NULL, *parent;

	if (origin == NULL) {
		str_err(0, err, errlen, "bad zone name '%s'", origin_text ? origin_text : "(null)");
		goto out;
	}
	if (zoneset_find_rdf(zs, origin) != NULL) {
		str_err(0, err, errlen, "zone %s already exists", origin_text);
		goto out;
	}
	if ((parent = zoneset_closest(zs, origin)) == NULL) {
		str_err(0, err, errlen, "zone %s is not below the lab apex %s", origin_text,
		       zs->zones->origin_str);
		goto out;
	}
	ns = ns_name(zs);
	if (ns != NULL && name_in(ns, origin)) {
		str_err(0, err, errlen, "zone %s would contain the lab name server's name", origin_text);
		goto out;
	}
	if ((z = zone_new(zs, origin, sec)) == NULL) {
		str_err(0, err, errlen, "zone %s: out of memory or key generation failed", origin_text);
		goto out;
	}
	z->parent = parent;
	origin = NULL;
out:
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(ns);
	return z;
}

int lab_zone_rr(struct lab_zone *z, const char *rr_text, char *err, size_t errlen)
{
	ldns_rr *rr = NULL;
	ldns_status st;
	char owner[DNS_NAME_MAX];

	st = ldns_rr_new_frm_str(&rr, rr_text, LAB_TTL, z->origin, NULL);
	if (st != LDNS_STATUS_OK) {
		str_err(0, err, errlen, "bad record '%s': %s", rr_text, ldns_get_errorstr_by_id(st));
		return -1;
	}
	ldns_dname2canonical(ldns_rr_owner(rr));
	if (!name_in(ldns_rr_owner(rr), z->origin)) {
		name_str(ldns_rr_owner(rr), owner, sizeof(owner));
		str_err(0, err, errlen, "record owner %s is outside zone %s", owner, z->origin_str);
		ldns_rr_free(rr);
		return -1;
	}
	if (!ldns_rr_list_push_rr(z->rrs, rr)) {
		str_err(0, err, errlen, "out of memory");
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}

static struct lab_sigmod *zone_mod(struct lab_zone *z, const char *owner, uint16_t type)
{
	ldns_rdf *o = NULL;
	struct lab_sigmod *m;

	if (ldns_str2rdf_dname(&o, owner) != LDNS_STATUS_OK)
		return NULL;
	if (!ldns_dname_str_absolute(owner)) {  /* relative to the zone, like lab_zone_rr */
		ldns_rdf *abs = ldns_dname_cat_clone(o, z->origin);
		ldns_rdf_deep_free(o);
		o = abs;
	}
	if (o == NULL)
		return NULL;
	ldns_dname2canonical(o);
	if (!name_in(o, z->origin) || (m = calloc(1, sizeof(*m))) == NULL) {
		ldns_rdf_deep_free(o);
		return NULL;
	}
	m->owner = o;
	m->type = type;
	m->next = z->mods;
	z->mods = m;
	return m;
}

int lab_zone_fault(struct lab_zone *z, const char *owner, uint16_t type, enum lab_fault f)
{
	struct lab_sigmod *m;

	if (z->key == NULL || (f != LAB_FAULT_BAD_SIG && f != LAB_FAULT_EXPIRED_SIG))
		return -1;
	if ((m = zone_mod(z, owner, type)) == NULL)
		return -1;
	m->fault = f;
	return 0;
}

int lab_zone_sig_expiry(struct lab_zone *z, const char *owner, uint16_t type, long expires_in)
{
	struct lab_sigmod *m;

	if (z->key == NULL || (m = zone_mod(z, owner, type)) == NULL)
		return -1;
	m->has_expiry = 1;
	m->expires_in = expires_in;
	return 0;
}

time_t lab_zone_expiry(const struct lab_zone *z)
{
	return z->key != NULL ? z->expiration : 0;
}

const char *lab_zone_origin(const struct lab_zone *z)
{
	return z->origin_str;
}

int lab_zoneset_daemon_addr(struct lab_zoneset *zs, const char *addr)
{
	if (addr == NULL || strchr(addr, '"') != NULL || strchr(addr, '\n') != NULL ||
	    str_copy(zs->daemon_addr, addr, sizeof(zs->daemon_addr)) >= sizeof(zs->daemon_addr))
		return -1;
	return 0;
}

/* ---- writing ---- */

static int push_text(ldns_rr_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int push_text(ldns_rr_list *l, const char *fmt, ...)
{
	char line[1024];
	ldns_rr *rr = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (ldns_rr_new_frm_str(&rr, line, LAB_TTL, NULL, NULL) != LDNS_STATUS_OK)
		return -1;
	if (!ldns_rr_list_push_rr(l, rr)) {
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}

/* The DS for child c as its parent publishes it (wrong digest for LAB_ZONE_SIGNED_BAD_DS). */
static ldns_rr *child_ds(const struct lab_zone *c)
{
	ldns_rr *ds = ldns_key_rr2ds(c->dnskey, LDNS_SHA256);
	ldns_rdf *digest;

	if (ds == NULL)
		return NULL;
	ldns_rr_set_ttl(ds, LAB_TTL);
	if (c->sec == LAB_ZONE_SIGNED_BAD_DS && (digest = ldns_rr_rdf(ds, 3)) != NULL &&
	    ldns_rdf_size(digest) > 0)
		ldns_rdf_data(digest)[0] ^= 0xff;
	return ds;
}

/* Delegation records of every child of z: NS always, DS per the child's sec. */
static int zone_add_delegations(struct lab_zoneset *zs, struct lab_zone *z, ldns_rr_list *l,
				const char *ns, char *err, size_t errlen)
{
	for (struct lab_zone *c = zs->zones; c != NULL; c = c->next) {
		ldns_rr *ds;

		if (c->parent != z)
			continue;
		if (push_text(l, "%s %d IN NS %s", c->origin_str, LAB_TTL, ns) != 0)
			goto fail;
		if (c->sec != LAB_ZONE_SIGNED && c->sec != LAB_ZONE_SIGNED_BAD_DS)
			continue;
		if ((ds = child_ds(c)) == NULL || !ldns_rr_list_push_rr(l, ds)) {
			ldns_rr_free(ds);
			goto fail;
		}
	}
	return 0;
fail:
	str_err(0, err, errlen, "zone %s: cannot build delegation records", z->origin_str);
	return -1;
}

/* A caller's record may not sit at or below a child zone's cut. */
static int zone_check_cuts(struct lab_zoneset *zs, struct lab_zone *z, char *err, size_t errlen)
{
	char owner[DNS_NAME_MAX];

	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++) {
		const ldns_rdf *o = ldns_rr_owner(ldns_rr_list_rr(z->rrs, i));
		struct lab_zone *c = zoneset_closest(zs, o);

		if (c != z) {
			name_str(o, owner, sizeof(owner));
			str_err(0, err, errlen, "record %s in zone %s belongs to child zone %s", owner,
			       z->origin_str, c->origin_str);
			return -1;
		}
	}
	return 0;
}

/* The unsigned content of z: SOA, NS, the name server's address at the apex, the caller's
 * records, delegations, and the DNSKEY. */
static ldns_zone *zone_build(struct lab_zoneset *zs, struct lab_zone *z, char *err, size_t errlen)
{
	ldns_zone *lz = ldns_zone_new();
	ldns_rr *soa = NULL;
	char ns[DNS_NAME_MAX + 4];
	char line[1024];

	if (lz == NULL)
		goto fail;
	snprintf(ns, sizeof(ns), "%s.%s", LAB_NS_LABEL, zs->zones->origin_str);
	snprintf(line, sizeof(line), "%s %d IN SOA %s hostmaster.%s 1 3600 600 86400 300",
		 z->origin_str, LAB_TTL, ns, z->origin_str);
	if (ldns_rr_new_frm_str(&soa, line, LAB_TTL, NULL, NULL) != LDNS_STATUS_OK)
		goto fail;
	ldns_zone_set_soa(lz, soa);
	if (push_text(ldns_zone_rrs(lz), "%s %d IN NS %s", z->origin_str, LAB_TTL, ns) != 0 ||
	    (z == zs->zones && push_text(ldns_zone_rrs(lz), "%s %d IN A 127.0.0.1", ns, LAB_TTL) != 0))
		goto fail;
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++)
		if (!ldns_zone_push_rr(lz, ldns_rr_clone(ldns_rr_list_rr(z->rrs, i))))
			goto fail;
	if (zone_add_delegations(zs, z, ldns_zone_rrs(lz), ns, err, errlen) != 0)
		goto out;
	if (z->dnskey != NULL && !ldns_zone_push_rr(lz, ldns_rr_clone(z->dnskey)))
		goto fail;
	return lz;
fail:
	str_err(0, err, errlen, "zone %s: cannot build the zone (out of memory?)", z->origin_str);
out:
	if (lz != NULL)
		ldns_zone_deep_free(lz);
	return NULL;
}

static uint16_t rrsig_covers(const ldns_rr *rr)
{
	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG || ldns_rr_rrsig_typecovered(rr) == NULL)
		return 0;
	return ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr));
}

/* Re-sign the RRset of m with the validity window [inc, exp], replacing its RRSIG. */
static int zone_resign(struct lab_zone *z, ldns_rr_list *all, size_t sig_index,
		       const struct lab_sigmod *m, time_t inc, time_t exp)
{
	ldns_rr_list *set = ldns_rr_list_new(), *sigs = NULL;
	ldns_key_list *keys = ldns_key_list_new();
	int rc = -1;

	if (set == NULL || keys == NULL)
		goto out;
	for (size_t i = 0; i < ldns_rr_list_rr_count(all); i++) {
		ldns_rr *rr = ldns_rr_list_rr(all, i);
		if (ldns_rr_get_type(rr) == m->type && ldns_dname_compare(ldns_rr_owner(rr), m->owner) == 0)
			ldns_rr_list_push_rr(set, rr);  /* borrowed: freed with the zone */
	}
	ldns_key_set_inception(z->key, (uint32_t)inc);
	ldns_key_set_expiration(z->key, (uint32_t)exp);
	ldns_key_list_push_key(keys, z->key);
	sigs = ldns_rr_list_rr_count(set) > 0 ? ldns_sign_public(set, keys) : NULL;
	ldns_key_set_inception(z->key, (uint32_t)z->inception);
	ldns_key_set_expiration(z->key, (uint32_t)z->expiration);
	if (sigs == NULL || ldns_rr_list_rr_count(sigs) != 1)
		goto out;
	ldns_rr_free(ldns_rr_list_set_rr(all, ldns_rr_list_pop_rr(sigs), sig_index));
	rc = 0;
out:
	ldns_rr_list_free(set);
	ldns_rr_list_deep_free(sigs);
	if (keys != NULL) {
		ldns_key_list_set_key_count(keys, 0);  /* the key belongs to the zone */
		ldns_key_list_free(keys);
	}
	return rc;
}

static int zone_apply_mod(struct lab_zone *z, ldns_zone *signedz, const struct lab_sigmod *m)
{
	ldns_rr_list *all = ldns_zone_rrs(signedz);
	time_t now = time(NULL);

	for (size_t i = 0; i < ldns_rr_list_rr_count(all); i++) {
		ldns_rr *rr = ldns_rr_list_rr(all, i);
		ldns_rdf *sig;

		if (rrsig_covers(rr) != m->type || ldns_dname_compare(ldns_rr_owner(rr), m->owner) != 0)
			continue;
		if (m->has_expiry && zone_resign(z, all, i, m, z->inception, now + m->expires_in) != 0)
			return -1;
		if (m->fault == LAB_FAULT_EXPIRED_SIG &&
		    zone_resign(z, all, i, m, now - (time_t)60 * 86400, now - (time_t)30 * 86400) != 0)
			return -1;
		rr = ldns_rr_list_rr(all, i);
		if (m->fault == LAB_FAULT_BAD_SIG) {
			if ((sig = ldns_rr_rrsig_sig(rr)) == NULL || ldns_rdf_size(sig) == 0)
				return -1;
			ldns_rdf_data(sig)[ldns_rdf_size(sig) / 2] ^= 0x5a;
		}
		return 0;
	}
	return -1;  /* no such RRset: the fault could not be planted */
}

static int zone_sign(struct lab_zone *z, ldns_zone **lzp, char *err, size_t errlen)
{
	ldns_key_list *keys = ldns_key_list_new();
	ldns_zone *signedz = NULL;
	char owner[DNS_NAME_MAX];

	if (keys == NULL)
		goto fail;
	ldns_key_list_push_key(keys, z->key);
	signedz = ldns_zone_sign(*lzp, keys);
	ldns_key_list_set_key_count(keys, 0);
	ldns_key_list_free(keys);
	if (signedz == NULL)
		goto fail;
	for (struct lab_sigmod *m = z->mods; m != NULL; m = m->next) {
		if (zone_apply_mod(z, signedz, m) != 0) {
			name_str(m->owner, owner, sizeof(owner));
			str_err(0, err, errlen, "zone %s: no signed RRset %s type %u to modify",
			       z->origin_str, owner, m->type);
			ldns_zone_deep_free(signedz);
			return -1;
		}
	}
	ldns_zone_deep_free(*lzp);
	*lzp = signedz;
	return 0;
fail:
	str_err(0, err, errlen, "zone %s: signing failed", z->origin_str);
	return -1;
}

static void zone_path(const char *dir, const struct lab_zone *z, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%szone", dir, z->origin_str);
}

static int write_zone(struct lab_zoneset *zs, struct lab_zone *z, const char *dir,
		      char *err, size_t errlen)
{
	ldns_zone *lz;
	char path[LAB_PATH_MAX];
	FILE *fp;
	int rc = -1;

	if (zone_check_cuts(zs, z, err, errlen) != 0 || (lz = zone_build(zs, z, err, errlen)) == NULL)
		return -1;
	if (z->key != NULL && zone_sign(z, &lz, err, errlen) != 0)
		goto out;
	zone_path(dir, z, path, sizeof(path));
	if ((fp = fopen(path, "w")) == NULL) {
		str_err(0, err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	ldns_zone_print(fp, lz);
	if (fclose(fp) != 0) {
		str_err(0, err, errlen, "%s: write failed: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	ldns_zone_deep_free(lz);
	return rc;
}

static int write_anchor(struct lab_zoneset *zs, const char *path, char *err, size_t errlen)
{
	ldns_rr *ds = ldns_key_rr2ds(zs->zones->dnskey, LDNS_SHA256);
	FILE *fp = fopen(path, "w");
	int rc = -1;

	if (fp == NULL || ds == NULL) {
		str_err(0, err, errlen, "%s: %s", path, fp == NULL ? strerror(errno) : "no DS");
		goto out;
	}
	ldns_rr_set_ttl(ds, LAB_TTL);
	ldns_rr_print(fp, ds);
	rc = 0;
out:
	if (fp != NULL && fclose(fp) != 0 && rc == 0) {
		str_err(0, err, errlen, "%s: write failed: %s", path, strerror(errno));
		rc = -1;
	}
	ldns_rr_free(ds);
	return rc;
}

/* The server: options both configs share. Each knob is explained in docs/design-lab-dns.md. */
static void conf_common(FILE *fp, struct lab_zoneset *zs, const struct lab_dns_paths *p)
{
	fprintf(fp, "\tmodule-config: \"validator iterator\"\n");
	fprintf(fp, "\ttrust-anchor-file: \"%s\"\n", p->anchor_file);
	fprintf(fp, "\tlocal-zone: \".\" refuse\n");
	fprintf(fp, "\tlocal-zone: \"%s\" transparent\n", zs->zones->origin_str);
	fprintf(fp, "\tval-log-level: 2\n");
}

static void conf_zones(FILE *fp, struct lab_zoneset *zs, const char *dir)
{
	char path[LAB_PATH_MAX];

	for (struct lab_zone *z = zs->zones; z != NULL; z = z->next) {
		zone_path(dir, z, path, sizeof(path));
		fprintf(fp, "auth-zone:\n\tname: \"%s\"\n\tzonefile: \"%s\"\n"
			    "\tfor-upstream: yes\n\tfor-downstream: no\n\tfallback-enabled: no\n",
			z->origin_str, path);
	}
}

static int write_conf(struct lab_zoneset *zs, const struct lab_dns_paths *p, int daemon,
		      char *err, size_t errlen)
{
	const char *path = daemon ? p->daemon_conf : p->ub_conf;
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		str_err(0, err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(fp, "# danemx lab: %s; written by lab_zoneset_write, do not edit.\n",
		daemon ? "unbound daemon config, start with: unbound -d -c THIS_FILE"
		       : "libunbound config for danemx --dns-config");
	fprintf(fp, "server:\n");
	conf_common(fp, zs, p);
	if (daemon) {
		fprintf(fp, "\tinterface: %s\n\tdo-daemonize: no\n\tchroot: \"\"\n\tusername: \"\"\n"
			    "\tdirectory: \"%s\"\n\tpidfile: \"%s/unbound.pid\"\n\tuse-syslog: no\n"
			    "\tlogfile: \"\"\n\taccess-control: 127.0.0.0/8 allow\n"
			    "\tdo-ip6: no\n\tnum-threads: 1\n\tso-reuseport: no\n"
			    "remote-control:\n\tcontrol-enable: no\n",
			zs->daemon_addr, p->dir, p->dir);
	}
	conf_zones(fp, zs, p->dir);
	if (fclose(fp) != 0) {
		str_err(0, err, errlen, "%s: write failed: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int paths_fill(const char *dir, struct lab_zoneset *zs, struct lab_dns_paths *p,
		      char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (strlen(dir) + DNS_NAME_MAX + 16 >= LAB_PATH_MAX || strchr(dir, '"') != NULL ||
	    strchr(dir, '\n') != NULL) {
		str_err(0, err, errlen, "lab directory name is too long or contains a quote");
		return -1;
	}
	str_copy(p->dir, dir, sizeof(p->dir));
	snprintf(p->ub_conf, sizeof(p->ub_conf), "%s/unbound-lib.conf", dir);
	snprintf(p->daemon_conf, sizeof(p->daemon_conf), "%s/unbound-daemon.conf", dir);
	snprintf(p->anchor_file, sizeof(p->anchor_file), "%s/trust-anchor.ds", dir);
	str_copy(p->daemon_addr, zs->daemon_addr, sizeof(p->daemon_addr));
	return 0;
}

int lab_zoneset_write(struct lab_zoneset *zs, const char *dir, struct lab_dns_paths *out,
		      char *err, size_t errlen)
{
	struct lab_dns_paths p;

	if (paths_fill(dir, zs, &p, err, errlen) != 0)
		return -1;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		str_err(0, err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (struct lab_zone *z = zs->zones; z != NULL; z = z->next) {
		if (write_zone(zs, z, dir, err, errlen) != 0)
			return -1;
		p.nzones++;
	}
	if (write_anchor(zs, p.anchor_file, err, errlen) != 0 ||
	    write_conf(zs, &p, 0, err, errlen) != 0 || write_conf(zs, &p, 1, err, errlen) != 0)
		return -1;
	if (out != NULL)
		*out = p;
	return 0;
}

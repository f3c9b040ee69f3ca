/*
 * zones: the offline signed DNS world builder. A zoneset is a tree of zones under a lab
 * apex (the reserved "test." TLD, RFC 6761) whose key is the trust anchor. Callers add
 * zones and records as text, plant faults per RRset (broken or expired signatures, a
 * missing or wrong DS), and write everything into a directory: zone files, the trust
 * anchor, a libunbound config (what --dns-config takes) and an unbound daemon config for
 * peers that only use a system resolver. Signing is ldns in-process, ECDSA P-256
 * (algorithm 13), one CSK per signed zone, NSEC. It must never touch the real DNS, never
 * write outside the directory it is given, and never sign a zone it was told to break
 * without breaking it (a planted fault that cannot be applied is an error at write time).
 */
#ifndef DANEMX_LAB_ZONES_H
#define DANEMX_LAB_ZONES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LAB_PATH_MAX 4096

enum lab_zone_sec {
	LAB_ZONE_SIGNED = 0,      /* signed, DS in the parent: secure */
	LAB_ZONE_UNSIGNED,        /* not signed, no DS in the parent: insecure delegation */
	LAB_ZONE_SIGNED_NO_DS,    /* signed, but the parent lacks the DS: insecure */
	LAB_ZONE_SIGNED_BAD_DS,   /* signed, the parent's DS digest does not match: bogus */
};

enum lab_fault {
	LAB_FAULT_BAD_SIG = 1,    /* one byte of the RRSIG signature flipped: bogus */
	LAB_FAULT_EXPIRED_SIG,    /* RRSIG inception and expiration in the past: bogus */
};

/* Default signature validity: inception now - 1 day, expiration now + this. */
#define LAB_SIG_VALIDITY_DAYS 90

struct lab_zoneset;
struct lab_zone;

/* What lab_zoneset_write produced; all paths are absolute when dir was. */
struct lab_dns_paths {
	char dir[LAB_PATH_MAX];
	char ub_conf[LAB_PATH_MAX];      /* libunbound config: danemx --dns-config FILE */
	char daemon_conf[LAB_PATH_MAX];  /* unbound daemon config: unbound -d -c FILE */
	char anchor_file[LAB_PATH_MAX];  /* DS of the apex, zone file format */
	char daemon_addr[64];            /* where the daemon config listens: 127.0.0.x@port */
	size_t nzones;                   /* zone files are DIR/<origin>zone, e.g. a.test.zone */
};

/* A new zoneset whose apex zone (signed, the trust anchor) is created at once.
 * apex is a domain name ("test." or "test"); NULL on a bad name or out of memory. */
struct lab_zoneset *lab_zoneset_new(const char *apex);
void lab_zoneset_free(struct lab_zoneset *zs);
struct lab_zone *lab_zoneset_apex(struct lab_zoneset *zs);
/* The zone with exactly this origin, or NULL. */
struct lab_zone *lab_zoneset_find(struct lab_zoneset *zs, const char *origin);

/* Add a zone below an existing one: its closest enclosing zone in the set is its parent
 * and must already exist (the apex at least). The parent gets the NS (and the DS unless
 * sec says otherwise) when the set is written. NULL with a reason in err on a bad,
 * duplicate or out-of-apex origin. The zone belongs to the set. */
struct lab_zone *lab_zone_add(struct lab_zoneset *zs, const char *origin,
			      enum lab_zone_sec sec, char *err, size_t errlen);

/* Add one record in presentation form ("mx.a.test. 300 IN A 127.0.0.2"; a relative
 * owner is taken relative to the zone's origin). The owner must be inside the zone and
 * not at or below a child zone's cut. 0, or -1 with a reason in err. */
int lab_zone_rr(struct lab_zone *z, const char *rr_text, char *err, size_t errlen);

/* Plant a fault on the signature of the RRset (owner, type). The RRset must exist
 * when the set is written (else lab_zoneset_write fails). 0, or -1 on a bad owner. */
int lab_zone_fault(struct lab_zone *z, const char *owner, uint16_t type, enum lab_fault f);
/* Sign the RRset (owner, type) with a validity that ends expires_in seconds from now
 * (e.g. to test an "RRSIG expires soon" audit). 0, or -1 on a bad owner. */
int lab_zone_sig_expiry(struct lab_zone *z, const char *owner, uint16_t type, long expires_in);

/* The expiration time the zone's signatures carry (by default), 0 for unsigned zones. */
time_t lab_zone_expiry(const struct lab_zone *z);
const char *lab_zone_origin(const struct lab_zone *z);

/* Set the daemon config's listening address (default 127.0.0.1@5353). 0 or -1. */
int lab_zoneset_daemon_addr(struct lab_zoneset *zs, const char *addr_at_port);

/* Sign every zone and write the directory (created if missing, mode 0700): one zone
 * file per zone, the anchor, the two configs. May be called again after more changes
 * (keys are kept, so DS and anchors stay stable). 0, or -1 with a reason in err. */
int lab_zoneset_write(struct lab_zoneset *zs, const char *dir, struct lab_dns_paths *out,
		      char *err, size_t errlen);

#endif

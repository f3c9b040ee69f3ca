/*
 * bulk: the lab's generated mass of DANE domains for scan tests and benchmarks. N domains
 * bulkNNNNN.test, each with one MX host mx.bulkNNNNN.test (its own A and TLSA 3 1 1
 * records), all held as names in the lab apex zone "test." (no delegations: signing
 * 20,000 small zones would take minutes, one zone takes seconds), MX addresses spread
 * over a modest set of loopback receivers 127.2.x.y that share one certificate. A few
 * percent carry planted failures: every 50th domain (i % 50 == 7) a TLSA record with a
 * wrong digest, every 50th (i % 50 == 23) an address whose receiver offers no STARTTLS
 * (127.3.0.x); both are dane-fail. It writes the list (DIR/bulk.txt) and the expected
 * verdicts (DIR/bulk-expect.tsv) for tests. It never listens beyond loopback and never
 * resolves.
 */
#ifndef DANEMX_LAB_BULK_H
#define DANEMX_LAB_BULK_H

#include <stddef.h>

#include "lab/certs.h"
#include "lab/zones.h"

struct event_base;
struct lab_bulk;

#define LAB_BULK_MAX 100000
#define LAB_BULK_ADDRS_MAX 1000

/* n domains over naddrs STARTTLS receivers (1 to LAB_BULK_ADDRS_MAX; 0 = 64). */
struct lab_bulk *lab_bulk_new(unsigned n, unsigned naddrs);
void lab_bulk_free(struct lab_bulk *b);

/* The lab_world_opts.extra_zones hook: the leaf certificate, the records, the lists.
 * arg is the struct lab_bulk. */
int lab_bulk_zones(void *arg, struct lab_zoneset *zs, struct lab_pki *pki, const char *certdir,
		   char *err, size_t errlen);
/* Write DIR/bulk.txt and DIR/bulk-expect.tsv (domain, expected verdict, MX address). */
int lab_bulk_write_lists(const struct lab_bulk *b, const char *dir, char *err, size_t errlen);
/* Start the receivers on port (after lab_bulk_zones). 0, or -1 with a reason (none left
 * running). */
int lab_bulk_start(struct lab_bulk *b, struct event_base *base, unsigned port,
		   const char *maildir, char *err, size_t errlen);
size_t lab_bulk_nlisten(const struct lab_bulk *b);

#endif

/*
 * bulk: generate, serve and describe the bulk lab (bulk.h). Domain i (1-based) gets MX
 * mx.bulkNNNNN.test at receiver (i - 1) % naddrs, TLSA 3 1 1 of the shared certificate's
 * key, unless a failure is planted. It never listens beyond loopback.
 */
#include "lab/bulk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dane/tlsa.h"
#include "smtp/server.h"
#include "util/buf.h"
#include "util/str.h"

#define BULK_BAD_TLSA 7        /* i % 50: wrong digest */
#define BULK_NO_STARTTLS 23    /* i % 50: receiver without STARTTLS */
#define BULK_PLAIN_ADDRS 4     /* receivers without STARTTLS, 127.3.0.1-4 */
#define BULK_CMD_TIMEOUT_MS 60000

struct lab_bulk {
	unsigned n, naddrs;
	struct lab_leaf leaf;
	int have_leaf;
	struct smtp_server **rx;
	size_t nrx, nlisten;
};

struct lab_bulk *lab_bulk_new(unsigned n, unsigned naddrs)
{
	struct lab_bulk *b;

	if (n == 0 || n > LAB_BULK_MAX || naddrs > LAB_BULK_ADDRS_MAX)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->n = n;
	b->naddrs = naddrs > 0 ? naddrs : 64;
	return b;
}

void lab_bulk_free(struct lab_bulk *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->nrx; i++)
		smtp_server_free(b->rx[i]);
	free(b->rx);
	if (b->have_leaf)
		lab_leaf_free(&b->leaf);
	free(b);
}

static void good_addr(unsigned k, char *out, size_t outlen)
{
	snprintf(out, outlen, "127.2.%u.%u", k / 250, k % 250 + 1);
}

static void plain_addr(unsigned k, char *out, size_t outlen)
{
	snprintf(out, outlen, "127.3.0.%u", k + 1);
}

/* Domain i's MX address and expected verdict. */
static const char *domain_addr(const struct lab_bulk *b, unsigned i, char *out, size_t outlen)
{
	if (i % 50 == BULK_NO_STARTTLS)
		plain_addr((i / 50) % BULK_PLAIN_ADDRS, out, outlen);
	else
		good_addr((i - 1) % b->naddrs, out, outlen);
	return i % 50 == BULK_NO_STARTTLS || i % 50 == BULK_BAD_TLSA ? "dane-fail" : "verified";
}

static int add(struct lab_zone *z, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int add(struct lab_zone *z, char *err, size_t errlen, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return lab_zone_rr(z, line, err, errlen);
}

static int bulk_records(struct lab_bulk *b, struct lab_zone *z, const char *good_hex,
			const char *bad_hex, char *err, size_t errlen)
{
	char addr[32];

	for (unsigned i = 1; i <= b->n; i++) {
		domain_addr(b, i, addr, sizeof(addr));
		if (add(z, err, errlen, "bulk%05u.test. 300 IN MX 10 mx.bulk%05u.test.", i, i) != 0 ||
		    add(z, err, errlen, "mx.bulk%05u.test. 300 IN A %s", i, addr) != 0 ||
		    add(z, err, errlen, "_25._tcp.mx.bulk%05u.test. 300 IN TLSA 3 1 1 %s", i,
			i % 50 == BULK_BAD_TLSA ? bad_hex : good_hex) != 0)
			return -1;
	}
	return 0;
}

int lab_bulk_zones(void *arg, struct lab_zoneset *zs, struct lab_pki *pki, const char *certdir,
		   char *err, size_t errlen)
{
	struct lab_bulk *b = arg;
	struct tlsa_rr rr;
	char *good = NULL, *bad = NULL;
	int rc = -1;

	if (lab_leaf_create(pki, "mx.bulk.test", 0, &b->leaf, err, errlen) != 0)
		return -1;
	b->have_leaf = 1;
	if (lab_leaf_write(&b->leaf, certdir, "bulk", err, errlen) != 0)
		return -1;
	if (tlsa_from_cert(b->leaf.cert, 3, 1, 1, &rr, err, errlen) != TLSA_OK)
		return -1;
	good = str_hex(rr.data, rr.len);
	rr.data[rr.len - 1] ^= 0x01;     /* one bit off: a record that matches nothing */
	bad = str_hex(rr.data, rr.len);
	tlsa_rr_free(&rr);
	if (good == NULL || bad == NULL) {
		str_copy(err, "out of memory", errlen);
		goto out;
	}
	rc = bulk_records(b, lab_zoneset_apex(zs), good, bad, err, errlen);
out:
	free(good);
	free(bad);
	return rc;
}

int lab_bulk_write_lists(const struct lab_bulk *b, const char *dir, char *err, size_t errlen)
{
	char lpath[4200], epath[4200], addr[32];
	FILE *l, *e;
	int rc = 0;

	snprintf(lpath, sizeof(lpath), "%s/bulk.txt", dir);
	snprintf(epath, sizeof(epath), "%s/bulk-expect.tsv", dir);
	l = fopen(lpath, "w");
	e = fopen(epath, "w");
	if (l == NULL || e == NULL) {
		str_printf(err, errlen, "cannot write %s", l == NULL ? lpath : epath);
		rc = -1;
	}
	for (unsigned i = 1; rc == 0 && i <= b->n; i++) {
		const char *v = domain_addr(b, i, addr, sizeof(addr));
		fprintf(l, "bulk%05u.test\n", i);
		fprintf(e, "bulk%05u.test\t%s\t%s\n", i, v, addr);
	}
	if ((l != NULL && fclose(l) != 0) || (e != NULL && fclose(e) != 0)) {
		str_printf(err, errlen, "write failed in %s", dir);
		rc = -1;
	}
	return rc;
}

static int start_one(struct lab_bulk *b, struct event_base *base, const char *addr, unsigned port,
		     int starttls, const char *maildir, char *err, size_t errlen)
{
	static const char *const domains[1] = {"bulk.test"};
	struct smtp_server_params p;
	char listen[64], why[256];
	const char *ls[1] = {listen};

	memset(&p, 0, sizeof(p));
	snprintf(listen, sizeof(listen), "%s:%u", addr, port);
	p.listen = ls;
	p.nlisten = 1;
	p.cert_files[0] = b->leaf.chain_path;
	p.key_files[0] = b->leaf.key_path;
	p.maildir = maildir;
	p.hostname = "mx.bulk.test";
	p.domains = domains;
	p.ndomains = 1;
	p.starttls = starttls;
	p.max_conn = 5000;
	p.cmd_timeout_ms = p.data_timeout_ms = BULK_CMD_TIMEOUT_MS;
	p.session_timeout_ms = 10 * BULK_CMD_TIMEOUT_MS;
	if ((b->rx[b->nrx] = smtp_server_new(base, &p, why, sizeof(why))) == NULL) {
		str_printf(err, errlen, "bulk receiver %s: %s", listen, why);
		return -1;
	}
	b->nrx++;
	b->nlisten++;
	return 0;
}

int lab_bulk_start(struct lab_bulk *b, struct event_base *base, unsigned port,
		   const char *maildir, char *err, size_t errlen)
{
	char addr[32];

	if (!b->have_leaf || (b->rx = calloc(b->naddrs + BULK_PLAIN_ADDRS, sizeof(struct smtp_server *))) == NULL) {
		str_copy(err, b->have_leaf ? "out of memory" : "bulk lab not built", errlen);
		return -1;
	}
	for (unsigned k = 0; k < b->naddrs + BULK_PLAIN_ADDRS; k++) {
		if (k < b->naddrs)
			good_addr(k, addr, sizeof(addr));
		else
			plain_addr(k - b->naddrs, addr, sizeof(addr));
		if (start_one(b, base, addr, port, k < b->naddrs, maildir, err, errlen) != 0)
			goto fail;
	}
	return 0;
fail:
	for (size_t i = 0; i < b->nrx; i++)
		smtp_server_free(b->rx[i]);
	b->nrx = b->nlisten = 0;
	return -1;
}

size_t lab_bulk_nlisten(const struct lab_bulk *b)
{
	return b != NULL ? b->nlisten : 0;
}

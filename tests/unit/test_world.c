/* Unit tests for src/lab/world: the scenario table is consistent (unique names and
 * addresses, every verdict of the vocabulary used, the demo's four domains present), the
 * built world's files are there, the TLSA in the zones is computed from the certificates
 * the receivers will present (or deliberately not), and the DNS answers validate as each
 * scenario needs: resolved in-process by libunbound with the lab's own config (secure,
 * insecure or bogus), never touching the real DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <unbound.h>

#include "dane/tlsa.h"
#include "lab/world.h"
#include "util/str.h"

static struct lab_world *world;
static struct ub_ctx *ub;
static char tmpdir[64];

static int setup(void **state)
{
	struct lab_world_opts o = {20025, "127.0.0.1@25353", 0, NULL, NULL};
	char err[512];
	(void)state;
	str_copy(tmpdir, "/tmp/danemx-world-XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (lab_world_build(tmpdir, &o, &world, err, sizeof(err)) != 0) {
		fprintf(stderr, "lab_world_build: %s\n", err);
		return -1;
	}
	if ((ub = ub_ctx_create()) == NULL || ub_ctx_config(ub, world->dns.ub_conf) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	ub_ctx_delete(ub);
	lab_world_free(world);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_table(void **state)
{
	size_t n, used[LAB_V_NOMAIL + 1] = {0};
	const struct lab_scenario *sc = lab_scenarios(&n);
	int demo = 0;
	(void)state;
	assert_true(n >= 29);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(sc[i].name, sc[j].name);
		used[sc[i].expect]++;
		demo += sc[i].demo;
		assert_true(strlen(sc[i].shows) > 10);
		assert_string_not_equal(lab_verdict_name(sc[i].expect), "?");
	}
	for (int v = 0; v <= LAB_V_NOMAIL; v++)
		if (used[v] == 0)
			fail_msg("no scenario expects %s", lab_verdict_name(v));
	assert_int_equal(demo, 4);
	assert_int_equal(lab_scenario_find("plaintext")->expect, LAB_V_PLAINTEXT);
	assert_int_equal(lab_scenario_find("two-mx")->expect, LAB_V_DANE_FAIL);
	assert_string_equal(lab_scenario_find("two-mx")->delivers_to, "mx2.two-mx.test.");
	assert_int_equal(lab_scenario_find("insecure-mx")->expect, LAB_V_TRUSTED);
	assert_null(lab_scenario_find("nope"));
}

static void test_hosts_and_files(void **state)
{
	char path[PATH_MAX];
	(void)state;
	assert_int_equal(world->port, 20025);
	assert_true(world->nhosts >= 28);
	for (size_t i = 0; i < world->nhosts; i++) {
		const struct lab_host *h = &world->hosts[i];
		assert_true(h->naddr >= 1);
		for (int a = 0; a < h->naddr; a++) {
			assert_ptr_equal(lab_world_host_by_addr(world, h->addr[a]), h);
			assert_int_equal(access(h->leaf[a == 1 && h->spec->addrs > 1].chain_path, R_OK), 0);
		}
	}
	assert_string_equal(lab_world_host_by_addr(world, "127.1.0.1")->name, "mx1.nodnssec.test.");
	assert_string_equal(lab_world_host_by_addr(world, "127.1.1.25")->sc->name, "two-addr");
	assert_string_equal(lab_world_host_by_addr(world, "::1")->sc->name, "dane-312");
	assert_null(lab_world_host_by_addr(world, "127.0.0.1"));
	assert_int_equal(access(world->env_path, R_OK), 0);
	assert_int_equal(access(world->hosts_path, R_OK), 0);
	assert_int_equal(access(world->root_path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/dns/dane-ok.test.zone", tmpdir);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/dns/unbound-daemon.conf", tmpdir);
	assert_string_equal(world->dns.daemon_conf, path);
	assert_string_equal(world->dns.daemon_addr, "127.0.0.1@25353");
}

/* Resolve (name, type) with the lab's libunbound config. */
static struct ub_result *lookup(const char *name, int type)
{
	struct ub_result *r = NULL;
	int rc = ub_resolve(ub, name, type, 1, &r);
	if (rc != 0)
		fail_msg("ub_resolve %s: %s", name, ub_strerror(rc));
	return r;
}

enum sec { SECURE, INSECURE, BOGUS };
static void expect_sec(const char *name, int type, enum sec want, int havedata)
{
	struct ub_result *r = lookup(name, type);
	enum sec got = r->secure ? SECURE : r->bogus ? BOGUS : INSECURE;
	if (got != want || (want != BOGUS && r->havedata != havedata))
		fail_msg("%s type %d: sec %d havedata %d rcode %d (want sec %d havedata %d) %s", name,
			 type, got, r->havedata, r->rcode, want, havedata, r->why_bogus ? r->why_bogus : "");
	ub_resolve_free(r);
}

static void test_dnssec_states(void **state)
{
	(void)state;
	expect_sec("dane-ok.test.", 15, SECURE, 1);
	expect_sec("_25._tcp.mx1.dane-ok.test.", 52, SECURE, 1);
	expect_sec("mx1.dane-ok.test.", 1, SECURE, 1);
	expect_sec("nodnssec.test.", 15, INSECURE, 1);
	expect_sec("bogus-tlsa.test.", 15, SECURE, 1);
	expect_sec("_25._tcp.mx1.bogus-tlsa.test.", 52, BOGUS, 0);
	expect_sec("bogus-mx.test.", 15, BOGUS, 0);
	expect_sec("_25._tcp.mx1.expired-rrsig.test.", 52, BOGUS, 0);
	expect_sec("_25._tcp.mx1.no-tlsa.test.", 52, SECURE, 0);
	expect_sec("_25._tcp.mx1.hosts.mx-unsigned.test.", 52, INSECURE, 1);
	expect_sec("insecure-mx.test.", 15, INSECURE, 1);
	expect_sec("_25._tcp.mx1.insecure-mx-hosts.test.", 52, SECURE, 1);
	expect_sec("_25._tcp.smtp.cname-mx.test.", 52, SECURE, 1);
	expect_sec("mx1.cname-mx.test.", 5, SECURE, 1);
	expect_sec("implicit-mx.test.", 15, SECURE, 0);
	expect_sec("_25._tcp.implicit-mx.test.", 52, SECURE, 1);
	expect_sec("mx1.dane-312.test.", 28, SECURE, 1);
	expect_sec("no-such-name.test.", 1, SECURE, 0);
}

static void test_null_mx_and_two_addr(void **state)
{
	struct ub_result *r = lookup("null-mx.test.", 15);
	(void)state;
	assert_true(r->secure);
	assert_non_null(r->data[0]);
	assert_int_equal(r->len[0], 3);   /* preference 0 + root label */
	assert_memory_equal(r->data[0], "\0\0\0", 3);
	ub_resolve_free(r);
	r = lookup("mx1.two-addr.test.", 1);
	assert_non_null(r->data[1]);
	assert_null(r->data[2]);
	ub_resolve_free(r);
	r = lookup("two-mx.test.", 15);
	assert_non_null(r->data[1]);
	ub_resolve_free(r);
}

/* The TLSA records the zone serves, in presentation form. */
static int tlsa_records(const char *owner, struct tlsa_rr *out, int max)
{
	struct ub_result *r = lookup(owner, 52);
	int n = 0;
	for (; r->data[n] != NULL && n < max; n++) {
		unsigned char *d = (unsigned char *)r->data[n];
		out[n].usage = d[0];
		out[n].selector = d[1];
		out[n].mtype = d[2];
		out[n].len = (size_t)r->len[n] - 3;
		out[n].data = malloc(out[n].len);
		memcpy(out[n].data, d + 3, out[n].len);
	}
	ub_resolve_free(r);
	return n;
}

/* How many of owner's records equal what tlsa computes from cert for their U S M. */
static int matching(const char *owner, X509 *cert, int *total)
{
	struct tlsa_rr rr[4], want;
	int n = tlsa_records(owner, rr, 4), m = 0;
	for (int i = 0; i < n; i++) {
		if (tlsa_from_cert(cert, rr[i].usage, rr[i].selector, rr[i].mtype, &want, NULL, 0) == 0) {
			m += tlsa_rr_equal(&want, &rr[i]);
			tlsa_rr_free(&want);
		}
		tlsa_rr_free(&rr[i]);
	}
	*total = n;
	return m;
}

static X509 *leaf_of(const char *addr, int second)
{
	const struct lab_host *h = lab_world_host_by_addr(world, addr);
	X509 *x = NULL;
	assert_non_null(h);
	assert_int_equal(tlsa_load_cert(h->leaf[second].chain_path, &x, NULL, 0), TLSA_OK);
	return x;
}

static void expect_match(const char *owner, const char *addr, int second, int want_match, int want_total)
{
	X509 *x = leaf_of(addr, second);
	int total, m = matching(owner, x, &total);
	if (m != want_match || total != want_total)
		fail_msg("%s: %d of %d records match the certificate at %s, want %d of %d", owner, m,
			 total, addr, want_match, want_total);
	X509_free(x);
}

static void test_tlsa_versus_certs(void **state)
{
	const struct lab_host *h;
	struct tlsa_rr rr[4];
	X509 *x;
	int total, n;
	(void)state;
	for (size_t i = 0; i < world->nhosts; i++) {
		char owner[300];
		h = &world->hosts[i];
		snprintf(owner, sizeof(owner), "_25._tcp.%s", h->target);
		if (h->sc->fault == LAB_DNS_BOGUS_TLSA || h->sc->fault == LAB_DNS_EXPIRED_TLSA)
			continue;
		x = NULL;
		assert_int_equal(tlsa_load_cert(h->leaf[0].chain_path, &x, NULL, 0), TLSA_OK);
		n = matching(owner, x, &total);
		X509_free(x);
		if (strcmp(h->sc->name, "dane-ok") == 0 || strcmp(h->sc->name, "dane-312") == 0 ||
		    strcmp(h->sc->name, "dane-300") == 0 || strcmp(h->sc->name, "cname-mx") == 0 ||
		    strcmp(h->sc->name, "implicit-mx") == 0 || strcmp(h->sc->name, "dane-expired") == 0)
			assert_int_equal(n * 10 + total, 11);
		if (strcmp(h->sc->name, "dane-wrong") == 0 || strcmp(h->name, "mx1.two-mx.test.") == 0)
			assert_int_equal(n * 10 + total, 1);
		if (strcmp(h->name, "mx2.two-mx.test.") == 0)
			assert_int_equal(n * 10 + total, 11);
		if (strcmp(h->sc->name, "no-tlsa") == 0 || h->sc->expect == LAB_V_PLAINTEXT)
			assert_int_equal(total, 0);
		if (strcmp(h->sc->name, "rollover") == 0 || strcmp(h->sc->name, "malformed-plus") == 0)
			assert_int_equal(n * 10 + total, 12);
		if (strcmp(h->sc->name, "pkix-only") == 0)   /* 1 1 1 on the leaf, 0 1 1 on the root */
			assert_int_equal(n * 10 + total, 12);
	}
	/* malformed: a SHA2-256 record with 20 bytes */
	n = tlsa_records("_25._tcp.mx1.malformed-only.test.", rr, 4);
	assert_int_equal(n, 1);
	assert_int_equal(rr[0].len, 20);
	assert_false(tlsa_rr_len_ok(&rr[0]));
	tlsa_rr_free(&rr[0]);
	/* DANE-TA on the root; the chain sent includes the root */
	h = lab_world_host_by_addr(world, "127.1.0.6");
	assert_string_equal(h->sc->name, "dane-ta");
	assert_int_equal(sk_X509_num(h->leaf[0].chain), 2);
	n = matching("_25._tcp.mx1.dane-ta.test.", world->pki.root, &total);
	assert_int_equal(n * 10 + total, 11);
	/* two-addr: the second address's key does not match; dual: the RSA key does not */
	h = lab_world_host_by_addr(world, "127.1.1.25");
	expect_match("_25._tcp.mx1.two-addr.test.", h->addr[0], 0, 1, 1);
	expect_match("_25._tcp.mx1.two-addr.test.", h->addr[1], 1, 0, 1);
	h = NULL;
	for (size_t i = 0; i < world->nhosts; i++)
		if (strcmp(world->hosts[i].sc->name, "dual-cert") == 0)
			h = &world->hosts[i];
	assert_non_null(h);
	assert_int_equal(EVP_PKEY_get_base_id(h->leaf[1].key), EVP_PKEY_RSA);
	expect_match("_25._tcp.mx1.dual-cert.test.", h->addr[0], 0, 1, 1);
	expect_match("_25._tcp.mx1.dual-cert.test.", h->addr[0], 1, 0, 1);
}

static void test_build_errors(void **state)
{
	struct lab_world *w = NULL;
	char err[256];
	(void)state;
	assert_int_equal(lab_world_build("/proc/nonexistent/lab", NULL, &w, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/proc/nonexistent/lab"));
	assert_int_equal(lab_world_build("/tmp/it's", NULL, &w, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "quote"));
	assert_null(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_hosts_and_files),
		cmocka_unit_test(test_dnssec_states),
		cmocka_unit_test(test_null_mx_and_two_addr),
		cmocka_unit_test(test_tlsa_versus_certs),
		cmocka_unit_test(test_build_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

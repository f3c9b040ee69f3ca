/* Unit tests for src/lab/zones: what the builder writes (delegations, DS per child mode,
 * planted faults, configs) and which input it refuses. Resolution is tested in test_dns.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "lab/zones.h"

static char *slurp(const char *dir, const char *name)
{
	char path[LAB_PATH_MAX];
	FILE *fp;
	char *s = calloc(1, 1 << 20);
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "r"));
	n = fread(s, 1, (1 << 20) - 1, fp);
	s[n] = '\0';
	fclose(fp);
	return s;
}

static void rmrf(const char *dir)
{
	char cmd[LAB_PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_zones_write(void **state)
{
	char dir[] = "/tmp/danemx-zones-XXXXXX", err[256];
	struct lab_zoneset *zs = lab_zoneset_new("test");
	struct lab_zone *a, *u, *n, *b;
	struct lab_dns_paths p;
	char *s;
	(void)state;

	assert_non_null(mkdtemp(dir));
	assert_non_null(zs);
	assert_non_null(a = lab_zone_add(zs, "a.test.", LAB_ZONE_SIGNED, err, sizeof(err)));
	assert_non_null(u = lab_zone_add(zs, "u.test", LAB_ZONE_UNSIGNED, err, sizeof(err)));
	assert_non_null(n = lab_zone_add(zs, "n.test", LAB_ZONE_SIGNED_NO_DS, err, sizeof(err)));
	assert_non_null(b = lab_zone_add(zs, "b.test", LAB_ZONE_SIGNED_BAD_DS, err, sizeof(err)));
	assert_int_equal(lab_zone_rr(a, "mx IN A 127.0.0.2", err, sizeof(err)), 0);
	assert_int_equal(lab_zone_rr(a, "bad IN A 127.0.0.3", err, sizeof(err)), 0);
	assert_int_equal(lab_zone_fault(a, "bad", LDNS_RR_TYPE_A, LAB_FAULT_BAD_SIG), 0);
	assert_int_equal(lab_zone_fault(u, "x", LDNS_RR_TYPE_A, LAB_FAULT_BAD_SIG), -1);  /* unsigned */
	assert_int_equal(lab_zone_rr(u, "mx.u.test. 60 IN A 127.0.0.4", err, sizeof(err)), 0);
	assert_true(lab_zone_expiry(a) > time(NULL) + 29 * 86400);
	assert_int_equal(lab_zone_expiry(u), 0);
	assert_string_equal(lab_zone_origin(a), "a.test.");
	assert_ptr_equal(lab_zoneset_find(zs, "A.TEST"), a);
	assert_int_equal(lab_zoneset_write(zs, dir, &p, err, sizeof(err)), 0);
	assert_int_equal(p.nzones, 5);
	assert_int_equal(access(p.ub_conf, R_OK), 0);
	assert_int_equal(access(p.daemon_conf, R_OK), 0);

	s = slurp(dir, "test.zone");       /* the parent: NS for all, DS for a and b only */
	assert_non_null(strstr(s, "a.test.\t3600\tIN\tNS\tns.test."));
	assert_non_null(strstr(s, "u.test.\t3600\tIN\tNS\tns.test."));
	assert_non_null(strstr(s, "a.test.\t3600\tIN\tDS\t"));
	assert_non_null(strstr(s, "b.test.\t3600\tIN\tDS\t"));
	assert_null(strstr(s, "u.test.\t3600\tIN\tDS"));
	assert_null(strstr(s, "n.test.\t3600\tIN\tDS"));
	free(s);
	s = slurp(dir, "u.test.zone");     /* unsigned: no DNSSEC records */
	assert_null(strstr(s, "RRSIG"));
	assert_non_null(strstr(s, "mx.u.test.\t60\tIN\tA\t127.0.0.4"));
	free(s);
	s = slurp(dir, "a.test.zone");
	assert_non_null(strstr(s, "IN\tRRSIG\tA 13 3 3600"));
	assert_non_null(strstr(s, "IN\tNSEC\t"));
	free(s);
	s = slurp(dir, "unbound-lib.conf");
	assert_non_null(strstr(s, "for-upstream: yes"));
	assert_non_null(strstr(s, "for-downstream: no"));
	assert_non_null(strstr(s, "trust-anchor-file:"));
	assert_null(strstr(s, "interface:"));
	free(s);
	s = slurp(dir, "unbound-daemon.conf");
	assert_non_null(strstr(s, "interface: 127.0.0.1@5353"));
	assert_non_null(strstr(s, "chroot: \"\""));
	free(s);
	s = slurp(dir, "trust-anchor.ds");
	assert_non_null(strstr(s, "test.\t3600\tIN\tDS\t"));
	free(s);
	lab_zoneset_free(zs);
	rmrf(dir);
}

static void test_zones_refuse(void **state)
{
	char dir[] = "/tmp/danemx-zones-XXXXXX", err[256] = "";
	struct lab_zoneset *zs = lab_zoneset_new("test.");
	struct lab_zone *a;
	(void)state;

	assert_non_null(mkdtemp(dir));
	assert_null(lab_zoneset_new(""));
	assert_null(lab_zone_add(zs, "example.com", LAB_ZONE_SIGNED, err, sizeof(err)));
	assert_non_null(strstr(err, "not below the lab apex"));
	assert_non_null(a = lab_zone_add(zs, "a.test", LAB_ZONE_SIGNED, err, sizeof(err)));
	assert_null(lab_zone_add(zs, "a.test", LAB_ZONE_SIGNED, err, sizeof(err)));
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(lab_zone_rr(a, "www.b.test. IN A 127.0.0.1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "outside zone a.test."));
	assert_int_equal(lab_zone_rr(a, "www IN A not-an-address", err, sizeof(err)), -1);
	assert_int_equal(lab_zone_fault(a, "elsewhere.example.", LDNS_RR_TYPE_A, LAB_FAULT_BAD_SIG), -1);
	/* a fault on an RRset that does not exist is an error at write time */
	assert_int_equal(lab_zone_fault(a, "ghost", LDNS_RR_TYPE_A, LAB_FAULT_EXPIRED_SIG), 0);
	assert_int_equal(lab_zoneset_write(zs, dir, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ghost.a.test."));
	lab_zoneset_free(zs);
	/* a record in the parent below a child's cut */
	zs = lab_zoneset_new("test.");
	assert_int_equal(lab_zone_rr(lab_zoneset_apex(zs), "www.c.test. IN A 127.0.0.1", err, sizeof(err)), 0);
	assert_non_null(lab_zone_add(zs, "c.test", LAB_ZONE_UNSIGNED, err, sizeof(err)));
	assert_int_equal(lab_zoneset_write(zs, dir, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "belongs to child zone c.test."));
	assert_int_equal(lab_zoneset_write(zs, "/proc/nonexistent/dir", NULL, err, sizeof(err)), -1);
	lab_zoneset_free(zs);
	rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zones_write),
		cmocka_unit_test(test_zones_refuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

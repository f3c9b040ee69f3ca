/* Unit tests for src/engine/scan: input classification (comments, IDN, invalid and
 * over-long lines), the shard function, the resume set with a torn last line, and the
 * failure-reason classes of the statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "engine/scan.h"

static void test_classify(void **state)
{
	static const struct { const char *in; enum scan_in want; const char *name; } cases[] = {
		{"", SCAN_IN_SKIP, NULL},
		{"   \t\r", SCAN_IN_SKIP, NULL},
		{"# a comment", SCAN_IN_SKIP, NULL},
		{"  #indented comment", SCAN_IN_SKIP, NULL},
		{"Example.ORG.", SCAN_IN_NAME, "example.org"},
		{"  example.net \r", SCAN_IN_NAME, "example.net"},
		{"bücher.example", SCAN_IN_NAME, "xn--bcher-kva.example"},
		{"BÜCHER.example", SCAN_IN_NAME, "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", SCAN_IN_NAME, "xn--bcher-kva.example"},
		{"bad..name", SCAN_IN_INVALID, NULL},
		{"two words.test", SCAN_IN_INVALID, NULL},
		{"-lead.test", SCAN_IN_INVALID, NULL},
		{"x\xff\xfe.test", SCAN_IN_INVALID, NULL},
		{"a@b.test", SCAN_IN_INVALID, NULL},
	};
	char name[DNS_NAME_MAX], why[256];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum scan_in k = scan_classify(cases[i].in, strlen(cases[i].in), name, sizeof(name),
					       why, sizeof(why));
		if (k != cases[i].want)
			fail_msg("%s: got %d want %d", cases[i].in, k, cases[i].want);
		if (cases[i].name != NULL)
			assert_string_equal(name, cases[i].name);
		if (k == SCAN_IN_INVALID)
			assert_true(why[0] != '\0');
	}
}

static void test_read_long_line(void **state)
{
	size_t biglen = 100000;
	char *big = malloc(biglen + 64);
	struct scan_input *in = calloc(1, sizeof(*in));
	FILE *fp;
	(void)state;

	memset(big, 'a', biglen);
	memcpy(big + biglen, "\nok.test\nlast.test", 19);
	fp = fmemopen(big, biglen + 18, "r");
	assert_non_null(fp);
	assert_int_equal(scan_read(fp, in), SCAN_IN_INVALID);
	assert_int_equal(in->rawlen, SCAN_LINE_MAX);
	assert_non_null(strstr(in->why, "longer than"));
	assert_int_equal(scan_read(fp, in), SCAN_IN_NAME);
	assert_string_equal(in->name, "ok.test");
	assert_int_equal(in->lineno, 2);
	/* a last line without its newline still counts */
	assert_int_equal(scan_read(fp, in), SCAN_IN_NAME);
	assert_string_equal(in->name, "last.test");
	assert_int_equal(scan_read(fp, in), SCAN_IN_EOF);
	fclose(fp);
	free(big);
	free(in);
}

static void test_shard(void **state)
{
	unsigned k, n, count[3] = {0, 0, 0};
	char name[32];
	(void)state;

	/* FNV-1a 64 reference values */
	assert_true(scan_hash("") == 0xcbf29ce484222325ULL);
	assert_true(scan_hash("a") == 0xaf63dc4c8601ec8cULL);
	assert_int_equal(scan_parse_shard("2/3", &k, &n), 0);
	assert_int_equal(k, 2);
	assert_int_equal(n, 3);
	assert_int_equal(scan_parse_shard("0/3", &k, &n), -1);
	assert_int_equal(scan_parse_shard("4/3", &k, &n), -1);
	assert_int_equal(scan_parse_shard("1/", &k, &n), -1);
	assert_int_equal(scan_parse_shard("-1/3", &k, &n), -1);
	assert_int_equal(scan_parse_shard("1/3x", &k, &n), -1);
	/* every name in exactly one shard, and the shards roughly even */
	for (int i = 0; i < 3000; i++) {
		int in = 0;
		snprintf(name, sizeof(name), "d%d.example", i);
		for (unsigned s = 1; s <= 3; s++)
			if (scan_in_shard(name, s, 3)) {
				in++;
				count[s - 1]++;
			}
		assert_int_equal(in, 1);
		assert_true(scan_in_shard(name, 1, 1));
	}
	for (int s = 0; s < 3; s++)
		assert_true(count[s] > 800 && count[s] < 1200);
}

static void test_resume(void **state)
{
	char path[] = "/tmp/danemx-test-scan-XXXXXX", why[256], key[256];
	const char *content =
		"{\"domain\":\"a.test\",\"verdict\":\"verified\"}\n"
		"{\"domain\":null,\"input\":\"bad..name\",\"line\":3}\n"
		"{\"domain\":\"b.test\",\"verdict\":\"tempfail\"}\n"
		"{\"domain\":\"c.te";
	struct scan_seen *seen = scan_seen_new();
	struct stat sb;
	size_t lines = 0;
	int fd = mkstemp(path);
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	assert_int_equal(scan_resume_load(path, seen, &lines, why, sizeof(why)), 0);
	assert_int_equal(lines, 3);
	assert_true(scan_seen_has(seen, "a.test"));
	assert_true(scan_seen_has(seen, "b.test"));
	assert_false(scan_seen_has(seen, "c.test"));
	assert_true(scan_seen_has(seen, scan_invalid_key("bad..name", 9, key, sizeof(key))));
	assert_false(scan_seen_has(seen, scan_invalid_key("bad...name", 10, key, sizeof(key))));
	/* the torn line is gone: the file ends with the last newline */
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal((size_t)sb.st_size, strlen(content) - strlen("{\"domain\":\"c.te"));
	/* a missing file is a fresh start */
	unlink(path);
	assert_int_equal(scan_resume_load(path, seen, &lines, why, sizeof(why)), 0);
	assert_int_equal(lines, 0);
	/* the set grows past its first table */
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "n%d.test", i);
		assert_int_equal(scan_seen_add(seen, key), 1);
	}
	assert_int_equal(scan_seen_add(seen, "n42.test"), 0);
	assert_int_equal(scan_seen_count(seen), 5003);
	scan_seen_free(seen);
}

static void test_reason_class(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{"1 of 2 MX hosts fail; mx1.two-mx.test: 127.1.0.9: DANE authentication failed: no TLSA"
		 " record matches the 2 certificate(s) the server sent",
		 "DANE authentication failed: no TLSA record matches the N certificate(s) the server sent"},
		{"1 of 1 MX hosts fail; mx1.dual-cert.test: 127.1.0.26: rsa key: DANE authentication failed: x",
		 "DANE authentication failed: x"},
		{"MX host mx.example.org has no address records", "MX host NAME has no address records"},
		{"1 of 1 MX hosts fail; mx1.b.test: TLSA lookup is DNSSEC-bogus: validation failure"
		 " <_25._tcp.mx1.b.test. TLSA IN>: signature expired",
		 "TLSA lookup is DNSSEC-bogus: validation failure <...>: signature expired"},
		{"mx.a.test: ::1: timeout in state banner (limit 3000 ms)",
		 "timeout in state banner (limit N ms)"},
		{"TLSv1.3, not authenticated", "TLSvN.N, not authenticated"},
	};
	char out[128];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scan_reason_class(cases[i].in, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
}

static void test_stats(void **state)
{
	struct scan_stats *st = calloc(1, sizeof(*st));
	struct check_result res;
	struct check_host h;
	struct check_tlsa_rec t[2];
	const struct scan_reason_class *top[2];
	(void)state;

	memset(&res, 0, sizeof(res));
	memset(&h, 0, sizeof(h));
	memset(t, 0, sizeof(t));
	t[0].rr.usage = 3; t[0].rr.selector = 1; t[0].rr.mtype = 1; t[0].usable = 1;
	t[1].rr.usage = 2; t[1].rr.selector = 0; t[1].rr.mtype = 2;
	h.tlsa = t;
	h.ntlsa = 2;
	h.ntlsa_usable = 1;
	h.tlsa_lookup.done = 1;
	h.tlsa_lookup.sec = DNS_SEC_SECURE;
	res.hosts = &h;
	res.nhosts = 1;
	res.mx_lookup.done = 1;
	res.mx_lookup.sec = DNS_SEC_SECURE;
	res.v = VERDICT_DANE_FAIL;
	snprintf(res.reason, sizeof(res.reason), "1 of 1 MX hosts fail; mx.x.test: 127.0.0.1: boom 1");
	scan_stats_add(st, &res);
	snprintf(res.reason, sizeof(res.reason), "1 of 1 MX hosts fail; mx.y.test: 127.0.0.2: boom 22");
	scan_stats_add(st, &res);
	res.v = VERDICT_VERIFIED;
	res.nhosts = 0;
	res.mx_lookup.sec = DNS_SEC_INSECURE;
	scan_stats_add(st, &res);
	assert_int_equal(st->domains, 3);
	assert_int_equal(st->verdicts[VERDICT_DANE_FAIL], 2);
	assert_int_equal(st->verdicts[VERDICT_VERIFIED], 1);
	assert_int_equal(st->mx_secure, 2);
	assert_int_equal(st->with_tlsa, 2);
	assert_int_equal(st->tlsa[3][1][1], 2);
	assert_int_equal(st->tlsa[2][0][2], 2);
	assert_int_equal(scan_stats_top(st, top, 2), 1);
	assert_string_equal(top[0]->text, "boom N");
	assert_int_equal(top[0]->count, 2);
	free(st);
}

/* The non-blocking reader: AGAIN while a line is incomplete, an over-long line reported
 * without being buffered whole (it spans several reads), a last line without newline. */
static void test_reader_nonblocking(void **state)
{
	struct scan_reader *r = malloc(sizeof(*r));
	struct scan_input *in = calloc(1, sizeof(*in));
	char *big = malloc(3 * SCAN_LINE_MAX + 2);
	int fds[2];
	(void)state;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	scan_reader_init(r, fds[0]);
	assert_int_equal(scan_reader_next(r, in), SCAN_IN_AGAIN);
	assert_int_equal(write(fds[1], "example.", 8), 8);
	assert_int_equal(scan_reader_next(r, in), SCAN_IN_AGAIN);   /* no newline yet */
	assert_int_equal(write(fds[1], "test\n", 5), 5);
	assert_int_equal(scan_reader_next(r, in), SCAN_IN_NAME);
	assert_string_equal(in->name, "example.test");
	memset(big, 'a', 3 * SCAN_LINE_MAX);
	assert_int_equal(write(fds[1], big, 2 * SCAN_LINE_MAX), 2 * SCAN_LINE_MAX);
	assert_int_equal(scan_reader_next(r, in), SCAN_IN_AGAIN);   /* over-long, not ended */
	big[SCAN_LINE_MAX] = '\n';
	assert_int_equal(write(fds[1], big, SCAN_LINE_MAX + 1), SCAN_LINE_MAX + 1);
	assert_int_equal(scan_reader_next(r, in), SCAN_IN_INVALID);
	assert_non_null(strstr(in->why, "longer than"));
	assert_int_equal(in->rawlen, SCAN_LINE_MAX);
	assert_int_equal(write(fds[1], "# comment\nlast.test", 19), 19);
	close(fds[1]);
	assert_int_equal(scan_reader_next(r, in), SCAN_IN_SKIP);
	assert_int_equal(scan_reader_next(r, in), SCAN_IN_NAME);   /* no final newline */
	assert_string_equal(in->name, "last.test");
	assert_int_equal(scan_reader_next(r, in), SCAN_IN_EOF);
	assert_int_equal(in->lineno, 4);
	close(fds[0]);
	free(big);
	free(in);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_read_long_line),
		cmocka_unit_test(test_reader_nonblocking),
		cmocka_unit_test(test_shard),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_reason_class),
		cmocka_unit_test(test_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/engine/verdict: names, folding order, monitoring status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/verdict.h"

static void test_names_round_trip(void **state)
{
	(void)state;
	for (int v = 0; v < VERDICT_COUNT; v++)
		assert_int_equal(verdict_parse(verdict_name((enum verdict)v)), v);
	assert_int_equal(verdict_parse("secure"), -1);
	assert_string_equal(verdict_name(VERDICT_ENCRYPT_ONLY), "encrypt-only");
	assert_string_equal(verdict_name(VERDICT_DANE_FAIL), "dane-fail");
}

struct fold_case {
	struct verdict_item items[4];
	size_t n;
	enum verdict want;
	size_t want_index;
};

static void test_fold_table(void **state)
{
	static const struct fold_case cases[] = {
		/* one good MX never hides a broken one */
		{{{VERDICT_DANE_FAIL, 0}, {VERDICT_VERIFIED, 0}}, 2, VERDICT_DANE_FAIL, 0},
		{{{VERDICT_VERIFIED, 0}, {VERDICT_DANE_FAIL, 0}}, 2, VERDICT_DANE_FAIL, 1},
		/* dane-fail outranks tempfail */
		{{{VERDICT_TEMPFAIL, 0}, {VERDICT_DANE_FAIL, 0}}, 2, VERDICT_DANE_FAIL, 1},
		/* the weakest protection among passes */
		{{{VERDICT_VERIFIED, 0}, {VERDICT_OPPORTUNISTIC, 0}}, 2, VERDICT_OPPORTUNISTIC, 1},
		{{{VERDICT_VERIFIED, 0}, {VERDICT_TRUSTED, 0}}, 2, VERDICT_TRUSTED, 1},
		{{{VERDICT_ENCRYPT_ONLY, 0}, {VERDICT_PLAINTEXT, 0}}, 2, VERDICT_PLAINTEXT, 1},
		/* an ignorable failure (unreachable family) does not count beside an answer */
		{{{VERDICT_TEMPFAIL, 1}, {VERDICT_VERIFIED, 0}}, 2, VERDICT_VERIFIED, 1},
		/* ...unless nothing else answered */
		{{{VERDICT_TEMPFAIL, 1}, {VERDICT_TEMPFAIL, 1}}, 2, VERDICT_TEMPFAIL, 0},
		/* nothing at all is a temporary failure */
		{{{VERDICT_VERIFIED, 0}}, 0, VERDICT_TEMPFAIL, 0},
		/* unauthenticated TLS without DANE is weaker than encrypt-only */
		{{{VERDICT_ENCRYPT_ONLY, 0}, {VERDICT_OPPORTUNISTIC, 0}}, 2, VERDICT_OPPORTUNISTIC, 1},
		{{{VERDICT_OPPORTUNISTIC, 0}, {VERDICT_ENCRYPT_ONLY, 0}}, 2, VERDICT_OPPORTUNISTIC, 0},
		/* trusted is weaker than verified, encrypt-only weaker than trusted */
		{{{VERDICT_TRUSTED, 0}, {VERDICT_ENCRYPT_ONLY, 0}}, 2, VERDICT_ENCRYPT_ONLY, 1},
		/* nomail is the weakest claim of all: anything real outranks it */
		{{{VERDICT_NOMAIL, 0}, {VERDICT_VERIFIED, 0}}, 2, VERDICT_VERIFIED, 1},
		/* tempfail outranks every pass, plaintext included */
		{{{VERDICT_PLAINTEXT, 0}, {VERDICT_TEMPFAIL, 0}}, 2, VERDICT_TEMPFAIL, 1},
		/* ties: the first of the worst is named */
		{{{VERDICT_DANE_FAIL, 0}, {VERDICT_DANE_FAIL, 0}}, 2, VERDICT_DANE_FAIL, 0},
		{{{VERDICT_VERIFIED, 0}, {VERDICT_DANE_FAIL, 0}, {VERDICT_DANE_FAIL, 0}}, 3, VERDICT_DANE_FAIL, 1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t idx = 99;
		enum verdict got = verdict_fold(cases[i].items, cases[i].n, &idx);
		if (got != cases[i].want)
			fail_msg("case %zu: got %s, want %s", i, verdict_name(got), verdict_name(cases[i].want));
		if (cases[i].n > 0)
			assert_int_equal(idx, cases[i].want_index);
	}
}

static void test_pass_and_dane(void **state)
{
	(void)state;
	for (int v = 0; v < VERDICT_COUNT; v++) {
		int pass = verdict_is_pass((enum verdict)v);
		assert_int_equal(pass, v != VERDICT_DANE_FAIL && v != VERDICT_TEMPFAIL);
		assert_int_equal(verdict_is_dane((enum verdict)v), v == VERDICT_VERIFIED || v == VERDICT_TRUSTED);
	}
}

static void test_nagios(void **state)
{
	(void)state;
	assert_int_equal(verdict_nagios(VERDICT_TRUSTED), 0);
	assert_int_equal(verdict_nagios(VERDICT_ENCRYPT_ONLY), 1);
	assert_int_equal(verdict_nagios(VERDICT_PLAINTEXT), 1);
	assert_int_equal(verdict_nagios(VERDICT_VERIFIED), 0);
	assert_int_equal(verdict_nagios(VERDICT_NOMAIL), 0);
	assert_int_equal(verdict_nagios(VERDICT_OPPORTUNISTIC), 1);
	assert_int_equal(verdict_nagios(VERDICT_DANE_FAIL), 2);
	assert_int_equal(verdict_nagios(VERDICT_TEMPFAIL), 2);
	assert_int_equal(verdict_nagios(VERDICT_COUNT), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_fold_table),
		cmocka_unit_test(test_pass_and_dane),
		cmocka_unit_test(test_nagios),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

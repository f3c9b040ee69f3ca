/* Unit tests for src/dane/policy: TLSA usability, host TLS level, CNAME bases, refnames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dane/policy.h"

static unsigned char d32[32], d64[64], d5[5];

struct usab_case {
	uint8_t usage, selector, mtype;
	unsigned char *data;
	size_t len;
	enum tlsa_usability want;
};

static const struct usab_case usab_cases[] = {
	{3, 1, 1, d32, 32, TLSA_USABLE},
	{3, 0, 1, d32, 32, TLSA_USABLE},
	{2, 1, 1, d32, 32, TLSA_USABLE},
	{2, 0, 2, d64, 64, TLSA_USABLE},
	{3, 1, 0, d5, 5, TLSA_USABLE},             /* full data: any non-zero length */
	{3, 1, 0, d5, 0, TLSA_UNUSABLE_LENGTH},
	{3, 1, 1, d64, 64, TLSA_UNUSABLE_LENGTH},  /* SHA-256 with 64 bytes */
	{3, 1, 2, d32, 32, TLSA_UNUSABLE_LENGTH},  /* SHA-512 with 32 bytes */
	{3, 1, 1, d32, 31, TLSA_UNUSABLE_LENGTH},
	{0, 0, 1, d32, 32, TLSA_UNUSABLE_PKIX},
	{1, 1, 1, d32, 32, TLSA_UNUSABLE_PKIX},
	{4, 1, 1, d32, 32, TLSA_UNUSABLE_USAGE},
	{255, 1, 1, d32, 32, TLSA_UNUSABLE_USAGE},
	{3, 2, 1, d32, 32, TLSA_UNUSABLE_SELECTOR},
	{3, 1, 3, d32, 32, TLSA_UNUSABLE_MTYPE},
	{2, 1, 255, d32, 32, TLSA_UNUSABLE_MTYPE},
};

static void test_usability(void **state)
{
	struct tlsa_rr rrs[sizeof(usab_cases) / sizeof(usab_cases[0])];
	size_t want_usable = 0;
	(void)state;
	for (size_t i = 0; i < sizeof(usab_cases) / sizeof(usab_cases[0]); i++) {
		const struct usab_case *c = &usab_cases[i];
		const char *why = NULL;
		struct tlsa_rr rr = {c->usage, c->selector, c->mtype, c->len, c->data};
		enum tlsa_usability got = policy_tlsa_usability(&rr, &why);

		if (got != c->want)
			fail_msg("case %zu (%u %u %u len %zu): got %d want %d", i, c->usage,
				 c->selector, c->mtype, c->len, got, c->want);
		assert_non_null(why);
		assert_true(got == TLSA_USABLE || strstr(why, "RFC 767") != NULL);
		rrs[i] = rr;
		want_usable += c->want == TLSA_USABLE;
	}
	assert_int_equal(policy_tlsa_count_usable(rrs, sizeof(rrs) / sizeof(rrs[0])), want_usable);
	assert_int_equal(want_usable, 5);
}

enum { RR_NONE, RR_USABLE, RR_UNUSABLE, RR_MIXED };

struct level_case {
	const char *name;
	enum dns_sec mx, addr;
	enum tlsa_outcome tlsa;
	int rrs;
	enum insecure_mx_policy mxpol;
	enum tls_level want;
	int trusted;
	const char *rfc;
};

#define S DNS_SEC_SECURE
#define I DNS_SEC_INSECURE
#define B DNS_SEC_BOGUS
static const struct level_case level_cases[] = {
	{"all secure, usable", S, S, TLSA_LOOKUP_SECURE, RR_USABLE, INSECURE_MX_MAY, TLS_LEVEL_DANE, 0, "RFC 7672 §2.2"},
	{"usable + unusable", S, S, TLSA_LOOKUP_SECURE, RR_MIXED, INSECURE_MX_MAY, TLS_LEVEL_DANE, 0, "RFC 7672 §2.2"},
	{"secure, none usable", S, S, TLSA_LOOKUP_SECURE, RR_UNUSABLE, INSECURE_MX_MAY, TLS_LEVEL_ENCRYPT, 0, "RFC 7672 §2.2"},
	{"secure, empty", S, S, TLSA_LOOKUP_SECURE, RR_NONE, INSECURE_MX_MAY, TLS_LEVEL_MAY, 0, "RFC 7672 §2.2"},
	{"nxdomain", S, S, TLSA_LOOKUP_NXDOMAIN, RR_NONE, INSECURE_MX_MAY, TLS_LEVEL_MAY, 0, "RFC 7672 §2.2"},
	{"nodata", S, S, TLSA_LOOKUP_NODATA, RR_NONE, INSECURE_MX_MAY, TLS_LEVEL_MAY, 0, "RFC 7672 §2.2"},
	{"tlsa insecure", S, S, TLSA_LOOKUP_INSECURE, RR_USABLE, INSECURE_MX_MAY, TLS_LEVEL_MAY, 0, "RFC 7672 §2.2"},
	{"tlsa bogus", S, S, TLSA_LOOKUP_BOGUS, RR_NONE, INSECURE_MX_MAY, TLS_LEVEL_TEMPFAIL, 0, "RFC 7672 §2.2"},
	{"tlsa servfail", S, S, TLSA_LOOKUP_SERVFAIL, RR_NONE, INSECURE_MX_MAY, TLS_LEVEL_TEMPFAIL, 0, "RFC 7672 §2.2"},
	{"tlsa timeout", S, S, TLSA_LOOKUP_TIMEOUT, RR_NONE, INSECURE_MX_MAY, TLS_LEVEL_TEMPFAIL, 0, "RFC 7672 §2.2"},
	{"tlsa not asked", S, S, TLSA_LOOKUP_NOT_LOOKED_UP, RR_NONE, INSECURE_MX_MAY, TLS_LEVEL_TEMPFAIL, 0, "RFC 7672 §2.2"},
	{"addr insecure", S, I, TLSA_LOOKUP_SECURE, RR_USABLE, INSECURE_MX_MAY, TLS_LEVEL_MAY, 0, "RFC 7672 §2.2.2"},
	{"addr bogus", S, B, TLSA_LOOKUP_SECURE, RR_USABLE, INSECURE_MX_MAY, TLS_LEVEL_TEMPFAIL, 0, "RFC 7672 §2.2.2"},
	{"mx bogus", B, S, TLSA_LOOKUP_SECURE, RR_USABLE, INSECURE_MX_DANE, TLS_LEVEL_TEMPFAIL, 0, "RFC 7672 §2.2.1"},
	{"mx insecure, may", I, S, TLSA_LOOKUP_SECURE, RR_USABLE, INSECURE_MX_MAY, TLS_LEVEL_MAY, 0, "RFC 7672 §2.2.1"},
	{"mx insecure, may, bogus tlsa", I, S, TLSA_LOOKUP_BOGUS, RR_NONE, INSECURE_MX_MAY, TLS_LEVEL_MAY, 0, "RFC 7672 §2.2.1"},
	{"mx insecure, dane", I, S, TLSA_LOOKUP_SECURE, RR_USABLE, INSECURE_MX_DANE, TLS_LEVEL_DANE, 1, "RFC 7672 §2.2.1"},
	{"mx insecure, dane, unusable", I, S, TLSA_LOOKUP_SECURE, RR_UNUSABLE, INSECURE_MX_DANE, TLS_LEVEL_ENCRYPT, 0, "RFC 7672 §2.2"},
	{"mx insecure, dane, bogus", I, S, TLSA_LOOKUP_BOGUS, RR_NONE, INSECURE_MX_DANE, TLS_LEVEL_TEMPFAIL, 0, "RFC 7672 §2.2"},
	{"mx insecure, dane, addr insecure", I, I, TLSA_LOOKUP_SECURE, RR_USABLE, INSECURE_MX_DANE, TLS_LEVEL_MAY, 0, "RFC 7672 §2.2.2"},
};

static void test_host_level(void **state)
{
	struct tlsa_rr good = {3, 1, 1, 32, d32}, bad = {1, 1, 1, 32, d32};
	struct tlsa_rr mixed[2] = {{0, 0, 1, 32, d32}, {2, 1, 1, 32, d32}};
	(void)state;
	for (size_t i = 0; i < sizeof(level_cases) / sizeof(level_cases[0]); i++) {
		const struct level_case *c = &level_cases[i];
		struct policy_input in = {c->mx, c->addr, c->tlsa, NULL, 0, c->mxpol};
		struct policy_result out;

		if (c->rrs == RR_USABLE)
			in.rrs = &good, in.nrrs = 1;
		else if (c->rrs == RR_UNUSABLE)
			in.rrs = &bad, in.nrrs = 1;
		else if (c->rrs == RR_MIXED)
			in.rrs = mixed, in.nrrs = 2;
		policy_host_level(&in, &out);
		if (out.level != c->want || out.trusted != c->trusted || strcmp(out.rfc, c->rfc) != 0)
			fail_msg("%s: got %s trusted=%d (%s, %s), want %s trusted=%d %s", c->name,
				 tls_level_name(out.level), out.trusted, out.reason, out.rfc,
				 tls_level_name(c->want), c->trusted, c->rfc);
		assert_true(strlen(out.reason) > 10);
		if (c->rrs == RR_MIXED)
			assert_true(out.usable == 1 && out.unusable == 1);
	}
	assert_string_equal(tls_level_name(TLS_LEVEL_ENCRYPT), "encrypt");
	assert_string_equal(tlsa_outcome_name(TLSA_LOOKUP_NODATA), "nodata");
}

static void test_tlsa_bases(void **state)
{
	struct tlsa_bases b;
	char q[DNS_NAME_MAX], small[16];
	(void)state;

	policy_tlsa_bases("mx.example.test.", "mail.hoster.test.", DNS_SEC_SECURE, &b);
	assert_int_equal(b.n, 2);
	assert_string_equal(b.name[0], "mail.hoster.test.");
	assert_string_equal(b.name[1], "mx.example.test.");
	/* no CNAME (or the same name in another case) -> the host only */
	policy_tlsa_bases("mx.example.test.", "MX.example.test", DNS_SEC_SECURE, &b);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.name[0], "mx.example.test.");
	policy_tlsa_bases("mx.example.test.", NULL, DNS_SEC_SECURE, &b);
	assert_int_equal(b.n, 1);
	/* insecure chain -> no TLSA lookup at all */
	policy_tlsa_bases("mx.example.test.", "mail.hoster.test.", DNS_SEC_INSECURE, &b);
	assert_int_equal(b.n, 0);
	policy_tlsa_bases("mx.example.test.", NULL, DNS_SEC_BOGUS, &b);
	assert_int_equal(b.n, 0);

	assert_int_equal(policy_tlsa_qname("mx.example.test.", 25, q, sizeof(q)), 0);
	assert_string_equal(q, "_25._tcp.mx.example.test.");
	assert_int_equal(policy_tlsa_qname("mx.example.test", 465, q, sizeof(q)), 0);
	assert_string_equal(q, "_465._tcp.mx.example.test.");
	assert_int_equal(policy_tlsa_qname("mx.example.test", 25, small, sizeof(small)), -1);
	assert_int_equal(policy_tlsa_qname(".", 25, q, sizeof(q)), -1);
	assert_int_equal(policy_tlsa_qname("a.test", 0, q, sizeof(q)), -1);
}

static void test_refnames(void **state)
{
	struct refnames r;
	(void)state;
	policy_refnames("mail.hoster.test.", "MX.Example.test.", "example.test", &r);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.name[0], "mail.hoster.test");
	assert_string_equal(r.name[1], "mx.example.test");
	assert_string_equal(r.name[2], "example.test");
	/* duplicates and empties are dropped */
	policy_refnames("mx.example.test.", "mx.example.test", NULL, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.name[0], "mx.example.test");
	policy_refnames("example.test.", "example.test.", "EXAMPLE.TEST", &r);
	assert_int_equal(r.n, 1);
	policy_refnames("", "mx.example.test", "", &r);
	assert_int_equal(r.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usability),
		cmocka_unit_test(test_host_level),
		cmocka_unit_test(test_tlsa_bases),
		cmocka_unit_test(test_refnames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

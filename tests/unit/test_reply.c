/* Unit tests for src/smtp/reply: multi-line assembly, limits, enhanced codes, EHLO keywords. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp/reply.h"

/* Lines separated by '\n' (no CRLF); want = result of the last feed. */
struct reply_case {
	const char *name;
	const char *input;
	int want;          /* REPLY_DONE, REPLY_MORE or an error */
	int code;          /* when REPLY_DONE */
	const char *enh;
	size_t nlines;
	const char *last_line;
};

static const struct reply_case cases[] = {
	{"single", "220 mx.example.test ESMTP", REPLY_DONE, 220, "", 1, "mx.example.test ESMTP"},
	{"code only", "250", REPLY_DONE, 250, "", 1, ""},
	{"empty text", "250 ", REPLY_DONE, 250, "", 1, ""},
	{"multi", "250-a\n250-b\n250 c", REPLY_DONE, 250, "", 3, "c"},
	{"continuation pending", "250-a\n250-b", REPLY_MORE, 0, "", 0, NULL},
	{"empty continuation", "250-\n250 x", REPLY_DONE, 250, "", 2, "x"},
	{"enhanced", "550 5.1.1 User unknown", REPLY_DONE, 550, "5.1.1", 1, "5.1.1 User unknown"},
	{"enhanced 3 digits", "451 4.123.999 busy", REPLY_DONE, 451, "4.123.999", 1, NULL},
	{"enhanced wrong class", "550 4.1.1 no", REPLY_DONE, 550, "", 1, NULL},
	{"enhanced 4 digits", "550 5.1.1234 no", REPLY_DONE, 550, "", 1, NULL},
	{"enhanced no space", "550 5.1.1x", REPLY_DONE, 550, "", 1, NULL},
	{"enhanced alone", "250 2.0.0", REPLY_DONE, 250, "2.0.0", 1, NULL},
	{"tab ok", "250 a\tb", REPLY_DONE, 250, "", 1, "a\tb"},
	{"utf8 tolerated", "220 \xc3\xa9t\xc3\xa9", REPLY_DONE, 220, "", 1, NULL},
	{"code mismatch", "250-a\n251 b", REPLY_EMISMATCH, 0, NULL, 0, NULL},
	{"code 1xx", "150 x", REPLY_ECODE, 0, NULL, 0, NULL},
	{"code 6xx", "600 x", REPLY_ECODE, 0, NULL, 0, NULL},
	{"code x6x", "260 x", REPLY_ECODE, 0, NULL, 0, NULL},
	{"not digits", "2a0 x", REPLY_ESYNTAX, 0, NULL, 0, NULL},
	{"short", "25", REPLY_ESYNTAX, 0, NULL, 0, NULL},
	{"empty line", "", REPLY_ESYNTAX, 0, NULL, 0, NULL},
	{"bad separator", "250_x", REPLY_ESYNTAX, 0, NULL, 0, NULL},
	{"no separator", "2500", REPLY_ESYNTAX, 0, NULL, 0, NULL},
	{"control char", "250 a\x1b[31m", REPLY_ETEXT, 0, NULL, 0, NULL},
	{"DEL", "250 a\x7f", REPLY_ETEXT, 0, NULL, 0, NULL},
	{"sticky error", "2x0 bad\n250 good", REPLY_ESYNTAX, 0, NULL, 0, NULL},
	{"two replies", "220 first\n250 second", REPLY_DONE, 250, "", 1, "second"},
};

/* Feed input split at '\n' (a NUL inside a line is not expressible here on purpose). */
static int feed_all(struct reply_parser *p, const char *input)
{
	const char *s = input;
	int r = REPLY_ESYNTAX;

	for (;;) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		r = reply_feed(p, s, len);
		if (nl == NULL)
			return r;
		s = nl + 1;
	}
}

static void test_reply_table(void **state)
{
	struct reply_parser *p = malloc(sizeof(*p));
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		int got;

		reply_parser_init(p);
		got = feed_all(p, c->input);
		if (got != c->want)
			fail_msg("%s: got %d (%s), want %d", c->name, got, reply_strerror(got), c->want);
		if (c->want != REPLY_DONE)
			continue;
		assert_int_equal(p->reply.code, c->code);
		assert_string_equal(p->reply.enh, c->enh);
		assert_int_equal(p->reply.nlines, c->nlines);
		if (c->last_line != NULL)
			assert_string_equal(reply_line(&p->reply, c->nlines - 1), c->last_line);
	}
	free(p);
}

static void test_reply_limits(void **state)
{
	struct reply_parser *p = malloc(sizeof(*p));
	char line[REPLY_LINE_MAX + 2];
	int r = 0;
	(void)state;

	/* one line at the limit passes; one byte more fails before parsing */
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	reply_parser_init(p);
	assert_int_equal(reply_feed(p, line, REPLY_LINE_MAX), REPLY_DONE);
	assert_int_equal(p->reply.text_len, REPLY_LINE_MAX - 4);
	reply_parser_init(p);
	assert_int_equal(reply_feed(p, line, REPLY_LINE_MAX + 1), REPLY_ELONG);

	/* too many lines */
	reply_parser_init(p);
	for (int i = 0; i < REPLY_LINES_MAX && r >= 0; i++)
		r = reply_feed(p, "250-x", 5);
	assert_int_equal(r, REPLY_MORE);
	assert_int_equal(reply_feed(p, "250 x", 5), REPLY_ELINES);

	/* too many bytes over few lines */
	memcpy(line, "250-", 4);
	reply_parser_init(p);
	r = REPLY_MORE;
	for (int i = 0; i < 20 && r == REPLY_MORE; i++)
		r = reply_feed(p, line, REPLY_LINE_MAX);
	assert_int_equal(r, REPLY_ETOOBIG);
	assert_string_equal(reply_strerror(REPLY_ETOOBIG), "reply too large");
	free(p);
}

static void test_reply_format(void **state)
{
	struct reply_parser *p = malloc(sizeof(*p));
	char out[64], small[12];
	(void)state;
	reply_parser_init(p);
	assert_int_equal(feed_all(p, "421-bye\\now\n421 \xff"), REPLY_DONE);
	assert_string_equal(reply_format(&p->reply, out, sizeof(out)), "421 bye\\\\now | \\xff");
	reply_parser_init(p);
	assert_int_equal(feed_all(p, "250 abcdefghijklmnop"), REPLY_DONE);
	assert_string_equal(reply_format(&p->reply, small, sizeof(small)), "250 abcd...");
	free(p);
}

/* STARTTLS and SIZE listed after more extensions than are stored still count: a server
 * with many extensions must not look like one without STARTTLS (a false DANE failure). */
static void test_ehlo_many(void **state)
{
	struct reply_parser *p = malloc(sizeof(*p));
	struct ehlo *e = malloc(sizeof(*e));
	char input[4096] = "250-mx.example.test\n";
	(void)state;

	for (int i = 0; i < 40; i++) {
		size_t n = strlen(input);
		snprintf(input + n, sizeof(input) - n, "250-X-EXT%d\n", i);
	}
	strcat(input, "250-SIZE 2048\n250 STARTTLS");
	reply_parser_init(p);
	assert_int_equal(feed_all(p, input), REPLY_DONE);
	assert_int_equal(reply_parse_ehlo(&p->reply, e), REPLY_OK);
	assert_true(e->flags & EHLO_STARTTLS);
	assert_true(e->flags & EHLO_SIZE);
	assert_int_equal(e->size_max, 2048);
	assert_int_equal(e->next, EHLO_EXT_MAX);
	assert_int_equal(e->nbad, 42 - EHLO_EXT_MAX);
	free(e);
	free(p);
}

static void test_ehlo(void **state)
{
	struct reply_parser *p = malloc(sizeof(*p));
	struct ehlo *e = malloc(sizeof(*e));
	char out[256];
	(void)state;

	reply_parser_init(p);
	assert_int_equal(feed_all(p, "250-mx.example.test Hello there\n250-PIPELINING\n"
				     "250-size 10240000\n250-8BITMIME\n250-STARTTLS\n"
				     "250-AUTH=LOGIN\n250-X-EXPERIMENT a b\n250-ENHANCEDSTATUSCODES\n"
				     "250 -bad"), REPLY_DONE);
	assert_int_equal(reply_parse_ehlo(&p->reply, e), REPLY_OK);
	assert_string_equal(e->domain, "mx.example.test");
	assert_int_equal(e->flags, EHLO_PIPELINING | EHLO_SIZE | EHLO_8BITMIME | EHLO_STARTTLS |
					   EHLO_ENHANCEDSTATUSCODES);
	assert_int_equal(e->size_max, 10240000);
	assert_int_equal(e->nbad, 2); /* AUTH=LOGIN and -bad */
	assert_non_null(ehlo_find(e, "x-experiment"));
	assert_string_equal(ehlo_find(e, "X-EXPERIMENT")->params, "a b");
	assert_null(ehlo_find(e, "SMTPUTF8"));
	assert_string_equal(ehlo_format(e, out, sizeof(out)),
			    "PIPELINING, SIZE 10240000, 8BITMIME, STARTTLS, X-EXPERIMENT a b, "
			    "ENHANCEDSTATUSCODES");

	/* SIZE without a number or with garbage: no limit announced */
	reply_parser_init(p);
	assert_int_equal(feed_all(p, "250-h\n250 SIZE 99999999999999999999999"), REPLY_DONE);
	assert_int_equal(reply_parse_ehlo(&p->reply, e), REPLY_OK);
	assert_true(e->flags & EHLO_SIZE);
	assert_int_equal(e->size_max, 0);

	/* a 5xx reply is not an extension list */
	reply_parser_init(p);
	assert_int_equal(feed_all(p, "502 no EHLO"), REPLY_DONE);
	assert_int_equal(reply_parse_ehlo(&p->reply, e), REPLY_ECODE);
	assert_int_equal(e->flags, 0);
	free(e);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_table),
		cmocka_unit_test(test_reply_limits),
		cmocka_unit_test(test_reply_format),
		cmocka_unit_test(test_ehlo),
		cmocka_unit_test(test_ehlo_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

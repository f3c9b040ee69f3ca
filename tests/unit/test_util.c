/* Unit tests for src/util: bounded buffer limits, escaping of peer text, JSON output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/str.h"

static void test_buf_limit(void **state)
{
	struct buf b = BUF_INIT(8);
	(void)state;
	assert_int_equal(buf_puts(&b, "12345678"), BUF_OK);
	assert_int_equal(buf_putc(&b, '9'), BUF_ETOOBIG);
	assert_string_equal(buf_cstr(&b), "12345678");
	assert_int_equal(buf_printf(&b, "%s", ""), BUF_OK);
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), BUF_OK);
	assert_string_equal(buf_cstr(&b), "42-x");
	buf_free(&b);
}

static void test_str_copy_truncation(void **state)
{
	char small[4];
	(void)state;
	assert_int_equal(str_copy(small, "abcdef", sizeof(small)), 6);
	assert_string_equal(small, "abc");
	assert_int_equal(str_copy(small, "ab", sizeof(small)), 2);
	assert_int_equal(str_cat(small, "xyz", sizeof(small)), 5);
	assert_string_equal(small, "abx");
}

static void test_str_escape(void **state)
{
	char out[64];
	(void)state;
	assert_string_equal(str_escape(out, sizeof(out), "a\r\n\\b\x1b", 6), "a\\x0d\\x0a\\\\b\\x1b");
	/* truncated output ends with "..." and stays within the buffer */
	assert_string_equal(str_escape(out, 8, "abcdefghijkl", 12), "abcd...");
	assert_true(str_ieq("MX.Example.TEST", "mx.example.test"));
	assert_false(str_ieq("a", "ab"));
}

static void test_str_to_ulong(void **state)
{
	unsigned long v = 7;
	(void)state;
	assert_int_equal(str_to_ulong("25", 1, 65535, &v), 0);
	assert_int_equal(v, 25);
	/* no sign, no blanks, nothing after, no empty string, range and overflow checked */
	static const char *const bad[] = {"", "-1", "+1", " 1", "1 ", "1x", "0x10", "65536", "0",
					  "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		assert_int_equal(str_to_ulong(bad[i], 1, 65535, &v), -1);
		assert_int_equal(v, 7);
	}
}

static void test_json_writer(void **state)
{
	struct buf b = BUF_INIT(0);
	struct json j;
	(void)state;
	json_init(&j, &b, 0);
	json_obj_begin(&j);
	json_kv_str(&j, "s", "q\"\\\n\x01\xff");
	json_key(&j, "a");
	json_arr_begin(&j);
	json_int(&j, -3);
	json_bool(&j, 1);
	json_null(&j);
	json_str(&j, "\xc3\xa9");
	json_arr_end(&j);
	json_key(&j, "e");
	json_obj_begin(&j);
	json_obj_end(&j);
	json_obj_end(&j);
	assert_int_equal(json_error(&j), 0);
	assert_string_equal(buf_cstr(&b),
			    "{\"s\":\"q\\\"\\\\\\n\\u0001\\ufffd\",\"a\":[-3,true,null,\"\xc3\xa9\"],\"e\":{}}");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_str_copy_truncation),
		cmocka_unit_test(test_str_escape),
		cmocka_unit_test(test_str_to_ulong),
		cmocka_unit_test(test_json_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

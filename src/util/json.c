/*
 * json: streaming writer. Must never emit text that a strict JSON parser rejects, whatever
 * bytes a peer put into a string.
 */
#include "util/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void json_init(struct json *j, struct buf *out, int pretty)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	j->pretty = pretty;
	j->first[0] = 1;
}

static void json_put(struct json *j, const char *s, size_t n)
{
	int r = buf_append(j->out, s, n);
	if (r != BUF_OK && j->err == 0)
		j->err = r;
}

static void json_indent(struct json *j)
{
	if (!j->pretty)
		return;
	json_put(j, "\n", 1);
	for (int i = 0; i < j->depth; i++)
		json_put(j, "  ", 2);
}

/* Called before every value or key: writes the separating comma. */
static void json_sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (!j->first[j->depth])
		json_put(j, ",", 1);
	j->first[j->depth] = 0;
	if (j->depth > 0)
		json_indent(j);
}

static void json_open(struct json *j, char c)
{
	json_sep(j);
	json_put(j, &c, 1);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->err = -3;
		return;
	}
	j->depth++;
	j->first[j->depth] = 1;
}

static void json_close(struct json *j, char c)
{
	int empty;

	if (j->depth == 0) {
		j->err = -3;
		return;
	}
	empty = j->first[j->depth];
	j->depth--;
	if (!empty)
		json_indent(j);
	json_put(j, &c, 1);
}

void json_obj_begin(struct json *j) { json_open(j, '{'); }
void json_obj_end(struct json *j) { json_close(j, '}'); }
void json_arr_begin(struct json *j) { json_open(j, '['); }
void json_arr_end(struct json *j) { json_close(j, ']'); }

/* Length of a valid UTF-8 sequence at s (at most n bytes), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void json_write_string(struct json *j, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	json_put(j, "\"", 1);
	while (i < len) {
		unsigned char c = s[i];
		char esc[8];
		size_t u;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			json_put(j, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			const char *short_esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
			if (short_esc != NULL)
				json_put(j, short_esc, 2);
			else {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				json_put(j, esc, 6);
			}
			i++;
		} else if ((u = utf8_len(s + i, len - i)) == 0) {
			json_put(j, "\\ufffd", 6);
			i++;
		} else {
			json_put(j, str + i, u);
			i += u;
		}
	}
	json_put(j, "\"", 1);
}

void json_key(struct json *j, const char *key)
{
	json_sep(j);
	json_write_string(j, key, strlen(key));
	json_put(j, j->pretty ? ": " : ":", j->pretty ? 2 : 1);
	j->after_key = 1;
}

void json_strn(struct json *j, const char *s, size_t len)
{
	json_sep(j);
	json_write_string(j, s, len);
}

void json_str(struct json *j, const char *s)
{
	if (s == NULL) {
		json_null(j);
		return;
	}
	json_strn(j, s, strlen(s));
}

void json_int(struct json *j, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%lld", v);
	json_sep(j);
	json_put(j, tmp, (size_t)n);
}

void json_uint(struct json *j, unsigned long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%llu", v);
	json_sep(j);
	json_put(j, tmp, (size_t)n);
}

void json_double(struct json *j, double v)
{
	char tmp[64];
	int n;

	if (!isfinite(v)) {
		json_null(j);
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.6g", v);
	json_sep(j);
	json_put(j, tmp, (size_t)n);
}

void json_bool(struct json *j, int v)
{
	json_sep(j);
	json_put(j, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json *j)
{
	json_sep(j);
	json_put(j, "null", 4);
}

void json_kv_str(struct json *j, const char *key, const char *s) { json_key(j, key); json_str(j, s); }
void json_kv_int(struct json *j, const char *key, long long v) { json_key(j, key); json_int(j, v); }
void json_kv_bool(struct json *j, const char *key, int v) { json_key(j, key); json_bool(j, v); }
void json_kv_double(struct json *j, const char *key, double v) { json_key(j, key); json_double(j, v); }

int json_error(const struct json *j) { return j->err != 0 ? j->err : (j->depth != 0 ? -3 : 0); }

/*
 * json: a streaming JSON writer into a struct buf. It tracks nesting and commas so that
 * callers cannot emit malformed JSON; strings are escaped per RFC 8259 (control bytes
 * and invalid UTF-8 become \uXXXX / U+FFFD). It never parses.
 */
#ifndef DANEMX_JSON_H
#define DANEMX_JSON_H

#include <stdint.h>
#include "util/buf.h"

#define JSON_MAX_DEPTH 32

struct json {
	struct buf *out;
	int depth;
	int first[JSON_MAX_DEPTH]; /* 1 while no member has been written at this depth */
	int after_key;             /* a key was written; the next value needs no comma */
	int pretty;
	int err;                   /* first buf error or nesting error; sticky */
};

void json_init(struct json *j, struct buf *out, int pretty);
void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s);   /* NULL writes null */
void json_strn(struct json *j, const char *s, size_t len);
void json_int(struct json *j, long long v);
void json_uint(struct json *j, unsigned long long v);
void json_double(struct json *j, double v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);
/* key + value shorthands */
void json_kv_str(struct json *j, const char *key, const char *s);
void json_kv_int(struct json *j, const char *key, long long v);
void json_kv_bool(struct json *j, const char *key, int v);
void json_kv_double(struct json *j, const char *key, double v);
/* 0 when everything written so far is well-formed and was stored. */
int json_error(const struct json *j);

#endif

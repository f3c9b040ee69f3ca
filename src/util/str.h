/*
 * str: small string helpers: bounded copy with truncation reported, escaping of peer
 * text before it reaches a log or a terminal, and a checked allocator family.
 */
#ifndef DANEMX_STR_H
#define DANEMX_STR_H

#include <stddef.h>

/* Copy src into dst (size dstsize, always NUL-terminated when dstsize > 0).
 * Returns strlen(src): a result >= dstsize means the copy was truncated. */
size_t str_copy(char *dst, const char *src, size_t dstsize);
/* Append src to dst; same contract as strlcat. */
size_t str_cat(char *dst, const char *src, size_t dstsize);

/* Write a printable, single-line form of len bytes of peer data into dst: bytes outside
 * 0x20-0x7e become \xHH, backslash becomes \\. Truncated to dstsize - 1 with "..." when
 * it does not fit. Returns dst. */
char *str_escape(char *dst, size_t dstsize, const void *src, size_t len);

/* snprintf where truncation is the intended outcome (reasons, log text): never fails,
 * always terminates. Returns 1 when the text was cut. */
int str_printf(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fill an optional error buffer (NULL or size 0: left alone) and return code, so that an
 * error path is one statement: return str_err(E_FILE, err, errlen, "%s: %s", path, why); */
int str_err(int code, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A whole decimal number from a command line or file: digits only (no sign, no blanks,
 * nothing after), within [min, max]. 0 and *out set, or -1 and *out untouched. */
int str_to_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Lower-case in place (ASCII only); returns s. */
char *str_lower(char *s);
/* 1 if a equals b ignoring ASCII case. */
int str_ieq(const char *a, const char *b);
/* Hex-encode len bytes into a newly allocated string (lower-case); NULL on ENOMEM. */
char *str_hex(const unsigned char *data, size_t len);

/* Allocation that cannot fail quietly: out of memory is fatal (log_panic). Use only
 * where recovery makes no sense (command setup); engines return errors instead. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);

#endif

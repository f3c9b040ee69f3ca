/*
 * buf: the one growable byte buffer, with its overflow and limit checks in one place
 * (after Postfix's vstring). A buffer has a hard maximum: appends past it fail with
 * BUF_ETOOBIG and leave the contents unchanged. Contents are always NUL-terminated.
 */
#ifndef DANEMX_BUF_H
#define DANEMX_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum buf_err { BUF_OK = 0, BUF_ENOMEM = -1, BUF_ETOOBIG = -2 };

struct buf {
	char *data;   /* NUL-terminated; NULL until the first append */
	size_t len;   /* bytes used, without the NUL */
	size_t cap;   /* bytes allocated */
	size_t max;   /* hard limit on len; 0 means BUF_DEFAULT_MAX */
};

#define BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)
#define BUF_INIT(maxlen) {NULL, 0, 0, (maxlen)}

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hand the contents to the caller (who frees them) and reset the buffer. */
char *buf_steal(struct buf *b);
const char *buf_cstr(const struct buf *b);

#endif

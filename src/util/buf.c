/*
 * buf: growable, bounded byte buffer. All size arithmetic is checked here so that no
 * caller does its own.
 */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static int buf_reserve(struct buf *b, size_t extra)
{
	size_t max = b->max ? b->max : BUF_DEFAULT_MAX;
	size_t need, ncap;
	char *p;

	if (extra > max || b->len > max - extra)
		return BUF_ETOOBIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return BUF_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if ((p = realloc(b->data, ncap)) == NULL)
		return BUF_ENOMEM;
	b->data = p;
	b->cap = ncap;
	return BUF_OK;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	int r;

	if ((r = buf_reserve(b, len)) != BUF_OK)
		return r;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return BUF_OK;
}

int buf_puts(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }
int buf_putc(struct buf *b, char c) { return buf_append(b, &c, 1); }

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n, r;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return BUF_ENOMEM;
	if ((r = buf_reserve(b, (size_t)n)) != BUF_OK)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return BUF_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

char *buf_steal(struct buf *b)
{
	char *p = b->data;

	if (p == NULL)
		p = calloc(1, 1);
	buf_init(b, b->max);
	return p;
}

const char *buf_cstr(const struct buf *b) { return b->data != NULL ? b->data : ""; }

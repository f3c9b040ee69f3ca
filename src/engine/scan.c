/*
 * scan: input classification, sharding, the resume set and survey statistics for
 * `danemx scan`. Every input line is bounded (a long line is consumed and reported, not
 * stored); IDNs go through libidn2 (IDNA2008, non-transitional, UTS #46 mapping) and then
 * the check engine's own name rules. It never resolves, never prints to stdout and never
 * exits.
 */
#include "engine/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <idn2.h>

#include "util/buf.h"
#include "util/str.h"

/* ---- input ---------------------------------------------------------------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* Non-ASCII names: UTF-8 to A-labels with libidn2; the result still passes the engine's
 * own check (check_normalise_domain). */
static int to_alabel(const char *s, char *out, size_t outlen, char *why, size_t whylen)
{
	char *ascii = NULL;
	int rc = idn2_to_ascii_8z(s, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);

	if (rc != IDN2_OK) {
		str_printf(why, whylen, "invalid internationalised name: %s", idn2_strerror(rc));
		return -1;
	}
	rc = str_copy(out, ascii, outlen) < outlen ? 0 : -1;
	if (rc < 0)
		str_copy(why, "invalid domain name: too long", whylen);
	idn2_free(ascii);
	return rc;
}

enum scan_in scan_classify(const char *line, size_t len, char *name, size_t namelen,
			   char *why, size_t whylen)
{
	char tmp[SCAN_LINE_MAX + 1], alabel[DNS_NAME_MAX * 2];
	const char *p = line, *e = line + len;

	while (p < e && is_space(*p))
		p++;
	while (e > p && is_space(e[-1]))
		e--;
	if (p == e || *p == '#')
		return SCAN_IN_SKIP;
	if ((size_t)(e - p) > SCAN_LINE_MAX || memchr(p, '\0', (size_t)(e - p)) != NULL) {
		str_copy(why, (size_t)(e - p) > SCAN_LINE_MAX ? "line too long" : "NUL byte in line", whylen);
		return SCAN_IN_INVALID;
	}
	memcpy(tmp, p, (size_t)(e - p));
	tmp[e - p] = '\0';
	if (has_8bit(tmp, (size_t)(e - p))) {
		if (to_alabel(tmp, alabel, sizeof(alabel), why, whylen) < 0)
			return SCAN_IN_INVALID;
		str_copy(tmp, alabel, sizeof(tmp));
	}
	str_lower(tmp);
	if (check_normalise_domain(tmp, name, namelen, why, whylen) < 0)
		return SCAN_IN_INVALID;
	return SCAN_IN_NAME;
}

/* One line read: count it, keep its first bytes, classify it (total: its full length). */
static enum scan_in scan_line(struct scan_input *in, const char *raw, size_t n, size_t total)
{
	if (n > SCAN_LINE_MAX)
		n = SCAN_LINE_MAX;
	if (raw != in->raw)
		memcpy(in->raw, raw, n);
	in->lineno++;
	in->raw[n] = '\0';
	in->rawlen = n;
	if (total > SCAN_LINE_MAX) {
		str_printf(in->why, sizeof(in->why), "line longer than %d bytes", SCAN_LINE_MAX);
		return SCAN_IN_INVALID;
	}
	return scan_classify(in->raw, n, in->name, sizeof(in->name), in->why, sizeof(in->why));
}

enum scan_in scan_read(FILE *fp, struct scan_input *in)
{
	size_t n = 0, total = 0;
	int c;

	in->rawlen = 0;
	in->name[0] = in->why[0] = in->raw[0] = '\0';
	errno = 0;
	while ((c = getc(fp)) != EOF && c != '\n') {
		if (n < SCAN_LINE_MAX)
			in->raw[n++] = (char)c;
		total++;
	}
	if (c == EOF && total == 0)
		return ferror(fp) ? SCAN_IN_ERROR : SCAN_IN_EOF;
	return scan_line(in, in->raw, n, total);
}

void scan_reader_init(struct scan_reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
}

/* Take a line of rawn kept bytes (total bytes long) out of the buffer's first used bytes. */
static void reader_consume(struct scan_reader *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

enum scan_in scan_reader_next(struct scan_reader *r, struct scan_input *in)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		ssize_t got;

		in->name[0] = in->why[0] = '\0';
		if (nl != NULL || (r->eof && (r->len > 0 || r->discarding))) {
			size_t n = nl != NULL ? (size_t)(nl - r->buf) : r->len;
			enum scan_in k;

			if (r->discarding)
				k = scan_line(in, r->pending, strlen(r->pending), r->discard_total + n);
			else
				k = scan_line(in, r->buf, n < SCAN_LINE_MAX ? n : SCAN_LINE_MAX, n);
			reader_consume(r, nl != NULL ? n + 1 : n);
			r->discarding = 0;
			return k;
		}
		if (r->eof)
			return SCAN_IN_EOF;
		if (r->discarding) {
			r->discard_total += r->len;
			r->len = 0;
		} else if (r->len > SCAN_LINE_MAX) {
			/* no newline within the limit: keep the head for the report, drop the rest */
			memcpy(r->pending, r->buf, SCAN_LINE_MAX);
			r->pending[SCAN_LINE_MAX] = '\0';
			r->discard_total = r->len;
			r->discarding = 1;
			r->len = 0;
		}
		got = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (got > 0)
			r->len += (size_t)got;
		else if (got == 0)
			r->eof = 1;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return SCAN_IN_AGAIN;
		else if (errno != EINTR)
			return SCAN_IN_ERROR;
	}
}

/* ---- shards --------------------------------------------------------------------- */

uint64_t scan_hash(const char *name)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *name != '\0'; name++) {
		h ^= (unsigned char)*name;
		h *= 1099511628211ULL;
	}
	return h;
}

int scan_in_shard(const char *name, unsigned k, unsigned n)
{
	return n <= 1 || scan_hash(name) % n == (uint64_t)(k - 1);
}

int scan_parse_shard(const char *s, unsigned *k, unsigned *n)
{
	char *end;
	unsigned long a, b;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	a = strtoul(s, &end, 10);
	if (errno != 0 || *end != '/' || end[1] < '0' || end[1] > '9')
		return -1;
	b = strtoul(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || a < 1 || b < 1 || a > b || b > 1000000)
		return -1;
	*k = (unsigned)a;
	*n = (unsigned)b;
	return 0;
}

/* ---- resume set ------------------------------------------------------------------ */

struct seen_node {
	struct seen_node *next;
	char key[];
};

struct scan_seen {
	struct seen_node **b;
	size_t nb, n;
};

struct scan_seen *scan_seen_new(void)
{
	struct scan_seen *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->b = calloc(1024, sizeof(struct seen_node *))) == NULL) {
		free(s);
		return NULL;
	}
	s->nb = 1024;
	return s;
}

void scan_seen_free(struct scan_seen *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nb; i++)
		for (struct seen_node *x = s->b[i], *nx; x != NULL; x = nx) {
			nx = x->next;
			free(x);
		}
	free(s->b);
	free(s);
}

static int seen_grow(struct scan_seen *s)
{
	size_t nb = s->nb * 2;
	struct seen_node **b = calloc(nb, sizeof(struct seen_node *));

	if (b == NULL)
		return -1;
	for (size_t i = 0; i < s->nb; i++)
		for (struct seen_node *x = s->b[i], *nx; x != NULL; x = nx) {
			nx = x->next;
			x->next = b[scan_hash(x->key) % nb];
			b[scan_hash(x->key) % nb] = x;
		}
	free(s->b);
	s->b = b;
	s->nb = nb;
	return 0;
}

int scan_seen_has(const struct scan_seen *s, const char *key)
{
	for (const struct seen_node *x = s->b[scan_hash(key) % s->nb]; x != NULL; x = x->next)
		if (strcmp(x->key, key) == 0)
			return 1;
	return 0;
}

int scan_seen_add(struct scan_seen *s, const char *key)
{
	size_t len = strlen(key), h;
	struct seen_node *x;

	if (scan_seen_has(s, key))
		return 0;
	if (s->n >= s->nb * 2 && seen_grow(s) != 0)
		return -1;
	if ((x = malloc(sizeof(*x) + len + 1)) == NULL)
		return -1;
	memcpy(x->key, key, len + 1);
	h = scan_hash(key) % s->nb;
	x->next = s->b[h];
	s->b[h] = x;
	s->n++;
	return 1;
}

size_t scan_seen_count(const struct scan_seen *s)
{
	return s->n;
}

char *scan_invalid_key(const char *raw, size_t rawlen, char *key, size_t keylen)
{
	struct buf b = BUF_INIT(0);
	struct json j;

	json_init(&j, &b, 0);
	json_strn(&j, raw, rawlen);
	/* the escaped text without its quotes, behind \001 (never in a domain key) */
	str_printf(key, keylen, "\001%.*s", b.len >= 2 ? (int)(b.len - 2) : 0,
		   b.len >= 2 ? b.data + 1 : "");
	buf_free(&b);
	return key;
}

/* The value of the JSON string that starts at p (just after its opening quote), as it is
 * written (escapes kept), into out. -1 when it does not end on this line. */
static int raw_json_string(const char *p, char *out, size_t outlen)
{
	size_t i = 0;

	for (; p[i] != '\0' && p[i] != '"'; i++)
		if (p[i] == '\\' && p[i + 1] != '\0')
			i++;
	if (p[i] != '"' || i + 1 > outlen)
		return -1;
	memcpy(out, p, i);
	out[i] = '\0';
	return 0;
}

/* The key of one complete output line: the domain, or the marked input of an error. */
static int line_key(const char *line, char *key, size_t keylen)
{
	static const char dom[] = "{\"domain\":\"", inv[] = "{\"domain\":null,\"input\":\"";

	if (strncmp(line, dom, sizeof(dom) - 1) == 0)
		return raw_json_string(line + sizeof(dom) - 1, key, keylen);
	if (strncmp(line, inv, sizeof(inv) - 1) == 0 && keylen > 1) {
		key[0] = '\001';
		return raw_json_string(line + sizeof(inv) - 1, key + 1, keylen - 1);
	}
	return -1;
}

static int resume_scan(FILE *fp, struct scan_seen *seen, size_t *lines, off_t *good)
{
	struct buf line = BUF_INIT((size_t)16 * 1024 * 1024);
	char key[SCAN_LINE_MAX * 6 + 8];
	int c, rc = 0;
	off_t pos = 0;

	*good = 0;
	while ((c = getc(fp)) != EOF) {
		pos++;
		if (c != '\n') {
			if (buf_putc(&line, (char)c) != BUF_OK) {
				rc = -1;
				break;
			}
			continue;
		}
		*good = pos;
		if (line.len > 0 && line_key(buf_cstr(&line), key, sizeof(key)) == 0) {
			if (scan_seen_add(seen, key) < 0) {
				rc = -1;
				break;
			}
			(*lines)++;
		}
		buf_reset(&line);
	}
	buf_free(&line);
	return rc;
}

int scan_resume_load(const char *path, struct scan_seen *seen, size_t *lines, char *why,
		     size_t whylen)
{
	FILE *fp = fopen(path, "r");
	off_t good = 0;
	struct stat sb;
	int rc = -1;

	*lines = 0;
	if (fp == NULL) {
		if (errno == ENOENT)
			return 0;
		str_printf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (resume_scan(fp, seen, lines, &good) != 0) {
		str_printf(why, whylen, "%s: out of memory or a line over 16 MiB", path);
		goto out;
	}
	if (ferror(fp) || fstat(fileno(fp), &sb) != 0) {
		str_printf(why, whylen, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	/* a torn last line (killed mid-write, or a crash) is cut, then checked again */
	if (sb.st_size > good && truncate(path, good) != 0) {
		str_printf(why, whylen, "%s: cannot cut the torn last line: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	fclose(fp);
	return rc;
}

/* ---- output ---------------------------------------------------------------------- */

void scan_invalid_json(const struct scan_input *in, struct buf *b)
{
	struct json j;

	json_init(&j, b, 0);
	json_obj_begin(&j);
	json_kv_str(&j, "domain", NULL);
	json_key(&j, "input");
	json_strn(&j, in->raw, in->rawlen);
	json_kv_int(&j, "line", (long long)in->lineno);
	json_kv_str(&j, "verdict", NULL);
	json_key(&j, "error");
	json_obj_begin(&j);
	json_kv_str(&j, "category", "input");
	json_kv_str(&j, "reason", in->why);
	json_obj_end(&j);
	json_obj_end(&j);
	buf_putc(b, '\n');
}

int scan_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

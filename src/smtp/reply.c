/*
 * reply: strict SMTP reply assembly and EHLO keyword parsing. Limits are checked before
 * a byte is parsed or copied; a malformed line fails the whole reply and the parser
 * stays failed (no guessing where the next reply starts). Never allocates, never logs.
 */
#include "smtp/reply.h"
#include "util/str.h"

#include <stdio.h>
#include <string.h>

enum { RP_IDLE = 0, RP_INSIDE = 1, RP_FAILED = -1 };

static const char *const reply_errs[] = {
	"ok",
	"reply line too long",
	"malformed reply line",
	"reply code out of range",
	"reply code changed inside a multi-line reply",
	"control character in reply text",
	"too many lines in reply",
	"reply too large",
};

const char *reply_strerror(int err)
{
	if (err > 0 || -err >= (int)(sizeof(reply_errs) / sizeof(reply_errs[0])))
		return "unknown reply error";
	return reply_errs[-err];
}

void reply_parser_init(struct reply_parser *p)
{
	memset(p, 0, sizeof(*p));
}

/* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39. */
static int parse_code(const char *s, int *code)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
		return REPLY_ESYNTAX;
	if (s[0] < '2' || s[0] > '5' || s[1] > '5')
		return REPLY_ECODE;
	*code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	return REPLY_OK;
}

/* textstring = 1*(%d09 / %d32-126); 8-bit bytes are tolerated (UTF-8 greetings). */
static int check_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return REPLY_ETEXT;
	}
	return REPLY_OK;
}

/* RFC 3463 / RFC 2034: "c.s.d " at the start of the first line, class = code class. */
static void parse_enh(struct reply *r, const char *t, size_t len)
{
	size_t i = 0, part = 0, digits = 0;

	if (len < 5 || t[0] != '0' + r->code / 100)
		return;
	for (i = 1; i < len && i < sizeof(r->enh) - 1; i++) {
		if (t[i] >= '0' && t[i] <= '9' && part > 0) {
			if (++digits > 3)
				return;
		} else if (t[i] == '.' && part < 2 && (part == 0 ? i == 1 : digits > 0)) {
			part++;
			digits = 0;
		} else {
			break;
		}
	}
	if (part != 2 || digits == 0 || (i < len && t[i] != ' '))
		return;
	memcpy(r->enh, t, i);
	r->enh[i] = '\0';
}

static int store_line(struct reply *r, const char *t, size_t len)
{
	if (r->nlines >= REPLY_LINES_MAX)
		return REPLY_ELINES;
	if (len > REPLY_TEXT_MAX - r->text_len)
		return REPLY_ETOOBIG;
	/* each earlier line occupies its bytes plus a NUL */
	size_t pos = r->text_len + r->nlines;

	r->off[r->nlines++] = (uint16_t)pos;
	memcpy(r->text + pos, t, len);
	r->text[pos + len] = '\0';
	r->text_len += len;
	return REPLY_OK;
}

static int feed_checked(struct reply_parser *p, const char *line, size_t len)
{
	struct reply *r = &p->reply;
	int code = 0, err;
	int last;

	if (len > REPLY_LINE_MAX)
		return REPLY_ELONG;
	if (len < 3 || (len > 3 && line[3] != ' ' && line[3] != '-'))
		return REPLY_ESYNTAX;
	if ((err = parse_code(line, &code)) != REPLY_OK)
		return err;
	last = len == 3 || line[3] == ' ';
	if (len > 4 && (err = check_text(line + 4, len - 4)) != REPLY_OK)
		return err;
	if (p->state == RP_INSIDE && code != r->code)
		return REPLY_EMISMATCH;
	if (p->state != RP_INSIDE) {
		memset(r, 0, offsetof(struct reply, text));
		r->text[0] = '\0';
		r->code = code;
		parse_enh(r, line + 4, len > 4 ? len - 4 : 0);
	}
	if ((err = store_line(r, line + (len > 4 ? 4 : len), len > 4 ? len - 4 : 0)) != REPLY_OK)
		return err;
	p->state = last ? RP_IDLE : RP_INSIDE;
	return last ? REPLY_DONE : REPLY_MORE;
}

int reply_feed(struct reply_parser *p, const char *line, size_t len)
{
	int r;

	if (p->state == RP_FAILED)
		return REPLY_ESYNTAX;
	if ((r = feed_checked(p, line, len)) < 0)
		p->state = RP_FAILED;
	return r;
}

const char *reply_line(const struct reply *r, size_t i)
{
	return i < r->nlines ? r->text + r->off[i] : "";
}

char *reply_format(const struct reply *r, char *dst, size_t dstsize)
{
	char tmp[REPLY_LINE_MAX * 4 + 1];
	size_t i;
	int cut = 0;

	if (dstsize == 0)
		return dst;
	dst[0] = '\0';
	if (r->code != 0) {
		snprintf(tmp, sizeof(tmp), "%03d", r->code);
		str_cat(dst, tmp, dstsize);
	}
	for (i = 0; i < r->nlines; i++) {
		const char *t = reply_line(r, i);
		str_cat(dst, i == 0 ? " " : " | ", dstsize);
		str_escape(tmp, sizeof(tmp), t, strlen(t));
		if (str_cat(dst, tmp, dstsize) >= dstsize) {
			cut = 1;
			break;
		}
	}
	if (cut && dstsize > 4)
		memcpy(dst + dstsize - 4, "...", 4);
	return dst;
}

/* EHLO keyword table: name -> flag. */
static const struct {
	const char *name;
	unsigned flag;
} ehlo_known[] = {
	{"STARTTLS", EHLO_STARTTLS},     {"PIPELINING", EHLO_PIPELINING},
	{"SIZE", EHLO_SIZE},             {"8BITMIME", EHLO_8BITMIME},
	{"SMTPUTF8", EHLO_SMTPUTF8},     {"ENHANCEDSTATUSCODES", EHLO_ENHANCEDSTATUSCODES},
	{"CHUNKING", EHLO_CHUNKING},     {"DSN", EHLO_DSN},
	{"REQUIRETLS", EHLO_REQUIRETLS}, {"AUTH", EHLO_AUTH},
};

/* ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); uppercased into kw. */
static int ehlo_keyword(const char *t, size_t len, char *kw)
{
	if (len == 0 || len >= EHLO_KEYWORD_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = t[i];
		int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || c != '-'))
			return -1;
		kw[i] = (char)((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
	}
	kw[len] = '\0';
	return 0;
}

/* RFC 1870: "SIZE" [SP number]; an absent or unparsable number announces no limit. */
static uint64_t ehlo_size(const char *params)
{
	uint64_t v = 0;

	if (*params == '\0')
		return 0;
	for (const char *p = params; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	return v;
}

static void ehlo_add(struct ehlo *e, const char *t)
{
	const char *sp = strchr(t, ' ');
	size_t klen = sp ? (size_t)(sp - t) : strlen(t);
	char kw[EHLO_KEYWORD_MAX];

	if (ehlo_keyword(t, klen, kw) != 0) {
		e->nbad++;
		return;
	}
	/* The flags of known extensions never depend on room to store the line: STARTTLS
	 * listed after EHLO_EXT_MAX others must still be seen (else DANE fails falsely). */
	for (size_t i = 0; i < sizeof(ehlo_known) / sizeof(ehlo_known[0]); i++)
		if (strcmp(kw, ehlo_known[i].name) == 0)
			e->flags |= ehlo_known[i].flag;
	if (strcmp(kw, "SIZE") == 0)
		e->size_max = ehlo_size(sp ? sp + 1 : "");
	if (e->next >= EHLO_EXT_MAX) {
		e->nbad++;  /* kept for the flags above, not listed */
		return;
	}
	str_copy(e->ext[e->next].keyword, kw, sizeof(e->ext[e->next].keyword));
	/* params are checked printable; over-long ones are cut (only SIZE's is parsed) */
	str_copy(e->ext[e->next].params, sp ? sp + 1 : "", sizeof(e->ext[e->next].params));
	e->next++;
}

int reply_parse_ehlo(const struct reply *r, struct ehlo *out)
{
	const char *first;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (r->code != 250)
		return REPLY_ECODE;
	first = reply_line(r, 0);
	n = strcspn(first, " ");
	if (n >= sizeof(out->domain))
		n = sizeof(out->domain) - 1;
	memcpy(out->domain, first, n);
	out->domain[n] = '\0';
	for (size_t i = 1; i < r->nlines; i++)
		ehlo_add(out, reply_line(r, i));
	return REPLY_OK;
}

const struct ehlo_ext *ehlo_find(const struct ehlo *e, const char *kw)
{
	for (size_t i = 0; i < e->next; i++)
		if (str_ieq(e->ext[i].keyword, kw))
			return &e->ext[i];
	return NULL;
}

char *ehlo_format(const struct ehlo *e, char *dst, size_t dstsize)
{
	char tmp[EHLO_PARAMS_MAX * 4 + EHLO_KEYWORD_MAX + 8];

	if (dstsize == 0)
		return dst;
	dst[0] = '\0';
	for (size_t i = 0; i < e->next; i++) {
		char esc[EHLO_PARAMS_MAX * 4 + 1];
		const struct ehlo_ext *x = &e->ext[i];

		str_escape(esc, sizeof(esc), x->params, strlen(x->params));
		snprintf(tmp, sizeof(tmp), "%s%s%s%s", i ? ", " : "", x->keyword, esc[0] ? " " : "", esc);
		if (str_cat(dst, tmp, dstsize) >= dstsize) {
			if (dstsize > 4)
				memcpy(dst + dstsize - 4, "...", 4);
			break;
		}
	}
	return dst;
}

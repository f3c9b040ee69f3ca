/*
 * reply: a strict parser for SMTP server replies (RFC 5321 §4.2) and for the EHLO
 * extension list (RFC 5321 §4.1.1.1). It is fed one line at a time (without CRLF) by
 * the connection layer and assembles multi-line replies. Every line, the number of lines
 * and the total bytes are bounded and checked before anything is parsed (after Postfix
 * smtp_chat's denial-of-service block): a peer can make a reply fail, never make it
 * grow. It never does I/O, never logs peer bytes unescaped and never allocates.
 */
#ifndef DANEMX_REPLY_H
#define DANEMX_REPLY_H

#include <stddef.h>
#include <stdint.h>

/* Limits. RFC 5321 §4.5.3.1.5 allows 512 octets per reply line including CRLF; real
 * servers exceed it a little, so a line may hold REPLY_LINE_MAX bytes without CRLF. */
#define REPLY_LINE_MAX 1000
#define REPLY_LINES_MAX 64      /* lines in one reply (EHLO replies have ~15) */
#define REPLY_TEXT_MAX 8192     /* bytes of text over all lines of one reply */

enum reply_err {
	REPLY_OK = 0,
	REPLY_ELONG = -1,     /* one line longer than REPLY_LINE_MAX */
	REPLY_ESYNTAX = -2,   /* not "NNN", "NNN text" or "NNN-text" */
	REPLY_ECODE = -3,     /* code outside 200-559 (RFC 5321 reply-code grammar) */
	REPLY_EMISMATCH = -4, /* continuation line with a different code */
	REPLY_ETEXT = -5,     /* a control byte (other than HT) in the text */
	REPLY_ELINES = -6,    /* more than REPLY_LINES_MAX lines */
	REPLY_ETOOBIG = -7,   /* more than REPLY_TEXT_MAX bytes of text */
};

/* What reply_feed() returns besides errors. */
#define REPLY_DONE 0          /* the last line arrived: the reply is complete */
#define REPLY_MORE 1          /* a continuation line: feed the next one */

/* One complete reply. Texts are the raw bytes after "NNN-" / "NNN " (never containing
 * CR, LF or NUL; bytes >= 0x80 are kept, as some servers send UTF-8 greetings). Use
 * reply_format() before any of it reaches a log or a terminal. */
struct reply {
	int code;                       /* 200..559 */
	char enh[16];                   /* RFC 3463 "c.s.d" from the first line, or "" */
	size_t nlines;
	uint16_t off[REPLY_LINES_MAX];  /* start of line i in text */
	size_t text_len;
	char text[REPLY_TEXT_MAX + REPLY_LINES_MAX]; /* lines, each NUL-terminated */
};

struct reply_parser {
	int state;                      /* internal: 0 = idle, 1 = inside a reply, <0 = error */
	struct reply reply;             /* valid after REPLY_DONE, until the next feed */
};

void reply_parser_init(struct reply_parser *p);
/* Feed one line without its CRLF. Returns REPLY_DONE (p->reply is complete; the next
 * feed starts a new reply), REPLY_MORE, or a negative enum reply_err. Errors are
 * sticky until reply_parser_init(): a peer that sent a bad line is not resynchronised. */
int reply_feed(struct reply_parser *p, const char *line, size_t len);
const char *reply_strerror(int err);

/* Text of line i (0-based), NUL-terminated; "" when i is out of range. */
const char *reply_line(const struct reply *r, size_t i);
/* Class helpers: 2xx, 3xx, 4xx, 5xx. */
static inline int reply_ok(const struct reply *r) { return r->code / 100 == 2; }
static inline int reply_tempfail(const struct reply *r) { return r->code / 100 == 4; }
static inline int reply_permfail(const struct reply *r) { return r->code / 100 == 5; }
/* One printable line for logs and reports: "250 text | text2 | ...", peer bytes escaped
 * with str_escape, truncated with "..." to dstsize. Returns dst. */
char *reply_format(const struct reply *r, char *dst, size_t dstsize);

/* EHLO extensions (RFC 5321 §4.1.1.1: ehlo-line = keyword *(SP param)). */
#define EHLO_EXT_MAX 16   /* listed; known extensions set flags beyond it too */
#define EHLO_KEYWORD_MAX 32
#define EHLO_PARAMS_MAX 128

enum ehlo_flag {
	EHLO_STARTTLS = 1 << 0,
	EHLO_PIPELINING = 1 << 1,
	EHLO_SIZE = 1 << 2,
	EHLO_8BITMIME = 1 << 3,
	EHLO_SMTPUTF8 = 1 << 4,
	EHLO_ENHANCEDSTATUSCODES = 1 << 5,
	EHLO_CHUNKING = 1 << 6,
	EHLO_DSN = 1 << 7,
	EHLO_REQUIRETLS = 1 << 8,
	EHLO_AUTH = 1 << 9,
};

struct ehlo_ext {
	char keyword[EHLO_KEYWORD_MAX]; /* upper case */
	char params[EHLO_PARAMS_MAX];   /* raw, printable-checked, "" when none */
};

struct ehlo {
	char domain[256];               /* first word of the first line (the server's name) */
	unsigned flags;                 /* enum ehlo_flag bits */
	uint64_t size_max;              /* SIZE n (RFC 1870); 0 = no limit announced */
	size_t next;
	struct ehlo_ext ext[EHLO_EXT_MAX];
	size_t nbad;                    /* extension lines ignored as malformed or excess */
};

/* Parse a complete 250 EHLO reply into out (always filled; malformed lines are
 * counted in nbad and skipped). Returns REPLY_OK, or REPLY_ECODE when r is not 250. */
int reply_parse_ehlo(const struct reply *r, struct ehlo *out);
/* The extension named kw (case-insensitive), or NULL. */
const struct ehlo_ext *ehlo_find(const struct ehlo *e, const char *kw);
/* "KEYWORD[ params], ..." in server order, escaped and truncated to dstsize. */
char *ehlo_format(const struct ehlo *e, char *dst, size_t dstsize);

#endif

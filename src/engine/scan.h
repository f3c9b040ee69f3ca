/*
 * scan: the pieces of `danemx scan` that are not the check engine: a bounded line reader
 * that turns an input list into normalised domain names (comments and blank lines
 * skipped, IDNs to A-labels, invalid names reported, never fatal), the shard function,
 * the resume set read back from an earlier output file (truncated to its last complete
 * line), and the survey statistics folded from check results. Memory never grows with the
 * length of the input list (only the resume set grows, with the domains already done).
 * It never prints to stdout and never exits; the command decides output.
 */
#ifndef DANEMX_SCAN_H
#define DANEMX_SCAN_H

#include <stdint.h>
#include <stdio.h>

#include "dns/rr.h"
#include "engine/check.h"
#include "util/json.h"

#define SCAN_LINE_MAX 1024          /* input bytes per line; longer lines are errors */
#define SCAN_REASON_CLASSES 256     /* distinct failure reasons counted; more go to "other" */
#define SCAN_TOP_REASONS 10

/* ---- input ---------------------------------------------------------------------- */

enum scan_in {
	SCAN_IN_NAME = 0,   /* name holds a normalised domain */
	SCAN_IN_SKIP,       /* blank or comment line */
	SCAN_IN_INVALID,    /* raw/why say what is wrong; report it and go on */
	SCAN_IN_EOF,
	SCAN_IN_ERROR,      /* read error (errno) */
	SCAN_IN_AGAIN,      /* scan_reader_next: no complete line now; wait for readability */
};

struct scan_input {
	unsigned long lineno;
	char name[DNS_NAME_MAX];
	char raw[SCAN_LINE_MAX + 1];   /* the line as read (at most SCAN_LINE_MAX bytes kept) */
	size_t rawlen;
	char why[256];
};

/* Read the next line of fp and classify it. It may block: for files and tests. */
enum scan_in scan_read(FILE *fp, struct scan_input *in);

/* A line reader over a descriptor that never blocks the event loop: lines come from a
 * bounded buffer; when none is complete and a non-blocking fd has nothing more now, it
 * returns SCAN_IN_AGAIN and the caller waits for readability. Over-long lines are
 * reported exactly as scan_read() reports them, and never buffered whole. */
#define SCAN_READER_BUF (4 * SCAN_LINE_MAX)
struct scan_reader {
	int fd;
	char buf[SCAN_READER_BUF];
	size_t len;
	int eof;
	int discarding;                 /* inside an over-long line: its rest is dropped */
	char pending[SCAN_LINE_MAX + 1]; /* the first bytes of that line */
	size_t discard_total;           /* its length so far */
};
void scan_reader_init(struct scan_reader *r, int fd);
enum scan_in scan_reader_next(struct scan_reader *r, struct scan_input *in);
/* One line (without its newline) to a normalised A-label name: SCAN_IN_NAME, _SKIP or
 * _INVALID (why set). */
enum scan_in scan_classify(const char *line, size_t len, char *name, size_t namelen,
			   char *why, size_t whylen);

/* ---- shards --------------------------------------------------------------------- */

/* FNV-1a 64 of the normalised name's bytes (lower-case A-labels, no final dot). */
uint64_t scan_hash(const char *name);
/* 1 when name belongs to shard k of n (1 <= k <= n): scan_hash(name) % n == k - 1. */
int scan_in_shard(const char *name, unsigned k, unsigned n);
/* Parse "K/N" (1 <= K <= N <= 1000000). 0 or -1. */
int scan_parse_shard(const char *s, unsigned *k, unsigned *n);

/* ---- resume ---------------------------------------------------------------------- */

struct scan_seen;
struct scan_seen *scan_seen_new(void);
void scan_seen_free(struct scan_seen *s);
/* 1 when added, 0 when already there, -1 out of memory. */
int scan_seen_add(struct scan_seen *s, const char *key);
int scan_seen_has(const struct scan_seen *s, const char *key);
size_t scan_seen_count(const struct scan_seen *s);

/* The resume key of an invalid input line: its JSON-escaped text behind a marker byte
 * (what the output's "input" field holds). Returns key. */
char *scan_invalid_key(const char *raw, size_t rawlen, char *key, size_t keylen);

/* Read an earlier output file: every complete line's "domain" (or the "input" of an
 * invalid-line record) goes into seen; a torn last line is cut off (the file is
 * truncated to its last newline). A missing file is not an error. 0, or -1 with why. */
int scan_resume_load(const char *path, struct scan_seen *seen, size_t *lines, char *why,
		     size_t whylen);

/* ---- output ---------------------------------------------------------------------- */

/* The JSON line for an invalid input line (docs/scan.md), with its newline, into b. */
void scan_invalid_json(const struct scan_input *in, struct buf *b);
/* Write len bytes with one write() where the kernel allows it, retrying partial writes
 * and EINTR. 0 or -1 (errno). */
int scan_write_all(int fd, const char *data, size_t len);

/* ---- statistics -------------------------------------------------------------------- */

struct scan_reason_class {
	char text[128];
	unsigned long count;
};

struct scan_stats {
	unsigned long domains;                /* checked (results folded) */
	unsigned long invalid;                /* invalid input lines */
	unsigned long verdicts[VERDICT_COUNT];
	unsigned long validation_failed;      /* the resolver could not validate */
	unsigned long mx_secure;              /* MX RRset (or implicit MX) DNSSEC-secure */
	unsigned long with_tlsa;              /* some MX host has a secure TLSA RRset */
	unsigned long tlsa_usable_domains;    /* some MX host has a usable TLSA record */
	unsigned long tlsa[4][2][3];          /* TLSA records by usage, selector, mtype */
	unsigned long tlsa_other;             /* records with parameters outside that */
	struct scan_reason_class reasons[SCAN_REASON_CLASSES];
	size_t nreasons;
	unsigned long reasons_other;          /* failures whose class did not fit */
	double elapsed_ms_total;
};

void scan_stats_add(struct scan_stats *st, const struct check_result *res);
/* A failure reason without names, addresses and numbers, so that equal causes count
 * together: "DANE authentication failed: no TLSA record matches the N certificate(s)...". */
void scan_reason_class(const char *reason, char *out, size_t outlen);
/* The classes sorted by count (highest first); returns how many (at most max). */
size_t scan_stats_top(const struct scan_stats *st, const struct scan_reason_class **top, size_t max);
void scan_stats_text(const struct scan_stats *st, FILE *fp);
void scan_stats_json(const struct scan_stats *st, struct json *j);

#endif

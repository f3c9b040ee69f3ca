/*
 * cmd_scan: `danemx scan`, the check engine over a list of domains, streaming: names are
 * read one bounded line at a time and admitted up to --concurrency in flight, each
 * result is written as one JSON line (the check --json object) with a single write() as
 * soon as its domain finishes, and folded into the survey statistics, then freed. Nothing
 * here holds the whole list; --resume holds only the keys of lines already written.
 * It decides no verdict itself: the engine does.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli_dns.h"
#include "cli/commands.h"
#include "engine/check.h"
#include "engine/iplimit.h"
#include "engine/scan.h"
#include "tls/tls_client.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

static int cmd_scan_run(int argc, char **argv);

const struct command cmd_scan_def = {
	"scan",
	cmd_scan_run,
	"check a list of domains, streaming one JSON line each, with survey statistics",
	"danemx scan [--concurrency N] [--per-ip M] [--shard K/N] [--output FILE] [--resume]\n"
	"       [--summary-json FILE] [--progress | --quiet] [-4 | -6] [--port N] [--helo NAME]\n"
	"       [--single-key] " CLI_DNS_USAGE "\n"
	"       [FILE | -]",
	"Reads domain names, one a line, from FILE or standard input (blank lines and '#'\n"
	"comments skipped, IDNs converted to A-labels, invalid names reported and skipped),\n"
	"checks each and writes one JSON object per line (docs/check-json.md, docs/scan.md).\n"
	"Options:\n"
	"  --concurrency N         domains in flight at once (default 100)\n"
	"  --per-ip M              at most M connections at once to any one address\n"
	"                          (default: no cap)\n"
	"  --shard K/N             only the names with FNV-1a-64(name) mod N == K-1\n"
	"  --output FILE           write the JSON lines to FILE (default standard output)\n"
	"  --resume                skip the domains already in --output FILE; a torn last\n"
	"                          line is cut and that domain checked again\n"
	"  --summary-json FILE     also write the survey statistics as JSON to FILE\n"
	"  --progress              a progress line on standard error even when it is not a\n"
	"                          terminal (default: only on a terminal)\n"
	"  --quiet                 no progress line and no text summary\n"
	"  -4, -6                  only IPv4 or only IPv6 addresses (default: both)\n"
	"  --port N                connect to port N instead of 25 (labs); TLSA stays _25._tcp\n"
	"  --helo NAME             the EHLO name (default: this host's name)\n"
	"  --single-key            one handshake per address (no second RSA/ECDSA probe)\n"
	"  --timeout SECONDS       also bounds each SMTP phase (default 10 for DNS, 30 for SMTP)\n"
	CLI_DNS_HELP
	"Exit status: 0 the list was scanned (whatever the verdicts); 3 the resolver cannot\n"
	"validate DNSSEC; 64 usage; 66 the input cannot be read; 73 the output cannot be\n"
	"created; 74 a write failed; 69/78 resolver unavailable / bad configuration.\n",
};

enum {
	OPT_CONC = 0x3100, OPT_PERIP, OPT_SHARD, OPT_OUTPUT, OPT_RESUME, OPT_SUMMARY,
	OPT_PROGRESS, OPT_QUIET, OPT_PORT, OPT_HELO, OPT_SINGLE,
};

struct scan_opts {
	size_t concurrency;
	unsigned per_ip, shard_k, shard_n;
	const char *output, *summary_json, *input;
	int resume, progress, quiet, families;
};

struct scan_run {
	struct event_base *base;
	struct check_params params;
	struct scan_opts o;
	FILE *in;
	struct scan_reader rd;     /* lines for admission: never blocks the loop */
	struct event *in_ev;       /* armed when the input has no complete line yet */
	int in_flags;              /* the input's fcntl flags before O_NONBLOCK, or -1 */
	int in_done, out_fd, rc;
	size_t running;
	struct scan_seen *seen;
	struct scan_input line;
	struct scan_stats st;
	unsigned long skipped_resume, skipped_shard, total;
	struct timespec start;
	struct event *tick;
	char keybuf[SCAN_LINE_MAX * 6 + 8];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double since_ms(const struct timespec *t0)
{
	return now_ms() - ((double)t0->tv_sec * 1000.0 + (double)t0->tv_nsec / 1e6);
}

/* ---- output ------------------------------------------------------------------- */

static void emit(struct scan_run *run, struct buf *b)
{
	if (run->rc != 0)
		return;
	if (scan_write_all(run->out_fd, b->data, b->len) != 0) {
		fprintf(stderr, "danemx: scan: %s: write failed: %s\n",
			run->o.output ? run->o.output : "standard output", strerror(errno));
		run->rc = EX_IOERR;
		run->in_done = 1;   /* admit nothing more */
	}
}

static void progress(struct scan_run *run, int final)
{
	unsigned long done = run->st.domains + run->st.invalid;
	double secs = since_ms(&run->start) / 1000.0, rate = secs > 0 ? (double)done / secs : 0;
	char eta[32] = "?";
	const unsigned long *v = run->st.verdicts;

	if (run->total > 0 && rate > 0 && run->total >= done) {
		unsigned long s = (unsigned long)((double)(run->total - done) / rate);
		snprintf(eta, sizeof(eta), "%lu:%02lu", s / 60, s % 60);
	}
	fprintf(stderr, "\r\033[Kscan: %lu/%s%.0lu %.1f/s ETA %s | verified %lu trusted %lu "
		"dane-fail %lu tempfail %lu opportunistic %lu plaintext %lu other %lu",
		done, run->total ? "" : "?", run->total, rate, eta, v[VERDICT_VERIFIED], v[VERDICT_TRUSTED],
		v[VERDICT_DANE_FAIL], v[VERDICT_TEMPFAIL], v[VERDICT_OPPORTUNISTIC], v[VERDICT_PLAINTEXT],
		v[VERDICT_ENCRYPT_ONLY] + v[VERDICT_NOMAIL]);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	progress(arg, 0);
}

/* ---- admission ---------------------------------------------------------------- */

static void fill(struct scan_run *run);

static void on_done(struct check_result *res, void *arg)
{
	struct scan_run *run = arg;
	struct buf b = BUF_INIT(0);
	struct json j;

	json_init(&j, &b, 0);
	check_result_json(res, &j);
	if (json_error(&j) == 0 && buf_putc(&b, '\n') == BUF_OK)
		emit(run, &b);
	else
		fprintf(stderr, "danemx: scan: %s: result too large to write\n", res->domain);
	buf_free(&b);
	scan_stats_add(&run->st, res);
	check_result_free(res);
	run->running--;
	fill(run);
}

/* An invalid line: reported in the output once (resume and shards know it by its text). */
static void invalid_line(struct scan_run *run)
{
	struct buf b = BUF_INIT(0);
	const char *key = scan_invalid_key(run->line.raw, run->line.rawlen, run->keybuf,
					   sizeof(run->keybuf));

	if (!scan_in_shard(key, run->o.shard_k, run->o.shard_n)) {
		run->skipped_shard++;
		return;
	}
	if (run->seen != NULL && scan_seen_has(run->seen, key)) {
		run->skipped_resume++;
		return;
	}
	scan_invalid_json(&run->line, &b);
	emit(run, &b);
	buf_free(&b);
	run->st.invalid++;
}

/* Start the next admitted name; 0 when a check started, 1 when the line was consumed
 * otherwise, 2 when no line is ready yet (the loop waits for the input), -1 at the end
 * of the input. */
static int admit_one(struct scan_run *run)
{
	enum scan_in k = scan_reader_next(&run->rd, &run->line);

	if (k == SCAN_IN_AGAIN) {
		if (run->in_ev != NULL)
			event_add(run->in_ev, NULL);
		return 2;
	}
	if (k == SCAN_IN_EOF || k == SCAN_IN_ERROR) {
		if (k == SCAN_IN_ERROR) {
			fprintf(stderr, "danemx: scan: read error: %s\n", strerror(errno));
			run->rc = EX_IOERR;
		}
		run->in_done = 1;
		return -1;
	}
	if (k == SCAN_IN_SKIP)
		return 1;
	if (k == SCAN_IN_INVALID) {
		invalid_line(run);
		return 1;
	}
	if (!scan_in_shard(run->line.name, run->o.shard_k, run->o.shard_n)) {
		run->skipped_shard++;
		return 1;
	}
	if (run->seen != NULL && scan_seen_has(run->seen, run->line.name)) {
		run->skipped_resume++;
		return 1;
	}
	if (check_start(run->base, &run->params, run->line.name, on_done, run) == NULL) {
		fprintf(stderr, "danemx: scan: %s: out of memory\n", run->line.name);
		run->rc = EX_OSERR;
		run->in_done = 1;
		return -1;
	}
	run->running++;
	return 0;
}

static void fill(struct scan_run *run)
{
	int r;

	while (!run->in_done && run->running < run->o.concurrency)
		if ((r = admit_one(run)) < 0 || r == 2)
			break;
	if (run->in_done && run->running == 0)
		event_base_loopbreak(run->base);
}

/* ---- setup -------------------------------------------------------------------- */


static int bad(const char *opt, const char *want, const char *arg)
{
	fprintf(stderr, "danemx: scan: %s: want %s: %s\n", opt, want, arg);
	return -1;
}

static int scan_option(int c, const char *arg, struct scan_opts *o, struct check_params *p)
{
	unsigned long v;

	switch (c) {
	case '4': o->families |= CHECK_INET; return 0;
	case '6': o->families |= CHECK_INET6; return 0;
	case OPT_CONC:
		if (str_to_ulong(arg, 1, 100000, &v) < 0)
			return bad("--concurrency", "1 to 100000", arg);
		o->concurrency = v;
		return 0;
	case OPT_PERIP:
		if (str_to_ulong(arg, 1, 100000, &v) < 0)
			return bad("--per-ip", "1 to 100000", arg);
		o->per_ip = (unsigned)v;
		return 0;
	case OPT_SHARD:
		return scan_parse_shard(arg, &o->shard_k, &o->shard_n) == 0 ? 0 :
		       bad("--shard", "K/N with 1 <= K <= N", arg);
	case OPT_OUTPUT: o->output = arg; return 0;
	case OPT_RESUME: o->resume = 1; return 0;
	case OPT_SUMMARY: o->summary_json = arg; return 0;
	case OPT_PROGRESS: o->progress = 1; return 0;
	case OPT_QUIET: o->quiet = 1; return 0;
	case OPT_PORT:
		if (str_to_ulong(arg, 1, 65535, &v) < 0)
			return bad("--port", "a port number", arg);
		p->port = (uint16_t)v;
		return 0;
	case OPT_HELO: p->helo = arg; return 0;
	case OPT_SINGLE: p->both_keys = 0; return 0;
	default: return -2;
	}
}

static int parse_args(int argc, char **argv, struct scan_run *run, struct dns_opts *dopts)
{
	static const struct option longopts[] = {
		{"concurrency", required_argument, NULL, OPT_CONC},
		{"per-ip", required_argument, NULL, OPT_PERIP},
		{"shard", required_argument, NULL, OPT_SHARD},
		{"output", required_argument, NULL, OPT_OUTPUT},
		{"resume", no_argument, NULL, OPT_RESUME},
		{"summary-json", required_argument, NULL, OPT_SUMMARY},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"quiet", no_argument, NULL, OPT_QUIET},
		{"port", required_argument, NULL, OPT_PORT},
		{"helo", required_argument, NULL, OPT_HELO},
		{"single-key", no_argument, NULL, OPT_SINGLE},
		CLI_DNS_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	int c, r;

	while ((c = getopt_long(argc, argv, "46", longopts, NULL)) != -1) {
		if ((r = cli_dns_option(c, optarg, dopts)) < 0)
			return -1;
		if (r > 0)
			continue;
		if ((r = scan_option(c, optarg, &run->o, &run->params)) == -1)
			return -1;
		if (r == -2) {
			cmd_usage(&cmd_scan_def);
			return -1;
		}
	}
	if (argc - optind > 1)
		return bad("input", "one FILE or -", argv[optind + 1]);
	run->o.input = optind < argc ? argv[optind] : "-";
	if (run->o.resume && run->o.output == NULL)
		return bad("--resume", "--output FILE (the file to resume)", "standard output");
	if (run->o.progress && run->o.quiet)
		return bad("--progress", "not with --quiet", "--quiet");
	return 0;
}

/* The names a progress line counts towards, from a regular input file (one extra read). */
static unsigned long count_total(struct scan_run *run)
{
	struct scan_input *in = calloc(1, sizeof(*in));
	unsigned long n = 0;
	enum scan_in k;

	if (in == NULL)
		return 0;
	while ((k = scan_read(run->in, in)) != SCAN_IN_EOF && k != SCAN_IN_ERROR)
		if (k == SCAN_IN_INVALID ||
		    (k == SCAN_IN_NAME && scan_in_shard(in->name, run->o.shard_k, run->o.shard_n) &&
		     (run->seen == NULL || !scan_seen_has(run->seen, in->name))))
			n++;
	free(in);
	rewind(run->in);
	return n;
}

static int open_input(struct scan_run *run)
{
	struct stat sb;

	if (strcmp(run->o.input, "-") == 0)
		run->in = stdin;
	else if ((run->in = fopen(run->o.input, "r")) == NULL) {
		fprintf(stderr, "danemx: scan: %s: %s\n", run->o.input, strerror(errno));
		return EX_NOINPUT;
	}
	if (run->o.progress && fstat(fileno(run->in), &sb) == 0 && S_ISREG(sb.st_mode))
		run->total = count_total(run);
	scan_reader_init(&run->rd, fileno(run->in));
	run->in_flags = -1;
	if (fstat(fileno(run->in), &sb) == 0 && !S_ISREG(sb.st_mode)) {
		/* A pipe or terminal: a slow producer must not stop the loop (and with it every
		 * session's timers) while a line is awaited. Restored at exit: it may be shared. */
		run->in_flags = fcntl(fileno(run->in), F_GETFL);
		if (run->in_flags >= 0 && fcntl(fileno(run->in), F_SETFL, run->in_flags | O_NONBLOCK) < 0)
			run->in_flags = -1;
	}
	return 0;
}

static void on_input(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fill(arg);
}

static int open_output(struct scan_run *run)
{
	char why[512];
	size_t lines = 0;
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND;

	run->out_fd = STDOUT_FILENO;
	if (run->o.output == NULL)
		return 0;
	if (run->o.resume) {
		if ((run->seen = scan_seen_new()) == NULL)
			return EX_OSERR;
		if (scan_resume_load(run->o.output, run->seen, &lines, why, sizeof(why)) != 0) {
			fprintf(stderr, "danemx: scan: --resume: %s\n", why);
			return EX_IOERR;
		}
		log_info("scan: resuming: %zu lines already in %s", lines, run->o.output);
	} else {
		flags |= O_TRUNC;
	}
	if ((run->out_fd = open(run->o.output, flags, 0644)) < 0) {
		fprintf(stderr, "danemx: scan: %s: %s\n", run->o.output, strerror(errno));
		return EX_CANTCREAT;
	}
	return 0;
}

static int write_summary_json(const struct scan_run *run)
{
	struct buf b = BUF_INIT(0);
	struct json j;
	int fd, rc = 0;

	json_init(&j, &b, 1);
	scan_stats_json(&run->st, &j);
	buf_putc(&b, '\n');
	if ((fd = open(run->o.summary_json, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
	    scan_write_all(fd, b.data, b.len) != 0) {
		fprintf(stderr, "danemx: scan: %s: %s\n", run->o.summary_json, strerror(errno));
		rc = EX_IOERR;
	}
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = EX_IOERR;
	buf_free(&b);
	return rc;
}

/* Run the loop over the whole input, then the summaries. */
static int scan_loop(struct scan_run *run)
{
	struct timeval one = {0, 500000};

	clock_gettime(CLOCK_MONOTONIC, &run->start);
	if (run->o.progress && ((run->tick = event_new(run->base, -1, EV_PERSIST, on_tick, run)) == NULL ||
				event_add(run->tick, &one) != 0))
		return EX_OSERR;
	if ((run->in_ev = event_new(run->base, run->rd.fd, EV_READ, on_input, run)) == NULL)
		return EX_OSERR;
	fill(run);
	if (!(run->in_done && run->running == 0))
		event_base_dispatch(run->base);
	if (run->o.progress)
		progress(run, 1);
	if (!run->o.quiet) {
		scan_stats_text(&run->st, stderr);
		fprintf(stderr, "  %lu skipped (already in the output), %lu in other shards, %.1f s\n",
			run->skipped_resume, run->skipped_shard, since_ms(&run->start) / 1000.0);
	}
	if (run->o.summary_json != NULL) {
		int rc = write_summary_json(run);
		if (run->rc == 0)
			run->rc = rc;
	}
	return run->rc;
}

static int cmd_scan_run(int argc, char **argv)
{
	struct scan_run *run = calloc(1, sizeof(*run));
	struct dns_opts dopts;
	struct dns_ctx *dns = NULL;
	SSL_CTX *ctx = NULL;
	struct tls_client_opts topts = {0};
	struct iplimit *lim = NULL;
	char err[512], host[256];
	int rc = EX_USAGE;

	if (run == NULL)
		return EX_OSERR;
	memset(&dopts, 0, sizeof(dopts));
	run->out_fd = -1;
	run->o.concurrency = 100;
	run->o.shard_k = run->o.shard_n = 1;
	run->params.port = 25;
	run->params.insecure_mx_dane = 1;
	run->params.both_keys = 1;
	if (parse_args(argc, argv, run, &dopts) != 0)
		goto out;
	run->o.progress = !run->o.quiet && (run->o.progress || isatty(STDERR_FILENO));
	run->params.families = run->o.families ? run->o.families : CHECK_INET | CHECK_INET6;
	run->params.timeout_ms = dopts.timeout_ms ? dopts.timeout_ms : 30000;
	dopts.bulk = 1;   /* one cache shared by every check; bigger for a long list */
	if (run->params.helo == NULL) {
		if (gethostname(host, sizeof(host)) != 0 || strchr(host, '.') == NULL)
			str_copy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		run->params.helo = host;
	}
	if ((rc = open_output(run)) != 0 || (rc = open_input(run)) != 0)
		goto out;
	rc = EX_OSERR;
	if ((run->base = event_base_new()) == NULL)
		goto out;
	if ((rc = cli_dns_ctx("scan", run->base, &dopts, &dns)) != 0)
		goto out;
	if ((ctx = tls_client_ctx_new(&topts, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx: scan: TLS setup: %s\n", err);
		rc = EX_SOFTWARE;
		goto out;
	}
	if ((rc = cli_dns_preflight("scan", run->base, dns, &dopts, err, sizeof(err))) != 0) {
		if (rc == 3)
			fprintf(stderr, "danemx: scan: resolver cannot validate DNSSEC: %s\n"
					"danemx: scan: no DANE verdict is possible; check the trust anchor, the clock"
					" and any forwarder\n", err);
		goto out;
	}
	if (run->o.per_ip > 0 && (lim = iplimit_new(run->base, run->o.per_ip)) == NULL) {
		rc = EX_OSERR;
		goto out;
	}
	run->params.dns = dns;
	run->params.ssl_ctx = ctx;
	run->params.iplimit = lim;
	rc = scan_loop(run);
	if (lim != NULL)
		log_debug("scan: per-ip peak %u", iplimit_peak(lim));
out:
	if (run->tick != NULL)
		event_free(run->tick);
	if (run->in_ev != NULL)
		event_free(run->in_ev);
	if (run->in != NULL && run->in_flags >= 0)
		fcntl(fileno(run->in), F_SETFL, run->in_flags);
	iplimit_free(lim);
	SSL_CTX_free(ctx);
	dns_ctx_free(dns);
	if (run->base != NULL)
		event_base_free(run->base);
	if (run->in != NULL && run->in != stdin)
		fclose(run->in);
	if (run->out_fd > STDOUT_FILENO && close(run->out_fd) != 0 && rc == 0)
		rc = EX_IOERR;
	scan_seen_free(run->seen);
	free(run);
	return rc;
}

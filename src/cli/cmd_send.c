/*
 * cmd_send: `danemx send`, deliver one RFC 5322 message with DANE. It reads the message
 * (never altering it), groups the recipients by domain, runs the delivery engine for every
 * domain at once, prints one line (or one JSON object) per recipient and exits with a
 * sysexits code. It never decides TLS itself: the engine applies RFC 7672 per MX host.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli_dns.h"
#include "cli/commands.h"
#include "engine/deliver.h"
#include "tls/tls_client.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

static int cmd_send_run(int argc, char **argv);

const struct command cmd_send_def = {
	"send",
	cmd_send_run,
	"deliver a message with DANE: MX fallback, security levels, no silent downgrade",
	"danemx send --from ADDR --to ADDR [--to ADDR ...]\n"
	"       [--level dane|dane-only|encrypt|may|none] [--helo NAME] [--json]\n"
	"       [-4 | -6] [--port N] [--max-size BYTES] " CLI_DNS_USAGE "\n"
	"       [FILE]",
	"Reads an RFC 5322 message from FILE or standard input and delivers it to the MX hosts\n"
	"of each recipient's domain, unaltered.\n"
	"Options:\n"
	"  --from ADDR             envelope sender (MAIL FROM); \"\" for the null sender\n"
	"  --to ADDR               envelope recipient; repeat for more (any domains)\n"
	"  --level LEVEL           dane (default): RFC 7672, authenticated TLS where usable TLSA\n"
	"                          records exist, else opportunistic; dane-only: refuse hosts\n"
	"                          without usable TLSA; encrypt: TLS always, DANE where it\n"
	"                          applies; may: opportunistic TLS, TLSA ignored; none: plaintext\n"
	"  --helo NAME             the EHLO name, a domain name or an address literal\n"
	"                          (default: this host's name)\n"
	"  --json                  the result as one JSON object\n"
	"  -4, -6                  only IPv4 or only IPv6 addresses\n"
	"  --port N                connect to port N instead of 25 (labs)\n"
	"  --max-size BYTES        refuse a larger message (default 67108864)\n"
	"  --timeout SECONDS       per DNS query and per SMTP phase, but the reply to the\n"
	"                          final dot is awaited 10 minutes (RFC 5321; avoids duplicates)\n"
	CLI_DNS_HELP
	"Exit status: 0 all delivered; 75 some recipient deferred (try again later); 69 the\n"
	"domain takes no mail or the level refused it; 67 a recipient was rejected; 65 the\n"
	"message was refused (size, 8-bit to a server without 8BITMIME, 5xx to the message);\n"
	"64 usage; 66 FILE unreadable; 69/78 resolver unavailable / bad configuration.\n",
};

enum { OPT_FROM = 0x3100, OPT_TO, OPT_LEVEL, OPT_HELO, OPT_JSON, OPT_PORT, OPT_MAXSIZE };

struct send_domain {
	char domain[DNS_NAME_MAX];
	const char **rcpts;
	size_t nrcpts;
	struct deliver_result *res;
};

struct send_run {
	struct event_base *base;
	struct send_domain *doms;
	size_t ndoms, pending;
};

/* local@domain with a dot-atom-ish local part; quoted local parts are not accepted. */
static int split_address(const char *addr, char *domain, size_t dlen, char *why, size_t wlen)
{
	const char *at = strrchr(addr, '@');
	size_t llen;

	if (at == NULL || at == addr) {
		str_copy(why, "not an address (local@domain)", wlen);
		return -1;
	}
	llen = (size_t)(at - addr);
	if (llen > 64) {
		str_copy(why, "local part longer than 64 characters", wlen);
		return -1;
	}
	for (size_t i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '(' || c == ')' ||
		    c == ',' || c == ';' || c == ':' || c == '\\' || c == '[' || c == ']') {
			str_copy(why, "local part has a character that needs quoting (not supported)", wlen);
			return -1;
		}
	}
	if (at[1] != '\0' && at[strlen(at) - 1] == '.') {
		/* RFC 5321 4.1.2: no trailing dot in a mailbox's domain; it would go into RCPT as is */
		str_copy(why, "the domain ends with a dot (not allowed in an address)", wlen);
		return -1;
	}
	return check_normalise_domain(at + 1, domain, dlen, why, wlen);
}

/* The EHLO name: a domain name or an address literal ([192.0.2.1], [IPv6:...]). Checked
 * here so that a bad one is a usage error, not a deferral that no retry can cure. */
static int helo_ok(const char *helo, char *why, size_t wlen)
{
	char dom[DNS_NAME_MAX];
	size_t n = strlen(helo);

	if (helo[0] != '[')
		return check_normalise_domain(helo, dom, sizeof(dom), why, wlen);
	for (size_t i = 1; i + 1 < n; i++)
		if (helo[i] <= 0x20 || helo[i] >= 0x7f || helo[i] == '[' || helo[i] == ']') {
			str_copy(why, "address literal with a character outside [...]", wlen);
			return -1;
		}
	if (n < 3 || n > 64 || helo[n - 1] != ']') {
		str_copy(why, "not an address literal ([192.0.2.1] or [IPv6:...])", wlen);
		return -1;
	}
	return 0;
}

static int read_message(const char *file, size_t max, struct buf *out)
{
	int fd = file != NULL ? open(file, O_RDONLY) : STDIN_FILENO;
	char tmp[65536];
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, "danemx: send: %s: %s\n", file, strerror(errno));
		return EX_NOINPUT;
	}
	buf_init(out, max);
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "danemx: send: reading %s: %s\n", file ? file : "standard input", strerror(errno));
			n = -3;   /* e.g. a directory: documented as 66, FILE unreadable */
			break;
		}
		if (buf_append(out, tmp, (size_t)n) != BUF_OK) {
			fprintf(stderr, "danemx: send: the message is larger than %zu bytes (--max-size)\n", max);
			n = -2;
			break;
		}
	}
	if (file != NULL)
		close(fd);
	if (n == -2)
		return EX_DATAERR;
	if (n < 0)
		return file != NULL ? EX_NOINPUT : EX_IOERR;
	if (out->len == 0) {
		fprintf(stderr, "danemx: send: the message is empty\n");
		return EX_DATAERR;
	}
	return 0;
}

static void send_done(struct deliver_result *res, void *arg)
{
	struct send_run *run = arg;

	for (size_t i = 0; i < run->ndoms; i++)
		if (run->doms[i].res == NULL && strcmp(run->doms[i].domain, res->domain) == 0) {
			run->doms[i].res = res;
			break;
		}
	/* Stop when every domain is done: libunbound may keep events for queries the DNS
	 * layer already timed out, and the loop would wait for them (16 s and more). */
	if (--run->pending == 0)
		event_base_loopexit(run->base, NULL);
}

static void print_text(const struct send_run *run)
{
	for (size_t d = 0; d < run->ndoms; d++) {
		const struct deliver_result *res = run->doms[d].res;
		if (res == NULL)
			continue;
		for (size_t i = 0; i < res->nrcpts; i++) {
			const struct deliver_rcpt *r = &res->rcpts[i];
			printf("%s: %s", r->addr, rcpt_status_name(r->status));
			if (r->status == RCPT_DELIVERED)   /* an IPv6 peer is already "[::1]:25" */
				printf(r->address[0] == '[' ? " via %s %s tls=%s" : " via %s [%s] tls=%s",
				       r->mx, r->address, r->tls);
			printf(": %s\n", r->reason);
		}
		for (size_t i = 0; i < res->nattempts; i++) {
			const struct deliver_attempt *a = &res->attempts[i];
			printf("  tried %s%s%s%s (%s): %s", a->host, a->address[0] ? " [" : "", a->address,
			       a->address[0] ? "]" : "", a->requirement, verdict_name(a->v));
			if (a->matched)
				printf(", TLSA %u %u %u matched at depth %d", a->usage, a->selector, a->mtype, a->depth);
			printf(": %s\n", a->reason);
		}
	}
}

static void print_json(const struct send_run *run, enum deliver_level level)
{
	struct buf b = BUF_INIT(0);
	struct json j;

	json_init(&j, &b, 0);
	json_obj_begin(&j);
	json_kv_str(&j, "level", deliver_level_name(level));
	json_key(&j, "recipients");
	json_arr_begin(&j);
	for (size_t d = 0; d < run->ndoms; d++) {
		const struct deliver_result *res = run->doms[d].res;
		for (size_t i = 0; res != NULL && i < res->nrcpts; i++) {
			const struct deliver_rcpt *r = &res->rcpts[i];
			json_obj_begin(&j);
			json_kv_str(&j, "recipient", r->addr);
			json_kv_str(&j, "status", rcpt_status_name(r->status));
			json_kv_str(&j, "mx", r->mx[0] ? r->mx : NULL);
			json_kv_str(&j, "address", r->address[0] ? r->address : NULL);
			json_kv_str(&j, "tls", r->tls);
			json_kv_str(&j, "reason", r->reason);
			json_kv_str(&j, "reply", r->reply[0] ? r->reply : NULL);
			json_obj_end(&j);
		}
	}
	json_arr_end(&j);
	json_key(&j, "domains");
	json_arr_begin(&j);
	for (size_t d = 0; d < run->ndoms; d++) {
		const struct deliver_result *res = run->doms[d].res;
		if (res == NULL)
			continue;
		json_obj_begin(&j);
		json_kv_str(&j, "domain", res->domain);
		json_kv_bool(&j, "delivered", res->delivered);
		json_key(&j, "hosts_tried");
		json_arr_begin(&j);
		for (size_t i = 0; i < res->nattempts; i++) {
			const struct deliver_attempt *a = &res->attempts[i];
			json_obj_begin(&j);
			json_kv_str(&j, "host", a->host);
			json_kv_str(&j, "address", a->address[0] ? a->address : NULL);
			json_kv_str(&j, "requirement", a->requirement);
			json_kv_str(&j, "verdict", verdict_name(a->v));
			json_kv_bool(&j, "delivered", a->delivered);
			json_kv_str(&j, "reason", a->reason);
			json_key(&j, "matched");
			if (a->matched) {
				json_obj_begin(&j);
				json_kv_int(&j, "usage", a->usage);
				json_kv_int(&j, "selector", a->selector);
				json_kv_int(&j, "mtype", a->mtype);
				json_kv_int(&j, "depth", a->depth);
				json_obj_end(&j);
			} else {
				json_null(&j);
			}
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_key(&j, "resolution");
		if (res->dest != NULL)
			check_result_json(res->dest, &j);
		else
			json_null(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

static int exit_code(const struct send_run *run)
{
	int deferred = 0, nomail = 0, rcpt = 0, msg = 0;

	for (size_t d = 0; d < run->ndoms; d++) {
		const struct deliver_result *res = run->doms[d].res;
		if (res == NULL) {
			deferred = 1;
			continue;
		}
		for (size_t i = 0; i < res->nrcpts; i++) {
			const struct deliver_rcpt *r = &res->rcpts[i];
			deferred |= r->status == RCPT_DEFERRED;
			nomail |= r->bounce == BOUNCE_NOMAIL || r->bounce == BOUNCE_POLICY;
			rcpt |= r->bounce == BOUNCE_RCPT;
			msg |= r->bounce == BOUNCE_MESSAGE;
		}
	}
	if (deferred)
		return EX_TEMPFAIL;
	if (nomail)
		return EX_UNAVAILABLE;
	if (rcpt)
		return EX_NOUSER;
	if (msg)
		return EX_DATAERR;
	return EX_OK;
}

static int group_rcpts(struct send_run *run, char **to, size_t nto)
{
	run->doms = calloc(nto, sizeof(*run->doms));
	if (run->doms == NULL)
		return EX_OSERR;
	for (size_t i = 0; i < nto; i++) {
		char dom[DNS_NAME_MAX], why[256], esc[300];
		size_t d;

		if (split_address(to[i], dom, sizeof(dom), why, sizeof(why)) < 0) {
			str_escape(esc, sizeof(esc), to[i], strlen(to[i]));
			fprintf(stderr, "danemx: send: --to %s: %s\n", esc, why);
			return EX_USAGE;
		}
		for (d = 0; d < run->ndoms; d++)
			if (strcmp(run->doms[d].domain, dom) == 0)
				break;
		if (d == run->ndoms) {
			str_copy(run->doms[d].domain, dom, sizeof(run->doms[d].domain));
			run->doms[d].rcpts = calloc(nto, sizeof(char *));
			if (run->doms[d].rcpts == NULL)
				return EX_OSERR;
			run->ndoms++;
		}
		run->doms[d].rcpts[run->doms[d].nrcpts++] = to[i];
	}
	return 0;
}

static int cmd_send_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"from", required_argument, NULL, OPT_FROM},
		{"to", required_argument, NULL, OPT_TO},
		{"level", required_argument, NULL, OPT_LEVEL},
		{"helo", required_argument, NULL, OPT_HELO},
		{"json", no_argument, NULL, OPT_JSON},
		{"port", required_argument, NULL, OPT_PORT},
		{"max-size", required_argument, NULL, OPT_MAXSIZE},
		CLI_DNS_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct send_run run = {0};
	struct dns_opts dopts = {0};
	struct deliver_params dp = {0};
	struct event_base *base = NULL;
	struct dns_ctx *dns = NULL;
	SSL_CTX *ctx = NULL;
	struct tls_client_opts topts = {0};
	struct buf msg = BUF_INIT(0);
	char **to = NULL, err[512], host[256];
	const char *from = NULL;
	size_t nto = 0, max_size = (size_t)64 * 1024 * 1024;
	int c, rc = EX_SOFTWARE, json = 0, families = 0, level;
	unsigned long v;

	to = calloc((size_t)argc, sizeof(char *));
	if (to == NULL)
		return EX_OSERR;
	dp.level = DELIVER_DANE;
	dp.check.port = 25;
	dp.check.insecure_mx_dane = 1;
	while ((c = getopt_long(argc, argv, "46", longopts, NULL)) != -1) {
		int r = cli_dns_option(c, optarg, &dopts);
		if (r < 0) {
			rc = EX_USAGE;
			goto out;
		}
		if (r > 0)
			continue;
		switch (c) {
		case '4': families |= CHECK_INET; break;
		case '6': families |= CHECK_INET6; break;
		case OPT_FROM: from = optarg; break;
		case OPT_TO: to[nto++] = optarg; break;
		case OPT_LEVEL:
			if ((level = deliver_level_parse(optarg)) < 0) {
				fprintf(stderr, "danemx: send: --level: want dane, dane-only, encrypt, may or none: %s\n", optarg);
				rc = EX_USAGE;
				goto out;
			}
			dp.level = (enum deliver_level)level;
			break;
		case OPT_HELO: dp.check.helo = optarg; break;
		case OPT_JSON: json = 1; break;
		case OPT_PORT:
			if (str_to_ulong(optarg, 1, 65535, &v) < 0) {
				fprintf(stderr, "danemx: send: --port: not a port number: %s\n", optarg);
				rc = EX_USAGE;
				goto out;
			}
			dp.check.port = (uint16_t)v;
			break;
		case OPT_MAXSIZE:
			if (str_to_ulong(optarg, 1, ULONG_MAX, &v) < 0) {
				fprintf(stderr, "danemx: send: --max-size: not a size in bytes: %s\n", optarg);
				rc = EX_USAGE;
				goto out;
			}
			max_size = v;
			break;
		default:
			rc = cmd_usage(&cmd_send_def);
			goto out;
		}
	}
	if (from == NULL || nto == 0 || argc - optind > 1) {
		fprintf(stderr, "danemx: send: %s\n", from == NULL ? "--from is required" :
			nto == 0 ? "at least one --to is required" : "at most one FILE");
		rc = cmd_usage(&cmd_send_def);
		goto out;
	}
	if (from[0] != '\0') {
		char dom[DNS_NAME_MAX], why[256];
		if (split_address(from, dom, sizeof(dom), why, sizeof(why)) < 0) {
			fprintf(stderr, "danemx: send: --from: %s\n", why);
			rc = EX_USAGE;
			goto out;
		}
	}
	if (dp.check.helo != NULL) {
		char why[256], esc[300];
		if (helo_ok(dp.check.helo, why, sizeof(why)) < 0) {
			str_escape(esc, sizeof(esc), dp.check.helo, strlen(dp.check.helo));
			fprintf(stderr, "danemx: send: --helo %s: %s\n", esc, why);
			rc = EX_USAGE;
			goto out;
		}
	}
	if ((rc = group_rcpts(&run, to, nto)) != 0)
		goto out;
	if ((rc = read_message(optind < argc ? argv[optind] : NULL, max_size, &msg)) != 0)
		goto out;
	if (dp.check.helo == NULL) {
		if (gethostname(host, sizeof(host)) != 0 || strchr(host, '.') == NULL)
			str_copy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		dp.check.helo = host;
	}
	dp.check.families = families ? families : CHECK_INET | CHECK_INET6;
	dp.check.timeout_ms = dopts.timeout_ms ? dopts.timeout_ms : 0;
	rc = EX_SOFTWARE;
	if ((base = event_base_new()) == NULL)
		goto out;
	if ((rc = cli_dns_ctx("send", base, &dopts, &dns)) != 0)
		goto out;
	if ((ctx = tls_client_ctx_new(&topts, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx: send: TLS setup: %s\n", err);
		rc = EX_SOFTWARE;
		goto out;
	}
	dp.check.dns = dns;
	dp.check.ssl_ctx = ctx;
	dp.mail_from = from;
	dp.msg = msg.data;
	dp.msg_len = msg.len;
	run.base = base;
	for (size_t d = 0; d < run.ndoms; d++) {
		struct deliver_params p = dp;
		p.rcpts = run.doms[d].rcpts;
		p.nrcpts = run.doms[d].nrcpts;
		if (deliver_start(base, &p, run.doms[d].domain, send_done, &run) == 0)
			run.pending++;
	}
	if (run.pending > 0)
		event_base_dispatch(base);
	if (json)
		print_json(&run, dp.level);
	else
		print_text(&run);
	rc = exit_code(&run);
out:
	for (size_t d = 0; d < run.ndoms; d++) {
		deliver_result_free(run.doms[d].res);
		free(run.doms[d].rcpts);
	}
	free(run.doms);
	free(to);
	buf_free(&msg);
	SSL_CTX_free(ctx);
	dns_ctx_free(dns);
	if (base != NULL)
		event_base_free(base);
	return rc;
}

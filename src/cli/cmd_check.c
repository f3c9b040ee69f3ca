/*
 * cmd_check: `danemx check`, the RFC 7672 verdict for one or more mail domains. It parses
 * options, makes sure the resolver can validate at all, runs the check engine for every
 * domain concurrently on one loop, and prints each result (text, JSON lines or a
 * monitoring-plugin line) in the order the domains were given. It decides nothing about
 * DANE itself: the engine does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli_dns.h"
#include "cli/commands.h"
#include "cli/check_report.h"
#include "engine/check.h"
#include "tls/tls_client.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

static int cmd_check_run(int argc, char **argv);

const struct command cmd_check_def = {
	"check",
	cmd_check_run,
	"the RFC 7672 verdict for mail domains: every MX host and address",
	"danemx check [--json | --nagios] [-4 | -6] [--port N] [--helo NAME]\n"
	"       [--concurrency N] [--insecure-mx-policy dane|may] [--single-key]\n"
	"       [--color auto|always|never] " CLI_DNS_USAGE "\n"
	"       DOMAIN ...",
	"Options:\n"
	"  --json                  one JSON object per domain per line (docs/check-json.md)\n"
	"  --nagios                one monitoring-plugin status line; exit 0/1/2/3\n"
	"  -4, -6                  only IPv4 or only IPv6 addresses (default: both)\n"
	"  --port N                connect to port N instead of 25 (labs); TLSA stays _25._tcp\n"
	"  --helo NAME             the EHLO name (default: this host's name)\n"
	"  --concurrency N         domains checked at once (default 32)\n"
	"  --insecure-mx-policy P  dane (default): enforce secure TLSA records of MX hosts found\n"
	"                          through an insecure MX RRset (verdict \"trusted\"); may: ignore them\n"
	"  --single-key            one handshake per address; by default a DANE server is also\n"
	"                          probed with the other key type (RSA/ECDSA)\n"
	"  --color WHEN            colour in the text report (default auto; NO_COLOR respected)\n"
	"  --timeout SECONDS       also bounds each SMTP phase (default 10 for DNS, 30 for SMTP)\n"
	CLI_DNS_HELP
	"Exit status (also with --nagios): 0 every domain verified, trusted or takes no mail;\n"
	"1 some domain without DANE (opportunistic, plaintext, encrypt-only); 2 some domain\n"
	"fails (dane-fail, tempfail); 3 the resolver cannot validate DNSSEC; 64 usage; 69 the\n"
	"--resolver does not answer; 78 a bad trust anchor or DNS configuration.\n",
};

enum {
	OPT_JSON = 0x3000, OPT_NAGIOS, OPT_PORT, OPT_HELO, OPT_CONC, OPT_IMX, OPT_SINGLE,
	OPT_COLOR,
};

struct check_run {
	struct event_base *base;
	struct check_params params;
	char **domains;
	size_t ndomains, next, running, concurrency, printed;
	struct check_result **results;
	int format;               /* 0 text, 1 json, 2 nagios */
	int color;
	int exit_code;
};

static void run_print_ready(struct check_run *run)
{
	while (run->printed < run->ndomains && run->results[run->printed] != NULL) {
		struct check_result *res = run->results[run->printed];

		if (run->format == 1) {
			struct buf b = BUF_INIT(0);
			struct json j;

			json_init(&j, &b, 0);
			check_result_json(res, &j);
			fprintf(stdout, "%s\n", buf_cstr(&b));
			buf_free(&b);
		} else if (run->format == 0) {
			check_report_text(stdout, res, run->color);
		}
		fflush(stdout);
		run->printed++;
	}
}

static void run_next(struct check_run *run);

static void run_done(struct check_result *res, void *arg)
{
	struct check_run *run = arg;
	size_t i;

	for (i = 0; i < run->ndomains; i++)
		if (run->results[i] == NULL && strcmp(run->domains[i], res->domain) == 0)
			break;
	if (i == run->ndomains) {
		check_result_free(res);
	} else {
		run->results[i] = res;
	}
	run->running--;
	run_print_ready(run);
	run_next(run);
	/* Every domain is done: stop, even while libunbound still retries queries that the
	 * DNS layer has already timed out for us. */
	if (run->running == 0 && run->next >= run->ndomains)
		event_base_loopbreak(run->base);
}

static void run_next(struct check_run *run)
{
	while (run->running < run->concurrency && run->next < run->ndomains) {
		const char *d = run->domains[run->next++];

		if (check_start(run->base, &run->params, d, run_done, run) == NULL) {
			fprintf(stderr, "danemx: check: %s: out of memory\n", d);
			run->exit_code = EX_OSERR;
			continue;
		}
		run->running++;
	}
}

static int exit_for(const struct check_run *run)
{
	int worst = 0;

	for (size_t i = 0; i < run->ndomains; i++) {
		int s = run->results[i] != NULL ? verdict_nagios(run->results[i]->v) : 3;
		if (s > worst)
			worst = s;
	}
	return worst;
}


static int validation_failed(struct check_run *run, const char *why)
{
	if (run->format == 2) {
		printf("DANE UNKNOWN - resolver cannot validate DNSSEC: %s\n", why);
	} else if (run->format == 1) {
		for (size_t i = 0; i < run->ndomains; i++) {
			struct check_result res;
			struct buf b = BUF_INIT(0);
			struct json j;

			memset(&res, 0, sizeof(res));
			str_copy(res.domain, run->domains[i], sizeof(res.domain));
			res.v = VERDICT_TEMPFAIL;
			str_printf(res.validation_error, sizeof(res.validation_error),
				 "resolver cannot validate DNSSEC: %s", why);
			json_init(&j, &b, 0);
			check_result_json(&res, &j);
			printf("%s\n", buf_cstr(&b));
			buf_free(&b);
		}
	}
	fprintf(stderr, "danemx: check: resolver cannot validate DNSSEC: %s\n"
			"danemx: check: no DANE verdict is possible; check the trust anchor, the clock"
			" and any forwarder\n", why);
	return 3;
}

static int cmd_check_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"nagios", no_argument, NULL, OPT_NAGIOS},
		{"port", required_argument, NULL, OPT_PORT},
		{"helo", required_argument, NULL, OPT_HELO},
		{"concurrency", required_argument, NULL, OPT_CONC},
		{"insecure-mx-policy", required_argument, NULL, OPT_IMX},
		{"single-key", no_argument, NULL, OPT_SINGLE},
		{"color", required_argument, NULL, OPT_COLOR},
		CLI_DNS_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct check_run run;
	struct dns_opts dopts;
	struct dns_ctx *dns = NULL;
	SSL_CTX *ctx = NULL;
	struct tls_client_opts topts = {0};
	char err[512], host[256];
	int c, rc = EX_SOFTWARE, color_mode = 0, families = 0;
	unsigned long v;

	memset(&run, 0, sizeof(run));
	memset(&dopts, 0, sizeof(dopts));
	run.concurrency = 32;
	run.params.port = 25;
	run.params.insecure_mx_dane = 1;
	run.params.both_keys = 1;
	while ((c = getopt_long(argc, argv, "46", longopts, NULL)) != -1) {
		int r = cli_dns_option(c, optarg, &dopts);
		if (r < 0)
			return EX_USAGE;
		if (r > 0)
			continue;
		switch (c) {
		case '4': families |= CHECK_INET; break;
		case '6': families |= CHECK_INET6; break;
		case OPT_JSON: run.format = 1; break;
		case OPT_NAGIOS: run.format = 2; break;
		case OPT_PORT:
			if (str_to_ulong(optarg, 1, 65535, &v) < 0) {
				fprintf(stderr, "danemx: check: --port: not a port number: %s\n", optarg);
				return EX_USAGE;
			}
			run.params.port = (uint16_t)v;
			break;
		case OPT_HELO: run.params.helo = optarg; break;
		case OPT_CONC:
			if (str_to_ulong(optarg, 1, 100000, &v) < 0) {
				fprintf(stderr, "danemx: check: --concurrency: want 1 to 100000: %s\n", optarg);
				return EX_USAGE;
			}
			run.concurrency = v;
			break;
		case OPT_IMX:
			if (strcmp(optarg, "dane") == 0)
				run.params.insecure_mx_dane = 1;
			else if (strcmp(optarg, "may") == 0)
				run.params.insecure_mx_dane = 0;
			else {
				fprintf(stderr, "danemx: check: --insecure-mx-policy: want dane or may: %s\n", optarg);
				return EX_USAGE;
			}
			break;
		case OPT_SINGLE: run.params.both_keys = 0; break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0) color_mode = 0;
			else if (strcmp(optarg, "always") == 0) color_mode = 1;
			else if (strcmp(optarg, "never") == 0) color_mode = -1;
			else {
				fprintf(stderr, "danemx: check: --color: want auto, always or never: %s\n", optarg);
				return EX_USAGE;
			}
			break;
		default:
			return cmd_usage(&cmd_check_def);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "danemx: check: no domain given\n");
		return cmd_usage(&cmd_check_def);
	}
	run.params.families = families ? families : CHECK_INET | CHECK_INET6;
	run.params.timeout_ms = dopts.timeout_ms ? dopts.timeout_ms : 30000;
	run.color = color_mode > 0 || (color_mode == 0 && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL);
	if (run.params.helo == NULL) {
		if (gethostname(host, sizeof(host)) != 0 || strchr(host, '.') == NULL)
			str_copy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		run.params.helo = host;
	}
	run.ndomains = (size_t)(argc - optind);
	run.domains = calloc(run.ndomains, sizeof(char *));
	run.results = calloc(run.ndomains, sizeof(struct check_result *));
	if (run.domains == NULL || run.results == NULL) {
		rc = EX_OSERR;
		goto out;
	}
	for (size_t i = 0; i < run.ndomains; i++) {
		char norm[DNS_NAME_MAX];
		run.domains[i] = NULL;
		if (check_normalise_domain(argv[optind + (int)i], norm, sizeof(norm), err, sizeof(err)) < 0) {
			char esc[128];
			str_escape(esc, sizeof(esc), argv[optind + (int)i], strlen(argv[optind + (int)i]));
			fprintf(stderr, "danemx: check: %s: %s\n", esc, err);
			rc = EX_USAGE;
			goto out;
		}
		run.domains[i] = xstrdup(norm);
	}
	if ((run.base = event_base_new()) == NULL) {
		rc = EX_OSERR;
		goto out;
	}
	if ((rc = cli_dns_ctx("check", run.base, &dopts, &dns)) != 0)
		goto out;
	if ((ctx = tls_client_ctx_new(&topts, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx: check: TLS setup: %s\n", err);
		rc = EX_SOFTWARE;
		goto out;
	}
	if ((rc = cli_dns_preflight("check", run.base, dns, &dopts, err, sizeof(err))) != 0) {
		if (rc == 3)
			rc = validation_failed(&run, err);
		goto out;
	}
	run.params.dns = dns;
	run.params.ssl_ctx = ctx;
	run_next(&run);
	event_base_dispatch(run.base);
	if (run.format == 2)
		check_report_nagios(stdout, run.results, run.ndomains);
	rc = run.exit_code ? run.exit_code : exit_for(&run);
out:
	for (size_t i = 0; i < run.ndomains && run.results != NULL; i++)
		check_result_free(run.results[i]);
	for (size_t i = 0; i < run.ndomains && run.domains != NULL; i++)
		free(run.domains[i]);
	free(run.domains);
	free(run.results);
	SSL_CTX_free(ctx);
	dns_ctx_free(dns);
	if (run.base != NULL)
		event_base_free(run.base);
	return rc;
}

/*
 * cli_dns: parsing and error reporting for the shared DNS options (see cli_dns.h). Values
 * are checked here for form only; files and addresses are checked by dns_ctx_new, which
 * names them in its one-line error.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "cli/cli_dns.h"

static int parse_timeout(const char *arg, unsigned *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (end == arg || *end != '\0' || errno != 0 || !isfinite(s) || s < 0.01 || s > 3600)
		return -1;
	*ms = (unsigned)(s * 1000 + 0.5);
	return 0;
}

int cli_dns_option(int opt, const char *arg, struct dns_opts *o)
{
	switch (opt) {
	case CLI_DNS_OPT_TRUST_ANCHOR:
		o->trust_anchor = arg;
		return 1;
	case CLI_DNS_OPT_RESOLVER:
		o->resolver = arg;
		return 1;
	case CLI_DNS_OPT_CONFIG:
		o->config = arg;
		return 1;
	case CLI_DNS_OPT_TIMEOUT:
		if (parse_timeout(arg, &o->timeout_ms) != 0) {
			fprintf(stderr, "danemx: --timeout '%s': want seconds between 0.01 and 3600\n", arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

int cli_dns_exit_code(enum dns_err e)
{
	switch (e) {
	case DNS_E_OK:
		return EX_OK;
	case DNS_E_USAGE:
		return EX_USAGE;
	case DNS_E_CONFIG:
		return EX_CONFIG;
	case DNS_E_UNAVAILABLE:
		return EX_UNAVAILABLE;
	default:
		return EX_OSERR;
	}
}

int cli_dns_ctx(const char *cmd, struct event_base *base, const struct dns_opts *o,
		struct dns_ctx **out)
{
	char err[512];
	enum dns_err why = DNS_E_NOMEM;

	if ((*out = dns_ctx_new(base, o, &why, err, sizeof(err))) != NULL)
		return EX_OK;
	fprintf(stderr, "danemx: %s: %s\n", cmd, err);
	return cli_dns_exit_code(why);
}

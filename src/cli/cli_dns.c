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
#include "util/str.h"

#include <event2/event.h>

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

struct preflight {
	int done, ok;
	char why[256];
};

static void preflight_cb(struct dns_result *r, void *arg)
{
	struct preflight *pf = arg;

	pf->done = 1;
	pf->ok = dns_result_validates(r);
	if (!pf->ok)
		str_printf(pf->why, sizeof(pf->why), "the DNSKEY RRset of \"%s\" is %s%s%s%s%s%s",
			   r->qname, dns_sec_name(r->sec), r->status != DNS_OK ? " (" : "",
			   r->status != DNS_OK ? dns_status_name(r->status) : "", r->status != DNS_OK ? ")" : "",
			   r->why_bogus[0] ? ": " : "", r->why_bogus);
	dns_result_free(r);
}

int cli_dns_preflight(const char *cmd, struct event_base *base, struct dns_ctx *dns,
		      const struct dns_opts *o, char *why, size_t whylen)
{
	struct preflight pf = {0};

	if (dns_probe_validation(dns, preflight_cb, &pf) == NULL) {
		str_copy(why, "out of memory", whylen);
		return EX_OSERR;
	}
	while (!pf.done && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	if (pf.ok)
		return 0;
	/* A forwarder that does not answer at all is unavailable, not a validation fault. */
	if (o->resolver != NULL && dns_resolver_answers(o->resolver, o->timeout_ms ? o->timeout_ms : 2000) == 0) {
		fprintf(stderr, "danemx: %s: resolver %s does not answer\n", cmd, o->resolver);
		return EX_UNAVAILABLE;
	}
	str_copy(why, pf.why[0] ? pf.why : "no trust anchor", whylen);
	return 3;
}

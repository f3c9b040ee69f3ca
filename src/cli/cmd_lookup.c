/*
 * cmd_lookup: `danemx lookup NAME [TYPE]`, an admin's view of one DNSSEC-validated lookup
 * (like unbound-host -v): the records, secure / insecure / bogus with the reason, the
 * CNAME chain, the TTL and the earliest signature expiry, as text or JSON. It only reads
 * the DNS; peer data (record text, bogus reasons) is escaped before it is printed.
 * Exit: 0 an answer (secure or insecure), 2 bogus, 3 NXDOMAIN or NODATA, 75 timeout or
 * server failure, 69 the --resolver does not answer, 64 usage, 78 bad trust anchor/config.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <event2/event.h>

#include "cli/cli_dns.h"
#include "cli/commands.h"
#include "dns/dns.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/str.h"

#define LOOKUP_EXIT_BOGUS 2
#define LOOKUP_EXIT_NOANSWER 3

static int cmd_lookup_run(int argc, char **argv);

const struct command cmd_lookup_def = {
	"lookup", cmd_lookup_run, "resolve one name with DNSSEC validation and show the answer",
	"danemx lookup [--json] " CLI_DNS_USAGE " NAME [TYPE]",
	"  --json                  one JSON object instead of text\n"
	"  TYPE                    A (default), AAAA, MX, TLSA, CNAME, DNSKEY, DS, TXT, ... or TYPEnn\n"
	CLI_DNS_HELP
	"Exit: 0 answer (secure or insecure), 2 bogus, 3 NXDOMAIN/NODATA, 75 timeout or\n"
	"SERVFAIL, 69 the --resolver does not answer, 64 usage, 78 trust anchor or config.\n",
};

static const struct option lookup_longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	CLI_DNS_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static void lookup_done(struct dns_result *res, void *arg)
{
	*(struct dns_result **)arg = res;
}

/* Record text comes from the answer: tabs become spaces, anything else odd is escaped. */
static const char *clean(const char *s, char *out, size_t outlen)
{
	char tmp[4096];
	size_t n = str_copy(tmp, s, sizeof(tmp));

	for (size_t i = 0; i < n && i < sizeof(tmp); i++)
		if (tmp[i] == '\t')
			tmp[i] = ' ';
	return str_escape(out, outlen, tmp, strlen(tmp));
}

static void iso_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		str_copy(out, "?", outlen);
}

static void print_text(const struct dns_result *r)
{
	char tbuf[32], line[4096];

	printf("query:   %s %s\n", r->qname, dns_type_name(r->qtype, tbuf, sizeof(tbuf)));
	printf("status:  %s\n", dns_status_name(r->status));
	if (r->status != DNS_TIMEOUT && r->status != DNS_ERROR)
		printf("dnssec:  %s\n", dns_sec_name(r->sec));
	if (r->why_bogus[0] != '\0')
		printf("why:     %s\n", str_escape(line, sizeof(line), r->why_bogus, strlen(r->why_bogus)));
	if (r->reason[0] != '\0' && strcmp(r->reason, r->why_bogus) != 0)
		printf("reason:  %s\n", str_escape(line, sizeof(line), r->reason, strlen(r->reason)));
	for (size_t i = 0; i < r->ncnames; i++)
		printf("cname:   %s -> %s\n", r->cnames[i].owner, r->cnames[i].target);
	if (r->ncnames > 0)
		printf("chain:   %s\n", r->chain_secure ? "secure" : "not secure");
	if (r->status == DNS_OK || r->status == DNS_NXDOMAIN || r->status == DNS_NODATA)
		printf("ttl:     %u\n", r->ttl);
	if (r->sig_expire != 0) {
		iso_time(r->sig_expire, tbuf, sizeof(tbuf));
		printf("expires: %s\n", tbuf);
	}
	for (size_t i = 0; i < r->nrrs; i++)
		printf("%s%s\n", r->sec == DNS_SEC_BOGUS ? "BOGUS " : "", clean(r->rrs[i], line, sizeof(line)));
}

static void json_typed(struct json *j, const struct dns_result *r)
{
	if (r->nmx > 0) {
		json_key(j, "mx");
		json_arr_begin(j);
		for (size_t i = 0; i < r->nmx; i++) {
			json_obj_begin(j);
			json_kv_int(j, "preference", r->mx[i].preference);
			json_kv_str(j, "host", r->mx[i].host);
			json_obj_end(j);
		}
		json_arr_end(j);
	}
	if (r->naddrs > 0) {
		json_key(j, "addresses");
		json_arr_begin(j);
		for (size_t i = 0; i < r->naddrs; i++)
			json_str(j, r->addrs[i].text);
		json_arr_end(j);
	}
	if (r->ntlsa > 0) {
		json_key(j, "tlsa");
		json_arr_begin(j);
		for (size_t i = 0; i < r->ntlsa; i++) {
			char *hex = str_hex(r->tlsa[i].data, r->tlsa[i].len);
			json_obj_begin(j);
			json_kv_int(j, "usage", r->tlsa[i].usage);
			json_kv_int(j, "selector", r->tlsa[i].selector);
			json_kv_int(j, "mtype", r->tlsa[i].mtype);
			json_kv_str(j, "data", hex);
			json_obj_end(j);
			free(hex);
		}
		json_arr_end(j);
	}
}

static int print_json(const struct dns_result *r)
{
	struct buf b = BUF_INIT(0);
	struct json j;
	char tbuf[32];
	int rc;

	json_init(&j, &b, 1);
	json_obj_begin(&j);
	json_kv_str(&j, "qname", r->qname);
	json_kv_str(&j, "qtype", dns_type_name(r->qtype, tbuf, sizeof(tbuf)));
	json_kv_str(&j, "status", dns_status_name(r->status));
	json_kv_int(&j, "rcode", r->rcode);
	json_kv_str(&j, "dnssec", r->status == DNS_TIMEOUT || r->status == DNS_ERROR ? NULL : dns_sec_name(r->sec));
	json_kv_str(&j, "why_bogus", r->why_bogus[0] ? r->why_bogus : NULL);
	json_kv_str(&j, "reason", r->reason[0] ? r->reason : NULL);
	json_kv_int(&j, "ttl", r->ttl);
	json_kv_str(&j, "canonical", r->canon[0] ? r->canon : NULL);
	json_key(&j, "cname_chain");
	json_arr_begin(&j);
	for (size_t i = 0; i < r->ncnames; i++) {
		json_obj_begin(&j);
		json_kv_str(&j, "owner", r->cnames[i].owner);
		json_kv_str(&j, "target", r->cnames[i].target);
		json_kv_str(&j, "dnssec", dns_sec_name(r->cnames[i].sec));
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_kv_bool(&j, "chain_secure", r->chain_secure);
	json_key(&j, "records");
	json_arr_begin(&j);
	for (size_t i = 0; i < r->nrrs; i++)
		json_str(&j, r->rrs[i]);
	json_arr_end(&j);
	json_typed(&j, r);
	json_key(&j, "rrsig_expires");
	if (r->sig_expire != 0)
		json_int(&j, (long long)r->sig_expire);
	else
		json_null(&j);
	json_kv_int(&j, "elapsed_ms", r->elapsed_ms);
	json_obj_end(&j);
	if ((rc = json_error(&j)) == 0)
		printf("%s\n", buf_cstr(&b));
	buf_free(&b);
	return rc == 0 ? 0 : -1;
}

static int lookup_exit(const struct dns_result *r, const struct dns_opts *o)
{
	if (r->sec == DNS_SEC_BOGUS)
		return LOOKUP_EXIT_BOGUS;
	switch (r->status) {
	case DNS_OK:
		return EX_OK;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		return LOOKUP_EXIT_NOANSWER;
	case DNS_TIMEOUT:
	case DNS_FAIL:
		if (o->resolver != NULL &&
		    dns_resolver_answers(o->resolver, o->timeout_ms ? o->timeout_ms : 2000) == 0) {
			fprintf(stderr, "danemx: lookup: resolver %s does not answer\n", o->resolver);
			return EX_UNAVAILABLE;
		}
		return EX_TEMPFAIL;
	default:
		return EX_SOFTWARE;
	}
}

static int lookup_parse(int argc, char **argv, struct dns_opts *o, int *json, const char **name,
			uint16_t *qtype)
{
	int c;

	while ((c = getopt_long(argc, argv, "", lookup_longopts, NULL)) != -1) {
		if (c == 'j') {
			*json = 1;
			continue;
		}
		switch (cli_dns_option(c, optarg, o)) {
		case 1:
			continue;
		case -1:
			return EX_USAGE;
		default:
			return cmd_usage(&cmd_lookup_def);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cmd_usage(&cmd_lookup_def);
	*name = argv[optind];
	if (strlen(*name) == 0 || strlen(*name) > 253 + 1 || strpbrk(*name, " \t\r\n\"\\") != NULL) {
		fprintf(stderr, "danemx: lookup: bad domain name\n");
		return EX_USAGE;
	}
	if (argc - optind == 2 && (*qtype = dns_type_from_name(argv[optind + 1])) == 0) {
		fprintf(stderr, "danemx: lookup: unknown record type '%s'\n", argv[optind + 1]);
		return EX_USAGE;
	}
	return EX_OK;
}

static int cmd_lookup_run(int argc, char **argv)
{
	struct dns_opts o = { 0 };
	struct event_base *base = NULL;
	struct dns_ctx *ctx = NULL;
	struct dns_result *res = NULL;
	const char *name = NULL;
	uint16_t qtype = 1;   /* A */
	int json = 0, rc;

	if ((rc = lookup_parse(argc, argv, &o, &json, &name, &qtype)) != EX_OK)
		return rc;
	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "danemx: lookup: cannot create the event loop\n");
		return EX_OSERR;
	}
	if ((rc = cli_dns_ctx("lookup", base, &o, &ctx)) != EX_OK)
		goto out;
	if (dns_query(ctx, name, qtype, lookup_done, &res) == NULL) {
		fprintf(stderr, "danemx: lookup: out of memory\n");
		rc = EX_OSERR;
		goto out;
	}
	while (res == NULL)   /* dns guarantees one callback: a timer bounds every query */
		event_base_loop(base, EVLOOP_ONCE);
	if (res->status == DNS_ERROR)
		fprintf(stderr, "danemx: lookup: %s\n", res->reason);
	if (json ? print_json(res) != 0 : (print_text(res), 0)) {
		fprintf(stderr, "danemx: lookup: cannot format the result\n");
		rc = EX_SOFTWARE;
		goto out;
	}
	rc = res->status == DNS_ERROR && strstr(res->reason, "invalid") ? EX_USAGE : lookup_exit(res, &o);
out:
	dns_result_free(res);
	dns_ctx_free(ctx);
	if (base != NULL)
		event_base_free(base);
	return rc;
}

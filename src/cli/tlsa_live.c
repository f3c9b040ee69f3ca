/*
 * tlsa_live: `danemx tlsa fetch` and `danemx tlsa audit` (see tlsa_live.h). One driver
 * runs the check engine for one name (resolver preflight, TLSA lookup, a probe of every
 * address); fetch prints the chains with candidate records, audit prints engine/audit's
 * findings and exits with their worst severity (the codes of `check --nagios`). It must
 * never open a socket or resolve by itself and never format a TLSA record by hand.
 */
#include "cli/tlsa_live.h"

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
#include "dane/tlsa.h"
#include "engine/audit.h"
#include "engine/check.h"
#include "smtp/client.h"
#include "tls/tls_client.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/str.h"

#define CANDIDATES_MAX 4

enum {
	OPT_JSON = 0x3100, OPT_PORT, OPT_NEXT, OPT_MAX_TTL, OPT_RRSIG_DAYS,
};

/* ---- the live run: the check engine for one name ------------------------------------ */

struct live {
	struct event_base *base;
	struct dns_ctx *dns;
	SSL_CTX *ctx;
	struct check_params params;
	struct check_result *res;
	char name[DNS_NAME_MAX];
	char helo[256];
};

/* Can the resolver validate at all? Without it no record can be called published. */
static int live_preflight(struct live *lv, const char *cmd, const struct dns_opts *dopts)
{
	char why[256];
	int rc = cli_dns_preflight(cmd, lv->base, lv->dns, dopts, why, sizeof(why));

	if (rc == 3)
		fprintf(stderr, "danemx %s: resolver cannot validate DNSSEC: %s\n", cmd, why);
	return rc;
}

static void live_done(struct check_result *res, void *arg)
{
	((struct live *)arg)->res = res;
}

static int live_name(struct live *lv, const char *cmd, const char *arg)
{
	char err[256], esc[128];

	if (check_normalise_domain(arg, lv->name, sizeof(lv->name), err, sizeof(err)) == 0)
		return 0;
	str_escape(esc, sizeof(esc), arg, strlen(arg));
	fprintf(stderr, "danemx %s: %s: %s\n", cmd, esc, err);
	return EX_USAGE;
}

/* Resolve and probe lv->name; 0 with lv->res set, or an exit code (message printed). */
static int live_run(struct live *lv, const char *cmd, const struct dns_opts *dopts)
{
	struct tls_client_opts topts = {0};
	char err[512];
	int rc;

	if ((lv->base = event_base_new()) == NULL)
		return EX_OSERR;
	if ((rc = cli_dns_ctx(cmd, lv->base, dopts, &lv->dns)) != 0)
		return rc;
	if ((lv->ctx = tls_client_ctx_new(&topts, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx %s: TLS setup: %s\n", cmd, err);
		return EX_SOFTWARE;
	}
	if ((rc = live_preflight(lv, cmd, dopts)) != 0)
		return rc;
	if (gethostname(lv->helo, sizeof(lv->helo)) != 0 || strchr(lv->helo, '.') == NULL)
		str_copy(lv->helo, "localhost", sizeof(lv->helo));
	lv->helo[sizeof(lv->helo) - 1] = '\0';
	lv->params.dns = lv->dns;
	lv->params.ssl_ctx = lv->ctx;
	lv->params.helo = lv->helo;
	lv->params.insecure_mx_dane = 1;
	lv->params.both_keys = 1;
	lv->params.timeout_ms = dopts->timeout_ms ? dopts->timeout_ms : 30000;
	if (check_start(lv->base, &lv->params, lv->name, live_done, lv) == NULL) {
		fprintf(stderr, "danemx %s: out of memory\n", cmd);
		return EX_OSERR;
	}
	event_base_dispatch(lv->base);
	return lv->res != NULL ? 0 : EX_SOFTWARE;
}

static void live_free(struct live *lv)
{
	check_result_free(lv->res);
	SSL_CTX_free(lv->ctx);
	dns_ctx_free(lv->dns);
	if (lv->base != NULL)
		event_base_free(lv->base);
}

static int parse_num(const char *cmd, const char *opt, const char *s, unsigned long min,
		     unsigned long max, unsigned long *out)
{
	if (str_to_ulong(s, min, max, out) < 0) {
		char esc[64];
		str_escape(esc, sizeof(esc), s, strlen(s));
		fprintf(stderr, "danemx %s: --%s: want a number %lu-%lu: %s\n", cmd, opt, min, max, esc);
		return -1;
	}
	return 0;
}

static void print_json(void (*fn)(const void *, struct json *), const void *arg)
{
	struct buf b = BUF_INIT(0);
	struct json j;

	json_init(&j, &b, 0);
	fn(arg, &j);
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

static const char *rr_str(const struct tlsa_rr *rr, struct buf *b)
{
	buf_reset(b);
	if (tlsa_format_rdata(rr, b) != TLSA_OK)
		return "?";
	return buf_cstr(b);
}

/* ---- fetch ---------------------------------------------------------------------------- */

/* The published record equal to rr, or -1. */
static int published_index(const struct check_host *h, const struct tlsa_rr *rr)
{
	for (size_t i = 0; i < h->ntlsa; i++)
		if (tlsa_rr_equal(&h->tlsa[i].rr, rr))
			return (int)i;
	return -1;
}

/* The probes that saw a chain of their own (a key type the server lacks repeats one). */
static const struct tls_facts *fetch_chain(const struct check_probe *pr)
{
	const struct smtp_client_result *c = pr->client;

	if (pr->not_applicable || c == NULL || !c->tls || c->tls_facts.nchain == 0)
		return NULL;
	return &c->tls_facts;
}

struct fetch_view {
	const struct check_result *res;
	uint16_t port;
};

static void fetch_cert_text(const struct check_host *h, const struct cert_facts *c, size_t depth,
			    int *used, struct buf *b)
{
	struct tlsa_rr cand[CANDIDATES_MAX];
	struct audit_digests d;
	size_t n = audit_candidates(c, (int)depth, cand, CANDIDATES_MAX);

	printf("  %zu %s\n", depth, c->subject);
	printf("      issuer %s; until %s%s; %s %d%s%s\n", c->issuer, c->not_after,
	       c->expired ? " (expired)" : "", c->key_type, c->key_bits, c->key_curve[0] ? " " : "",
	       c->key_curve);
	if (c->sans[0] != '\0')
		printf("      names %s\n", c->sans);
	for (size_t i = 0; i < n; i++) {
		int p = published_index(h, &cand[i]);
		if (p >= 0)
			used[p] = 1;
		printf("      %s%s\n", rr_str(&cand[i], b), p >= 0 ? "  [published]" : "");
	}
	audit_digests_from_facts(c, &d);
	for (size_t i = 0; i < h->ntlsa; i++)
		if (published_index(h, &h->tlsa[i].rr) == (int)i && audit_rr_matches(&h->tlsa[i].rr, &d) &&
		    !used[i]) {
			used[i] = 1;
			printf("      %.80s%s  [published%s%s]\n", rr_str(&h->tlsa[i].rr, b),
			       b->len > 80 ? "..." : "", h->tlsa[i].usable ? "" : ", unusable: ", h->tlsa[i].why);
		}
}

static void fetch_text(const struct check_result *res, uint16_t port)
{
	const struct check_host *h = &res->hosts[0];
	const struct check_lookup *tl = &h->tlsa_lookup;
	struct buf b = BUF_INIT(0);
	int *used = calloc(h->ntlsa ? h->ntlsa : 1, sizeof(int));

	printf("%s: TLSA %s: %s, %s, %zu record%s\n", h->name, tl->done ? tl->qname : "(not looked up)",
	       tl->done ? tl->status : "-", tl->done ? dns_sec_name(tl->sec) : "-", h->ntlsa,
	       h->ntlsa == 1 ? "" : "s");
	for (size_t i = 0; used != NULL && i < h->naddrs; i++)
		for (size_t j = 0; j < h->addrs[i].nprobes; j++) {
			const struct tls_facts *tf = fetch_chain(&h->addrs[i].probes[j]);
			if (tf == NULL)
				continue;
			printf("%s port %u (%s key): %s %s, %zu certificate%s\n", h->addrs[i].addr.text, port,
			       h->addrs[i].probes[j].key_type, tf->version, tf->cipher, tf->ntotal,
			       tf->ntotal == 1 ? "" : "s");
			for (size_t k = 0; k < tf->nchain; k++)
				fetch_cert_text(h, &tf->chain[k], k, used, &b);
		}
	for (size_t i = 0; used != NULL && i < h->ntlsa; i++)
		if (!used[i])
			printf("published, matching no certificate above: %.80s%s\n", rr_str(&h->tlsa[i].rr, &b),
			       b.len > 80 ? "..." : "");
	free(used);
	buf_free(&b);
}

static void fetch_json_cert(struct json *j, const struct check_host *h, const struct cert_facts *c,
			    size_t depth, struct buf *b)
{
	struct tlsa_rr cand[CANDIDATES_MAX];
	size_t n = audit_candidates(c, (int)depth, cand, CANDIDATES_MAX);

	json_obj_begin(j);
	json_kv_int(j, "depth", (long long)depth);
	json_kv_str(j, "subject", c->subject);
	json_kv_str(j, "issuer", c->issuer);
	json_kv_str(j, "not_after", c->not_after);
	json_kv_bool(j, "expired", c->expired);
	json_kv_str(j, "key_type", c->key_type);
	json_kv_int(j, "key_bits", c->key_bits);
	json_kv_str(j, "names", c->sans);
	json_key(j, "candidates");
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++) {
		json_obj_begin(j);
		json_kv_str(j, "record", rr_str(&cand[i], b));
		json_kv_bool(j, "published", published_index(h, &cand[i]) >= 0);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static void fetch_json_chains(struct json *j, const struct check_host *h, uint16_t port, struct buf *b)
{
	json_key(j, "chains");
	json_arr_begin(j);
	for (size_t i = 0; i < h->naddrs; i++)
		for (size_t k = 0; k < h->addrs[i].nprobes; k++) {
			const struct tls_facts *tf = fetch_chain(&h->addrs[i].probes[k]);
			if (tf == NULL)
				continue;
			json_obj_begin(j);
			json_kv_str(j, "address", h->addrs[i].addr.text);
			json_kv_int(j, "port", port);
			json_kv_str(j, "key", h->addrs[i].probes[k].key_type);
			json_kv_str(j, "version", tf->version);
			json_kv_str(j, "cipher", tf->cipher);
			json_key(j, "certificates");
			json_arr_begin(j);
			for (size_t d = 0; d < tf->nchain; d++)
				fetch_json_cert(j, h, &tf->chain[d], d, b);
			json_arr_end(j);
			json_obj_end(j);
		}
	json_arr_end(j);
}

static void fetch_json(const void *arg, struct json *j)
{
	const struct fetch_view *v = arg;
	const struct check_host *h = &v->res->hosts[0];
	struct buf b = BUF_INIT(0);

	json_obj_begin(j);
	json_kv_str(j, "host", h->name);
	json_kv_str(j, "tlsa_name", h->tlsa_lookup.done ? h->tlsa_lookup.qname : NULL);
	json_kv_str(j, "tlsa_dnssec", h->tlsa_lookup.done ? dns_sec_name(h->tlsa_lookup.sec) : NULL);
	json_key(j, "published");
	json_arr_begin(j);
	for (size_t i = 0; i < h->ntlsa; i++)
		json_str(j, rr_str(&h->tlsa[i].rr, &b));
	json_arr_end(j);
	fetch_json_chains(j, h, v->port, &b);
	json_obj_end(j);
	buf_free(&b);
}

/* Why no chain was seen: the first address's reason, else the host's. */
static int fetch_failed(const struct check_result *res)
{
	const struct check_host *h = res->nhosts > 0 ? &res->hosts[0] : NULL;

	if (h == NULL || h->naddrs == 0) {
		fprintf(stderr, "danemx tlsa fetch: %s: %s\n", res->domain,
			h != NULL ? h->reason : res->reason);
		return EX_NOHOST;
	}
	/* a host the engine did not probe (its TLSA lookup failed) says why itself */
	fprintf(stderr, "danemx tlsa fetch: %s: no certificate chain: %s\n", h->name,
		h->req == CHECK_REQ_TEMPFAIL || !h->addrs[0].reason[0] ? h->reason : h->addrs[0].reason);
	return EX_UNAVAILABLE;
}

static int fetch_has_chain(const struct check_result *res)
{
	for (size_t i = 0; res->nhosts > 0 && i < res->hosts[0].naddrs; i++)
		for (size_t j = 0; j < res->hosts[0].addrs[i].nprobes; j++)
			if (fetch_chain(&res->hosts[0].addrs[i].probes[j]) != NULL)
				return 1;
	return 0;
}

int tlsa_fetch_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"port", required_argument, NULL, OPT_PORT},
		CLI_DNS_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct live lv;
	struct dns_opts dopts;
	unsigned long v = 25;
	int c, json = 0, rc;

	memset(&lv, 0, sizeof(lv));
	memset(&dopts, 0, sizeof(dopts));
	lv.params.port = 25;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int r = cli_dns_option(c, optarg, &dopts);
		if (r < 0)
			return EX_USAGE;
		if (r > 0)
			continue;
		if (c == OPT_JSON)
			json = 1;
		else if (c == OPT_PORT && parse_num("tlsa fetch", "port", optarg, 1, 65535, &v) == 0)
			lv.params.port = (uint16_t)v;
		else
			return c == OPT_PORT ? EX_USAGE : cmd_usage(&cmd_tlsa_def);
	}
	if (optind != argc - 1)
		return cmd_usage(&cmd_tlsa_def);
	if ((rc = live_name(&lv, "tlsa fetch", argv[optind])) != 0)
		return rc;
	lv.params.host_only = 1;
	if ((rc = live_run(&lv, "tlsa fetch", &dopts)) == 0) {
		if (!fetch_has_chain(lv.res)) {
			rc = fetch_failed(lv.res);
		} else if (json) {
			struct fetch_view view = {lv.res, lv.params.port};
			print_json(fetch_json, &view);
		} else {
			fetch_text(lv.res, lv.params.port);
		}
	}
	live_free(&lv);
	return rc;
}

/* ---- audit ------------------------------------------------------------------------------ */

static void audit_host_text(const struct audit_host *ah, struct buf *b)
{
	const struct check_host *h = ah->h;
	const struct check_lookup *tl = &h->tlsa_lookup;
	char when[32] = "-";
	struct tm tm;

	if (tl->sig_expire != 0 && gmtime_r(&tl->sig_expire, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("  %s  %s\n", h->name, verdict_name(h->v));
	if (tl->done)
		printf("    TLSA %s: %s, %s, TTL %u, RRSIG until %s; %zu chain%s seen\n", tl->qname,
		       tl->status, dns_sec_name(tl->sec), tl->ttl, when, ah->nchains,
		       ah->nchains == 1 ? "" : "s");
	else
		printf("    TLSA not looked up: %s\n", h->req_reason[0] ? h->req_reason : h->reason);
	for (size_t i = 0; i < ah->nrecs; i++)
		printf("    %.80s%s  %s%s%s\n", rr_str(&ah->recs[i].t->rr, b), b->len > 80 ? "..." : "",
		       audit_rec_state_name(ah->recs[i].state), ah->recs[i].where[0] ? ": " : "",
		       ah->recs[i].where);
}

static void audit_text(const struct audit_report *r)
{
	struct buf b = BUF_INIT(0);
	size_t count[4] = {0};

	for (size_t i = 0; i < r->nf; i++)
		count[r->f[i].sev & 3]++;
	printf("%s: %s (verdict %s): %zu critical, %zu warning%s\n", r->res->domain,
	       audit_sev_name(r->sev), verdict_name(r->res->v), count[AUDIT_CRITICAL],
	       count[AUDIT_WARNING], count[AUDIT_WARNING] == 1 ? "" : "s");
	for (size_t i = 0; i < r->nhosts; i++)
		audit_host_text(&r->hosts[i], &b);
	for (size_t i = 0; i < r->nf; i++) {
		const struct audit_finding *f = &r->f[i];
		printf("%s %s%s%s%s%s: %s%s%s%s\n", f->sev == AUDIT_OK ? "note" : audit_sev_name(f->sev),
		       f->code, f->host[0] ? " " : "", f->host, f->record[0] ? " " : "", f->record, f->text,
		       f->rule ? " [" : "", f->rule ? f->rule : "", f->rule ? "]" : "");
	}
	buf_free(&b);
}

static void audit_json_cb(const void *arg, struct json *j)
{
	audit_report_json(arg, j);
}

struct audit_opts {
	struct audit_next next[AUDIT_NEXT_MAX];
	size_t nnext;
	unsigned long max_ttl, rrsig_days;
	int json;
};

static int audit_next_opt(struct audit_opts *o, const char *path)
{
	char err[TLSA_ERRLEN];
	int rc;

	if (o->nnext >= AUDIT_NEXT_MAX) {
		fprintf(stderr, "danemx tlsa audit: at most %d --next files\n", AUDIT_NEXT_MAX);
		return EX_USAGE;
	}
	if ((rc = audit_next_load(path, &o->next[o->nnext], err, sizeof(err))) != TLSA_OK) {
		fprintf(stderr, "danemx tlsa audit: --next %s\n", err);
		return rc == TLSA_EFILE ? EX_NOINPUT : EX_DATAERR;
	}
	o->nnext++;
	return 0;
}

static int audit_report_out(const struct check_result *res, const struct audit_opts *o)
{
	struct audit_params p = {time(NULL), (uint32_t)o->max_ttl, (long)o->rrsig_days * 86400L,
				 o->next, o->nnext};
	struct audit_report *r = NULL;
	int rc;

	if (audit_run(res, &p, &r) != 0) {
		fprintf(stderr, "danemx tlsa audit: out of memory\n");
		return EX_OSERR;
	}
	if (o->json)
		print_json(audit_json_cb, r);
	else
		audit_text(r);
	rc = (int)r->sev;
	audit_report_free(r);
	return rc;
}

int tlsa_audit_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"port", required_argument, NULL, OPT_PORT},
		{"next", required_argument, NULL, OPT_NEXT},
		{"max-ttl", required_argument, NULL, OPT_MAX_TTL},
		{"rrsig-days", required_argument, NULL, OPT_RRSIG_DAYS},
		CLI_DNS_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct live lv;
	struct dns_opts dopts;
	struct audit_opts *o = calloc(1, sizeof(*o));
	unsigned long v = 25;
	int c, rc = 0;

	memset(&lv, 0, sizeof(lv));
	memset(&dopts, 0, sizeof(dopts));
	if (o == NULL)
		return EX_OSERR;
	lv.params.port = 25;
	o->max_ttl = 3600;
	o->rrsig_days = 7;
	while (rc == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int r = cli_dns_option(c, optarg, &dopts);
		if (r != 0) {
			rc = r < 0 ? EX_USAGE : 0;
			continue;
		}
		switch (c) {
		case OPT_JSON: o->json = 1; break;
		case OPT_PORT:
			rc = parse_num("tlsa audit", "port", optarg, 1, 65535, &v) == 0 ? 0 : EX_USAGE;
			lv.params.port = (uint16_t)v;
			break;
		case OPT_NEXT: rc = audit_next_opt(o, optarg); break;
		case OPT_MAX_TTL:
			rc = parse_num("tlsa audit", "max-ttl", optarg, 0, 2147483647UL, &o->max_ttl) == 0 ? 0 : EX_USAGE;
			break;
		case OPT_RRSIG_DAYS:
			rc = parse_num("tlsa audit", "rrsig-days", optarg, 0, 3650, &o->rrsig_days) == 0 ? 0 : EX_USAGE;
			break;
		default: rc = cmd_usage(&cmd_tlsa_def); break;
		}
	}
	if (rc == 0 && optind != argc - 1)
		rc = cmd_usage(&cmd_tlsa_def);
	if (rc == 0)
		rc = live_name(&lv, "tlsa audit", argv[optind]);
	if (rc == 0 && (rc = live_run(&lv, "tlsa audit", &dopts)) == 0)
		rc = audit_report_out(lv.res, o);
	live_free(&lv);
	free(o);
	return rc;
}

/*
 * check_report: text and monitoring-plugin output of check results. Peer-controlled
 * strings were escaped by the engine; this file adds no data of its own.
 */
#include "cli/check_report.h"

#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "smtp/client.h"
#include "util/str.h"

#define C_RESET "\033[0m"

static const char *verdict_color(enum verdict v)
{
	switch (v) {
	case VERDICT_VERIFIED:
	case VERDICT_TRUSTED: return "\033[1;32m";
	case VERDICT_DANE_FAIL:
	case VERDICT_TEMPFAIL: return "\033[1;31m";
	case VERDICT_NOMAIL: return "\033[1m";
	default: return "\033[1;33m";
	}
}

static void put_verdict(FILE *fp, enum verdict v, int color)
{
	char up[32];
	size_t i;

	str_copy(up, verdict_name(v), sizeof(up));
	for (i = 0; up[i]; i++)
		if (up[i] >= 'a' && up[i] <= 'z')
			up[i] = (char)(up[i] - 'a' + 'A');
	if (color)
		fprintf(fp, "%s%s%s", verdict_color(v), up, C_RESET);
	else
		fputs(up, fp);
}

static void put_lookup(FILE *fp, const char *label, const struct check_lookup *l)
{
	if (!l->done)
		return;
	fprintf(fp, "    %-12s %s: %s, %s", label, l->qname, l->status, dns_sec_name(l->sec));
	if (l->ttl)
		fprintf(fp, ", TTL %u", l->ttl);
	if (l->why_bogus[0])
		fprintf(fp, " (%s)", l->why_bogus);
	fputc('\n', fp);
}

static void put_chain(FILE *fp, const struct tls_facts *f)
{
	for (size_t i = 0; i < f->nchain; i++) {
		const struct cert_facts *c = &f->chain[i];
		char key[64];

		if (c->key_curve[0])
			snprintf(key, sizeof(key), "%s %s", c->key_type, c->key_curve);
		else
			snprintf(key, sizeof(key), "%s %d", c->key_type, c->key_bits);
		fprintf(fp, "        %zu %s\n          issuer %s; until %s%s; %s\n", i, c->subject,
			c->issuer, c->not_after, c->expired ? " (EXPIRED)" : "", key);
		if (c->sans[0])
			fprintf(fp, "          names %s\n", c->sans);
	}
}

static void put_probe(FILE *fp, const struct check_probe *pr, int color, int many)
{
	const struct smtp_client_result *r = pr->client;

	fprintf(fp, "      ");
	if (many)
		fprintf(fp, "[%s key] ", pr->key_type);
	if (pr->not_applicable) {
		fprintf(fp, "not applicable: %s\n", pr->reason);
		return;
	}
	put_verdict(fp, pr->v, color);
	fprintf(fp, ": %s%s%s%s\n", pr->reason, pr->rule ? " [" : "", pr->rule ? pr->rule : "",
		pr->rule ? "]" : "");
	if (r == NULL)
		return;
	if (r->banner[0])
		fprintf(fp, "        banner %s\n", r->banner);
	fprintf(fp, "        STARTTLS %s", r->starttls_offered ? "offered" : "not offered");
	if (r->tls)
		fprintf(fp, "; %s %s", r->tls_facts.version, r->tls_facts.cipher);
	if (r->plaintext_discarded)
		fprintf(fp, "; %zu bytes of injected plaintext discarded", r->plaintext_discarded);
	fputc('\n', fp);
	if (r->tls)
		put_chain(fp, &r->tls_facts);
}

static void put_host(FILE *fp, const struct check_host *h, int color)
{
	fprintf(fp, "  MX %u %s  ", h->preference, h->name);
	put_verdict(fp, h->v, color);
	fprintf(fp, "\n    %s\n", h->reason);
	for (size_t i = 0; i < h->ncname; i++)
		fprintf(fp, "    CNAME        %s -> %s (%s)\n", h->cname_owner[i], h->cname_target[i],
			h->cname_secure ? "secure" : "not secure");
	put_lookup(fp, "A", &h->a);
	put_lookup(fp, "AAAA", &h->aaaa);
	put_lookup(fp, "TLSA", &h->tlsa_lookup);
	for (size_t i = 0; i < h->ntlsa; i++) {
		const struct check_tlsa_rec *t = &h->tlsa[i];
		char *hex = str_hex(t->rr.data, t->rr.len);
		size_t hl = hex != NULL ? strlen(hex) : 0;

		fprintf(fp, "                 %u %u %u %.*s%s  %s%s\n", t->rr.usage, t->rr.selector, t->rr.mtype,
			(int)(hl > 24 ? 24 : hl), hex != NULL ? hex : "", hl > 24 ? "..." : "",
			t->usable ? "usable" : "unusable: ", t->usable ? "" : t->why);
		free(hex);
	}
	fprintf(fp, "    requirement  %s: %s\n", check_tls_req_name(h->req), h->req_reason);
	for (size_t i = 0; i < h->naddrs; i++) {
		const struct check_address *a = &h->addrs[i];
		fprintf(fp, "    %s  ", a->addr.text);
		put_verdict(fp, a->v, color);
		fprintf(fp, "%s\n", a->ignorable ? " (unreachable; not counted)" : "");
		for (size_t k = 0; k < a->nprobes; k++)
			put_probe(fp, &a->probes[k], color, a->nprobes > 1);
		if (a->nprobes == 0)
			fprintf(fp, "      %s\n", a->reason);
	}
}

void check_report_text(FILE *fp, const struct check_result *res, int color)
{
	fprintf(fp, "%s  ", res->domain);
	put_verdict(fp, res->v, color);
	fprintf(fp, "  %s%s%s%s\n", res->reason, res->rule ? " [" : "", res->rule ? res->rule : "",
		res->rule ? "]" : "");
	if (res->mx_lookup.done) {
		fprintf(fp, "  MX RRset: %s, %s", res->mx_lookup.status, dns_sec_name(res->mx_lookup.sec));
		if (res->mx_lookup.why_bogus[0])
			fprintf(fp, " (%s)", res->mx_lookup.why_bogus);
		if (res->implicit_mx)
			fprintf(fp, "; no MX records: the domain itself is the implicit MX");
		if (res->null_mx)
			fprintf(fp, "; null MX");
		fputc('\n', fp);
	}
	for (size_t i = 0; i < res->nhosts; i++)
		put_host(fp, &res->hosts[i], color);
	fputc('\n', fp);
}

void check_report_nagios(FILE *fp, struct check_result *const *res, size_t n)
{
	static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
	size_t count[VERDICT_COUNT] = {0};
	int worst = 0;
	size_t wi = 0;

	for (size_t i = 0; i < n; i++) {
		int s = res[i] != NULL ? verdict_nagios(res[i]->v) : 3;
		if (res[i] != NULL)
			count[res[i]->v]++;
		if (s > worst) {
			worst = s;
			wi = i;
		}
	}
	fprintf(fp, "DANE %s - ", names[worst]);
	if (n == 1 && res[0] != NULL)
		fprintf(fp, "%s %s: %s", res[0]->domain, verdict_name(res[0]->v), res[0]->reason);
	else if (res[wi] != NULL)
		fprintf(fp, "%zu domains; worst %s %s: %s", n, res[wi]->domain, verdict_name(res[wi]->v),
			res[wi]->reason);
	fputs(" |", fp);
	for (int v = 0; v < VERDICT_COUNT; v++)
		fprintf(fp, " %s=%zu", verdict_name((enum verdict)v), count[v]);
	if (n == 1 && res[0] != NULL)
		fprintf(fp, " time=%.3fs", res[0]->elapsed_ms / 1000.0);
	fputc('\n', fp);
}

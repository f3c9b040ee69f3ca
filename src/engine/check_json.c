/*
 * check_json: a check result as the JSON object documented in docs/check-json.md. The
 * one serialiser for check --json, scan's JSON lines and the demo: field names live here
 * only. It reads the result tree; it never resolves, connects or decides a verdict.
 */
#include "engine/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "smtp/client.h"
#include "util/json.h"
#include "util/str.h"

static void json_lookup(struct json *j, const char *key, const struct check_lookup *l)
{
	json_key(j, key);
	if (!l->done) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	json_kv_str(j, "name", l->qname);
	json_kv_str(j, "status", l->status);
	json_kv_str(j, "dnssec", dns_sec_name(l->sec));
	json_kv_str(j, "why_bogus", l->why_bogus[0] ? l->why_bogus : NULL);
	json_kv_int(j, "ttl", l->ttl);
	json_obj_end(j);
}

static void json_tlsa(struct json *j, const struct check_host *h)
{
	json_key(j, "tlsa");
	json_arr_begin(j);
	for (size_t i = 0; i < h->ntlsa; i++) {
		const struct check_tlsa_rec *t = &h->tlsa[i];
		char *hex = str_hex(t->rr.data, t->rr.len);

		json_obj_begin(j);
		json_kv_int(j, "usage", t->rr.usage);
		json_kv_int(j, "selector", t->rr.selector);
		json_kv_int(j, "mtype", t->rr.mtype);
		json_kv_str(j, "data", hex != NULL ? hex : "");
		json_kv_bool(j, "usable", t->usable);
		json_kv_str(j, "why", t->usable ? NULL : t->why);
		json_obj_end(j);
		free(hex);
	}
	json_arr_end(j);
}

static void json_chain(struct json *j, const struct tls_facts *f)
{
	json_key(j, "chain");
	json_arr_begin(j);
	for (size_t i = 0; i < f->nchain; i++) {
		const struct cert_facts *c = &f->chain[i];
		char key[64];
		char *spki = str_hex(c->spki_sha256, sizeof(c->spki_sha256));

		if (c->key_curve[0])
			snprintf(key, sizeof(key), "%s %s", c->key_type, c->key_curve);
		else
			snprintf(key, sizeof(key), "%s %d", c->key_type, c->key_bits);
		json_obj_begin(j);
		json_kv_int(j, "depth", (long long)i);
		json_kv_str(j, "subject", c->subject);
		json_kv_str(j, "issuer", c->issuer);
		json_kv_str(j, "not_before", c->not_before);
		json_kv_str(j, "not_after", c->not_after);
		json_kv_bool(j, "expired", c->expired);
		json_kv_str(j, "key", key);
		json_kv_str(j, "spki_sha256", spki != NULL ? spki : "");
		json_kv_str(j, "names", c->sans);
		json_obj_end(j);
		free(spki);
	}
	json_arr_end(j);
}

static void json_probe(struct json *j, const struct check_probe *pr)
{
	const struct smtp_client_result *r = pr->client;

	json_obj_begin(j);
	json_kv_str(j, "key_type", pr->key_type);
	json_kv_str(j, "verdict", pr->not_applicable ? "not-applicable" : verdict_name(pr->v));
	json_kv_str(j, "reason", pr->reason);
	json_kv_str(j, "rule", pr->rule);
	if (r != NULL) {
		json_kv_str(j, "stage", smtp_state_name(r->stage));
		json_kv_str(j, "failure", r->fail == SMTP_FAIL_NONE ? NULL : smtp_fail_name(r->fail));
		json_kv_str(j, "banner", r->banner);
		json_kv_bool(j, "starttls", r->starttls_offered);
		json_kv_int(j, "plaintext_discarded", (long long)r->plaintext_discarded);
		json_key(j, "tls");
		if (r->tls) {
			json_obj_begin(j);
			json_kv_str(j, "version", r->tls_facts.version);
			json_kv_str(j, "cipher", r->tls_facts.cipher);
			json_kv_str(j, "group", r->tls_facts.group[0] ? r->tls_facts.group : NULL);
			json_obj_end(j);
		} else {
			json_null(j);
		}
		json_key(j, "matched");
		if (r->dane_checked && r->dane.status == DANE_STATUS_VERIFIED) {
			json_obj_begin(j);
			json_kv_int(j, "usage", r->dane.usage);
			json_kv_int(j, "selector", r->dane.selector);
			json_kv_int(j, "mtype", r->dane.mtype);
			json_kv_int(j, "depth", r->dane.depth);
			json_kv_str(j, "name", r->dane.peername[0] ? r->dane.peername : NULL);
			json_obj_end(j);
		} else {
			json_null(j);
		}
		if (r->dane_checked)
			json_kv_str(j, "dane_status", dane_status_name(r->dane.status));
		if (r->tls)
			json_chain(j, &r->tls_facts);
		json_kv_int(j, "elapsed_ms", r->total_ms);
	}
	json_obj_end(j);
}

static void json_address(struct json *j, const struct check_address *a)
{
	json_obj_begin(j);
	json_kv_str(j, "address", a->addr.text);
	json_kv_str(j, "family", a->addr.family == AF_INET6 ? "ipv6" : "ipv4");
	json_kv_str(j, "verdict", verdict_name(a->v));
	json_kv_str(j, "reason", a->reason);
	json_kv_bool(j, "unreachable", a->ignorable);
	json_key(j, "probes");
	json_arr_begin(j);
	for (size_t i = 0; i < a->nprobes; i++)
		json_probe(j, &a->probes[i]);
	json_arr_end(j);
	json_obj_end(j);
}

static void json_host(struct json *j, const struct check_host *h)
{
	json_obj_begin(j);
	json_kv_str(j, "host", h->name);
	json_kv_int(j, "preference", h->preference);
	json_kv_str(j, "verdict", verdict_name(h->v));
	json_kv_str(j, "reason", h->reason);
	json_kv_str(j, "rule", h->rule);
	json_kv_str(j, "canonical", h->canonical);
	json_key(j, "cname_chain");
	json_arr_begin(j);
	for (size_t i = 0; i < h->ncname; i++) {
		json_obj_begin(j);
		json_kv_str(j, "owner", h->cname_owner[i]);
		json_kv_str(j, "target", h->cname_target[i]);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_kv_bool(j, "cname_secure", h->cname_secure);
	json_kv_str(j, "address_dnssec", dns_sec_name(h->addr_sec));
	json_kv_str(j, "tls_requirement", check_tls_req_name(h->req));
	json_kv_int(j, "addresses_not_probed", (long long)h->addrs_dropped);
	json_kv_str(j, "tls_requirement_reason", h->req_reason);
	json_lookup(j, "a_lookup", &h->a);
	json_lookup(j, "aaaa_lookup", &h->aaaa);
	json_lookup(j, "tlsa_lookup", &h->tlsa_lookup);
	json_kv_str(j, "tlsa_base", h->tlsa_base[0] ? h->tlsa_base : NULL);
	json_tlsa(j, h);
	json_key(j, "addresses");
	json_arr_begin(j);
	for (size_t i = 0; i < h->naddrs; i++)
		json_address(j, &h->addrs[i]);
	json_arr_end(j);
	json_obj_end(j);
}

void check_result_json(const struct check_result *res, struct json *j)
{
	json_obj_begin(j);
	json_kv_str(j, "domain", res->domain);
	json_kv_str(j, "verdict", res->validation_error[0] ? "tempfail" : verdict_name(res->v));
	json_kv_str(j, "reason", res->validation_error[0] ? res->validation_error : res->reason);
	json_kv_str(j, "rule", res->rule);
	json_kv_str(j, "validation", res->validation_error[0] ? "failed" : "ok");
	json_key(j, "mx_lookup");
	json_obj_begin(j);
	json_kv_str(j, "status", res->mx_lookup.done ? res->mx_lookup.status : NULL);
	json_kv_str(j, "dnssec", dns_sec_name(res->mx_lookup.sec));
	json_kv_str(j, "why_bogus", res->mx_lookup.why_bogus[0] ? res->mx_lookup.why_bogus : NULL);
	json_kv_int(j, "ttl", res->mx_lookup.ttl);
	json_kv_bool(j, "implicit", res->implicit_mx);
	json_kv_bool(j, "null_mx", res->null_mx);
	json_obj_end(j);
	json_key(j, "mx");
	json_arr_begin(j);
	for (size_t i = 0; i < res->nhosts; i++)
		json_host(j, &res->hosts[i]);
	json_arr_end(j);
	json_kv_int(j, "elapsed_ms", (long long)res->elapsed_ms);
	json_obj_end(j);
}

/*
 * scan_stats: the survey statistics of a scan, folded from each check result as it
 * finishes (then the result is freed): verdict counts, DNSSEC and TLSA coverage, the
 * TLSA parameter distribution and the most common failure reasons, in a fixed amount of
 * memory whatever the list length. It never prints to stdout on its own: the command
 * chooses the stream.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "engine/scan.h"
#include "util/str.h"

/* A token that names something (host, address) rather than saying what went wrong. */
static int is_name_token(const char *s, size_t n)
{
	size_t dots = 0, colons = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			dots++;
		else if (s[i] == ':')
			colons++;
		else if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	}
	return dots > 0 || colons > 1;
}

/* Drop "N of M MX hosts fail; " and leading "host: address: " parts. */
static const char *skip_prefixes(const char *r)
{
	const char *semi = strstr(r, " MX hosts fail; "), *sep;

	if (semi == NULL)
		semi = strstr(r, " MX host fails; ");
	if (semi != NULL)
		r = semi + strlen(" MX hosts fail; ");
	while ((sep = strstr(r, ": ")) != NULL && is_name_token(r, (size_t)(sep - r)))
		r = sep + 2;
	if (strncmp(r, "rsa key: ", 9) == 0 || strncmp(r, "ecdsa key: ", 11) == 0)
		r = strchr(r, ':') + 2;
	return r;
}

static int is_word(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

/* A domain name inside a sentence ("MX host mx.example.org has..."): dotted, ending in
 * a letter label. Version strings like TLSv1.3 end in a digit and stay. */
static size_t name_len(const char *r)
{
	size_t n = 0, dots = 0;

	while (is_word(r[n]))
		dots += r[n++] == '.';
	while (n > 0 && r[n - 1] == '.')
		n--;
	return dots > 0 && n > 0 && isalpha((unsigned char)r[n - 1]) ? n : 0;
}

void scan_reason_class(const char *reason, char *out, size_t outlen)
{
	const char *r = skip_prefixes(reason);
	size_t o = 0;
	char close = 0;

	for (; *r != '\0' && o + 4 < outlen; r++) {
		unsigned char c = (unsigned char)*r;
		if (close != 0) {             /* inside <...> or [...]: names, skip */
			if (c == (unsigned char)close) {
				out[o++] = (char)c;
				close = 0;
			}
			continue;
		}
		if (c == '<' || c == '[') {
			out[o++] = (char)c;
			out[o++] = '.'; out[o++] = '.'; out[o++] = '.';
			close = c == '<' ? '>' : ']';
			continue;
		}
		if ((o == 0 || out[o - 1] == ' ') && name_len(r) > 0 && o + 5 < outlen) {
			r += name_len(r) - 1;
			memcpy(out + o, "NAME", 4);
			o += 4;
			continue;
		}
		if (isdigit(c)) {             /* numbers vary: one N per run of digits */
			while (isdigit((unsigned char)r[1]))
				r++;
			out[o++] = 'N';
			continue;
		}
		out[o++] = (char)(c < 0x20 ? ' ' : c);
	}
	out[o] = '\0';
}

static void count_reason(struct scan_stats *st, const char *reason)
{
	char cls[sizeof(st->reasons[0].text)];

	scan_reason_class(reason, cls, sizeof(cls));
	for (size_t i = 0; i < st->nreasons; i++)
		if (strcmp(st->reasons[i].text, cls) == 0) {
			st->reasons[i].count++;
			return;
		}
	if (st->nreasons >= SCAN_REASON_CLASSES) {
		st->reasons_other++;
		return;
	}
	str_copy(st->reasons[st->nreasons].text, cls, sizeof(st->reasons[0].text));
	st->reasons[st->nreasons++].count = 1;
}

static void count_tlsa(struct scan_stats *st, const struct check_result *res)
{
	int any = 0, usable = 0;

	for (size_t i = 0; i < res->nhosts; i++) {
		const struct check_host *h = &res->hosts[i];
		if (h->tlsa_lookup.done && !h->tlsa_lookup.failed && h->tlsa_lookup.sec == DNS_SEC_SECURE &&
		    h->ntlsa > 0)
			any = 1;
		if (h->ntlsa_usable > 0)
			usable = 1;
		for (size_t k = 0; k < h->ntlsa; k++) {
			const struct tlsa_rr *rr = &h->tlsa[k].rr;
			if (rr->usage < 4 && rr->selector < 2 && rr->mtype < 3)
				st->tlsa[rr->usage][rr->selector][rr->mtype]++;
			else
				st->tlsa_other++;
		}
	}
	st->with_tlsa += (unsigned long)any;
	st->tlsa_usable_domains += (unsigned long)usable;
}

void scan_stats_add(struct scan_stats *st, const struct check_result *res)
{
	enum verdict v = res->validation_error[0] ? VERDICT_TEMPFAIL : res->v;

	st->domains++;
	if ((unsigned)v < VERDICT_COUNT)
		st->verdicts[v]++;
	if (res->validation_error[0])
		st->validation_failed++;
	if (res->mx_lookup.done && !res->mx_lookup.failed && res->mx_lookup.sec == DNS_SEC_SECURE)
		st->mx_secure++;
	count_tlsa(st, res);
	if (v == VERDICT_DANE_FAIL || v == VERDICT_TEMPFAIL)
		count_reason(st, res->validation_error[0] ? res->validation_error : res->reason);
	st->elapsed_ms_total += res->elapsed_ms;
}

static int by_count(const void *a, const void *b)
{
	const struct scan_reason_class *x = *(const struct scan_reason_class *const *)a;
	const struct scan_reason_class *y = *(const struct scan_reason_class *const *)b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->text, y->text);
}

size_t scan_stats_top(const struct scan_stats *st, const struct scan_reason_class **top, size_t max)
{
	const struct scan_reason_class *all[SCAN_REASON_CLASSES];

	for (size_t i = 0; i < st->nreasons; i++)
		all[i] = &st->reasons[i];
	qsort(all, st->nreasons, sizeof(const struct scan_reason_class *), by_count);
	if (max > st->nreasons)
		max = st->nreasons;
	memcpy(top, all, max * sizeof(const struct scan_reason_class *));
	return max;
}

static double pct(unsigned long a, unsigned long b)
{
	return b > 0 ? 100.0 * (double)a / (double)b : 0.0;
}

void scan_stats_text(const struct scan_stats *st, FILE *fp)
{
	const struct scan_reason_class *top[SCAN_TOP_REASONS];
	size_t ntop = scan_stats_top(st, top, SCAN_TOP_REASONS);
	unsigned long n = st->domains;

	fprintf(fp, "scan summary: %lu domains checked, %lu invalid input lines\n", n, st->invalid);
	fprintf(fp, "  secure MX RRset     %8lu  %5.1f%%\n", st->mx_secure, pct(st->mx_secure, n));
	fprintf(fp, "  with TLSA           %8lu  %5.1f%%\n", st->with_tlsa, pct(st->with_tlsa, n));
	for (int v = 0; v < VERDICT_COUNT; v++)
		fprintf(fp, "  %-19s %8lu  %5.1f%%\n", verdict_name((enum verdict)v), st->verdicts[v],
			pct(st->verdicts[v], n));
	if (st->validation_failed > 0)
		fprintf(fp, "  (resolver could not validate: %lu)\n", st->validation_failed);
	fprintf(fp, "  TLSA records by usage selector mtype:\n");
	for (int u = 0; u < 4; u++)
		for (int s = 0; s < 2; s++)
			for (int m = 0; m < 3; m++)
				if (st->tlsa[u][s][m] > 0)
					fprintf(fp, "    %d %d %d  %8lu\n", u, s, m, st->tlsa[u][s][m]);
	if (st->tlsa_other > 0)
		fprintf(fp, "    other  %8lu\n", st->tlsa_other);
	if (ntop > 0)
		fprintf(fp, "  most common failure reasons:\n");
	for (size_t i = 0; i < ntop; i++)
		fprintf(fp, "    %8lu  %s\n", top[i]->count, top[i]->text);
	if (st->reasons_other > 0)
		fprintf(fp, "    %8lu  (other reasons)\n", st->reasons_other);
}

void scan_stats_json(const struct scan_stats *st, struct json *j)
{
	const struct scan_reason_class *top[SCAN_TOP_REASONS];
	size_t ntop = scan_stats_top(st, top, SCAN_TOP_REASONS);
	char key[8];

	json_obj_begin(j);
	json_kv_int(j, "domains", (long long)st->domains);
	json_kv_int(j, "invalid_input", (long long)st->invalid);
	json_kv_int(j, "mx_secure", (long long)st->mx_secure);
	json_kv_int(j, "with_tlsa", (long long)st->with_tlsa);
	json_kv_int(j, "with_usable_tlsa", (long long)st->tlsa_usable_domains);
	json_kv_int(j, "validation_failed", (long long)st->validation_failed);
	json_key(j, "verdicts");
	json_obj_begin(j);
	for (int v = 0; v < VERDICT_COUNT; v++)
		json_kv_int(j, verdict_name((enum verdict)v), (long long)st->verdicts[v]);
	json_obj_end(j);
	json_key(j, "tlsa_parameters");
	json_obj_begin(j);
	for (int u = 0; u < 4; u++)
		for (int s = 0; s < 2; s++)
			for (int m = 0; m < 3; m++)
				if (st->tlsa[u][s][m] > 0) {
					snprintf(key, sizeof(key), "%d %d %d", u, s, m);
					json_kv_int(j, key, (long long)st->tlsa[u][s][m]);
				}
	if (st->tlsa_other > 0)
		json_kv_int(j, "other", (long long)st->tlsa_other);
	json_obj_end(j);
	json_key(j, "failure_reasons");
	json_arr_begin(j);
	for (size_t i = 0; i < ntop; i++) {
		json_obj_begin(j);
		json_kv_str(j, "reason", top[i]->text);
		json_kv_int(j, "count", (long long)top[i]->count);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_kv_int(j, "failure_reasons_other", (long long)st->reasons_other);
	json_obj_end(j);
}

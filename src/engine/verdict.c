/*
 * verdict: names and folding rules of the result vocabulary. The order of strength lives
 * here and only here, so check, scan, send and the demo can never disagree.
 */
#include "engine/verdict.h"

#include <string.h>

static const char *const verdict_names[VERDICT_COUNT] = {
	"verified", "trusted", "opportunistic", "plaintext",
	"encrypt-only", "dane-fail", "tempfail", "nomail",
};

const char *verdict_name(enum verdict v)
{
	return (unsigned)v < VERDICT_COUNT ? verdict_names[v] : "unknown";
}

int verdict_parse(const char *name)
{
	for (int i = 0; i < VERDICT_COUNT; i++)
		if (strcmp(name, verdict_names[i]) == 0)
			return i;
	return -1;
}

int verdict_is_pass(enum verdict v)
{
	return v != VERDICT_DANE_FAIL && v != VERDICT_TEMPFAIL;
}

int verdict_is_dane(enum verdict v)
{
	return v == VERDICT_VERIFIED || v == VERDICT_TRUSTED;
}

/* Higher rank = worse. Failures first, then weaker protection. */
static int verdict_rank(enum verdict v)
{
	switch (v) {
	case VERDICT_DANE_FAIL: return 100;
	case VERDICT_TEMPFAIL: return 90;
	case VERDICT_PLAINTEXT: return 50;
	case VERDICT_OPPORTUNISTIC: return 40;
	case VERDICT_ENCRYPT_ONLY: return 30;
	case VERDICT_TRUSTED: return 20;
	case VERDICT_VERIFIED: return 10;
	case VERDICT_NOMAIL: return 0;
	default: return 100;
	}
}

enum verdict verdict_fold(const struct verdict_item *items, size_t n, size_t *worst_index)
{
	size_t worst = 0;
	int have = 0;

	/* First pass skips ignorable entries; the second runs only when all were ignorable. */
	for (int pass = 0; pass < 2 && !have; pass++) {
		for (size_t i = 0; i < n; i++) {
			if (pass == 0 && items[i].ignorable)
				continue;
			if (!have || verdict_rank(items[i].v) > verdict_rank(items[worst].v)) {
				worst = i;
				have = 1;
			}
		}
	}
	if (worst_index != NULL)
		*worst_index = worst;
	return have ? items[worst].v : VERDICT_TEMPFAIL;
}

int verdict_nagios(enum verdict v)
{
	switch (v) {
	case VERDICT_VERIFIED:
	case VERDICT_TRUSTED:
	case VERDICT_NOMAIL:
		return 0;
	case VERDICT_OPPORTUNISTIC:
	case VERDICT_PLAINTEXT:
	case VERDICT_ENCRYPT_ONLY:
		return 1;
	case VERDICT_DANE_FAIL:
	case VERDICT_TEMPFAIL:
		return 2;
	default:
		return 3;
	}
}

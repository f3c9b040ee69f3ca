/*
 * policy: RFC 7672 host-level decisions. The order of the checks is the order of the
 * lookups (MX, addresses, TLSA), so the first insecure or failed link decides, as in
 * Postfix dane_host_level(). A lookup that failed or came back bogus is TEMPFAIL, never
 * MAY: an attacker who can break a lookup must not thereby switch authentication off.
 */
#include "dane/policy.h"
#include "dane/tlsa.h"
#include "util/str.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum tlsa_usability policy_tlsa_usability(const struct tlsa_rr *rr, const char **reason)
{
	enum tlsa_usability u = TLSA_USABLE;
	const char *why = "usable";

	if (rr->usage == 0 || rr->usage == 1) {
		u = TLSA_UNUSABLE_PKIX;
		why = "PKIX-TA(0)/PKIX-EE(1) are not usable for SMTP (RFC 7672 §3.1.3)";
	} else if (rr->usage > 3) {
		u = TLSA_UNUSABLE_USAGE;
		why = "unknown certificate usage (RFC 7671 §4)";
	} else if (rr->selector > 1) {
		u = TLSA_UNUSABLE_SELECTOR;
		why = "unknown selector (RFC 7671 §4)";
	} else if (rr->mtype > 2) {
		u = TLSA_UNUSABLE_MTYPE;
		why = "unknown matching type (RFC 7671 §4)";
	} else if (rr->data == NULL || !tlsa_rr_len_ok(rr)) {
		u = TLSA_UNUSABLE_LENGTH;
		why = "association data length does not fit the matching type (RFC 7671 §5.2)";
	}
	if (reason != NULL)
		*reason = why;
	return u;
}

size_t policy_tlsa_count_usable(const struct tlsa_rr *rrs, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (policy_tlsa_usability(&rrs[i], NULL) == TLSA_USABLE)
			c++;
	return c;
}

const char *tlsa_outcome_name(enum tlsa_outcome o)
{
	static const char *const names[] = {
		"secure", "insecure", "bogus", "servfail", "timeout", "nxdomain", "nodata",
		"not looked up",
	};

	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "unknown";
}

const char *tls_level_name(enum tls_level l)
{
	static const char *const names[] = {"may", "encrypt", "dane", "tempfail"};

	return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] : "unknown";
}

static void set(struct policy_result *out, enum tls_level l, const char *reason, const char *rfc)
{
	out->level = l;
	out->reason = reason;
	out->rfc = rfc;
}

/* MX and address security: 1 when they already decide the level. */
static int decide_by_chain(const struct policy_input *in, struct policy_result *out)
{
	if (in->mx_sec == DNS_SEC_BOGUS) {
		set(out, TLS_LEVEL_TEMPFAIL, "MX lookup is DNSSEC-bogus", "RFC 7672 §2.2.1");
	} else if (in->mx_sec == DNS_SEC_INSECURE && in->insecure_mx == INSECURE_MX_MAY) {
		set(out, TLS_LEVEL_MAY, "MX RRset is insecure: TLSA records are not used",
		    "RFC 7672 §2.2.1");
	} else if (in->addr_sec == DNS_SEC_BOGUS) {
		set(out, TLS_LEVEL_TEMPFAIL, "address lookup is DNSSEC-bogus", "RFC 7672 §2.2.2");
	} else if (in->addr_sec == DNS_SEC_INSECURE) {
		set(out, TLS_LEVEL_MAY, "address records are insecure: TLSA records are not used",
		    "RFC 7672 §2.2.2");
	} else {
		return 0;
	}
	return 1;
}

static void decide_by_tlsa(const struct policy_input *in, struct policy_result *out)
{
	switch (in->tlsa) {
	case TLSA_LOOKUP_BOGUS:
		set(out, TLS_LEVEL_TEMPFAIL, "TLSA lookup is DNSSEC-bogus", "RFC 7672 §2.2");
		return;
	case TLSA_LOOKUP_SERVFAIL:
	case TLSA_LOOKUP_TIMEOUT:
	case TLSA_LOOKUP_NOT_LOOKED_UP:
		set(out, TLS_LEVEL_TEMPFAIL, "TLSA lookup failed: no downgrade", "RFC 7672 §2.2");
		return;
	case TLSA_LOOKUP_INSECURE:
		set(out, TLS_LEVEL_MAY, "TLSA records are insecure: not used", "RFC 7672 §2.2");
		return;
	case TLSA_LOOKUP_NXDOMAIN:
	case TLSA_LOOKUP_NODATA:
		set(out, TLS_LEVEL_MAY, "no TLSA records published (validated denial)",
		    "RFC 7672 §2.2");
		return;
	case TLSA_LOOKUP_SECURE:
		break;
	}
	if (in->nrrs == 0)
		set(out, TLS_LEVEL_MAY, "no TLSA records published (validated denial)", "RFC 7672 §2.2");
	else if (out->usable == 0)
		set(out, TLS_LEVEL_ENCRYPT, "secure TLSA RRset without usable records: "
		    "TLS mandatory, unauthenticated", "RFC 7672 §2.2");
	else if (in->mx_sec == DNS_SEC_INSECURE)
		set(out, TLS_LEVEL_DANE, "usable TLSA records below an insecure MX RRset: "
		    "authenticated TLS required (trusted, not verified)", "RFC 7672 §2.2.1");
	else
		set(out, TLS_LEVEL_DANE, "usable TLSA records: authenticated TLS required",
		    "RFC 7672 §2.2");
}

void policy_host_level(const struct policy_input *in, struct policy_result *out)
{
	memset(out, 0, sizeof(*out));
	out->usable = policy_tlsa_count_usable(in->rrs, in->rrs ? in->nrrs : 0);
	out->unusable = (in->rrs ? in->nrrs : 0) - out->usable;
	if (decide_by_chain(in, out))
		return;
	decide_by_tlsa(in, out);
	out->trusted = out->level == TLS_LEVEL_DANE && in->mx_sec == DNS_SEC_INSECURE;
}

/* Compare domain names ignoring case and one trailing dot. */
static int name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	if (la != lb)
		return 0;
	return strncasecmp(a, b, la) == 0;
}

void policy_tlsa_bases(const char *host, const char *expanded, enum dns_sec addr_sec,
		       struct tlsa_bases *out)
{
	memset(out, 0, sizeof(*out));
	if (addr_sec != DNS_SEC_SECURE || host == NULL || host[0] == '\0')
		return;
	if (expanded != NULL && expanded[0] != '\0' && !name_eq(expanded, host))
		str_copy(out->name[out->n++], expanded, DNS_NAME_MAX);
	str_copy(out->name[out->n++], host, DNS_NAME_MAX);
}

int policy_tlsa_qname(const char *base, unsigned port, char *dst, size_t dstsize)
{
	if (base == NULL || base[0] == '\0' || strcmp(base, ".") == 0 || port == 0 || port > 65535)
		return -1;
	return tlsa_owner(base, port, dst, dstsize) == TLSA_OK ? 0 : -1;
}

static void add_refname(struct refnames *out, const char *name)
{
	char tmp[DNS_NAME_MAX];
	size_t len;

	if (name == NULL || name[0] == '\0' || out->n >= POLICY_REFNAMES_MAX)
		return;
	if (str_copy(tmp, name, sizeof(tmp)) >= sizeof(tmp))
		return;
	len = strlen(tmp);
	if (len > 1 && tmp[len - 1] == '.')
		tmp[len - 1] = '\0';
	if (strcmp(tmp, ".") == 0)
		return;
	str_lower(tmp);
	for (size_t i = 0; i < out->n; i++)
		if (strcmp(out->name[i], tmp) == 0)
			return;
	str_copy(out->name[out->n++], tmp, DNS_NAME_MAX);
}

void policy_refnames(const char *tlsa_base, const char *mx_host, const char *nexthop,
		     struct refnames *out)
{
	memset(out, 0, sizeof(*out));
	add_refname(out, tlsa_base);
	add_refname(out, mx_host);
	add_refname(out, nexthop);
}

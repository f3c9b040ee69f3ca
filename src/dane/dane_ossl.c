/*
 * dane_ossl: feed TLSA records to OpenSSL's DANE verifier and read back its verdict.
 * The matching, the chain building and the name checks are OpenSSL's; this file only
 * chooses the inputs (RFC 7672 rules from policy.c) and turns the verifier's error code
 * into a category with a reason a person can act on. It never compares digests itself.
 */
#include "dane/dane_ossl.h"
#include "dane/policy.h"
#include "tls/chain.h"
#include "tls/tls_client.h"
#include "util/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

static const char *const dane_status_names[] = {
	"verified", "no-match", "name-mismatch", "expired", "chain", "other", "no-peer-cert",
	"not-enabled",
};

const char *dane_status_name(enum dane_status s)
{
	return (unsigned)s < sizeof(dane_status_names) / sizeof(dane_status_names[0])
		       ? dane_status_names[s] : "unknown";
}

/* Name without its trailing dot into dst; -1 when empty or too long. */
static int plain_name(const char *name, char *dst, size_t dstsize)
{
	size_t len;

	if (name == NULL || name[0] == '\0' || str_copy(dst, name, dstsize) >= dstsize)
		return -1;
	len = strlen(dst);
	if (len > 1 && dst[len - 1] == '.')
		dst[len - 1] = '\0';
	return 0;
}

static int add_names(SSL *ssl, const char *base, const char *const *names, size_t nnames)
{
	char n[DNS_NAME_MAX];

	for (size_t i = 0; i < nnames; i++) {
		if (plain_name(names[i], n, sizeof(n)) != 0 || str_ieq(n, base))
			continue;
		if (!SSL_add1_host(ssl, n))
			return -1;
	}
	return 0;
}

static void add_records(SSL *ssl, const struct tlsa_rr *rrs, size_t nrrs,
			struct dane_setup_info *info)
{
	for (size_t i = 0; i < nrrs && i < DANE_OSSL_RR_MAX; i++) {
		const struct tlsa_rr *rr = &rrs[i];
		enum dane_rr_status st = DANE_RR_UNUSABLE;
		int r;

		info->nrrs++;
		if (policy_tlsa_usability(rr, NULL) == TLSA_USABLE) {
			r = SSL_dane_tlsa_add(ssl, rr->usage, rr->selector, rr->mtype,
					      rr->data, rr->len);
			/* 0 = OpenSSL cannot use it (e.g. "x 0 0" data that is no certificate),
			 * < 0 = internal error: skip either, keep the rest */
			st = r > 0 ? DANE_RR_ADDED : DANE_RR_REJECTED;
			ERR_clear_error();
		}
		info->status[i] = st;
		if (st == DANE_RR_ADDED)
			info->added++;
		else
			info->skipped++;
	}
}

int dane_ossl_setup(SSL *ssl, const char *base, const char *const *names, size_t nnames,
		    const struct tlsa_rr *rrs, size_t nrrs, struct dane_setup_info *info,
		    char *err, size_t errlen)
{
	struct dane_setup_info local;
	char b[DNS_NAME_MAX];

	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	if (ssl == NULL || plain_name(base, b, sizeof(b)) != 0) {
		snprintf(err, errlen, "DANE setup: no TLSA base domain");
		return DANE_OSSL_EINVAL;
	}
	if (SSL_dane_enable(ssl, b) <= 0) {
		tls_error_string("SSL_dane_enable", err, errlen);
		return DANE_OSSL_ESSL;
	}
	/* RFC 7672 §3.1.1: DANE-EE(3) ignores names and dates; no partial wildcards
	 * ("mx*.example") in DANE-TA name checks, as in Postfix. */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (add_names(ssl, b, names, nnames) != 0) {
		tls_error_string("SSL_add1_host", err, errlen);
		return DANE_OSSL_ESSL;
	}
	add_records(ssl, rrs, nrrs, info);
	if (info->added == 0) {
		snprintf(err, errlen, "DANE setup: none of %zu TLSA records is usable", nrrs);
		return DANE_OSSL_ENONE;
	}
	return (int)info->added;
}

/* Index of the record OpenSSL says matched, or -1. */
static int matched_index(SSL *ssl, const struct tlsa_rr *rrs, size_t nrrs,
			 struct dane_outcome *out)
{
	uint8_t u, s, m;
	unsigned const char *data = NULL;
	size_t dlen = 0;

	if (SSL_get0_dane_tlsa(ssl, &u, &s, &m, &data, &dlen) < 0)
		return -1;
	out->usage = u;
	out->selector = s;
	out->mtype = m;
	for (size_t i = 0; i < nrrs; i++)
		if (rrs[i].usage == u && rrs[i].selector == s && rrs[i].mtype == m &&
		    rrs[i].len == dlen && memcmp(rrs[i].data, data, dlen) == 0)
			return (int)i;
	return -1;
}

static void join_names(const char *const *names, size_t nnames, char *dst, size_t dstsize)
{
	char n[DNS_NAME_MAX];

	dst[0] = '\0';
	for (size_t i = 0; i < nnames; i++) {
		if (plain_name(names[i], n, sizeof(n)) != 0)
			continue;
		if (dst[0] != '\0')
			str_cat(dst, ", ", dstsize);
		str_cat(dst, n, dstsize);
	}
}

static int only_ta(const struct tlsa_rr *rrs, size_t nrrs)
{
	for (size_t i = 0; i < nrrs; i++)
		if (rrs[i].usage != 2 && policy_tlsa_usability(&rrs[i], NULL) == TLSA_USABLE)
			return 0;
	return nrrs > 0;
}

/* The names OpenSSL checked (the base domain and every SSL_add1_host name), else the
 * caller's list. */
static void tried_names(SSL *ssl, const char *const *names, size_t nnames, char *dst,
			size_t dstsize)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	const char *h;

	dst[0] = '\0';
	for (int i = 0; vp != NULL && (h = X509_VERIFY_PARAM_get0_host(vp, i)) != NULL; i++) {
		if (dst[0] != '\0')
			str_cat(dst, ", ", dstsize);
		str_cat(dst, h, dstsize);
	}
	if (dst[0] == '\0')
		join_names(names, nnames, dst, dstsize);
}

static void explain_name_mismatch(SSL *ssl, X509 *leaf, const char *const *names,
				  size_t nnames, struct dane_outcome *out)
{
	struct cert_facts *cf = malloc(sizeof(*cf));
	char tried[256];

	out->status = DANE_STATUS_NAME_MISMATCH;
	tried_names(ssl, names, nnames, tried, sizeof(tried));
	if (cf != NULL)
		chain_cert_facts(leaf, cf);
	/* pieces, not snprintf: the SAN list may be long and is cut with str_cat */
	str_copy(out->reason, "DANE-TA(2) matched but the certificate names [", sizeof(out->reason));
	str_cat(out->reason, cf != NULL ? cf->sans : "?", sizeof(out->reason));
	str_cat(out->reason, "] match none of [", sizeof(out->reason));
	str_cat(out->reason, tried, sizeof(out->reason));
	str_cat(out->reason, "]", sizeof(out->reason));
	free(cf);
}

static void explain_failure(SSL *ssl, X509 *leaf, const struct tlsa_rr *rrs, size_t nrrs,
			    const char *const *names, size_t nnames, struct dane_outcome *out)
{
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
	int sent = sk != NULL ? sk_X509_num(sk) : 1;
	long vr = out->verify_result;

	switch (vr) {
	case X509_V_ERR_DANE_NO_MATCH:
		out->status = DANE_STATUS_NO_MATCH;
		snprintf(out->reason, sizeof(out->reason),
			 "no TLSA record matches the %d certificate(s) the server sent%s", sent,
			 sent == 1 && only_ta(rrs, nrrs)
				 ? " (DANE-TA(2) needs the server to send its issuer chain)" : "");
		return;
	case X509_V_ERR_HOSTNAME_MISMATCH:
		explain_name_mismatch(ssl, leaf, names, nnames, out);
		return;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		out->status = DANE_STATUS_EXPIRED;
		snprintf(out->reason, sizeof(out->reason), "DANE-TA(2) chain outside its validity "
			 "dates: %s (error %ld)", X509_verify_cert_error_string(vr), vr);
		return;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
		out->status = DANE_STATUS_CHAIN;
		snprintf(out->reason, sizeof(out->reason), "DANE-TA(2) chain does not verify: "
			 "%s (error %ld)", X509_verify_cert_error_string(vr), vr);
		return;
	default:
		out->status = DANE_STATUS_OTHER;
		snprintf(out->reason, sizeof(out->reason), "certificate verification failed: "
			 "%s (error %ld)", X509_verify_cert_error_string(vr), vr);
		return;
	}
}

void dane_ossl_judge(SSL *ssl, const struct tlsa_rr *rrs, size_t nrrs,
		     const char *const *names, size_t nnames, struct dane_outcome *out)
{
	X509 *leaf = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	X509 *mcert = NULL;
	const char *pn;

	memset(out, 0, sizeof(*out));
	out->depth = out->match_index = -1;
	out->verify_result = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_ERR_UNSPECIFIED;
	if (nrrs == 0) {
		out->status = DANE_STATUS_NOT_ENABLED;
		str_copy(out->reason, "DANE was not enabled for this connection", sizeof(out->reason));
		return;
	}
	if (leaf == NULL) {
		out->status = DANE_STATUS_NO_PEER_CERT;
		str_copy(out->reason, "the server sent no certificate", sizeof(out->reason));
		return;
	}
	out->depth = SSL_get0_dane_authority(ssl, &mcert, NULL);
	out->match_index = matched_index(ssl, rrs, nrrs, out);
	if (out->verify_result == X509_V_OK && out->depth >= 0) {
		out->status = DANE_STATUS_VERIFIED;
		if ((pn = SSL_get0_peername(ssl)) != NULL)
			str_copy(out->peername, pn, sizeof(out->peername));
		snprintf(out->reason, sizeof(out->reason), "TLSA %u %u %u matched at depth %d",
			 out->usage, out->selector, out->mtype, out->depth);
		return;
	}
	if (out->verify_result == X509_V_OK)
		out->verify_result = X509_V_ERR_DANE_NO_MATCH;
	explain_failure(ssl, leaf, rrs, nrrs, names, nnames, out);
	ERR_clear_error();
}

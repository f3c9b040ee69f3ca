/*
 * tls_client: client TLS context and connection setup. The handshake never fails on
 * certificate grounds here (SSL_VERIFY_NONE still runs the verifier and keeps its
 * result): the DANE judgement is made after the handshake by dane_ossl, and the SMTP
 * client refuses to send mail when it fails. Never touches sockets.
 */
#include "tls/tls_client.h"
#include "util/str.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

/* TLS 1.2+ signature algorithms per key type (TLS 1.3 names RSA-PSS with RSA keys
 * "rsae"); SHA-1 forms keep old TLS 1.2 servers reachable for opportunistic TLS. */
static const char SIGALGS_RSA[] =
	"rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
	"rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
	"RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA+SHA1";
static const char SIGALGS_ECDSA[] = "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA1";
/* TLS <= 1.2 cipher suites by authentication; seclevel 0 lets TLS 1.0/1.1 through. */
static const char CIPHERS_ANY[] = "ALL:!aNULL:!eNULL:!EXPORT:@SECLEVEL=0";
static const char CIPHERS_RSA[] = "aRSA:!aNULL:!eNULL:!EXPORT:@SECLEVEL=0";
static const char CIPHERS_ECDSA[] = "aECDSA:!aNULL:!eNULL:!EXPORT:@SECLEVEL=0";

const char *tls_keytype_name(enum tls_keytype k)
{
	switch (k) {
	case TLS_KEYTYPE_RSA: return "rsa";
	case TLS_KEYTYPE_ECDSA: return "ecdsa";
	default: return "any";
	}
}

int tls_keytype_parse(const char *s)
{
	if (str_ieq(s, "any"))
		return TLS_KEYTYPE_ANY;
	if (str_ieq(s, "rsa"))
		return TLS_KEYTYPE_RSA;
	if (str_ieq(s, "ecdsa"))
		return TLS_KEYTYPE_ECDSA;
	return -1;
}

void tls_error_string(const char *what, char *err, size_t errlen)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (err == NULL || errlen == 0) {
		ERR_clear_error();
		return;
	}
	if (e == 0)
		snprintf(err, errlen, "%s", what);
	else
		snprintf(err, errlen, "%s: %s", what, ERR_error_string(e, buf));
	ERR_clear_error();
}

SSL_CTX *tls_client_ctx_new(const struct tls_client_opts *opts, char *err, size_t errlen)
{
	SSL_CTX *ctx = NULL;
	int minv = opts != NULL && opts->min_version ? opts->min_version : TLS1_VERSION;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_error_string("SSL_CTX_new", err, errlen);
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, minv) ||
	    !SSL_CTX_set_cipher_list(ctx, CIPHERS_ANY) ||
	    SSL_CTX_dane_enable(ctx) <= 0) {
		tls_error_string("client TLS context setup", err, errlen);
		goto fail;
	}
	if (opts != NULL && opts->ca_file != NULL &&
	    !SSL_CTX_load_verify_locations(ctx, opts->ca_file, NULL)) {
		tls_error_string("loading CA file", err, errlen);
		goto fail;
	}
	/* Verify, record, continue: the judgement happens after the handshake. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Give the record buffers back while a session waits on its peer: a scan holds
	 * hundreds of sessions that are mostly waiting. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int restrict_keytype(SSL *ssl, enum tls_keytype kt)
{
	if (kt == TLS_KEYTYPE_RSA)
		return SSL_set1_sigalgs_list(ssl, SIGALGS_RSA) && SSL_set_cipher_list(ssl, CIPHERS_RSA);
	if (kt == TLS_KEYTYPE_ECDSA)
		return SSL_set1_sigalgs_list(ssl, SIGALGS_ECDSA) &&
		       SSL_set_cipher_list(ssl, CIPHERS_ECDSA);
	return 1;
}

SSL *tls_client_ssl_new(SSL_CTX *ctx, const char *sni, enum tls_keytype kt,
			char *err, size_t errlen)
{
	char name[256];
	SSL *ssl;
	size_t len;

	if (ctx == NULL) {
		snprintf(err, errlen, "no TLS context");
		return NULL;
	}
	if ((ssl = SSL_new(ctx)) == NULL) {
		tls_error_string("SSL_new", err, errlen);
		return NULL;
	}
	if (!restrict_keytype(ssl, kt)) {
		tls_error_string("restricting the key type", err, errlen);
		goto fail;
	}
	if (sni != NULL && sni[0] != '\0') {
		/* SNI carries no trailing dot (RFC 6066 §3) */
		if (str_copy(name, sni, sizeof(name)) >= sizeof(name))
			goto toolong;
		len = strlen(name);
		if (len > 1 && name[len - 1] == '.')
			name[len - 1] = '\0';
		if (!SSL_set_tlsext_host_name(ssl, name)) {
			tls_error_string("setting SNI", err, errlen);
			goto fail;
		}
	}
	SSL_set_connect_state(ssl);
	return ssl;
toolong:
	snprintf(err, errlen, "SNI name too long");
fail:
	SSL_free(ssl);
	return NULL;
}

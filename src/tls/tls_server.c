/*
 * tls_server: SSL_CTX construction for `danemx serve` and the lab receivers. It must
 * never start with a key that does not match its certificate, and its errors are one line
 * naming the file at fault.
 */
#include "tls/tls_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

static void tls_err(char *err, size_t errlen, const char *what, const char *file)
{
	char ossl[200] = "";
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	snprintf(err, errlen, "%s %s%s%s", what, file, ossl[0] ? ": " : "", ossl);
}

static int tls_file_readable(const char *file, char *err, size_t errlen)
{
	FILE *f = fopen(file, "r");

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", file, strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

static int tls_load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *err,
			 size_t errlen)
{
	if (key == NULL)
		key = cert;
	if (tls_file_readable(cert, err, errlen) < 0 || tls_file_readable(key, err, errlen) < 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_err(err, errlen, "cannot load certificate chain from", cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_err(err, errlen, "cannot load private key from", key);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "private key %s does not match certificate %s", key, cert);
		return -1;
	}
	return 0;
}

SSL_CTX *tls_server_ctx_new(const char *const cert_files[2], const char *const key_files[2],
			    char *err, size_t errlen)
{
	SSL_CTX *ctx;
	static const unsigned char sid[] = "danemx";

	if (cert_files[0] == NULL) {
		snprintf(err, errlen, "no certificate file given");
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_err(err, errlen, "cannot create a TLS context for", cert_files[0]);
		return NULL;
	}
	/* RFC 7672 senders may still speak TLS 1.0; the system security level decides. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle sessions must be cheap: give back read/write buffers between records. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	for (int i = 0; i < 2; i++) {
		if (cert_files[i] == NULL)
			continue;
		if (tls_load_pair(ctx, cert_files[i], key_files[i], err, errlen) < 0) {
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	return ctx;
}

void tls_describe(const SSL *ssl, char *out, size_t outlen)
{
	const SSL_CIPHER *c;
	int alg = 0, bits;

	if (ssl == NULL || (c = SSL_get_current_cipher(ssl)) == NULL) {
		snprintf(out, outlen, "none");
		return;
	}
	bits = SSL_CIPHER_get_bits(c, &alg);
	snprintf(out, outlen, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
		 SSL_CIPHER_get_name(c), bits, alg);
}

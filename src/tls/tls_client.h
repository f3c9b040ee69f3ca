/*
 * tls_client: the client SSL_CTX and per-connection SSL objects for SMTP STARTTLS. The
 * context enables OpenSSL's DANE support and accepts TLS 1.0 and later (RFC 7672 §8.1:
 * opportunistic TLS beats plaintext); certificate verification runs but never aborts the
 * handshake, so the caller can judge the result afterwards (dane_ossl) and still report
 * the chain. No policy lives here, and nothing here reads from or writes to a socket.
 */
#ifndef DANEMX_TLS_CLIENT_H
#define DANEMX_TLS_CLIENT_H

#include <stddef.h>

#include <openssl/ssl.h>

/* Restrict the server's certificate key type, to check a dual-certificate server once
 * per key type: TLS 1.2+ through the signature algorithms, TLS 1.0/1.1 and TLS 1.2
 * through the cipher list's authentication. */
enum tls_keytype { TLS_KEYTYPE_ANY = 0, TLS_KEYTYPE_RSA, TLS_KEYTYPE_ECDSA };

enum tls_client_err {
	TLS_CLIENT_OK = 0,
	TLS_CLIENT_ESSL = -1,    /* OpenSSL refused a setting (reason in err) */
	TLS_CLIENT_EINVAL = -2,  /* bad argument */
};

struct tls_client_opts {
	int min_version;         /* e.g. TLS1_2_VERSION; 0 = TLS1_VERSION */
	const char *ca_file;     /* optional PEM bundle (not used for DANE; for reports) */
};

const char *tls_keytype_name(enum tls_keytype k);     /* "any", "rsa", "ecdsa" */
/* Parse "any"/"rsa"/"ecdsa"; -1 when unknown. */
int tls_keytype_parse(const char *s);

/* A client context with DANE enabled. NULL on failure with a reason in err. */
SSL_CTX *tls_client_ctx_new(const struct tls_client_opts *opts, char *err, size_t errlen);
/* A connection object: SNI = sni (optional, no trailing dot needed), the key-type
 * restriction applied. NULL on failure with a reason in err. */
SSL *tls_client_ssl_new(SSL_CTX *ctx, const char *sni, enum tls_keytype kt,
			char *err, size_t errlen);
/* The oldest OpenSSL error as one line ("what: lib:reason"), and the queue cleared. */
void tls_error_string(const char *what, char *err, size_t errlen);

#endif

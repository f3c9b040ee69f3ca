/*
 * tls_server: the server side's OpenSSL context: load one or two certificate chains with
 * their keys (RSA and ECDSA side by side; OpenSSL picks by the client's signature
 * algorithms), check that each key matches, and describe a finished handshake for logs
 * and Received: headers. It holds no policy and never reads a peer's certificate.
 */
#ifndef DANEMX_TLS_SERVER_H
#define DANEMX_TLS_SERVER_H

#include <stddef.h>
#include <openssl/ssl.h>

/* cert_files[i] is a PEM chain, leaf first; key_files[i] its key (NULL: in the chain
 * file). cert_files[1] may be NULL. NULL with a one-line reason naming the file. */
SSL_CTX *tls_server_ctx_new(const char *const cert_files[2], const char *const key_files[2],
			    char *err, size_t errlen);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", or "none". */
void tls_describe(const SSL *ssl, char *out, size_t outlen);

#endif

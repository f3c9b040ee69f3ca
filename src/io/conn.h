/*
 * conn: one TCP connection on the libevent loop, as both SMTP sides use it: connect (with
 * a timeout) or accept, read bounded lines, write, learn when output is flushed, upgrade to
 * TLS in place (STARTTLS), and get every happening (input, drained, timeout, EOF, error,
 * TLS done/failed) through one callback, like OpenSMTPD's ioev. It never interprets the
 * bytes, never buffers a line beyond its maximum, and never lets plaintext that was
 * buffered before a TLS upgrade reach the owner afterwards (CVE-2011-0411).
 */
#ifndef DANEMX_CONN_H
#define DANEMX_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

struct conn;

enum conn_event {
	CONN_EV_CONNECTED,   /* conn_connect() succeeded */
	CONN_EV_INPUT,       /* bytes arrived: call conn_readline() until CONN_LINE_NONE */
	CONN_EV_DRAINED,     /* output fully written to the socket (after conn_notify_drained) */
	CONN_EV_TIMEOUT,     /* no read/write progress for the armed timeout */
	CONN_EV_EOF,         /* the peer closed (TLS: with or without close_notify) */
	CONN_EV_ERROR,       /* connect or socket error; conn_error() tells why */
	CONN_EV_TLS_DONE,    /* STARTTLS handshake completed; conn_ssl() is usable (input
	                      * that came with it is announced by a CONN_EV_INPUT after) */
	CONN_EV_TLS_FAILED,  /* STARTTLS handshake failed; conn_error() has OpenSSL's text */
};

enum conn_line {
	CONN_LINE_OK,        /* a complete line, terminator stripped */
	CONN_LINE_NONE,      /* no complete line buffered (yet) */
	CONN_LINE_TOO_LONG,  /* a line over the maximum: reported once, skipped to its end */
};

enum conn_tls_role { CONN_TLS_CLIENT, CONN_TLS_SERVER };

typedef void conn_cb(struct conn *c, enum conn_event ev, void *arg);

#define CONN_DEFAULT_MAX_LINE 1000

/* Start a non-blocking connect; CONN_EV_CONNECTED or CONN_EV_ERROR/TIMEOUT follows (the
 * timeout is armed with timeout_ms, 0 = none). NULL with err set when nothing could start. */
struct conn *conn_connect(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
			  unsigned timeout_ms, conn_cb *cb, void *arg, char *err, size_t errlen);
/* Wrap an accepted socket (made non-blocking here); the conn owns and closes fd. */
struct conn *conn_accept(struct event_base *base, int fd, conn_cb *cb, void *arg,
			 char *err, size_t errlen);
/* Close the socket and release everything, the SSL* too. NULL-safe; callable from the
 * callback (no event is delivered after it). */
void conn_free(struct conn *c);

/* The maximum line length without its terminator (default CONN_DEFAULT_MAX_LINE). */
void conn_set_max_line(struct conn *c, size_t max);
/* Next line: *line points into the conn (NUL-terminated, valid until the next call),
 * *len is its length (it may contain NUL bytes). CRLF or bare LF end a line. */
enum conn_line conn_readline(struct conn *c, const char **line, size_t *len);
/* Bytes of input buffered and not yet consumed. */
size_t conn_input_len(const struct conn *c);
/* Stop (1) or resume (0) delivering input; on resume, buffered input is re-announced. */
void conn_pause_read(struct conn *c, int pause);

int conn_write(struct conn *c, const void *data, size_t len);
int conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t conn_output_len(const struct conn *c);
/* Deliver one CONN_EV_DRAINED when the output is empty (next loop turn if it already is). */
void conn_notify_drained(struct conn *c);

/* Arm the phase timeout: CONN_EV_TIMEOUT after ms without read or write progress.
 * 0 disarms. Re-arm per protocol state. */
void conn_set_timeout(struct conn *c, unsigned ms);

/* Upgrade to TLS with ssl (the conn takes ownership of it, even on failure). Input already
 * buffered is plaintext sent before the upgrade: it is discarded, never delivered, and its
 * size returned so the caller can log or refuse. Pending output (the 220 reply) is flushed
 * first. Returns the discarded count, or -1 with conn_error() set (the conn is then dead:
 * free it). CONN_EV_TLS_DONE or CONN_EV_TLS_FAILED follows. */
long conn_starttls(struct conn *c, SSL *ssl, enum conn_tls_role role);
/* The SSL object once conn_starttls() was called (NULL before), for protocol, cipher and
 * peer chain; it stays valid until conn_free(), also after a failed handshake. */
SSL *conn_ssl(const struct conn *c);
int conn_tls_active(const struct conn *c);

const char *conn_error(const struct conn *c);
const char *conn_peer(const struct conn *c);   /* "192.0.2.1:25" or "[2001:db8::1]:25" */
const char *conn_local(const struct conn *c);
uint64_t conn_bytes_in(const struct conn *c);   /* application bytes received */
uint64_t conn_bytes_out(const struct conn *c);  /* application bytes written to the peer */
int conn_fd(const struct conn *c);
const char *conn_event_name(enum conn_event ev);

/* Format a socket address as conn_peer() does. */
void conn_format_addr(const struct sockaddr *sa, char *out, size_t outlen);

#endif

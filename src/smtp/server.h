/*
 * server: the SMTP receiving engine (RFC 5321 with STARTTLS, PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES) delivering into a Maildir. A library: several instances may run
 * on one event loop (the lab starts one per MX host, each with its own addresses and
 * certificates). It never prints to stdout, never exits, and never answers 250 to DATA
 * before the message is fsync'd into new/.
 */
#ifndef DANEMX_SMTP_SERVER_H
#define DANEMX_SMTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#define SMTP_SERVER_MAX_LISTEN 16

struct smtp_server_params {
	const char *const *listen;     /* "127.0.0.2:2525", "[::1]:2525"; port 0 = any */
	size_t nlisten;
	const char *cert_files[2];      /* PEM chain, leaf first; [1] optional (RSA + ECDSA) */
	const char *key_files[2];       /* matching keys; NULL where the chain file has it */
	const char *maildir;            /* created (with tmp/ new/ cur/) when missing */
	const char *hostname;           /* banner and Received: name; NULL = gethostname() */
	const char *const *domains;     /* accepted recipient domains; ndomains 0 = all */
	size_t ndomains;
	size_t max_size;                /* message bytes; 0 = 10 MiB */
	size_t max_conn;                /* sessions; 0 = 1000; beyond: 421 and close */
	size_t max_rcpt;                /* recipients per message; 0 = 100; beyond: 452 */
	size_t max_errors;              /* bad commands before 421 and close; 0 = 10 */
	int starttls;                   /* 0 = do not offer STARTTLS (no cert needed) */
	unsigned cmd_timeout_ms;        /* per command wait; 0 = 300 s (RFC 5321 4.5.3.2) */
	unsigned data_timeout_ms;       /* per DATA block; 0 = 180 s */
	unsigned session_timeout_ms;    /* whole session; 0 = 3600 s */
	unsigned tls_timeout_ms;        /* handshake; 0 = 60 s */
};

/* Counters, for tests, the lab and the benchmark. */
struct smtp_server_stats {
	uint64_t sessions;         /* accepted connections (including refused ones) */
	uint64_t refused;          /* 421 because max_conn sessions were open */
	uint64_t active;           /* sessions open now */
	uint64_t tls_ok, tls_failed;
	uint64_t messages;         /* delivered into new/ and answered 250 */
	uint64_t rejected;         /* messages refused (size, line length, disk) */
	uint64_t injections;       /* STARTTLS sessions with plaintext pipelined behind it */
};

struct smtp_server;

/* Bind every listen address and load the certificates. NULL with a one-line reason in err
 * (naming the file or the address) on any failure. */
struct smtp_server *smtp_server_new(struct event_base *base, const struct smtp_server_params *p,
				    char *err, size_t errlen);
/* Re-read cert_files/key_files; new sessions use them, sessions in flight keep theirs.
 * On failure (-1, err set) the old certificates stay in use. */
int smtp_server_reload(struct smtp_server *s, char *err, size_t errlen);
/* Stop accepting; idle sessions get 421 and close, sessions in a transaction finish it.
 * done(arg) runs (from the loop) when no session is left. */
void smtp_server_shutdown(struct smtp_server *s, void (*done)(void *), void *arg);
/* Close listeners and all sessions at once. NULL-safe. */
void smtp_server_free(struct smtp_server *s);

/* The port listener i is bound to (useful after "ADDR:0"); 0 if there is no such one. */
unsigned smtp_server_port(const struct smtp_server *s, size_t i);
size_t smtp_server_nlisten(const struct smtp_server *s);
void smtp_server_get_stats(const struct smtp_server *s, struct smtp_server_stats *st);

#endif

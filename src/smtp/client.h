/*
 * client: the SMTP client engine (the probe) as a state machine on the libevent loop,
 * after OpenSMTPD's smtp_client: an opaque handle, a params struct, one completion
 * callback. One address per session: connect, banner, EHLO, STARTTLS, TLS handshake, the
 * DANE judgement (dane_ossl), EHLO again, then QUIT (PROBE) or a mail transaction
 * (DELIVER). It never sends MAIL FROM over a connection whose required TLS or DANE check
 * failed, never continues in plaintext when TLS is required, never prints or exits.
 */
#ifndef DANEMX_SMTP_CLIENT_H
#define DANEMX_SMTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "dane/dane_ossl.h"
#include "dns/rr.h"
#include "smtp/reply.h"
#include "tls/chain.h"
#include "tls/tls_client.h"
#include "util/buf.h"

enum smtp_mode { SMTP_MODE_PROBE = 0, SMTP_MODE_DELIVER };

/* What TLS the session must have (from policy_host_level(); TEMPFAIL never gets here). */
enum smtp_tls_req {
	SMTP_TLS_NONE = 0,   /* never STARTTLS (plaintext probe) */
	SMTP_TLS_MAY,        /* STARTTLS when offered; plaintext otherwise */
	SMTP_TLS_ENCRYPT,    /* STARTTLS mandatory, certificate not checked */
	SMTP_TLS_DANE,       /* STARTTLS mandatory, certificate checked against the TLSA records */
};
const char *smtp_tls_req_name(enum smtp_tls_req r);   /* "none", "may", "encrypt", "dane" */

/* Per-phase timeouts in milliseconds; smtp_client_defaults() fills RFC 5321 §4.5.3.2
 * values (connect and TLS as Postfix's smtp_connect_timeout / smtp_starttls_timeout). */
struct smtp_timeouts {
	unsigned connect_ms;     /* 30 s */
	unsigned banner_ms;      /* 5 min: initial 220 */
	unsigned ehlo_ms;        /* 5 min */
	unsigned starttls_ms;    /* 5 min: the reply to STARTTLS */
	unsigned tls_ms;         /* 5 min: the handshake */
	unsigned mail_ms;        /* 5 min */
	unsigned rcpt_ms;        /* 5 min */
	unsigned data_ms;        /* 2 min: DATA initiation */
	unsigned data_block_ms;  /* 3 min: sending the message */
	unsigned data_done_ms;   /* 10 min: the reply after the final dot */
	unsigned quit_ms;        /* 5 min (a probe should lower it) */
};

/* All pointers must stay valid until the completion callback has run. */
struct smtp_client_params {
	struct addr_rr addr;            /* where to connect */
	uint16_t port;                  /* 0 = 25 */
	const char *helo_name;          /* EHLO argument; NULL = "localhost" */
	enum smtp_mode mode;
	enum smtp_tls_req tls;
	SSL_CTX *ssl_ctx;               /* tls_client_ctx_new(); required unless tls is NONE */
	enum tls_keytype keytype;       /* restrict the server's certificate key type */
	const char *sni;                /* SNI; NULL = tlsa_base (DANE) or none */
	/* DANE (tls == SMTP_TLS_DANE): the host's records (unusable ones are skipped), the
	 * TLSA base domain and the reference names (policy_refnames()). */
	const struct tlsa_rr *tlsa;
	size_t ntlsa;
	const char *tlsa_base;
	const char *const *refnames;
	size_t nrefnames;
	struct smtp_timeouts to;
	/* DELIVER: envelope and message. The message is headers + body with LF or CRLF line
	 * ends, not dot-stuffed (the client does that). */
	const char *mail_from;          /* without <>; "" = null reverse-path; UTF-8 addresses
					   need the server's SMTPUTF8 (else REJECTED, not sent) */
	const char *const *rcpts;
	size_t nrcpts;
	const char *msg;
	size_t msg_len;
};

/* Initialise params: port 25, RFC timeouts, PROBE, TLS MAY, everything else empty. */
void smtp_client_defaults(struct smtp_client_params *p);

/* The states; SMTP_ST_DONE is where every session ends. */
enum smtp_state {
	SMTP_ST_INIT = 0,
	SMTP_ST_CONNECT,
	SMTP_ST_BANNER,
	SMTP_ST_EHLO,
	SMTP_ST_HELO,
	SMTP_ST_STARTTLS,
	SMTP_ST_TLS,
	SMTP_ST_EHLO2,
	SMTP_ST_MAIL,
	SMTP_ST_RCPT,
	SMTP_ST_DATA,
	SMTP_ST_BODY,
	SMTP_ST_QUIT,
	SMTP_ST_DONE,
};
const char *smtp_state_name(enum smtp_state s);

/* Failure categories; the command decides what each means for its exit code. */
enum smtp_fail {
	SMTP_FAIL_NONE = 0,
	SMTP_FAIL_CONNECT,    /* could not connect, or the connection was lost */
	SMTP_FAIL_PROTOCOL,   /* malformed or unexpected replies */
	SMTP_FAIL_TLS,        /* required STARTTLS missing or refused, handshake failed */
	SMTP_FAIL_DANE,       /* DANE required: STARTTLS missing, or no TLSA record matched */
	SMTP_FAIL_REJECTED,   /* the server refused (4xx/5xx), or the message cannot be sent
				 to it as is (SIZE, 8BITMIME, SMTPUTF8) */
	SMTP_FAIL_TIMEOUT,    /* a phase timed out */
};
const char *smtp_fail_name(enum smtp_fail f);   /* "connect", "protocol", ... */

#define SMTP_TEXT_MAX 512   /* escaped reply text kept in results */

struct smtp_rcpt_result {
	int code;                       /* RCPT reply code, 0 when no reply came */
	char enh[16];
	char reply[SMTP_TEXT_MAX];      /* escaped "250 2.1.5 Ok" */
	int accepted;
};

struct smtp_client_result {
	enum smtp_state stage;          /* the state the session was in when it ended */
	enum smtp_fail fail;            /* SMTP_FAIL_NONE: the probe or delivery succeeded */
	int temporary;                  /* REJECTED with a 4xx reply (retry later) */
	int local_refusal;              /* REJECTED by this client: the message cannot be sent to
					   this server as it is (SIZE, 8BITMIME, SMTPUTF8) */
	char reason[SMTP_TEXT_MAX];     /* one line; peer text escaped */
	char peer[64];                  /* "192.0.2.1:25" */
	int banner_code;
	char banner[SMTP_TEXT_MAX];
	int used_helo;                  /* EHLO refused, HELO used (only without required TLS) */
	int ehlo_ok, ehlo2_ok;
	struct ehlo ehlo;               /* before TLS */
	struct ehlo ehlo2;              /* after TLS */
	int starttls_offered;
	int tls;                        /* the TLS handshake completed */
	size_t plaintext_discarded;     /* bytes sent with/after the 220 to STARTTLS: injection */
	struct tls_facts tls_facts;     /* when tls */
	int dane_checked;               /* DANE was judged (tls == DANE and TLS completed) */
	struct dane_setup_info dane_setup;
	struct dane_outcome dane;
	/* DELIVER */
	int mail_code;
	char mail_reply[SMTP_TEXT_MAX];
	size_t nrcpts;
	struct smtp_rcpt_result *rcpt;  /* nrcpts entries, owned by the session */
	size_t rcpts_accepted;
	int data_code;                  /* reply to DATA (354 expected) */
	int final_code;                 /* reply after the final dot */
	char final_reply[SMTP_TEXT_MAX];
	int delivered;                  /* 1 only on a 2xx after the final dot */
	/* timings, milliseconds from start */
	unsigned connect_ms, tls_ms, total_ms;
};

struct smtp_client;

/* Called exactly once, from the event loop, never from inside smtp_client_start(). res
 * stays valid until smtp_client_free(), which may be called from the callback. */
typedef void smtp_client_done_cb(struct smtp_client *sc, const struct smtp_client_result *res,
				 void *arg);

/* Start a session. NULL with a reason in err only for bad params (e.g. TLS required and
 * no ssl_ctx, DANE without records, DELIVER without recipients); everything that goes
 * wrong on the wire is reported through cb. */
struct smtp_client *smtp_client_start(struct event_base *base, const struct smtp_client_params *p,
				      smtp_client_done_cb *cb, void *arg, char *err, size_t errlen);
/* Cancel (no callback then) or release a finished session. NULL-safe. */
void smtp_client_free(struct smtp_client *sc);
const struct smtp_client_result *smtp_client_result(const struct smtp_client *sc);

/* The message as DATA sends it: line ends made CRLF, lines starting with "." get
 * another ".", a final CRLF added when missing, then ".\r\n" (RFC 5321 §4.5.2).
 * Returns 0 or a negative BUF_ error. */
int smtp_dotstuff(const char *msg, size_t len, struct buf *out);
/* 1 when the message has a byte >= 0x80 (needs BODY=8BITMIME, RFC 6152). */
int smtp_msg_is_8bit(const char *msg, size_t len);

#endif

/*
 * client: the SMTP client state machine. Every reply is assembled by the strict parser
 * and dispatched to the handler of the current state (a table); every state arms its own
 * timeout; every transition is traced. The first failure is the one reported. A session
 * whose required TLS or DANE check failed only ever sends QUIT afterwards; plaintext the
 * server sent behind its 220 to STARTTLS is discarded by the connection layer and counted.
 * The completion callback always runs from its own loop turn, so a handler never
 * continues on a freed session. Never prints, never exits.
 */
#include "smtp/client.h"
#include "io/conn.h"
#include "util/log.h"
#include "util/str.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct smtp_client {
	struct event_base *base;
	struct smtp_client_params p;
	smtp_client_done_cb *cb;
	void *arg;
	struct conn *conn;
	struct event *kick;             /* runs the completion callback */
	struct event *deadline;         /* hard limit on the current state (see set_state) */
	enum smtp_state state;
	unsigned state_ms;              /* the current state's timeout */
	struct reply_parser rp;
	struct smtp_client_result res;
	struct timespec t0;
	/* transaction */
	struct buf body;                /* dot-stuffed message */
	size_t msg_size;                /* for SIZE=: the message with CRLF line ends */
	int msg8;
	int utf8_addrs;                 /* an envelope address needs SMTPUTF8 (RFC 6531) */
	int pipelining;
	size_t rcpt_reply;              /* next RCPT awaiting its reply */
	int mail_failed;
	int body_abort;                 /* 354 without a recipient: send only "." */
};

static const char *const state_names[] = {
	"init", "connect", "banner", "ehlo", "helo", "starttls", "tls", "ehlo2", "mail",
	"rcpt", "data", "body", "quit", "done",
};

const char *smtp_state_name(enum smtp_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

const char *smtp_fail_name(enum smtp_fail f)
{
	static const char *const names[] = {
		"none", "connect", "protocol", "tls", "dane", "rejected", "timeout",
	};

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

const char *smtp_tls_req_name(enum smtp_tls_req r)
{
	static const char *const names[] = {"none", "may", "encrypt", "dane"};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

void smtp_client_defaults(struct smtp_client_params *p)
{
	memset(p, 0, sizeof(*p));
	p->port = 25;
	p->mode = SMTP_MODE_PROBE;
	p->tls = SMTP_TLS_MAY;
	p->to = (struct smtp_timeouts){
		.connect_ms = 30000, .banner_ms = 300000, .ehlo_ms = 300000,
		.starttls_ms = 300000, .tls_ms = 300000, .mail_ms = 300000,
		.rcpt_ms = 300000, .data_ms = 120000, .data_block_ms = 180000,
		.data_done_ms = 600000, .quit_ms = 300000,
	};
}

/* ---- message helpers ---- */

int smtp_msg_is_8bit(const char *msg, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)msg[i] >= 0x80)
			return 1;
	return 0;
}

int smtp_dotstuff(const char *msg, size_t len, struct buf *out)
{
	int bol = 1, r = BUF_OK;

	for (size_t i = 0; i < len && r == BUF_OK; i++) {
		char ch = msg[i];

		if (bol && ch == '.')
			r = buf_putc(out, '.');
		if (r == BUF_OK && ch == '\n' && (i == 0 || msg[i - 1] != '\r'))
			r = buf_putc(out, '\r');    /* bare LF becomes CRLF */
		if (r == BUF_OK)
			r = buf_putc(out, ch);
		bol = ch == '\n';
	}
	if (r == BUF_OK && !bol && len > 0)
		r = buf_puts(out, "\r\n");
	if (r == BUF_OK)
		r = buf_puts(out, ".\r\n");
	return r;
}

/* ---- bookkeeping ---- */

static unsigned elapsed_ms(const struct smtp_client *sc)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (unsigned)((now.tv_sec - sc->t0.tv_sec) * 1000 +
			  (now.tv_nsec - sc->t0.tv_nsec) / 1000000);
}

/* Enter a state with its timeout. The conn's timeout fires on no progress; the deadline
 * fires even on progress, so a server dripping a byte at a time cannot stretch a phase.
 * The message transfer (BODY) is the exception while it is written: a big message may
 * take long while it moves, so only the no-progress timeout applies until the output is
 * drained (RFC 5321 §4.5.3.2.5); the wait for the final reply is hard again. */
static void arm_timeouts(struct smtp_client *sc, unsigned ms, int hard)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	sc->state_ms = ms;
	evtimer_del(sc->deadline);
	if (sc->conn != NULL)
		conn_set_timeout(sc->conn, ms);
	if (ms > 0 && hard)
		evtimer_add(sc->deadline, &tv);
}

static void set_state(struct smtp_client *sc, enum smtp_state st, unsigned timeout_ms)
{
	log_trace("smtp client %s: %s -> %s", sc->res.peer,
		  smtp_state_name(sc->state), smtp_state_name(st));
	sc->state = st;
	if (st == SMTP_ST_DONE)
		evtimer_del(sc->deadline);
	else
		arm_timeouts(sc, timeout_ms, st != SMTP_ST_BODY);
}

/* Record the first failure; later ones are consequences. */
static void fail(struct smtp_client *sc, enum smtp_fail cat, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct smtp_client *sc, enum smtp_fail cat, const char *fmt, ...)
{
	va_list ap;

	if (sc->res.fail != SMTP_FAIL_NONE)
		return;
	sc->res.fail = cat;
	sc->res.stage = sc->state;
	va_start(ap, fmt);
	vsnprintf(sc->res.reason, sizeof(sc->res.reason), fmt, ap);
	va_end(ap);
	log_debug("smtp client %s: %s failure in state %s: %s", sc->res.peer,
		  smtp_fail_name(cat), smtp_state_name(sc->state), sc->res.reason);
}

/* A refusal by reply, the reply in the reason; REJECTED is temporary when 4xx. */
static void fail_reply(struct smtp_client *sc, enum smtp_fail cat, const char *what,
		       const struct reply *r)
{
	char text[SMTP_TEXT_MAX];

	if (sc->res.fail == SMTP_FAIL_NONE && cat == SMTP_FAIL_REJECTED)
		sc->res.temporary = reply_tempfail(r);
	fail(sc, cat, "%s: %s", what, reply_format(r, text, sizeof(text)));
}

static void on_timeout(struct smtp_client *sc);

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	on_timeout(arg);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *sc = arg;

	sc->cb(sc, &sc->res, sc->arg);
}

/* End the session: close the connection now, run the callback on the next loop turn. */
static void finish(struct smtp_client *sc)
{
	struct timeval zero = {0, 0};

	if (sc->state == SMTP_ST_DONE)
		return;
	if (sc->res.fail == SMTP_FAIL_NONE)
		sc->res.stage = sc->state;
	set_state(sc, SMTP_ST_DONE, 0);
	sc->res.total_ms = elapsed_ms(sc);
	conn_free(sc->conn);
	sc->conn = NULL;
	evtimer_add(sc->kick, &zero);
}

static void send_cmd(struct smtp_client *sc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void send_cmd(struct smtp_client *sc, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)   /* params are checked at start */
		log_panic("smtp client: command line too long");
	log_trace("smtp client %s: > %s", sc->res.peer, line);
	line[n] = '\r';
	line[n + 1] = '\n';
	conn_write(sc->conn, line, (size_t)n + 2);
}

/* End the dialogue politely; callers use it only while replies are still in step (a
 * malformed reply, a timeout or a lost connection finish() without it). */
static void quit(struct smtp_client *sc)
{
	send_cmd(sc, "QUIT");
	set_state(sc, SMTP_ST_QUIT, sc->p.to.quit_ms);
}

static enum smtp_fail tls_fail_category(const struct smtp_client *sc)
{
	return sc->p.tls == SMTP_TLS_DANE ? SMTP_FAIL_DANE : SMTP_FAIL_TLS;
}

/* ---- the dialogue, in protocol order ---- */

static void send_ehlo(struct smtp_client *sc, enum smtp_state st)
{
	send_cmd(sc, "EHLO %s", sc->p.helo_name);
	set_state(sc, st, sc->p.to.ehlo_ms);
}

static void on_banner(struct smtp_client *sc, const struct reply *r)
{
	sc->res.banner_code = r->code;
	reply_format(r, sc->res.banner, sizeof(sc->res.banner));
	if (r->code != 220) {
		fail_reply(sc, SMTP_FAIL_REJECTED, "server refused the session", r);
		quit(sc);
		return;
	}
	send_ehlo(sc, SMTP_ST_EHLO);
}

static void start_txn(struct smtp_client *sc);

/* After the last greeting: QUIT for a probe, the transaction for a delivery. */
static void greeted(struct smtp_client *sc)
{
	if (sc->p.mode == SMTP_MODE_DELIVER)
		start_txn(sc);
	else
		quit(sc);
}

/* The SSL for this session: SNI, key type and, for DANE, the records and names. NULL
 * with the failure recorded. */
static SSL *session_ssl(struct smtp_client *sc)
{
	const char *sni = sc->p.sni != NULL ? sc->p.sni
			  : sc->p.tls == SMTP_TLS_DANE ? sc->p.tlsa_base : NULL;
	char err[256];
	SSL *ssl;

	if ((ssl = tls_client_ssl_new(sc->p.ssl_ctx, sni, sc->p.keytype, err, sizeof(err))) == NULL) {
		fail(sc, SMTP_FAIL_TLS, "%s", err);
		return NULL;
	}
	if (sc->p.tls == SMTP_TLS_DANE &&
	    dane_ossl_setup(ssl, sc->p.tlsa_base, sc->p.refnames, sc->p.nrefnames, sc->p.tlsa,
			    sc->p.ntlsa, &sc->res.dane_setup, err, sizeof(err)) <= 0) {
		SSL_free(ssl);
		fail(sc, SMTP_FAIL_DANE, "%s", err);
		return NULL;
	}
	return ssl;
}

static void start_tls(struct smtp_client *sc)
{
	SSL *ssl;
	long n;

	if ((ssl = session_ssl(sc)) == NULL) {
		finish(sc);
		return;
	}
	/* the conn owns ssl from here, even on failure */
	if ((n = conn_starttls(sc->conn, ssl, CONN_TLS_CLIENT)) < 0) {
		fail(sc, SMTP_FAIL_TLS, "STARTTLS: %s", conn_error(sc->conn));
		finish(sc);
		return;
	}
	if (n > 0) {
		/* bytes behind the 220: a response injection attempt (CVE-2011-0411 style) */
		sc->res.plaintext_discarded = (size_t)n;
		log_warnx("smtp client %s: discarded %ld bytes of plaintext sent after the "
			  "220 reply to STARTTLS", sc->res.peer, n);
	}
	reply_parser_init(&sc->rp);
	set_state(sc, SMTP_ST_TLS, sc->p.to.tls_ms);
}

static void on_ehlo(struct smtp_client *sc, const struct reply *r)
{
	if (r->code != 250) {
		if (sc->p.tls == SMTP_TLS_NONE || sc->p.tls == SMTP_TLS_MAY) {
			/* RFC 5321 §3.2: fall back to HELO; no extensions, so no STARTTLS */
			sc->res.used_helo = 1;
			send_cmd(sc, "HELO %s", sc->p.helo_name);
			set_state(sc, SMTP_ST_HELO, sc->p.to.ehlo_ms);
			return;
		}
		fail_reply(sc, tls_fail_category(sc),
			   "EHLO refused and TLS is required (no HELO fallback)", r);
		quit(sc);
		return;
	}
	sc->res.ehlo_ok = 1;
	reply_parse_ehlo(r, &sc->res.ehlo);
	sc->res.starttls_offered = (sc->res.ehlo.flags & EHLO_STARTTLS) != 0;
	if (sc->p.tls == SMTP_TLS_NONE || (!sc->res.starttls_offered && sc->p.tls == SMTP_TLS_MAY)) {
		greeted(sc);
	} else if (!sc->res.starttls_offered) {
		fail(sc, tls_fail_category(sc), "STARTTLS not offered, but TLS is required (%s)",
		     smtp_tls_req_name(sc->p.tls));
		quit(sc);
	} else {
		send_cmd(sc, "STARTTLS");
		set_state(sc, SMTP_ST_STARTTLS, sc->p.to.starttls_ms);
	}
}

static void on_helo(struct smtp_client *sc, const struct reply *r)
{
	if (r->code != 250) {
		fail_reply(sc, SMTP_FAIL_REJECTED, "HELO refused", r);
		quit(sc);
		return;
	}
	greeted(sc);
}

static void on_starttls(struct smtp_client *sc, const struct reply *r)
{
	if (r->code == 220) {
		start_tls(sc);
		return;
	}
	if (sc->p.tls == SMTP_TLS_MAY) {
		log_debug("smtp client %s: STARTTLS refused (%d), continuing in plaintext",
			  sc->res.peer, r->code);
		greeted(sc);
		return;
	}
	fail_reply(sc, tls_fail_category(sc), "STARTTLS refused and TLS is required", r);
	quit(sc);
}

static void on_tls_done(struct smtp_client *sc)
{
	SSL *ssl = conn_ssl(sc->conn);

	sc->res.tls = 1;
	sc->res.tls_ms = elapsed_ms(sc);
	chain_tls_facts(ssl, &sc->res.tls_facts);
	if (sc->p.tls == SMTP_TLS_DANE) {
		sc->res.dane_checked = 1;
		dane_ossl_judge(ssl, sc->p.tlsa, sc->p.ntlsa, sc->p.refnames, sc->p.nrefnames,
				&sc->res.dane);
		if (sc->res.dane.status != DANE_STATUS_VERIFIED) {
			fail(sc, SMTP_FAIL_DANE, "DANE authentication failed: %s",
			     sc->res.dane.reason);
			quit(sc);
			return;
		}
	}
	send_ehlo(sc, SMTP_ST_EHLO2);
}

static void on_ehlo2(struct smtp_client *sc, const struct reply *r)
{
	if (r->code != 250) {
		char text[SMTP_TEXT_MAX];
		fail(sc, SMTP_FAIL_PROTOCOL, "EHLO after STARTTLS refused: %s",
		     reply_format(r, text, sizeof(text)));
		quit(sc);
		return;
	}
	sc->res.ehlo2_ok = 1;
	reply_parse_ehlo(r, &sc->res.ehlo2);
	greeted(sc);
}

/* ---- the mail transaction (RFC 5321 §3.3, PIPELINING RFC 2920) ---- */

static const struct ehlo *final_ehlo(const struct smtp_client *sc)
{
	static const struct ehlo none;

	if (sc->res.used_helo)
		return &none;
	return sc->res.tls ? &sc->res.ehlo2 : &sc->res.ehlo;
}

static void send_rcpt(struct smtp_client *sc, size_t i)
{
	send_cmd(sc, "RCPT TO:<%s>", sc->p.rcpts[i]);
}

static void start_txn(struct smtp_client *sc)
{
	const struct ehlo *e = final_ehlo(sc);
	char size[32] = "";

	if ((e->flags & EHLO_SIZE) && e->size_max > 0 && sc->msg_size > e->size_max) {
		sc->res.local_refusal = 1;
		fail(sc, SMTP_FAIL_REJECTED, "message of %zu bytes exceeds the server's SIZE "
		     "limit of %llu bytes (RFC 1870): not sent", sc->msg_size,
		     (unsigned long long)e->size_max);
		quit(sc);
		return;
	}
	if (sc->utf8_addrs && !(e->flags & EHLO_SMTPUTF8)) {
		sc->res.local_refusal = 1;
		fail(sc, SMTP_FAIL_REJECTED, "internationalized address and the server does not "
		     "offer SMTPUTF8 (RFC 6531): not sent");
		quit(sc);
		return;
	}
	if (sc->msg8 && !(e->flags & EHLO_8BITMIME)) {
		sc->res.local_refusal = 1;
		fail(sc, SMTP_FAIL_REJECTED, "8-bit message and the server does not offer "
		     "8BITMIME (RFC 6152): not sent");
		quit(sc);
		return;
	}
	if (e->flags & EHLO_SIZE)
		snprintf(size, sizeof(size), " SIZE=%zu", sc->msg_size);
	sc->pipelining = (e->flags & EHLO_PIPELINING) != 0;
	send_cmd(sc, "MAIL FROM:<%s>%s%s%s", sc->p.mail_from, size,
		 sc->msg8 ? " BODY=8BITMIME" : "", sc->utf8_addrs ? " SMTPUTF8" : "");
	if (sc->pipelining) {
		for (size_t i = 0; i < sc->p.nrcpts; i++)
			send_rcpt(sc, i);
		send_cmd(sc, "DATA");
	}
	set_state(sc, SMTP_ST_MAIL, sc->p.to.mail_ms);
}

static void on_mail(struct smtp_client *sc, const struct reply *r)
{
	sc->res.mail_code = r->code;
	reply_format(r, sc->res.mail_reply, sizeof(sc->res.mail_reply));
	if (!reply_ok(r)) {
		sc->mail_failed = 1;
		fail_reply(sc, SMTP_FAIL_REJECTED, "MAIL FROM refused", r);
		if (!sc->pipelining) {
			quit(sc);
			return;
		}
	} else if (!sc->pipelining) {
		send_rcpt(sc, 0);
	}
	/* pipelined: the RCPT and DATA replies follow whatever MAIL got */
	set_state(sc, SMTP_ST_RCPT, sc->p.to.rcpt_ms);
}

static void on_rcpt(struct smtp_client *sc, const struct reply *r)
{
	struct smtp_rcpt_result *rr = &sc->res.rcpt[sc->rcpt_reply++];

	rr->code = r->code;
	str_copy(rr->enh, r->enh, sizeof(rr->enh));
	reply_format(r, rr->reply, sizeof(rr->reply));
	rr->accepted = reply_ok(r);
	sc->res.rcpts_accepted += (size_t)rr->accepted;
	if (sc->rcpt_reply < sc->p.nrcpts) {
		if (!sc->pipelining)
			send_rcpt(sc, sc->rcpt_reply);
		set_state(sc, SMTP_ST_RCPT, sc->p.to.rcpt_ms);
		return;
	}
	if (sc->res.rcpts_accepted == 0)
		fail_reply(sc, SMTP_FAIL_REJECTED, "all recipients refused; last", r);
	if (sc->pipelining) {
		set_state(sc, SMTP_ST_DATA, sc->p.to.data_ms);
	} else if (sc->res.rcpts_accepted == 0) {
		quit(sc);
	} else {
		send_cmd(sc, "DATA");
		set_state(sc, SMTP_ST_DATA, sc->p.to.data_ms);
	}
}

static void on_data(struct smtp_client *sc, const struct reply *r)
{
	sc->res.data_code = r->code;
	if (r->code != 354) {
		fail_reply(sc, SMTP_FAIL_REJECTED, "DATA refused", r);
		quit(sc);
		return;
	}
	if (sc->mail_failed || sc->res.rcpts_accepted == 0) {
		/* RFC 2920 §3.1: a 354 without a valid recipient gets an empty message */
		sc->body_abort = 1;
		conn_write(sc->conn, ".\r\n", 3);
	} else {
		conn_write(sc->conn, buf_cstr(&sc->body), sc->body.len);
	}
	set_state(sc, SMTP_ST_BODY, sc->p.to.data_block_ms);
	conn_notify_drained(sc->conn);
}

static void on_body(struct smtp_client *sc, const struct reply *r)
{
	sc->res.final_code = r->code;
	reply_format(r, sc->res.final_reply, sizeof(sc->res.final_reply));
	if (!sc->body_abort) {
		if (reply_ok(r))
			sc->res.delivered = 1;
		else
			fail_reply(sc, SMTP_FAIL_REJECTED, "message refused after DATA", r);
	}
	quit(sc);
}

static void on_quit(struct smtp_client *sc, const struct reply *r)
{
	finish(sc);
}

/* ---- input and events ---- */

typedef void reply_handler(struct smtp_client *sc, const struct reply *r);

/* Which states wait for a reply, and who handles it. */
static reply_handler *const on_reply[] = {
	[SMTP_ST_BANNER] = on_banner,   [SMTP_ST_EHLO] = on_ehlo,
	[SMTP_ST_HELO] = on_helo,       [SMTP_ST_STARTTLS] = on_starttls,
	[SMTP_ST_EHLO2] = on_ehlo2,     [SMTP_ST_MAIL] = on_mail,
	[SMTP_ST_RCPT] = on_rcpt,       [SMTP_ST_DATA] = on_data,
	[SMTP_ST_BODY] = on_body,       [SMTP_ST_QUIT] = on_quit,
	[SMTP_ST_DONE] = NULL,
};

static void protocol_error(struct smtp_client *sc, const char *what, const char *line, size_t len)
{
	char esc[200];

	str_escape(esc, sizeof(esc), line, len);
	fail(sc, SMTP_FAIL_PROTOCOL, "%s in state %s: \"%s\"", what, smtp_state_name(sc->state), esc);
	finish(sc);
}

static void on_line(struct smtp_client *sc, const char *line, size_t len)
{
	int r;

	if (on_reply[sc->state] == NULL) {
		protocol_error(sc, "unexpected input", line, len);
		return;
	}
	if (log_enabled(LOG_LVL_TRACE)) {
		char esc[256];
		log_trace("smtp client %s: < %s", sc->res.peer, str_escape(esc, sizeof(esc), line, len));
	}
	r = reply_feed(&sc->rp, line, len);
	if (r < 0) {
		protocol_error(sc, reply_strerror(r), line, len);
		return;
	}
	if (r == REPLY_DONE)
		on_reply[sc->state](sc, &sc->rp.reply);
}

static void read_input(struct smtp_client *sc)
{
	const char *line;
	size_t len;
	enum conn_line r;

	/* a handler may finish the session: the conn is gone then */
	while (sc->conn != NULL && (r = conn_readline(sc->conn, &line, &len)) != CONN_LINE_NONE) {
		if (r == CONN_LINE_TOO_LONG) {
			fail(sc, SMTP_FAIL_PROTOCOL, "reply line longer than %d bytes in state %s",
			     REPLY_LINE_MAX, smtp_state_name(sc->state));
			finish(sc);
			return;
		}
		on_line(sc, line, len);
	}
}

/* EOF or a socket/TLS error: why is NULL for a plain EOF. */
static void on_conn_lost(struct smtp_client *sc, const char *why)
{
	if (sc->state == SMTP_ST_QUIT) {   /* a close or reset after QUIT changes nothing */
		finish(sc);
		return;
	}
	if (sc->state == SMTP_ST_BODY)
		fail(sc, SMTP_FAIL_CONNECT, "connection lost after DATA: message not delivered%s%s",
		     why ? ": " : "", why ? why : "");
	else if (why == NULL)
		fail(sc, SMTP_FAIL_CONNECT, "connection closed by the server in state %s",
		     smtp_state_name(sc->state));
	else
		fail(sc, SMTP_FAIL_CONNECT, "%s in state %s", why, smtp_state_name(sc->state));
	finish(sc);
}

static void on_timeout(struct smtp_client *sc)
{
	/* a server that does not answer QUIT has still had its say */
	if (sc->state != SMTP_ST_QUIT)
		fail(sc, SMTP_FAIL_TIMEOUT, "timeout in state %s (limit %u ms, %u ms into the session)",
		     smtp_state_name(sc->state), sc->state_ms, elapsed_ms(sc));
	finish(sc);
}

static void on_connected(struct smtp_client *sc)
{
	sc->res.connect_ms = elapsed_ms(sc);
	str_copy(sc->res.peer, conn_peer(sc->conn), sizeof(sc->res.peer));
	conn_set_max_line(sc->conn, REPLY_LINE_MAX);
	set_state(sc, SMTP_ST_BANNER, sc->p.to.banner_ms);
}

static void conn_event_cb(struct conn *c, enum conn_event ev, void *arg)
{
	struct smtp_client *sc = arg;

	switch (ev) {
	case CONN_EV_CONNECTED:
		on_connected(sc);
		break;
	case CONN_EV_INPUT:
		read_input(sc);
		break;
	case CONN_EV_DRAINED:
		if (sc->state == SMTP_ST_BODY)   /* all sent: now the wait for the final reply */
			arm_timeouts(sc, sc->p.to.data_done_ms, 1);
		break;
	case CONN_EV_TIMEOUT:
		on_timeout(sc);
		break;
	case CONN_EV_EOF:
		on_conn_lost(sc, NULL);
		break;
	case CONN_EV_ERROR:
		on_conn_lost(sc, conn_error(c));
		break;
	case CONN_EV_TLS_DONE:
		on_tls_done(sc);
		break;
	case CONN_EV_TLS_FAILED:
		fail(sc, tls_fail_category(sc), "TLS handshake failed: %s", conn_error(c));
		finish(sc);
		break;
	}
}

/* ---- start and free ---- */

/* Text that goes into a command line: printable, no spaces, none of "<>". */
static int word_ok(const char *s, int allow_empty)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] <= 0x20 || s[n] == 0x7f || s[n] == '<' || s[n] == '>')
			return 0;
	return (n > 0 || allow_empty) && n <= 512;
}

static int check_params(const struct smtp_client_params *p, char *err, size_t errlen)
{
	const char *why = NULL;

	if (p->addr.family != AF_INET && p->addr.family != AF_INET6)
		why = "no address";
	else if (p->tls != SMTP_TLS_NONE && p->ssl_ctx == NULL)
		why = "TLS requested without an SSL_CTX";
	else if (p->tls == SMTP_TLS_DANE && (p->ntlsa == 0 || p->tlsa == NULL ||
					    p->tlsa_base == NULL || p->tlsa_base[0] == '\0'))
		why = "DANE requested without TLSA records or base domain";
	else if (p->helo_name != NULL && !word_ok(p->helo_name, 0))
		why = "bad EHLO name";
	else if (p->mode == SMTP_MODE_DELIVER && (p->nrcpts == 0 || p->msg == NULL ||
						  !word_ok(p->mail_from, 1)))
		why = "delivery needs a sender, recipients and a message";
	for (size_t i = 0; why == NULL && p->mode == SMTP_MODE_DELIVER && i < p->nrcpts; i++)
		if (!word_ok(p->rcpts[i], 0))
			why = "bad recipient address";
	if (why != NULL)
		snprintf(err, errlen, "smtp client: %s", why);
	return why == NULL ? 0 : -1;
}

static socklen_t make_sockaddr(const struct smtp_client_params *p, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (p->addr.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p->port ? p->port : 25);
		sin->sin_addr = p->addr.u.v4;
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(p->port ? p->port : 25);
	sin6->sin6_addr = p->addr.u.v6;
	return sizeof(*sin6);
}

static int prepare_message(struct smtp_client *sc, char *err, size_t errlen)
{
	if (sc->p.mode != SMTP_MODE_DELIVER)
		return 0;
	sc->res.nrcpts = sc->p.nrcpts;
	if ((sc->res.rcpt = calloc(sc->p.nrcpts, sizeof(*sc->res.rcpt))) == NULL ||
	    smtp_dotstuff(sc->p.msg, sc->p.msg_len, &sc->body) != BUF_OK) {
		snprintf(err, errlen, "smtp client: out of memory for the message");
		return -1;
	}
	sc->msg8 = smtp_msg_is_8bit(sc->p.msg, sc->p.msg_len);
	sc->utf8_addrs = smtp_msg_is_8bit(sc->p.mail_from, strlen(sc->p.mail_from));
	for (size_t i = 0; i < sc->p.nrcpts; i++)
		sc->utf8_addrs |= smtp_msg_is_8bit(sc->p.rcpts[i], strlen(sc->p.rcpts[i]));
	sc->msg_size = sc->body.len - 3;   /* without the final ".\r\n" */
	return 0;
}

static struct smtp_client *session_new(struct event_base *base, const struct smtp_client_params *p,
				       smtp_client_done_cb *cb, void *arg, char *err, size_t errlen)
{
	struct smtp_client *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		goto nomem;
	sc->base = base;
	sc->p = *p;
	if (sc->p.helo_name == NULL)
		sc->p.helo_name = "localhost";
	sc->cb = cb;
	sc->arg = arg;
	buf_init(&sc->body, 0);
	reply_parser_init(&sc->rp);
	clock_gettime(CLOCK_MONOTONIC, &sc->t0);
	str_copy(sc->res.peer, p->addr.text, sizeof(sc->res.peer));
	if ((sc->kick = evtimer_new(base, kick_cb, sc)) == NULL ||
	    (sc->deadline = evtimer_new(base, deadline_cb, sc)) == NULL)
		goto nomem;
	if (prepare_message(sc, err, errlen) != 0)
		goto fail;
	return sc;
nomem:
	snprintf(err, errlen, "smtp client: out of memory");
fail:
	smtp_client_free(sc);
	return NULL;
}

struct smtp_client *smtp_client_start(struct event_base *base, const struct smtp_client_params *p,
				      smtp_client_done_cb *cb, void *arg, char *err, size_t errlen)
{
	struct smtp_client *sc;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char cerr[256];

	if (base == NULL || p == NULL || cb == NULL) {
		snprintf(err, errlen, "smtp client: missing event base, params or callback");
		return NULL;
	}
	if (check_params(p, err, errlen) != 0 ||
	    (sc = session_new(base, p, cb, arg, err, errlen)) == NULL)
		return NULL;
	sslen = make_sockaddr(p, &ss);
	set_state(sc, SMTP_ST_CONNECT, p->to.connect_ms);
	sc->conn = conn_connect(base, (struct sockaddr *)&ss, sslen, p->to.connect_ms,
				conn_event_cb, sc, cerr, sizeof(cerr));
	if (sc->conn == NULL) {
		fail(sc, SMTP_FAIL_CONNECT, "%s", cerr);
		finish(sc);   /* the callback still comes from the loop */
	}
	return sc;
}

void smtp_client_free(struct smtp_client *sc)
{
	if (sc == NULL)
		return;
	if (sc->kick != NULL)
		event_free(sc->kick);
	if (sc->deadline != NULL)
		event_free(sc->deadline);
	conn_free(sc->conn);
	buf_free(&sc->body);
	free(sc->res.rcpt);
	free(sc);
}

const struct smtp_client_result *smtp_client_result(const struct smtp_client *sc)
{
	return &sc->res;
}

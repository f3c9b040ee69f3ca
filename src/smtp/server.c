/*
 * server: the SMTP server state machine over io/conn, one session object per client, all
 * on the caller's event loop. Commands are dispatched from a table that names, per state,
 * the refusal to send. It must never execute a command received before a TLS handshake
 * completed after it (conn_starttls discards it), never buffer input or output without
 * bound, never answer 250 to DATA before maildir_commit() succeeded, and never let a
 * misbehaving client do more than end its own session.
 */
#include "smtp/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/listener.h>
#include <openssl/ssl.h>

#include "io/conn.h"
#include "smtp/maildir.h"
#include "tls/tls_server.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"

#define SMTP_CMD_MAX 510        /* RFC 5321 4.5.3.1.4: 512 with CRLF */
#define SMTP_TEXT_MAX 998       /* RFC 5321 4.5.3.1.6: 1000 with CRLF */
#define SMTP_PATH_MAX 256       /* RFC 5321 4.5.3.1.3 */
#define SMTP_OUT_MAX 65536      /* pending replies before we stop reading commands */
#define SMTP_CLOSE_WAIT_MS 10000
#define SMTP_COMMIT_THREADS 4   /* concurrent fsyncs share journal commits */

enum sess_state {
	ST_INIT, ST_HELO, ST_MAIL, ST_RCPT, ST_DATA, ST_COMMIT, ST_TLS, ST_QUIT, ST_COUNT
};
static const char *const sess_state_names[ST_COUNT] = {
	"CONNECT", "HELO", "MAIL", "RCPT", "DATA", "COMMIT", "STARTTLS", "QUIT",
};

enum data_err { DATA_OK, DATA_TOO_BIG, DATA_LINE_TOO_LONG, DATA_IO };

struct session {
	struct smtp_server *srv;
	struct session *prev, *next;
	struct conn *c;
	enum sess_state state;
	struct event *life;
	char id[32];             /* session, for log lines */
	char qid[32];            /* message, for the 250 reply and Received: */
	char helo[128];          /* escaped client HELO/EHLO name */
	int esmtp;
	char tls[160];           /* tls_describe() once TLS is up, else "" */
	char from[SMTP_PATH_MAX + 1];
	struct buf rcpts;        /* "<a>,<b>" */
	size_t nrcpt;
	struct maildir_msg *msg;
	struct maildir_job *job;  /* the message being fsync'd; no reply until it is done */
	size_t msg_size;
	enum data_err data_err;
	size_t nerrors;
	unsigned n_ehlo, n_helo, n_starttls, n_mail, n_rcpt, n_data, n_quit, n_cmds, n_msgs;
	const char *end_reason;  /* for the disconnect line */
};

struct smtp_server {
	struct event_base *base;
	char **listen;
	size_t nlisten;
	struct evconnlistener *lst[SMTP_SERVER_MAX_LISTEN];
	unsigned port[SMTP_SERVER_MAX_LISTEN];
	char *cert[2], *key[2];
	char *maildir, *hostname;
	char **domains;
	size_t ndomains;
	size_t max_size, max_conn, max_rcpt, max_errors;
	int starttls;
	unsigned cmd_ms, data_ms, session_ms, tls_ms;
	SSL_CTX *ctx;
	struct maildir_pool *pool;
	struct session *sessions;
	struct smtp_server_stats st;
	int stopping;
	void (*done)(void *);
	void *done_arg;
	struct event *done_ev;
	struct event *retry_ev;  /* re-enables listeners after an accept error */
};

static void session_input(struct session *s);
static void session_close(struct session *s, const char *reason);

/* ---- small helpers ---- */

static char *dupstr(const char *s) { return s != NULL ? strdup(s) : NULL; }

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct session *s, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_trace("%s: > %s", s->id, line);
	conn_printf(s->c, "%s\r\n", line);
}

/* The client erred: after max_errors of those, 421 and close. */
static void error_count(struct session *s)
{
	if (++s->nerrors >= s->srv->max_errors) {
		reply(s, "421 4.7.0 %s Error: too many errors", s->srv->hostname);
		session_close(s, "too many errors");
	}
}

/* A reply caused by the client's mistake: counted toward max_errors. */
static void reply_err(struct session *s, const char *text)
{
	reply(s, "%s", text);
	error_count(s);
}

static void set_state(struct session *s, enum sess_state st)
{
	if (s->state != st)
		log_trace("%s: state %s -> %s", s->id, sess_state_names[s->state],
			  sess_state_names[st]);
	s->state = st;
}

static void txn_reset(struct session *s)
{
	maildir_abort(s->msg);
	s->msg = NULL;
	s->from[0] = '\0';
	buf_reset(&s->rcpts);
	s->nrcpt = 0;
	s->msg_size = 0;
	s->data_err = DATA_OK;
	if (s->state == ST_MAIL || s->state == ST_RCPT || s->state == ST_DATA ||
	    s->state == ST_COMMIT)
		set_state(s, ST_HELO);
}

/* The client's address without port: "127.0.0.1" or "::1". */
static void peer_host(const struct session *s, char *out, size_t outlen)
{
	const char *p = conn_peer(s->c), *colon = strrchr(p, ':');
	size_t n = colon != NULL ? (size_t)(colon - p) : strlen(p);

	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		p++;
		n -= 2;
	}
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* ---- session lifetime ---- */

static void server_check_done(struct smtp_server *srv)
{
	struct timeval now = {0, 0};

	if (srv->stopping && srv->sessions == NULL && srv->done != NULL && srv->done_ev != NULL)
		evtimer_add(srv->done_ev, &now);
}

static void session_log_end(struct session *s)
{
	log_info("%s: disconnect from %s helo=%s tls=%s ehlo=%u helo=%u starttls=%u mail=%u "
		 "rcpt=%u data=%u quit=%u commands=%u messages=%u in=%llu out=%llu%s%s",
		 s->id, conn_peer(s->c), s->helo[0] ? s->helo : "-", s->tls[0] ? s->tls : "none",
		 s->n_ehlo, s->n_helo, s->n_starttls, s->n_mail, s->n_rcpt, s->n_data, s->n_quit,
		 s->n_cmds, s->n_msgs, (unsigned long long)conn_bytes_in(s->c),
		 (unsigned long long)conn_bytes_out(s->c), s->end_reason ? " reason=" : "",
		 s->end_reason ? s->end_reason : "");
}

static void session_free(struct session *s)
{
	struct smtp_server *srv = s->srv;

	session_log_end(s);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->st.active--;
	if (s->job != NULL) {
		/* The message will be in new/, but the client never saw the 250. */
		log_warnx("%s: client gone while the message was being committed", s->qid);
		maildir_job_forget(s->job);
	}
	maildir_abort(s->msg);
	buf_free(&s->rcpts);
	if (s->life != NULL)
		event_free(s->life);
	conn_free(s->c);
	free(s);
	server_check_done(srv);
}

/* Stop reading, let the last replies go out, then free (or after SMTP_CLOSE_WAIT_MS). */
static void session_close(struct session *s, const char *reason)
{
	if (s->state == ST_QUIT)
		return;
	if (reason != NULL && s->end_reason == NULL)
		s->end_reason = reason;
	set_state(s, ST_QUIT);
	conn_pause_read(s->c, 1);
	conn_set_timeout(s->c, SMTP_CLOSE_WAIT_MS);
	conn_notify_drained(s->c);
}

static void session_timeout(struct session *s, const char *what)
{
	if (s->state == ST_TLS) {
		/* Mid-handshake: plaintext cannot be sent any more. */
		s->end_reason = "timeout during TLS handshake";
		return;
	}
	reply(s, "421 4.4.2 %s Error: timeout exceeded", s->srv->hostname);
	session_close(s, what);
}

static void session_life_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == ST_QUIT || s->state == ST_TLS) {
		session_free(s);
		return;
	}
	session_timeout(s, "session time limit");
}

/* Shutting down: a session outside a transaction is told so and closed. */
static int session_stop_if_idle(struct session *s)
{
	if (!s->srv->stopping || (s->state != ST_INIT && s->state != ST_HELO))
		return 0;
	reply(s, "421 4.3.2 %s Service shutting down", s->srv->hostname);
	session_close(s, "server shutdown");
	return 1;
}

/* ---- TLS ---- */

static void session_tls_done(struct session *s)
{
	tls_describe(conn_ssl(s->c), s->tls, sizeof(s->tls));
	s->srv->st.tls_ok++;
	log_info("%s: TLS established from %s: %s", s->id, conn_peer(s->c), s->tls);
	/* RFC 3207 4.2: forget everything learned before TLS, EHLO included. */
	s->helo[0] = '\0';
	s->esmtp = 0;
	set_state(s, ST_INIT);
	conn_set_timeout(s->c, s->srv->cmd_ms);
	if (!session_stop_if_idle(s))
		session_input(s);
}

static void session_tls_failed(struct session *s)
{
	s->srv->st.tls_failed++;
	log_warnx("%s: TLS handshake failed with %s: %s", s->id, conn_peer(s->c), conn_error(s->c));
	s->end_reason = "TLS handshake failed";
	session_free(s);
}

/* ---- command parsing ---- */

/* "FROM:<path> params": path into out (without <>, source route dropped), params after
 * it. -1 when the syntax is wrong. */
static int parse_path(const char *arg, const char *kw, char *out, size_t outlen,
		      const char **params)
{
	size_t klen = strlen(kw), n = 0;
	const char *p, *start;

	if (strncasecmp(arg, kw, klen) != 0)
		return -1;
	for (p = arg + klen; *p == ' '; p++)
		;
	if (*p++ != '<')
		return -1;
	for (start = p; *p != '>'; p++)
		/* No SMTPUTF8 offered: 8-bit bytes have no place in a path (RFC 6531). */
		if (*p == '\0' || *p == '<' || (unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return -1;
	n = (size_t)(p - start);
	if (n > SMTP_PATH_MAX || n >= outlen)
		return -1;
	if (n > 0 && start[0] == '@') { /* RFC 5321 4.1.2: accept and ignore a source route */
		const char *colon = memchr(start, ':', n);
		if (colon == NULL)
			return -1;
		n -= (size_t)(colon + 1 - start);
		start = colon + 1;
	}
	memcpy(out, start, n);
	out[n] = '\0';
	for (p++; *p == ' '; p++)
		;
	*params = p;
	return 0;
}

/* local@domain with a plausible domain (or an address literal). */
static int valid_mailbox(const char *addr)
{
	const char *at = strrchr(addr, '@'), *d;

	if (at == NULL || at == addr || at[1] == '\0')
		return 0;
	d = at + 1;
	if (d[0] == '[')
		return d[strlen(d) - 1] == ']';
	for (; *d != '\0'; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		      (*d >= '0' && *d <= '9') || *d == '-' || *d == '.'))
			return 0;
	return 1;
}

static int domain_accepted(const struct smtp_server *srv, const char *addr)
{
	const char *at = strrchr(addr, '@');
	char dom[256];
	size_t n;

	if (srv->ndomains == 0)
		return 1;
	if (at == NULL)
		return str_ieq(addr, "postmaster");
	str_copy(dom, at + 1, sizeof(dom));
	n = strlen(dom);
	if (n > 0 && dom[n - 1] == '.')
		dom[n - 1] = '\0';
	for (size_t i = 0; i < srv->ndomains; i++)
		if (str_ieq(dom, srv->domains[i]))
			return 1;
	return 0;
}

/* Next "KEY=VALUE" token of a MAIL/RCPT parameter list; 0 at the end. */
static int next_param(const char **p, char *key, size_t keylen, char *val, size_t vallen)
{
	const char *s = *p, *e, *eq;
	size_t kn, vn;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	for (e = s; *e != '\0' && *e != ' '; e++)
		;
	eq = memchr(s, '=', (size_t)(e - s));
	kn = (size_t)((eq != NULL ? eq : e) - s);
	vn = eq != NULL ? (size_t)(e - eq - 1) : 0;
	if (kn >= keylen)
		kn = keylen - 1;
	if (vn >= vallen)
		vn = vallen - 1;
	memcpy(key, s, kn);
	key[kn] = '\0';
	memcpy(val, eq != NULL ? eq + 1 : e, vn);
	val[vn] = '\0';
	*p = e;
	return 1;
}

/* ---- command handlers ---- */

static void cmd_ehlo_common(struct session *s, const char *arg, int esmtp)
{
	char name[128];
	const char *sp;

	if (arg[0] == '\0') {
		reply_err(s, esmtp ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	sp = strchr(arg, ' ');
	str_escape(name, sizeof(name), arg, sp != NULL ? (size_t)(sp - arg) : strlen(arg));
	txn_reset(s);
	str_copy(s->helo, name, sizeof(s->helo));
	s->esmtp = esmtp;
	set_state(s, ST_HELO);
	if (!esmtp) {
		reply(s, "250 %s", s->srv->hostname);
		return;
	}
	reply(s, "250-%s", s->srv->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %zu", s->srv->max_size);
	if (s->srv->starttls && s->tls[0] == '\0')
		reply(s, "250-STARTTLS");
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250 8BITMIME");
}

static void cmd_ehlo(struct session *s, const char *arg)
{
	s->n_ehlo++;
	cmd_ehlo_common(s, arg, 1);
}

static void cmd_helo(struct session *s, const char *arg)
{
	s->n_helo++;
	cmd_ehlo_common(s, arg, 0);
}

/* SIZE= and BODY= (only after EHLO); anything else is 555. Returns 0 when acceptable. */
static int mail_params(struct session *s, const char *params)
{
	char key[32], val[64], *end;
	unsigned long long size;

	while (next_param(&params, key, sizeof(key), val, sizeof(val))) {
		if (s->esmtp && str_ieq(key, "SIZE") && val[0] != '\0') {
			errno = 0;
			size = strtoull(val, &end, 10);
			if (*end != '\0' || errno != 0 || val[0] == '-') {
				reply_err(s, "501 5.5.4 Bad SIZE parameter");
				return -1;
			}
			if (size > s->srv->max_size) {
				reply(s, "552 5.3.4 Message size exceeds fixed limit");
				return -1;
			}
		} else if (s->esmtp && str_ieq(key, "BODY") &&
			   (str_ieq(val, "7BIT") || str_ieq(val, "8BITMIME"))) {
			continue;
		} else {
			char esc[80];
			str_escape(esc, sizeof(esc), key, strlen(key));
			reply(s, "555 5.5.4 Unsupported option: %s", esc);
			error_count(s);
			return -1;
		}
	}
	return 0;
}

static void cmd_mail(struct session *s, const char *arg)
{
	char path[SMTP_PATH_MAX + 1];
	const char *params;

	s->n_mail++;
	if (parse_path(arg, "FROM:", path, sizeof(path), &params) < 0 ||
	    (path[0] != '\0' && !valid_mailbox(path))) {
		reply_err(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if (mail_params(s, params) < 0)
		return;
	str_copy(s->from, path, sizeof(s->from));
	set_state(s, ST_MAIL);
	reply(s, "250 2.1.0 Ok");
}

static void cmd_rcpt(struct session *s, const char *arg)
{
	char path[SMTP_PATH_MAX + 1];
	const char *params;

	s->n_rcpt++;
	if (parse_path(arg, "TO:", path, sizeof(path), &params) < 0 ||
	    (!valid_mailbox(path) && !str_ieq(path, "postmaster"))) {
		reply_err(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (params[0] != '\0') {
		reply_err(s, "555 5.5.4 Unsupported option");
		return;
	}
	if (s->nrcpt >= s->srv->max_rcpt) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (!domain_accepted(s->srv, path)) {
		reply(s, "550 5.1.1 <%s>: Recipient address rejected: not accepted here", path);
		error_count(s);
		return;
	}
	buf_printf(&s->rcpts, "%s<%s>", s->nrcpt > 0 ? "," : "", path);
	s->nrcpt++;
	set_state(s, ST_RCPT);
	reply(s, "250 2.1.5 Ok");
}

static void write_received(struct session *s)
{
	struct buf hdr = BUF_INIT(4096);
	char host[64], date[64];
	time_t now = time(NULL);
	struct tm tm;
	int tls = s->tls[0] != '\0';

	peer_host(s, host, sizeof(host));
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_printf(&hdr, "Received: from %s ([%s])\n", s->helo, host);
	if (tls)
		buf_printf(&hdr, "\t(using %s)\n", s->tls);
	buf_printf(&hdr, "\tby %s (danemx) with %s%s id %s", s->srv->hostname,
		   s->esmtp ? "ESMTP" : "SMTP", tls ? "S" : "", s->qid);
	if (s->nrcpt == 1)
		buf_printf(&hdr, "\n\tfor %s", buf_cstr(&s->rcpts));
	buf_printf(&hdr, "; %s\n", date);
	maildir_write(s->msg, hdr.data, hdr.len);
	buf_free(&hdr);
}

static void cmd_data(struct session *s, const char *arg)
{
	char err[300];

	s->n_data++;
	if (arg[0] != '\0') {
		reply_err(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if ((s->msg = maildir_open(s->srv->maildir, s->srv->hostname, err, sizeof(err))) == NULL) {
		log_warnx("%s: %s", s->id, err);
		reply(s, "451 4.3.0 Error: queue file write error");
		return;
	}
	{
		/* Unique within the process (several servers share it in the lab) and across
		 * processes started in the same second: time, pid, a process-wide counter. */
		static unsigned qid_seq;
		snprintf(s->qid, sizeof(s->qid), "%08X%05X%04X", (unsigned)time(NULL),
			 (unsigned)getpid() & 0xfffff, ++qid_seq & 0xffff);
	}
	s->msg_size = 0;
	s->data_err = DATA_OK;
	write_received(s);
	set_state(s, ST_DATA);
	conn_set_max_line(s->c, SMTP_TEXT_MAX);
	conn_set_timeout(s->c, s->srv->data_ms);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void cmd_rset(struct session *s, const char *arg)
{
	if (arg[0] != '\0') {
		reply_err(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	txn_reset(s);
	reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct session *s, const char *arg)
{
	reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct session *s, const char *arg)
{
	s->n_quit++;
	reply(s, "221 2.0.0 Bye");
	session_close(s, NULL);
}

static void cmd_vrfy(struct session *s, const char *arg)
{
	if (arg[0] == '\0') {
		reply_err(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_help(struct session *s, const char *arg)
{
	reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP%s",
	      s->srv->starttls && s->tls[0] == '\0' ? " STARTTLS" : "");
}

static void cmd_starttls(struct session *s, const char *arg)
{
	long discarded;
	SSL *ssl;

	s->n_starttls++;
	if (!s->srv->starttls) {
		reply_err(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (s->tls[0] != '\0') {
		reply_err(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (arg[0] != '\0') {
		reply_err(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if ((ssl = SSL_new(s->srv->ctx)) == NULL) {
		reply(s, "454 4.7.0 TLS not available due to local problem");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	set_state(s, ST_TLS);
	discarded = conn_starttls(s->c, ssl, CONN_TLS_SERVER);
	if (discarded > 0) {
		/* CVE-2011-0411: commands pipelined behind STARTTLS are never executed. */
		s->srv->st.injections++;
		log_warnx("%s: %s sent %ld bytes of plaintext after STARTTLS: discarded", s->id,
			  conn_peer(s->c), discarded);
	}
	conn_set_timeout(s->c, s->srv->tls_ms);
}

static void cmd_notimpl(struct session *s, const char *arg)
{
	reply_err(s, "502 5.5.1 Error: command not implemented");
}

#define E_HELO "503 5.5.1 Error: send HELO/EHLO first"
#define E_NESTED "503 5.5.1 Error: nested MAIL command"
#define E_NEED_MAIL "503 5.5.1 Error: need MAIL command"
#define E_NEED_RCPT "503 5.5.1 Error: need RCPT command"
#define E_NO_RCPT "554 5.5.1 Error: no valid recipients"
#define E_IN_TXN "503 5.5.1 Error: MAIL transaction in progress"

/* The command table: per state, NULL = allowed, else the refusal (RFC 5321 4.3.2). */
struct smtp_cmd {
	const char *name;
	void (*fn)(struct session *s, const char *arg);
	const char *deny[ST_COUNT];
};

static const struct smtp_cmd smtp_cmds[] = {
	{"EHLO", cmd_ehlo, {NULL}},
	{"HELO", cmd_helo, {NULL}},
	{"MAIL", cmd_mail, {[ST_INIT] = E_HELO, [ST_MAIL] = E_NESTED, [ST_RCPT] = E_NESTED}},
	{"RCPT", cmd_rcpt, {[ST_INIT] = E_NEED_MAIL, [ST_HELO] = E_NEED_MAIL}},
	{"DATA", cmd_data, {[ST_INIT] = E_NEED_RCPT, [ST_HELO] = E_NEED_RCPT, [ST_MAIL] = E_NO_RCPT}},
	{"RSET", cmd_rset, {NULL}},
	{"NOOP", cmd_noop, {NULL}},
	{"QUIT", cmd_quit, {NULL}},
	{"VRFY", cmd_vrfy, {NULL}},
	{"HELP", cmd_help, {NULL}},
	{"STARTTLS", cmd_starttls, {[ST_MAIL] = E_IN_TXN, [ST_RCPT] = E_IN_TXN}},
	{"EXPN", cmd_notimpl, {NULL}},
	{"TURN", cmd_notimpl, {NULL}},
	{"ETRN", cmd_notimpl, {NULL}},
	{"BDAT", cmd_notimpl, {NULL}},
	{"AUTH", cmd_notimpl, {NULL}},
};

static void session_command(struct session *s, const char *line, size_t len)
{
	char verb[16], esc[64];
	const char *arg;
	size_t vlen;

	s->n_cmds++;
	if (log_enabled(LOG_LVL_TRACE))
		log_trace("%s: < %s", s->id, str_escape(esc, sizeof(esc), line, len));
	if (strlen(line) != len) {
		reply_err(s, "500 5.5.2 Error: NUL byte in command");
		return;
	}
	vlen = strcspn(line, " ");
	arg = line + vlen;
	while (*arg == ' ')
		arg++;
	if (vlen >= sizeof(verb))
		vlen = 0;
	memcpy(verb, line, vlen);
	verb[vlen] = '\0';
	for (size_t i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++) {
		if (!str_ieq(verb, smtp_cmds[i].name))
			continue;
		if (smtp_cmds[i].deny[s->state] != NULL)
			reply_err(s, smtp_cmds[i].deny[s->state]);
		else
			smtp_cmds[i].fn(s, arg);
		return;
	}
	reply_err(s, "500 5.5.2 Error: command not recognized");
}

/* ---- DATA ---- */

static const char *const data_why[] = {
	NULL, "552 5.3.4 Error: message file too big",
	"500 5.5.2 Error: message line too long (RFC 5321 limit is 1000)",
	"451 4.3.0 Error: queue file write error",
};

/* The final reply to DATA and the message's log line; then the session goes on. */
static void data_reply(struct session *s, const char *name)
{
	int ok = s->data_err == DATA_OK;

	if (ok) {
		s->srv->st.messages++;
		s->n_msgs++;
		reply(s, "250 2.0.0 Ok: queued as %s", s->qid);
	} else {
		s->srv->st.rejected++;
		reply(s, "%s", data_why[s->data_err]);
	}
	log_info("%s: session=%s, client=%s, helo=%s, tls=%s, from=<%s>, to=%s, size=%zu, "
		 "nrcpt=%zu, status=%s (%s%s)", s->qid, s->id, conn_peer(s->c), s->helo, s->tls[0] ? s->tls : "none",
		 s->from, buf_cstr(&s->rcpts), s->msg_size, s->nrcpt, ok ? "sent" : "rejected",
		 ok ? "delivered to maildir as new/" : data_why[s->data_err], ok ? name : "");
	txn_reset(s);
	if (s->data_err == DATA_LINE_TOO_LONG)
		error_count(s);
	s->data_err = DATA_OK;
	if (s->state == ST_HELO)
		session_stop_if_idle(s);
}

/* On the loop, when the pool has fsync'd (or failed to store) the message. */
static void data_committed(void *arg, int rc, const char *name, const char *err)
{
	struct session *s = arg;

	s->job = NULL;
	if (rc < 0) {
		log_warnx("%s: %s", s->qid, err);
		s->data_err = DATA_IO;
	}
	data_reply(s, name);
	conn_pause_read(s->c, 0);
}

/* The final dot: refuse, or hand the message to the pool and wait for it. */
static void data_finish(struct session *s)
{
	struct maildir_msg *m = s->msg;

	conn_set_max_line(s->c, SMTP_CMD_MAX);
	conn_set_timeout(s->c, s->srv->cmd_ms);
	s->msg = NULL;
	if (s->data_err != DATA_OK) {
		maildir_abort(m);
		data_reply(s, "");
		return;
	}
	if ((s->job = maildir_pool_commit(s->srv->pool, m, data_committed, s)) == NULL) {
		maildir_abort(m);
		s->data_err = DATA_IO;
		data_reply(s, "");
		return;
	}
	/* Commands pipelined behind the dot wait in the input buffer until the 250. */
	set_state(s, ST_COMMIT);
	conn_pause_read(s->c, 1);
}

/* One line of message text: dot-unstuffed, size-limited, stored with a bare LF. */
static void data_line(struct session *s, enum conn_line r, const char *line, size_t len)
{
	if (r == CONN_LINE_TOO_LONG) {
		if (s->data_err == DATA_OK)
			s->data_err = DATA_LINE_TOO_LONG;
		return;
	}
	if (len == 1 && line[0] == '.') {
		data_finish(s);
		return;
	}
	if (line[0] == '.') {
		line++;
		len--;
	}
	s->msg_size += len + 2;
	if (s->data_err != DATA_OK)
		return;
	if (s->msg_size > s->srv->max_size) {
		s->data_err = DATA_TOO_BIG;
		return;
	}
	if (maildir_write(s->msg, line, len) < 0 || maildir_write(s->msg, "\n", 1) < 0)
		s->data_err = DATA_IO;
}

/* ---- input loop and conn events ---- */

static void session_input(struct session *s)
{
	enum conn_line r;
	const char *line;
	size_t len;

	while (s->state != ST_QUIT && s->state != ST_TLS && s->state != ST_COMMIT) {
		if (conn_output_len(s->c) > SMTP_OUT_MAX) {
			/* The client does not read its replies: wait for them to drain. */
			conn_pause_read(s->c, 1);
			conn_notify_drained(s->c);
			return;
		}
		if ((r = conn_readline(s->c, &line, &len)) == CONN_LINE_NONE)
			return;
		if (s->state == ST_DATA)
			data_line(s, r, line, len);
		else if (r == CONN_LINE_TOO_LONG)
			reply_err(s, "500 5.5.2 Error: line too long");
		else
			session_command(s, line, len);
		session_stop_if_idle(s);
	}
}

static void session_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct session *s = arg;

	switch (ev) {
	case CONN_EV_INPUT:
		session_input(s);
		break;
	case CONN_EV_DRAINED:
		if (s->state == ST_QUIT) {
			session_free(s);
		} else if (s->state != ST_COMMIT) {
			conn_pause_read(s->c, 0);
			session_input(s);
		}
		break;
	case CONN_EV_TIMEOUT:
		if (s->state == ST_QUIT || s->state == ST_TLS) {
			if (s->end_reason == NULL)
				s->end_reason = s->state == ST_TLS ? "timeout during TLS handshake" : NULL;
			session_free(s);
		} else {
			session_timeout(s, s->state == ST_DATA ? "timeout during DATA" : "idle timeout");
		}
		break;
	case CONN_EV_TLS_DONE:
		session_tls_done(s);
		break;
	case CONN_EV_TLS_FAILED:
		session_tls_failed(s);
		break;
	case CONN_EV_EOF:
	case CONN_EV_ERROR:
		if (s->state != ST_QUIT && s->end_reason == NULL)
			s->end_reason = s->state == ST_DATA ? "lost connection during DATA"
							    : "lost connection";
		session_free(s);
		break;
	case CONN_EV_CONNECTED:
		break;
	}
}

static void session_new(struct smtp_server *srv, int fd)
{
	struct timeval tv = {srv->session_ms / 1000, (suseconds_t)(srv->session_ms % 1000) * 1000};
	struct session *s;
	char err[256];

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		return;
	}
	s->srv = srv;
	buf_init(&s->rcpts, 0);
	if ((s->c = conn_accept(srv->base, fd, session_event, s, err, sizeof(err))) == NULL ||
	    (s->life = evtimer_new(srv->base, session_life_cb, s)) == NULL) {
		log_warnx("accept: %s", err);
		conn_free(s->c);
		free(s);
		return;
	}
	snprintf(s->id, sizeof(s->id), "s%llu", (unsigned long long)srv->st.sessions);
	s->next = srv->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	srv->sessions = s;
	srv->st.active++;
	evtimer_add(s->life, &tv);
	conn_set_max_line(s->c, SMTP_CMD_MAX);
	conn_set_timeout(s->c, srv->cmd_ms);
	log_debug("%s: connect from %s", s->id, conn_peer(s->c));
	reply(s, "220 %s ESMTP danemx", srv->hostname);
}

static void server_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int salen, void *arg)
{
	struct smtp_server *srv = arg;
	char line[300], peer[80];
	int n;

	srv->st.sessions++;
	if (srv->stopping) {
		close(fd);
		return;
	}
	if (srv->st.active >= srv->max_conn) {
		/* Full: one line, best effort, no state kept for this client. */
		srv->st.refused++;
		conn_format_addr(sa, peer, sizeof(peer));
		log_warnx("connection from %s refused: %zu sessions open", peer, srv->max_conn);
		n = snprintf(line, sizeof(line), "421 4.3.2 %s Error: too many connections\r\n",
			     srv->hostname);
		if (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug("421 to %s: %s", peer, strerror(errno));
		close(fd);
		return;
	}
	session_new(srv, fd);
}

static void server_accept_error(struct evconnlistener *l, void *arg)
{
	struct smtp_server *srv = arg;
	struct timeval tv = {0, 200000};

	/* EMFILE and friends: keep serving the sessions we have, retry accepting shortly. */
	log_warn("accept");
	for (size_t i = 0; i < srv->nlisten; i++)
		if (srv->lst[i] != NULL)
			evconnlistener_disable(srv->lst[i]);
	evtimer_add(srv->retry_ev, &tv);
}

static void server_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_server *srv = arg;

	for (size_t i = 0; i < srv->nlisten && !srv->stopping; i++)
		if (srv->lst[i] != NULL)
			evconnlistener_enable(srv->lst[i]);
}

/* ---- the server object ---- */

static void server_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_server *srv = arg;

	if (srv->done != NULL)
		srv->done(srv->done_arg);
}

static char **dupv(const char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));

	for (size_t i = 0; out != NULL && i < n; i++)
		if ((out[i] = dupstr(v[i])) == NULL)
			return NULL; /* leaks on ENOMEM at startup only */
	return out;
}

static void freev(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

static int server_copy_params(struct smtp_server *srv, const struct smtp_server_params *p)
{
	char host[256];

	srv->nlisten = p->nlisten;
	srv->ndomains = p->ndomains;
	srv->max_size = p->max_size ? p->max_size : (size_t)10 * 1024 * 1024;
	srv->max_conn = p->max_conn ? p->max_conn : 1000;
	srv->max_rcpt = p->max_rcpt ? p->max_rcpt : 100;
	srv->max_errors = p->max_errors ? p->max_errors : 10;
	srv->starttls = p->starttls;
	srv->cmd_ms = p->cmd_timeout_ms ? p->cmd_timeout_ms : 300000;
	srv->data_ms = p->data_timeout_ms ? p->data_timeout_ms : 180000;
	srv->session_ms = p->session_timeout_ms ? p->session_timeout_ms : 3600000;
	srv->tls_ms = p->tls_timeout_ms ? p->tls_timeout_ms : 60000;
	if (p->hostname == NULL) {
		if (gethostname(host, sizeof(host)) < 0)
			str_copy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
	}
	srv->hostname = dupstr(p->hostname != NULL ? p->hostname : host);
	srv->maildir = dupstr(p->maildir);
	srv->listen = dupv(p->listen, p->nlisten);
	srv->domains = dupv(p->domains, p->ndomains);
	for (int i = 0; i < 2; i++) {
		srv->cert[i] = dupstr(p->cert_files[i]);
		srv->key[i] = dupstr(p->key_files[i]);
	}
	return srv->hostname && srv->maildir && srv->listen && srv->domains ? 0 : -1;
}

/* "1.2.3.4:25" or "[::1]:25"; port 0 allowed (libevent's parser refuses it). */
static int parse_listen(const char *text, struct sockaddr_storage *ss, int *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':'), *h = text;
	size_t hlen = colon != NULL ? (size_t)(colon - text) : 0;
	char *end;
	unsigned long port;

	if (colon == NULL || colon[1] == '\0' || hlen == 0 || hlen >= sizeof(host))
		return -1;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535 || colon[1] == '-')
		return -1;
	if (text[0] == '[') {
		if (hlen < 3 || text[hlen - 1] != ']')
			return -1;
		h = text + 1;
		hlen -= 2;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (text[0] != '[' && inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (text[0] == '[' && inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -1;
}

static int server_listen(struct smtp_server *srv, size_t i, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	socklen_t slen = sizeof(ss);
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;

	if (parse_listen(srv->listen[i], &ss, &len) < 0) {
		snprintf(err, errlen, "bad listen address '%s' (want ADDR:PORT or [ADDR6]:PORT)",
			 srv->listen[i]);
		return -1;
	}
	srv->lst[i] = evconnlistener_new_bind(srv->base, server_accept, srv, flags, 511,
					      (struct sockaddr *)&ss, len);
	if (srv->lst[i] == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", srv->listen[i], strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(srv->lst[i], server_accept_error);
	if (getsockname(evconnlistener_get_fd(srv->lst[i]), (struct sockaddr *)&ss, &slen) == 0)
		srv->port[i] = ntohs(ss.ss_family == AF_INET6
					     ? ((struct sockaddr_in6 *)&ss)->sin6_port
					     : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

struct smtp_server *smtp_server_new(struct event_base *base, const struct smtp_server_params *p,
				    char *err, size_t errlen)
{
	struct smtp_server *srv;

	if (p->nlisten == 0 || p->nlisten > SMTP_SERVER_MAX_LISTEN || p->maildir == NULL) {
		snprintf(err, errlen, p->maildir == NULL ? "no maildir given"
				       : "between 1 and %d listen addresses needed",
			 SMTP_SERVER_MAX_LISTEN);
		return NULL;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->base = base;
	if (server_copy_params(srv, p) < 0 ||
	    (srv->done_ev = evtimer_new(base, server_done_cb, srv)) == NULL ||
	    (srv->retry_ev = evtimer_new(base, server_retry_cb, srv)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (maildir_prepare(srv->maildir, err, errlen) < 0)
		goto fail;
	if ((srv->pool = maildir_pool_new(base, SMTP_COMMIT_THREADS)) == NULL) {
		snprintf(err, errlen, "cannot start the delivery threads");
		goto fail;
	}
	if (srv->starttls && (srv->ctx = tls_server_ctx_new((const char *const *)srv->cert,
			(const char *const *)srv->key, err, errlen)) == NULL)
		goto fail;
	for (size_t i = 0; i < srv->nlisten; i++)
		if (server_listen(srv, i, err, errlen) < 0)
			goto fail;
	return srv;
fail:
	smtp_server_free(srv);
	return NULL;
}

int smtp_server_reload(struct smtp_server *srv, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (!srv->starttls)
		return 0;
	ctx = tls_server_ctx_new((const char *const *)srv->cert, (const char *const *)srv->key,
				 err, errlen);
	if (ctx == NULL)
		return -1;
	/* Sessions in flight hold their own reference through their SSL objects. */
	SSL_CTX_free(srv->ctx);
	srv->ctx = ctx;
	return 0;
}

static void server_close_listeners(struct smtp_server *srv)
{
	for (size_t i = 0; i < srv->nlisten; i++) {
		if (srv->lst[i] != NULL)
			evconnlistener_free(srv->lst[i]);
		srv->lst[i] = NULL;
	}
}

void smtp_server_shutdown(struct smtp_server *srv, void (*done)(void *), void *arg)
{
	struct session *s, *next;

	srv->stopping = 1;
	srv->done = done;
	srv->done_arg = arg;
	server_close_listeners(srv);
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->state != ST_QUIT)
			session_stop_if_idle(s);
	}
	server_check_done(srv);
}

void smtp_server_free(struct smtp_server *srv)
{
	if (srv == NULL)
		return;
	server_close_listeners(srv);
	while (srv->sessions != NULL) {
		if (srv->sessions->end_reason == NULL)
			srv->sessions->end_reason = "server stopped";
		session_free(srv->sessions);
	}
	maildir_pool_free(srv->pool);
	if (srv->done_ev != NULL)
		event_free(srv->done_ev);
	if (srv->retry_ev != NULL)
		event_free(srv->retry_ev);
	SSL_CTX_free(srv->ctx);
	freev(srv->listen, srv->nlisten);
	freev(srv->domains, srv->ndomains);
	for (int i = 0; i < 2; i++) {
		free(srv->cert[i]);
		free(srv->key[i]);
	}
	free(srv->hostname);
	free(srv->maildir);
	free(srv);
}

unsigned smtp_server_port(const struct smtp_server *srv, size_t i)
{
	return i < srv->nlisten ? srv->port[i] : 0;
}

size_t smtp_server_nlisten(const struct smtp_server *srv) { return srv->nlisten; }

void smtp_server_get_stats(const struct smtp_server *srv, struct smtp_server_stats *st)
{
	*st = srv->st;
}

/* Unit tests for src/smtp/server: the engine runs on the main thread's loop, a blocking
 * client runs scripts in a second thread (got/want tables of reply codes): reply codes per
 * command and state, pipelining, dot-stuffing round trip into the Maildir, over-long
 * lines, oversize messages, too many recipients, error limit, timeouts, connection limit,
 * STARTTLS injection, certificate reload, graceful shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "smtp/server.h"
#include "testcert.h"
#include "util/buf.h"
#include "util/str.h"

/* ---- the blocking test client ---- */

struct tcli {
	int fd;
	SSL *ssl;
	char in[16384];
	size_t len;
};

static int tcli_open(struct tcli *t, unsigned port)
{
	struct sockaddr_in sin;
	struct timeval tv = {5, 0};

	memset(t, 0, sizeof(*t));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return connect(t->fd, (struct sockaddr *)&sin, sizeof(sin));
}

static void tcli_close(struct tcli *t)
{
	SSL_free(t->ssl);
	close(t->fd);
	t->ssl = NULL;
}

static void tsend(struct tcli *t, const char *s)
{
	size_t n = strlen(s);

	if (t->ssl != NULL)
		SSL_write(t->ssl, s, (int)n);
	else if (write(t->fd, s, n) != (ssize_t)n)
		return;
}

/* One line without CRLF into out; -1 on EOF or timeout. */
static int tline(struct tcli *t, char *out, size_t outlen)
{
	for (;;) {
		char *nl = memchr(t->in, '\n', t->len);
		ssize_t n;
		if (nl != NULL) {
			size_t k = (size_t)(nl - t->in) + 1, c = k - 1;
			if (c > 0 && t->in[c - 1] == '\r')
				c--;
			if (c >= outlen)
				c = outlen - 1;
			memcpy(out, t->in, c);
			out[c] = '\0';
			memmove(t->in, t->in + k, t->len - k);
			t->len -= k;
			return 0;
		}
		if (t->len == sizeof(t->in))
			return -1;
		n = t->ssl != NULL ? SSL_read(t->ssl, t->in + t->len, (int)(sizeof(t->in) - t->len))
				   : read(t->fd, t->in + t->len, sizeof(t->in) - t->len);
		if (n <= 0)
			return -1;
		t->len += (size_t)n;
	}
}

/* A whole (multi-line) reply: its code, or -1 on EOF; text gets the lines joined by '|'. */
static int treply(struct tcli *t, char *text, size_t textlen)
{
	char line[1100];

	if (text != NULL)
		text[0] = '\0';
	for (;;) {
		if (tline(t, line, sizeof(line)) < 0)
			return -1;
		if (text != NULL) {
			strncat(text, line, textlen - strlen(text) - 1);
			strncat(text, "|", textlen - strlen(text) - 1);
		}
		if (strlen(line) < 4 || line[3] != '-')
			return atoi(line);
	}
}

/* ---- fixture: server on the main loop, client script in a thread ---- */

struct fix {
	char dir[64], md[96], cert[96], key[96];
	struct event_base *base;
	struct smtp_server *srv;
	struct smtp_server_params p;
	const char *listen[1];
	const char *domains[1];
	unsigned port;
	int ctl[2];                 /* client thread -> loop: 'R' reload, 'S' shutdown, 'Q' done */
	struct event *ctl_ev;
	int shutdown_done;
	void (*script)(struct fix *f);
	struct buf got;             /* reply codes the script saw, space separated */
	char text[4096];            /* free-form notes from the script */
	EVP_PKEY *key_a;
	X509 *cert_a;
};

static void make_cert(struct fix *f, const char *cn)
{
	X509_free(f->cert_a);
	EVP_PKEY_free(f->key_a);
	f->key_a = tc_key();
	f->cert_a = tc_cert(f->key_a, cn, NULL, NULL, 0);
	assert_int_equal(tc_write(f->cert, &f->cert_a, 1, f->key, f->key_a), 0);
}

static int fix_setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/danemx-srv-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->md, sizeof(f->md), "%s/md", f->dir);
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
	make_cert(f, "mx-a.example.test");
	f->listen[0] = "127.0.0.1:0";
	f->domains[0] = "example.test";
	f->p.listen = f->listen;
	f->p.nlisten = 1;
	f->p.cert_files[0] = f->cert;
	f->p.key_files[0] = f->key;
	f->p.maildir = f->md;
	f->p.hostname = "mx.example.test";
	f->p.domains = f->domains;
	f->p.ndomains = 1;
	f->p.max_errors = 100;
	f->p.starttls = 1;
	f->p.cmd_timeout_ms = 5000;
	buf_init(&f->got, 0);
	*state = f;
	return 0;
}

static int fix_teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];

	buf_free(&f->got);
	X509_free(f->cert_a);
	EVP_PKEY_free(f->key_a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void got(struct fix *f, int code)
{
	buf_printf(&f->got, "%s%d", f->got.len ? " " : "", code);
}

static void ctl(struct fix *f, char c)
{
	if (write(f->ctl[1], &c, 1) != 1)
		abort();
}

static void *script_thread(void *arg)
{
	struct fix *f = arg;

	f->script(f);
	ctl(f, 'Q');
	return NULL;
}

static void on_shutdown(void *arg)
{
	((struct fix *)arg)->shutdown_done = 1;
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct fix *f = arg;
	char c, err[256];

	if (read(fd, &c, 1) != 1)
		return;
	if (c == 'R')
		assert_int_equal(smtp_server_reload(f->srv, err, sizeof(err)), 0);
	else if (c == 'S')
		smtp_server_shutdown(f->srv, on_shutdown, f);
	else
		event_base_loopbreak(f->base);
}

static void run(struct fix *f, void (*script)(struct fix *f))
{
	struct timeval limit = {30, 0};
	char err[256];
	pthread_t th;

	f->base = event_base_new();
	f->srv = smtp_server_new(f->base, &f->p, err, sizeof(err));
	if (f->srv == NULL)
		fail_msg("smtp_server_new: %s", err);
	f->port = smtp_server_port(f->srv, 0);
	assert_true(f->port > 0);
	assert_int_equal(pipe(f->ctl), 0);
	f->ctl_ev = event_new(f->base, f->ctl[0], EV_READ | EV_PERSIST, on_ctl, f);
	event_add(f->ctl_ev, NULL);
	f->script = script;
	assert_int_equal(pthread_create(&th, NULL, script_thread, f), 0);
	event_base_loopexit(f->base, &limit);
	event_base_dispatch(f->base);
	pthread_join(th, NULL);
}

static void fini(struct fix *f)
{
	smtp_server_free(f->srv);
	event_free(f->ctl_ev);
	close(f->ctl[0]);
	close(f->ctl[1]);
	event_base_free(f->base);
}

/* Files in maildir/new, and the content of the one there (Received: header stripped). */
static int new_files(struct fix *f, char *body, size_t bodylen)
{
	char path[512], line[2048];
	struct dirent *de;
	DIR *d;
	FILE *fp;
	int n = 0, inhdr = 1;

	snprintf(path, sizeof(path), "%s/new", f->md);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		snprintf(path, sizeof(path), "%s/new/%s", f->md, de->d_name);
		if (body == NULL || (fp = fopen(path, "r")) == NULL)
			continue;
		body[0] = '\0';
		while (fgets(line, sizeof(line), fp) != NULL) {
			/* Skip the Received: header and its continuation lines. */
			if (inhdr && (strncmp(line, "Received:", 9) == 0 || line[0] == '\t'))
				continue;
			inhdr = 0;
			strncat(body, line, bodylen - strlen(body) - 1);
		}
		fclose(fp);
	}
	closedir(d);
	return n;
}

/* ---- scripts ---- */

struct step {
	const char *send;
	int want;       /* reply code expected, 0 = none, -1 = connection closed */
};

static void run_steps(struct fix *f, struct tcli *t, const struct step *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i].send != NULL)
			tsend(t, s[i].send);
		if (s[i].want != 0)
			got(f, treply(t, NULL, 0));
	}
}

static void want_steps(struct fix *f, const struct step *s, size_t n)
{
	struct buf want = BUF_INIT(0);

	for (size_t i = 0; i < n; i++)
		if (s[i].want != 0)
			buf_printf(&want, "%s%d", want.len ? " " : "", s[i].want);
	assert_string_equal(buf_cstr(&f->got), buf_cstr(&want));
	buf_free(&want);
}

static const struct step conformance[] = {
	{NULL, 220},
	{"MAIL FROM:<a@b.test>\r\n", 503},     /* before EHLO */
	{"RCPT TO:<u@example.test>\r\n", 503},
	{"DATA\r\n", 503},
	{"EHLO\r\n", 501},
	{"HELO client.test\r\n", 250},
	{"EHLO client.test\r\n", 250},
	{"RCPT TO:<u@example.test>\r\n", 503}, /* no MAIL yet */
	{"DATA\r\n", 503},
	{"MAIL FROM:<a@b.test> XYZ=1\r\n", 555},
	{"MAIL FROM:a@b.test\r\n", 501},
	{"MAIL FROM:<\xc3\xa9@b.test>\r\n", 501}, /* 8-bit without SMTPUTF8 */
	{"MAIL FROM:<a b@b.test>\r\n", 501},
	{"MAIL FROM:<a@b.test> SIZE=99999999999\r\n", 552},
	{"MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME\r\n", 250},
	{"MAIL FROM:<>\r\n", 503},             /* nested */
	{"DATA\r\n", 554},                     /* no valid recipients */
	{"RCPT TO:<>\r\n", 501},
	{"RCPT TO:<u@other.test>\r\n", 550},   /* not an accepted domain */
	{"RCPT TO:<u@EXAMPLE.test.>\r\n", 250},
	{"RCPT TO:<v@example.test> NOTIFY=NEVER\r\n", 555},
	{"STARTTLS\r\n", 503},                 /* inside a transaction */
	{"VRFY\r\n", 501},
	{"VRFY u\r\n", 252},
	{"HELP\r\n", 214},
	{"NOOP\r\n", 250},
	{"BOGUS\r\n", 500},
	{"EXPN list\r\n", 502},
	{"RSET x\r\n", 501},
	{"RSET\r\n", 250},
	{"DATA\r\n", 503},                     /* the transaction is gone */
	{"MAIL FROM:<@relay.test:a@b.test>\r\n", 250}, /* source route ignored */
	{"RCPT TO:<postmaster>\r\n", 250},
	{"DATA x\r\n", 501},
	{"QUIT\r\n", 221},
	{NULL, -1},
};

static void script_conformance(struct fix *f)
{
	struct tcli t;
	char ehlo[1024];

	tcli_open(&t, f->port);
	run_steps(f, &t, conformance, 6);
	tsend(&t, "EHLO client.test\r\n");
	got(f, treply(&t, ehlo, sizeof(ehlo)));
	str_copy(f->text, ehlo, sizeof(f->text));
	run_steps(f, &t, conformance + 7, sizeof(conformance) / sizeof(conformance[0]) - 7);
	tcli_close(&t);
}

static void test_conformance(void **state)
{
	struct fix *f = *state;

	run(f, script_conformance);
	want_steps(f, conformance, sizeof(conformance) / sizeof(conformance[0]));
	assert_string_equal(f->text, "250-mx.example.test|250-PIPELINING|250-SIZE 10485760|"
				     "250-STARTTLS|250-ENHANCEDSTATUSCODES|250 8BITMIME|");
	assert_int_equal(new_files(f, NULL, 0), 0);
	fini(f);
}

/* The whole transaction in one packet, then a dot-stuffed body and QUIT in another. */
static const char body_sent[] =
	"Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\n.\tdot tab\r\nplain\r\n\r\n..\r\n";
static const char body_stored[] =
	"Subject: dots\n\n.leading dot\n..two dots\n\tdot tab\nplain\n\n.\n";

static void script_pipelining(struct fix *f)
{
	struct tcli t;

	tcli_open(&t, f->port);
	got(f, treply(&t, NULL, 0));
	tsend(&t, "EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.test>\r\n"
		  "RCPT TO:<w@example.test>\r\nDATA\r\n");
	for (int i = 0; i < 5; i++)
		got(f, treply(&t, NULL, 0));
	tsend(&t, body_sent);
	tsend(&t, ".\r\nQUIT\r\n");
	got(f, treply(&t, f->text, sizeof(f->text)));
	got(f, treply(&t, NULL, 0));
	got(f, treply(&t, NULL, 0));
	tcli_close(&t);
}

static void test_pipelining_dotstuffing(void **state)
{
	struct fix *f = *state;
	char body[4096];
	struct smtp_server_stats st;

	run(f, script_pipelining);
	assert_string_equal(buf_cstr(&f->got), "220 250 250 250 250 354 250 221 -1");
	assert_non_null(strstr(f->text, "250 2.0.0 Ok: queued as "));
	assert_int_equal(new_files(f, body, sizeof(body)), 1);
	assert_string_equal(body, body_stored);
	smtp_server_get_stats(f->srv, &st);
	assert_int_equal(st.messages, 1);
	fini(f);
}

static void script_limits(struct fix *f)
{
	struct tcli t;
	char longline[700];
	struct buf big = BUF_INIT(0);

	memset(longline, 'A', sizeof(longline));
	memcpy(longline, "NOOP ", 5);
	memcpy(longline + sizeof(longline) - 3, "\r\n", 3);
	tcli_open(&t, f->port);
	got(f, treply(&t, NULL, 0));
	tsend(&t, longline);                          /* 697 > 512: 500, session lives */
	got(f, treply(&t, NULL, 0));
	tsend(&t, "EHLO c.test\r\n");
	got(f, treply(&t, NULL, 0));
	/* Too many recipients: max_rcpt is 2. */
	tsend(&t, "MAIL FROM:<a@b.test>\r\nRCPT TO:<1@example.test>\r\nRCPT TO:<2@example.test>\r\n"
		  "RCPT TO:<3@example.test>\r\nDATA\r\n");
	for (int i = 0; i < 5; i++)
		got(f, treply(&t, NULL, 0));
	/* Oversize: max_size is 2000. */
	for (int i = 0; i < 40; i++)
		buf_puts(&big, "0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
	buf_puts(&big, ".\r\n");
	tsend(&t, buf_cstr(&big));
	got(f, treply(&t, NULL, 0));
	/* An over-long text line (1000 + CRLF limit) inside DATA. */
	tsend(&t, "MAIL FROM:<a@b.test>\r\nRCPT TO:<1@example.test>\r\nDATA\r\n");
	for (int i = 0; i < 3; i++)
		got(f, treply(&t, NULL, 0));
	buf_reset(&big);
	for (int i = 0; i < 1200; i++)
		buf_putc(&big, 'x');
	buf_puts(&big, "\r\nshort\r\n.\r\n");
	tsend(&t, buf_cstr(&big));
	got(f, treply(&t, NULL, 0));
	tsend(&t, "NOOP\r\n");
	got(f, treply(&t, NULL, 0));
	tcli_close(&t);
	buf_free(&big);
}

static void test_limits(void **state)
{
	struct fix *f = *state;
	struct smtp_server_stats st;

	f->p.max_rcpt = 2;
	f->p.max_size = 2000;
	run(f, script_limits);
	assert_string_equal(buf_cstr(&f->got), "220 500 250 250 250 250 452 354 552 250 250 354 500 250");
	assert_int_equal(new_files(f, NULL, 0), 0);
	smtp_server_get_stats(f->srv, &st);
	assert_int_equal(st.rejected, 2);
	fini(f);
}

static void script_errors(struct fix *f)
{
	struct tcli t;

	tcli_open(&t, f->port);
	got(f, treply(&t, NULL, 0));
	tsend(&t, "X1\r\nX2\r\nX3\r\nNOOP\r\n");
	for (int i = 0; i < 5; i++)
		got(f, treply(&t, NULL, 0));
	tcli_close(&t);
}

static void test_error_limit(void **state)
{
	struct fix *f = *state;

	f->p.max_errors = 3;
	run(f, script_errors);
	/* The third error is followed by 421 and the close; NOOP is never answered. */
	assert_string_equal(buf_cstr(&f->got), "220 500 500 500 421 -1");
	fini(f);
}

static void script_timeout(struct fix *f)
{
	struct tcli t;
	struct timeval t0, t1;

	tcli_open(&t, f->port);
	got(f, treply(&t, NULL, 0));
	gettimeofday(&t0, NULL);
	got(f, treply(&t, f->text, sizeof(f->text)));
	got(f, treply(&t, NULL, 0));
	gettimeofday(&t1, NULL);
	tcli_close(&t);
	/* DATA timeout: the message is not delivered. */
	tcli_open(&t, f->port);
	tsend(&t, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\nSubject: x\r\n");
	for (int i = 0; i < 7; i++)
		got(f, treply(&t, NULL, 0));
	tcli_close(&t);
	snprintf(f->text + strlen(f->text), 32, "%ld",
		 (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000));
}

static void test_timeouts(void **state)
{
	struct fix *f = *state;
	long ms;

	f->p.cmd_timeout_ms = 300;
	f->p.data_timeout_ms = 300;
	run(f, script_timeout);
	assert_string_equal(buf_cstr(&f->got), "220 421 -1 220 250 250 250 354 421 -1");
	assert_non_null(strstr(f->text, "421 4.4.2 mx.example.test Error: timeout exceeded|"));
	ms = atol(strchr(f->text, '|') + 1);
	assert_true(ms < 3000);
	assert_int_equal(new_files(f, NULL, 0), 0);
	fini(f);
}

static void script_session_timeout(struct fix *f)
{
	struct tcli t;

	tcli_open(&t, f->port);
	got(f, treply(&t, NULL, 0));
	/* Busy, never idle for the command timeout, but over the session limit. */
	for (int i = 0; i < 12; i++) {
		usleep(100000);
		tsend(&t, "NOOP\r\n");
		if (treply(&t, f->text, sizeof(f->text)) != 250)
			break;
	}
	got(f, treply(&t, NULL, 0));
	tcli_close(&t);
}

static void test_session_timeout(void **state)
{
	struct fix *f = *state;

	f->p.cmd_timeout_ms = 1000;
	f->p.session_timeout_ms = 500;
	run(f, script_session_timeout);
	assert_string_equal(buf_cstr(&f->got), "220 -1");
	assert_non_null(strstr(f->text, "421 4.4.2"));
	fini(f);
}

/* Random bytes (with line ends sprinkled in) in every state: replies, no crash, and the
 * server still serves the next client. */
static void script_garbage(struct fix *f)
{
	static const char *const preludes[] = {
		"", "EHLO c\r\n", "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\n",
	};
	unsigned seed = 7;
	char junk[4096];
	struct tcli t;

	for (size_t p = 0; p < 3; p++) {
		tcli_open(&t, f->port);
		tsend(&t, preludes[p]);
		for (int round = 0; round < 64; round++) {
			for (size_t i = 0; i < sizeof(junk) - 1; i++) {
				junk[i] = (char)(rand_r(&seed) & 0xff);
				if (junk[i] == 0 || rand_r(&seed) % 61 == 0)
					junk[i] = '\n';
			}
			junk[sizeof(junk) - 1] = '\0';
			tsend(&t, junk);
		}
		while (treply(&t, NULL, 0) >= 0)
			;
		tcli_close(&t);
	}
	tcli_open(&t, f->port);
	got(f, treply(&t, NULL, 0));
	tsend(&t, "NOOP\r\n");
	got(f, treply(&t, NULL, 0));
	tcli_close(&t);
}

static void test_garbage(void **state)
{
	struct fix *f = *state;

	f->p.max_errors = 1000000;
	f->p.cmd_timeout_ms = 300;
	f->p.data_timeout_ms = 300;
	run(f, script_garbage);
	assert_string_equal(buf_cstr(&f->got), "220 250");
	fini(f);
}

static void script_maxconn(struct fix *f)
{
	struct tcli a, b;

	tcli_open(&a, f->port);
	got(f, treply(&a, NULL, 0));
	tcli_open(&b, f->port);
	got(f, treply(&b, NULL, 0));
	got(f, treply(&b, NULL, 0));
	tcli_close(&b);
	tsend(&a, "QUIT\r\n");
	got(f, treply(&a, NULL, 0));
	tcli_close(&a);
}

static void test_max_conn(void **state)
{
	struct fix *f = *state;
	struct smtp_server_stats st;

	f->p.max_conn = 1;
	run(f, script_maxconn);
	assert_string_equal(buf_cstr(&f->got), "220 421 -1 221");
	smtp_server_get_stats(f->srv, &st);
	assert_int_equal(st.refused, 1);
	fini(f);
}

/* Handshake on t, note the server certificate's CN in f->text. */
static int tcli_tls(struct fix *f, struct tcli *t, SSL_CTX *cctx)
{
	X509 *peer;
	char cn[128] = "";

	t->ssl = SSL_new(cctx);
	SSL_set_fd(t->ssl, t->fd);
	if (SSL_connect(t->ssl) != 1)
		return -1;
	peer = SSL_get1_peer_certificate(t->ssl);
	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
	X509_free(peer);
	strncat(f->text, cn, sizeof(f->text) - strlen(f->text) - 2);
	strcat(f->text, " ");
	return 0;
}

static void script_injection(struct fix *f)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	struct tcli t;
	char ehlo[1024];

	tcli_open(&t, f->port);
	got(f, treply(&t, NULL, 0));
	tsend(&t, "EHLO c.test\r\n");
	got(f, treply(&t, NULL, 0));
	/* The MAIL and RCPT ride in the same packet as STARTTLS: a man in the middle's
	 * injection. They must not be executed after the handshake. */
	tsend(&t, "STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<u@example.test>\r\n");
	got(f, treply(&t, NULL, 0));
	if (tcli_tls(f, &t, cctx) < 0) {
		got(f, 999);
		goto out;
	}
	/* RFC 3207 4.2: the EHLO state is reset, so MAIL is refused first. */
	tsend(&t, "MAIL FROM:<a@b.test>\r\n");
	got(f, treply(&t, NULL, 0));
	tsend(&t, "EHLO c.test\r\n");
	got(f, treply(&t, ehlo, sizeof(ehlo)));
	strncat(f->text, ehlo, sizeof(f->text) - strlen(f->text) - 1);
	/* Were the injected MAIL executed, this RCPT would get 250. */
	tsend(&t, "RCPT TO:<u@example.test>\r\nSTARTTLS\r\nQUIT\r\n");
	got(f, treply(&t, NULL, 0));
	got(f, treply(&t, NULL, 0));
	got(f, treply(&t, NULL, 0));
out:
	tcli_close(&t);
	SSL_CTX_free(cctx);
}

static void test_starttls_injection(void **state)
{
	struct fix *f = *state;
	struct smtp_server_stats st;

	run(f, script_injection);
	assert_string_equal(buf_cstr(&f->got), "220 250 220 503 250 503 554 221");
	/* No STARTTLS offered once TLS is up. */
	assert_null(strstr(f->text, "STARTTLS"));
	assert_non_null(strstr(f->text, "mx-a.example.test"));
	smtp_server_get_stats(f->srv, &st);
	assert_int_equal(st.injections, 1);
	assert_int_equal(st.tls_ok, 1);
	fini(f);
}

static void script_reload(struct fix *f)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	struct tcli old, t;

	/* A session opened before the reload keeps working with the old certificate. */
	tcli_open(&old, f->port);
	got(f, treply(&old, NULL, 0));
	tsend(&old, "EHLO c\r\nSTARTTLS\r\n");
	got(f, treply(&old, NULL, 0));
	got(f, treply(&old, NULL, 0));
	tcli_tls(f, &old, cctx);
	make_cert(f, "mx-b.example.test");
	ctl(f, 'R');
	usleep(200000);
	tcli_open(&t, f->port);
	got(f, treply(&t, NULL, 0));
	tsend(&t, "EHLO c\r\nSTARTTLS\r\n");
	got(f, treply(&t, NULL, 0));
	got(f, treply(&t, NULL, 0));
	tcli_tls(f, &t, cctx);
	tsend(&t, "QUIT\r\n");
	got(f, treply(&t, NULL, 0));
	tcli_close(&t);
	tsend(&old, "EHLO c\r\n");
	got(f, treply(&old, NULL, 0));
	tcli_close(&old);
	SSL_CTX_free(cctx);
}

static void test_reload(void **state)
{
	struct fix *f = *state;
	char err[256];

	run(f, script_reload);
	assert_string_equal(buf_cstr(&f->got), "220 250 220 220 250 220 221 250");
	assert_string_equal(f->text, "mx-a.example.test mx-b.example.test ");
	/* A broken key keeps the old certificates and says which file. */
	FILE *fp = fopen(f->key, "w");
	fputs("garbage\n", fp);
	fclose(fp);
	assert_int_equal(smtp_server_reload(f->srv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, f->key));
	fini(f);
}

static void script_shutdown(struct fix *f)
{
	struct tcli idle, busy, late;

	tcli_open(&idle, f->port);
	got(f, treply(&idle, NULL, 0));
	tcli_open(&busy, f->port);
	got(f, treply(&busy, NULL, 0));
	tsend(&busy, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\n");
	for (int i = 0; i < 4; i++)
		got(f, treply(&busy, NULL, 0));
	ctl(f, 'S');
	/* The idle session is told at once; the one in DATA finishes its message. */
	got(f, treply(&idle, NULL, 0));
	got(f, treply(&idle, NULL, 0));
	got(f, tcli_open(&late, f->port) == 0 ? 1 : 0);
	tsend(&busy, "Subject: last\r\n\r\nbody\r\n.\r\n");
	got(f, treply(&busy, NULL, 0));
	got(f, treply(&busy, NULL, 0));
	got(f, treply(&busy, NULL, 0));
	tcli_close(&idle);
	tcli_close(&busy);
	tcli_close(&late);
	usleep(100000);
}

static void test_shutdown(void **state)
{
	struct fix *f = *state;

	run(f, script_shutdown);
	/* late connect refused (0): the listener is closed. */
	assert_string_equal(buf_cstr(&f->got), "220 220 250 250 250 354 421 -1 0 250 421 -1");
	assert_int_equal(new_files(f, NULL, 0), 1);
	assert_true(f->shutdown_done);
	fini(f);
}

/* One server, an RSA and an ECDSA chain: OpenSSL picks by the client's signature algorithms. */
static void script_dual(struct fix *f)
{
	static const char *const sigalgs[] = {"RSA-PSS+SHA256:RSA+SHA256",
					      "ECDSA+SHA256"};
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());

	for (int i = 0; i < 2; i++) {
		struct tcli t;
		X509 *peer;
		tcli_open(&t, f->port);
		got(f, treply(&t, NULL, 0));
		tsend(&t, "EHLO c\r\nSTARTTLS\r\n");
		got(f, treply(&t, NULL, 0));
		got(f, treply(&t, NULL, 0));
		t.ssl = SSL_new(cctx);
		if (SSL_set1_sigalgs_list(t.ssl, sigalgs[i]) != 1)
			strcat(f->text, "bad-sigalgs ");
		SSL_set_fd(t.ssl, t.fd);
		if (SSL_connect(t.ssl) == 1 && (peer = SSL_get1_peer_certificate(t.ssl)) != NULL) {
			strcat(f->text, EVP_PKEY_get_base_id(X509_get0_pubkey(peer)) == EVP_PKEY_RSA
						? "rsa " : "ec ");
			X509_free(peer);
		}
		tcli_close(&t);
	}
	SSL_CTX_free(cctx);
}

static void test_dual_cert(void **state)
{
	struct fix *f = *state;
	char rcert[128], rkey[128];
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	X509 *rx = tc_cert(rsa, "mx-rsa.example.test", NULL, NULL, 0);

	snprintf(rcert, sizeof(rcert), "%s/rsa.pem", f->dir);
	snprintf(rkey, sizeof(rkey), "%s/rsa.key", f->dir);
	assert_int_equal(tc_write(rcert, &rx, 1, rkey, rsa), 0);
	f->p.cert_files[1] = rcert;
	f->p.key_files[1] = rkey;
	run(f, script_dual);
	assert_string_equal(buf_cstr(&f->got), "220 250 220 220 250 220");
	assert_string_equal(f->text, "rsa ec ");
	X509_free(rx);
	EVP_PKEY_free(rsa);
	fini(f);
}

static void test_bad_config(void **state)
{
	struct fix *f = *state;
	struct event_base *base = event_base_new();
	char err[256];
	const char *bad[1] = {"127.0.0.1"};

	f->p.key_files[0] = "/nonexistent/key.pem";
	assert_null(smtp_server_new(base, &f->p, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/key.pem"));
	f->p.key_files[0] = f->key;
	f->p.listen = bad;
	assert_null(smtp_server_new(base, &f->p, err, sizeof(err)));
	assert_non_null(strstr(err, "bad listen address"));
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_conformance, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pipelining_dotstuffing, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_limits, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_error_limit, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_session_timeout, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_garbage, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_max_conn, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_starttls_injection, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_reload, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_dual_cert, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_bad_config, fix_setup, fix_teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

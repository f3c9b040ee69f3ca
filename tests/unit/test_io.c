/* Unit tests for src/io/conn: bounded lines, over-long lines, memory bound under a flood,
 * timeouts, drained notices, connect errors, and STARTTLS in both directions with
 * plaintext injected after STARTTLS discarded and counted (CVE-2011-0411). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "io/conn.h"
#include "testcert.h"
#include "util/buf.h"

/* What one side saw, as text: "L:line|" per line, "T|" too long, event names otherwise. */
struct side {
	struct event_base *base;
	struct conn *c;
	struct buf log;
	size_t max_input;
	int stop_after_lines;
	int nlines;
	int done;
};

static void side_log(struct side *s, const char *what, const char *arg)
{
	buf_puts(&s->log, what);
	if (arg != NULL)
		buf_puts(&s->log, arg);
	buf_putc(&s->log, '|');
}

static void read_lines(struct side *s)
{
	const char *line;
	size_t len;
	enum conn_line r;

	if (conn_input_len(s->c) > s->max_input)
		s->max_input = conn_input_len(s->c);
	while ((r = conn_readline(s->c, &line, &len)) != CONN_LINE_NONE) {
		if (r == CONN_LINE_TOO_LONG)
			side_log(s, "T", NULL);
		else
			side_log(s, "L:", line);
		if (++s->nlines == s->stop_after_lines)
			event_base_loopbreak(s->base);
	}
}

static void record_cb(struct conn *c, enum conn_event ev, void *arg)
{
	struct side *s = arg;

	if (ev == CONN_EV_INPUT) {
		read_lines(s);
		return;
	}
	side_log(s, conn_event_name(ev), NULL);
	if (ev != CONN_EV_CONNECTED)
		event_base_loopbreak(s->base);
}

static void loop_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void side_init(struct side *s, struct event_base *base, int fd)
{
	char err[256];

	memset(s, 0, sizeof(*s));
	s->base = base;
	buf_init(&s->log, 0);
	s->c = conn_accept(base, fd, record_cb, s, err, sizeof(err));
	assert_non_null(s->c);
}

static void side_fini(struct side *s)
{
	conn_free(s->c);
	buf_free(&s->log);
}

static void test_lines(void **state)
{
	struct event_base *base = event_base_new();
	struct side s;
	int sv[2];
	const char *in1 = "HELO a\r\nMAIL\nxy", *in2 = "z\r\n0123456789\r\n01234567890\r\n";

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	side_init(&s, base, sv[0]);
	conn_set_max_line(s.c, 10);
	s.stop_after_lines = 2;
	assert_int_equal(write(sv[1], in1, strlen(in1)), (ssize_t)strlen(in1));
	loop_for(base, 2000);
	assert_string_equal(buf_cstr(&s.log), "L:HELO a|L:MAIL|");
	s.stop_after_lines = 5;
	assert_int_equal(write(sv[1], in2, strlen(in2)), (ssize_t)strlen(in2));
	loop_for(base, 2000);
	assert_string_equal(buf_cstr(&s.log), "L:HELO a|L:MAIL|L:xyz|L:0123456789|T|");
	assert_int_equal(conn_bytes_in(s.c), strlen(in1) + strlen(in2));
	/* A line without terminator longer than the maximum: reported once, skipped. */
	buf_reset(&s.log);
	s.nlines = 0;
	s.stop_after_lines = 2;
	assert_int_equal(write(sv[1], "aaaaaaaaaaaaaaaaaaaaaaaaa", 25), 25);
	loop_for(base, 300);
	assert_int_equal(write(sv[1], "bbbbb\r\nok\r\n", 11), 11);
	loop_for(base, 2000);
	assert_string_equal(buf_cstr(&s.log), "T|L:ok|");
	/* EOF is an event. */
	close(sv[1]);
	buf_reset(&s.log);
	loop_for(base, 2000);
	assert_string_equal(buf_cstr(&s.log), "eof|");
	side_fini(&s);
	event_base_free(base);
}

static void *flood(void *arg)
{
	int fd = *(int *)arg;
	static char chunk[65536];
	size_t total = 0;

	memset(chunk, 'x', sizeof(chunk));
	while (total < 4u * 1024 * 1024) {
		ssize_t n = write(fd, chunk, sizeof(chunk));
		if (n <= 0)
			return NULL;
		total += (size_t)n;
	}
	if (write(fd, "\r\nafter\r\n", 9) != 9)
		return NULL;
	return NULL;
}

static void test_flood_bounded(void **state)
{
	struct event_base *base = event_base_new();
	struct side s;
	pthread_t th;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	side_init(&s, base, sv[0]);
	conn_set_max_line(s.c, 512);
	s.stop_after_lines = 2;
	assert_int_equal(pthread_create(&th, NULL, flood, &sv[1]), 0);
	loop_for(base, 20000);
	pthread_join(th, NULL);
	assert_string_equal(buf_cstr(&s.log), "T|L:after|");
	assert_true(s.max_input <= 16384 + 4096);
	assert_true(conn_bytes_in(s.c) > 4u * 1024 * 1024);
	close(sv[1]);
	side_fini(&s);
	event_base_free(base);
}

static void test_timeout_and_drained(void **state)
{
	struct event_base *base = event_base_new();
	struct side s;
	struct timeval t0, t1;
	char rd[16];
	int sv[2];
	long ms;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	side_init(&s, base, sv[0]);
	assert_int_equal(conn_printf(s.c, "220 %s\r\n", "hi"), 0);
	conn_notify_drained(s.c);
	loop_for(base, 2000);
	assert_string_equal(buf_cstr(&s.log), "drained|");
	assert_int_equal(read(sv[1], rd, sizeof(rd)), 8);
	assert_int_equal(conn_bytes_out(s.c), 8);
	buf_reset(&s.log);
	conn_set_timeout(s.c, 150);
	gettimeofday(&t0, NULL);
	loop_for(base, 5000);
	gettimeofday(&t1, NULL);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	assert_string_equal(buf_cstr(&s.log), "timeout|");
	assert_true(ms >= 140 && ms < 2000);
	close(sv[1]);
	side_fini(&s);
	event_base_free(base);
}

static int listen_any(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

static void test_connect(void **state)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in sin;
	struct side s;
	char err[256];
	int lfd = listen_any(&sin);

	memset(&s, 0, sizeof(s));
	s.base = base;
	buf_init(&s.log, 0);
	s.c = conn_connect(base, (struct sockaddr *)&sin, sizeof(sin), 2000, record_cb, &s, err,
			   sizeof(err));
	assert_non_null(s.c);
	loop_for(base, 300);
	assert_string_equal(buf_cstr(&s.log), "connected|");
	assert_non_null(strstr(conn_peer(s.c), "127.0.0.1:"));
	assert_non_null(strstr(conn_local(s.c), "127.0.0.1:"));
	conn_free(s.c);
	close(lfd);
	/* Now nobody listens there: the failure is an event with a reason. */
	buf_reset(&s.log);
	s.c = conn_connect(base, (struct sockaddr *)&sin, sizeof(sin), 2000, record_cb, &s, err,
			   sizeof(err));
	assert_non_null(s.c);
	loop_for(base, 3000);
	assert_string_equal(buf_cstr(&s.log), "error|");
	assert_non_null(strstr(conn_error(s.c), "refused"));
	side_fini(&s);
	event_base_free(base);
}

/* A listener whose accept queue is full drops SYNs: the connect hangs, the timeout fires. */
static void test_connect_timeout(void **state)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in sin;
	struct side s;
	char err[256];
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4], nfill = 0;
	socklen_t len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fill[i], (struct sockaddr *)&sin, sizeof(sin)) == 0 || errno == EINPROGRESS)
			nfill++;
	}
	usleep(100000);
	memset(&s, 0, sizeof(s));
	s.base = base;
	buf_init(&s.log, 0);
	s.c = conn_connect(base, (struct sockaddr *)&sin, sizeof(sin), 300, record_cb, &s, err,
			   sizeof(err));
	assert_non_null(s.c);
	loop_for(base, 5000);
	assert_string_equal(buf_cstr(&s.log), "timeout|");
	side_fini(&s);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
	event_base_free(base);
	(void)nfill;
}

/* STARTTLS: both sides upgrade; plaintext pipelined behind the command (server side)
 * and behind the 220 reply (client side) is discarded and counted, never delivered. */
struct tls_test {
	struct event_base *base;
	struct conn *srv, *cli;
	SSL_CTX *sctx, *cctx;
	long srv_discarded, cli_discarded;
	int srv_ready, cli_ready;
	int garbage;           /* client writes plaintext instead of upgrading */
	struct buf srvlog, clilog;
};

static void tls_srv_cb(struct conn *c, enum conn_event ev, void *arg)
{
	struct tls_test *t = arg;
	const char *line;
	size_t len;

	if (ev == CONN_EV_INPUT) {
		while (conn_readline(c, &line, &len) == CONN_LINE_OK) {
			buf_printf(&t->srvlog, "L:%s|", line);
			if (strcmp(line, "STARTTLS") == 0) {
				conn_printf(c, "220 go\r\n250 injected\r\n");
				t->srv_discarded = conn_starttls(c, SSL_new(t->sctx), CONN_TLS_SERVER);
			} else if (strcmp(line, "EHLO x") == 0) {
				conn_printf(c, "250 hello\r\n");
			}
		}
		return;
	}
	buf_printf(&t->srvlog, "%s|", conn_event_name(ev));
	if (ev == CONN_EV_TLS_FAILED || ev == CONN_EV_EOF || ev == CONN_EV_ERROR)
		event_base_loopbreak(t->base);
}

static void tls_cli_cb(struct conn *c, enum conn_event ev, void *arg)
{
	struct tls_test *t = arg;
	const char *line;
	size_t len;

	if (ev == CONN_EV_CONNECTED) {
		conn_printf(c, "STARTTLS\r\nMAIL FROM:<evil@x>\r\n");
		return;
	}
	if (ev == CONN_EV_INPUT) {
		while (conn_readline(c, &line, &len) == CONN_LINE_OK) {
			buf_printf(&t->clilog, "L:%s|", line);
			if (strcmp(line, "220 go") == 0 && t->garbage) {
				conn_printf(c, "RCPT TO:<evil@x>\r\n");
			} else if (strcmp(line, "220 go") == 0) {
				SSL *ssl = SSL_new(t->cctx);
				SSL_set_tlsext_host_name(ssl, "mx.test");
				t->cli_discarded = conn_starttls(c, ssl, CONN_TLS_CLIENT);
			} else if (strcmp(line, "250 hello") == 0) {
				event_base_loopbreak(t->base);
			}
		}
		return;
	}
	buf_printf(&t->clilog, "%s|", conn_event_name(ev));
	if (ev == CONN_EV_TLS_DONE)
		conn_printf(c, "EHLO x\r\n");
	else if (ev != CONN_EV_DRAINED)
		event_base_loopbreak(t->base);
}

static void tls_run(struct tls_test *t)
{
	struct sockaddr_in sin;
	char err[256];
	int lfd = listen_any(&sin), fd;
	EVP_PKEY *key = tc_key();
	X509 *cert = tc_cert(key, "mx.test", NULL, NULL, 0);

	t->base = event_base_new();
	buf_init(&t->srvlog, 0);
	buf_init(&t->clilog, 0);
	t->sctx = SSL_CTX_new(TLS_server_method());
	assert_int_equal(SSL_CTX_use_certificate(t->sctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(t->sctx, key), 1);
	t->cctx = SSL_CTX_new(TLS_client_method());
	t->cli = conn_connect(t->base, (struct sockaddr *)&sin, sizeof(sin), 5000, tls_cli_cb, t,
			      err, sizeof(err));
	assert_non_null(t->cli);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	t->srv = conn_accept(t->base, fd, tls_srv_cb, t, err, sizeof(err));
	assert_non_null(t->srv);
	conn_set_timeout(t->srv, 5000);
	loop_for(t->base, 10000);
	close(lfd);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void tls_fini(struct tls_test *t)
{
	conn_free(t->srv);
	conn_free(t->cli);
	SSL_CTX_free(t->sctx);
	SSL_CTX_free(t->cctx);
	buf_free(&t->srvlog);
	buf_free(&t->clilog);
	event_base_free(t->base);
}

static void test_starttls(void **state)
{
	struct tls_test t;

	memset(&t, 0, sizeof(t));
	tls_run(&t);
	/* The server never saw MAIL: the first line after TLS is EHLO. */
	assert_string_equal(buf_cstr(&t.srvlog), "L:STARTTLS|tls-done|L:EHLO x|");
	assert_int_equal(t.srv_discarded, (long)strlen("MAIL FROM:<evil@x>\r\n"));
	/* The client never saw the injected 250. */
	assert_string_equal(buf_cstr(&t.clilog), "L:220 go|tls-done|L:250 hello|");
	assert_int_equal(t.cli_discarded, (long)strlen("250 injected\r\n"));
	assert_true(conn_tls_active(t.srv));
	assert_true(conn_tls_active(t.cli));
	assert_string_equal(SSL_get_version(conn_ssl(t.cli)), "TLSv1.3");
	tls_fini(&t);
}

static void test_starttls_plaintext_after(void **state)
{
	struct tls_test t;

	memset(&t, 0, sizeof(t));
	t.garbage = 1;
	tls_run(&t);
	/* Plaintext instead of a ClientHello: the handshake fails, nothing is executed. */
	assert_string_equal(buf_cstr(&t.srvlog), "L:STARTTLS|tls-failed|");
	assert_non_null(strstr(conn_error(t.srv), "TLS handshake"));
	assert_false(conn_tls_active(t.srv));
	tls_fini(&t);
}

static void free_cb(struct conn *c, enum conn_event ev, void *arg)
{
	*(int *)arg += 1;
	conn_free(c);
}

static void test_free_in_callback(void **state)
{
	struct event_base *base = event_base_new();
	char err[64];
	int sv[2], calls = 0;
	struct conn *c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = conn_accept(base, sv[0], free_cb, &calls, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(write(sv[1], "a\r\nb\r\n", 6), 6);
	close(sv[1]);
	loop_for(base, 300);
	assert_int_equal(calls, 1);
	conn_free(NULL);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_flood_bounded),
		cmocka_unit_test(test_timeout_and_drained),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_plaintext_after),
		cmocka_unit_test(test_free_in_callback),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

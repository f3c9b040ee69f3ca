/*
 * conn: a bufferevent wrapper that turns socket happenings into conn events and lines.
 * It must never hold more than a bounded amount of unread input (read high watermark +
 * line maximum), never deliver an event after conn_free(), and never hand plaintext read
 * before a TLS upgrade to the owner after it: conn_starttls() drains it and replaces the
 * plaintext bufferevent with a TLS one on the same socket.
 */
#include "io/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "util/log.h"
#include "util/str.h"

/* Minimum read high watermark: big enough for efficient reads, small enough that many
 * connections with unread input stay cheap. */
#define CONN_MIN_HIGHWATER 16384

enum conn_tls { TLS_NONE, TLS_PENDING, TLS_HANDSHAKE, TLS_ACTIVE, TLS_FAILED };

struct conn {
	struct event_base *base;
	struct bufferevent *bev;
	SSL *ssl;
	int ssl_in_bev;        /* the TLS bufferevent owns ssl and fd */
	int fd;
	enum conn_tls tls;
	enum conn_tls_role role;
	int connecting;
	int paused;
	int skipping;          /* inside an over-long line: drop up to its end */
	size_t max_line;
	char *line;            /* max_line + 1 bytes */
	struct event *timer;
	unsigned timeout_ms;
	struct event *defer;   /* next-turn work: drained/input notices, TLS start */
	int want_drained;
	int in_cb;
	int dead;
	uint64_t bytes_in, bytes_out;
	conn_cb *cb;
	void *arg;
	char err[256];
	char peer[INET6_ADDRSTRLEN + 16];
	char local[INET6_ADDRSTRLEN + 16];
};

static const char *const conn_event_names[] = {
	"connected", "input", "drained", "timeout", "eof", "error", "tls-done", "tls-failed",
};

const char *conn_event_name(enum conn_event ev)
{
	if ((unsigned)ev < sizeof(conn_event_names) / sizeof(conn_event_names[0]))
		return conn_event_names[ev];
	return "?";
}

void conn_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		str_copy(out, "local", outlen);
	}
}

static void conn_fill_addrs(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
		conn_format_addr((struct sockaddr *)&ss, c->local, sizeof(c->local));
	len = sizeof(ss);
	if (c->peer[0] == '\0' && getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0)
		conn_format_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
}

static void conn_destroy(struct conn *c)
{
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->defer != NULL)
		event_free(c->defer);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (!c->ssl_in_bev) {
		SSL_free(c->ssl);
		if (c->fd >= 0)
			close(c->fd);
	}
	free(c->line);
	free(c);
}

void conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->in_cb > 0) {
		/* Called from the owner's callback: stop everything now, free on return. */
		c->dead = 1;
		if (c->bev != NULL)
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		evtimer_del(c->timer);
		event_del(c->defer);
		return;
	}
	conn_destroy(c);
}

/* Deliver ev to the owner. Returns 0 when the conn was freed meanwhile: touch nothing. */
static int conn_emit(struct conn *c, enum conn_event ev)
{
	if (c->dead)
		return 0;
	log_trace("conn %s: event %s", c->peer, conn_event_name(ev));
	c->in_cb++;
	c->cb(c, ev, c->arg);
	c->in_cb--;
	if (c->dead) {
		if (c->in_cb == 0)
			conn_destroy(c);
		return 0;
	}
	return 1;
}

static void conn_schedule(struct conn *c)
{
	event_active(c->defer, EV_TIMEOUT, 1);
}

static void conn_touch(struct conn *c)
{
	struct timeval tv;

	if (c->timeout_ms == 0 || c->dead)
		return;
	tv.tv_sec = c->timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(c->timeout_ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

void conn_set_timeout(struct conn *c, unsigned ms)
{
	c->timeout_ms = ms;
	if (ms == 0)
		evtimer_del(c->timer);
	else
		conn_touch(c);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	conn_emit(arg, CONN_EV_TIMEOUT);
}

static void conn_inbuf_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	if (info->n_added > 0) {
		c->bytes_in += info->n_added;
		conn_touch(c);
	}
}

static void conn_outbuf_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	if (info->n_deleted > 0) {
		c->bytes_out += info->n_deleted;
		conn_touch(c);
	}
}

static void conn_set_watermark(struct conn *c)
{
	size_t hw = c->max_line + 4096;

	if (hw < CONN_MIN_HIGHWATER)
		hw = CONN_MIN_HIGHWATER;
	if (c->bev != NULL)
		bufferevent_setwatermark(c->bev, EV_READ, 0, hw);
}

static void conn_on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->paused || c->tls == TLS_PENDING || c->tls == TLS_HANDSHAKE)
		return;
	/* On loopback the peer's first bytes can be read before libevent reports the
	 * connect as complete: data proves the connect succeeded, so say so first. */
	if (c->connecting) {
		c->connecting = 0;
		conn_fill_addrs(c);
		if (!conn_emit(c, CONN_EV_CONNECTED))
			return;
	}
	conn_emit(c, CONN_EV_INPUT);
}

static void conn_on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (c->tls == TLS_PENDING) {
		conn_schedule(c);
		return;
	}
	if (c->want_drained) {
		c->want_drained = 0;
		conn_emit(c, CONN_EV_DRAINED);
	}
}

/* Collect OpenSSL's queued errors (from the bufferevent and the thread queue) as text. */
static void conn_tls_error_text(struct conn *c, const char *what)
{
	unsigned long e;
	size_t n;
	int sockerr = EVUTIL_SOCKET_ERROR();

	snprintf(c->err, sizeof(c->err), "%s", what);
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0 || (e = ERR_get_error()) != 0) {
		n = strlen(c->err);
		if (n + 3 >= sizeof(c->err))
			continue;
		c->err[n++] = ':';
		c->err[n++] = ' ';
		ERR_error_string_n(e, c->err + n, sizeof(c->err) - n);
	}
	if (strchr(c->err, ':') == NULL && sockerr != 0)
		snprintf(c->err + strlen(c->err), sizeof(c->err) - strlen(c->err), ": %s",
			 strerror(sockerr));
}

static void conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	int sockerr = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		if (c->tls == TLS_HANDSHAKE) {
			c->tls = TLS_ACTIVE;
			if (!conn_emit(c, CONN_EV_TLS_DONE))
				return;
			/* Records that came with the handshake's last flight were held back. */
			if (!c->paused && conn_input_len(c) > 0)
				conn_schedule(c);
			return;
		}
		if (!c->connecting)
			return; /* already reported from conn_on_read */
		c->connecting = 0;
		conn_fill_addrs(c);
		conn_emit(c, CONN_EV_CONNECTED);
		return;
	}
	if (c->tls == TLS_HANDSHAKE) {
		c->tls = TLS_FAILED;
		conn_tls_error_text(c, (what & BEV_EVENT_EOF) ? "TLS handshake: connection closed"
							      : "TLS handshake failed");
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		conn_emit(c, CONN_EV_TLS_FAILED);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		str_copy(c->err, "connection closed by peer", sizeof(c->err));
		conn_emit(c, CONN_EV_EOF);
		return;
	}
	if (c->ssl != NULL)
		conn_tls_error_text(c, "TLS error");
	else
		snprintf(c->err, sizeof(c->err), "%s%s: %s", c->connecting ? "connect to " : "",
			 c->connecting ? c->peer : "socket error",
			 sockerr ? strerror(sockerr) : "failed");
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	conn_emit(c, CONN_EV_ERROR);
}

static void conn_hook_bev(struct conn *c)
{
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	evbuffer_add_cb(bufferevent_get_input(c->bev), conn_inbuf_cb, c);
	evbuffer_add_cb(bufferevent_get_output(c->bev), conn_outbuf_cb, c);
	conn_set_watermark(c);
}

/* Replace the plaintext bufferevent with a TLS one on the same socket. */
static int conn_tls_begin(struct conn *c)
{
	struct bufferevent *tb;

	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_free(c->bev);
	c->bev = NULL;
	tb = bufferevent_openssl_socket_new(c->base, c->fd, c->ssl,
		c->role == CONN_TLS_SERVER ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		str_copy(c->err, "cannot create TLS bufferevent", sizeof(c->err));
		return -1;
	}
	c->ssl_in_bev = 1;
	c->bev = tb;
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	c->tls = TLS_HANDSHAKE;
	conn_hook_bev(c);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	return 0;
}

static void conn_on_defer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->tls == TLS_PENDING && c->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		if (conn_tls_begin(c) < 0) {
			c->tls = TLS_FAILED;
			conn_emit(c, CONN_EV_TLS_FAILED);
		}
		return;
	}
	if (c->want_drained && c->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		c->want_drained = 0;
		if (!conn_emit(c, CONN_EV_DRAINED))
			return;
	}
	if (!c->paused && c->bev != NULL && (c->tls == TLS_NONE || c->tls == TLS_ACTIVE) &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		conn_emit(c, CONN_EV_INPUT);
}

static struct conn *conn_new(struct event_base *base, int fd, conn_cb *cb, void *arg,
			     char *err, size_t errlen)
{
	struct conn *c;
	int one = 1;

	/* Writes are already batched per loop turn: Nagle would only add a delayed-ACK
	 * stall between a reply and the TLS handshake that follows it. Fails on
	 * non-TCP sockets (tests use socketpairs), which is fine. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	c->base = base;
	c->fd = fd;
	c->cb = cb;
	c->arg = arg;
	c->max_line = CONN_DEFAULT_MAX_LINE;
	if ((c->line = malloc(c->max_line + 1)) == NULL ||
	    (c->timer = evtimer_new(base, conn_on_timer, c)) == NULL ||
	    (c->defer = event_new(base, -1, 0, conn_on_defer, c)) == NULL ||
	    (c->bev = bufferevent_socket_new(base, fd, 0)) == NULL)
		goto fail;
	conn_hook_bev(c);
	return c;
fail:
	snprintf(err, errlen, "out of memory creating a connection");
	if (c != NULL) {
		c->fd = -1; /* the caller closes fd on failure */
		conn_destroy(c);
	}
	return NULL;
}

struct conn *conn_accept(struct event_base *base, int fd, conn_cb *cb, void *arg,
			 char *err, size_t errlen)
{
	struct conn *c;

	if (evutil_make_socket_nonblocking(fd) < 0) {
		snprintf(err, errlen, "cannot make socket non-blocking: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if ((c = conn_new(base, fd, cb, arg, err, errlen)) == NULL) {
		close(fd);
		return NULL;
	}
	conn_fill_addrs(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

struct conn *conn_connect(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
			  unsigned timeout_ms, conn_cb *cb, void *arg, char *err, size_t errlen)
{
	struct conn *c;
	int fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if ((c = conn_new(base, fd, cb, arg, err, errlen)) == NULL) {
		close(fd);
		return NULL;
	}
	conn_format_addr(sa, c->peer, sizeof(c->peer));
	c->connecting = 1;
	if (bufferevent_socket_connect(c->bev, sa, (int)salen) < 0) {
		snprintf(err, errlen, "connect to %s: %s", c->peer, strerror(errno));
		conn_destroy(c);
		return NULL;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_set_timeout(c, timeout_ms);
	return c;
}

void conn_set_max_line(struct conn *c, size_t max)
{
	char *p;

	if (max == 0 || max == c->max_line)
		return;
	if ((p = realloc(c->line, max + 1)) == NULL)
		return; /* keep the old, smaller limit: still bounded */
	c->line = p;
	c->max_line = max;
	conn_set_watermark(c);
}

enum conn_line conn_readline(struct conn *c, const char **line, size_t *len)
{
	struct evbuffer *in;
	struct evbuffer_ptr p;
	size_t eol_len = 0, n;

	if (c->bev == NULL || c->dead || (c->tls != TLS_NONE && c->tls != TLS_ACTIVE))
		return CONN_LINE_NONE;
	in = bufferevent_get_input(c->bev);
	for (;;) {
		p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (p.pos < 0) {
			n = evbuffer_get_length(in);
			if (c->skipping || n > c->max_line + 1) {
				/* A CR split from its LF ends the skip as a bare LF later. */
				evbuffer_drain(in, n);
				if (c->skipping)
					return CONN_LINE_NONE;
				c->skipping = 1;
				return CONN_LINE_TOO_LONG;
			}
			return CONN_LINE_NONE;
		}
		if (c->skipping) {
			evbuffer_drain(in, (size_t)p.pos + eol_len);
			c->skipping = 0;
			continue;
		}
		if ((size_t)p.pos > c->max_line) {
			evbuffer_drain(in, (size_t)p.pos + eol_len);
			return CONN_LINE_TOO_LONG;
		}
		evbuffer_remove(in, c->line, (size_t)p.pos);
		evbuffer_drain(in, eol_len);
		c->line[p.pos] = '\0';
		*line = c->line;
		*len = (size_t)p.pos;
		return CONN_LINE_OK;
	}
}

size_t conn_input_len(const struct conn *c)
{
	return c->bev != NULL ? evbuffer_get_length(bufferevent_get_input(c->bev)) : 0;
}

void conn_pause_read(struct conn *c, int pause)
{
	if (c->dead || c->bev == NULL)
		return;
	c->paused = pause;
	if (pause) {
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	if (c->tls == TLS_NONE || c->tls == TLS_ACTIVE)
		bufferevent_enable(c->bev, EV_READ);
	if (conn_input_len(c) > 0)
		conn_schedule(c);
}

int conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->bev == NULL || c->dead || c->tls == TLS_PENDING || c->tls == TLS_HANDSHAKE)
		return -1;
	return bufferevent_write(c->bev, data, len) == 0 ? 0 : -1;
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (c->bev == NULL || c->dead || c->tls == TLS_PENDING || c->tls == TLS_HANDSHAKE)
		return -1;
	va_start(ap, fmt);
	r = evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	return r < 0 ? -1 : 0;
}

size_t conn_output_len(const struct conn *c)
{
	return c->bev != NULL ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

void conn_notify_drained(struct conn *c)
{
	c->want_drained = 1;
	if (conn_output_len(c) == 0)
		conn_schedule(c);
}

long conn_starttls(struct conn *c, SSL *ssl, enum conn_tls_role role)
{
	struct evbuffer *in;
	size_t n;

	if (c->tls != TLS_NONE || c->bev == NULL || c->dead || ssl == NULL) {
		SSL_free(ssl);
		str_copy(c->err, "STARTTLS: TLS already started", sizeof(c->err));
		return -1;
	}
	c->ssl = ssl;
	c->role = role;
	in = bufferevent_get_input(c->bev);
	n = evbuffer_get_length(in);
	evbuffer_drain(in, n);
	c->skipping = 0;
	bufferevent_disable(c->bev, EV_READ);
	c->tls = TLS_PENDING;
	if (conn_output_len(c) == 0)
		conn_schedule(c);
	return (long)n;
}

SSL *conn_ssl(const struct conn *c) { return c->ssl; }
int conn_tls_active(const struct conn *c) { return c->tls == TLS_ACTIVE; }
const char *conn_error(const struct conn *c) { return c->err[0] ? c->err : "no error"; }
const char *conn_peer(const struct conn *c) { return c->peer; }
const char *conn_local(const struct conn *c) { return c->local; }
uint64_t conn_bytes_in(const struct conn *c) { return c->bytes_in; }
uint64_t conn_bytes_out(const struct conn *c) { return c->bytes_out; }
int conn_fd(const struct conn *c) { return c->fd; }

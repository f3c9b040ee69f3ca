/*
 * tap: the demo's passive relay (see tap.h). A pair of bufferevents per connection,
 * bytes moved as they arrive, a bounded copy kept of the client's side. Every connection
 * has an idle timeout, so a stuck peer cannot keep the relay alive.
 */
#include "lab/tap.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "util/str.h"

#define TAP_IDLE_SECONDS 60

struct tap_conn;

struct tap {
	struct event_base *base;
	struct evconnlistener *lst;
	struct sockaddr_in target;
	struct tap_capture cap;
	struct tap_conn *conns;
};

struct tap_conn {
	struct tap *tap;
	struct bufferevent *in, *out;
	int in_eof, out_eof;
	struct tap_conn *next;
};

static void tap_conn_free(struct tap_conn *c)
{
	struct tap_conn **pp;

	for (pp = &c->tap->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	bufferevent_free(c->in);
	bufferevent_free(c->out);
	free(c);
}

static void tap_keep(struct tap *t, struct evbuffer *src)
{
	size_t len = evbuffer_get_length(src), room, take;

	t->cap.c2s_total += len;
	if (t->cap.c2s == NULL && (t->cap.c2s = malloc(TAP_CAPTURE_MAX)) == NULL)
		return;
	room = TAP_CAPTURE_MAX - t->cap.c2s_len;
	take = len < room ? len : room;
	if (take > 0)
		evbuffer_copyout(src, t->cap.c2s + t->cap.c2s_len, take);
	t->cap.c2s_len += take;
}

static void tap_read(struct bufferevent *bev, void *arg)
{
	struct tap_conn *c = arg;
	struct evbuffer *src = bufferevent_get_input(bev);

	if (bev == c->in) {
		tap_keep(c->tap, src);
		bufferevent_write_buffer(c->out, src);
	} else {
		c->tap->cap.s2c_total += evbuffer_get_length(src);
		bufferevent_write_buffer(c->in, src);
	}
}

/* Close when one side is gone and what it sent has been passed on. */
static void tap_write_done(struct bufferevent *bev, void *arg)
{
	struct tap_conn *c = arg;

	if ((bev == c->out && c->in_eof) || (bev == c->in && c->out_eof))
		tap_conn_free(c);
}

static void tap_event(struct bufferevent *bev, short what, void *arg)
{
	struct tap_conn *c = arg;
	struct bufferevent *other = bev == c->in ? c->out : c->in;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (bev == c->in)
			c->in_eof = 1;
		else
			c->out_eof = 1;
		if ((what & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_output(other)) > 0) {
			bufferevent_disable(bev, EV_READ);
			return; /* tap_write_done closes once the rest is passed on */
		}
		tap_conn_free(c);
	}
}

static void tap_accept(struct evconnlistener *lst, evutil_socket_t fd, struct sockaddr *sa,
		       int salen, void *arg)
{
	struct tap *t = arg;
	struct tap_conn *c = calloc(1, sizeof(*c));
	struct timeval idle = {TAP_IDLE_SECONDS, 0};

	(void)lst;
	(void)sa;
	(void)salen;
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->tap = t;
	c->in = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->out = bufferevent_socket_new(t->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->in == NULL || c->out == NULL ||
	    bufferevent_socket_connect(c->out, (struct sockaddr *)&t->target, sizeof(t->target)) < 0) {
		if (c->in != NULL)
			bufferevent_free(c->in);
		else
			evutil_closesocket(fd);
		if (c->out != NULL)
			bufferevent_free(c->out);
		free(c);
		return;
	}
	c->next = t->conns;
	t->conns = c;
	t->cap.connections++;
	bufferevent_setcb(c->in, tap_read, tap_write_done, tap_event, c);
	bufferevent_setcb(c->out, tap_read, tap_write_done, tap_event, c);
	bufferevent_set_timeouts(c->in, &idle, &idle);
	bufferevent_set_timeouts(c->out, &idle, &idle);
	bufferevent_enable(c->in, EV_READ | EV_WRITE);
	bufferevent_enable(c->out, EV_READ | EV_WRITE);
}

struct tap *tap_start(struct event_base *base, const char *addr, unsigned listen_port,
		      unsigned target_port, char *err, size_t errlen)
{
	struct tap *t = calloc(1, sizeof(*t));
	struct sockaddr_in sin;

	if (t == NULL) {
		str_copy(err, "out of memory", errlen);
		return NULL;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    (ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
		str_printf(err, errlen, "tap: %s is not an IPv4 loopback address", addr);
		free(t);
		return NULL;
	}
	t->base = base;
	t->target = sin;
	t->target.sin_port = htons((uint16_t)target_port);
	sin.sin_port = htons((uint16_t)listen_port);
	t->lst = evconnlistener_new_bind(base, tap_accept, t, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
					 16, (struct sockaddr *)&sin, sizeof(sin));
	if (t->lst == NULL) {
		str_printf(err, errlen, "tap: cannot listen on %s:%u", addr, listen_port);
		free(t);
		return NULL;
	}
	return t;
}

void tap_take(struct tap *t, struct tap_capture *out)
{
	*out = t->cap;
	memset(&t->cap, 0, sizeof(t->cap));
}

void tap_capture_free(struct tap_capture *c)
{
	if (c == NULL)
		return;
	free(c->c2s);
	memset(c, 0, sizeof(*c));
}

void tap_stop(struct tap *t)
{
	if (t == NULL)
		return;
	while (t->conns != NULL)
		tap_conn_free(t->conns);
	evconnlistener_free(t->lst);
	free(t->cap.c2s);
	free(t);
}

/* A TLS record header: content type 20-23, version 3.x, a length within bounds. */
static int tls_record_at(const unsigned char *p, size_t left, size_t *reclen)
{
	if (left < 5 || p[0] < 20 || p[0] > 23 || p[1] != 3 || p[2] > 4)
		return 0;
	*reclen = ((size_t)p[3] << 8) | p[4];
	return *reclen <= 18432;
}

size_t tap_readable_lines(const struct tap_capture *c, char (*lines)[96], size_t maxlines,
			  size_t *tls_records, size_t *tls_bytes)
{
	size_t i = 0, n = 0, reclen;

	*tls_records = *tls_bytes = 0;
	while (i < c->c2s_len) {
		const unsigned char *p = c->c2s + i;
		const unsigned char *eol;
		size_t len;

		if (tls_record_at(p, c->c2s_len - i, &reclen)) {
			/* From here on the client speaks TLS: count records, read nothing. */
			while (i < c->c2s_len && tls_record_at(c->c2s + i, c->c2s_len - i, &reclen)) {
				(*tls_records)++;
				*tls_bytes += 5 + reclen;
				i += 5 + reclen;
			}
			break;
		}
		eol = memchr(p, '\n', c->c2s_len - i);
		len = eol != NULL ? (size_t)(eol - p) : c->c2s_len - i;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (n < maxlines)
			str_escape(lines[n], sizeof(lines[n]), p, len);
		n++;
		i += (eol != NULL ? (size_t)(eol - p) + 1 : c->c2s_len - i);
	}
	return n < maxlines ? n : maxlines;
}

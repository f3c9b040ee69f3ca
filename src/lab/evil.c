/*
 * evil: the endless-banner and the stalling responders. Each accepted socket becomes a
 * conn (src/io) so that timeouts and bounded reads are the same code the real server
 * uses. It must never block the loop (the banner is written a chunk at a time, each when
 * the previous one drained) and never outlive its limits: LAB_EVIL_MAX_BYTES per banner,
 * LAB_EVIL_HOLD_MS without progress, LAB_EVIL_MAX_CONN connections.
 */
#include "lab/evil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>
#include <event2/util.h>

#include "io/conn.h"
#include "util/log.h"

#define CHUNK 4096

struct evil_conn {
	struct lab_evil_server *srv;
	struct conn *c;
	size_t sent;
	struct evil_conn *prev, *next;
};

struct lab_evil_server {
	struct event_base *base;
	enum lab_evil kind;
	struct evconnlistener *lst[8];
	size_t nlst;
	struct evil_conn *conns;
	size_t nconn;
	unsigned long accepted;
};

static void evil_close(struct evil_conn *e)
{
	struct lab_evil_server *s = e->srv;

	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		s->conns = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	s->nconn--;
	conn_free(e->c);
	free(e);
}

/* The next piece of the banner that never ends: no CR, no LF, ever. */
static void banner_more(struct evil_conn *e)
{
	static char chunk[CHUNK];

	if (chunk[0] == '\0')
		memset(chunk, 'x', sizeof(chunk));
	if (e->sent >= LAB_EVIL_MAX_BYTES) {
		evil_close(e);
		return;
	}
	if (e->sent == 0 && conn_write(e->c, "220 ", 4) != 0) {
		evil_close(e);
		return;
	}
	if (conn_write(e->c, chunk, sizeof(chunk)) != 0) {
		evil_close(e);
		return;
	}
	e->sent += sizeof(chunk);
	conn_notify_drained(e->c);
}

static void evil_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct evil_conn *e = arg;
	const char *line;
	size_t len;

	switch (ev) {
	case CONN_EV_INPUT:      /* read and forget: a stalled server still drains its socket */
		while (conn_readline(c, &line, &len) != CONN_LINE_NONE)
			;
		return;
	case CONN_EV_DRAINED:
		if (e->srv->kind == LAB_EVIL_ENDLESS_BANNER)
			banner_more(e);
		return;
	default:                 /* timeout, EOF, error: done with this one */
		log_debug("lab evil %s: %s", conn_peer(c), conn_event_name(ev));
		evil_close(e);
		return;
	}
}

static void evil_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			int salen, void *arg)
{
	struct lab_evil_server *s = arg;
	struct evil_conn *e;
	char err[256];

	s->accepted++;
	if (s->nconn >= LAB_EVIL_MAX_CONN || (e = calloc(1, sizeof(*e))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	if ((e->c = conn_accept(s->base, fd, evil_event, e, err, sizeof(err))) == NULL) {
		log_warnx("lab evil: %s", err);
		free(e);
		return;
	}
	e->srv = s;
	e->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = e;
	s->conns = e;
	s->nconn++;
	conn_set_timeout(e->c, LAB_EVIL_HOLD_MS);
	if (s->kind == LAB_EVIL_ENDLESS_BANNER)
		banner_more(e);
}

static int evil_listen(struct lab_evil_server *s, const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	struct evconnlistener *l;

	if (s->nlst >= sizeof(s->lst) / sizeof(s->lst[0])) {
		snprintf(err, errlen, "%s: too many listen addresses", addr);
		return -1;
	}
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(err, errlen, "%s: not an ADDR:PORT", addr);
		return -1;
	}
	l = evconnlistener_new_bind(s->base, evil_accept, s, LEV_OPT_CLOSE_ON_FREE |
				    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 16,
				    (struct sockaddr *)&ss, len);
	if (l == NULL) {
		snprintf(err, errlen, "%s: cannot listen: %s", addr,
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return -1;
	}
	s->lst[s->nlst++] = l;
	return 0;
}

struct lab_evil_server *lab_evil_new(struct event_base *base, enum lab_evil kind,
				     const char *const *listen, size_t nlisten, char *err, size_t errlen)
{
	struct lab_evil_server *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->kind = kind;
	for (size_t i = 0; i < nlisten; i++)
		if (evil_listen(s, listen[i], err, errlen) != 0) {
			lab_evil_free(s);
			return NULL;
		}
	return s;
}

unsigned long lab_evil_accepted(const struct lab_evil_server *s)
{
	return s->accepted;
}

void lab_evil_free(struct lab_evil_server *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		evil_close(s->conns);
	for (size_t i = 0; i < s->nlst; i++)
		evconnlistener_free(s->lst[i]);
	free(s);
}

/*
 * iplimit: per-address connection slots with FIFO waiters, kept in a small chained hash
 * table of the addresses in use. Queued grants are delivered from one deferred event so
 * a release never re-enters its caller. It never opens a socket and never prints.
 */
#include "engine/iplimit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "util/str.h"

#define IPLIMIT_BUCKETS 1024u
#define IPLIMIT_ADDR_MAX 64

struct iplimit_entry {
	char addr[IPLIMIT_ADDR_MAX];
	unsigned active;
	unsigned nwait;
	struct iplimit_ticket *head, *tail;   /* waiters, oldest first */
	struct iplimit_entry *next;           /* bucket chain */
};

struct iplimit {
	unsigned max;
	unsigned peak;
	size_t nentries;
	struct event *ev;                     /* delivers granted callbacks */
	struct iplimit_ticket *ready;         /* granted, callback not run yet */
	struct iplimit_entry *bucket[IPLIMIT_BUCKETS];
};

static unsigned addr_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % IPLIMIT_BUCKETS;
}

static struct iplimit_entry *entry_find(const struct iplimit *l, const char *addr)
{
	struct iplimit_entry *e = l->bucket[addr_hash(addr)];

	while (e != NULL && strcmp(e->addr, addr) != 0)
		e = e->next;
	return e;
}

static struct iplimit_entry *entry_get(struct iplimit *l, const char *addr)
{
	struct iplimit_entry *e = entry_find(l, addr);
	unsigned h = addr_hash(addr);

	if (e != NULL)
		return e;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	str_copy(e->addr, addr, sizeof(e->addr));
	e->next = l->bucket[h];
	l->bucket[h] = e;
	l->nentries++;
	return e;
}

/* Forget an entry nobody holds or waits for: memory follows what is in flight. */
static void entry_maybe_drop(struct iplimit *l, struct iplimit_entry *e)
{
	struct iplimit_entry **pp = &l->bucket[addr_hash(e->addr)];

	if (e->active > 0 || e->head != NULL)
		return;
	while (*pp != NULL && *pp != e)
		pp = &(*pp)->next;
	if (*pp == e)
		*pp = e->next;
	l->nentries--;
	free(e);
}

static void deliver(evutil_socket_t fd, short what, void *arg)
{
	struct iplimit *l = arg;
	struct iplimit_ticket *t;

	(void)fd;
	(void)what;
	/* One at a time: a callback may release another ready ticket. */
	while ((t = l->ready) != NULL) {
		l->ready = t->next;
		t->next = NULL;
		t->granted(t->arg);
	}
}

struct iplimit *iplimit_new(struct event_base *base, unsigned max_per_addr)
{
	struct iplimit *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->max = max_per_addr > 0 ? max_per_addr : 1;
	if ((l->ev = event_new(base, -1, 0, deliver, l)) == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

void iplimit_free(struct iplimit *l)
{
	if (l == NULL)
		return;
	for (unsigned i = 0; i < IPLIMIT_BUCKETS; i++) {
		struct iplimit_entry *e = l->bucket[i], *n;
		for (; e != NULL; e = n) {
			n = e->next;
			free(e);
		}
	}
	event_free(l->ev);
	free(l);
}

static void take_slot(struct iplimit *l, struct iplimit_entry *e, struct iplimit_ticket *t)
{
	e->active++;
	if (e->active > l->peak)
		l->peak = e->active;
	t->entry = e;
	t->held = 1;
}

int iplimit_acquire(struct iplimit *l, const char *addr, struct iplimit_ticket *t,
		    void (*granted)(void *arg), void *arg)
{
	struct iplimit_entry *e = entry_get(l, addr);

	memset(t, 0, sizeof(*t));
	if (e == NULL)
		return -1;
	t->granted = granted;
	t->arg = arg;
	if (e->active < l->max && e->head == NULL) {
		take_slot(l, e, t);
		return 1;
	}
	t->entry = e;
	if (e->tail != NULL)
		e->tail->next = t;
	else
		e->head = t;
	e->tail = t;
	e->nwait++;
	return 0;
}

/* Unlink t from a singly linked list; the tail pointer is fixed when given. */
static int unlink_ticket(struct iplimit_ticket **head, struct iplimit_ticket **tail,
			 struct iplimit_ticket *t)
{
	struct iplimit_ticket *prev = NULL, **pp = head;

	while (*pp != NULL && *pp != t) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp != t)
		return 0;
	*pp = t->next;
	if (tail != NULL && *tail == t)
		*tail = prev;
	t->next = NULL;
	return 1;
}

/* The oldest waiter of e gets the slot just freed; its callback runs from the loop. */
static void grant_next(struct iplimit *l, struct iplimit_entry *e)
{
	struct iplimit_ticket *w = e->head, **pp = &l->ready;

	if (w == NULL || e->active >= l->max)
		return;
	e->head = w->next;
	if (e->head == NULL)
		e->tail = NULL;
	e->nwait--;
	w->next = NULL;
	take_slot(l, e, w);
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = w;
	event_active(l->ev, 0, 0);
}

void iplimit_release(struct iplimit *l, struct iplimit_ticket *t)
{
	struct iplimit_entry *e = t != NULL ? t->entry : NULL;

	if (l == NULL || e == NULL)
		return;
	if (t->held) {
		unlink_ticket(&l->ready, NULL, t);   /* granted but not told yet */
		e->active--;
		grant_next(l, e);
	} else {
		if (unlink_ticket(&e->head, &e->tail, t))
			e->nwait--;
	}
	t->entry = NULL;
	t->held = 0;
	entry_maybe_drop(l, e);
}

unsigned iplimit_active(const struct iplimit *l, const char *addr)
{
	const struct iplimit_entry *e = entry_find(l, addr);
	return e != NULL ? e->active : 0;
}

unsigned iplimit_waiting(const struct iplimit *l, const char *addr)
{
	const struct iplimit_entry *e = entry_find(l, addr);
	return e != NULL ? e->nwait : 0;
}

unsigned iplimit_peak(const struct iplimit *l)
{
	return l->peak;
}

size_t iplimit_entries(const struct iplimit *l)
{
	return l->nentries;
}

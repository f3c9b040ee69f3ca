/*
 * iplimit: a cap on concurrent connections per destination address, shared by every
 * check on one loop (scan: many domains share one MX address). A caller asks for a slot
 * with a ticket it owns; the slot is granted at once when the address has one free, or
 * later, in FIFO order, from the loop when another holder releases. It keeps state only
 * for addresses with a holder or a waiter, so memory follows what is in flight, not how
 * many addresses were ever seen. It never opens a socket and never times out a waiter
 * itself: a waiter's wait is bounded by the holders' own session timeouts.
 */
#ifndef DANEMX_IPLIMIT_H
#define DANEMX_IPLIMIT_H

#include <stddef.h>

struct event_base;
struct iplimit;
struct iplimit_entry;

/* The caller's ticket: embed it in the object that waits; it must stay put until granted,
 * released or cancelled. */
struct iplimit_ticket {
	struct iplimit_entry *entry;   /* the address it is for; NULL when idle */
	int held;                      /* 1: the slot is ours */
	void (*granted)(void *arg);    /* called from the loop when a queued slot is granted */
	void *arg;
	struct iplimit_ticket *next;   /* queue (or ready list) link */
};

/* max per address >= 1. NULL when out of memory. */
struct iplimit *iplimit_new(struct event_base *base, unsigned max_per_addr);
/* Waiters still queued are forgotten without callbacks. NULL-safe. */
void iplimit_free(struct iplimit *l);

/* Ask for a slot for addr (its text form). 1: granted now (granted is not called);
 * 0: queued, granted(arg) runs from the loop later; -1: out of memory. */
int iplimit_acquire(struct iplimit *l, const char *addr, struct iplimit_ticket *t,
		    void (*granted)(void *arg), void *arg);
/* Give the slot back (a held ticket) or leave the queue (a waiting one). NULL-safe on l;
 * an idle ticket is ignored. */
void iplimit_release(struct iplimit *l, struct iplimit_ticket *t);

/* Diagnostics for tests: slots held for addr now, tickets waiting for it, and the
 * highest number ever held at once for any one address. */
unsigned iplimit_active(const struct iplimit *l, const char *addr);
unsigned iplimit_waiting(const struct iplimit *l, const char *addr);
unsigned iplimit_peak(const struct iplimit *l);
/* Addresses with state now (holders or waiters). */
size_t iplimit_entries(const struct iplimit *l);

#endif

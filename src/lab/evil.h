/*
 * evil: tiny misbehaving SMTP responders for the lab, to prove a client's bounds and
 * timeouts: one sends a banner line that never ends, one accepts and never speaks. They
 * run on the caller's event loop. They must never read more than they discard, never
 * keep a connection past their own time limit, and never hold more than a few dozen
 * connections (a misbehaving test must not exhaust the machine).
 */
#ifndef DANEMX_LAB_EVIL_H
#define DANEMX_LAB_EVIL_H

#include <stddef.h>

#include <event2/event.h>

#include "lab/world.h"

#define LAB_EVIL_MAX_CONN 32                  /* beyond: accepted and closed at once */
#define LAB_EVIL_MAX_BYTES (16ul * 1024 * 1024) /* banner bytes per connection */
#define LAB_EVIL_HOLD_MS 120000               /* longest a connection is kept */

struct lab_evil_server;

/* Listen on each "ADDR:PORT" ("[::1]:PORT" for IPv6) and misbehave as kind says.
 * NULL with a one-line reason naming the address on failure. */
struct lab_evil_server *lab_evil_new(struct event_base *base, enum lab_evil kind,
				     const char *const *listen, size_t nlisten, char *err, size_t errlen);
/* Connections served so far (accepted, including those closed at once). */
unsigned long lab_evil_accepted(const struct lab_evil_server *s);
/* Close listeners and connections. NULL-safe. */
void lab_evil_free(struct lab_evil_server *s);

#endif

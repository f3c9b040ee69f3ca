/*
 * receivers: the lab's mail servers. For every MX host of the world (world.h) it starts
 * one SMTP server engine (smtp/server.h) per certificate it presents, listening on the
 * host's addresses at the lab port, with the scenario's chain, STARTTLS on or off, and a
 * Maildir per MX host; the endless-banner and stalling hosts get evil.h responders
 * instead. Everything runs on the caller's event loop. It never resolves, never prints,
 * and never listens anywhere but the world's loopback addresses.
 */
#ifndef DANEMX_LAB_RECEIVERS_H
#define DANEMX_LAB_RECEIVERS_H

#include <stddef.h>

#include <event2/event.h>

#include "lab/world.h"

struct lab_receivers;

/* Start every receiver of w (which must outlive them). NULL with a one-line reason
 * (naming the host and address) when any of them cannot start; none is left running. */
struct lab_receivers *lab_receivers_start(struct event_base *base, const struct lab_world *w,
					  char *err, size_t errlen);
/* Listening sockets opened (one per host address). */
size_t lab_receivers_nlisten(const struct lab_receivers *r);
/* Messages delivered into the Maildirs so far, over all receivers. */
unsigned long lab_receivers_messages(const struct lab_receivers *r);
/* Close every listener and session at once. NULL-safe. */
void lab_receivers_stop(struct lab_receivers *r);

#endif

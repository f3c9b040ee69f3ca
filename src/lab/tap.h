/*
 * tap: a passive man in the middle for the demo. It listens on a loopback address and
 * port, relays every connection unchanged to the real receiver at the same address on
 * another port, and keeps a bounded copy of what the client sent, so the demo can show
 * what an eavesdropper on the path could read. It never alters a byte and never listens
 * off loopback.
 */
#ifndef DANEMX_TAP_H
#define DANEMX_TAP_H

#include <stddef.h>
#include <event2/event.h>

#define TAP_CAPTURE_MAX ((size_t)256 * 1024)  /* client-to-server bytes kept per tap, over all
						 its connections since the last tap_take() */

struct tap;

struct tap_capture {
	unsigned char *c2s;     /* client to server, first TAP_CAPTURE_MAX bytes */
	size_t c2s_len;
	size_t c2s_total;       /* bytes relayed, including those not kept */
	size_t s2c_total;
	int connections;        /* connections relayed since the last tap_take */
};

/* Relay addr:listen_port -> addr:target_port. NULL with a one-line reason on failure. */
struct tap *tap_start(struct event_base *base, const char *addr, unsigned listen_port,
		      unsigned target_port, char *err, size_t errlen);
/* Hand over (and reset) what the tap saw since the last call; free with tap_capture_free. */
void tap_take(struct tap *t, struct tap_capture *out);
void tap_capture_free(struct tap_capture *c);
void tap_stop(struct tap *t);

/* What an eavesdropper reads in c2s: the printable lines before any TLS record. With TLS,
 * the count of TLS records seen after STARTTLS. Fills lines (up to maxlines, each
 * escaped and cut to width). Returns the number of readable lines. */
size_t tap_readable_lines(const struct tap_capture *c, char (*lines)[96], size_t maxlines,
			  size_t *tls_records, size_t *tls_bytes);

#endif

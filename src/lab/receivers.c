/*
 * receivers: start and stop the lab's receiving side from the world's host list. Each MX
 * host gets one server engine per certificate it presents (two for a host whose second
 * address shows another key; one with two chains for the RSA+ECDSA host), or an evil
 * responder. It must never leave a half-started lab behind: on any failure everything
 * already started is closed before returning.
 */
#include "lab/receivers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/evil.h"
#include "smtp/server.h"
#include "util/str.h"

struct rx {
	struct smtp_server *smtp;
	struct lab_evil_server *evil;
};

struct lab_receivers {
	struct rx *rx;
	size_t n;
	size_t nlisten;
};

/* Lab timeouts: short enough that a stuck test client does not pin a session for
 * minutes, long enough for a slow ASan client. */
#define LAB_CMD_TIMEOUT_MS 60000
#define LAB_SESSION_TIMEOUT_MS 600000

/* "ADDR:PORT", with brackets for IPv6. */
static void listen_str(char *dst, size_t size, const char *addr, unsigned port)
{
	if (strchr(addr, ':') != NULL)
		snprintf(dst, size, "[%s]:%u", addr, port);
	else
		snprintf(dst, size, "%s:%u", addr, port);
}

/* The leaf an address presents: the second IPv4 address of a two-address host shows the
 * second certificate; everything else the first. */
static int leaf_index(const struct lab_host *h, int a)
{
	return a == 1 && h->spec->addrs > 1 ? 1 : 0;
}

static int start_smtp(struct lab_receivers *r, struct event_base *base, const struct lab_host *h, int g, const char *const *listen, size_t n,
		      char *err, size_t errlen)
{
	struct smtp_server_params p;
	char hostname[DNS_NAME_MAX], domain[DNS_NAME_MAX], why[256];
	const char *domains[1] = {domain};

	memset(&p, 0, sizeof(p));
	str_copy(hostname, h->name, sizeof(hostname));
	if (hostname[0] != '\0' && hostname[strlen(hostname) - 1] == '.')
		hostname[strlen(hostname) - 1] = '\0';   /* the banner name has no final dot */
	snprintf(domain, sizeof(domain), "%s.test", h->sc->name);
	p.listen = listen;
	p.nlisten = n;
	p.cert_files[0] = h->leaf[g].chain_path;
	p.key_files[0] = h->leaf[g].key_path;
	if (h->spec->dual) {
		p.cert_files[1] = h->leaf[1].chain_path;
		p.key_files[1] = h->leaf[1].key_path;
	}
	p.maildir = h->maildir;
	p.hostname = hostname;
	p.domains = domains;
	p.ndomains = 1;
	p.starttls = h->spec->starttls;
	p.cmd_timeout_ms = LAB_CMD_TIMEOUT_MS;
	p.data_timeout_ms = LAB_CMD_TIMEOUT_MS;
	p.session_timeout_ms = LAB_SESSION_TIMEOUT_MS;
	if ((r->rx[r->n].smtp = smtp_server_new(base, &p, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "receiver for %s: %s", h->name, why);
		return -1;
	}
	r->n++;
	return 0;
}

static int start_host(struct lab_receivers *r, struct event_base *base, const struct lab_world *w,
		      const struct lab_host *h, char *err, size_t errlen)
{
	char addrs[3][64], why[256];
	const char *listen[3];

	for (int g = 0; g < h->nleaf; g++) {
		size_t n = 0;
		for (int a = 0; a < h->naddr; a++)
			if (h->spec->evil != LAB_EVIL_NONE || h->spec->dual || leaf_index(h, a) == g) {
				listen_str(addrs[n], sizeof(addrs[n]), h->addr[a], w->port);
				listen[n] = addrs[n];
				n++;
			}
		if (n == 0)
			continue;
		r->nlisten += n;
		if (h->spec->evil == LAB_EVIL_NONE) {
			if (start_smtp(r, base, h, g, listen, n, err, errlen) != 0)
				return -1;
		} else if ((r->rx[r->n++].evil = lab_evil_new(base, h->spec->evil, listen, n, why,
							      sizeof(why))) == NULL) {
			snprintf(err, errlen, "responder for %s: %s", h->name, why);
			return -1;
		}
		if (h->spec->evil != LAB_EVIL_NONE || h->spec->dual)
			break;   /* one listener set covers every address */
	}
	return 0;
}

struct lab_receivers *lab_receivers_start(struct event_base *base, const struct lab_world *w,
					  char *err, size_t errlen)
{
	struct lab_receivers *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->rx = calloc(w->nhosts * 2 + 1, sizeof(*r->rx))) == NULL) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < w->nhosts; i++)
		if (start_host(r, base, w, &w->hosts[i], err, errlen) != 0) {
			lab_receivers_stop(r);
			return NULL;
		}
	return r;
}

size_t lab_receivers_nlisten(const struct lab_receivers *r)
{
	return r->nlisten;
}

unsigned long lab_receivers_messages(const struct lab_receivers *r)
{
	struct smtp_server_stats st;
	unsigned long n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->rx[i].smtp != NULL) {
			smtp_server_get_stats(r->rx[i].smtp, &st);
			n += (unsigned long)st.messages;
		}
	return n;
}

void lab_receivers_stop(struct lab_receivers *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		smtp_server_free(r->rx[i].smtp);
		lab_evil_free(r->rx[i].evil);
	}
	free(r->rx);
	free(r);
}

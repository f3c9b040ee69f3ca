/*
 * probe: one address of one MX host, probed with the SMTP client engine as the host's TLS
 * requirement says (DANE, encrypt, may), once per key type when asked, and the outcome
 * mapped to a verdict with its reason. Engine-internal; check.c is its only caller.
 * It never downgrades: where DANE or encryption is required, a missing STARTTLS or a
 * failed handshake is a failure, never a plaintext session.
 */
#ifndef DANEMX_PROBE_H
#define DANEMX_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "dane/policy.h"
#include "engine/check.h"
#include "engine/hosttls.h"
#include "engine/iplimit.h"

struct probe_req {
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	uint16_t port;
	const char *helo;
	const struct host_tls *tls;    /* the host's requirement, records, SNI, names: must
					  outlive the probe (the host finishes after its probes) */
	int both_keys;                 /* also probe the other key type where DANE applies */
	unsigned timeout_ms;
	struct iplimit *iplimit;       /* optional: a slot per session, taken before connect */
};

/* Probe one address; fills a->probes[], a->v, a->reason, a->ignorable, then calls done
 * from the loop. -1 when it could not start (a->v/reason are then set, no callback). */
int probe_address(const struct probe_req *req, struct check_address *a,
		  void (*done)(struct check_address *a, void *arg), void *arg);
void probe_facts_free(struct smtp_client_result *r);

#endif

/*
 * rr: the parsed record types every layer shares (MX, addresses, TLSA). Plain data, no
 * behaviour: the resolver fills them, the DANE policy and the probes read them. Never put
 * a pointer into a resolver-owned packet here: records own their bytes.
 */
#ifndef DANEMX_RR_H
#define DANEMX_RR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 256   /* presentation form of a domain name with its final dot, + NUL */

enum dns_sec { DNS_SEC_INSECURE = 0, DNS_SEC_BOGUS = 1, DNS_SEC_SECURE = 2 }; /* libunbound's values */

struct mx_rr {
	uint16_t preference;
	char host[DNS_NAME_MAX];   /* lower case, with the trailing dot; "." is a null MX (RFC 7505) */
};

struct addr_rr {
	int family;                /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
	char text[46];             /* INET6_ADDRSTRLEN */
};

/* TLSA rdata (RFC 6698 §2.1). data is malloc'd and owned by the record. */
struct tlsa_rr {
	uint8_t usage;             /* 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE */
	uint8_t selector;          /* 0 Cert, 1 SPKI */
	uint8_t mtype;             /* 0 Full, 1 SHA2-256, 2 SHA2-512 */
	size_t len;
	unsigned char *data;
};

#endif

/*
 * world: the lab's scenario table and the builder that turns it into files. Each scenario
 * names its domain (NAME.test.), its MX hosts with their addresses, certificates, TLSA
 * records and faults, whether STARTTLS is offered, and the verdict a correct checker must
 * reach. lab_world_build() writes certificates (DIR/certs), signed zones and resolver
 * configs (DIR/dns, via lab/zones.h) and the lab's description files; receivers.h then
 * serves it. The engine under test must never read this table: the expectations are for
 * tests and the demo only. It never touches the real DNS or binds anything.
 */
#ifndef DANEMX_LAB_WORLD_H
#define DANEMX_LAB_WORLD_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/rr.h"
#include "lab/certs.h"
#include "lab/zones.h"

/* The domain verdict vocabulary (what `danemx check` reports for a domain). */
enum lab_verdict {
	LAB_V_VERIFIED = 0, LAB_V_TRUSTED, LAB_V_OPPORTUNISTIC, LAB_V_PLAINTEXT,
	LAB_V_ENCRYPT_ONLY, LAB_V_DANE_FAIL, LAB_V_TEMPFAIL, LAB_V_NOMAIL,
};
const char *lab_verdict_name(enum lab_verdict v);

/* Which certificate a server presents. */
enum lab_cert_name { LAB_CN_HOST = 0, LAB_CN_OTHER, LAB_CN_NEITHER };
struct lab_cert_spec {
	enum lab_cert_name name;  /* HOST: the MX host; OTHER: mail.other.test (for 3 x x,
				     names do not matter); NEITHER: unrelated.example.net */
	int flags;                /* enum lab_leaf_flags */
};

/* Where a TLSA record's data comes from. */
enum lab_tlsa_src {
	LAB_T_END = 0,            /* end of the list */
	LAB_T_LEAF,               /* the host's (first) certificate */
	LAB_T_ROOT,               /* the lab root CA */
	LAB_T_NEXT,               /* a fresh key not in use yet (key rollover); its private
				     key is written to DIR/certs/HOST-next.key.pem */
	LAB_T_WRONG,              /* the leaf's data with one bit flipped */
	LAB_T_MALFORMED,          /* the leaf's digest cut to 20 bytes: wrong for its mtype */
};
struct lab_tlsa_spec {
	enum lab_tlsa_src src;
	uint8_t usage, selector, mtype;
};

enum lab_evil { LAB_EVIL_NONE = 0, LAB_EVIL_ENDLESS_BANNER, LAB_EVIL_STALL };

#define LAB_MAX_TLSA 4
#define LAB_MAX_HOSTS 2

struct lab_host_spec {
	const char *name;         /* FQDN of the MX target (the domain itself for implicit MX) */
	uint16_t pref;
	const char *cname_to;     /* name is a CNAME to this FQDN (which gets A and TLSA) */
	int addrs;                /* IPv4 addresses: 1, or 2 (127.1.0.N and 127.1.1.N) */
	int v6;                   /* also AAAA ::1 (one host in the world) */
	int starttls;             /* STARTTLS offered */
	enum lab_evil evil;
	struct lab_cert_spec cert;    /* presented on the first address (EC for a dual server) */
	struct lab_cert_spec cert2;   /* second address, or the RSA certificate of a dual server */
	int dual;                 /* one server with cert (ECDSA) and cert2 (RSA) */
	struct lab_tlsa_spec tlsa[LAB_MAX_TLSA];
};

enum lab_mx_kind { LAB_MX_LIST = 0, LAB_MX_NULL, LAB_MX_IMPLICIT };
enum lab_dns_fault {
	LAB_DNS_OK = 0, LAB_DNS_BOGUS_MX, LAB_DNS_BOGUS_TLSA, LAB_DNS_EXPIRED_TLSA,
	LAB_DNS_TLSA_SIG_SOON,    /* the TLSA RRSIG is valid but expires in LAB_SIG_SOON_DAYS */
};
#define LAB_SIG_SOON_DAYS 3

struct lab_scenario {
	const char *name;         /* the domain is NAME.test. */
	const char *shows;        /* one line: what this scenario demonstrates */
	enum lab_verdict expect;  /* the domain verdict a correct checker reaches */
	const char *delivers_to;  /* MX host `send` must deliver to, NULL if none should */
	int demo;                 /* part of the demo's story */
	enum lab_zone_sec domain_sec;
	const char *host_zone;    /* an extra zone holding MX hosts, or NULL */
	enum lab_zone_sec host_zone_sec;
	enum lab_mx_kind mx;
	enum lab_dns_fault fault;
	struct lab_host_spec hosts[LAB_MAX_HOSTS];   /* name == NULL ends the list */
};

/* The table, in a stable order. */
const struct lab_scenario *lab_scenarios(size_t *n);
const struct lab_scenario *lab_scenario_find(const char *name);

/* One built MX host (or CNAME target) and what its receiver needs. */
struct lab_host {
	const struct lab_scenario *sc;
	const struct lab_host_spec *spec;
	char name[DNS_NAME_MAX];      /* the name the MX (or implicit MX) points to */
	char target[DNS_NAME_MAX];    /* the name with the A records (cname_to or name) */
	int naddr;
	char addr[3][48];             /* textual addresses: v4, second v4, ::1 */
	struct lab_leaf leaf[2];      /* [0] first address / EC; [1] second address / RSA */
	int nleaf;
	char maildir[PATH_MAX];       /* DIR/mail/<name without the final dot> */
};

struct lab_world_opts {
	unsigned port;                /* the lab SMTP port all receivers use; 0 = 10025 */
	const char *dns_listen;       /* ADDR@PORT for the unbound daemon config, or NULL */
	int no_ipv6;                  /* do not publish the ::1 address */
	/* Optional: more records for the zones (the bulk lab, lab/bulk.h), called once the
	 * PKI exists and before the zones are signed; 0, or -1 with a reason in err. */
	int (*extra_zones)(void *arg, struct lab_zoneset *zs, struct lab_pki *pki,
			   const char *certdir, char *err, size_t errlen);
	void *extra_arg;
};

struct lab_world {
	char dir[PATH_MAX];
	unsigned port;
	struct lab_dns_paths dns;     /* DIR/dns/...: the libunbound config is dns.ub_conf */
	char env_path[PATH_MAX];      /* DIR/lab.env */
	char hosts_path[PATH_MAX];    /* DIR/hosts.tsv */
	char mail_root[PATH_MAX];     /* DIR/mail */
	char root_path[PATH_MAX];     /* DIR/certs/root.pem: the lab root CA certificate */
	struct lab_pki pki;
	struct lab_host *hosts;
	size_t nhosts;
};

/* Build the whole world into dir (created if missing). 0, or -1 with a reason. */
int lab_world_build(const char *dir, const struct lab_world_opts *opts, struct lab_world **out,
		    char *err, size_t errlen);
void lab_world_free(struct lab_world *w);
/* The host whose receiver serves addr (textual), or NULL. */
const struct lab_host *lab_world_host_by_addr(const struct lab_world *w, const char *addr);

#endif

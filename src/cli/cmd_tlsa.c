/*
 * cmd_tlsa: `danemx tlsa create` (TLSA records for a certificate, chain or key file) and
 * `danemx tlsa verify` (does this chain match these records, judged offline by OpenSSL's
 * DANE code exactly as a DANE SMTP client would); `fetch` and `audit`, which look at a
 * live destination, are in tlsa_live.c. Record arithmetic is dane/tlsa.h; the
 * match is OpenSSL's (SSL_dane_tlsa_add + X509_verify_cert with the SSL's DANE state). It
 * must never match records by hand, and create/verify never touch the network.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "cli/cli_dns.h"
#include "cli/commands.h"
#include "cli/tlsa_live.h"
#include "dane/tlsa.h"
#include "util/buf.h"
#include "util/str.h"

static int cmd_tlsa_run(int argc, char **argv);

const struct command cmd_tlsa_def = {
	"tlsa", cmd_tlsa_run,
	"create and verify TLSA records; fetch a server's chain; audit published records",
	"danemx tlsa create [--usage U] [--selector S] [--mtype M] [--host HOST] [--port N] FILE\n"
	"       danemx tlsa verify [--host HOST] [--records FILE] CHAIN [RECORD ...]\n"
	"       danemx tlsa fetch [--json] [--port N]\n"
	"           " CLI_DNS_USAGE "\n"
	"           HOST\n"
	"       danemx tlsa audit [--json] [--port N] [--next FILE ...] [--max-ttl SECONDS]\n"
	"           [--rrsig-days DAYS]\n"
	"           " CLI_DNS_USAGE "\n"
	"           HOST|DOMAIN",
	"create: FILE is a certificate, a chain (leaf first), a private or a public key,\n"
	"  PEM or DER. Prints 3 1 1 for the leaf (or key) and, for a chain, 2 1 1 for the\n"
	"  CA that issued the leaf.\n"
	"  --usage U       only one record with this usage (0-3): 3 or 1 for the leaf, 2 or 0\n"
	"                  for the issuing CA (the only certificate if FILE holds one)\n"
	"  --selector S    0 (Cert) or 1 (SPKI, default); a key allows only 1\n"
	"  --mtype M       0 (Full), 1 (SHA2-256, default), 2 (SHA2-512)\n"
	"                  (U, S, M also take mnemonics: DANE-EE, SPKI, SHA2-256...)\n"
	"  --host HOST     print zone-file lines \"_PORT._tcp.HOST. IN TLSA ...\"\n"
	"  --port N        the port of the owner name (default 25)\n"
	"verify: CHAIN is the server's chain (leaf first), PEM or DER; records are\n"
	"  arguments (\"3 1 1 HEX\" or a zone-file line) and/or lines of --records FILE.\n"
	"  Usages 0 and 1 are ignored (RFC 7672 3.1.3). Exit 0 when the chain matches,\n"
	"  1 when it does not, 65 when no record is usable or input is bad, 66 when a\n"
	"  file cannot be read.\n"
	"  --host HOST     the reference name for DANE-TA(2) name checks (RFC 7672 3.2.2);\n"
	"                  without it, names are not checked\n"
	"  --records FILE  read records from FILE (lines with TLSA data; # and ; comments)\n"
	"fetch: STARTTLS to every address of the MX host HOST (no MX lookup), print the\n"
	"  chain each presents and, per certificate, the records one would publish (3 1 1,\n"
	"  3 1 2, 3 0 1 for the leaf; 2 1 1, 2 0 1 for an issuer), marking those published\n"
	"  now (DNSSEC-validated TLSA at _25._tcp.HOST). Exit 0, 68 when HOST has no\n"
	"  address, 69 when no chain was seen (no STARTTLS, TLS or connection failure), 3 when\n"
	"  the resolver cannot validate DNSSEC, 64 usage.\n"
	"audit: compare the published TLSA records of every MX host of DOMAIN (a name without\n"
	"  an MX RRset is its own MX host, so an MX host name audits that host) with the\n"
	"  chains the servers present and with --next files; report stale records, PKIX\n"
	"  usages, Full(0) data, 3 0 x records, long TTLs, RRSIGs expiring soon, an\n"
	"  uncovered next key, and the check verdict. Exit as check --nagios: 0 OK,\n"
	"  1 warning, 2 critical, 3 the resolver cannot validate; 64 usage, 65/66 a bad or\n"
	"  unreadable --next file.\n"
	"  --next FILE         a certificate, chain or key staged for the next rollover\n"
	"                      (repeatable, up to 8): is a published record already for it?\n"
	"  --max-ttl SECONDS   warn when a TLSA TTL is longer (default 3600)\n"
	"  --rrsig-days DAYS   warn when an RRSIG expires within DAYS (default 7)\n"
	"fetch and audit:\n"
	"  --json          one JSON object (docs/tlsa.md)\n"
	"  --port N        connect to port N instead of 25 (labs); TLSA stays _25._tcp\n"
	CLI_DNS_HELP,
};

#define MAX_RECORDS 64
#define RECORD_LINE_MAX 8192

/* ---- create ----------------------------------------------------------------------- */

struct create_opts {
	int usage, selector, mtype;   /* -1 = default */
	const char *host;
	unsigned port;
};

/* One TLSA field from an option: a number 0-255 or a mnemonic, via the record parser. */
static int field_opt(const char *name, const char *arg, int pos, int *out)
{
	char text[128], err[TLSA_ERRLEN];
	struct tlsa_rr rr;
	const char *fill[3] = {"3", "1", "1"};

	fill[pos] = arg;
	snprintf(text, sizeof(text), "%.40s %.40s %.40s 00", fill[0], fill[1], fill[2]);
	if (strchr(arg, ' ') != NULL || tlsa_parse(text, &rr, err, sizeof(err)) != TLSA_OK) {
		fprintf(stderr, "danemx tlsa: --%s: '%s' is not a number 0-255 or a mnemonic\n", name, arg);
		return -1;
	}
	*out = pos == 0 ? rr.usage : pos == 1 ? rr.selector : rr.mtype;
	tlsa_rr_free(&rr);
	if (pos == 0 && *out > TLSA_DANE_EE) {
		/* 4-255 are unassigned: a record with one is unusable everywhere (RFC 6698 7.2) */
		fprintf(stderr, "danemx tlsa: --usage: %d is not a usage (0-3)\n", *out);
		return -1;
	}
	return 0;
}

static int print_record(const struct tlsa_rr *rr, const struct create_opts *o)
{
	struct buf b = BUF_INIT(0);
	int rc = o->host != NULL ? tlsa_format_zone(rr, o->host, o->port, &b) : tlsa_format_rdata(rr, &b);

	if (rc == TLSA_OK)
		printf("%s\n", buf_cstr(&b));
	else
		fprintf(stderr, "danemx tlsa: cannot format the record%s\n",
			o->host != NULL ? " (is --host a domain name?)" : "");
	buf_free(&b);
	return rc == TLSA_OK ? 0 : -1;
}

/* Compute and print one record from a certificate (or, without one, from the key). */
static int emit(X509 *x, EVP_PKEY *k, int usage, const struct create_opts *o)
{
	uint8_t s = (uint8_t)(o->selector >= 0 ? o->selector : 1), m = (uint8_t)(o->mtype >= 0 ? o->mtype : 1);
	char err[TLSA_ERRLEN];
	struct tlsa_rr rr;
	int rc;

	rc = x != NULL ? tlsa_from_cert(x, (uint8_t)usage, s, m, &rr, err, sizeof(err))
		       : tlsa_from_pkey(k, (uint8_t)usage, s, m, &rr, err, sizeof(err));
	if (rc != TLSA_OK) {
		fprintf(stderr, "danemx tlsa: %s\n", err);
		return -1;
	}
	rc = print_record(&rr, o);
	tlsa_rr_free(&rr);
	return rc;
}

static int create(const char *file, const struct create_opts *o)
{
	struct tlsa_material m;
	char err[TLSA_ERRLEN];
	X509 *leaf, *ca;
	int n, rc = 0;

	if ((rc = tlsa_load(file, &m, err, sizeof(err))) != TLSA_OK) {
		fprintf(stderr, "danemx tlsa: %s\n", err);
		return rc == TLSA_EFILE ? EX_NOINPUT : EX_DATAERR;
	}
	n = sk_X509_num(m.certs);
	leaf = n > 0 ? sk_X509_value(m.certs, 0) : NULL;
	ca = n > 1 ? sk_X509_value(m.certs, 1) : leaf;
	if (o->usage < 0) {
		rc = emit(leaf, m.pkey, 3, o);
		if (rc == 0 && n > 1)
			rc = emit(ca, NULL, 2, o);
	} else if (o->usage == 2 || o->usage == 0) {
		rc = emit(ca, m.pkey, o->usage, o);
	} else {
		rc = emit(leaf, m.pkey, o->usage, o);
	}
	tlsa_material_free(&m);
	return rc == 0 ? EX_OK : EX_DATAERR;
}

static int tlsa_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"usage", required_argument, NULL, 'u'},
		{"selector", required_argument, NULL, 's'},
		{"mtype", required_argument, NULL, 'm'},
		{"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	struct create_opts o = {-1, -1, -1, NULL, 25};
	int ch, port;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': if (field_opt("usage", optarg, 0, &o.usage) != 0) return EX_USAGE; break;
		case 's': if (field_opt("selector", optarg, 1, &o.selector) != 0) return EX_USAGE; break;
		case 'm': if (field_opt("mtype", optarg, 2, &o.mtype) != 0) return EX_USAGE; break;
		case 'H': o.host = optarg; break;
		case 'p':
			port = strspn(optarg, "0123456789") == strlen(optarg) && strlen(optarg) <= 5 ?
			       atoi(optarg) : 0;
			if (port < 1 || port > 65535) {
				fprintf(stderr, "danemx tlsa: --port: '%s' is not a port 1-65535\n", optarg);
				return EX_USAGE;
			}
			o.port = (unsigned)port;
			break;
		default: return cmd_usage(&cmd_tlsa_def);
		}
	}
	if (optind != argc - 1)
		return cmd_usage(&cmd_tlsa_def);
	return create(argv[optind], &o);
}

/* ---- verify ----------------------------------------------------------------------- */

struct records {
	struct tlsa_rr rr[MAX_RECORDS];
	int n;
};

static int add_record(struct records *r, const char *text, const char *where)
{
	char err[TLSA_ERRLEN];

	if (r->n >= MAX_RECORDS) {
		fprintf(stderr, "danemx tlsa: more than %d records\n", MAX_RECORDS);
		return -1;
	}
	if (tlsa_parse(text, &r->rr[r->n], err, sizeof(err)) != TLSA_OK) {
		fprintf(stderr, "danemx tlsa: %s: %s\n", where, err);
		return -1;
	}
	r->n++;
	return 0;
}

/* Records from a file: every line that is not blank or a comment is one record. */
static int read_records(const char *path, struct records *r)
{
	char line[RECORD_LINE_MAX], where[PATH_MAX + 32];
	FILE *fp = fopen(path, "r");
	int lineno = 0, rc = 0;

	if (fp == NULL) {
		fprintf(stderr, "danemx tlsa: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		size_t skip = strspn(line, " \t\r\n");
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			fprintf(stderr, "danemx tlsa: %s:%d: line too long\n", path, lineno);
			rc = -1;
		} else if (line[skip] != '\0' && line[skip] != '#' && line[skip] != ';') {
			snprintf(where, sizeof(where), "%s:%d", path, lineno);
			rc = add_record(r, line, where);
		}
	}
	fclose(fp);
	return rc;
}

static void records_free(struct records *r)
{
	for (int i = 0; i < r->n; i++)
		tlsa_rr_free(&r->rr[i]);
}

static void print_rdata(const char *prefix, const struct tlsa_rr *rr, const char *suffix)
{
	struct buf b = BUF_INIT(0);

	tlsa_format_rdata(rr, &b);
	printf("%s%s%s\n", prefix, buf_cstr(&b), suffix);
	buf_free(&b);
}

/* Hand the records to OpenSSL; the number it finds usable, or -1. */
static int dane_records(SSL *ssl, const struct records *r)
{
	int usable = 0;

	for (int i = 0; i < r->n; i++) {
		const struct tlsa_rr *rr = &r->rr[i];
		int rc;
		if (rr->usage == TLSA_PKIX_TA || rr->usage == TLSA_PKIX_EE) {
			print_rdata("ignored: ", rr, " (PKIX usages are not used for SMTP, RFC 7672 3.1.3)");
			continue;
		}
		rc = SSL_dane_tlsa_add(ssl, rr->usage, rr->selector, rr->mtype, rr->data, rr->len);
		if (rc < 0) {
			fprintf(stderr, "danemx tlsa: OpenSSL refused a record\n");
			return -1;
		}
		print_rdata(rc > 0 ? "usable: " : "unusable: ", rr, "");
		usable += rc > 0;
	}
	ERR_clear_error();
	return usable;
}

/* X509_verify_cert with the SSL's DANE state and parameters, as the TLS handshake of a
 * DANE client would run it; then report which record matched at which depth. */
static int dane_judge(SSL *ssl, STACK_OF(X509) *chain)
{
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	X509_STORE *store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
	uint8_t u, s, m;
	const unsigned char *data;
	size_t dlen;
	int ok, depth, rc = 1;

	if (xs == NULL || !X509_STORE_CTX_init(xs, store, sk_X509_value(chain, 0), chain)) {
		fprintf(stderr, "danemx tlsa: cannot set up verification\n");
		X509_STORE_CTX_free(xs);
		return EX_SOFTWARE;
	}
	X509_STORE_CTX_set_default(xs, "ssl_server");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs), SSL_get0_param(ssl));
	X509_STORE_CTX_set0_dane(xs, SSL_get0_dane(ssl));
	ok = X509_verify_cert(xs) == 1;
	if (ok && (depth = SSL_get0_dane_tlsa(ssl, &u, &s, &m, &data, &dlen)) >= 0) {
		struct tlsa_rr rr = {u, s, m, dlen, (unsigned char *)data};
		char where[64];
		snprintf(where, sizeof(where), " at depth %d%s", depth, depth == 0 ? " (the leaf)" : "");
		print_rdata("verified: the chain matches ", &rr, where);
		rc = 0;
	} else {
		printf("failed: %s\n", X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
	}
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return rc;
}

static int verify(const char *chainfile, const char *host, struct records *r)
{
	STACK_OF(X509) *chain = NULL;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	char err[TLSA_ERRLEN];
	int rc = EX_SOFTWARE, usable;

	if ((rc = tlsa_load_chain(chainfile, &chain, err, sizeof(err))) != TLSA_OK) {
		fprintf(stderr, "danemx tlsa: %s\n", err);
		return rc == TLSA_EFILE ? EX_NOINPUT : EX_DATAERR;
	}
	rc = EX_SOFTWARE;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL || SSL_CTX_dane_enable(ctx) <= 0 ||
	    (ssl = SSL_new(ctx)) == NULL || SSL_dane_enable(ssl, host) <= 0) {
		fprintf(stderr, "danemx tlsa: cannot set up OpenSSL DANE\n");
		goto out;
	}
	/* RFC 7672 3.1.1: DANE-EE(3) binds the key, names in the certificate are irrelevant */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	if ((usable = dane_records(ssl, r)) < 0)
		goto out;
	if (usable == 0) {
		printf("failed: no usable DANE record (encrypt-only for SMTP, RFC 7672 2.2)\n");
		rc = EX_DATAERR;
		goto out;
	}
	rc = dane_judge(ssl, chain);
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

static int tlsa_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"host", required_argument, NULL, 'H'},
		{"records", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	const char *host = NULL, *file = NULL;
	struct records r;
	int ch, rc;

	memset(&r, 0, sizeof(r));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'r': file = optarg; break;
		default: return cmd_usage(&cmd_tlsa_def);
		}
	}
	if (optind >= argc || (optind == argc - 1 && file == NULL))
		return cmd_usage(&cmd_tlsa_def);
	if (file != NULL && (rc = read_records(file, &r)) != 0) {
		records_free(&r);
		return rc == EX_NOINPUT ? EX_NOINPUT : EX_DATAERR;
	}
	for (int i = optind + 1; i < argc; i++)
		if (add_record(&r, argv[i], "record") != 0) {
			records_free(&r);
			return EX_DATAERR;
		}
	rc = verify(argv[optind], host, &r);
	records_free(&r);
	return rc;
}

static int cmd_tlsa_run(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return tlsa_create(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return tlsa_verify(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "fetch") == 0)
		return tlsa_fetch_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "audit") == 0)
		return tlsa_audit_main(argc - 1, argv + 1);
	return cmd_usage(&cmd_tlsa_def);
}

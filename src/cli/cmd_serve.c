/*
 * cmd_serve: `danemx serve`, a receiving MX: options in, the SMTP server engine on the
 * event loop, TLSA records for its certificates printed at start (ready to paste into a
 * zone), SIGHUP to reload certificates, SIGTERM/SIGINT to stop gracefully. Only this
 * file writes to stdout or chooses the exit code; the engine logs to stderr or syslog.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli/commands.h"
#include "dane/tlsa.h"
#include "smtp/server.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"

/* One descriptor per session: lift the soft limit toward --max-conn (never past hard). */
static void raise_nofile(size_t max_conn)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)(max_conn ? max_conn : 1000) + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot raise the open file limit to %llu", (unsigned long long)want);
}

static int cmd_serve_run(int argc, char **argv);

const struct command cmd_serve_def = {
	"serve", cmd_serve_run, "receive mail over STARTTLS into a Maildir",
	"danemx serve --listen ADDR:PORT [--listen ...] --cert CHAIN.pem --key KEY.pem\n"
	"              --maildir DIR [--hostname NAME] [--domain DOMAIN ...] [--max-size BYTES]\n"
	"              [--max-conn N] [--max-rcpt N] [--max-errors N] [--timeout SEC]\n"
	"              [--data-timeout SEC] [--session-timeout SEC] [--no-starttls] [--syslog]",
	"  --listen ADDR:PORT     address to listen on (127.0.0.2:2525, [::1]:2525; port 0 =\n"
	"                         any free port); repeat for more (at most 16)\n"
	"  --cert CHAIN.pem       certificate chain, leaf first; give --cert/--key twice to\n"
	"                         offer an RSA and an ECDSA certificate side by side\n"
	"  --key KEY.pem          private key of the preceding --cert\n"
	"  --maildir DIR          deliver into this Maildir (created when missing)\n"
	"  --hostname NAME        banner, Received: and TLSA owner name (default: host name)\n"
	"  --domain DOMAIN        accept recipients in DOMAIN only (550 5.1.1 for others);\n"
	"                         repeat for more; default: every recipient\n"
	"  --max-size BYTES       largest message (default 10485760); larger: 552\n"
	"  --max-conn N           simultaneous sessions (default 1000); more: 421\n"
	"  --max-rcpt N           recipients per message (default 100); more: 452\n"
	"  --max-errors N         client errors before 421 and disconnect (default 10)\n"
	"  --timeout SEC          wait for a command (default 300)\n"
	"  --data-timeout SEC     wait for message data (default 180)\n"
	"  --session-timeout SEC  whole session (default 3600)\n"
	"  --no-starttls          do not offer STARTTLS (--cert and --key not needed)\n"
	"  --syslog               log to syslog (facility mail) instead of stderr\n"
	"At start, prints the listen addresses and the TLSA records (3 1 1 for each leaf key,\n"
	"2 1 1 for its issuer when the chain file has one) to standard output.\n"
	"SIGHUP reloads the certificates; SIGTERM stops accepting and lets sessions finish.\n"
	"Exit: 0 after SIGTERM, 64 bad usage, 78 cannot start (certificate, maildir, address).\n",
};

#define MAX_LIST 16

struct serve_opts {
	const char *listen[MAX_LIST];
	const char *domains[MAX_LIST * 4];
	const char *certs[2], *keys[2];
	size_t nlisten, ndomains, ncerts, nkeys;
	struct smtp_server_params p;
	int syslog;
};

struct serve_run {
	struct event_base *base;
	struct smtp_server *srv;
	int stopping;
};

static int parse_count(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] == '-' || *end != '\0' || end == s || errno != 0 || v == 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int parse_seconds(const char *s, unsigned *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || end == s || errno != 0 || !(v > 0) || v > 86400.0 * 7)
		return -1;
	*ms = (unsigned)ceil(v * 1000.0);
	return 0;
}

static int add_to(const char **list, size_t *n, size_t max, const char *v)
{
	if (*n >= max)
		return -1;
	list[(*n)++] = v;
	return 0;
}

static int serve_parse(int argc, char **argv, struct serve_opts *o)
{
	enum { O_MAXERR = 256, O_TIMEOUT, O_DATA, O_SESSION, O_NOTLS, O_SYSLOG };
	static const struct option lo[] = {
		{"listen", required_argument, NULL, 'l'}, {"cert", required_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'}, {"maildir", required_argument, NULL, 'm'},
		{"hostname", required_argument, NULL, 'H'}, {"domain", required_argument, NULL, 'd'},
		{"max-size", required_argument, NULL, 's'}, {"max-conn", required_argument, NULL, 'C'},
		{"max-rcpt", required_argument, NULL, 'r'},
		{"max-errors", required_argument, NULL, O_MAXERR},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"data-timeout", required_argument, NULL, O_DATA},
		{"session-timeout", required_argument, NULL, O_SESSION},
		{"no-starttls", no_argument, NULL, O_NOTLS}, {"syslog", no_argument, NULL, O_SYSLOG},
		{NULL, 0, NULL, 0},
	};
	int ch, bad = 0;

	o->p.starttls = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'l': bad |= add_to(o->listen, &o->nlisten, MAX_LIST, optarg); break;
		case 'c': bad |= add_to(o->certs, &o->ncerts, 2, optarg); break;
		case 'k': bad |= add_to(o->keys, &o->nkeys, 2, optarg); break;
		case 'm': o->p.maildir = optarg; break;
		case 'H': o->p.hostname = optarg; break;
		case 'd': bad |= add_to(o->domains, &o->ndomains, (size_t)MAX_LIST * 4, optarg); break;
		case 's': bad |= parse_count(optarg, &o->p.max_size); break;
		case 'C': bad |= parse_count(optarg, &o->p.max_conn); break;
		case 'r': bad |= parse_count(optarg, &o->p.max_rcpt); break;
		case O_MAXERR: bad |= parse_count(optarg, &o->p.max_errors); break;
		case O_TIMEOUT: bad |= parse_seconds(optarg, &o->p.cmd_timeout_ms); break;
		case O_DATA: bad |= parse_seconds(optarg, &o->p.data_timeout_ms); break;
		case O_SESSION: bad |= parse_seconds(optarg, &o->p.session_timeout_ms); break;
		case O_NOTLS: o->p.starttls = 0; break;
		case O_SYSLOG: o->syslog = 1; break;
		default: return -1;
		}
		if (bad) {
			fprintf(stderr, "danemx: serve: bad or repeated value '%s' for %s\n",
				optarg, argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc || o->nlisten == 0 || o->p.maildir == NULL ||
	    (o->p.starttls && (o->ncerts == 0 || o->nkeys != o->ncerts))) {
		fprintf(stderr, "danemx: serve: %s\n",
			optind != argc ? "unexpected argument"
			: o->nlisten == 0 ? "--listen is required"
			: o->p.maildir == NULL ? "--maildir is required"
					       : "--cert and --key are required, one --key per --cert");
		return -1;
	}
	return 0;
}

/* 3 1 1 for the leaf key, 2 1 1 for its issuer when the file holds it. */
static int print_tlsa(const char *file, const char *host)
{
	STACK_OF(X509) *chain = NULL;
	struct tlsa_rr rr;
	struct buf out = BUF_INIT(0);
	char err[TLSA_ERRLEN];
	int r = -1, n;

	if (tlsa_load_chain(file, &chain, err, sizeof(err)) != TLSA_OK) {
		fprintf(stderr, "danemx: serve: %s\n", err);
		return -1;
	}
	n = sk_X509_num(chain);
	if (n > 1 && X509_check_issued(sk_X509_value(chain, 1), sk_X509_value(chain, 0)) != X509_V_OK) {
		/* A 2 1 1 for a certificate that did not issue the leaf would never match. */
		buf_printf(&out, "; no 2 1 1 record: the second certificate in %s did not issue the first\n",
			   file);
		n = 1;
	}
	for (int i = 0; i < n && i < 2; i++) {
		if (tlsa_from_cert(sk_X509_value(chain, i), i == 0 ? TLSA_DANE_EE : TLSA_DANE_TA,
				   TLSA_SEL_SPKI, TLSA_MT_SHA256, &rr, err, sizeof(err)) != TLSA_OK) {
			fprintf(stderr, "danemx: serve: %s: %s\n", file, err);
			goto out;
		}
		tlsa_format_zone(&rr, host, 25, &out);
		buf_putc(&out, '\n');
		tlsa_rr_free(&rr);
	}
	if (sk_X509_num(chain) == 1 &&
	    X509_check_issued(sk_X509_value(chain, 0), sk_X509_value(chain, 0)) != X509_V_OK)
		buf_printf(&out, "; no 2 1 1 record: %s holds no issuer certificate\n", file);
	fputs(buf_cstr(&out), stdout);
	r = 0;
out:
	buf_free(&out);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

static void serve_done(void *arg)
{
	struct serve_run *r = arg;

	log_info("all sessions finished, stopping");
	event_base_loopbreak(r->base);
}

static void serve_signal(evutil_socket_t sig, short what, void *arg)
{
	struct serve_run *r = arg;
	char err[512];

	if (sig == SIGHUP) {
		if (smtp_server_reload(r->srv, err, sizeof(err)) < 0)
			log_errorx("reload failed, keeping the old certificates: %s", err);
		else
			log_info("certificates reloaded");
		return;
	}
	if (r->stopping) {
		log_info("second signal: stopping now");
		event_base_loopbreak(r->base);
		return;
	}
	r->stopping = 1;
	log_info("signal %d: no new connections, finishing sessions in flight", (int)sig);
	smtp_server_shutdown(r->srv, serve_done, r);
}

static int serve_banner(const struct serve_opts *o, struct smtp_server *srv)
{
	char host[256];
	const char *h = o->p.hostname;

	if (h == NULL) {
		if (gethostname(host, sizeof(host)) < 0)
			str_copy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		h = host;
	}
	for (size_t i = 0; i < o->nlisten; i++)
		printf("; listening on %s port %u\n", o->listen[i], smtp_server_port(srv, i));
	if (o->p.starttls)
		for (size_t i = 0; i < o->ncerts; i++)
			if (print_tlsa(o->certs[i], h) < 0)
				return -1;
	fflush(stdout);
	return 0;
}

static int cmd_serve_run(int argc, char **argv)
{
	static const int sigs[] = {SIGHUP, SIGTERM, SIGINT};
	struct serve_opts o;
	struct serve_run r;
	struct event *sev[3] = {NULL, NULL, NULL};
	char err[512];
	int rc = EX_CONFIG;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	if (serve_parse(argc, argv, &o) < 0)
		return cmd_usage(&cmd_serve_def);
	o.p.listen = o.listen;
	o.p.nlisten = o.nlisten;
	o.p.domains = o.domains;
	o.p.ndomains = o.ndomains;
	for (size_t i = 0; i < o.ncerts; i++) {
		o.p.cert_files[i] = o.certs[i];
		o.p.key_files[i] = o.keys[i];
	}
	if (o.syslog)
		log_use_syslog("danemx");
	if (log_get_level() < LOG_LVL_INFO)
		log_set_level(LOG_LVL_INFO);
	raise_nofile(o.p.max_conn);
	if ((r.base = event_base_new()) == NULL) {
		fprintf(stderr, "danemx: serve: cannot create the event loop\n");
		return EX_OSERR;
	}
	if ((r.srv = smtp_server_new(r.base, &o.p, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx: serve: %s\n", err);
		goto out;
	}
	if (serve_banner(&o, r.srv) < 0)
		goto out;
	for (int i = 0; i < 3; i++) {
		sev[i] = evsignal_new(r.base, sigs[i], serve_signal, &r);
		evsignal_add(sev[i], NULL);
	}
	log_info("ready: %zu listen address(es), maildir %s, STARTTLS %s", o.nlisten, o.p.maildir,
		 o.p.starttls ? "offered" : "not offered");
	event_base_dispatch(r.base);
	rc = EX_OK;
out:
	for (int i = 0; i < 3; i++)
		if (sev[i] != NULL)
			event_free(sev[i]);
	smtp_server_free(r.srv);
	event_base_free(r.base);
	return rc;
}

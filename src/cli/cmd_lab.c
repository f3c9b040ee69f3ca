/*
 * cmd_lab: `danemx lab up|list|build`, the offline DANE world for users, tests and the
 * demo. `up` builds the world (lab/world.h), starts every receiver on one event loop and,
 * with --dns-listen, Debian's unbound daemon as a child, prints one readiness line and
 * runs until SIGINT/SIGTERM, then stops everything and removes its temporary directory.
 * It must never leave a child process or a temporary directory behind, and never listen
 * anywhere but loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/commands.h"
#include "lab/bulk.h"
#include "lab/receivers.h"
#include "lab/world.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

static int cmd_lab_run(int argc, char **argv);

const struct command cmd_lab_def = {
	"lab", cmd_lab_run, "run the offline DNSSEC/DANE lab (zones, certificates, receivers)",
	"danemx lab up [--dir DIR] [--port N] [--dns-listen ADDR@PORT] [--bulk N [--bulk-addrs K]]\n"
	"       danemx lab build --dir DIR [--port N] [--dns-listen ADDR@PORT] [--bulk N [--bulk-addrs K]]\n"
	"       danemx lab list [--json]",
	"Subcommands:\n"
	"  up        build the lab, start its receivers, print \"lab ready: DIR\",\n"
	"            run until SIGINT or SIGTERM, then stop and clean up\n"
	"  build     only write the lab's files into DIR\n"
	"  list      the scenarios: domain, expected verdict, what each shows\n"
	"Options:\n"
	"  --dir DIR              lab directory (up: default a fresh temporary directory,\n"
	"                         removed on exit; a given DIR is kept)\n"
	"  --port N               the SMTP port of every receiver (default 10025)\n"
	"  --dns-listen ADDR@PORT also run unbound(8) there, serving the lab zones to\n"
	"                         peers that use a system resolver (loopback only)\n"
	"  --bulk N               also N generated DANE domains bulkNNNNN.test (one MX\n"
	"                         each, TLSA 3 1 1, 4% planted failures), listed in DIR/bulk.txt\n"
	"                         with verdicts in DIR/bulk-expect.tsv (docs/scan.md)\n"
	"  --bulk-addrs K         the bulk MX hosts share K receiver addresses 127.2.x.y\n"
	"                         (default 64; 1 puts them all behind one address)\n"
	"  --json                 list: JSON instead of text\n",
};

#define UNBOUND_READY_MS 5000
#define CHILD_STOP_MS 5000

struct lab_up {
	struct event_base *base;
	pid_t unbound;
	int stop_signal;
};

/* ---- options ------------------------------------------------------------------- */

struct lab_opts {
	const char *dir;
	const char *dns_listen;
	unsigned port;
	int json;
	unsigned bulk, bulk_addrs;
	struct lab_bulk *b;          /* the bulk lab, when --bulk */
};

static int parse_count(const char *s, unsigned max, unsigned *out)
{
	unsigned long v;

	if (str_to_ulong(s, 1, max, &v) < 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_port(const char *s, unsigned *out)
{
	return parse_count(s, 65535, out);
}

/* ADDR@PORT with a loopback IPv4 ADDR: unbound must never serve the lab beyond the host. */
static int check_dns_listen(const char *s)
{
	char addr[64];
	const char *at = strchr(s, '@');
	struct in_addr a;
	unsigned port;

	if (at == NULL || (size_t)(at - s) >= sizeof(addr))
		return -1;
	memcpy(addr, s, (size_t)(at - s));
	addr[at - s] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
		return -1;
	return parse_port(at + 1, &port);
}

static int parse_opts(int argc, char **argv, struct lab_opts *o)
{
	static const struct option longopts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"port", required_argument, NULL, 'p'},
		{"dns-listen", required_argument, NULL, 'D'},
		{"json", no_argument, NULL, 'j'},
		{"bulk", required_argument, NULL, 'b'},
		{"bulk-addrs", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->port = 10025;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': o->dir = optarg; break;
		case 'j': o->json = 1; break;
		case 'b':
		case 'a':
			if (parse_count(optarg, ch == 'b' ? LAB_BULK_MAX : LAB_BULK_ADDRS_MAX,
					ch == 'b' ? &o->bulk : &o->bulk_addrs) != 0) {
				fprintf(stderr, "danemx lab: --%s: '%s' is not 1-%u\n",
					ch == 'b' ? "bulk" : "bulk-addrs", optarg,
					ch == 'b' ? LAB_BULK_MAX : LAB_BULK_ADDRS_MAX);
				return -1;
			}
			break;
		case 'p':
			if (parse_port(optarg, &o->port) != 0) {
				fprintf(stderr, "danemx lab: --port: '%s' is not a port 1-65535\n", optarg);
				return -1;
			}
			break;
		case 'D':
			if (check_dns_listen(optarg) != 0) {
				fprintf(stderr, "danemx lab: --dns-listen: '%s' is not 127.x.y.z@PORT\n", optarg);
				return -1;
			}
			o->dns_listen = optarg;
			break;
		default:
			return -1;
		}
	}
	if (o->bulk_addrs > 0 && o->bulk == 0)
		return -1;
	return optind == argc ? 0 : -1;
}

/* ---- list ---------------------------------------------------------------------- */

static void list_json(const struct lab_scenario *sc, size_t n)
{
	struct buf b = BUF_INIT(0);
	struct json j;
	char domain[DNS_NAME_MAX];

	json_init(&j, &b, 1);
	json_arr_begin(&j);
	for (size_t i = 0; i < n; i++) {
		snprintf(domain, sizeof(domain), "%s.test", sc[i].name);
		json_obj_begin(&j);
		json_kv_str(&j, "name", sc[i].name);
		json_kv_str(&j, "domain", domain);
		json_kv_str(&j, "expect", lab_verdict_name(sc[i].expect));
		json_kv_str(&j, "delivers_to", sc[i].delivers_to);
		json_kv_bool(&j, "demo", sc[i].demo);
		json_kv_str(&j, "shows", sc[i].shows);
		json_key(&j, "mx");
		json_arr_begin(&j);
		for (int h = 0; h < LAB_MAX_HOSTS && sc[i].hosts[h].name != NULL; h++)
			json_str(&j, sc[i].hosts[h].name);
		json_arr_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

static int lab_list(const struct lab_opts *o)
{
	size_t n;
	const struct lab_scenario *sc = lab_scenarios(&n);

	if (o->dir != NULL || o->dns_listen != NULL || o->bulk > 0)
		return -1;
	if (o->json) {
		list_json(sc, n);
		return EX_OK;
	}
	printf("%-16s %-26s %-14s %s\n", "SCENARIO", "DOMAIN", "EXPECT", "SHOWS");
	for (size_t i = 0; i < n; i++) {
		char domain[DNS_NAME_MAX];
		snprintf(domain, sizeof(domain), "%s.test", sc[i].name);
		printf("%-16s %-26s %-14s %s%s\n", sc[i].name, domain, lab_verdict_name(sc[i].expect),
		       sc[i].demo ? "[demo] " : "", sc[i].shows);
	}
	return EX_OK;
}

/* ---- build / up ---------------------------------------------------------------- */

/* 1 when this host can bind ::1: without it the lab publishes no AAAA record, rather
 * than fail to start on machines (containers) with IPv6 switched off. */
static int have_ipv6_loopback(void)
{
	struct sockaddr_in6 sa;
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int build(struct lab_opts *o, const char *dir, struct lab_world **w)
{
	struct lab_world_opts wo = {o->port, o->dns_listen, !have_ipv6_loopback(), NULL, NULL};
	char err[512];

	if (o->bulk > 0) {
		if ((o->b = lab_bulk_new(o->bulk, o->bulk_addrs)) == NULL) {
			fprintf(stderr, "danemx lab: out of memory\n");
			return EX_OSERR;
		}
		wo.extra_zones = lab_bulk_zones;
		wo.extra_arg = o->b;
	}
	if (lab_world_build(dir, &wo, w, err, sizeof(err)) != 0 ||
	    (o->b != NULL && lab_bulk_write_lists(o->b, dir, err, sizeof(err)) != 0)) {
		fprintf(stderr, "danemx lab: %s\n", err);
		return EX_CANTCREAT;
	}
	return EX_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		log_warn("cannot remove %s", path);
	return 0;
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Connect to addr@port by TCP until it answers or ms pass: unbound is then serving. */
static int wait_listening(const char *addr_at_port, pid_t child, unsigned ms)
{
	char addr[64];
	struct sockaddr_in sa;
	struct timespec nap = {0, 50L * 1000 * 1000};
	const char *at = strchr(addr_at_port, '@');

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	str_copy(addr, addr_at_port, sizeof(addr));
	addr[at - addr_at_port] = '\0';
	inet_pton(AF_INET, addr, &sa.sin_addr);
	sa.sin_port = htons((uint16_t)atoi(at + 1));
	for (unsigned waited = 0; waited < ms; waited += 50) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		if (waitpid(child, NULL, WNOHANG) == child)
			return -1;
		nanosleep(&nap, NULL);
	}
	return -1;
}

/* Start `unbound -d -c CONF` with stdout on our stderr (our stdout is the readiness
 * protocol) and no descriptor of ours beyond 0-2. */
static pid_t start_unbound(const char *conf)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(2, 1);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	execl("/usr/sbin/unbound", "unbound", "-d", "-c", conf, (char *)NULL);
	execlp("unbound", "unbound", "-d", "-c", conf, (char *)NULL);
	fprintf(stderr, "danemx lab: cannot run unbound: %s\n", strerror(errno));
	_exit(127);
}

/* SIGTERM, then SIGKILL if it has not gone within CHILD_STOP_MS. */
static void stop_child(pid_t pid)
{
	struct timespec nap = {0, 20L * 1000 * 1000};

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (unsigned waited = 0; waited < CHILD_STOP_MS; waited += 20) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		nanosleep(&nap, NULL);
	}
	log_warnx("unbound (pid %ld) ignored SIGTERM; killing it", (long)pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct lab_up *u = arg;

	(void)what;
	if (sig == SIGCHLD) {
		if (u->unbound > 0 && waitpid(u->unbound, NULL, WNOHANG) == u->unbound) {
			log_warnx("lab: unbound exited; the lab DNS daemon is gone");
			u->unbound = -1;
		}
		return;
	}
	u->stop_signal = (int)sig;
	event_base_loopbreak(u->base);
}

static int run_loop(struct lab_up *u, const struct lab_world *w, struct lab_bulk *bulk)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGCHLD};
	struct event *ev[3] = {NULL, NULL, NULL};
	struct lab_receivers *rx;
	char err[512];
	int rc = EX_OK;

	if ((rx = lab_receivers_start(u->base, w, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danemx lab: %s\n", err);
		return EX_UNAVAILABLE;
	}
	if (bulk != NULL && lab_bulk_start(bulk, u->base, w->port, w->mail_root, err, sizeof(err)) != 0) {
		fprintf(stderr, "danemx lab: %s\n", err);
		lab_receivers_stop(rx);
		return EX_UNAVAILABLE;
	}
	for (int i = 0; i < 3; i++)
		if ((ev[i] = evsignal_new(u->base, sigs[i], on_signal, u)) == NULL || evsignal_add(ev[i], NULL) != 0) {
			fprintf(stderr, "danemx lab: cannot install signal handlers\n");
			rc = EX_OSERR;
			goto out;
		}
	log_info("lab: %zu receiver addresses on port %u", lab_receivers_nlisten(rx) + lab_bulk_nlisten(bulk),
		 w->port);
	printf("lab ready: %s\n", w->dir);
	fflush(stdout);
	event_base_dispatch(u->base);
	log_info("lab: stopping (signal %d), %lu messages received", u->stop_signal,
		 lab_receivers_messages(rx));
out:
	for (int i = 0; i < 3; i++)
		if (ev[i] != NULL)
			event_free(ev[i]);
	lab_receivers_stop(rx);
	return rc;
}

static int lab_up(struct lab_opts *o)
{
	char tmp[PATH_MAX];
	const char *dir = o->dir, *tmpdir = getenv("TMPDIR");
	struct lab_world *w = NULL;
	struct lab_up u = {NULL, -1, 0};
	int rc;

	if (dir == NULL) {
		snprintf(tmp, sizeof(tmp), "%s/danemx-lab-XXXXXX", tmpdir != NULL && *tmpdir ? tmpdir : "/tmp");
		if (mkdtemp(tmp) == NULL) {
			fprintf(stderr, "danemx lab: %s: %s\n", tmp, strerror(errno));
			return EX_CANTCREAT;
		}
		dir = tmp;
	}
	if ((rc = build(o, dir, &w)) != EX_OK)
		goto out;
	if ((u.base = event_base_new()) == NULL) {
		rc = EX_OSERR;
		goto out;
	}
	if (o->dns_listen != NULL) {
		if ((u.unbound = start_unbound(w->dns.daemon_conf)) < 0 ||
		    wait_listening(o->dns_listen, u.unbound, UNBOUND_READY_MS) != 0) {
			fprintf(stderr, "danemx lab: unbound did not start on %s (see its messages above)\n",
				o->dns_listen);
			rc = EX_UNAVAILABLE;
			goto out;
		}
	}
	rc = run_loop(&u, w, o->b);
out:
	stop_child(u.unbound);
	lab_bulk_free(o->b);   /* its receivers use the loop: before the base goes */
	o->b = NULL;
	if (u.base != NULL)
		event_base_free(u.base);
	lab_world_free(w);
	if (o->dir == NULL)
		rm_tree(dir);
	return rc;
}

static int cmd_lab_run(int argc, char **argv)
{
	struct lab_opts o;
	const char *sub;
	struct lab_world *w = NULL;
	int rc;

	if (argc < 2)
		return cmd_usage(&cmd_lab_def);
	sub = argv[1];
	if (parse_opts(argc - 1, argv + 1, &o) != 0)
		return cmd_usage(&cmd_lab_def);
	if (strcmp(sub, "list") == 0)
		return (rc = lab_list(&o)) < 0 ? cmd_usage(&cmd_lab_def) : rc;
	if (o.json)
		return cmd_usage(&cmd_lab_def);
	if (strcmp(sub, "up") == 0)
		return lab_up(&o);
	if (strcmp(sub, "build") == 0 && o.dir != NULL) {
		if ((rc = build(&o, o.dir, &w)) == EX_OK)
			printf("lab built: %s\n", o.dir);
		lab_bulk_free(o.b);
		lab_world_free(w);
		return rc;
	}
	return cmd_usage(&cmd_lab_def);
}

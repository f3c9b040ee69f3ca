/*
 * cli_dns: the DNS options every resolving command shares (check, send, scan, tlsa,
 * lookup), spelled and documented once: the getopt_long entries to splice into a
 * command's table, their parser, the usage and help fragments, and the one place that
 * turns a dns_ctx_new failure into a message and a sysexits code. It never resolves.
 */
#ifndef DANEMX_CLI_DNS_H
#define DANEMX_CLI_DNS_H

#include <getopt.h>
#include <stddef.h>

#include "dns/dns.h"

struct event_base;

/* getopt_long values, out of the range of short options. */
enum {
	CLI_DNS_OPT_TRUST_ANCHOR = 0x2100,
	CLI_DNS_OPT_RESOLVER,
	CLI_DNS_OPT_CONFIG,
	CLI_DNS_OPT_TIMEOUT,
};

/* Splice into a command's struct option array (before its { NULL, 0, NULL, 0 }). */
#define CLI_DNS_LONGOPTS \
	{ "trust-anchor", required_argument, NULL, CLI_DNS_OPT_TRUST_ANCHOR }, \
	{ "resolver", required_argument, NULL, CLI_DNS_OPT_RESOLVER }, \
	{ "dns-config", required_argument, NULL, CLI_DNS_OPT_CONFIG }, \
	{ "timeout", required_argument, NULL, CLI_DNS_OPT_TIMEOUT }

/* For the command's usage line (same words as danemx.1's DNS OPTIONS). */
#define CLI_DNS_USAGE \
	"[--trust-anchor FILE] [--resolver ADDR[@PORT]] [--dns-config FILE] [--timeout SECONDS]"

/* For the command's help text. */
#define CLI_DNS_HELP \
	"DNS options:\n" \
	"  --trust-anchor FILE     DNSSEC trust anchor (DS/DNSKEY records); default\n" \
	"                          " DNS_DEFAULT_ANCHOR "\n" \
	"  --resolver ADDR[@PORT]  send queries to this resolver (still validated here)\n" \
	"  --dns-config FILE       unbound.conf-style file for the resolver (e.g. the lab's);\n" \
	"                          no default trust anchor is added\n" \
	"  --timeout SECONDS       per DNS query (default 10; fractions allowed)\n"

/* Handle one getopt_long result. 1: it was a DNS option and is stored in o; 0: not a
 * DNS option; -1: a bad value (a one-line error was printed; exit EX_USAGE). */
int cli_dns_option(int opt, const char *arg, struct dns_opts *o);

/* The sysexits code for a dns_ctx_new failure (EX_USAGE, EX_CONFIG, EX_UNAVAILABLE,
 * EX_OSERR). */
int cli_dns_exit_code(enum dns_err e);

/* dns_ctx_new for a command: on failure prints "danemx: CMD: reason" and returns the exit
 * code with *out NULL; 0 on success. */
int cli_dns_ctx(const char *cmd, struct event_base *base, const struct dns_opts *o,
		struct dns_ctx **out);

/* Can this resolver validate DNSSEC at all (the trust anchor zone's DNSKEY RRset comes back
 * secure)? Runs base's loop until the answer is in. Returns 0 when it can; EX_UNAVAILABLE
 * when a --resolver does not answer at all (one line printed, naming it); 3 when answers
 * cannot be validated, with the reason in why (the caller reports it in its own format:
 * never a DANE verdict then). */
int cli_dns_preflight(const char *cmd, struct event_base *base, struct dns_ctx *dns,
		      const struct dns_opts *o, char *why, size_t whylen);

#endif

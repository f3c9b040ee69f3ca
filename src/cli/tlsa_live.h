/*
 * tlsa_live: the two `danemx tlsa` subcommands that look at a live destination, fetch
 * (the chain a server presents, with the records one would publish for it) and audit
 * (published records against the live chains and staged next keys). Both run the check
 * engine; cmd_tlsa.c dispatches to them and owns the usage text. They never match
 * records themselves (engine/audit.c compares digests; OpenSSL authenticates).
 */
#ifndef DANEMX_TLSA_LIVE_H
#define DANEMX_TLSA_LIVE_H

/* argv[0] is the subcommand name; the return value is the exit code. */
int tlsa_fetch_main(int argc, char **argv);
int tlsa_audit_main(int argc, char **argv);

#endif

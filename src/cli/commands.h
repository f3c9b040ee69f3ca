/*
 * commands: the command table's entries. Each command lives in its own cmd_NAME.c,
 * parses its own options, runs the engine and decides its exit code. Exit codes follow
 * sysexits(3) unless a command documents otherwise (check --nagios).
 */
#ifndef DANEMX_COMMANDS_H
#define DANEMX_COMMANDS_H

struct command {
	const char *name;
	int (*run)(int argc, char **argv);  /* argv[0] is the command name */
	const char *summary;                /* one line for 'danemx help' */
	const char *usage;                  /* the SYNOPSIS lines, flag for flag as danemx.1 */
	const char *help;                   /* the option list for 'danemx help NAME' */
};

/* Print "usage: ..." for cmd to stderr and return EX_USAGE. */
int cmd_usage(const struct command *cmd);
const struct command *cmd_find(const char *name);

/* One line per command; keep in step with docs/danemx.1. */
/* extern const struct command cmd_NAME_def; one per command */
extern const struct command cmd_check_def;
extern const struct command cmd_send_def;
extern const struct command cmd_demo_def;
extern const struct command cmd_lookup_def;
extern const struct command cmd_serve_def;
extern const struct command cmd_lab_def;
extern const struct command cmd_tlsa_def;
extern const struct command cmd_scan_def;

#endif

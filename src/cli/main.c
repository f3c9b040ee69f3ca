/*
 * main: the command table and dispatch. Exact command names only, no prefix matching.
 * It owns nothing but the table: every command is a cmd_NAME.c file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sysexits.h>

#include "cli/commands.h"
#include "util/log.h"

static int cmd_help_run(int argc, char **argv);
static int cmd_version_run(int argc, char **argv);

static const struct command cmd_help_def = {
	"help", cmd_help_run, "show the commands, or one command's options",
	"danemx help [COMMAND]", "",
};
static const struct command cmd_version_def = {
	"version", cmd_version_run, "print the version", "danemx version", "",
};

static const struct command *const commands[] = {
	&cmd_check_def,
	&cmd_scan_def,
	&cmd_send_def,
	&cmd_demo_def,
	&cmd_serve_def,
	&cmd_tlsa_def,
	&cmd_lookup_def,
	&cmd_lab_def,
	&cmd_help_def,
	&cmd_version_def,
	NULL,
};

const struct command *cmd_find(const char *name)
{
	for (size_t i = 0; commands[i] != NULL; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

int cmd_usage(const struct command *cmd)
{
	fprintf(stderr, "usage: %s\n", cmd->usage);
	fprintf(stderr, "Run 'danemx help %s' for the options.\n", cmd->name);
	return EX_USAGE;
}

static void main_usage(FILE *fp)
{
	fprintf(fp, "usage: danemx [--version] [-v] COMMAND [ARGS]\n\n"
		    "DANE for SMTP (RFC 7672): check, send, receive and audit mail security.\n\n"
		    "Commands:\n");
	for (size_t i = 0; commands[i] != NULL; i++)
		fprintf(fp, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(fp, "\nRun 'danemx help COMMAND' for a command's options; see danemx(1).\n");
}

static int cmd_help_run(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		main_usage(stdout);
		return EX_OK;
	}
	if (argc > 2 || (cmd = cmd_find(argv[1])) == NULL) {
		fprintf(stderr, "danemx: help: unknown command '%s'\n", argv[1]);
		main_usage(stderr);
		return EX_USAGE;
	}
	printf("usage: %s\n\n%s - %s\n", cmd->usage, cmd->name, cmd->summary);
	if (cmd->help[0] != '\0')
		printf("\n%s", cmd->help);
	return EX_OK;
}

static int cmd_version_run(int argc, char **argv)
{
	if (argc > 1)
		return cmd_usage(&cmd_version_def);
	printf("danemx %s\n", DANEMX_VERSION);
	return EX_OK;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	int i = 1;

	log_init("danemx");
	signal(SIGPIPE, SIG_IGN);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)
			return cmd_version_run(1, argv);
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			main_usage(stdout);
			return EX_OK;
		}
		if (strcmp(argv[i], "-v") == 0) {
			log_set_level(log_get_level() < LOG_LVL_TRACE ? log_get_level() + 1 : LOG_LVL_TRACE);
			continue;
		}
		fprintf(stderr, "danemx: unknown option '%s'\n", argv[i]);
		main_usage(stderr);
		return EX_USAGE;
	}
	if (i >= argc) {
		main_usage(stderr);
		return EX_USAGE;
	}
	if ((cmd = cmd_find(argv[i])) == NULL) {
		fprintf(stderr, "danemx: unknown command '%s'\n", argv[i]);
		main_usage(stderr);
		return EX_USAGE;
	}
	optind = 1;
	return cmd->run(argc - i, argv + i);
}

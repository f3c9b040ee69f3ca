/*
 * log: stderr or syslog diagnostics with a level filter. Must never write to stdout,
 * which belongs to the commands' reports.
 */
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static const char *log_prog = "danemx";
static enum log_level log_level = LOG_LVL_WARN;
static int log_syslog;

void log_init(const char *progname)
{
	if (progname != NULL)
		log_prog = progname;
}

void log_set_level(enum log_level level) { log_level = level; }
enum log_level log_get_level(void) { return log_level; }

void log_use_syslog(const char *ident)
{
	openlog(ident != NULL ? ident : log_prog, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_syslog = 1;
}

static void log_vemit(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void log_vemit(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	static const char *const names[] = {"error", "warning", "info", "debug", "trace"};
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG};
	int saved = errno;
	char msg[2048];

	if (lvl > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno && saved != 0) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (log_syslog)
		syslog(prio[lvl], "%s", msg);
	else if (lvl == LOG_LVL_INFO)
		fprintf(stderr, "%s: %s\n", log_prog, msg);
	else
		fprintf(stderr, "%s: %s: %s\n", log_prog, names[lvl], msg);
	errno = saved;
}

#define LOG_FN(name, lvl, e)                                                                   \
	void name(const char *fmt, ...)                                                        \
	{                                                                                      \
		va_list ap;                                                                    \
		va_start(ap, fmt);                                                             \
		log_vemit(lvl, e, fmt, ap);                                                    \
		va_end(ap);                                                                    \
	}
LOG_FN(log_error, LOG_LVL_ERROR, 1)
LOG_FN(log_errorx, LOG_LVL_ERROR, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_trace, LOG_LVL_TRACE, 0)

void log_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_level = LOG_LVL_TRACE;
	log_vemit(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	abort();
}

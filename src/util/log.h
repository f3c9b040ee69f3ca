/*
 * log: the one way danemx code reports diagnostics. Messages go to stderr (or syslog
 * after log_use_syslog()). Engines log; they never print to stdout and never exit,
 * except log_panic() for a programming error (a bug aborts).
 */
#ifndef DANEMX_LOG_H
#define DANEMX_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_TRACE };

void log_init(const char *progname);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_use_syslog(const char *ident);

/* The plain forms append ": strerror(errno)" where errno is set; the _x forms never do. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define log_enabled(lvl) (log_get_level() >= (lvl))

#endif

/*
 * check_report: the human and monitoring forms of a check result. Text follows the order
 * an administrator reasons in: the domain's DNSSEC status, the records and their status,
 * then per server the addresses, TLS facts, chain, which TLSA record matched or why none
 * did, and the verdict. It only formats; the JSON form is engine/check_json.c.
 */
#ifndef DANEMX_CHECK_REPORT_H
#define DANEMX_CHECK_REPORT_H

#include <stdio.h>

#include "engine/check.h"

void check_report_text(FILE *fp, const struct check_result *res, int color);
/* One status line with perfdata for all domains (monitoring-plugin format). */
void check_report_nagios(FILE *fp, struct check_result *const *res, size_t n);

#endif

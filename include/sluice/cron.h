/*
 * cron.h — cron expressions and their fire times in an IANA time zone
 * (docs/scheduling.md is the user's description of every rule here).
 *
 * An expression is parsed once into bit sets, one per field; an expression
 * that can never fire is refused by the parser, so a parsed cron_expr always
 * has a next fire time.  Fire times are computed field by field on the wall
 * clock of the zone (next month in the set, next day, next hour, next
 * minute), then placed on the time line:
 *
 *   - a wall time that happens once is that instant;
 *   - one in a repeated span (clocks go back) is its first occurrence;
 *   - one in a skipped span (clocks go forward) is the instant of the jump,
 *     so every fire scheduled inside the gap collapses into one fire there.
 *
 * Time zones come from the system tz database through the C library: the
 * zone is made current with TZ=":NAME" and tzset() around each call and the
 * caller's TZ is put back afterwards.  That is process-global state, so these
 * functions are not for threads (sluice has one); all of it lives in the
 * zone_* section of cron.c.  glibc treats an unknown zone as UTC without a
 * word, so cron_zone_check looks for the TZif file itself.
 */
#ifndef SLUICE_CRON_H
#define SLUICE_CRON_H

#include "sluice/error.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct cron_expr {
	uint64_t minute; /* bit i: minute i, 0-59 */
	uint32_t hour;   /* bit i: hour i, 0-23 */
	uint32_t dom;    /* bit i: day of month i, 1-31 */
	uint16_t month;  /* bit i: month i, 1-12 */
	uint8_t dow;     /* bit i: weekday i, 0 (Sunday)-6; 7 is folded into 0 */
	/* The field starts with '*' (Vixie cron's DOM_STAR/DOW_STAR): when either
	 * is set a day must match both day fields, otherwise either one. */
	unsigned dom_star : 1, dow_star : 1;
} cron_expr;

/* Parse a five-field expression or an @macro.  0, or -1 with a usage error
 * that names the field and the reason: "minute '61': 61 is out of range
 * (0-59)", "day-of-month 30 never occurs in month 2 (February)". */
int cron_parse(const char *text, cron_expr *out, sl_error **err);

/* 0 when zone names a time zone of the system database (a TZif file under
 * /usr/share/zoneinfo; "UTC" always), or -1 with a usage error
 * "unknown time zone 'Europe/Berln'". */
int cron_zone_check(const char *zone, sl_error **err);

/* The first fire of e strictly after the instant `after`, on the wall clock of
 * zone (checked with cron_zone_check).  0 with *fire set, or -1 with an error
 * when none comes before the year 10000. */
int cron_next(const cron_expr *e, const char *zone, time_t after, time_t *fire, sl_error **err);

/* t as ISO 8601 local time in zone with its UTC offset,
 * "2026-03-29T03:00:00+02:00", into buf (32 bytes suffice).  0 or -1 with an error. */
int cron_format_time(const char *zone, time_t t, char *buf, size_t size, sl_error **err);

/* Read "YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM|-HH:MM|+HHMM]" (a space may stand
 * for the T).  With an offset it is that instant; without, a wall time in
 * zone: a repeated one is its first occurrence, a skipped one is read with
 * the offset before the jump (as Python's fold=0).  0, or -1 with a usage
 * error. */
int cron_parse_time(const char *text, const char *zone, time_t *out, sl_error **err);

#endif

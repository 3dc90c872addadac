/*
 * cmd_cron.c — `sluice cron "EXPR" [--from ISO8601] [--tz ZONE] [-n N]`: the
 * next N fire times of a cron expression, one ISO 8601 time with its UTC
 * offset per line, computed exactly as the daemon will (cron.h).
 *
 * --tz defaults to UTC, not $TZ: a pipeline's schedule.timezone defaults to
 * UTC, so `sluice cron "$EXPR"` shows what a schedule without a timezone does.
 */
#include "sluice/cli.h"
#include "sluice/cron.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DEFAULT_COUNT 5
#define MAX_COUNT     10000

static int read_count(const char *s, long *n, sl_error **err)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : DEFAULT_COUNT;
	if (s && (errno || end == s || *end || v < 1 || v > MAX_COUNT))
		return sl_error_usage(err, "-n %s: expected a count from 1 to %d", s, MAX_COUNT);
	*n = v;
	return 0;
}

static int print_fires(const cron_expr *e, const char *zone, time_t after, long n, sl_error **err)
{
	for (long i = 0; i < n; i++) {
		char buf[48];
		if (cron_next(e, zone, after, &after, err) < 0 ||
		    cron_format_time(zone, after, buf, sizeof(buf), err) < 0)
			return -1;
		puts(buf);
	}
	return 0;
}

int cmd_cron(const cli_args *a)
{
	sl_error *err = NULL;
	const char *zone = cli_value(a, "tz");
	const char *from = cli_value(a, "from");
	cron_expr e;
	long n = DEFAULT_COUNT;
	time_t after = time(NULL);
	if (!zone)
		zone = "UTC";
	if (cron_parse(a->pos[0], &e, &err) < 0 || cron_zone_check(zone, &err) < 0 ||
	    read_count(cli_value(a, "count"), &n, &err) < 0 ||
	    (from && cron_parse_time(from, zone, &after, &err) < 0) ||
	    print_fires(&e, zone, after, n, &err) < 0) {
		sl_error_wrap(&err, "cron");
		return cli_fail(&err);
	}
	if (fflush(stdout) != 0) {
		sl_error_errno(&err, errno, "cron: writing the fire times");
		return cli_fail(&err);
	}
	return EXIT_OK;
}

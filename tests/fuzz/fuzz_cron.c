/*
 * fuzz_cron.c — libFuzzer harness for cron expressions and fire times.
 *
 * The input up to its first newline is the expression (cron_parse), the rest
 * picks a zone and a start instant; when it parses, three fires are computed.
 * The whole input is also read as an ISO 8601 time (cron_parse_time).
 *
 * Besides "no crash, no leak, no UB", it traps when a promise breaks: every
 * refusal is a usage error with a message; a parsed expression always has a
 * next fire (up to the year 10000), strictly later than the one before and
 * within the 400 years the search allows; every fire can be shown.
 */
#include "sluice/cron.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zones[] = {
	"UTC",          "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
	"Pacific/Apia", "Asia/Kolkata",  "America/St_Johns", "Europe/Dublin"};

#define YEAR_S  31556952LL     /* a mean Gregorian year */
#define LAST_TS 253402300799LL /* 9999-12-31T23:59:59Z */

static void check_refusal(sl_error **err)
{
	if (!*err || !(*err)->msg || !(*err)->msg[0] || (*err)->kind != SL_ERR_USAGE)
		__builtin_trap();
	sl_error_release(err);
}

static void fires(const cron_expr *e, const uint8_t *rest, size_t n)
{
	uint64_t seed = 0;
	for (size_t i = 0; i < n && i < 8; i++)
		seed = seed << 8 | rest[i];
	const char *zone = zones[(n > 8 ? rest[8] : 0) % (sizeof(zones) / sizeof(zones[0]))];
	/* 1900 to 2200: where zones change and the search is exercised */
	time_t t = (time_t)(-2208988800LL + (int64_t)(seed % (300 * (uint64_t)YEAR_S)));
	for (int i = 0; i < 3; i++) {
		sl_error *err = NULL;
		time_t next;
		if (cron_next(e, zone, t, &next, &err) < 0) {
			/* only allowed at the end of time */
			if (t < LAST_TS - 401 * YEAR_S)
				__builtin_trap();
			check_refusal(&err);
			return;
		}
		if (next <= t || next - t > 401 * YEAR_S)
			__builtin_trap();
		char buf[48];
		if (cron_format_time(zone, next, buf, sizeof(buf), &err) < 0 || strlen(buf) < 25)
			__builtin_trap();
		t = next;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t elen = nl ? (size_t)(nl - data) : size;
	char *text = malloc(elen + 1);
	if (!text)
		return 0;
	memcpy(text, data, elen);
	text[elen] = 0;

	cron_expr e;
	sl_error *err = NULL;
	if (cron_parse(text, &e, &err) == 0) {
		if (err || !e.minute || !e.hour || !e.dom || !e.month || !e.dow)
			__builtin_trap();
		fires(&e, nl ? nl + 1 : data + size, nl ? size - elen - 1 : 0);
	} else {
		check_refusal(&err);
	}

	time_t t;
	if (cron_parse_time(text, "Europe/Berlin", &t, &err) < 0)
		check_refusal(&err);
	if (cron_zone_check(text, &err) < 0)
		check_refusal(&err);
	free(text);
	return 0;
}

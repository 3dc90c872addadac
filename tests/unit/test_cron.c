/*
 * test_cron.c — cron.h: parsing into bit sets, every refusal with its field
 * and reason, next-fire tables, and the DST rule on hand-checked days.
 *
 * The DST days (from zdump -v, tzdata 2025b):
 *   Europe/Berlin        2026-03-29 02:00 CET  -> 03:00 CEST (+01 -> +02)
 *                        2026-10-25 03:00 CEST -> 02:00 CET
 *   America/New_York     2026-03-08 02:00 EST  -> 03:00 EDT  (-05 -> -04)
 *                        2026-11-01 02:00 EDT  -> 01:00 EST
 *   Australia/Lord_Howe  2026-04-05 02:00 +11   -> 01:30 +1030 (30 minutes)
 *                        2026-10-04 02:00 +1030 -> 02:30 +11
 */
#include "sluice/cron.h"

#include "testutil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static cron_expr parse_ok(const char *text)
{
	cron_expr e;
	sl_error *err = NULL;
	int r = cron_parse(text, &e, &err);
	ck_assert_msg(r == 0, "'%s': %s", text, err ? err->msg : "?");
	return e;
}

/* The message of the refusal of text, in a static buffer. */
static const char *parse_error(const char *text)
{
	static char msg[512];
	cron_expr e;
	sl_error *err = NULL;
	ck_assert_msg(cron_parse(text, &e, &err) < 0, "'%s' should be refused", text);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	snprintf(msg, sizeof(msg), "%s", err->msg);
	sl_error_release(&err);
	return msg;
}

static time_t at(const char *iso, const char *zone)
{
	time_t t;
	sl_error *err = NULL;
	int r = cron_parse_time(iso, zone, &t, &err);
	ck_assert_msg(r == 0, "'%s': %s", iso, err ? err->msg : "?");
	return t;
}

static const char *show(time_t t, const char *zone)
{
	static char buf[8][48];
	static int k;
	k = (k + 1) % 8;
	sl_error *err = NULL;
	ck_assert_int_eq(cron_format_time(zone, t, buf[k], sizeof(buf[k]), &err), 0);
	return buf[k];
}

/* The next fires of text after from (read in zone), joined with spaces. */
static const char *fires(const char *text, const char *zone, const char *from, int n)
{
	static char out[1024];
	cron_expr e = parse_ok(text);
	time_t t = at(from, zone);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		sl_error *err = NULL;
		int r = cron_next(&e, zone, t, &t, &err);
		ck_assert_msg(r == 0, "'%s' after %s: %s", text, from, err ? err->msg : "?");
		size_t used = strlen(out);
		snprintf(out + used, sizeof(out) - used, "%s%s", i ? " " : "", show(t, zone));
	}
	return out;
}

#define EXPECT_FIRES(text, zone, from, n, want) ck_assert_str_eq(fires(text, zone, from, n), want)

static uint64_t bits(const int *v, int n)
{
	uint64_t b = 0;
	for (int i = 0; i < n; i++)
		b |= 1ULL << v[i];
	return b;
}
#define BITS(...) bits((const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

START_TEST(parse_fields)
{
	cron_expr e = parse_ok("*/15 1-23/5 5/10 jan,MAR-may */2");
	ck_assert_uint_eq(e.minute, BITS(0, 15, 30, 45));
	ck_assert_uint_eq(e.hour, BITS(1, 6, 11, 16, 21));
	ck_assert_uint_eq(e.dom, BITS(5, 15, 25));
	ck_assert_uint_eq(parse_ok("1-30/5 * * * *").minute, BITS(1, 6, 11, 16, 21, 26));
	ck_assert_uint_eq(e.month, BITS(1, 3, 4, 5));
	ck_assert_uint_eq(e.dow, BITS(0, 2, 4, 6));
	ck_assert(!e.dom_star && e.dow_star);

	e = parse_ok("  0\t0  * * fri-sun ");
	ck_assert_uint_eq(e.dow, BITS(0, 5, 6));
	ck_assert(e.dom_star && !e.dow_star);
	ck_assert_uint_eq(parse_ok("0 0 * * 7").dow, BITS(0));
	ck_assert_uint_eq(parse_ok("0 0 * * 0,7").dow, BITS(0));
	ck_assert_uint_eq(parse_ok("0 0 * * 5-7").dow, BITS(0, 5, 6));
	ck_assert_uint_eq(parse_ok("0 0 * * Mon-FRI/2").dow, BITS(1, 3, 5));
	ck_assert_uint_eq(parse_ok("0 0 * * */3").dow, BITS(0, 3, 6));
	ck_assert_uint_eq(parse_ok("0 0 * * 6-0").dow, BITS(0, 6));
	ck_assert_uint_eq(parse_ok("0 0 * DEC *").month, BITS(12));
	ck_assert_uint_eq(parse_ok("00,059 * * * *").minute, BITS(0, 59));
	ck_assert_uint_eq(parse_ok("*/90 * * * *").minute, BITS(0));
	ck_assert_uint_eq(parse_ok("0 0 1,31 * *").dom, BITS(1, 31));
	ck_assert_uint_eq(parse_ok("* * * * *").minute, ~0ULL >> 4);
}
END_TEST

START_TEST(parse_macros)
{
	static const char *const pairs[][2] = {
		{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"}, {" @HOURLY ", "0 * * * *"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		cron_expr a = parse_ok(pairs[i][0]), b = parse_ok(pairs[i][1]);
		ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "%s", pairs[i][0]);
	}
}
END_TEST

START_TEST(parse_errors)
{
	static const char *const cases[][2] = {
		{"", "the cron expression is empty"},
		{"0 6 * *", "'0 6 * *' has 4 fields; a cron expression has 5"},
		{"0 6 * * * *", "has 6 fields"},
		{"@daily", NULL},
		{"60 * * * *", "minute '60': 60 is out of range (0-59)"},
		{"0 24 * * *", "hour '24': 24 is out of range (0-23)"},
		{"0 0 0 * *", "day-of-month '0': 0 is out of range (1-31)"},
		{"0 0 32 * *", "day-of-month '32': 32 is out of range (1-31)"},
		{"0 0 * 13 *", "month '13': 13 is out of range (1-12)"},
		{"0 0 * 0 *", "month '0': 0 is out of range (1-12)"},
		{"0 0 * * 8", "day-of-week '8': 8 is out of range (0-7)"},
		{"0 0 * * 1-9", "day-of-week '1-9': 9 is out of range (0-7)"},
		{"99999999999999999999 * * * *", "is out of range (0-59)"},
		{"*/0 * * * *", "minute '*/0': a step of 0 never advances"},
		{"1-5/0 * * * *", "a step of 0"},
		{"5-1 * * * *", "minute '5-1': the range 5-1 runs backwards (write 1-5)"},
		{"0 0 * dec-jan *", "month 'dec-jan': the range dec-jan runs backwards"},
		{"0 0 * * sat-mon", "day-of-week 'sat-mon': the range sat-mon runs backwards"},
		{"0 0 * foo *", "month 'foo': unknown name 'foo' (jan, feb, ... dec)"},
		{"0 0 * * monday", "day-of-week 'monday': unknown name 'monday'"},
		{"0 0 * * jan", "day-of-week 'jan': unknown name 'jan'"},
		{"mon * * * *", "minute 'mon': 'mon' is not a number"},
		{"1,,2 * * * *", "minute '1,,2': an empty list element"},
		{"1, * * * *", "an empty list element"},
		{"1- * * * *", "minute '1-': a number is missing"},
		{"*/ * * * *", "a step after '/' is missing"},
		{"*/x * * * *", "unexpected character 'x'"},
		{"1-2-3 * * * *", "unexpected character '-'"},
		{"0 0 ? * *", "'?' is Quartz syntax"},
		{"0 0 L * *", "'L' (the last day"},
		{"0 0 15W * *", "'W' (the nearest weekday"},
		{"0 0 * * 5#3", "'#' (the nth weekday"},
		{"@reboot", "'@reboot' is not supported"},
		{"@dialy", "unknown macro '@dialy' (did you mean '@daily'?)"},
		{"@every", "unknown macro '@every' (@hourly"},
		{"0 0 30 2 *", "day-of-month 30 never occurs in month 2 (February)"},
		{"0 0 31 4,6,9,11 *",
		 "day-of-month 31 never occurs in month 4,6,9,11 (April, June, "
		 "September, November)"},
		{"0 0 30-31 feb *", "day-of-month 30-31 never occurs in month feb (February)"},
		{"0 0 31 2 */2", "never occurs in month 2"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!cases[i][1]) {
			parse_ok(cases[i][0]);
			continue;
		}
		const char *msg = parse_error(cases[i][0]);
		ck_assert_msg(strstr(msg, cases[i][1]), "'%s': expected '%s' in '%s'", cases[i][0],
			      cases[i][1], msg);
	}
	/* possible ones: Feb 29 (leap years), and 30 February with a weekday (ORed) */
	parse_ok("0 0 29 2 *");
	parse_ok("0 0 30 2 1");
	parse_ok("0 0 30,31 2,3 *");
}
END_TEST

START_TEST(next_utc)
{
	/* strictly after: a fire at the start instant is not repeated */
	EXPECT_FIRES("0 6 * * 1", "UTC", "2026-01-05T06:00:00Z", 2,
		     "2026-01-12T06:00:00+00:00 2026-01-19T06:00:00+00:00");
	EXPECT_FIRES("0 6 * * 1", "UTC", "2026-01-05T05:59:59", 1, "2026-01-05T06:00:00+00:00");
	EXPECT_FIRES("0 6 * * 1", "UTC", "2026-01-05T06:00:01", 1, "2026-01-12T06:00:00+00:00");
	/* both day fields restricted: ORed (Jan 2 and 9 are Fridays) */
	EXPECT_FIRES("0 0 1,15 * 5", "UTC", "2026-01-01", 5,
		     "2026-01-02T00:00:00+00:00 2026-01-09T00:00:00+00:00 "
		     "2026-01-15T00:00:00+00:00 2026-01-16T00:00:00+00:00 "
		     "2026-01-23T00:00:00+00:00");
	/* "*\/2" starts with '*': Vixie cron ANDs (odd days that are Fridays) */
	EXPECT_FIRES("0 0 */2 * 5", "UTC", "2026-01-01", 3,
		     "2026-01-09T00:00:00+00:00 2026-01-23T00:00:00+00:00 "
		     "2026-02-13T00:00:00+00:00");
	/* one of them '*': only the other counts */
	EXPECT_FIRES("0 0 13 * *", "UTC", "2026-01-01", 2,
		     "2026-01-13T00:00:00+00:00 2026-02-13T00:00:00+00:00");
	EXPECT_FIRES("0 0 * * 5", "UTC", "2026-01-01", 2,
		     "2026-01-02T00:00:00+00:00 2026-01-09T00:00:00+00:00");
	/* leap days: 2100 is not a leap year */
	EXPECT_FIRES("0 0 29 2 *", "UTC", "2097-01-01", 2,
		     "2104-02-29T00:00:00+00:00 2108-02-29T00:00:00+00:00");
	EXPECT_FIRES("59 23 31 12 *", "UTC", "2026-06-01", 2,
		     "2026-12-31T23:59:00+00:00 2027-12-31T23:59:00+00:00");
	EXPECT_FIRES("5/10 9-17/4 * jan,jul mon-fri", "UTC", "2026-01-30T17:50", 3,
		     "2026-01-30T17:55:00+00:00 2026-07-01T09:05:00+00:00 "
		     "2026-07-01T09:15:00+00:00");
	EXPECT_FIRES("@monthly", "UTC", "2026-12-15", 2,
		     "2027-01-01T00:00:00+00:00 2027-02-01T00:00:00+00:00");
	/* an instant given with an offset, shown in another zone */
	EXPECT_FIRES("0 12 * * *", "Asia/Kolkata", "2026-06-01T06:30:00Z", 1,
		     "2026-06-02T12:00:00+05:30");
	EXPECT_FIRES("0 12 * * *", "Asia/Kolkata", "2026-06-01T11:59:00+05:30", 1,
		     "2026-06-01T12:00:00+05:30");
}
END_TEST

START_TEST(next_far)
{
	cron_expr e = parse_ok("0 0 29 2 *");
	sl_error *err = NULL;
	time_t t;
	/* 9999 is not a leap year: nothing left before the year 10000 */
	ck_assert_int_eq(cron_next(&e, "UTC", at("9996-03-01", "UTC"), &t, &err), -1);
	ck_assert_msg(strstr(err->msg, "no fire time before the year 10000"), "%s", err->msg);
	sl_error_release(&err);
	ck_assert_int_eq(cron_next(&e, "UTC", (time_t)1 << 40, &t, &err), -1);
	ck_assert_msg(strstr(err->msg, "outside the years"), "%s", err->msg);
	sl_error_release(&err);
	/* Feb 29 that is also a Sunday (AND through "*\/7"): 2032 then 2060 */
	EXPECT_FIRES("0 0 29 2 */7", "UTC", "2026-01-01", 2,
		     "2032-02-29T00:00:00+00:00 2060-02-29T00:00:00+00:00");
}
END_TEST

START_TEST(dst_berlin)
{
	const char *z = "Europe/Berlin";
	/* spring forward: 02:30 does not exist, it fires once at 03:00 CEST */
	EXPECT_FIRES("30 2 * * *", z, "2026-03-28T12:00", 3,
		     "2026-03-29T03:00:00+02:00 2026-03-30T02:30:00+02:00 "
		     "2026-03-31T02:30:00+02:00");
	/* 02:00, 02:15, 02:30, 02:45 and 03:00 collapse into one fire at 03:00 */
	EXPECT_FIRES("*/15 * * * *", z, "2026-03-29T01:50", 3,
		     "2026-03-29T03:00:00+02:00 2026-03-29T03:15:00+02:00 "
		     "2026-03-29T03:30:00+02:00");
	EXPECT_FIRES("0 * * * *", z, "2026-03-29T00:30", 3,
		     "2026-03-29T01:00:00+01:00 2026-03-29T03:00:00+02:00 "
		     "2026-03-29T04:00:00+02:00");
	/* fall back: 02:30 happens twice, it fires at the first (CEST) */
	EXPECT_FIRES("30 2 * * *", z, "2026-10-24T12:00", 2,
		     "2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00");
	/* hourly: the second 02:00 (CET) is not a fire of its own */
	EXPECT_FIRES("0 * * * *", z, "2026-10-25T00:30", 3,
		     "2026-10-25T01:00:00+02:00 2026-10-25T02:00:00+02:00 "
		     "2026-10-25T03:00:00+01:00");
	/* from inside the second 02:xx: what it shows already fired */
	EXPECT_FIRES("*/20 * * * *", z, "2026-10-25T02:30:00+01:00", 2,
		     "2026-10-25T03:00:00+01:00 2026-10-25T03:20:00+01:00");
	/* a wall time --from in the repeated hour is the first one */
	EXPECT_FIRES("*/20 * * * *", z, "2026-10-25T02:30", 2,
		     "2026-10-25T02:40:00+02:00 2026-10-25T03:00:00+01:00");
	/* and one in the skipped hour is read with the offset before the jump */
	ck_assert_str_eq(show(at("2026-03-29T02:30", z), z), "2026-03-29T03:30:00+02:00");
}
END_TEST

START_TEST(dst_new_york)
{
	const char *z = "America/New_York";
	EXPECT_FIRES("30 2 * * *", z, "2026-03-07T12:00", 2,
		     "2026-03-08T03:00:00-04:00 2026-03-09T02:30:00-04:00");
	EXPECT_FIRES("59 2 8 3 *", z, "2026-01-01", 2,
		     "2026-03-08T03:00:00-04:00 2027-03-08T02:59:00-05:00");
	EXPECT_FIRES("30 1 * * *", z, "2026-10-31T12:00", 2,
		     "2026-11-01T01:30:00-04:00 2026-11-02T01:30:00-05:00");
	EXPECT_FIRES("0 * * * *", z, "2026-11-01T00:30", 3,
		     "2026-11-01T01:00:00-04:00 2026-11-01T02:00:00-05:00 "
		     "2026-11-01T03:00:00-05:00");
	EXPECT_FIRES("0 6 * * 1", z, "2026-03-01", 2,
		     "2026-03-02T06:00:00-05:00 2026-03-09T06:00:00-04:00");
}
END_TEST

START_TEST(dst_lord_howe)
{
	const char *z = "Australia/Lord_Howe";
	/* spring forward by 30 minutes: 02:00 -> 02:30 */
	EXPECT_FIRES("15 2 * * *", z, "2026-10-03T12:00", 2,
		     "2026-10-04T02:30:00+11:00 2026-10-05T02:15:00+11:00");
	EXPECT_FIRES("*/10 2 * * *", z, "2026-10-04T01:55", 3,
		     "2026-10-04T02:30:00+11:00 2026-10-04T02:40:00+11:00 "
		     "2026-10-04T02:50:00+11:00");
	/* fall back by 30 minutes: 01:30-02:00 twice */
	EXPECT_FIRES("45 1 * * *", z, "2026-04-04T12:00", 2,
		     "2026-04-05T01:45:00+11:00 2026-04-06T01:45:00+10:30");
	EXPECT_FIRES("*/10 * * * *", z, "2026-04-05T01:35", 4,
		     "2026-04-05T01:40:00+11:00 2026-04-05T01:50:00+11:00 "
		     "2026-04-05T02:00:00+10:30 2026-04-05T02:10:00+10:30");
}
END_TEST

START_TEST(zones_and_times)
{
	sl_error *err = NULL;
	ck_assert_int_eq(cron_zone_check("UTC", &err), 0);
	ck_assert_int_eq(cron_zone_check("Europe/Berlin", &err), 0);
	static const char *const bad[] = {
		"Europe/Berln", "",       "/etc/localtime", "../../etc/passwd", "Europe/../UTC",
		"zone.tab",     "Europe", "right/UTC",      "Europe/Berlin ",   "Europe/Berlin\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(cron_zone_check(bad[i], &err) < 0, "'%s' accepted", bad[i]);
		ck_assert_int_eq(err->kind, SL_ERR_USAGE);
		ck_assert_msg(strstr(err->msg, "unknown time zone '"), "%s", err->msg);
		sl_error_release(&err);
	}
	cron_expr e = parse_ok("@daily");
	time_t t;
	ck_assert_int_eq(cron_next(&e, "Europe/Berln", 0, &t, &err), -1);
	ck_assert_msg(strstr(err->msg, "unknown time zone 'Europe/Berln'"), "%s", err->msg);
	sl_error_release(&err);

	static const char *const bad_times[] = {
		"yesterday",
		"2026-13-01",
		"2026-02-29",
		"2026-01-01T24:00",
		"2026-01-01T12:60",
		"2026-01-01T12",
		"2026-01-01T12:00+25:00",
		"2026-01-01T12:00:00.5",
		"2026-1-1",
		"0999-01-01",
		"2026-01-01T12:00+01:",
		"2026-01-01x",
	};
	for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
		ck_assert_msg(cron_parse_time(bad_times[i], "UTC", &t, &err) < 0, "'%s' accepted",
			      bad_times[i]);
		ck_assert_msg(strstr(err->msg, "is not an ISO 8601 time"), "%s", err->msg);
		sl_error_release(&err);
	}
	ck_assert_int_eq((long long)at("1970-01-01", "UTC"), 0);
	ck_assert_int_eq((long long)at("1970-01-01T01:00+01:00", "UTC"), 0);
	ck_assert_int_eq((long long)at("1970-01-01 00:00:01z", "UTC"), 1);
	ck_assert_int_eq((long long)at("1970-01-01T00:00-0130", "UTC"), 5400);
	ck_assert_int_eq((long long)at("2024-02-29T12:00", "UTC"), 1709208000);
	ck_assert_str_eq(show(0, "America/New_York"), "1969-12-31T19:00:00-05:00");
}
END_TEST

START_TEST(tz_restored)
{
	cron_expr e = parse_ok("0 0 * * *");
	time_t t;
	sl_error *err = NULL;
	setenv("TZ", "Asia/Tokyo", 1);
	ck_assert_int_eq(cron_next(&e, "Europe/Berlin", 0, &t, &err), 0);
	ck_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
	unsetenv("TZ");
	ck_assert_int_eq(cron_next(&e, "America/New_York", 0, &t, &err), 0);
	ck_assert_ptr_null(getenv("TZ"));
	ck_assert_str_eq(show(t, "America/New_York"), "1970-01-01T00:00:00-05:00");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_fields);
	tcase_add_test(tc, parse_macros);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, next_utc);
	tcase_add_test(tc, next_far);
	tcase_add_test(tc, dst_berlin);
	tcase_add_test(tc, dst_new_york);
	tcase_add_test(tc, dst_lord_howe);
	tcase_add_test(tc, zones_and_times);
	tcase_add_test(tc, tz_restored);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}

/*
 * cron.c — cron expressions: the parser, the next fire time, the time zone.
 *
 * Three parts, each knowing nothing of the next:
 *
 *   parse        text -> cron_expr (bit sets), every refusal naming its field;
 *                the one semantic check is "can this ever fire" (day-of-month
 *                against the months), so cron_next always finds a fire;
 *   wall clock   cron_expr + a naive wall time -> the next naive wall time
 *                that matches, field by field (month, day, hour, minute) in
 *                the proleptic Gregorian calendar, no time zone involved;
 *   zone         naive wall time <-> instants in one IANA zone, through the
 *                C library with TZ set around each public call (zone_enter,
 *                zone_leave: the only code here that touches TZ).
 *
 * Placing a wall time W on the time line (wall_to_fire): the instant is
 * W - offset for an offset that is in effect at that instant.  Offsets lie
 * within +-14 h, so the offsets 16 h before and after W (as if W were UTC)
 * are the candidates; with one transition in those 32 h (true of every zone
 * since the 1900s), W is valid under one offset (normal), both (a repeated
 * span: the earlier instant, the first occurrence) or neither (a skipped
 * span: the instant of the jump, found by bisection).  That map never runs
 * backwards as W grows, so the next fire after T is the first matching W
 * from T's own wall minute on whose instant is after T; in a repeated span
 * the W that already happened are stepped over.
 */
#include "sluice/cron.h"

#include "sluice/arena.h"
#include "sluice/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define MAX_YEAR     9999
/* The Gregorian calendar repeats after 400 years (146097 days, a whole number
 * of weeks): what does not fire within them never fires. */
#define SEARCH_YEARS 400

/* ---- the calendar (proleptic Gregorian, days since 1970-01-01) ------------ */

struct civil {
	int64_t y;
	int mo, d, h, mi;
};

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int mo)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return mo == 2 && is_leap(y) ? 29 : days[mo - 1];
}

/* H. Hinnant's days_from_civil: exact for every year, no tables. */
static int64_t days_from_civil(int64_t y, int mo, int d)
{
	y -= mo <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *mo, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*mo = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*mo <= 2);
}

static int weekday(int64_t y, int mo, int d)
{
	int64_t w = (days_from_civil(y, mo, d) + 4) % 7; /* 1970-01-01 was a Thursday */
	return (int)(w < 0 ? w + 7 : w);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A naive wall time: seconds since 1970-01-01 00:00 on that wall clock. */
static int64_t naive_from_civil(const struct civil *c)
{
	return days_from_civil(c->y, c->mo, c->d) * 86400 + c->h * 3600 + c->mi * 60;
}

static void civil_from_naive(int64_t n, struct civil *c)
{
	int64_t days = floor_div(n, 86400);
	int64_t secs = n - days * 86400;
	civil_from_days(days, &c->y, &c->mo, &c->d);
	c->h = (int)(secs / 3600);
	c->mi = (int)(secs % 3600 / 60);
}

/* ---- parsing ---------------------------------------------------------------- */

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
					  "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const month_full[] = {"January",   "February", "March",    "April",
					 "May",       "June",     "July",     "August",
					 "September", "October",  "November", "December"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

struct field_def {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] is the value min + i */
};

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, NFIELDS };

static const struct field_def fields[NFIELDS] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day-of-month", 1, 31, NULL},
	{"month", 1, 12, month_names},
	/* 7 is Sunday too, so a range may end there (fri-sun, 5-7) */
	{"day-of-week", 0, 7, dow_names},
};

static const struct {
	const char *name, *expr;
} macros[] = {
	{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

/* One field being parsed: its definition and text, for the messages. */
struct fctx {
	const struct field_def *def;
	const char *text;
	size_t len;
};

static int field_error(const struct fctx *f, sl_error **err, const char *why)
{
	return sl_error_usage(err, "%s '%.*s': %s", f->def->name, (int)f->len, f->text, why);
}

static int bad_char(const struct fctx *f, char c, sl_error **err)
{
	char why[160];
	switch (c) {
	case '?':
		return field_error(f, err, "'?' is Quartz syntax, not cron's (write *)");
	case 'L':
	case 'l':
		return field_error(f, err, "'L' (the last day, Quartz syntax) is not supported");
	case 'W':
	case 'w':
		return field_error(f, err,
				   "'W' (the nearest weekday, Quartz syntax) is not supported");
	case '#':
		return field_error(f, err, "'#' (the nth weekday, Quartz syntax) is not supported");
	}
	if (isprint((unsigned char)c))
		snprintf(why, sizeof(why), "unexpected character '%c'", c);
	else
		snprintf(why, sizeof(why), "unexpected byte 0x%02x", (unsigned char)c);
	return field_error(f, err, why);
}

static int name_value(const struct fctx *f, const char *s, size_t len, int *v, sl_error **err)
{
	char why[200];
	const char *const *names = f->def->names;
	if (names && len == 3)
		for (int i = 0; names[i]; i++)
			if (strncasecmp(s, names[i], 3) == 0) {
				*v = f->def->min + i;
				return 0;
			}
	if (!names && len == 1)
		return bad_char(f, s[0], err);
	if (!names) {
		snprintf(why, sizeof(why), "'%.*s' is not a number", (int)(len > 40 ? 40 : len), s);
		return field_error(f, err, why);
	}
	snprintf(why, sizeof(why), "unknown name '%.*s' (%s)", (int)(len > 40 ? 40 : len), s,
		 names == month_names ? "jan, feb, ... dec" : "sun, mon, tue, wed, thu, fri, sat");
	return field_error(f, err, why);
}

/* A number or a name, [s, s+len), in the field's range. */
static int parse_value(const struct fctx *f, const char *s, size_t len, int *v, sl_error **err)
{
	char why[160];
	if (len == 0)
		return field_error(f, err, "a number is missing");
	if (isdigit((unsigned char)s[0])) {
		long n = 0;
		for (size_t i = 0; i < len; i++) {
			if (!isdigit((unsigned char)s[i]))
				return bad_char(f, s[i], err);
			if (n < 100000)
				n = n * 10 + (s[i] - '0');
		}
		if (n < f->def->min || n > f->def->max) {
			snprintf(why, sizeof(why), "%.*s is out of range (%d-%d)",
				 (int)(len > 12 ? 12 : len), s, f->def->min, f->def->max);
			return field_error(f, err, why);
		}
		*v = (int)n;
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		if (!isalpha((unsigned char)s[i]))
			return bad_char(f, s[i], err);
	return name_value(f, s, len, v, err);
}

static int parse_step(const struct fctx *f, const char *s, size_t len, int *step, sl_error **err)
{
	if (len == 0)
		return field_error(f, err, "a step after '/' is missing");
	long n = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return bad_char(f, s[i], err);
		if (n < 100000)
			n = n * 10 + (s[i] - '0');
	}
	if (n == 0)
		return field_error(f, err, "a step of 0 never advances");
	*step = n > 1000 ? 1000 : (int)n;
	return 0;
}

/* One list element: "*", "N", "A-B", each with an optional "/STEP"; "N/STEP"
 * means N up to the field's maximum (as croniter and many crons read it). */
static int parse_element(const struct fctx *f, const char *s, size_t len, uint64_t *bits,
			 sl_error **err)
{
	const char *slash = memchr(s, '/', len);
	size_t blen = slash ? (size_t)(slash - s) : len;
	int lo, hi, step = 1;
	if (slash && parse_step(f, slash + 1, len - blen - 1, &step, err) < 0)
		return -1;
	if (blen == 1 && s[0] == '*') {
		lo = f->def->min;
		hi = f->def->max;
	} else {
		const char *dash = memchr(s, '-', blen);
		size_t llen = dash ? (size_t)(dash - s) : blen;
		if (parse_value(f, s, llen, &lo, err) < 0)
			return -1;
		if (dash) {
			if (parse_value(f, dash + 1, blen - llen - 1, &hi, err) < 0)
				return -1;
		} else {
			hi = slash ? f->def->max : lo;
		}
		/* "fri-sun": a weekday range may wrap to Sunday written as 0 (cronie, croniter) */
		if (lo > hi && f->def == &fields[F_DOW] && hi == 0)
			hi = 7;
		if (lo > hi) {
			char why[200];
			snprintf(why, sizeof(why), "the range %.*s runs backwards (write %d-%d)",
				 (int)(blen > 40 ? 40 : blen), s, hi, lo);
			return field_error(f, err, why);
		}
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	return 0;
}

static int parse_field(const struct field_def *def, const char *s, size_t len, uint64_t *bits,
		       sl_error **err)
{
	struct fctx f = {def, s, len};
	*bits = 0;
	const char *end = s + len;
	for (const char *p = s;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		if (e == p)
			return field_error(&f, err, "an empty list element");
		if (parse_element(&f, p, (size_t)(e - p), bits, err) < 0)
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int macro_expr(const char *text, const char **expr, sl_error **err)
{
	size_t n = sizeof(macros) / sizeof(macros[0]);
	const char *names[sizeof(macros) / sizeof(macros[0]) + 1];
	for (size_t i = 0; i < n; i++) {
		names[i] = macros[i].name;
		if (strcasecmp(text, macros[i].name) == 0) {
			*expr = macros[i].expr;
			return 0;
		}
	}
	if (strcasecmp(text, "@reboot") == 0)
		return sl_error_usage(err,
				      "'@reboot' is not supported: sluice fires at clock times "
				      "(start something at boot with a systemd unit)");
	const char *m = did_you_mean(text, names, n);
	if (m)
		return sl_error_usage(err, "unknown macro '%s' (did you mean '%s'?)", text, m);
	return sl_error_usage(err,
			      "unknown macro '%s' (@hourly, @daily, @midnight, @weekly, @monthly, "
			      "@yearly, @annually)",
			      text);
}

/* The one way a well-formed expression can never fire: with the day-of-week
 * out of the way (it is '*', or '*' started one of the day fields so both
 * must match), no chosen day of the month exists in any chosen month. */
static int check_fires(const cron_expr *e, const char *dom_text, size_t dom_len,
		       const char *mon_text, size_t mon_len, sl_error **err)
{
	if (!e->dom_star && !e->dow_star)
		return 0;
	char names[160] = "";
	for (int m = 1; m <= 12; m++) {
		if (!(e->month & (1u << m)))
			continue;
		uint32_t possible = (uint32_t)((2ULL << days_in_month(2000, m)) - 2);
		if (e->dom & possible)
			return 0;
		size_t used = strlen(names);
		snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
			 month_full[m - 1]);
	}
	return sl_error_usage(err, "day-of-month %.*s never occurs in month %.*s (%s)",
			      (int)dom_len, dom_text, (int)mon_len, mon_text, names);
}

int cron_parse(const char *text, cron_expr *out, sl_error **err)
{
	const char *s = text + strspn(text, " \t");
	char word[32];
	size_t wlen = strcspn(s, " \t");
	if (s[0] == '@' && s[wlen + strspn(s + wlen, " \t")] == 0) {
		snprintf(word, sizeof(word), "%.*s", (int)(wlen < sizeof(word) ? wlen : 31), s);
		if (macro_expr(word, &s, err) < 0)
			return -1;
	}
	const char *start[NFIELDS + 1];
	size_t len[NFIELDS + 1];
	int n = 0;
	for (const char *p = s + strspn(s, " \t"); *p; p += strspn(p, " \t")) {
		size_t l = strcspn(p, " \t");
		if (n <= NFIELDS) {
			start[n] = p;
			len[n] = l;
		}
		n++;
		p += l;
	}
	if (n == 0)
		return sl_error_usage(err, "the cron expression is empty (minute hour day-of-month "
					   "month day-of-week, or @daily...)");
	if (n != NFIELDS)
		return sl_error_usage(err,
				      "'%s' has %d field%s; a cron expression has 5 "
				      "(minute hour day-of-month month day-of-week)",
				      text, n, n == 1 ? "" : "s");
	memset(out, 0, sizeof(*out));
	uint64_t bits[NFIELDS];
	for (int i = 0; i < NFIELDS; i++)
		if (parse_field(&fields[i], start[i], len[i], &bits[i], err) < 0)
			return -1;
	out->minute = bits[F_MINUTE];
	out->hour = (uint32_t)bits[F_HOUR];
	out->dom = (uint32_t)bits[F_DOM];
	out->month = (uint16_t)bits[F_MONTH];
	out->dow = (uint8_t)((bits[F_DOW] | bits[F_DOW] >> 7) & 0x7f);
	/* Vixie cron's rule, kept by cronie: a day field is "unrestricted" when
	 * its text starts with '*', even as "*\/2" */
	out->dom_star = start[F_DOM][0] == '*';
	out->dow_star = start[F_DOW][0] == '*';
	return check_fires(out, start[F_DOM], len[F_DOM], start[F_MONTH], len[F_MONTH], err);
}

/* ---- the next matching wall time ----------------------------------------- */

/* The lowest set bit of mask at or above from (from <= 63), or -1. */
static int next_bit(uint64_t mask, int from)
{
	uint64_t m = mask & (~0ULL << from);
	return m ? __builtin_ctzll(m) : -1;
}

static int day_matches(const cron_expr *e, int64_t y, int mo, int d)
{
	int dom = (e->dom >> d) & 1;
	int dow = (e->dow >> weekday(y, mo, d)) & 1;
	return (e->dom_star || e->dow_star) ? dom && dow : dom || dow;
}

static void next_month(struct civil *c)
{
	if (++c->mo > 12) {
		c->mo = 1;
		c->y++;
	}
	c->d = 1;
	c->h = c->mi = 0;
}

static void next_day(struct civil *c)
{
	c->d++;
	c->h = c->mi = 0;
}

/* The first wall time at or after *c that e matches, into *c; -1 past limit_year. */
static int next_match(const cron_expr *e, struct civil *c, int64_t limit_year)
{
	for (;;) {
		if (c->y > limit_year)
			return -1;
		if (!(e->month >> c->mo & 1)) {
			int m = next_bit(e->month, c->mo);
			if (m < 0) {
				c->y++;
				m = next_bit(e->month, 1);
			}
			c->mo = m;
			c->d = 1;
			c->h = c->mi = 0;
			continue;
		}
		if (c->d > days_in_month(c->y, c->mo)) {
			next_month(c);
			continue;
		}
		if (!day_matches(e, c->y, c->mo, c->d)) {
			next_day(c);
			continue;
		}
		int h = next_bit(e->hour, c->h);
		if (h < 0) {
			next_day(c);
			continue;
		}
		if (h != c->h) {
			c->h = h;
			c->mi = 0;
		}
		int mi = next_bit(e->minute, c->mi);
		if (mi < 0) {
			c->mi = 0;
			if (++c->h > 23)
				next_day(c);
			continue;
		}
		c->mi = mi;
		return 0;
	}
}

/* ---- the time zone (the only code that touches TZ) ------------------------ */

struct zone_scope {
	char *saved; /* the caller's TZ, or NULL when it was unset */
};

static int zone_name_ok(const char *zone)
{
	if (!zone[0] || zone[0] == '/' || strstr(zone, "..") || strncmp(zone, "right/", 6) == 0)
		return 0;
	for (const char *p = zone; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_-+.", *p))
			return 0;
	return strlen(zone) < 200;
}

static int is_tzif(const char *zone)
{
	char path[320];
	snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, zone);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return 0;
	struct stat st;
	char magic[4];
	int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		 read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
		 memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

int cron_zone_check(const char *zone, sl_error **err)
{
	/* glibc knows UTC without the database, so it works where tzdata is missing */
	if (strcmp(zone, "UTC") == 0)
		return 0;
	if (zone_name_ok(zone) && is_tzif(zone))
		return 0;
	return sl_error_usage(err,
			      "unknown time zone '%s' (an IANA name such as Europe/Berlin or UTC, "
			      "from " ZONEINFO_DIR ")",
			      zone);
}

static int zone_enter(const char *zone, struct zone_scope *z, sl_error **err)
{
	if (cron_zone_check(zone, err) < 0)
		return -1;
	const char *old = getenv("TZ");
	z->saved = old ? xstrdup(old) : NULL;
	char tz[256];
	snprintf(tz, sizeof(tz), ":%s", zone);
	if (setenv("TZ", tz, 1) < 0) {
		free(z->saved);
		return sl_error_errno(err, errno, "setenv TZ");
	}
	tzset();
	return 0;
}

static void zone_leave(struct zone_scope *z)
{
	if (z->saved)
		setenv("TZ", z->saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(z->saved);
	z->saved = NULL;
}

/* The UTC offset in seconds at instant t in the current zone. */
static int64_t zone_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!localtime_r(&tt, &tm))
		return 0;
	return tm.tm_gmtoff;
}

#define WINDOW (16 * 3600)

/* The instants whose wall clock reads n: count of them (0, 1 or 2) in at[],
 * earliest first, and the offsets in effect before and after. */
struct placing {
	int count;
	int64_t at[2];
	int64_t before, after;
};

static void place_wall(int64_t n, struct placing *p)
{
	p->before = zone_offset(n - WINDOW);
	p->after = zone_offset(n + WINDOW);
	p->count = 0;
	if (zone_offset(n - p->before) == p->before)
		p->at[p->count++] = n - p->before;
	if (p->after != p->before && zone_offset(n - p->after) == p->after)
		p->at[p->count++] = n - p->after;
	if (p->count == 2 && p->at[1] < p->at[0]) {
		int64_t t = p->at[0];
		p->at[0] = p->at[1];
		p->at[1] = t;
	}
}

/* The instant of the fire at wall time n: see the opening comment. */
static int64_t wall_to_fire(int64_t n)
{
	struct placing p;
	place_wall(n, &p);
	if (p.count > 0)
		return p.at[0];
	/* skipped: the first instant after the offset changed */
	int64_t lo = n - WINDOW, hi = n + WINDOW;
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (zone_offset(mid) == p.before)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* ---- the public calls ------------------------------------------------------ */

static int next_in_zone(const cron_expr *e, time_t after, time_t *fire, sl_error **err)
{
	int64_t a = (int64_t)after;
	/* 0001-01-01 to 9999-12-31: what the wall clock arithmetic is made for */
	if (a < -62135596800LL || a > 253402300799LL)
		return sl_error_usage(err, "time %lld is outside the years 1-9999", (long long)a);
	/* T's own wall minute already passed (or is T): start at the minute after it */
	int64_t wall = a + zone_offset(a);
	struct civil c;
	civil_from_naive(floor_div(wall, 60) * 60 + 60, &c);
	int64_t limit = c.y + SEARCH_YEARS > MAX_YEAR ? MAX_YEAR : c.y + SEARCH_YEARS;
	/* a repeated span is at most a day long (1440 minutes) */
	for (int i = 0; i < 4 * 1440; i++) {
		if (next_match(e, &c, limit) < 0)
			return sl_error_usage(err, "no fire time before the year %lld",
					      (long long)limit + 1);
		int64_t t = wall_to_fire(naive_from_civil(&c));
		if (t > a) {
			*fire = (time_t)t;
			return 0;
		}
		civil_from_naive(naive_from_civil(&c) + 60, &c);
	}
	return sl_error_make(err, "no fire time found after the clock change");
}

int cron_next(const cron_expr *e, const char *zone, time_t after, time_t *fire, sl_error **err)
{
	struct zone_scope z;
	if (zone_enter(zone, &z, err) < 0)
		return -1;
	int r = next_in_zone(e, after, fire, err);
	zone_leave(&z);
	return r;
}

int cron_format_time(const char *zone, time_t t, char *buf, size_t size, sl_error **err)
{
	struct zone_scope z;
	if (zone_enter(zone, &z, err) < 0)
		return -1;
	struct tm tm;
	int ok = localtime_r(&t, &tm) != NULL;
	zone_leave(&z);
	if (!ok)
		return sl_error_make(err, "time %lld cannot be shown in %s", (long long)t, zone);
	long off = tm.tm_gmtoff, aoff = off < 0 ? -off : off;
	int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 off < 0 ? '-' : '+', aoff / 3600, aoff % 3600 / 60);
	/* an offset with seconds (local mean time before 1900) keeps them */
	if (n > 0 && (size_t)n < size && aoff % 60)
		snprintf(buf + n, size - (size_t)n, ":%02ld", aoff % 60);
	if (n < 0 || (size_t)n >= size)
		return sl_error_make(err, "time buffer too small");
	return 0;
}

/* Exactly `width` digits at *p into *v, advancing *p. */
static int digits(const char **p, int width, int *v)
{
	int n = 0;
	for (int i = 0; i < width; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		n = n * 10 + ((*p)[i] - '0');
	}
	*p += width;
	*v = n;
	return 0;
}

static int read_offset(const char **p, int64_t *off)
{
	int sign = **p == '-' ? -1 : 1, hh, mm = 0;
	(*p)++;
	if (digits(p, 2, &hh) < 0)
		return -1;
	if (**p == ':') {
		(*p)++;
		if (digits(p, 2, &mm) < 0)
			return -1;
	} else if (**p && digits(p, 2, &mm) < 0) {
		return -1;
	}
	if (hh > 23 || mm > 59)
		return -1;
	*off = sign * (hh * 3600 + mm * 60);
	return 0;
}

/* The parts of an ISO 8601 time: the wall clock, and the offset when given. */
static int read_iso(const char *s, struct civil *c, int *sec, int *has_off, int64_t *off)
{
	int y, mo, d;
	const char *p = s;
	*sec = 0;
	*has_off = 0;
	memset(c, 0, sizeof(*c));
	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    digits(&p, 2, &d) < 0)
		return -1;
	if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -1;
	c->y = y;
	c->mo = mo;
	c->d = d;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &c->h) < 0 || *p++ != ':' || digits(&p, 2, &c->mi) < 0)
			return -1;
		if (*p == ':' && (p++, digits(&p, 2, sec) < 0))
			return -1;
		if (c->h > 23 || c->mi > 59 || *sec > 59)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			p++;
			*has_off = 1;
			*off = 0;
		} else if (*p == '+' || *p == '-') {
			if (read_offset(&p, off) < 0)
				return -1;
			*has_off = 1;
		}
	}
	return *p ? -1 : 0;
}

int cron_parse_time(const char *text, const char *zone, time_t *out, sl_error **err)
{
	struct civil c;
	int sec, has_off;
	int64_t off = 0;
	if (read_iso(text, &c, &sec, &has_off, &off) < 0)
		return sl_error_usage(err,
				      "'%s' is not an ISO 8601 time (YYYY-MM-DD[THH:MM[:SS]] with "
				      "an optional Z or +HH:MM)",
				      text);
	int64_t naive = naive_from_civil(&c) + sec;
	if (has_off) {
		*out = (time_t)(naive - off);
		return 0;
	}
	struct zone_scope z;
	if (zone_enter(zone, &z, err) < 0)
		return -1;
	struct placing p;
	place_wall(naive, &p);
	zone_leave(&z);
	*out = (time_t)(p.count > 0 ? p.at[0] : naive - p.before);
	return 0;
}

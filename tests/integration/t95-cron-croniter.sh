#!/usr/bin/env bash
# t95-cron-croniter: `sluice cron` against croniter (Debian python3-croniter)
# on generated expressions and start times (issue 16, item 1), then the
# command's errors and `sluice validate` on a bad schedule.cron.
#
# The generator (seeded, so a failure reproduces) mixes lists, ranges, steps,
# N/STEP, month and weekday names in any case, Sunday as 0 or 7, fri-sun, both
# day fields restricted, and the @macros; never-firing expressions are
# expected to be refused ("never occurs"), decided here independently.
# It avoids the two places where croniter and Vixie cron disagree (sluice
# follows Vixie; docs/scheduling.md): a day field written '*/N' next to a
# restricted other day field (Vixie ANDs, croniter ORs), and a "restricted"
# day field that lists every value (croniter treats it as '*'); and one croniter
# bug: with both day fields restricted it raises when the day of the month never
# occurs in the months ('0 0 31 9 sat' fires on Saturdays in September).
#
# croniter 1.3.5 gets zone-aware times wrong across DST changes, so it walks
# naive wall-clock time: in UTC that is the answer; in Europe/Berlin and
# America/New_York sluice's wall times (its output without the offset) are
# compared up to the first DST change after the start, starting away from the
# one before it.  The DST rule itself is hand-checked in tests/unit/test_cron.c.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"
PY=/usr/bin/python3
$PY -c 'import croniter, zoneinfo' 2>/dev/null ||
	skip "/usr/bin/python3 lacks croniter (apt-get install python3-croniter)"

SEED=${CRON_SEED:-16} CASES=${CRON_CASES:-600} $PY - "$SLUICE" <<'EOF'
import os, random, subprocess, sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from croniter import croniter

sluice = sys.argv[1]
rng = random.Random(int(os.environ["SEED"]))
MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
DOWS = "sun mon tue wed thu fri sat".split()
FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
N = 6
MDAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

def name(i, v):
    if i == 3 and rng.random() < 0.4:
        return rng.choice([str.lower, str.upper, str.title])(MONTHS[v - 1])
    if i == 4 and v < 7 and rng.random() < 0.4:
        return rng.choice([str.lower, str.upper, str.title])(DOWS[v])
    return str(v)

def element(i):
    lo, hi = FIELDS[i]
    top = 6 if i == 4 else hi  # 7 only as a single value, 'sun' or 0 as a range end
    kind = rng.random()
    if kind < 0.35:
        return name(i, rng.randint(lo, hi))
    if kind < 0.6:
        a = rng.randint(lo, top)
        b = rng.randint(a, top)
        s = f"{name(i, a)}-{name(i, b)}"
        return s + (f"/{rng.randint(1, 4)}" if rng.random() < 0.3 else "")
    if kind < 0.75:
        return f"{rng.randint(lo, top)}/{rng.randint(2, 12)}"
    if kind < 0.85 and i == 4:
        return rng.choice(["fri-sun", "sat-0", "5-7", "7", "0"])
    return f"*/{rng.randint(2, 20)}"

def values(i, text):
    """The set a field means (Vixie), to steer clear of croniter's '*' rule."""
    lo, hi = FIELDS[i]
    out = set()
    for el in text.split(","):
        base, _, step = el.partition("/")
        step = int(step or 1)
        if base == "*":
            a, b = lo, hi
        elif "-" in base:
            x, y = base.split("-")
            a, b = conv(i, x), conv(i, y)
            if i == 4 and b == 0 and a > b:
                b = 7
        else:
            a = conv(i, base)
            b = hi if step != 1 or "/" in el else a
        out |= set(range(a, b + 1, step))
    return {v % 7 for v in out} if i == 4 else out

def conv(i, s):
    s = s.lower()
    if i == 3 and s in MONTHS:
        return MONTHS.index(s) + 1
    if i == 4 and s in DOWS:
        return DOWS.index(s)
    return int(s)

def field(i):
    if rng.random() < (0.35 if i in (2, 4) else 0.2):
        return "*"
    return ",".join(element(i) for _ in range(rng.choice([1, 1, 1, 2, 3])))

def expression():
    if rng.random() < 0.05:
        return rng.choice(["@hourly", "@daily", "@weekly", "@monthly", "@yearly",
                           "@annually", "@midnight"])
    while True:
        f = [field(i) for i in range(5)]
        if rng.random() < 0.08:  # the end of short months: some never occur
            f[2] = rng.choice(["30", "31", "30,31", "29-31", "31/2"])
            f[3] = rng.choice(["2", "feb", "4,6", "apr,Jun,SEP,nov", "2,4", "feb-apr/2"])
            f[4] = "*"
        dom_star, dow_star = f[2][0] == "*", f[4][0] == "*"
        both = f[2] != "*" and f[4] != "*"
        if both and (dom_star or dow_star):
            continue  # Vixie ANDs, croniter ORs
        if both and not any(d <= MDAYS[m - 1] for m in values(3, f[3]) for d in values(2, f[2])):
            continue  # croniter raises on an impossible day-of-month even when ORed
        if (f[2] != "*" and len(values(2, f[2])) == 31) or \
           (f[4] != "*" and len(values(4, f[4])) == 7):
            continue  # croniter would read it as '*'
        return " ".join(f)

def never_fires(e):
    if e.startswith("@"):
        return False
    f = e.split()
    if f[2][0] != "*" and f[4][0] != "*":
        return False  # ORed with a weekday
    doms, months = values(2, f[2]), values(3, f[3])
    return not any(d <= MDAYS[m - 1] for m in months for d in doms)

def transitions(zone):
    """Instants (UTC) where zone's offset changes, 2019-2041."""
    z, out = ZoneInfo(zone), []
    t = datetime(2019, 1, 1, tzinfo=timezone.utc)
    prev = t.astimezone(z).utcoffset()
    while t.year < 2041:
        n = t + timedelta(hours=1)
        off = n.astimezone(z).utcoffset()
        if off != prev:
            out.append((n, prev))
        prev, t = off, n
    return out

TRANS = {z: transitions(z) for z in ("Europe/Berlin", "America/New_York")}

def start_time():
    t = datetime(2024, 1, 1) + timedelta(seconds=rng.randrange(8 * 365 * 86400))
    if rng.random() < 0.5:
        t = t.replace(second=0)  # on a minute: maybe exactly a fire
    return t

def sluice_cron(e, zone, start):
    r = subprocess.run([sluice, "cron", e, "--from", start.isoformat(), "--tz", zone,
                        "-n", str(N)], capture_output=True, text=True)
    return r.returncode, r.stdout.split(), r.stderr

def naive_croniter(e, start, n):
    it = croniter(e, start)
    return [it.get_next(datetime) for _ in range(n)]

checked = errors = fires = 0
for case in range(int(os.environ["CASES"])):
    e = expression()
    zone = "UTC" if case % 2 == 0 else rng.choice(sorted(TRANS))
    start = start_time()
    rc, out, err = sluice_cron(e, zone, start)
    what = f"sluice cron '{e}' --from {start.isoformat()} --tz {zone}"
    if never_fires(e):
        if rc != 2 or "never occurs in month" not in err:
            sys.exit(f"FAIL: {what}: expected exit 2 'never occurs', got {rc}: {err}{out}")
        errors += 1
        continue
    if rc != 0 or len(out) != N:
        sys.exit(f"FAIL: {what}: exit {rc}: {err}")
    got = [datetime.fromisoformat(s) for s in out]
    try:
        want = naive_croniter(e, start, N)
    except Exception as x:
        sys.exit(f"FAIL?: {what}: croniter: {x!r}; sluice: {out}")
    if zone != "UTC":
        z = ZoneInfo(zone)
        # the wall-clock span each change touches: [earlier, later] of its two readings
        spans = []
        for t, off in TRANS[zone]:
            before = (t + off).replace(tzinfo=None)
            after = t.astimezone(z).replace(tzinfo=None)
            spans.append((min(before, after), max(before, after)))
        # start well clear of any change: its wall time is unambiguous
        if any(a - timedelta(hours=3) <= start <= b + timedelta(hours=3) for a, b in spans):
            continue
        # compare the fires before the next change (minus 2 h of margin)
        limit = next(a for a, b in spans if a > start) - timedelta(hours=2)
        want = [w for w in want if w < limit]
        for g in got:
            if g.utcoffset() != g.astimezone(z).utcoffset():
                sys.exit(f"FAIL: {what}: {g} has the wrong offset for {zone}")
    got_wall = [g.replace(tzinfo=None) for g in got][:len(want)]
    if zone == "UTC" and any(g.utcoffset() != timedelta(0) for g in got):
        sys.exit(f"FAIL: {what}: not in UTC: {out}")
    if got_wall != want:
        sys.exit(f"FAIL: {what}:\n  sluice   {[g.isoformat() for g in got_wall]}\n"
                 f"  croniter {[w.isoformat() for w in want]}")
    checked += 1
    fires += len(want)
print(f"{checked} expressions agree with croniter ({fires} fire times), "
      f"{errors} never-firing ones refused")
if checked < int(os.environ["CASES"]) // 2:
    sys.exit(f"FAIL: only {checked} cases compared")
EOF

# ---- the command's errors: exit 2 and the message ----------------------------
run_sluice 2 cron "0 6 * * 1" --tz Europe/Berln
expect_contains "$ERR" "sluice: cron: unknown time zone 'Europe/Berln'"
expect_eq "$OUT" ""
run_sluice 2 cron "0 6 * * 1" --tz ../../etc/passwd
expect_contains "$ERR" "unknown time zone '../../etc/passwd'"
run_sluice 2 cron "0 0 30 2 *"
expect_contains "$ERR" "sluice: cron: day-of-month 30 never occurs in month 2 (February)"
run_sluice 2 cron "0 0 31 4,6,9,11 *"
expect_contains "$ERR" "day-of-month 31 never occurs in month 4,6,9,11 (April, June, September, November)"
run_sluice 2 cron "0 6 * *"
expect_contains "$ERR" "'0 6 * *' has 4 fields; a cron expression has 5"
run_sluice 2 cron "*/0 * * * *"
expect_contains "$ERR" "minute '*/0': a step of 0 never advances"
run_sluice 2 cron "5-1 * * * *"
expect_contains "$ERR" "minute '5-1': the range 5-1 runs backwards"
run_sluice 2 cron "0 25 * * *"
expect_contains "$ERR" "hour '25': 25 is out of range (0-23)"
run_sluice 2 cron "0 0 * * funday"
expect_contains "$ERR" "day-of-week 'funday': unknown name 'funday'"
run_sluice 2 cron "@reboot"
expect_contains "$ERR" "'@reboot' is not supported"
run_sluice 2 cron "@dialy"
expect_contains "$ERR" "did you mean '@daily'?"
run_sluice 2 cron "@daily" --from tomorrow
expect_contains "$ERR" "'tomorrow' is not an ISO 8601 time"
run_sluice 2 cron "@daily" -n 0
expect_contains "$ERR" "-n 0: expected a count from 1 to 10000"
run_sluice 2 cron "@daily" -n 5x
expect_contains "$ERR" "-n 5x: expected a count"
run_sluice 2 cron
run_sluice 2 cron "@daily" "@hourly"
run_sluice 2 cron "@daily" --tzz UTC
expect_contains "$ERR" "did you mean --tz?"

# ---- what it prints ---------------------------------------------------------
run_sluice 0 cron "30 2 * * *" --from 2026-03-28T12:00 --tz Europe/Berlin -n 2
expect_eq "$OUT" "2026-03-29T03:00:00+02:00
2026-03-30T02:30:00+02:00"
run_sluice 0 cron "0 6 * * 1" --from 2026-01-05T06:00:00Z
expect_eq "$(echo "$OUT" | wc -l)" 5
expect_eq "$(echo "$OUT" | head -1)" "2026-01-12T06:00:00+00:00"
run_sluice 0 cron "@hourly" --count=1 --from 2026-10-25T02:00+01:00 --tz Europe/Berlin
expect_eq "$OUT" "2026-10-25T03:00:00+01:00"
# default --from is now: the first fire is in the future and within an hour
run_sluice 0 cron "* * * * *" -n 1
now=$(date -u +%s)
first=$(date -u -d "$OUT" +%s)
[ "$first" -gt "$now" ] && [ "$first" -le $((now + 60)) ] || fail "first fire $OUT is not the next minute"
run_sluice 0 help cron
expect_contains "$OUT" "--tz ZONE"

# ---- sluice validate: the parser's message at the position of schedule.cron --
cat >p.yaml <<'YAML'
name: x
schedule:
  cron: "0 0 31 apr *"
  timezone: Europe/Berlin
steps:
  a: {run: echo}
YAML
run_sluice 2 validate p.yaml
expect_contains "$ERR" "p.yaml:3:9: schedule.cron: day-of-month 31 never occurs in month apr (April)"
sed -i 's/"0 0 31 apr \*"/"0 0 * * mon-fry"/' p.yaml
run_sluice 2 validate p.yaml
expect_contains "$ERR" "p.yaml:3:9: schedule.cron: day-of-week 'mon-fry': unknown name 'fry'"
sed -i 's/"0 0 \* \* mon-fry"/"0 6 * * MON-FRI"/' p.yaml
run_sluice 0 validate p.yaml
echo "cron: errors and validate checked"

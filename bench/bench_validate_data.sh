#!/usr/bin/env bash
# validate-data throughput: a generated CSV of BENCH_VALIDATE_MB megabytes
# (default 1024: 1 GiB; 10 columns, about 10 M rows) checked against 10
# expectations, in MB/s on one core, next to pandas (Debian python3-pandas)
# only reading the same file with read_csv, and the ratio.  Target (issue 6):
# >= 200 MB/s.  The file is generated once per size and kept in
# ${BENCH_DIR_DATA:-/tmp}/sluice-bench-vd-SIZE.csv (remove it by hand), since
# generating 1 GiB takes longer than validating it.
set -eu
: "${SLUICE:?set SLUICE to the sluice binary}"
mb=${BENCH_VALIDATE_MB:-1024}
dir=${BENCH_DIR_DATA:-/tmp}
csv=$dir/sluice-bench-vd-$mb.csv
work=$(mktemp -d /tmp/sluice-bench-vd.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ ! -s "$csv" ]; then
	echo "generating $csv ($mb MB)..."
	/usr/bin/python3 - "$csv.tmp" "$mb" <<'EOF'
import random, sys
path, mb = sys.argv[1], int(sys.argv[2])
target = mb * 1000 * 1000
rnd = random.Random(42)
plans = ["basic", "pro", "team", "enterprise"]
countries = ["US", "DE", "FR", "IN", "BR", "JP", "GB", "NG"]
# A pool of random rows; each written row gets a fresh id, so the file has
# as many distinct ids as rows while generation stays fast.
pool = []
for i in range(200000):
    age = rnd.randint(18, 95)
    income = round(rnd.lognormvariate(10.5, 0.6), 2)
    score = "" if rnd.random() < 0.02 else "%.4f" % rnd.random()
    name = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(4, 10)))
    email = name + "@example" + str(rnd.randint(1, 99)) + ".com"
    signup = "20%02d-%02d-%02d" % (rnd.randint(10, 24), rnd.randint(1, 12), rnd.randint(1, 28))
    comment = rnd.choice(['"likes it, a lot"', "ok", '"said ""meh"""', "", "churn risk"])
    pool.append(",%d,%.2f,%s,%s,%s,%s,%s,%s,%s\n" % (age, income, score, rnd.choice(plans),
               rnd.choice(countries), rnd.choice(["true", "false"]), email, signup, comment))
with open(path, "w") as f:
    f.write("id,age,income,score,plan,country,active,email,signup,comment\n")
    written, rid = 0, 0
    while written < target:
        rows = []
        for _ in range(50000):
            rows.append(str(rid) + pool[rnd.randrange(len(pool))])
            rid += 1
        block = "".join(rows)
        f.write(block)
        written += len(block)
EOF
	mv "$csv.tmp" "$csv"
fi
size=$(stat -c %s "$csv")

# Ten expectations, as a Great Expectations suite for such a file would have;
# the regex checks a date format (a column of a few thousand distinct values:
# results are memoised per distinct value).  The second suite moves the regex
# to the e-mail column, where nearly every value is new and each costs one
# glibc regexec (about 130 ns here): the worst case, shown apart.
cat >"$work/expect.yaml" <<'EOF'
row_count: {min: 1000}
expect:
  age: {not_null: true, between: {min: 0, max: 120}}
  income: {between: {min: 0, max: 10000000, mostly: 0.99}, mean_between: {min: 1000, max: 1000000}}
  score: {null_rate_max: 0.05}
  plan: {in_set: [basic, pro, team, enterprise]}
  country: {in_set: [US, DE, FR, IN, BR, JP, GB, NG]}
  active: {in_set: ["true", "false"]}
  signup: {regex: "^20[0-9]{2}-[01][0-9]-[0-3][0-9]$"}
EOF
grep -v '^  signup:' "$work/expect.yaml" >"$work/expect-email.yaml"
echo '  email: {regex: "^[a-z]+@[a-z0-9]+\\.com$"}' >>"$work/expect-email.yaml"

cat "$csv" >/dev/null # page cache: measure parsing, not the disk
# best_ms SUITE: the best wall time of 3 runs, in ms
best_ms() {
	local best=999999999 s e
	for _ in 1 2 3; do
		s=$(date +%s%N)
		"$SLUICE" step validate-data --with data="$csv" --with expectations="$1" \
			--with report="$work/report.json" 2>"$work/log" || {
			cat "$work/log" >&2
			exit 1
		}
		e=$((($(date +%s%N) - s) / 1000000))
		[ $e -lt $best ] && best=$e
	done
	echo $best
}
mbps() { awk -v b="$size" -v ms="$1" 'BEGIN { printf "%.0f", b / 1e6 / (ms / 1000) }'; }
best=$(best_ms "$work/expect.yaml")
rss=$(/usr/bin/time -f %M "$SLUICE" step validate-data --with data="$csv" \
	--with expectations="$work/expect.yaml" --with report="$work/report.json" 2>&1 >/dev/null |
	tail -1)
printf "validate-data %d MB CSV, 10 columns, 10 expectations: best of 3 %d ms = %s MB/s, peak RSS %d MB (target 200 MB/s)\n" \
	$((size / 1000000)) "$best" "$(mbps "$best")" $((rss / 1024))
worst=$(best_ms "$work/expect-email.yaml")
printf "  same, the regex on the all-distinct e-mail column:    best of 3 %d ms = %s MB/s\n" \
	"$worst" "$(mbps "$worst")"

if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
	pbest=999999999
	for _ in 1 2; do
		s=$(date +%s%N)
		/usr/bin/python3 -c 'import sys, pandas; pandas.read_csv(sys.argv[1])' "$csv"
		e=$((($(date +%s%N) - s) / 1000000))
		[ $e -lt $pbest ] && pbest=$e
	done
	theirs=$(awk -v b="$size" -v ms="$pbest" 'BEGIN { printf "%.0f", b / 1e6 / (ms / 1000) }')
	ratio=$(awk -v a="$pbest" -v b="$best" 'BEGIN { printf "%.1f", a / b }')
	printf "pandas.read_csv alone (no checks):                      best of 2 %d ms = %s MB/s; validate-data is %sx faster\n" \
		"$pbest" "$theirs" "$ratio"
else
	echo "pandas: skipped (python3-pandas is not installed; add it to BENCH_DEBS)"
fi

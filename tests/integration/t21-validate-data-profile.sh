#!/usr/bin/env bash
# The validate-data profile against numpy (Debian python3-numpy, a TEST_DEBS
# oracle): count, nulls, distinct, min, max, mean, std (ddof=1, as pandas'
# describe), and the p01..p99 quantiles (numpy.quantile, linear) of generated
# columns with ties, negatives, exponents, NaN text and nulls, at several sizes.
set -eu
. "$TESTS_DIR/integration/lib.sh"
/usr/bin/python3 -c 'import numpy' 2>/dev/null || skip "python3-numpy is not installed (make integration installs it)"
printf 'columns: {a: float, b: int}\n' >exp.yaml
for n in 1 2 7 1000 100000; do
	/usr/bin/python3 - "$n" <<'EOF'
import random, sys
n = int(sys.argv[1])
rnd = random.Random(n)
with open("d.csv", "w") as f:
    f.write("a,b,c,d\n")
    for i in range(n):
        a = rnd.choice(["", "nan", "%.17g" % rnd.gauss(3, 10), "%de-3" % rnd.randint(-5, 5),
                        " %d " % rnd.randint(-3, 3)])
        b = str(rnd.randint(-1000, 1000) if i % 3 else rnd.randint(0, 4))
        c = rnd.choice(["x", "y", "", "z z", '"q,r"'])
        d = "%.3f" % rnd.random()
        f.write("%s,%s,%s,%s\n" % (a, b, c, d))
EOF
	run_sluice 0 step validate-data --with data=d.csv --with expectations=exp.yaml
	/usr/bin/python3 - "$n" <<'EOF' || fail "profile differs from numpy for n=$n"
import csv, json, math, sys
import numpy as np
n = int(sys.argv[1])
prof = json.load(open("validate-data.profile.json"))
assert prof["rows"] == n, prof["rows"]
cols = {}
with open("d.csv", newline="") as f:
    r = csv.reader(f)
    head = next(r)
    for row in r:
        for k, v in zip(head, row):
            cols.setdefault(k, []).append(v)
def close(x, y, what):
    if x is None or y is None or (isinstance(y, float) and math.isnan(y)):
        assert (x is None) and (y is None or math.isnan(y)), (what, x, y)
        return
    assert abs(x - y) <= 1e-9 * max(1.0, abs(y)), (what, x, y)
for name in ("a", "b", "d"):
    vals = cols.get(name, [])
    p = prof["columns"][name]
    present = [v for v in vals if v != ""]
    assert p["count"] == len(present) and p["nulls"] == len(vals) - len(present), (name, p)
    x = np.array([float(v) for v in present], dtype=float)
    # distinct non-null values: NaN is a value (one), only an empty field is null
    distinct = len(set(x[~np.isnan(x)].tolist())) + bool(np.isnan(x).any())
    x = x[~np.isnan(x)]
    if len(x) == 0:
        assert p["mean"] is None and p["p50"] is None, p
        continue
    if p["distinct_exact"]:
        assert p["distinct"] == distinct, (name, p["distinct"], distinct)
    else:  # past 10,000 distinct values: a HyperLogLog estimate
        assert distinct > 10000 and abs(p["distinct"] - distinct) < 0.03 * distinct, (name, p, distinct)
    close(p["min"], float(x.min()), name + ".min")
    close(p["max"], float(x.max()), name + ".max")
    close(p["mean"], float(np.mean(x)), name + ".mean")
    close(p["std"], float(np.std(x, ddof=1)) if len(x) > 1 else None, name + ".std")
    for q, key in ((0.01, "p01"), (0.25, "p25"), (0.5, "p50"), (0.75, "p75"), (0.99, "p99")):
        close(p[key], float(np.quantile(x, q)), name + "." + key)
c = prof["columns"]["c"]
vals = [v for v in cols.get("c", []) if v != ""]
assert c["type"] == "string" and c["count"] == len(vals), c
want = {}
for v in vals:
    want[v] = want.get(v, 0) + 1
got = {t["value"]: t["count"] for t in c.get("top", [])}
assert got == want, (got, want)
EOF
done
echo ok

#!/usr/bin/python3
"""bench/drift_data.py DIR ROWS: writes DIR/ref.csv and DIR/cur.csv, ROWS rows
x 10 columns each (7 numeric, 3 categorical; the current one shifted in a few
columns; 1% missing values in one column).  Seeded, so the files are the same
every time."""
import sys

import numpy as np


def write(path, rng, n, shift):
    cols = [
        ("age", rng.integers(18, 90 + 3 * shift, n).astype(str)),
        ("income", np.char.mod("%.2f", rng.lognormal(10.5 + 0.05 * shift, 0.6, n))),
        ("score", np.array([repr(x) for x in rng.normal(0.02 * shift, 1, n)])),  # 17 digits
        ("latency_ms", np.char.mod("%.3f", rng.exponential(120 * (1 + 0.1 * shift), n))),
        ("ratio", np.char.mod("%.6f", rng.uniform(0, 1, n))),
        ("visits", rng.poisson(4 + shift, n).astype(str)),
        ("temp", np.where(rng.random(n) < 0.01, "", np.char.mod("%.1f", rng.normal(20, 5, n)))),
        ("plan", rng.choice(["basic", "pro", "team", "enterprise"], n,
                            p=[0.5, 0.3, 0.15, 0.05] if not shift else [0.45, 0.3, 0.15, 0.1])),
        ("country", rng.choice([f"c{i:02d}" for i in range(30)], n)),
        ("churned", rng.choice(["0", "1"], n, p=[0.8, 0.2] if not shift else [0.75, 0.25])),
    ]
    with open(path, "w") as f:
        f.write(",".join(c for c, _ in cols) + "\n")
        step = 100000
        for s in range(0, n, step):
            parts = [v[s:s + step] for _, v in cols]
            f.write("\n".join(",".join(row) for row in zip(*parts)) + "\n")


def main():
    d, n = sys.argv[1], int(sys.argv[2])
    write(f"{d}/ref.csv", np.random.default_rng(1), n, 0)
    write(f"{d}/cur.csv", np.random.default_rng(2), n, 1)


if __name__ == "__main__":
    main()

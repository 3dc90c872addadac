#!/usr/bin/python3
"""Data sets for the drift tests: drift_gen.py CASE DIR writes DIR/ref.csv and
DIR/cur.csv (or .jsonl).  Deterministic (seeded).  Cases cover tiny and large
sizes, both sides of scipy's exact/asymptotic KS switch (max(n1, n2) <= 10000)
and of the 1000-row method switch, ties, constant and empty columns,
categories present on one side only, missing values, and text that appears
after many distinct numbers."""
import json
import math
import sys

import numpy as np

NA_STRINGS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
              "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def write_csv(path, cols):
    names = list(cols)
    n = len(cols[names[0]])
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for i in range(n):
            f.write(",".join(str(cols[c][i]) for c in names) + "\n")


def write_jsonl(path, cols):
    names = list(cols)
    n = len(cols[names[0]])
    with open(path, "w") as f:
        for i in range(n):
            obj = {}
            for c in names:
                v = cols[c][i]
                if v == "":
                    obj[c] = None
                else:
                    try:
                        x = json.loads(v)
                        # NaN and Infinity are not JSON: keep such values as strings
                        obj[c] = x if isinstance(x, (int, float)) and math.isfinite(x) else v
                    except ValueError:
                        obj[c] = v
            f.write(json.dumps(obj) + "\n")


def fmt(x):
    return repr(float(x))


def sprinkle_missing(rng, values, rate):
    return [rng.choice(NA_STRINGS) if rng.random() < rate else v for v in values]


def mixed(rng, n, shift):
    """A realistic table: numbers, ties, categories, missing values, a constant."""
    plans = ["basic", "pro", "team", "enterprise"]
    p = [0.5, 0.3, 0.2, 0.0] if shift == 0 else [0.4, 0.3, 0.2, 0.1]
    return {
        "age": [str(v) for v in rng.integers(18 + shift * 5, 80 + shift * 5, n)],
        "income": sprinkle_missing(rng, [f"{v:.2f}" for v in rng.normal(50000 + shift * 2000,
                                                                          12000, n)], 0.05),
        "score": [fmt(v) for v in rng.normal(shift * 0.1, 1, n)],
        "rounded": [f"{v:.1f}" for v in rng.normal(shift * 0.05, 1, n)],  # many ties
        "plan": sprinkle_missing(rng, list(rng.choice(plans, n, p=p)), 0.02),
        "flag": [str(v) for v in rng.integers(0, 2, n)],
        "constant": ["7"] * n,
        "empty": [""] * n if shift else [fmt(v) for v in rng.normal(0, 1, n)],
        "void": [""] * n,
    }


def case(name, rng):
    if name == "tiny":
        ref = {"x": ["1.5", "2.5", "0.5"], "c": ["a", "b", "a"], "y": ["1", "2", "3"]}
        cur = {"x": ["3.5", "1.0", "2.0", "9"], "c": ["b", "b", "c", "a"],
               "y": ["4", "5", "6", "1"]}
        return ref, cur
    if name == "header-only":  # no rows in the current file: every column one-sided
        ref = mixed(rng, 50, 0)
        return ref, {k: [] for k in ref}
    if name == "one-row":
        return {"x": ["1.0"], "c": ["a"]}, {"x": ["2.0"], "c": ["a"]}
    if name == "mixed-500":
        return mixed(rng, 500, 0), mixed(rng, 400, 1)
    if name == "mixed-1000":  # exactly the method switch: still ks / chisquare
        return mixed(rng, 1000, 0), mixed(rng, 1000, 1)
    if name == "mixed-1001":  # one row more: wasserstein / jensenshannon
        return mixed(rng, 1001, 0), mixed(rng, 700, 1)
    if name == "same":
        ref = mixed(rng, 800, 0)
        return ref, dict(ref)
    if name in ("exact-10000", "exact-square", "asymp-10001", "asymp-big"):
        n1, n2 = {"exact-10000": (10000, 9999), "exact-square": (4000, 4000),
                  "asymp-10001": (10001, 3000), "asymp-big": (60000, 45000)}[name]
        ref = {"a": [fmt(v) for v in rng.normal(0, 1, n1)],
               "b": [fmt(v) for v in rng.exponential(1, n1)],
               "t": [str(v) for v in rng.integers(0, 12, n1)],
               "k": list(rng.choice(["x", "y", "z"], n1, p=[0.5, 0.3, 0.2]))}
        cur = {"a": [fmt(v) for v in rng.normal(0.03, 1, n2)],
               "b": [fmt(v) for v in rng.exponential(1.05, n2)],
               "t": [str(v) for v in rng.integers(0, 12, n2)],
               "k": list(rng.choice(["x", "y", "z", "w"], n2, p=[0.45, 0.3, 0.2, 0.05]))}
        return ref, cur
    if name == "one-sided":
        # values on one side only; a category only in the reference; one only in current
        ref = {"num": [fmt(v) for v in rng.normal(0, 1, 300)], "gone": ["x"] * 300,
               "cat": list(rng.choice(["a", "b", "old"], 300))}
        cur = {"num": [""] * 200, "gone": [""] * 200,
               "cat": list(rng.choice(["a", "b", "new"], 200))}
        return ref, cur
    if name == "late-text":
        # 3000 distinct numbers, then text: the reference is read again to count strings
        r = [fmt(v) for v in rng.normal(0, 1, 3000)]
        r[-1] = "oops"
        c = [fmt(v) for v in rng.normal(0, 1, 2000)]
        return {"v": r, "w": [str(i % 4) for i in range(3000)]}, \
               {"v": c, "w": [str(i % 5) for i in range(2000)]}
    if name == "late-text-cur":
        # the reference holds 3000 distinct numbers only; the current one has text:
        # the reference is read again to count its strings
        r = [fmt(v) for v in rng.normal(0, 1, 3000)]
        c = [fmt(v) for v in rng.normal(0, 1, 2000)]
        c[1500] = "n.a."
        return {"v": r}, {"v": c}
    if name == "number-forms":
        # how numbers may be written; both the exact fast path and strtod
        forms = ["1e22", "1e23", "123456789012345678901", "0.1", "-0", "+5", ".5", "5.",
                 " 7 ", "9007199254740993", "1e-320", "4.9e-324", "2.2250738585072014e-308",
                 "0.30000000000000004", "-1.5e150", "-1E5", "3.14159265358979323846",
                 "000123.4500", "1e+2", "7e-23"]
        r = [forms[i % len(forms)] for i in range(200)]
        c = [forms[(i * 7) % len(forms)] for i in range(150)] + ["12.5"] * 50
        return {"x": r, "t": ["1e400" if i == 3 else "1" for i in range(200)]}, \
               {"x": c, "t": ["2"] * 200}
    if name == "categorical-numbers":
        # five distinct numbers: categorical, keyed by value ("1" and "1.0" are one)
        r = list(rng.choice(["1", "2", "3", "4", "5"], 600))
        c = list(rng.choice(["1.0", "2", "3", "4", "5"], 500))
        return {"n": r}, {"n": c}
    raise SystemExit(f"unknown case {name}")


def main():
    name, out = sys.argv[1], sys.argv[2]
    ext = sys.argv[3] if len(sys.argv) > 3 else "csv"
    rng = np.random.default_rng(sum(map(ord, name)))
    ref, cur = case(name, rng)
    w = write_jsonl if ext == "jsonl" else write_csv
    w(f"{out}/ref.{ext}", ref)
    w(f"{out}/cur.{ext}", cur)


if __name__ == "__main__":
    main()

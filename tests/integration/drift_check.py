#!/usr/bin/python3
"""Oracle for the drift step: recompute a drift report with numpy/scipy and
compare it with the one sluice wrote.

    drift_check.py REF CUR REPORT [--columns a,b] [--categorical c] [--numeric d]
                   [--small-sample N] [--threshold-share X] [--ks X] [--chi2 X]
                   [--wasserstein X] [--js X] [--format csv|jsonl]

The rules are the ones docs/steps/drift.md states (issue 6): missing values
(pandas' default NA strings) dropped per column; numeric when every value on
both sides is a number and there are more than 5 distinct values; KS with
scipy.stats.ks_2samp (method='auto'), Wasserstein / max(np.std(ref), 0.001),
PSI over the reference deciles (np.quantile) with 1e-4 for empty bins,
scipy.stats.chisquare(cur, ref_share * n_cur), scipy's jensenshannon.

Every number must agree to 1e-6 relative or 1e-9 absolute; kinds, methods and
decisions must be equal.  Prints the largest deviation seen; exits 1 on any
mismatch.  Run with Debian's /usr/bin/python3 (numpy and scipy).
"""
import argparse
import csv
import json
import math
import re
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance

NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
      "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
NUMBER = re.compile(r"^[ \t]*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t]*$")
RTOL, ATOL = 1e-6, 1e-9


def read(path, fmt):
    if fmt == "jsonl" or (fmt == "auto" and path.endswith((".jsonl", ".ndjson", ".json"))):
        rows, cols = [], []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                obj = json.loads(line)
                if not rows:
                    cols = list(obj)  # the reader's columns: the first object's keys
                rows.append(obj)

        def text(v):
            if v is None:
                return None
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, str):
                return v
            return json.dumps(v)
        return cols, {c: [text(r.get(c)) for r in rows] for c in cols}, len(rows)
    with open(path, newline="", encoding="utf-8-sig") as f:
        rd = csv.reader(f)
        cols = next(rd)
        data = {c: [] for c in cols}
        n = 0
        for row in rd:
            n += 1
            for c, v in zip(cols, row):
                data[c].append(v)
    return cols, data, n


def present(values):
    return [v for v in values if v is not None and v not in NA]


def as_numbers(values):
    out = []
    for v in values:
        if not NUMBER.match(v):
            return None
        x = float(v)
        if not math.isfinite(x):
            return None
        out.append(x)
    return np.array(out, dtype=float)


def psi_props(r, c):
    r = np.where(r == 0, 1e-4, r)
    c = np.where(c == 0, 1e-4, c)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric(ref, cur, small, a):
    out = {"kind": "numeric", "method": "ks" if small else "wasserstein"}
    if len(ref) == 0 or len(cur) == 0:
        out.update(drifted=len(ref) != len(cur), psi=None, ks_statistic=None, ks_pvalue=None,
                   wasserstein_norm=None)
        return out
    ks = stats.ks_2samp(ref, cur)
    w = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
    edges = np.quantile(ref, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    rp = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=10) / len(ref)
    cp = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=10) / len(cur)
    out.update(psi=psi_props(rp, cp), ks_statistic=float(ks.statistic),
               ks_pvalue=float(ks.pvalue), wasserstein_norm=float(w))
    out["drifted"] = bool(ks.pvalue < a.ks) if small else bool(w > a.wasserstein)
    return out


def categorical(ref, cur, small, a):
    out = {"kind": "categorical", "method": "chisquare" if small else "jensenshannon"}
    if len(ref) == 0 or len(cur) == 0:
        out.update(drifted=len(ref) != len(cur), psi=None, chi2_pvalue=None, js_distance=None)
        return out
    keys = list(dict.fromkeys(list(ref) + list(cur)))
    rc = {k: 0 for k in keys}
    cc = {k: 0 for k in keys}
    for v in ref:
        rc[v] += 1
    for v in cur:
        cc[v] += 1
    r = np.array([rc[k] for k in keys], dtype=float)
    c = np.array([cc[k] for k in keys], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi = stats.chisquare(c, r / r.sum() * c.sum())
    p = float(chi.pvalue)
    js = float(distance.jensenshannon(r / r.sum(), c / c.sum()))
    out.update(psi=psi_props(r / r.sum(), c / c.sum()),
               chi2_pvalue=None if math.isnan(p) else p, js_distance=js)
    out["drifted"] = bool(p < a.chi2) if small else bool(js > a.js)
    return out


def expected(a):
    rcols, rdata, rrows = read(a.ref, a.format)
    _, cdata, _ = read(a.cur, a.format)
    cols = a.columns.split(",") if a.columns else rcols
    cat = set(a.categorical.split(",")) if a.categorical else set()
    num = set(a.numeric.split(",")) if a.numeric else set()
    small = rrows <= a.small_sample
    res = {}
    for col in cols:
        rv, cv = present(rdata[col]), present(cdata[col])
        rn, cn = as_numbers(rv), as_numbers(cv)
        numbers = rn is not None and cn is not None
        if col in num or (col not in cat and numbers and
                          len(np.unique(np.concatenate([rn, cn]))) > 5):
            res[col] = numeric(rn, cn, small, a)
        elif numbers:
            res[col] = categorical(list(rn), list(cn), small, a)
        else:
            res[col] = categorical(rv, cv, small, a)
    nd = sum(1 for v in res.values() if v["drifted"])
    share = nd / len(cols)
    return {"drifted": share >= a.threshold_share, "drift_share": share,
            "threshold_share": a.threshold_share, "columns": res}


worst = {"abs": 0.0, "rel": 0.0, "where": "", "anyrel": 0.0, "anywhere": ""}
errors = []


def compare(path, got, want):
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got.keys()) != set(want.keys()):
            errors.append(f"{path}: keys {list(got.keys()) if isinstance(got, dict) else got}"
                          f" != {list(want.keys())}")
            return
        for k in want:
            compare(f"{path}.{k}", got[k], want[k])
    elif isinstance(want, bool) or isinstance(want, str) or want is None:
        if got != want:
            errors.append(f"{path}: got {got!r}, scipy {want!r}")
    else:
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            errors.append(f"{path}: got {got!r}, scipy {want!r}")
            return
        d = abs(got - want)
        rel = d / abs(want) if want != 0 else (0.0 if d == 0 else math.inf)
        if d > worst["abs"]:
            worst["abs"] = d
        if want != 0 and rel > worst["anyrel"]:
            worst["anyrel"], worst["anywhere"] = rel, f"{path} ({got!r} vs {want!r})"
        if d > ATOL and rel > worst["rel"]:
            worst["rel"], worst["where"] = rel, f"{path} ({got!r} vs {want!r})"
        if d > ATOL and rel > RTOL:
            errors.append(f"{path}: got {got!r}, scipy {want!r} (rel {rel:.3g})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("cur")
    p.add_argument("report")
    p.add_argument("--columns")
    p.add_argument("--categorical")
    p.add_argument("--numeric")
    p.add_argument("--small-sample", type=int, default=1000)
    p.add_argument("--threshold-share", type=float, default=0.5)
    p.add_argument("--ks", type=float, default=0.05)
    p.add_argument("--chi2", type=float, default=0.05)
    p.add_argument("--wasserstein", type=float, default=0.1)
    p.add_argument("--js", type=float, default=0.1)
    p.add_argument("--format", default="auto")
    a = p.parse_args()
    with open(a.report) as f:
        got = json.load(f)
    want = expected(a)
    compare("report", got, want)
    # The issue fixes the shape, order included: {drifted, drift_share, threshold_share, columns}
    # and per column {kind, method, drifted, ...}.
    if list(got.keys()) != ["drifted", "drift_share", "threshold_share", "columns"]:
        errors.append(f"report keys in order {list(got.keys())}")
    for name, col in got.get("columns", {}).items():
        order = ["kind", "method", "drifted"] + (
            ["psi", "ks_statistic", "ks_pvalue", "wasserstein_norm"]
            if col.get("kind") == "numeric" else ["psi", "chi2_pvalue", "js_distance"])
        if list(col.keys()) != order:
            errors.append(f"column {name}: keys in order {list(col.keys())}, expected {order}")
    if list(got.get("columns", {}).keys()) != list(want["columns"].keys()):
        errors.append(f"columns in order {list(got['columns'].keys())}")
    print(f"{a.report}: max abs deviation {worst['abs']:.3g}; max rel deviation {worst['anyrel']:.3g}"
          f" {worst['anywhere']}; of values off by more than 1e-9: {worst['rel']:.3g}"
          f" {worst['where']}")
    if errors:
        print("\n".join(errors[:40]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

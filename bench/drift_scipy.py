#!/usr/bin/python3
"""bench/drift_scipy.py REF CUR: the drift statistics sluice computes, with
numpy/scipy reading the same CSV files (np.loadtxt, numpy's C reader).
Prints the read and compute times in seconds: "read=X stats=Y"."""
import sys
import time

import numpy as np
from scipy import stats
from scipy.spatial import distance

t0 = time.perf_counter()
data = []
for path in sys.argv[1:3]:
    with open(path) as f:
        names = f.readline().strip().split(",")
    data.append(np.loadtxt(path, delimiter=",", skiprows=1, dtype=str))
t1 = time.perf_counter()


def psi(r, c):
    r = np.where(r == 0, 1e-4, r)
    c = np.where(c == 0, 1e-4, c)
    return np.sum((c - r) * np.log(c / r))


for j, name in enumerate(names):
    ref, cur = data[0][:, j], data[1][:, j]
    ref, cur = ref[ref != ""], cur[cur != ""]
    try:
        rn, cn = ref.astype(float), cur.astype(float)
        numeric = len(np.unique(np.concatenate([rn, cn]))) > 5
    except ValueError:
        numeric = False
    if numeric:
        ks = stats.ks_2samp(rn, cn)
        w = stats.wasserstein_distance(rn, cn) / max(np.std(rn), 0.001)
        e = np.quantile(rn, np.arange(1, 10) / 10)
        p = psi(np.bincount(np.searchsorted(e, rn), minlength=10) / len(rn),
                np.bincount(np.searchsorted(e, cn), minlength=10) / len(cn))
    else:
        keys = np.unique(np.concatenate([ref, cur]))
        rk, rcount = np.unique(ref, return_counts=True)
        ck, ccount = np.unique(cur, return_counts=True)
        rc = np.zeros(len(keys))
        cc = np.zeros(len(keys))
        rc[np.searchsorted(keys, rk)] = rcount
        cc[np.searchsorted(keys, ck)] = ccount
        chi = stats.chisquare(cc, rc / rc.sum() * cc.sum())
        js = distance.jensenshannon(rc / rc.sum(), cc / cc.sum())
        p = psi(rc / rc.sum(), cc / cc.sum())
t2 = time.perf_counter()
print(f"read={t1 - t0:.2f} stats={t2 - t1:.2f}")

"""Evaluate model/model.json on data/test.csv: accuracy and AUC."""
import csv
import json
import os

import numpy as np

m = json.load(open("model/model.json"))
X, y = [], []
with open("data/test.csv") as f:
    for r in csv.DictReader(f):
        plan = [1.0 if r["plan"] == p else 0.0 for p in m["plans"]]
        X.append([float(r["tenure"]), float(r["monthly_charges"]),
                  float(r["support_tickets"])] + plan)
        y.append(float(r["churn"]))
X, y = np.array(X), np.array(y)
Z = np.hstack([(X - np.array(m["mu"])) / np.array(m["sd"]), np.ones((len(X), 1))])
p = 1 / (1 + np.exp(-Z @ np.array(m["w"])))
acc = float(np.mean((p > 0.5) == y))
# AUC by the rank-sum (Mann-Whitney) formula
order = p.argsort()
ranks = np.empty(len(p))
ranks[order] = np.arange(1, len(p) + 1)
pos = y == 1
n1, n0 = pos.sum(), (~pos).sum()
auc = float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)) if n1 and n0 else 0.5
os.makedirs("metrics", exist_ok=True)
with open("metrics/eval.json", "w") as f:
    json.dump({"accuracy": round(acc, 6), "auc": round(auc, 6)}, f)
print(f"test accuracy={acc:.4f} auc={auc:.4f}")

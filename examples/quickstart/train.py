"""Logistic regression with numpy gradient descent; writes model/model.json."""
import argparse
import csv
import json
import os

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=300)
ap.add_argument("--lr", type=float, default=0.5)
ap.add_argument("--seed", type=int, default=7)
args = ap.parse_args()

PLANS = ["basic", "pro", "team"]


def load(path):
    X, y = [], []
    with open(path) as f:
        for r in csv.DictReader(f):
            plan = [1.0 if r["plan"] == p else 0.0 for p in PLANS]
            X.append([float(r["tenure"]), float(r["monthly_charges"]),
                      float(r["support_tickets"])] + plan)
            y.append(float(r["churn"]))
    return np.array(X), np.array(y)


X, y = load("data/train.csv")
mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-9
Z = np.hstack([(X - mu) / sd, np.ones((len(X), 1))])
w = np.random.default_rng(args.seed).normal(0, 0.01, Z.shape[1])
for _ in range(args.epochs):
    p = 1 / (1 + np.exp(-Z @ w))
    w -= args.lr * Z.T @ (p - y) / len(y)
p = 1 / (1 + np.exp(-Z @ w))
loss = float(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
acc = float(np.mean((p > 0.5) == y))
os.makedirs("model", exist_ok=True)
os.makedirs("metrics", exist_ok=True)
with open("model/model.json", "w") as f:
    json.dump({"mu": mu.tolist(), "sd": sd.tolist(), "w": w.tolist(), "plans": PLANS}, f)
with open("metrics/train.json", "w") as f:
    json.dump({"loss": round(loss, 6), "accuracy": round(acc, 6)}, f)
print(f"train loss={loss:.4f} accuracy={acc:.4f}")

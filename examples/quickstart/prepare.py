"""Generate a small churn data set: train, test and a drifted 'current' batch."""
import argparse
import csv
import os
import random

ap = argparse.ArgumentParser()
ap.add_argument("--rows", type=int, default=2000)
ap.add_argument("--seed", type=int, default=7)
args = ap.parse_args()
rng = random.Random(args.seed)
PLANS = ["basic", "pro", "team"]


def row(drift=0.0):
    tenure = max(0, int(rng.gauss(24 + 10 * drift, 12)))
    charges = round(max(5.0, rng.gauss(60 + 15 * drift, 20)), 2)
    plan = rng.choices(PLANS, weights=[5, 3, 2 + 4 * drift])[0]
    tickets = rng.randint(0, 6)
    score = 0.08 * tickets + 0.02 * charges - 0.05 * tenure + (0.5 if plan == "basic" else 0)
    churn = 1 if score + rng.gauss(0, 0.6) > 0.6 else 0
    return [tenure, charges, plan, tickets, churn]


os.makedirs("data", exist_ok=True)
header = ["tenure", "monthly_charges", "plan", "support_tickets", "churn"]
for name, n, drift in [("train", args.rows, 0.0), ("test", args.rows // 4, 0.0),
                       ("current", args.rows // 2, 1.0)]:
    with open(f"data/{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for _ in range(n):
            w.writerow(row(drift))
print("wrote data/train.csv, data/test.csv, data/current.csv")

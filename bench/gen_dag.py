#!/usr/bin/env python3
"""Generate the benchmark DAGs: the same N no-op `touch out/K` steps as a
sluice pipeline, a Makefile and a build.ninja.

Shapes:
  layered  - layers of ~sqrt(N) steps; each step depends on up to 3 steps of
             the previous layer (deterministic choice)
  fanout   - one root, N-2 independent middle steps, one sink needing all

Usage: gen_dag.py SHAPE N OUTDIR [--sandbox none]
"""
import math
import os
import random
import sys

shape, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sandbox = "none" if "--sandbox" in sys.argv else None
os.makedirs(out, exist_ok=True)
rng = random.Random(42)
deps = [[] for _ in range(n)]
if shape == "layered":
    width = max(1, int(math.sqrt(n)))
    for i in range(width, n):
        layer = i // width
        prev = list(range((layer - 1) * width, layer * width))
        deps[i] = sorted(rng.sample(prev, min(3, len(prev))))
elif shape == "fanout":
    for i in range(1, n - 1):
        deps[i] = [0]
    deps[n - 1] = list(range(1, n - 1))
else:
    sys.exit("shape must be layered or fanout")

with open(os.path.join(out, "pipeline.yaml"), "w") as f:
    f.write(f"name: bench-{shape}-{n}\n")
    if sandbox:
        f.write(f"defaults:\n  sandbox: {sandbox}\n")
    f.write("steps:\n")
    for i in range(n):
        f.write(f"  s{i}:\n    run: touch out/{i}\n    outputs: [out/{i}]\n")
        if deps[i]:
            f.write("    inputs: [" + ", ".join(f"out/{d}" for d in deps[i]) + "]\n")
with open(os.path.join(out, "Makefile"), "w") as f:
    f.write("all: " + " ".join(f"out/{i}" for i in range(n)) + "\n")
    for i in range(n):
        f.write(f"out/{i}: " + " ".join(f"out/{d}" for d in deps[i]) + "\n\t@touch $@\n")
with open(os.path.join(out, "build.ninja"), "w") as f:
    f.write("rule touch\n  command = touch $out\n")
    for i in range(n):
        f.write(f"build out/{i}: touch" + ("" if not deps[i] else " " + " ".join(f"out/{d}" for d in deps[i])) + "\n")
os.makedirs(os.path.join(out, "out"), exist_ok=True)

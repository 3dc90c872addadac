#!/usr/bin/env bash
# resources.cpus and resources.memory are counted against the machine: steps
# that together do not fit never overlap; a step that can never fit fails
# with a reason.  A built-in step's own message becomes its reason.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cores=$(nproc)
cat > pipeline.yaml <<YAML
name: res
steps:
  a: {run: mkdir lock && sleep 0.3 && rmdir lock, resources: {cpus: $cores}}
  b: {run: mkdir lock && sleep 0.3 && rmdir lock, resources: {cpus: $cores}}
  c: {run: mkdir lock && sleep 0.3 && rmdir lock, resources: {cpus: 1, memory: 1G}}
  huge: {run: "true", resources: {cpus: 4096}}
  hungry: {run: "true", resources: {memory: 900T}}
  builtin:
    uses: drift
    with: {reference: missing-ref.csv, current: missing-cur.csv}
YAML
run_sluice 1 run pipeline.yaml --ci -j 8 --json
/usr/bin/python3 - "$OUT" "$cores" <<'PY'
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
cores = sys.argv[2]
for n in "abc":
    assert s[n]["status"] == "succeeded", s[n]
assert s["huge"]["status"] == "failed" and s["huge"]["reason"] == f"needs 4096 cpus; this machine has {cores} (resources.cpus)", s["huge"]
assert s["hungry"]["status"] == "failed" and s["hungry"]["reason"].startswith("needs 900T of memory; this machine has"), s["hungry"]
r = s["builtin"]["reason"]
assert s["builtin"]["status"] == "failed" and r.startswith("exit ") and ": step drift: " in r and "missing-ref.csv" in r, r
PY

#!/usr/bin/env bash
# The content-addressed cache end to end (docs/caching.md): a second run of an
# unchanged pipeline runs nothing and says so; plan and the log say why a step
# runs; early cut-off; cache: false; --force; deleted or changed outputs are
# restored; env changes; show prints hashes, the env hash parts and the key; gc.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

mkdir -p ws && cd ws
cat > pipeline.yaml <<'YAML'
name: cachey
env: {SEED: "1"}
steps:
  prepare:
    run: sh prep.sh
    inputs: [prep.sh, raw.csv]
    outputs: [data.csv]
  train:
    run: sh -c 'echo "trained on $(cat data.csv) seed $SEED" > model.txt'
    inputs: [data.csv]
    outputs: [model.txt]
  report:
    run: sh -c 'wc -c < model.txt > report.txt'
    inputs: [model.txt]
    outputs: [report.txt]
  stamp:
    run: sh -c 'date +%s%N > stamp.txt'
    outputs: [stamp.txt]
    cache: false
YAML
printf 'id\n1\n2\n' > raw.csv
# how often a step really ran, in all runs: its attempts (the steps run sandboxed,
# so they cannot leave a trace outside their declared outputs themselves)
ran() { sqlite3 .sluice/state.db "SELECT count(*) FROM attempts WHERE step = '$1'"; }
echo 'sort raw.csv > data.csv' > prep.sh

run_sluice 0 run pipeline.yaml --ci
expect_contains "$ERR" "4 ran, 0 cached"
expect_eq "$(ran train)" 1 "train runs"
# the objects are in .sluice/cache/ab/cdef..., read-only
h=$(sha256sum model.txt | cut -c1-64)
obj=.sluice/cache/${h:0:2}/${h:2}
expect_file "$obj"
expect_eq "$(stat -c %a "$obj")" 444 "object mode"

# 1. a second run of the unchanged pipeline: the no-op index answers... except that
#    `stamp` has cache: false, so the full path decides: everything else cached
run_sluice 0 run pipeline.yaml --ci --json
expect_contains "$ERR" "prepare cached (nothing changed since run 1)"
expect_contains "$ERR" "stamp started"
expect_contains "$ERR" "1 ran, 3 cached"
expect_eq "$(ran train)" 1 "train did not run again"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
s = {x["name"]: x for x in doc["steps"]}
assert s["train"]["status"] == "cached" and s["train"]["cached"] is True, s["train"]
assert len(s["train"]["cache_key"]) == 64, s["train"]
assert s["stamp"]["status"] == "succeeded", s["stamp"]
PY
# the plan shows the same, with the reasons
run_sluice 0 plan pipeline.yaml
expect_contains "$OUT" "cached prepare"
expect_contains "$OUT" "nothing changed since run 1"
expect_contains "$OUT" "cache: false"

# 2. without the uncacheable step, the second run takes the no-op path in one line
sed -i '/^  stamp:/,$d' pipeline.yaml
run_sluice 0 run pipeline.yaml --ci
expect_contains "$ERR" "3 cached"
run_sluice 0 run pipeline.yaml --ci --json
expect_contains "$ERR" "nothing to do, every step is as in run 3"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
assert doc["status"] == "succeeded" and doc["exit_code"] == 0, doc
assert all(x["status"] == "cached" for x in doc["steps"]), doc["steps"]
PY
run_sluice 0 status 4 --json
expect_contains "$OUT" '"cached"'

# 3. an input changes: plan and the log say which, with both hashes
old=$(sha256sum raw.csv | cut -c1-8)
printf 'id\n3\n1\n2\n' > raw.csv
new=$(sha256sum raw.csv | cut -c1-8)
run_sluice 0 plan pipeline.yaml
expect_contains "$OUT" "input raw.csv changed (sha256 $old... -> $new...)"
expect_contains "$OUT" "after upstream prepare runs"
run_sluice 0 run pipeline.yaml --ci
expect_contains "$ERR" "prepare started"
expect_contains "$ERR" "train started"
run=$(echo "$ERR" | sed -n 's/^sluice: run \([0-9]*\) of.*/\1/p' | head -1)
expect_contains "$(cat .sluice/runs/$run/prepare/1/log)" "input raw.csv changed (sha256 $old... -> $new...)"
expect_contains "$(cat .sluice/runs/$run/train/1/log)" "upstream prepare changed its output data.csv"
expect_eq "$(ran train)" 2 "train ran on new data"

# 4. early cut-off: prepare reruns (prep.sh changed) but writes the same data.csv
echo 'sort raw.csv > data.csv # same output' > prep.sh
run_sluice 0 run pipeline.yaml --ci
expect_contains "$ERR" "prepare started"
expect_contains "$ERR" "train cached"
expect_contains "$ERR" "report cached"
expect_eq "$(ran train)" 2 "train cut off early"

# 5. an env change: says which variable
sed -i 's/SEED: "1"/SEED: "2"/' pipeline.yaml
run_sluice 0 plan pipeline.yaml
expect_contains "$OUT" "env SEED changed"
run_sluice 0 run pipeline.yaml --ci
expect_eq "$(ran train)" 3 "train reran for the env"
expect_contains "$(cat model.txt)" "seed 2"
# back to SEED 1: taken from the cache, restored into the workspace
sed -i 's/SEED: "2"/SEED: "1"/' pipeline.yaml
run_sluice 0 run pipeline.yaml --ci
expect_contains "$ERR" "train cached"
expect_contains "$ERR" "restored model.txt from the cache"
expect_contains "$(cat model.txt)" "seed 1"
expect_eq "$(ran train)" 3 "train taken from the cache"

# 6. a deleted or changed output is restored, the step is not run
rm model.txt
echo garbage > report.txt
# the plan knows the run would restore model.txt before deciding report
run_sluice 0 plan pipeline.yaml
expect_contains "$OUT" "0 to run, 3 cached"
run_sluice 0 run pipeline.yaml --ci
expect_contains "$ERR" "restored model.txt"
expect_contains "$ERR" "restored report.txt"
expect_contains "$(cat model.txt)" "seed 1"
expect_eq "$(ran train)" 3 "nothing ran"
expect_eq "$(ran report)" 3 "report did not run"

# 7. --force runs everything and says so
run_sluice 0 run pipeline.yaml --ci --force
expect_contains "$ERR" "3 ran, 0 cached"
last=$(echo "$ERR" | sed -n 's/^sluice: run \([0-9]*\) of.*/\1/p' | head -1)
expect_contains "$(cat .sluice/runs/$last/train/1/log)" "forced (--force)"

# 8. show: inputs and outputs with hashes, the env hash with its parts, the key
run_sluice 0 show "$last" train
expect_contains "$OUT" "input      data.csv  sha256 $(sha256sum data.csv | cut -c1-64)"
expect_contains "$OUT" "output     model.txt  sha256 $(sha256sum model.txt | cut -c1-64)"
expect_contains "$OUT" "env      SEED=1"
expect_contains "$OUT" "program  /bin/sh (sha256:"
expect_contains "$OUT" "sandbox  "
expect_contains "$OUT" "cache key  "
run_sluice 0 show "$last" train --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["env_parts"]["env"]["SEED"] == "1", d["env_parts"]
assert d["env_parts"]["env"]["HOME"] == "(per attempt)", d["env_parts"]
assert "SLUICE_RUN_ID" not in d["env_parts"]["env"], d["env_parts"]
assert d["inputs"][0]["path"] == "data.csv" and len(d["inputs"][0]["sha256"]) == 64, d["inputs"]
assert len(d["cache_key"]) == 64 and len(d["env_hash"]) == 64, d
PY

# 9. gc: nothing referenced is removed; an unreferenced object is
n_before=$(find .sluice/cache -type f | wc -l)
run_sluice 0 gc --dry-run
expect_contains "$ERR" "would remove 0 objects"
mkdir -p .sluice/cache/00
printf x > .sluice/cache/00/$(printf '0%.0s' $(seq 62))
run_sluice 0 gc --dry-run
expect_contains "$OUT" "would remove"
expect_file .sluice/cache/00/$(printf '0%.0s' $(seq 62))
run_sluice 0 gc
expect_contains "$ERR" "removed 1 object"
expect_no_file .sluice/cache/00
expect_eq "$(find .sluice/cache -type f | wc -l)" "$n_before" "objects kept"
run_sluice 0 run pipeline.yaml --ci
expect_contains "$ERR" "nothing to do"

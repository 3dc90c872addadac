#!/usr/bin/env bash
# `make demo`: validate the quickstart pipeline, draw it, run it end to end
# (state in an embedded SQLite store under .sluice/), show the run's status
# and one step's log; then run it again (nothing to do), change a script
# (plan says why; early cut-off keeps evaluate cached), lose an output (restored
# from the cache) and rerun one step.  Runs in a copy under build/demo so the
# example stays clean.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${SLUICE:=$root/build/sluice}"
work=${DEMO_DIR:-$root/build/demo/quickstart}
rm -rf "$work"
mkdir -p "$(dirname "$work")"
cp -r "$here" "$work"
cd "$work"
show() { echo; echo "\$ sluice $*"; "$SLUICE" "$@"; }
show validate pipeline.yaml
show graph pipeline.yaml --format mermaid
show run pipeline.yaml
show status 1
show logs 1 drift
show show 1 evaluate
# Reproducibility: nothing changed, nothing runs; a change reruns what depends on it
show run pipeline.yaml
echo "# (edit train.py: a comment only)"
echo "# tuned" >> train.py
show plan pipeline.yaml
show run pipeline.yaml
show show 3 train
echo "# (delete an output: the next run restores it from .sluice/cache)"
rm model/model.json
show run pipeline.yaml
show rerun 1 --step evaluate
echo "# (housekeeping next to the runs: the store checked, unreferenced cache objects dropped)"
show doctor
show gc
echo
echo "The workspace is $work: outputs in data/, model/, metrics/, reports/;"
echo "sluice's state in $work/.sluice (state.db, runs/1/STEP/ATTEMPT/log)."

#!/usr/bin/env bash
# `make demo`: validate the quickstart pipeline, draw it, run it end to end
# (state in an embedded SQLite store under .sluice/), show the run's status
# and one step's log.  Runs in a copy under build/demo so the example stays clean.
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
echo
echo "The workspace is $work: outputs in data/, model/, metrics/, reports/;"
echo "sluice's state in $work/.sluice (state.db, runs/1/STEP/ATTEMPT/log)."

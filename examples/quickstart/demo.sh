#!/usr/bin/env bash
# `make demo`: validate the quickstart pipeline, draw it, run it end to end
# (state in an embedded SQLite store under .sluice/), show the run's status
# and one step's log; then run it again (nothing to do), change a script
# (plan says why; early cut-off keeps evaluate cached), lose an output (restored
# from the cache) and rerun one step; change a param (only what uses it
# reruns), compare the runs, print when a cron schedule fires; last, an attacking pipeline run with
# --sandbox strict (examples/hostile).  Runs in copies under build/demo so the
# examples stay clean.
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
# show_rc CODE ARGS...: as show, for a command that is meant to exit CODE
show_rc() {
	local want=$1 rc=0
	shift
	echo; echo "\$ sluice $*"
	"$SLUICE" "$@" || rc=$?
	[ "$rc" = "$want" ] || { echo "demo: sluice $* exited $rc, expected $want" >&2; exit 1; }
}
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
echo "# (experiments: a param reruns only the steps that use it; compare runs in one table)"
show run pipeline.yaml -p epochs=100
show runs
show metrics --md
show params diff
echo "# (when the retraining would fire: Mondays 06:00 in Berlin, across the DST change)"
show cron "0 6 * * 1" --tz Europe/Berlin --from 2027-03-20 -n 3
echo
echo "# Someone else's pipeline (examples/hostile), run with --sandbox strict: the file"
echo "# that opts out of the sandbox is refused before anything runs; the steps of the"
echo "# other one try to reach the host, another project's state, sockets and the network,"
echo "# smuggle /etc/shadow out as a symlinked output and leak a secret in base64."
hostile=$(dirname "$work")/hostile
rm -rf "$hostile" "$(dirname "$work")/other-project"
cp -r "$here/../hostile" "$hostile"
mkdir -p "$(dirname "$work")/other-project/.sluice"
echo "another project's state" > "$(dirname "$work")/other-project/.sluice/state.db"
cd "$hostile"
show_rc 2 run optout.yaml --sandbox strict
export DEMO_TOKEN=demo-token-3f9a1c
show_rc 1 run pipeline.yaml --sandbox strict
show logs 1 snoop
unset DEMO_TOKEN
cd "$work"
echo
echo "The workspace is $work: outputs in data/, model/, metrics/, reports/;"
echo "sluice's state in $work/.sluice (state.db, runs/1/STEP/ATTEMPT/log)."

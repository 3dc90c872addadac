#!/usr/bin/env bash
# Run ids accept `latest` and `latest~N` (N runs before the latest) wherever
# a command takes one: status, logs, show, diff, metrics, params diff,
# rerun; a latest~N beyond the recorded runs, or a malformed one, is exit 2.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: ids
params: {n: 1}
defaults: {sandbox: none}
steps:
  a:
    run: ./step.sh ${{ params.n }}
    inputs: [step.sh]
    metrics: m.json
YAML
printf '#!/bin/sh\necho "n=$1"\necho "{\\"v\\": $1}" > m.json\n' > step.sh
chmod +x step.sh
for n in 1 2 3; do run_sluice 0 run pipeline.yaml --ci -p n=$n; done
run_sluice 0 status latest
expect_contains "$OUT" "run 3 of ids"
run_sluice 0 status latest~2
expect_contains "$OUT" "run 1 of ids"
run_sluice 0 logs latest~1 a
expect_contains "$OUT" "n=2"
run_sluice 0 show latest a
expect_contains "$OUT" "run 3 step a"
run_sluice 0 metrics latest~2 latest --md
expect_contains "$OUT" "| run 1 | run 3 |"
run_sluice 0 params diff latest~1 latest
expect_contains "$OUT" "run 2"
run_sluice 0 diff latest~1 latest
expect_contains "$OUT" "run 2"
run_sluice 0 rerun latest~2 --ci
expect_contains "$ERR" "rerun of run 1"
run_sluice 2 status latest~9
expect_contains "$ERR" "latest~9: there are only 4 runs recorded"
run_sluice 2 show latest~ a
expect_contains "$ERR" "'latest~' is not a run id (a number, latest, or latest~N)"
run_sluice 2 status latestx
expect_contains "$ERR" "'latestx' is not a run id"

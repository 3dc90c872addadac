#!/usr/bin/env bash
# A cache that survives a move: no key holds the workspace's absolute path
# (SLUICE_WORKSPACE, a program or an env value under the workspace enter it
# as ${SLUICE_WORKSPACE}), so a copy of a project with its .sluice/ in
# another directory, or a fresh checkout that gets the state restored (a CI
# cache), runs nothing that did not change.
set -eu
. "$TESTS_DIR/integration/lib.sh"
mkdir a && cd a
cat > pipeline.yaml <<'YAML'
name: moved
steps:
  prepare:
    run: ./prepare.sh
    inputs: [prepare.sh]
    outputs: [data/train.csv]
  train:
    run: sh -c 'cat data/train.csv > model.txt; echo "$SLUICE_WORKSPACE" > where.txt'
    inputs: [data/train.csv]
    outputs: [model.txt]
YAML
printf '#!/bin/sh\nmkdir -p data && echo 1,2 > data/train.csv\n' > prepare.sh
chmod +x prepare.sh
run_sluice 0 run pipeline.yaml --ci
cd "$T"
# a copy elsewhere, with its state: everything cached
cp -a a b
cd b
run_sluice 0 run pipeline.yaml --ci --json
expect_contains "$OUT" '"cached": true'
expect_not_contains "$OUT" '"cached": false'
# a fresh checkout (sources only) with the state restored: outputs come back from the cache
cd "$T"
mkdir c && cp a/pipeline.yaml a/prepare.sh c/ && cp -a a/.sluice c/
cd c
run_sluice 0 run pipeline.yaml --ci --json
expect_not_contains "$OUT" '"cached": false'
expect_eq "$(cat model.txt)" "1,2" "model.txt restored in the fresh checkout"
# a changed input still reruns what depends on it, and only that
printf '#!/bin/sh\nmkdir -p data && echo 3,4 > data/train.csv\n' > prepare.sh
run_sluice 0 run pipeline.yaml --ci --json
expect_contains "$OUT" '"cached": false'
expect_eq "$(cat model.txt)" "3,4" "model.txt after prepare.sh changed"
run_sluice 0 show 1 prepare
expect_contains "$OUT" 'SLUICE_WORKSPACE=${SLUICE_WORKSPACE}'
expect_not_contains "$OUT" "$T/a"

#!/usr/bin/env bash
# On a terminal `run` redraws one status line ("[1/3] slow 00:01"); without
# one (or with --ci) it prints one line per state change and no escapes.
set -eu
. "$TESTS_DIR/integration/lib.sh"
command -v script >/dev/null || skip "script (util-linux) missing: no pseudo-terminal to test with"
cat > pipeline.yaml <<'YAML'
name: live
steps:
  fast: {run: "true"}
  slow: {run: sleep 1.5}
  last: {run: "true", needs: [slow]}
YAML
env -u CI script -qec "$SLUICE run pipeline.yaml" /dev/null >tty.txt 2>&1 || fail "run on a tty failed: $(cat tty.txt)"
grep -q $'\r\[[0-9]/3\] slow 00:0[01]' tty.txt || fail "no live status line: $(cat -v tty.txt)"
grep -q $'\x1b\[K' tty.txt || fail "the live line is not cleared: $(cat -v tty.txt)"
run_sluice 0 run pipeline.yaml --force
grep -q $'\x1b' "$T/.err" && fail "escape codes without a terminal: $(cat -v "$T/.err")"
expect_contains "$ERR" "slow started"
expect_contains "$ERR" "last succeeded"

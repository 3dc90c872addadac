#!/usr/bin/env bash
# `sandbox: none` runs a step as a plain process (its writes stay, it sees
# the host) and says so in `sluice show`; sandboxed steps show "default".
# A bad `sandbox:` value is a clear error (exit 2).
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: none
steps:
  plain:
    run: echo "$HOME" > home.txt; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status > status.txt
    sandbox: none
  boxed:
    run: grep -E '^(CapEff|NoNewPrivs):' /proc/self/status > boxed.txt
    outputs: [boxed.txt]
YAML
run_sluice 0 run pipeline.yaml --ci
expect_contains "$(cat home.txt)" "/.sluice/runs/1/plain/1/home"
expect_contains "$(cat status.txt)" "NoNewPrivs:	0"
expect_contains "$(cat boxed.txt)" "NoNewPrivs:	1"
run_sluice 0 show 1 plain
expect_contains "$OUT" "sandbox    none"
run_sluice 0 show 1 boxed
expect_contains "$OUT" "sandbox    default (network off"
run_sluice 0 show 1 plain --json
/usr/bin/python3 -c 'import json,sys; s=json.loads(sys.argv[1])["settings"]; assert s["sandbox"]=="none" and s["sandbox_enforced"] is False, s' "$OUT"
run_sluice 0 show 1 boxed --json
/usr/bin/python3 -c 'import json,sys; s=json.loads(sys.argv[1])["settings"]; assert s["sandbox"]=="default" and s["sandbox_enforced"] is True, s' "$OUT"
# bad input
cat > bad.yaml <<'YAML'
name: bad
steps:
  a: {run: "true", sandbox: nope}
  b: {run: "true", sandbox: {network: maybe, memroy: 1G}}
YAML
run_sluice 2 validate bad.yaml
expect_contains "$ERR" "sandbox must be a map of settings, 'none' or 'default', not 'nope'"
expect_contains "$ERR" "memroy"
expect_contains "$ERR" "memory"

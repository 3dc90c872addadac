#!/usr/bin/env bash
# A reader that goes away does not kill a run: `sluice run 2>&1 | head -1`
# once died of SIGPIPE (exit 141) and left the run interrupted.  The run
# finishes, records every step and exits 0; a step still gets SIGPIPE
# itself (its own `yes | head -1` ends).
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: pipe
steps:
  a: {run: sh -c 'sleep 0.3; echo a > a.txt', outputs: [a.txt]}
  b: {run: sh -c 'yes | head -1 > b.txt', inputs: [a.txt], outputs: [b.txt]}
  c: {run: sh -c 'sleep 0.3; echo c > c.txt', inputs: [b.txt], outputs: [c.txt]}
YAML
set +e
timeout 60 "$SLUICE" run pipeline.yaml --ci 2>&1 | head -1 >first.txt
rc=${PIPESTATUS[0]}
set -e
expect_eq "$rc" "0" "sluice's exit code with its reader gone"
[ -s first.txt ] || fail "head read nothing"
run_sluice 0 status 1 --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "succeeded", d["status"]
assert all(s["status"] == "succeeded" for s in d["steps"]), d["steps"]
PY
expect_eq "$(cat c.txt)" "c" "the last step's output"
# the same for a reading command
set +e
"$SLUICE" logs 1 a | head -c 1 >/dev/null
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "sluice logs with its reader gone exited $rc"

#!/usr/bin/env bash
# A step that floods its output cannot freeze sluice (issue: `yes` with
# `timeout: 2s` once froze the loop): its timeout fires, a concurrent step's
# exit is seen, Ctrl-C works; the log keeps its head and tail within
# max_log_size and says what it cut; a 128 MB line without a newline costs
# bounded memory; the log adds no byte per line.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: flood
steps:
  flood:
    run: yes
    timeout: 2s
    grace_period: 1s
    max_log_size: 1M
  short:
    run: sh -c 'sleep 0.3; echo done > short.txt'
    outputs: [short.txt]
YAML
run_sluice 1 run pipeline.yaml -j2 --ci --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); s = {x["name"]: x for x in d["steps"]}
assert s["short"]["status"] == "succeeded", s["short"]
r = s["flood"]["reason"]
assert s["flood"]["status"] == "failed" and r.startswith("timeout after 2s"), r
assert "log cut to max_log_size 1M" in r, r
PY
log=$(ls .sluice/runs/1/flood/1/log)
size=$(stat -c %s "$log")
[ "$size" -le $((1024 * 1024 + 200)) ] || fail "log of $size bytes over max_log_size 1M"
[ "$(sed -n 2p "$log")" = y ] || fail "the log lost its head: $(head -2 "$log")"
grep -q 'bytes cut here' "$log" || fail "no marker in the log"
run_sluice 0 logs 1 flood
echo "$OUT" | sed -n 2p | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z y$' || fail "not stamped: $(echo "$OUT" | head -2)"

# Ctrl-C while a step floods without a timeout
cat > ctrlc.yaml <<'YAML'
name: ctrlc
steps:
  flood:
    run: sh -c 'touch started; exec yes'
    sandbox: none
YAML
"$SLUICE" run ctrlc.yaml --ci >/dev/null 2>err.txt &
pid=$!
for _ in $(seq 100); do [ -e started ] && break; sleep 0.1; done
[ -e started ] || fail "the flood did not start: $(cat err.txt)"
sleep 0.5
kill -INT $pid
# bounded: sluice answers within the grace period, not never
for _ in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then kill -9 $pid; fail "sluice ignored SIGINT during a flood"; fi
set +e; wait $pid; rc=$?; set -e
expect_eq "$rc" "130" "exit code after SIGINT during a flood"

# one line of 128 MB without a newline: bounded memory, the log bounded
cat > line.yaml <<'YAML'
name: line
steps:
  line:
    run: sh -c "head -c 134217728 /dev/zero | tr '\\0' x"
    max_log_size: 1M
YAML
/usr/bin/time -v -o time.txt "$SLUICE" run line.yaml --ci >/dev/null 2>err.txt || fail "run failed: $(cat err.txt)"
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.txt)
[ "$rss" -lt 65536 ] || fail "a 128 MB line took $rss KB of sluice's memory"
run_sluice 0 show 3 line --json
expect_contains "$OUT" "log cut to max_log_size 1M"

# no byte per line: 10,000 lines of 2 bytes make a log of 20,000 bytes (after
# sluice's own first line, why the step runs)
cat > lines.yaml <<'YAML'
name: lines
steps:
  lines:
    run: seq -w 0 9999 | cut -c4
YAML
run_sluice 0 run lines.yaml --ci
log=$(ls .sluice/runs/*/lines/1/log)
head -1 "$log" | grep -q '^sluice: lines runs: ' || fail "first line: $(head -1 "$log")"
expect_eq "$(tail -n +2 "$log" | wc -c)" "20000" "bytes in the log of 10,000 two-byte lines"

#!/usr/bin/env bash
# What a step hands back cannot hurt sluice: 200,000 metrics keys in linear
# memory, colliding flattened keys are an error naming both, $SLUICE_OUTPUT
# swapped for /dev/zero or a FIFO is refused, a metrics FIFO is refused; and
# nothing sluice opens blocks it: a pipeline, an expectations file or a data
# file that is a FIFO is a clear error (exit 2), not a hang.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > gen.py <<'PY'
import json, sys
n = int(sys.argv[1])
json.dump({f"k{i}": {"v": i} for i in range(n)}, open(sys.argv[2], "w"))
PY
echo '{"a.b": 1, "a": {"b": 2}}' > collide.json
cat > pipeline.yaml <<'YAML'
name: hostile
steps:
  many:
    run: /usr/bin/python3 gen.py 200000 m.json
    inputs: [gen.py]
    metrics: m.json
    sandbox: none
  lines:
    run: sh -c 'seq 1 8000 | sed "s/.*/k&=v&/" >> "$SLUICE_OUTPUT"'
  collide:
    run: cp collide.json c.json
    inputs: [collide.json]
    metrics: c.json
  zero:
    run: sh -c 'rm -f "$SLUICE_OUTPUT"; ln -s /dev/zero "$SLUICE_OUTPUT"'
    sandbox: none
  fifo_out:
    run: sh -c 'rm -f "$SLUICE_OUTPUT"; mkfifo "$SLUICE_OUTPUT"'
    sandbox: none
  fifo_metrics:
    run: mkfifo f.json
    metrics: f.json
    sandbox: none
YAML
/usr/bin/time -v -o time.txt timeout 120 "$SLUICE" run pipeline.yaml --ci --json >out.json 2>err.txt && fail "the run should fail" || true
[ -s out.json ] || fail "no JSON (a hang or a crash?): $(cat err.txt)"
/usr/bin/python3 - out.json <<'PY'
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["steps"]}
assert s["many"]["status"] == "succeeded", s["many"]
assert s["lines"]["status"] == "succeeded", s["lines"]
r = s["collide"]["reason"]
assert s["collide"]["status"] == "failed" and "two metrics flatten to 'a.b'" in r, r
r = s["zero"]["reason"]
assert "$SLUICE_OUTPUT" in r and "is a character device, not a regular file" in r, r
r = s["fifo_out"]["reason"]
assert "is a FIFO, not a regular file" in r, r
r = s["fifo_metrics"]["reason"]
assert "metrics file" in r and "is a FIFO, not a regular file" in r, r
PY
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.txt)
# linear: about 165 MB here (the JSON tree, the keys, SQLite); quadratic was
# 2.1 GB for 16,000 keys.  AddressSanitizer's shadow memory triples it.
limit=262144
ldd "$SLUICE" 2>/dev/null | grep -q libasan && limit=$((limit * 4))
[ "$rss" -lt $limit ] || fail "200,000 metrics keys took $rss KB of sluice's memory"
expect_eq "$(sqlite3 .sluice/state.db "select count(*) from metrics where step = 'many'")" "200000" "metrics recorded"
expect_eq "$(sqlite3 .sluice/state.db "select count(*) from step_outputs where step = 'lines'")" "8000" "outputs recorded"

# nothing sluice opens can block it
mkfifo fifo.yaml
run_sluice 2 validate fifo.yaml
expect_contains "$ERR" "fifo.yaml is a FIFO, not a regular file"
run_sluice 2 run fifo.yaml
expect_contains "$ERR" "is a FIFO"
printf 'columns: {a: int}\n' > ex.yaml
mkfifo data.csv ex_fifo.yaml
printf 'a\n1\n' > ok.csv
run_sluice 2 step validate-data --with data=data.csv --with expectations=ex.yaml
expect_contains "$ERR" "data.csv is a FIFO, not a regular file"
run_sluice 2 step validate-data --with data=ok.csv --with expectations=ex_fifo.yaml
expect_contains "$ERR" "ex_fifo.yaml is a FIFO, not a regular file"
run_sluice 2 step drift --with reference=data.csv --with current=ok.csv
expect_contains "$ERR" "is a FIFO"

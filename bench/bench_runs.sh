#!/usr/bin/env bash
# The experiment table over 10,000 recorded runs (docs/cli.md, "The experiment
# table"): `sluice runs --limit 20` (the table a person reads) and `sluice runs
# --limit 10000 --json` (every run with its params and metrics), each next to
# the sqlite3 shell reading the same rows from the same state.db, the floor.
# Target: every listing under 100 ms (the whole table of 10,000 rows too).
#
# The runs are made fast: one real `sluice run` of a two-step pipeline with
# three metrics makes state.db (every migration, real rows), then sqlite3
# copies that run's rows 9,999 times with other params and metrics.
# BENCH_RUNS (10000).
set -eu
: "${SLUICE:?}"
case $SLUICE in /*) ;; *) SLUICE=$PWD/$SLUICE ;; esac
runs=${BENCH_RUNS:-10000}
command -v sqlite3 >/dev/null || { echo "(sqlite3 missing: apt-get install sqlite3)"; exit 0; }
dir=$(mktemp -d /tmp/sluice-bench-runs.XXXXXX)
trap 'rm -rf "$dir"' EXIT

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
verdict() { awk -v u="$1" 'BEGIN { print (u < 100000 ? "PASS" : "MISS") }'; }

cd "$dir"
cat >pipeline.yaml <<'YAML'
name: bench-runs
params: {lr: 0.1, depth: 3, seed: 1}
steps:
  train:
    run: |
      echo '{"loss": 0.25, "lr": ${{ params.lr }}}' > train.json
    outputs: [train.json]
    metrics: train.json
  evaluate:
    needs: [train]
    run: |
      echo '{"auc": 0.9}' > eval.json
    inputs: [train.json]
    outputs: [eval.json]
    metrics: eval.json
YAML
"$SLUICE" run pipeline.yaml --ci >/dev/null 2>&1 || { echo "(the first run failed)"; exit 1; }
s=$(now_us)
sqlite3 .sluice/state.db <<SQL
PRAGMA foreign_keys = ON;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < $runs)
INSERT INTO runs (id, pipeline, path, workspace, snapshot, params_json, trigger, status,
                  exit_code, created, started, finished, host, pid, pid_start)
SELECT n.i, pipeline, path, workspace, snapshot,
       json_object('lr', 0.001 * n.i, 'depth', 3 + n.i % 5, 'seed', 1), trigger, status,
       exit_code, created + n.i, started + n.i, finished + n.i, host, pid, pid_start
FROM runs, n WHERE runs.id = 1;
INSERT INTO steps (run_id, name, step, position, status, reason, attempts, exit_code,
                   started, finished, cache_key, env_hash, cached_from, command, env_json, why)
SELECT r.id, name, step, position, s.status, reason, attempts, s.exit_code, s.started,
       s.finished, cache_key, env_hash, cached_from, command, env_json, why
FROM steps s, runs r WHERE s.run_id = 1 AND r.id > 1;
INSERT INTO metrics (run_id, step, key, value)
SELECT r.id, step, key, value + 1e-5 * (r.id % 1000) FROM metrics m, runs r
WHERE m.run_id = 1 AND r.id > 1;
COMMIT;
SQL
made=$(($(now_us) - s))
n=$(sqlite3 .sluice/state.db 'SELECT count(*) FROM runs')
echo "$n runs recorded ($(ms "$made") to insert $((n - 1)) with sqlite3)"

# the rows each listing reads, read by the sqlite3 shell: the floor
floor_sql() {
	sqlite3 .sluice/state.db "SELECT id, pipeline, trigger, status, started, params_json
		FROM runs ORDER BY id DESC LIMIT $1;
		SELECT m.run_id, m.step, m.key, m.value FROM metrics m
		WHERE m.run_id > (SELECT max(id) FROM runs) - $1 ORDER BY m.run_id DESC"
}
printf '%-44s %12s %12s %s\n' "" "best" "median" ""
for what in 20 table json; do
	case $what in
	20) lim=20 args=(runs --limit 20) ;;
	table) lim=$runs args=(runs --limit "$runs") ;;
	json) lim=$runs args=(runs --limit "$runs" --json) ;;
	esac
	out=$("$SLUICE" "${args[@]}" 2>/dev/null | wc -l)
	sample 15 "$SLUICE" "${args[@]}"
	printf '%-44s %12s %12s %s (%s lines)\n' "sluice ${args[*]}" "$(ms "$best_us")" \
		"$(ms "$med_us")" "$(verdict "$med_us")" "$out"
	sample 15 floor_sql "$lim"
	printf '%-44s %12s %12s\n' "  sqlite3, the same rows" "$(ms "$best_us")" "$(ms "$med_us")"
done
sample 15 "$SLUICE" runs --limit 20 --sort auc
printf '%-44s %12s %12s %s\n' "sluice runs --limit 20 --sort auc" "$(ms "$best_us")" \
	"$(ms "$med_us")" "$(verdict "$med_us")"
sample 15 "$SLUICE" metrics --md
printf '%-44s %12s %12s %s\n' "sluice metrics --md" "$(ms "$best_us")" "$(ms "$med_us")" \
	"$(verdict "$med_us")"

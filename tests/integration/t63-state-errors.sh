#!/usr/bin/env bash
# Clear errors where they were not (issue 12, item 10): --state naming a file
# (was a doubled message and exit 1), a 0-byte state.db (was silently a new
# history), a corrupt state.db (now says which file, that it is corrupt, and
# how to recover: sluice doctor), --junit to a path that cannot be written
# (was found after the run).  Each is one clear message and exit 2.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

mkdir -p ws && cd ws
cat > pipeline.yaml <<'YAML'
name: errs
defaults: {sandbox: none}
steps:
  a:
    run: sh -c 'echo a > a.txt'
    outputs: [a.txt]
YAML
one_message() { expect_eq "$(printf '%s\n' "$ERR" | grep -c '^sluice:')" "1" "messages in: $ERR"; }

# --state is a file
touch notadir
run_sluice 2 run pipeline.yaml --ci --state notadir
expect_contains "$ERR" "state directory notadir is a file, not a directory"
one_message
run_sluice 2 status 1 --state notadir
expect_contains "$ERR" "notadir is a file, not a directory"
SLUICE_STATE=notadir run_sluice 2 runs
expect_contains "$ERR" "notadir is a file, not a directory"
run_sluice 2 run pipeline.yaml --ci --state notadir/sub
expect_contains "$ERR" "notadir/sub"
one_message

# a 0-byte state.db is not a new history
mkdir -p empty/.sluice && : > empty/.sluice/state.db && cp pipeline.yaml empty/
(cd empty && run_sluice 2 run pipeline.yaml --ci && expect_contains "$ERR" "empty/.sluice/state.db is empty (0 bytes)" &&
	one_message && run_sluice 2 status 1 && expect_contains "$ERR" "is empty (0 bytes)" &&
	run_sluice 2 doctor && expect_contains "$OUT" "is empty (0 bytes)") || exit 1
[ ! -s empty/.sluice/state.db ] || fail "the empty state.db was written over"
expect_no_file empty/a.txt

# a corrupt state.db: which file, that it is corrupt, how to recover
run_sluice 0 run pipeline.yaml --ci
cp -r .sluice "$T/good"
head -c 4096 /dev/urandom > .sluice/state.db.bad
dd if=.sluice/state.db.bad of=.sluice/state.db bs=1 count=4096 conv=notrunc 2>/dev/null
rm -f .sluice/state.db-wal .sluice/state.db-shm .sluice/state.db.bad
for cmd in "run pipeline.yaml --ci" "status 1" "runs" "gc" "resume 1"; do
	# shellcheck disable=SC2086
	run_sluice 2 $cmd
	expect_contains "$ERR" "$PWD/.sluice/state.db is corrupt"
	expect_contains "$ERR" "sluice doctor"
	one_message
done
run_sluice 2 doctor
expect_contains "$OUT" "problem: $PWD/.sluice/state.db"
expect_contains "$OUT" "sqlite3 state.db .recover | sqlite3 state.db.recovered"

# damage inside (a page of the steps' table), not the header: the recipe recovers it
rm -rf .sluice && cp -r "$T/good" .sluice
if command -v sqlite3 >/dev/null; then
	pages=$(sqlite3 .sluice/state.db "PRAGMA page_count")
	root=$(sqlite3 .sluice/state.db "SELECT rootpage FROM sqlite_master WHERE name = 'steps'")
	dd if=/dev/zero of=.sluice/state.db bs=4096 seek=$((root - 1)) count=1 conv=notrunc 2>/dev/null
	[ "$pages" -ge "$root" ] || fail "page $root of $pages"
	run_sluice 2 status 1
	expect_contains "$ERR" "is corrupt"
	run_sluice 2 doctor
	expect_contains "$OUT" "corrupt"
	# the recipe doctor prints: .recover, or .dump where this sqlite3 lacks it
	(cd .sluice && { sqlite3 state.db .recover 2>/dev/null | sqlite3 state.db.recovered &&
		[ "$(sqlite3 state.db.recovered 'SELECT count(*) FROM runs' 2>/dev/null)" = 1 ] ||
		{ rm -f state.db.recovered; sqlite3 state.db .dump |
			sed 's/^ROLLBACK; -- due to errors$/COMMIT;/' | sqlite3 state.db.recovered; }; } &&
		mv state.db state.db.corrupt && rm -f state.db-wal state.db-shm && mv state.db.recovered state.db)
	run_sluice 0 doctor
	expect_contains "$OUT" "no problems found"
	run_sluice 0 runs
	expect_contains "$OUT" "errs"
fi
rm -rf .sluice && cp -r "$T/good" .sluice
run_sluice 0 doctor
expect_contains "$OUT" "integrity_check:"
expect_contains "$OUT" "no problems found"

# --junit that cannot be written: refused before anything runs, no run recorded
runs_before=$("$SLUICE" runs --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
run_sluice 2 run pipeline.yaml --ci --junit /nonexistent/dir/report.xml
expect_contains "$ERR" "--junit /nonexistent/dir/report.xml"
expect_contains "$ERR" "nothing ran"
one_message
run_sluice 2 run pipeline.yaml --ci --force --junit .
expect_contains "$ERR" "not a regular file"
touch plain
run_sluice 2 run pipeline.yaml --ci --junit plain/report.xml
expect_contains "$ERR" "--junit plain/report.xml: Not a directory"
run_sluice 2 rerun 1 --ci --junit /nonexistent/dir/report.xml
expect_contains "$ERR" "--junit"
runs_after=$("$SLUICE" runs --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
expect_eq "$runs_after" "$runs_before" "runs recorded"
# a writable one still works
run_sluice 0 run pipeline.yaml --ci --force --junit report.xml
expect_contains "$(cat report.xml)" "<testcase"

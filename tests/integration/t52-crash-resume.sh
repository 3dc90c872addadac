#!/usr/bin/env bash
# Crash consistency (docs/caching.md and docs/architecture.md): start a run of a 50-step
# pipeline, kill -9 sluice at a random moment, `sluice resume` it; repeat with
# CRASH_ITERATIONS (default 50) seeds.  After every kill:
#   - PRAGMA integrity_check is ok (and foreign_key_check is empty);
#   - every step the database calls succeeded has its output_files row with a
#     sha256 whose object is in .sluice/cache/ab/cdef... with that content;
# after every resume:
#   - the run and all 50 steps are succeeded (or cached), outputs are correct
#     (each mixes its own number with its inputs' numbers, computed here too);
#   - no step that was succeeded at the kill ran again (each step appends its
#     name to an executions log outside the workspace; a step that was running
#     at the kill legitimately runs again);
#   - no step process is left behind: the steps still working at the kill are
#     held and stopped (SIGSTOP, as if they were long) until resume, which
#     must kill them.
# A kill that lands after the run finished makes resume refuse (exit 2): then
# the run must be succeeded.  A kill before the run was recorded leaves
# nothing to resume: no step may have run, and a new run must succeed.
# CRASH_SEED (default 1) is the first seed; a failure prints its seed and the
# kill delay (the seed only picks the delay: timing decides the rest).
set -eu
. "$TESTS_DIR/integration/lib.sh"
command -v pgrep >/dev/null || skip "pgrep missing (apt-get install procps)"
iterations=${CRASH_ITERATIONS:-50}
seed0=${CRASH_SEED:-1}

mkdir -p bin tmpl
# The step: log its name, take a little time, write a number mixed from its own and
# its inputs' numbers (shell arithmetic: a fork+exec is what this machine is slow at).
cat > bin/step.sh <<'SH'
#!/bin/sh
log=$1 name=$2 out=$3
shift 3
echo "$name" >> "$log"
sleep 0.02
v=${name#s}
for f in "$@"; do
	read -r _ w < "$f"
	v=$(( (v * 31 + w) % 1000000007 ))
done
# The test holds every step that is still working when it kills sluice.
while [ -e "${0%/bin/step.sh}/hold" ]; do sleep 0.01; done
echo "$name $v" > "$out"
SH
# A layered DAG of 50 steps with a fan-out from the root, fan-ins of up to 4 and
# one step that needs a whole layer; expected.txt holds each step's output line.
/usr/bin/python3 - "$T" <<'PY'
import os, random, sys
T = sys.argv[1]
rng = random.Random(52)
layers, n = [], 0
for width in (1, 6, 8, 9, 9, 8, 6, 2, 1):
    layers.append([f"s{n + k}" for k in range(width)])
    n += width
assert n == 50
deps = {layers[0][0]: []}
for li in range(1, len(layers)):
    prev = layers[li - 1]
    for k, s in enumerate(layers[li]):
        if li == 5 and k == 0:
            deps[s] = list(prev)  # needs the whole layer
        else:
            deps[s] = sorted(rng.sample(prev, min(len(prev), rng.randint(1, 4))))
seed = b"seed 52052\n"
content = {}
with open(os.path.join(T, "tmpl", "pipeline.yaml"), "w") as f:
    f.write("name: crash\ndefaults: {sandbox: none, resources: {cpus: 0.5}}\nsteps:\n")
    for layer in layers:
        for s in layer:
            ins = ["seed.txt"] if not deps[s] else [f"out/{d}" for d in deps[s]]
            v = int(s[1:])
            for i in ins:
                v = (v * 31 + int((seed if i == "seed.txt" else content[i[4:]]).split()[1])) % 1000000007
            content[s] = f"{s} {v}\n".encode()
            f.write(f"  {s}:\n    run: sh {T}/bin/step.sh {T}/executions.log {s} out/{s} "
                    + " ".join(ins) + "\n")
            f.write(f"    inputs: [{', '.join(ins)}]\n    outputs: [out/{s}]\n")
with open(os.path.join(T, "tmpl", "seed.txt"), "wb") as f:
    f.write(seed)
os.makedirs(os.path.join(T, "tmpl", "out"))
with open(os.path.join(T, "expected.txt"), "w") as f:
    for s in sorted(content):
        f.write(content[s].decode())
PY

# The checks, in one process per check (fork+exec is what this machine is slow at).
#   check.py kill WS OUTDIR: integrity; every succeeded/cached step's output is
#     recorded with a sha256 and its object is in the store with that content;
#     writes OUTDIR/runstatus ("none" when no run was recorded),
#     OUTDIR/done (succeeded or cached steps, one a line) and OUTDIR/states
#     (each step's state and last attempt).
#   check.py final WS STATUS_JSON EXPECTED LOG LINES_BEFORE DONE: the same, plus
#     the run and every step succeeded/cached with correct outputs, every step ran
#     at some point and no step in DONE appears in LOG after line LINES_BEFORE.
cat > check.py <<'PY'
import hashlib, json, os, sqlite3, sys

bad = []

def store_checks(ws):
    path = os.path.join(ws, ".sluice", "state.db")
    if not os.path.exists(path):
        return None
    db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=10)
    r = [row[0] for row in db.execute("PRAGMA integrity_check")]
    if r != ["ok"]:
        bad.append(f"integrity_check: {r}")
    r = db.execute("PRAGMA foreign_key_check").fetchall()
    if r:
        bad.append(f"foreign_key_check: {r}")
    if not db.execute("select 1 from sqlite_master where name = 'runs'").fetchone():
        return None
    row = db.execute("select status from runs where id = 1").fetchone()
    if not row:
        return None
    done = [n for (n,) in db.execute("select name from steps where run_id = 1 and "
                                     "status in ('succeeded', 'cached') order by name")]
    for name in done:
        files = db.execute("select path, sha256 from output_files where run_id = 1 and step = ?",
                           (name,)).fetchall()
        if [p for p, _ in files] != [f"out/{name}"]:
            bad.append(f"{name} is succeeded but its output rows are {files}")
        for p, sha in files:
            if not sha:
                bad.append(f"{name} is succeeded but {p} has no sha256")
                continue
            obj = os.path.join(ws, ".sluice", "cache", sha[:2], sha[2:])
            try:
                got = hashlib.sha256(open(obj, "rb").read()).hexdigest()
            except OSError as e:
                bad.append(f"{name} is succeeded but the object of {p} is missing: {e}")
                continue
            if got != sha:
                bad.append(f"object {obj} of {name} has sha256 {got}")
    # Each step's state and its last attempt's pid, to explain a leftover process.
    states = db.execute("select s.name, s.status, a.attempt, a.pid from steps s left join"
                        " attempts a on a.run_id = s.run_id and a.step = s.name and a.attempt ="
                        " (select max(attempt) from attempts where run_id = s.run_id and"
                        " step = s.name) where s.run_id = 1 order by s.position").fetchall()
    db.close()
    return row[0], done, states

def finish():
    if bad:
        print("\n".join(bad))
        sys.exit(1)

mode, ws = sys.argv[1], sys.argv[2]
got = store_checks(ws)
if mode == "kill":
    outdir = sys.argv[3]
    with open(os.path.join(outdir, "runstatus"), "w") as f:
        f.write((got[0] if got else "none") + "\n")
    with open(os.path.join(outdir, "done"), "w") as f:
        f.write("".join(n + "\n" for n in (got[1] if got else [])))
    with open(os.path.join(outdir, "states"), "w") as f:
        for name, status, attempt, pid in (got[2] if got else []):
            f.write(f"{name} {status}, " + (f"attempt {attempt} pid {pid}\n" if attempt
                                            else "no attempt recorded\n"))
    finish()
    sys.exit(0)

status_json, expected, log, lines_before, done_file = sys.argv[3:8]
if got is None:
    bad.append("no run 1 recorded")
doc = json.load(open(status_json))
want = {l.split()[0]: l for l in open(expected)}
if doc["status"] != "succeeded" or doc["exit_code"] != 0:
    bad.append(f"run status {doc['status']} exit {doc['exit_code']}")
steps = {s["name"]: s for s in doc["steps"]}
if sorted(steps) != sorted(want):
    bad.append(f"steps {sorted(steps)}")
for name, line in want.items():
    s = steps.get(name)
    if not s:
        continue
    if s["status"] not in ("succeeded", "cached"):
        bad.append(f"{name}: {s['status']} ({s['reason']})")
    try:
        content = open(os.path.join(ws, "out", name)).read()
    except OSError as e:
        content = str(e)
    if content != line:
        bad.append(f"{name}: out/{name} is {content!r}, expected {line!r}")
    outs = s.get("outputs") or []
    want_sha = hashlib.sha256(line.encode()).hexdigest()
    if len(outs) != 1 or outs[0]["path"] != f"out/{name}" or outs[0]["sha256"] != want_sha:
        bad.append(f"{name}: outputs {outs}, expected sha256 {want_sha}")
ran = [l.strip() for l in open(log)]
never = sorted(set(want) - set(ran))
if never:
    bad.append(f"never ran: {never}")
done = {l.strip() for l in open(done_file) if l.strip()}
again = sorted(done & set(ran[int(lines_before):]))
if again:
    bad.append(f"succeeded before the kill, ran again after it: {again}")
finish()
PY

ws=$T/ws
log=$T/executions.log
seed=reference
delay_ms=none
reset_ws() {
	rm -rf "$ws"
	cp -r "$T/tmpl" "$ws"
	: > "$log"
}
die() { fail "seed $seed (kill at ${delay_ms} ms): $*"; }

check_final() { # WHAT LINES_BEFORE
	"$SLUICE" status 1 --json > "$T/status.json" 2> "$T/status.err" ||
		die "status 1 --json failed after $1: $(cat "$T/status.err")"
	/usr/bin/python3 "$T/check.py" final "$ws" "$T/status.json" "$T/expected.txt" "$log" "$2" \
		"$T/done" || die "after $1: wrong final state (above); sluice said:
$(tail -5 "$T/resume.err" 2>/dev/null)"
}

# No step process outlives the run (the marker is this test's own step script).
# Each one found is shown with what the database said of its step after the kill.
check_no_leftovers() {
	local p step left=""
	for p in $(pgrep -f "$T/bin/step.sh" || true); do
		alive "$p" || continue
		step=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | awk '{ print $4 }')
		left="$left
  pid $p, step $step; after the kill the database had: $(grep "^$step " "$T/states" 2>/dev/null ||
			echo "no such step")"
	done
	if [ -n "$left" ]; then
		for p in $(pgrep -f "$T/bin/step.sh" || true); do kill -9 "$p" 2>/dev/null || true; done
		die "step processes left after $1:$left"
	fi
}

# The reference run, uninterrupted: it checks the pipeline and the expectations and
# gives the time over which kills are spread.
reset_ws
: > "$T/done"
cd "$ws"
start=$(date +%s%N)
"$SLUICE" run pipeline.yaml -j 4 --ci > "$T/run.out" 2> "$T/run.err" ||
	fail "reference run failed: $(cat "$T/run.err")"
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_final "the reference run" 0
[ "$(wc -l < "$log")" = 50 ] || fail "the reference run executed $(wc -l < "$log") steps, not 50"
cd "$T"
range_ms=$(( full_ms * 11 / 10 + 10 )) # a few kills land after the end
echo "reference run: ${full_ms} ms; killing at 0..${range_ms} ms"

killed=0 finished=0 unstarted=0 orphans=0
for it in $(seq 0 $((iterations - 1))); do
	seed=$((seed0 + it))
	RANDOM=$seed
	delay_ms=$(( (RANDOM * 32768 + RANDOM) % range_ms ))
	reset_ws
	cd "$ws"
	"$SLUICE" run pipeline.yaml -j 4 --ci > "$T/run.out" 2> "$T/run.err" &
	pid=$!
	sleep "$((delay_ms / 1000)).$(printf %03d $((delay_ms % 1000)))"
	: > "$T/hold"
	kill -9 "$pid" 2>/dev/null || true
	set +e
	wait "$pid" 2>/dev/null
	rc=$?
	set -e
	case $rc in
	0 | 137) ;;
	*) die "the run exited $rc before the kill: $(cat "$T/run.err")" ;;
	esac

	# Freeze the step processes the dead orchestrator left behind (held until now),
	# as if they were long ones: resume must kill them (one it misses stays, stopped,
	# and fails below).
	for p in $(pgrep -f "$T/bin/step.sh" || true); do
		alive "$p" && kill -STOP "$p" 2>/dev/null && orphans=$((orphans + 1))
	done
	rm -f "$T/hold"

	# What the database says right after the kill.
	/usr/bin/python3 "$T/check.py" kill "$ws" "$T" || die "right after the kill (above)"
	status_before=$(cat "$T/runstatus")
	lines_before=$(wc -l < "$log")
	if [ "$status_before" = none ]; then
		# Killed before the run was recorded: no step may have run.
		[ ! -s "$log" ] || die "no run recorded but steps ran: $(tr '\n' ' ' < "$log")"
		unstarted=$((unstarted + 1))
		"$SLUICE" run pipeline.yaml -j 4 --ci > "$T/run.out" 2> "$T/run.err" ||
			die "a new run after the early kill failed: $(cat "$T/run.err")"
		check_final "a new run after the early kill" 0
		check_no_leftovers "the new run"
		cd "$T"
		continue
	fi

	set +e
	"$SLUICE" resume 1 -j 4 --ci > "$T/resume.out" 2> "$T/resume.err"
	rc=$?
	set -e
	if [ "$rc" = 2 ] && [ "$status_before" = succeeded ]; then
		# The kill came after the run finished.
		grep -q 'only an interrupted or cancelled run can be resumed' "$T/resume.err" ||
			die "resume of a finished run: unexpected message: $(cat "$T/resume.err")"
		finished=$((finished + 1))
	elif [ "$rc" != 0 ]; then
		die "resume 1 (run $status_before, $(grep -c . "$T/done") steps done) exited $rc:
$(cat "$T/resume.err")"
	else
		killed=$((killed + 1))
	fi
	check_final "resume" "$lines_before"
	check_no_leftovers "resume"
	cd "$T"
done
echo "$iterations kills: $killed resumed, $finished after the end, $unstarted before the run was recorded;"
echo "$orphans step processes left behind by the kills, all killed by resume"

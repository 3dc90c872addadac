#!/usr/bin/env bash
# gc never races a run (issue 12, item 7): `sluice gc` used to check once,
# without a lock, that no run was alive, then delete unreferenced objects
# while a run that started just after was writing them (5 of 60 recorded
# outputs vanished).  Here runs of a 20-step pipeline that write new outputs
# race `sluice gc` in a loop; afterwards every recorded output of every
# succeeded step must be in the cache, intact, and restorable.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

mkdir -p ws && cd ws
{
	echo "name: race"
	echo "params: {n: 0}"
	echo "defaults: {sandbox: none}"
	echo "steps:"
	for i in $(seq 1 20); do
		echo "  s$i:"
		echo "    run: sh -c 'mkdir -p out; head -c 3000 /dev/urandom > out/s$i.bin; echo \${{ params.n }} >> out/s$i.bin'"
		echo "    outputs: [out/s$i.bin]"
	done
} > pipeline.yaml

# an object no run references, for gc to remove when it gets the lock
plant() {
	local h
	h=$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)
	# a gc going on may remove the empty directory in between: then try again
	for _ in 1 2 3; do
		mkdir -p ".sluice/cache/${h:0:2}"
		printf junk 2>/dev/null > ".sluice/cache/${h:0:2}/${h:2}" && return 0
	done
	fail "could not plant an object"
}

# many of them, so that a gc takes long enough for a run to start meanwhile
plant_many() {
	/usr/bin/python3 - "$1" <<'PY'
import os, sys
for _ in range(int(sys.argv[1])):
    h = os.urandom(32).hex()
    for _ in range(3):
        try:
            os.makedirs(".sluice/cache/" + h[:2], exist_ok=True)
            open(".sluice/cache/%s/%s" % (h[:2], h[2:]), "w").write("junk")
            break
        except FileNotFoundError:  # a gc removed the empty directory meanwhile
            pass
PY
}

gc_rc() { # what one gc may answer: removed (0) or refused, naming the holder (2)
	case $1 in
	0) collected=$((collected + 1)) ;;
	2) grep -q "is in use by" "$2" || { cat "$2"; fail "gc refused without naming the holder"; }
	   refused=$((refused + 1)) ;;
	*) cat "$2"; fail "gc exited $1" ;;
	esac
}

iterations=30 refused=0 collected=0 start=$SECONDS
for i in $(seq 1 $iterations); do
	# a gc that starts with the run: before the lock, it checked that no run was
	# alive, then deleted what the run wrote while it scanned
	gc0=
	if [ -s .sluice/state.db ]; then
		plant_many 1500
		"$SLUICE" gc >/dev/null 2>"$T/gc0.err" &
		gc0=$!
	fi
	"$SLUICE" run pipeline.yaml --ci -j 4 -p n=$i >"$T/run.log" 2>&1 &
	run=$!
	while alive $run; do
		[ -s .sluice/state.db ] || continue
		plant
		set +e
		"$SLUICE" gc >/dev/null 2>"$T/gc.err"
		rc=$?
		set -e
		gc_rc $rc "$T/gc.err"
	done
	wait $run || { cat "$T/run.log"; fail "run $i failed"; }
	if [ -n "$gc0" ]; then
		set +e
		wait $gc0
		rc=$?
		set -e
		gc_rc $rc "$T/gc0.err"
	fi
	# bounded in time as well as in count
	if [ $((SECONDS - start)) -gt 90 ] && [ "$i" -ge 10 ]; then iterations=$i; break; fi
done
echo "$iterations runs; gc refused $refused times, collected $collected times"
[ "$refused" -ge 1 ] || fail "gc never met a live run: the race was not exercised"

# every recorded output of every succeeded step is in the cache, intact
/usr/bin/python3 - <<'PY'
import hashlib, os, sqlite3, sys
db = sqlite3.connect("file:.sluice/state.db?mode=ro", uri=True)
rows = db.execute("""SELECT f.run_id, f.step, f.path, f.sha256 FROM output_files f
                     JOIN steps s ON s.run_id = f.run_id AND s.name = f.step
                     WHERE s.status = 'succeeded'""").fetchall()
assert len(rows) >= 200, len(rows)
lost = []
for run, step, path, sha in rows:
    obj = os.path.join(".sluice/cache", sha[:2], sha[2:])
    if not os.path.exists(obj) or hashlib.sha256(open(obj, "rb").read()).hexdigest() != sha:
        lost.append((run, step, path))
if lost:
    sys.exit("lost %d of %d recorded outputs: %s" % (len(lost), len(rows), lost[:5]))
print("all %d recorded outputs in the cache" % len(rows))
PY

# with no run going gc removes what nobody references (the junk planted while
# it was refused first)
run_sluice 0 gc
plant
run_sluice 0 gc
expect_contains "$ERR" "removed 1 object"

# and the outputs are restorable: runs with earlier params restore them all
for n in 1 $((iterations / 2)) $iterations; do
	rm -rf out
	run_sluice 0 run pipeline.yaml --ci -p n=$n
	expect_contains "$ERR" "20 of 20 steps ok: 0 ran, 20 cached"
	/usr/bin/python3 - "$n" <<'PY'
import hashlib, sqlite3, sys
n = int(sys.argv[1])
db = sqlite3.connect("file:.sluice/state.db?mode=ro", uri=True)
(run,) = db.execute("SELECT min(id) FROM runs WHERE params_json LIKE ?", ('%%"n": %d}' % n,)).fetchone()
for path, sha in db.execute("SELECT path, sha256 FROM output_files WHERE run_id = ?", (run,)):
    got = hashlib.sha256(open(path, "rb").read()).hexdigest()
    assert got == sha, (n, run, path)
PY
done

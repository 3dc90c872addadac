#!/usr/bin/env bash
# What a step sees of the host (issue 11): an allow list, not all of /.
# Each attack first worked (a recursive read-only bind of / showed it all):
# a host daemon's Unix socket in /run and one in the host's /tmp, another
# workspace's .sluice/state.db next to this one, /root and /home.  Now they
# are absent.  `read:` adds host paths read-only; a missing one, and one in
# a state directory, fail the step with a clear reason; a .sluice in one is
# hidden.  As root and as an unprivileged user made here.
set -eu
. "$TESTS_DIR/integration/lib.sh"
PY=/usr/bin/python3
tag=$$
data=$(mktemp -d /var/tmp/sluice-t83-data.XXXXXX)
mkdir -p "$data/other"
echo "dataset" > "$data/rows.csv"
mkdir "$data/.sluice" && echo "state" > "$data/.sluice/state.db"
chmod -R a+rX "$data"
servers=()
cleanup() {
	for s in "${servers[@]}"; do kill "$s" 2>/dev/null || true; done
	rm -rf "$data" "/run/sluice-t83-$tag.sock" "/tmp/sluice-t83-$tag.sock"
	unpriv_cleanup
}
trap cleanup EXIT
# a host daemon's socket: in /run and in the host's /tmp, open to everyone
for sock in "/run/sluice-t83-$tag.sock" "/tmp/sluice-t83-$tag.sock"; do
	$PY - "$sock" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(b"host daemon\n"); c.close()
PY
	servers+=($!)
done
for _ in $(seq 100); do [ -S "/run/sluice-t83-$tag.sock" ] && [ -S "/tmp/sluice-t83-$tag.sock" ] && break; sleep 0.05; done
[ -S "/run/sluice-t83-$tag.sock" ] || fail "the test's daemon did not start"

# pipeline WS: the attacks, and read: paths
write_pipeline() {
	local ws=$1 other=$2
	cat > "$ws/probe.py" <<'PY'
import os, socket, sys
for what in sys.argv[1:]:
    kind, path = what.split(":", 1)
    try:
        if kind == "sock":
            s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(path)
            print(path, "reached:", s.recv(100).decode().strip())
        elif kind == "read":
            print(path, "read:", open(path).read().strip()[:40])
        elif kind == "ls":
            print(path, "listed:", sorted(os.listdir(path)))
        elif kind == "write":
            open(path, "w").write("x"); print(path, "written")
    except OSError as e:
        print(path, "refused:", e.strerror)
PY
	cat > "$ws/pipeline.yaml" <<YAML
name: hostview
steps:
  attack:
    run: >-
      $PY probe.py sock:/run/sluice-t83-$tag.sock sock:/tmp/sluice-t83-$tag.sock
      read:$other/.sluice/state.db ls:$other ls:/root ls:/home ls:/var ls:/run ls:/mnt ls:/srv
      ls:/media ls:/sys ls:/
  withread:
    run: $PY probe.py read:$data/rows.csv write:$data/new.txt ls:$data/.sluice ls:$data
    sandbox: {read: [$data]}
  missing:
    run: "true"
    sandbox: {read: [/nonexistent-t83]}
  instate:
    run: "true"
    sandbox: {read: [$other/.sluice]}
YAML
}
check() { # LOGS_OF_ATTACK LOGS_OF_WITHREAD JSON OTHER
	local a=$1 r=$2 json=$3 other=$4
	expect_not_contains "$a" "reached:"
	expect_contains "$a" "/run/sluice-t83-$tag.sock refused: No such file or directory"
	expect_contains "$a" "/tmp/sluice-t83-$tag.sock refused: No such file or directory"
	expect_contains "$a" "state.db refused: No such file or directory"
	for d in /root /home /run /mnt /srv /media /sys; do
		expect_contains "$a" "$d refused: No such file or directory"
	done
	# /var holds only the way to a workspace below it (the unprivileged one's)
	case $other in
	/var/*) expect_contains "$a" "/var listed: ['tmp']" ;;
	*) expect_contains "$a" "/var refused: No such file or directory" ;;
	esac
	expect_contains "$a" "/ listed: ['bin', 'dev', 'etc',"
	expect_contains "$r" "$data/rows.csv read: dataset"
	expect_contains "$r" "$data/new.txt refused: Read-only file system"
	expect_contains "$r" "$data/.sluice listed: []"
	/usr/bin/python3 - "$json" "$other" <<'PY'
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
other = sys.argv[2]
assert s["attack"]["status"] == "succeeded", s["attack"]
assert s["withread"]["status"] == "succeeded", s["withread"]
assert s["missing"]["reason"] == "sandbox: read /nonexistent-t83: No such file or directory", s["missing"]
assert s["instate"]["reason"].startswith("sandbox: read %s/.sluice: lies in a sluice state directory" % other), s["instate"]
PY
}

# as root: another workspace (with a run, so with a state.db) next to this one
mkdir ws other
(cd other && printf 'name: other\nsteps:\n  s: {run: "true"}\n' > pipeline.yaml && "$SLUICE" run pipeline.yaml --ci >/dev/null 2>&1)
expect_file other/.sluice/state.db
write_pipeline "$T/ws" "$T/other"
cd ws
run_sluice 1 run pipeline.yaml --ci --json
json=$OUT
run_sluice 0 logs 1 attack
a=$OUT
run_sluice 0 logs 1 withread
check "$a" "$OUT" "$json" "$T/other"
cd "$T"

# as an unprivileged user: the same, with the user's own second workspace
unpriv_user
mkdir "$BOX/other"
printf 'name: other\nsteps:\n  s: {run: "true"}\n' > "$BOX/other/pipeline.yaml"
chown -R "$U:" "$BOX/other"
(cd "$BOX/other" && as_user env HOME="$BOX/home" PATH=/usr/bin:/bin "$BOX/sluice" run pipeline.yaml --ci >/dev/null 2>&1)
expect_file "$BOX/other/.sluice/state.db"
write_pipeline "$BOX/ws" "$BOX/other"
chown -R "$U:" "$BOX/ws"
cd "$BOX/ws"
ur() { as_user env HOME="$BOX/home" PATH=/usr/bin:/bin "$BOX/sluice" "$@"; }
set +e
ur run pipeline.yaml --ci --json >"$T/u.json" 2>"$T/u.err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "sluice as $U exited $rc: $(cat "$T/u.err")"
check "$(ur logs 1 attack 2>&1)" "$(ur logs 1 withread 2>&1)" "$(cat "$T/u.json")" "$BOX/other"

#!/usr/bin/env bash
# Default limits (issue 11).  Found first: as an unprivileged user,
# `memory: 64M` was bypassed by writing 2 GiB into /dev/shm (each tmpfs was
# half the machine's memory), and a step could fork without bound.  Now
# /tmp (with HOME in it) and /dev (with /dev/shm) are each at most
# sandbox.tmpfs, else the memory limit, else 1 GiB: the write stops at
# ENOSPC (as root the memory cgroup may end the step first); and pids is
# 4096 by default, enforced by the pids cgroup as root (a fork loop stops
# there), by RLIMIT_NPROC with a warning for a user without cgroups.
set -eu
. "$TESTS_DIR/integration/lib.sh"
PY=/usr/bin/python3
trap 'unpriv_cleanup' EXIT
write_pipeline() {
	cat > "$1/pipeline.yaml" <<YAML
name: limits
steps:
  shm:
    run: |
      df -B1 --output=size /tmp /dev/shm | tail -2 | tr '\n' ' ' | sed 's/^/sizes /'; echo
      dd if=/dev/zero of=/dev/shm/big bs=1M count=2048 2>&1 | grep -v records
      echo "wrote \$(stat -c %s /dev/shm/big)"
    sandbox: {memory: 64M}
  sized:
    run: df -B1 --output=size /tmp /dev/shm | tail -2 | tr '\n' ' ' | sed 's/^/sizes /'
    sandbox: {memory: 64M, tmpfs: 16M}
  default:
    run: df -B1 --output=size /tmp /dev/shm | tail -2 | tr '\n' ' ' | sed 's/^/sizes /'
YAML
}
sizes() { echo "$1" | grep -o 'sizes .*' | tr -s ' ' | sed 's/ $//'; }
check() { # SHM_LOG SIZED_LOG DEFAULT_LOG
	expect_eq "$(sizes "$1")" "sizes 67108864 67108864" "tmpfs sizes with memory: 64M"
	expect_eq "$(sizes "$2")" "sizes 16777216 16777216" "tmpfs sizes with tmpfs: 16M"
	expect_eq "$(sizes "$3")" "sizes 1073741824 1073741824" "tmpfs sizes by default"
	local wrote
	wrote=$(echo "$1" | sed -n 's/.*wrote \([0-9]*\).*/\1/p')
	[ -z "$wrote" ] || [ "$wrote" -le $((64 << 20)) ] || fail "wrote $wrote bytes into /dev/shm"
}

# as an unprivileged user (no cgroups): the tmpfs size is the only bound
unpriv_user
write_pipeline "$BOX/ws"
chown -R "$U:" "$BOX/ws"
cd "$BOX/ws"
ur() { as_user env HOME="$BOX/home" PATH=/usr/bin:/bin "$BOX/sluice" "$@"; }
set +e
ur run pipeline.yaml --ci --json >"$T/u.json" 2>"$T/u.err"
set -e
shm=$(ur logs 1 shm 2>&1)
expect_contains "$shm" "No space left on device"
check "$shm" "$(ur logs 1 sized 2>&1)" "$(ur logs 1 default 2>&1)"
expect_contains "$(cat "$T/u.err")" "pids limit 4096 cannot be enforced through cgroups"
cd "$T"
unpriv_cleanup

# as root: the same sizes; the memory cgroup counts the tmpfs too
mkdir ws && write_pipeline "$T/ws" && cd ws
run_sluice 1 run pipeline.yaml --ci --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
assert s["shm"]["status"] == "failed", s["shm"]
assert s["shm"]["reason"] in ("exit 1", "memory limit 64M exceeded"), s["shm"]
PY
shm=$("$SLUICE" logs 1 shm)
# ENOSPC, or the OOM killer took dd (or the whole step) first: the tmpfs is
# charged to the step's memory cgroup
case $OUT in
*'"reason": "memory limit 64M exceeded"'*) ;;
*) echo "$shm" | grep -Eq "No space left on device|Killed" || fail "the 2 GiB write was not stopped: $shm" ;;
esac
check "$shm" "$("$SLUICE" logs 1 sized)" "$("$SLUICE" logs 1 default)"

# a fork loop as root stops at the default pids limit (the pids cgroup)
if [ -e /sys/fs/cgroup/pids/pids.max ] || grep -qw pids /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
	[ -d /sys/fs/cgroup/pids ]; then
	mkdir "$T/bomb" && cd "$T/bomb"
	cat > bomb.yaml <<YAML
name: bomb
steps:
  bomb:
    run: |
      $PY - <<'PYEOF'
      import os, signal
      n = 0
      try:
          while n < 10000:
              if os.fork() == 0:
                  signal.pause()
                  os._exit(0)
              n += 1
      except OSError as e:
          print("fork stopped:", e.strerror)
      print("forked", n)
      PYEOF
    sandbox: {memory: 2G}
YAML
	run_sluice 0 run bomb.yaml --ci
	run_sluice 0 logs 1 bomb
	expect_contains "$OUT" "fork stopped: Resource temporarily unavailable"
	n=$(echo "$OUT" | sed -n 's/.*forked \([0-9]*\).*/\1/p')
	[ "$n" -gt 3000 ] && [ "$n" -lt 4096 ] || fail "forked $n processes (the default limit is 4096)"
else
	echo "note: no pids cgroup controller here; the fork loop is not tried as root" >&2
fi

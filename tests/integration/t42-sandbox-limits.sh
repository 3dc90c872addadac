#!/usr/bin/env bash
# Limits through cgroups (v2 where the unified hierarchy has the controller,
# v1 otherwise; this machine's v2 has none, so v1): memory (the OOM killer
# ends the step: `memory limit 64M exceeded`), pids (a fork loop stops at
# the limit and the machine carries on), cpus (the step's cgroup has the
# quota and the step is throttled).  No wall-clock assertions.
set -eu
. "$TESTS_DIR/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "limits through cgroups need root here (t46 covers the unprivileged fallback)"
[ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ] ||
	grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
	skip "no memory cgroup controller (v1 or v2) on this machine"
cgroups() { find /sys/fs/cgroup -maxdepth 5 -name "sluice-*" -type d 2>/dev/null | sort; }
before=$(cgroups)
PY=/usr/bin/python3
cat > pipeline.yaml <<YAML
name: limits
steps:
  hog:
    run: $PY -c "x = bytearray(256 << 20); x[::4096] = b'x' * len(x[::4096]); print('survived')"
    sandbox: {memory: 64M}
    retries: {limit: 1, backoff: 10ms, on: [error]}
  fine:
    run: $PY -c "x = bytearray(16 << 20); x[::4096] = b'x' * len(x[::4096]); print('fine')"
    sandbox: {memory: 64M}
  forker:
    run: |
      $PY - <<'PYEOF'
      import os, time
      n = 0
      try:
          for i in range(60):
              if os.fork() == 0:
                  time.sleep(3)
                  os._exit(0)
              n += 1
      except OSError as e:
          print("fork stopped:", e)
      print("forked", n)
      open("count.txt", "w").write("%d\n" % sum(p.isdigit() for p in os.listdir("/proc")))
      PYEOF
    sandbox: {pids: 16}
    outputs: [count.txt]
  throttled:
    run: |
      $PY - <<'PYEOF'
      import glob, os, time
      mine = None
      for d in glob.glob("/sys/fs/cgroup/cpu/**/sluice-*", recursive=True) + glob.glob("/sys/fs/cgroup/**/sluice-*", recursive=True):
          try:
              procs = open(d + "/cgroup.procs").read().split()
          except OSError:
              continue
          if any(p != "0" for p in procs) and (os.path.exists(d + "/cpu.cfs_quota_us") or os.path.exists(d + "/cpu.max")):
              mine = d
              break
      assert mine, "no cgroup of mine"
      q = open(mine + "/cpu.cfs_quota_us").read().strip() if os.path.exists(mine + "/cpu.cfs_quota_us") else open(mine + "/cpu.max").read().split()[0]
      print("quota", q)
      t = time.process_time()
      while time.process_time() - t < 0.4:
          pass
      stat = dict(l.split() for l in open(mine + "/cpu.stat"))
      print("throttled", int(stat["nr_throttled"]) > 0)
      PYEOF
    # /sys is not in the sandbox's allow list: the step asks for the cgroups
    sandbox: {cpus: 0.5, read: [/sys/fs/cgroup]}
YAML
run_sluice 1 run pipeline.yaml --ci --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
assert s["hog"]["status"] == "failed" and s["hog"]["reason"] == "memory limit 64M exceeded", s["hog"]
assert s["hog"]["attempts"] == 1, ("an OOM is not an error to retry on", s["hog"])
assert s["fine"]["status"] == "succeeded", s["fine"]
assert s["forker"]["status"] == "succeeded", s["forker"]
assert s["throttled"]["status"] == "succeeded", s["throttled"]
PY
run_sluice 0 logs 1 hog
expect_not_contains "$OUT" "survived"
# the pids limit held: the shell, pid 1 and at most 14 sleeps
run_sluice 0 logs 1 forker
expect_contains "$OUT" "fork stopped: [Errno 11] Resource temporarily unavailable"
forked=$(echo "$OUT" | sed -n 's/.*forked \([0-9]*\).*/\1/p')
[ -n "$forked" ] && [ "$forked" -lt 16 ] || fail "the fork loop was not stopped: $OUT"
[ "$(cat count.txt)" -le 16 ] || fail "more than 16 processes in the sandbox: $(cat count.txt)"
# and the machine is fine
expect_eq "$(sh -c 'echo ok')" "ok"
run_sluice 0 logs 1 throttled
expect_contains "$OUT" "quota 50000"
expect_contains "$OUT" "throttled True"
# the step's cgroups are gone
expect_eq "$(new_cgroups "$before")" "" "sluice cgroups left after the run"
# show: the peak memory is in the attempt's record (max RSS)
run_sluice 0 show 1 fine --json
/usr/bin/python3 -c 'import json,sys; a=json.loads(sys.argv[1])["attempts"][0]; assert a["max_rss_kb"] > 16000, a' "$OUT"

#!/usr/bin/env bash
# The sandbox as an unprivileged user (created here; sluice run through
# setpriv): a user namespace maps the user to itself; no capabilities,
# no_new_privs, seccomp; a read-only world; home and .sluice/ invisible; no
# network unless allowed; declared outputs promoted.  cgroups are not
# delegated to the user on this machine, so limits fall back to rlimits
# (RLIMIT_AS for memory, RLIMIT_NPROC for pids) with a warning that says so.
set -eu
. "$TESTS_DIR/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to create the test user"
command -v useradd >/dev/null && command -v setpriv >/dev/null || skip "useradd or setpriv missing"
U=sluice-unpriv
id "$U" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$U" ||
	fail "useradd $U"
uid=$(id -u "$U")
as_user() { setpriv --reuid="$U" --regid="$U" --clear-groups --reset-env "$@"; }
as_user unshare -U true 2>/dev/null ||
	skip "the kernel refuses user namespaces to unprivileged users ($(as_user unshare -U true 2>&1))"
# a world-readable copy of sluice, a workspace and a home the user owns
box=$(mktemp -d /var/tmp/sluice-unpriv.XXXXXX)
trap 'kill $server 2>/dev/null || true; rm -rf "$box"' EXIT
chmod 755 "$box"
cp "$SLUICE" "$box/sluice"
chmod 755 "$box/sluice"
mkdir -p "$box/ws" "$box/home"
echo "user secret" > "$box/home/secret.txt"
chown -R "$U:" "$box/ws" "$box/home"
chmod 700 "$box/home"
PY=/usr/bin/python3
$PY - > port.txt <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); sys.stdout.close()
while True:
    c, _ = s.accept(); c.sendall(b"hello from the host\n"); c.close()
PY
server=$!
for _ in $(seq 100); do [ -s port.txt ] && break; sleep 0.05; done
port=$(cat port.txt)
cat > "$box/ws/pipeline.yaml" <<YAML
name: unpriv
steps:
  inspect:
    run: |
      grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
      echo "uid \$(id -u)"
      echo x > /dev/null && [ "\$(head -c 4 /dev/urandom | wc -c)" = 4 ] && echo "dev works"
      cat /proc/self/uid_map
      ps -e -o pid= > /tmp/ps.txt; echo "procs \$(wc -l < /tmp/ps.txt)"
      touch /etc/x 2>/dev/null && echo "etc writable" || echo "etc read-only"
      cat $box/home/secret.txt 2>/dev/null && echo "home visible" || echo "home hidden"
      test -e .sluice/state.db && echo "state visible" || echo "state hidden"
      unshare -U true 2>/dev/null && echo "unshare allowed" || echo "unshare denied"
      echo done > result.txt
      echo scratch > scratch.txt
    outputs: [result.txt]
  offline:
    run: $PY -c "import socket; socket.create_connection(('127.0.0.1', $port), 2)"
  online:
    run: $PY -c "import socket; print(socket.create_connection(('127.0.0.1', $port), 2).recv(100).decode())"
    sandbox: {network: true}
  hog:
    run: $PY -c "x = bytearray(256 << 20); print('survived')"
    sandbox: {memory: 64M}
  forker:
    run: |
      $PY - <<'PYEOF'
      import os, time
      n = 0
      try:
          for i in range(60):
              if os.fork() == 0:
                  time.sleep(2)
                  os._exit(0)
              n += 1
      except OSError as e:
          print("fork stopped:", e)
      print("forked", n)
      PYEOF
    sandbox: {pids: 16}
YAML
cd "$box/ws"
set +e
as_user env HOME="$box/home" PATH=/usr/bin:/bin "$box/sluice" run pipeline.yaml --ci --json >"$T/out.json" 2>"$T/err.txt"
rc=$?
set -e
OUT=$(cat "$T/out.json"); ERR=$(cat "$T/err.txt")
[ "$rc" = 1 ] || fail "sluice as $U exited $rc: $ERR"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
assert s["inspect"]["status"] == "succeeded", s["inspect"]
assert s["online"]["status"] == "succeeded", s["online"]
assert s["offline"]["status"] == "failed", s["offline"]
assert s["hog"]["status"] == "failed" and s["hog"]["reason"] == "exit 1", s["hog"]
assert s["forker"]["status"] == "succeeded", s["forker"]
PY
expect_contains "$ERR" "memory limit 64M cannot be enforced through cgroups"
expect_contains "$ERR" "falling back to RLIMIT_AS=64M"
# stderr says each fallback once (the default pids limit, 4096, comes
# first); every step's log says its own
expect_contains "$ERR" "falling back to RLIMIT_NPROC=4096"
logs() { as_user env HOME="$box/home" "$box/sluice" logs 1 "$1" 2>&1; }
log=$(logs inspect)
expect_contains "$log" "CapEff:	0000000000000000"
expect_contains "$log" "CapBnd:	0000000000000000"
expect_contains "$log" "NoNewPrivs:	1"
expect_contains "$log" "Seccomp:	2"
expect_contains "$log" "uid $uid"
expect_contains "$log" "dev works"
echo "$log" | grep -Eq "^\S+ +$uid +$uid +1$" || fail "uid_map is not the user to itself: $log"
expect_contains "$log" "procs 3" # pid 1, the shell, ps
expect_contains "$log" "etc read-only"
expect_contains "$log" "home hidden"
expect_contains "$log" "state hidden"
expect_contains "$log" "unshare denied"
expect_contains "$log" "undeclared write dropped: scratch.txt"
expect_eq "$(cat result.txt)" "done"
expect_no_file scratch.txt
expect_contains "$(logs online)" "hello from the host"
expect_contains "$(logs offline)" "Network is unreachable"
expect_contains "$(logs hog)" "MemoryError"
expect_not_contains "$(logs hog)" "survived"
expect_contains "$(logs forker)" "fork stopped"
expect_contains "$(logs forker)" "falling back to RLIMIT_NPROC=16"
# a failed user-namespace handshake is a clear reason too
set +e
as_user env HOME="$box/home" SLUICE_SANDBOX_FAIL=uid-map "$box/sluice" run pipeline.yaml --ci --json --force --only inspect >"$T/out.json" 2>/dev/null
set -e
expect_contains "$(cat "$T/out.json")" '"reason": "sandbox: uid-map: Operation not permitted"'

#!/usr/bin/env bash
# A step that sluice starts as root is not root of the host (issue 11): it
# runs in a user namespace whose uid 0 is nobody (65534) outside, or the
# workspace's owner when that is not root.  Found first: a step read
# /etc/shadow, and a host daemon checking SO_PEERCRED saw uid 0.  Now
# /etc/shadow is unreadable and the daemon (reached through `read:`) sees
# 65534 or the owner; the step still writes its outputs, which land in the
# workspace owned as the workspace is.  The unprivileged user is itself.
set -eu
. "$TESTS_DIR/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
PY=/usr/bin/python3
sockdir=$(mktemp -d /var/tmp/sluice-t84.XXXXXX)
chmod 755 "$sockdir"
trap 'kill $server 2>/dev/null || true; rm -rf "$sockdir"; unpriv_cleanup' EXIT
# a daemon that records who connects (SO_PEERCRED), one line per peer
$PY - "$sockdir/d.sock" "$sockdir/peers" <<'PY' &
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(8)
while True:
    c, _ = s.accept()
    pid, uid, gid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    with open(sys.argv[2], "a") as f:
        f.write("%d %d\n" % (uid, gid))
    c.sendall(b"ok\n"); c.close()
PY
server=$!
for _ in $(seq 100); do [ -S "$sockdir/d.sock" ] && break; sleep 0.05; done
write_pipeline() {
	cat > "$1/pipeline.yaml" <<YAML
name: rootuid
steps:
  who:
    run: |
      echo "uid \$(id -u) gid \$(id -g)"
      sed 's/  */ /g; s/^ //' /proc/self/uid_map | sed 's/^/uid_map /'
      cat /etc/shadow > /dev/null 2>&1 && echo "shadow readable" || echo "shadow unreadable"
      $PY -c "import socket; s = socket.socket(socket.AF_UNIX); s.connect('$sockdir/d.sock'); print('daemon says', s.recv(10).decode().strip())"
      echo new > out.txt
      echo more >> data/old.txt
      mkdir -p made && echo x > made/x
    outputs: [out.txt, data/old.txt, made]
    sandbox: {read: [$sockdir]}
YAML
	mkdir -p "$1/data" && echo old > "$1/data/old.txt"
}
peer() { tail -1 "$sockdir/peers"; }

# a root-owned workspace: the step is nobody outside
mkdir ws && write_pipeline "$T/ws" && cd ws
run_sluice 0 run pipeline.yaml --ci
run_sluice 0 logs 1 who
expect_contains "$OUT" "uid 0 gid 0"
expect_contains "$OUT" "uid_map 0 65534 1"
expect_contains "$OUT" "shadow unreadable"
expect_contains "$OUT" "daemon says ok"
expect_eq "$(peer)" "65534 65534" "the daemon's peer (a step of root's workspace)"
expect_eq "$(cat data/old.txt)" "old
more"
expect_eq "$(stat -c '%u:%g' out.txt data/old.txt made/x | sort -u)" "0:0" "owner of the outputs"
cd "$T"

# a workspace owned by another user, sluice as root: the step is that user
unpriv_user
write_pipeline "$BOX/ws"
chown -R "$U:" "$BOX/ws"
cd "$BOX/ws"
run_sluice 0 run pipeline.yaml --ci
run_sluice 0 logs 1 who
expect_contains "$OUT" "uid_map 0 $U_UID 1"
expect_contains "$OUT" "shadow unreadable"
expect_eq "$(peer)" "$U_UID $(id -g "$U")" "the daemon's peer (a step of $U's workspace)"
expect_eq "$(stat -c '%u' out.txt data/old.txt made/x | sort -u)" "$U_UID" "owner of the outputs"
# the stages of it fail cleanly too
rm -rf .sluice
SLUICE_SANDBOX_FAIL=user run_sluice 1 run pipeline.yaml --ci --json
expect_contains "$OUT" '"reason": "sandbox: user: Operation not permitted"'
SLUICE_SANDBOX_FAIL=userns run_sluice 1 run pipeline.yaml --ci --json
expect_contains "$OUT" '"reason": "sandbox: userns: make the step'"'"'s user namespace (uid '"$U_UID"'): Operation not permitted"'
# sluice run by that user: the step is the user, as before
rm -rf .sluice
: > "$sockdir/peers"
as_user env HOME="$BOX/home" PATH=/usr/bin:/bin "$BOX/sluice" run pipeline.yaml --ci >/dev/null 2>&1 ||
	fail "sluice as $U failed"
expect_eq "$(peer)" "$U_UID $(id -g "$U")" "the daemon's peer (sluice run by $U)"

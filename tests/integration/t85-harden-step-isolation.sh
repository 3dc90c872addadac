#!/usr/bin/env bash
# Steps are isolated from each other (issue 11).  Found first: two
# concurrent steps talked over an abstract Unix socket in the one empty
# network namespace that root's steps share, and the listener handed the
# other its pidfd (which it could not signal: the pid namespaces are
# siblings; Landlock's signal scope would refuse it too).  Now Landlock
# scopes abstract sockets and signals to each step (ABI 6), so the connect
# fails with EPERM;
# where the kernel lacks them (SLUICE_SANDBOX_NO_LANDLOCK=1 here) every step
# gets a network namespace of its own, and the connect finds nobody.  A
# step with the network is kept from the host's abstract sockets too.  As
# root and as an unprivileged user.
set -eu
. "$TESTS_DIR/integration/lib.sh"
PY=/usr/bin/python3
name="sluice-t85-$$"
# a host service on an abstract socket (like X11's or D-Bus's)
$PY - "$name-host" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind("\0" + sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(b"host\n"); c.close()
PY
server=$!
trap 'kill $server 2>/dev/null || true; unpriv_cleanup' EXIT
write_pipeline() {
	cat > "$1/listen.py" <<'PY'
import os, select, signal, socket, sys
signal.signal(signal.SIGUSR1, lambda *a: (print("signalled by another step", flush=True), os._exit(0)))
s = socket.socket(socket.AF_UNIX); s.bind("\0" + sys.argv[1]); s.listen(1)
print("listening", flush=True)
if select.select([s], [], [], 5)[0]:
    c, _ = s.accept()
    socket.send_fds(c, [b"pidfd"], [os.pidfd_open(os.getpid())])
    print("a step connected", flush=True)
    signal.sigtimedwait([signal.SIGUSR1], 5)
    print("not signalled")
else:
    print("nobody came")
PY
	cat > "$1/connect.py" <<'PY'
import errno, os, signal, socket, sys, time
def attempt(name):
    s = socket.socket(socket.AF_UNIX)
    s.connect("\0" + name)
    return s
end = time.monotonic() + 5
while True:
    try:
        s = attempt(sys.argv[1])
    except OSError as e:
        # EPERM is final (a Landlock scope); ECONNREFUSED: maybe not listening yet
        if e.errno == errno.ECONNREFUSED and time.monotonic() < end:
            time.sleep(0.05)
            continue
        print("other step: connect refused:", e.strerror)
        break
    print("other step: connected", flush=True)
    msg, fds, _, _ = socket.recv_fds(s, 100, 1)
    try:
        # its pid namespace is not ours: EINVAL even without Landlock
        signal.pidfd_send_signal(fds[0], signal.SIGUSR1)
        print("other step: signalled it")
    except OSError as e:
        print("other step: signal refused:", e.strerror)
    break
try:
    attempt(sys.argv[2]).recv(10)
    print("host: connected")
except OSError as e:
    print("host: connect refused:", e.strerror)
PY
	cat > "$1/pipeline.yaml" <<YAML
name: steps
defaults: {timeout: 30s}
steps:
  listener:
    run: $PY listen.py $name
  talker:
    run: $PY connect.py $name $name-host
  online:
    run: $PY connect.py $name-none $name-host
    sandbox: {network: true}
YAML
}
check() { # LISTENER_LOG TALKER_LOG ONLINE_LOG WANT
	expect_contains "$1" "nobody came"
	expect_not_contains "$1" "a step connected"
	expect_not_contains "$2" "other step: connected"
	expect_contains "$2" "other step: connect refused: $4"
	expect_contains "$2" "host: connect refused: " # another network namespace
	expect_contains "$3" "host: connect refused: Operation not permitted"
}
landlock=$($PY -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))')
[ "$landlock" -ge 6 ] 2>/dev/null || skip "this kernel has no Landlock ABI 6 (Landlock $landlock)"

mkdir ws && write_pipeline "$T/ws" && cd ws
run_sluice 0 run pipeline.yaml --ci -j 3
check "$("$SLUICE" logs 1 listener)" "$("$SLUICE" logs 1 talker)" "$("$SLUICE" logs 1 online)" \
	"Operation not permitted"
# show says which isolation the attempt had, in text and JSON
expect_contains "$("$SLUICE" show 1 talker)" "isolation  landlock scopes (ABI"
expect_contains "$("$SLUICE" show 1 talker --json)" '"isolation": "landlock scopes (ABI'
# the fallback: a network namespace per step
SLUICE_SANDBOX_NO_LANDLOCK=1 run_sluice 0 run pipeline.yaml --ci -j 3 --force
l=$("$SLUICE" logs 2 listener)
expect_contains "$l" "nobody came"
expect_contains "$("$SLUICE" logs 2 talker)" "other step: connect refused: Connection refused"
expect_contains "$("$SLUICE" show 2 talker)" "isolation  network namespace per step"
cd "$T"

unpriv_user
write_pipeline "$BOX/ws"
chown -R "$U:" "$BOX/ws"
cd "$BOX/ws"
ur() { as_user env HOME="$BOX/home" PATH=/usr/bin:/bin "$BOX/sluice" "$@"; }
ur run pipeline.yaml --ci -j 3 >/dev/null 2>&1 || fail "sluice as $U failed: $(ur status 2>&1)"
# an unprivileged user's steps have a network namespace each (its user
# namespace cannot enter a shared one): nobody listens in the talker's
check "$(ur logs 1 listener 2>&1)" "$(ur logs 1 talker 2>&1)" "$(ur logs 1 online 2>&1)" \
	"Connection refused"

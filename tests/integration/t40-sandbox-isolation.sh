#!/usr/bin/env bash
# The sandbox, as root: no capabilities, no_new_privs, seccomp; its own pid
# namespace (ps sees only the step); a read-only world of allowed host
# directories; the user's home absent and .sluice/ an empty tmpfs; no network unless `sandbox: {network: true}` — checked
# against a real listener the test starts on 127.0.0.1.
set -eu
. "$TESTS_DIR/integration/lib.sh"
PY=/usr/bin/python3
# a home outside /tmp (the fresh /tmp would hide one below it anyway)
home=$(mktemp -d /var/tmp/sluice-home.XXXXXX)
echo "top secret" > "$home/secret.txt"
export HOME=$home
mkdir ws && cd ws
# a real server on the host's loopback; the step has to reach it
$PY - > port.txt <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); sys.stdout.close()
while True:
    c, _ = s.accept(); c.sendall(b"hello from the host\n"); c.close()
PY
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$home"' EXIT
for _ in $(seq 100); do [ -s port.txt ] && break; sleep 0.05; done
port=$(cat port.txt)
[ -n "$port" ] || fail "the test's server did not start"
cat > pipeline.yaml <<YAML
name: iso
steps:
  inspect:
    run: |
      grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
      echo "hostname \$(hostname)"
      echo x > /dev/null && [ "\$(head -c 4 /dev/urandom | wc -c)" = 4 ] && [ -z "\$(head -c 4 /dev/zero | tr -d '\\0')" ] && echo "dev works"
      touch /dev/shm/x && echo "shm writable"
      (echo x > /proc/1/fd/3) 2>/dev/null && echo "pid 1's fds open" || echo "pid 1's fds closed"
      (echo '{"hacked": 1}' > \$SLUICE_PARAMS) 2>/dev/null && echo "params writable" || echo "params read-only"
      echo "from=inside" >> \$SLUICE_OUTPUT
      ls /dev | tr '\n' ' ' | sed 's/^/dev: /'; echo
      echo "uid \$(id -u)"
      ps -e -o pid=,comm= > ps.txt
      touch /etc/sluice-was-here 2>/dev/null && echo "etc writable" || echo "etc read-only"
      touch /usr/sluice-was-here 2>/dev/null && echo "usr writable" || echo "usr read-only"
      ls -A $HOME > home-view.txt 2>&1 || true
      cat $HOME/secret.txt 2>/dev/null && echo "home visible" || echo "home hidden"
      ls -A .sluice > sluice-view.txt 2>&1 || true
      test -e .sluice/state.db && echo "state visible" || echo "state hidden"
      echo "HOME=\$HOME TMPDIR=\$TMPDIR"
      touch \$HOME/x \$TMPDIR/y && echo "scratch writable"
      unshare -U true 2>/dev/null && echo "unshare allowed" || echo "unshare denied"
      $PY -c 'import ctypes, errno, os
      libc = ctypes.CDLL(None, use_errno=True)
      r = libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0)
      print("setns", "allowed" if r == 0 else errno.errorcode[ctypes.get_errno()])' 
    outputs: [ps.txt, home-view.txt, sluice-view.txt]
  offline:
    run: $PY -c "import socket; print(socket.create_connection(('127.0.0.1', $port), 2).recv(100).decode())"
  online:
    run: $PY -c "import socket; print(socket.create_connection(('127.0.0.1', $port), 2).recv(100).decode())"
    sandbox: {network: true}
YAML
run_sluice 1 run pipeline.yaml --ci --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
assert s["inspect"]["status"] == "succeeded", s["inspect"]
assert s["online"]["status"] == "succeeded", s["online"]
assert s["offline"]["status"] == "failed" and s["offline"]["reason"] == "exit 1", s["offline"]
PY
run_sluice 0 logs 1 inspect
log=$OUT
expect_contains "$log" "CapEff:	0000000000000000"
expect_contains "$log" "CapPrm:	0000000000000000"
expect_contains "$log" "CapBnd:	0000000000000000"
expect_contains "$log" "NoNewPrivs:	1"
expect_contains "$log" "Seccomp:	2"
expect_contains "$log" "hostname sluice"
expect_contains "$log" "dev works"
expect_contains "$log" "shm writable"
expect_contains "$log" "params read-only"
expect_contains "$log" "pid 1's fds closed"
expect_eq "$(cat .sluice/runs/1/params.json)" "{}" "the run's params after the step"
run_sluice 0 show 1 inspect --json
expect_contains "$OUT" '"from": "inside"'
expect_contains "$log" "dev: fd full null random shm stderr stdin stdout tty urandom zero"
expect_contains "$log" "etc read-only"
expect_contains "$log" "usr read-only"
expect_contains "$log" "home hidden"
expect_contains "$log" "state hidden"
expect_contains "$log" "HOME=/tmp/home TMPDIR=/tmp"
expect_contains "$log" "scratch writable"
expect_contains "$log" "unshare denied"
expect_contains "$log" "setns EPERM"
expect_no_file /etc/sluice-was-here
# the home is not in the allow list: it is not there at all
expect_contains "$(cat home-view.txt)" "No such file or directory" "the home as the step saw it"
expect_eq "$(cat sluice-view.txt)" "" ".sluice as the step saw it"
# ps sees pid 1 (the sandbox's reaper), the step's shell and ps itself: nothing of the host
n=$(wc -l < ps.txt)
[ "$n" -le 4 ] || fail "ps saw $n processes: $(cat ps.txt)"
grep -q "^ *1 " ps.txt || fail "no pid 1 in the step's namespace: $(cat ps.txt)"
grep -qw python3 ps.txt && fail "ps sees the host's processes: $(cat ps.txt)"
run_sluice 0 logs 1 offline
expect_contains "$OUT" "Network is unreachable"
run_sluice 0 logs 1 online
expect_contains "$OUT" "hello from the host"
# a 32-bit system call (int 0x80) kills the process: only the native
# architecture is in the filter; checked where the kernel runs 32-bit calls
cat > int80.py <<'PY'
import ctypes, mmap
code = bytes([0xb8, 0x14, 0, 0, 0, 0xcd, 0x80, 0xc3])  # mov eax, 20 (i386 getpid); int 0x80; ret
buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
print("int 0x80 returned", ctypes.CFUNCTYPE(ctypes.c_int)(addr)() > 0, flush=True)
PY
if [ "$(uname -m)" = x86_64 ] && $PY int80.py >/dev/null 2>&1; then
	cat > arch.yaml <<YAML
name: arch
steps:
  i386: {run: $PY int80.py}
YAML
	run_sluice 1 run arch.yaml --ci --json
	expect_contains "$OUT" '"reason": "signal 31 (Bad system call)"'
else
	echo "note: this kernel does not run 32-bit system calls (no IA32 emulation); nothing to kill" >&2
fi
# a workspace inside the home (the usual place): the rest of the home stays hidden
mkdir -p "$home/proj" && cd "$home/proj"
cat > pipeline.yaml <<YAML
name: inhome
steps:
  look:
    run: ls -A $home > view.txt; cat $home/secret.txt >> view.txt 2>/dev/null; touch $home/x 2>/dev/null || echo "home read-only" >> view.txt
    outputs: [view.txt]
YAML
run_sluice 0 run pipeline.yaml --ci
expect_eq "$(cat view.txt)" "proj
home read-only" "the home seen from a workspace inside it"

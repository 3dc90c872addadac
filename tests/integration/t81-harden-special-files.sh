#!/usr/bin/env bash
# FIFOs, sockets and device nodes are no outputs, and nothing a step leaves
# can make sluice block, as root and as an unprivileged user (issue 11,
# item 1).  Each attack worked before:
#   - a FIFO or a socket as an output (or inside a directory output, next
#     to good files) was moved into the workspace and stayed there;
#   - a device node inside a `sandbox: none` directory output was left out
#     of its hash and the step succeeded;
#   - an output symlink to /proc/kmsg hung the run (as root: sluice read it).
# Now the step fails with a reason naming the output and what it is, the
# failed step leaves none of its outputs in the workspace, and no run hangs
# (every sluice below runs under a timeout).  An output that is a symlink
# to a FIFO is a symlink: recorded by its target, the FIFO never opened.
set -eu
. "$TESTS_DIR/integration/lib.sh"
trap 'unpriv_cleanup' EXIT

# sl DIR ARGS...: sluice in DIR as $WHO (lib.sh sluice_as)
sl() { SL_TIMEOUT=60 sluice_as "$@"; }


no_entry() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "$1 is in the workspace (as $WHO)"; }

scenario() {
	local ws=$1
	cat >"$ws/special.yaml" <<'YAML'
name: special
steps:
  fifo:
    run: mkfifo out.fifo
    outputs: [out.fifo]
  socket:
    run: /usr/bin/python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('out.sock')"
    outputs: [out.sock]
  mixed:
    run: echo good > good.txt && mkfifo bad.fifo
    outputs: [good.txt, bad.fifo]
  dir:
    run: mkdir -p d/sub && echo ok > d/ok.txt && mkfifo d/sub/p
    outputs: [d]
  fifo_link:
    run: mkfifo target.fifo && ln -s target.fifo link.txt
    outputs: [link.txt]
  fifo_link_plain:
    run: mkfifo target2.fifo && ln -s target2.fifo link2.txt
    outputs: [link2.txt]
    sandbox: none
  reader:
    needs: [fifo_link_plain]
    run: "true"
    inputs: [link2.txt]
YAML
	sl "$ws" run special.yaml --ci --json
	expect_eq "$RC" 1 "run special.yaml as $WHO: $ERR"
	expect_contains "$(json_step_field fifo reason)" "output out.fifo is a FIFO: outputs hold regular files, directories and symlinks only"
	expect_contains "$(json_step_field socket reason)" "output out.sock is a socket"
	expect_contains "$(json_step_field mixed reason)" "output bad.fifo is a FIFO"
	expect_contains "$(json_step_field dir reason)" "output d/sub/p is a FIFO"
	for p in out.fifo out.sock good.txt bad.fifo d; do no_entry "$ws/$p"; done
	# a symlink to a FIFO is a symlink: the FIFO (undeclared) is dropped, the
	# link kept; without the sandbox the FIFO stays but is never opened
	expect_eq "$(json_step_field fifo_link status)" "succeeded"
	expect_eq "$(readlink "$ws/link.txt")" "target.fifo"
	no_entry "$ws/target.fifo"
	expect_eq "$(json_step_field fifo_link_plain status)" "succeeded"
	expect_eq "$(json_step_field reader status)" "succeeded"
	[ -p "$ws/target2.fifo" ] || fail "the plain step's FIFO is gone (as $WHO)"
	# a FIFO as an input is an error, not a "missing" input keyed the same forever
	mkfifo "$ws/in.fifo"
	cat >"$ws/input.yaml" <<'YAML'
name: input
steps:
  eat:
    run: "true"
    inputs: [in.fifo]
YAML
	sl "$ws" run input.yaml --ci --json
	expect_eq "$RC" 1 "run input.yaml as $WHO"
	expect_contains "$(json_step_field eat reason)" "input in.fifo"
	expect_contains "$(json_step_field eat reason)" "in.fifo is a FIFO"
}

WHO=root
mkdir -p "$T/ws"
scenario "$T/ws"
# as root only: a device node inside a directory a `sandbox: none` step
# writes, and a link to /proc/kmsg (its read blocks; only root may open it)
cat >"$T/ws/root.yaml" <<'YAML'
name: rootonly
steps:
  dev:
    run: mkdir -p devs && echo ok > devs/ok.txt && mknod devs/null c 1 3
    outputs: [devs]
    sandbox: none
  kmsg:
    run: ln -s /proc/kmsg kmsg.txt
    outputs: [kmsg.txt]
  kmsg_plain:
    run: ln -s /proc/kmsg kmsg2.txt
    outputs: [kmsg2.txt]
    sandbox: none
YAML
sl "$T/ws" run root.yaml --ci --json
expect_eq "$RC" 1 "run root.yaml: $ERR"
expect_contains "$(json_step_field dev reason)" "output devs/null is a character device"
expect_contains "$(json_step_field kmsg reason)" "output kmsg.txt is a symlink to /proc/kmsg, which leaves the workspace"
expect_contains "$(json_step_field kmsg_plain reason)" "output kmsg2.txt is a symlink to /proc/kmsg, which leaves the workspace"
no_entry "$T/ws/kmsg.txt"

unpriv_user
WHO=user
scenario "$BOX/ws"

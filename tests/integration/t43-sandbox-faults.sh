#!/usr/bin/env bash
# Every stage of setting up the sandbox can fail; the step then fails with
# the reason `sandbox: STAGE: strerror` and leaves no cgroup, no mount and no
# output behind.  SLUICE_SANDBOX_FAIL=STAGE injects the failure (EPERM).
set -eu
. "$TESTS_DIR/integration/lib.sh"
home=$(mktemp -d /var/tmp/sluice-home.XXXXXX)
ro=$(mktemp -d /var/tmp/sluice-read.XXXXXX)
trap 'rm -rf "$home" "$ro"' EXIT
export HOME=$home
cat > pipeline.yaml <<YAML
name: faults
steps:
  step:
    run: echo out > out.txt
    outputs: [out.txt]
    sandbox: {memory: 256M, read: [$ro]}
YAML
# the parent's stages, then the child's (uid-map only happens in a user namespace: t46)
stages="prepare cgroup pipe clone cgroup-join go wait-go namespaces fds mount-private bind-root
readonly-root hide-home overlay hide-state tmp dev proc read program pivot-root hostname chdir
rlimits no-new-privs drop-caps landlock signals spawn setsid seccomp"
# as root: the step's own user (a root-owned workspace: idmapped layers)
[ "$(id -u)" = 0 ] && stages="$stages idmap user"
[ "$(id -u)" = 0 ] || stages=$(echo $stages | sed 's/cgroup-join//; s/ cgroup / /')
before=$(find /sys/fs/cgroup -maxdepth 5 -name "sluice-*" -type d 2>/dev/null | sort)
n=0
for stage in $stages; do
	n=$((n + 1))
	SLUICE_SANDBOX_FAIL=$stage run_sluice 1 run pipeline.yaml --ci --json
	reason=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["steps"][0]["reason"])' "$OUT")
	expect_eq "$reason" "sandbox: $stage: Operation not permitted" "reason with $stage failing"
	expect_no_file out.txt
done
# the user namespace names the uid it maps to
if [ "$(id -u)" = 0 ]; then
	SLUICE_SANDBOX_FAIL=userns run_sluice 1 run pipeline.yaml --ci --json
	expect_contains "$OUT" '"reason": "sandbox: userns: make the step'"'"'s user namespace (uid 65534): Operation not permitted"'
fi
# exec names the program
SLUICE_SANDBOX_FAIL=exec run_sluice 1 run pipeline.yaml --ci --json
expect_contains "$OUT" '"reason": "sandbox: exec /bin/sh: Operation not permitted"'
# stages by number too; an unknown name is a warning, not a silent no-op
SLUICE_SANDBOX_FAIL=3 run_sluice 1 run pipeline.yaml --ci --json
expect_contains "$OUT" '"reason": "sandbox: clone: Operation not permitted"'
SLUICE_SANDBOX_FAIL=no-such-stage run_sluice 0 run pipeline.yaml --ci
expect_contains "$ERR" "SLUICE_SANDBOX_FAIL=no-such-stage names no sandbox stage"
expect_eq "$(cat out.txt)" "out"
expect_eq "$(new_cgroups "$before")" "" "sluice cgroups left after $n failed setups"
grep -q "/.sluice/runs/" /proc/self/mountinfo && fail "a sandbox mount leaked into the host"
# the log of a failed setup says nothing misleading: the reason is in status
run_sluice 0 status 1
expect_contains "$OUT" "sandbox: prepare: Operation not permitted"

#!/usr/bin/env bash
# pid 1 of the sandbox shows none of sluice's arguments (issue 11).  Found
# first: /proc/1/cmdline, which every process may read, held sluice's own
# command line, `-p token=...` included (pid 1 is a copy of sluice, or of
# the helper, itself a copy of sluice).  Now it says sluice-init, with the
# helper and without (SLUICE_SANDBOX_NO_HELPER=1).  And the host's copy of
# $SLUICE_OUTPUT is the owner's only (0600).  As root and as an
# unprivileged user.
set -eu
. "$TESTS_DIR/integration/lib.sh"
secret="s3cr3t-$$-value"
trap 'unpriv_cleanup' EXIT
write_pipeline() {
	cat > "$1/pipeline.yaml" <<'YAML'
name: cmdline
params: {token: none}
steps:
  look:
    run: |
      echo "pid 1: $(tr '\0' ' ' < /proc/1/cmdline | sed 's/ *$//')"
      cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' > all.txt; echo "all: $(cat all.txt)"
      echo "k=v" >> $SLUICE_OUTPUT
YAML
}
check() { # LOG
	expect_contains "$1" "pid 1: sluice-init"
	expect_not_contains "$1" "$secret"
}
mkdir ws && write_pipeline "$T/ws" && cd ws
run_sluice 0 run pipeline.yaml --ci -p "token=$secret"
check "$("$SLUICE" logs 1 look)"
expect_eq "$(stat -c %a .sluice/runs/1/look/1/output)" "600" "mode of the host's \$SLUICE_OUTPUT"
SLUICE_SANDBOX_NO_HELPER=1 run_sluice 0 run pipeline.yaml --ci -p "token=$secret" --force
check "$("$SLUICE" logs 2 look)"
cd "$T"

unpriv_user
write_pipeline "$BOX/ws"
chown -R "$U:" "$BOX/ws"
cd "$BOX/ws"
as_user env HOME="$BOX/home" PATH=/usr/bin:/bin "$BOX/sluice" run pipeline.yaml --ci -p "token=$secret" >/dev/null 2>&1 ||
	fail "sluice as $U failed"
as_user env HOME="$BOX/home" PATH=/usr/bin:/bin SLUICE_SANDBOX_NO_HELPER=1 "$BOX/sluice" run pipeline.yaml --ci --force -p "token=$secret" >/dev/null 2>&1 ||
	fail "sluice as $U without the helper failed"
for run in 1 2; do
	check "$(as_user env HOME="$BOX/home" "$BOX/sluice" logs $run look 2>&1)"
done
expect_eq "$(stat -c %a .sluice/runs/1/look/1/output)" "600" "mode of the host's \$SLUICE_OUTPUT"

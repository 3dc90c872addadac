#!/usr/bin/env bash
# What a step's outputs may grant and cost, as root and as an unprivileged
# user (issue 11, items 2 and 10).  Each worked before:
#   - a step promoted a setuid (and a setgid) binary, also inside a
#     directory output: as root, a setuid-root binary any local user could run;
#   - a 1 GiB sparse output took 1 GiB in .sluice/cache;
#   - an output of any size was accepted, max_output_size or not.
# Now promoted files have no setuid or setgid bit (nor after coming back
# from the cache), a sparse output stays sparse in the cache and when it is
# restored (du), and a step whose outputs together pass max_output_size
# fails saying by how much, its outputs neither recorded nor cached.
set -eu
. "$TESTS_DIR/integration/lib.sh"
trap 'unpriv_cleanup' EXIT

# sl DIR ARGS...: sluice in DIR as $WHO (lib.sh sluice_as)
sl() { SL_TIMEOUT=300 sluice_as "$@"; }


mode_of() { stat -c %a "$1"; }
# no setuid or setgid bit on FILE (a restore by hard link makes it 555, the object's)
no_suid() { [ -z "$(find "$1" -perm /6000)" ] || fail "$1 is mode $(mode_of "$1") ($2, as $WHO)"; }
kib_of() { du -k "$1" | cut -f1; }

scenario() {
	local ws=$1
	# setuid and setgid outputs, on their own and inside a directory
	cat >"$ws/suid.yaml" <<'YAML'
name: suid
steps:
  suid:
    run: cp /bin/true suid && chmod 4755 suid && cp /bin/true sgid && chmod 2755 sgid
    outputs: [suid, sgid]
  tree:
    run: mkdir -p tools && cp /bin/true tools/run && chmod 6755 tools/run
    outputs: [tools]
YAML
	sl "$ws" run suid.yaml --ci --json
	expect_eq "$RC" 0 "run suid.yaml as $WHO: $ERR"
	expect_eq "$(mode_of "$ws/suid")" 755 "mode of the promoted suid (as $WHO)"
	expect_eq "$(mode_of "$ws/sgid")" 755 "mode of the promoted sgid (as $WHO)"
	expect_eq "$(mode_of "$ws/tools/run")" 755 "mode of the promoted tools/run (as $WHO)"
	"$ws/suid" || fail "the promoted binary does not run"
	# gone from the workspace, back from the cache: still without them
	rm -rf "$ws/suid" "$ws/tools"
	sl "$ws" run suid.yaml --ci --json
	expect_eq "$RC" 0 "second run of suid.yaml as $WHO: $ERR"
	expect_eq "$(json_step_field suid status)" "cached"
	no_suid "$ws/suid" "restored"
	no_suid "$ws/tools/run" "restored"
	[ -z "$(find "$ws/.sluice/cache" -perm /6000)" ] || fail "a setuid object in the cache"

	# a 1 GiB sparse output: small in the cache and when restored
	cat >"$ws/sparse.yaml" <<'YAML'
name: sparse
steps:
  big:
    run: truncate -s 1G big.bin && echo tail >> big.bin && printf head | dd of=big.bin conv=notrunc status=none
    outputs: [big.bin]
YAML
	sl "$ws" run sparse.yaml --ci --json
	expect_eq "$RC" 0 "run sparse.yaml as $WHO: $ERR"
	local hex obj
	hex=$(sqlite3 "$ws/.sluice/state.db" "select sha256 from output_files where path = 'big.bin' limit 1")
	obj="$ws/.sluice/cache/${hex:0:2}/${hex:2}"
	expect_file "$obj"
	expect_eq "$(stat -c %s "$obj")" 1073741829 "size of the cache object"
	[ "$(kib_of "$obj")" -lt 1024 ] || fail "the cache object of a sparse output takes $(kib_of "$obj") KiB (as $WHO)"
	[ "$(kib_of "$ws/big.bin")" -lt 1024 ] || fail "the promoted sparse output takes $(kib_of "$ws/big.bin") KiB"
	rm "$ws/big.bin"
	sl "$ws" run sparse.yaml --ci --json
	expect_eq "$RC" 0 "second run of sparse.yaml as $WHO: $ERR"
	expect_eq "$(json_step_field big status)" "cached"
	expect_eq "$(stat -c %s "$ws/big.bin")" 1073741829 "size of the restored output"
	[ "$(kib_of "$ws/big.bin")" -lt 1024 ] || fail "the restored sparse output takes $(kib_of "$ws/big.bin") KiB (as $WHO)"
	expect_eq "$(head -c 4 "$ws/big.bin")$(tail -c 5 "$ws/big.bin")" "headtail" "the restored bytes"

	# max_output_size: per pipeline, per step; all outputs together
	cat >"$ws/limits.yaml" <<'YAML'
name: limits
defaults:
  max_output_size: 1M
steps:
  big:
    run: head -c 2200000 /dev/urandom > big.out
    outputs: [big.out]
  together:
    run: head -c 600000 /dev/urandom > a.out && head -c 600000 /dev/urandom > b.out
    outputs: [a.out, b.out]
  small:
    run: head -c 1000 /dev/urandom > small.out
    outputs: [small.out]
  allowed:
    run: head -c 2200000 /dev/urandom > allowed.out
    outputs: [allowed.out]
    max_output_size: 3M
YAML
	sl "$ws" run limits.yaml --ci --json
	expect_eq "$RC" 1 "run limits.yaml as $WHO"
	expect_eq "$(json_step_field big reason)" "outputs are 2.1M, over max_output_size 1M"
	expect_eq "$(json_step_field together reason)" "outputs are 1.1M, over max_output_size 1M"
	expect_eq "$(json_step_field small status)" "succeeded"
	expect_eq "$(json_step_field allowed status)" "succeeded"
	expect_eq "$(sqlite3 "$ws/.sluice/state.db" "select count(*) from output_files where path in ('big.out', 'a.out', 'b.out')")" 0 "outputs recorded over the limit"
	expect_eq "$(find "$ws/.sluice/cache" -type f -size +500k ! -size +1048576k | wc -l)" 1 "objects over 500K (allowed.out only)"
}

WHO=root
mkdir -p "$T/ws"
scenario "$T/ws"

unpriv_user
WHO=user
scenario "$BOX/ws"

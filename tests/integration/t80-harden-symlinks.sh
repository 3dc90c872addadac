#!/usr/bin/env bash
# Paths that sluice walks for a step follow none of the step's symlinks,
# as root and as an unprivileged user (issue 11, item 1).  Each attack
# worked before:
#   - a workspace symlink `lnk` to a host directory (as a step before once
#     promoted it) and a step whose output is lnk/victim.txt: the promotion
#     wrote the file through the symlink, anywhere on the machine;
#   - an output that is a symlink to a secret host file or to
#     /proc/self/environ: sluice read it with its own rights and stored it
#     world-readable in .sluice/cache (sandboxed and `sandbox: none`);
#   - a `metrics:` symlink to a hidden file: its numbers became metrics.
# Now each is refused with a reason naming the path, nothing lands outside
# the workspace and nothing of the secret enters the cache; a symlink whose
# target stays in the workspace is an output like any other, stored and
# restored as a symlink.
set -eu
. "$TESTS_DIR/integration/lib.sh"
trap 'unpriv_cleanup' EXIT

# sl DIR ARGS...: sluice in DIR as $WHO (lib.sh sluice_as)
sl() { SL_TIMEOUT=120 SL_ENV="SECRET_TOKEN=hunter2-token" sluice_as "$@"; }


# scenario WS OUTSIDE SECRET: the attacks in workspace WS; OUTSIDE a
# directory out of it that $WHO can write; SECRET a file only $WHO may read
scenario() {
	local ws=$1 outside=$2 secret=$3
	# 1. a step makes its output a symlink out of the workspace: refused
	cat >"$ws/a.yaml" <<YAML
name: chain-a
steps:
  one:
    run: ln -s $outside lnk
    outputs: [lnk]
YAML
	sl "$ws" run a.yaml --ci --json
	expect_eq "$RC" 1 "run a.yaml as $WHO"
	expect_contains "$(json_step_field one reason)" "output lnk is a symlink to $outside, which leaves the workspace"
	[ ! -e "$ws/lnk" ] && [ ! -L "$ws/lnk" ] || fail "lnk was promoted (as $WHO)"
	# 2. such a symlink in the workspace anyway (a user's, an older sluice's):
	# the next step writes lnk/victim.txt through it -- refused, named
	ln -s "$outside" "$ws/lnk"
	cat >"$ws/b.yaml" <<'YAML'
name: chain-b
steps:
  two:
    run: rm lnk && mkdir lnk && echo pwned > lnk/victim.txt
    outputs: [lnk/victim.txt]
YAML
	sl "$ws" run b.yaml --ci --json
	expect_eq "$RC" 1 "run b.yaml as $WHO"
	expect_contains "$(json_step_field two reason)" "lnk/victim.txt: lnk is a symlink"
	expect_no_file "$outside/victim.txt"
	# sandbox: none writes where it likes, but sluice hashing it follows no link
	cat >"$ws/c.yaml" <<'YAML'
name: chain-c
steps:
  three:
    run: echo pwned > lnk/victim2.txt
    outputs: [lnk/victim2.txt]
    sandbox: none
YAML
	sl "$ws" run c.yaml --ci --json
	expect_eq "$RC" 1 "run c.yaml as $WHO"
	expect_contains "$(json_step_field three reason)" "lnk/victim2.txt: lnk is a symlink"
	rm -f "$ws/lnk" "$outside/victim2.txt"

	# 3. outputs that are symlinks to a secret host file and to sluice's own
	# environment, sandboxed and not: refused, the cache holds none of it
	cat >"$ws/leak.yaml" <<YAML
name: leak
steps:
  shadow:
    run: ln -s $secret shadow.txt
    outputs: [shadow.txt]
  environ:
    run: ln -s /proc/self/environ environ.txt
    outputs: [environ.txt]
  shadow_plain:
    run: ln -s $secret shadow2.txt
    outputs: [shadow2.txt]
    sandbox: none
  environ_plain:
    run: ln -s /proc/self/environ environ2.txt
    outputs: [environ2.txt]
    sandbox: none
YAML
	sl "$ws" run leak.yaml --ci --json
	expect_eq "$RC" 1 "run leak.yaml as $WHO"
	expect_contains "$(json_step_field shadow reason)" "output shadow.txt is a symlink to $secret, which leaves the workspace"
	expect_contains "$(json_step_field environ reason)" "output environ.txt is a symlink to /proc/self/environ, which leaves the workspace"
	expect_contains "$(json_step_field shadow_plain reason)" "output shadow2.txt is a symlink to $secret, which leaves the workspace"
	expect_contains "$(json_step_field environ_plain reason)" "output environ2.txt is a symlink to /proc/self/environ"
	if grep -rqs -e TOPSECRET -e hunter2-token "$ws/.sluice/cache"; then
		fail "a secret reached .sluice/cache (as $WHO)"
	fi

	# 4. a metrics file that is a symlink: to a hidden file in the workspace,
	# and (sandboxed) out of it
	echo '{"stolen": 42}' >"$ws/.hidden.json"
	cat >"$ws/metrics.yaml" <<YAML
name: metrics
steps:
  inside:
    run: ln -s .hidden.json m1.json
    metrics: m1.json
  outside:
    run: ln -s $secret m2.json
    metrics: m2.json
  plain:
    run: ln -s .hidden.json m3.json
    metrics: m3.json
    sandbox: none
YAML
	sl "$ws" run metrics.yaml --ci --json
	expect_eq "$RC" 1 "run metrics.yaml as $WHO"
	expect_contains "$(json_step_field inside reason)" "m1.json is a symlink, and sluice follows no symlink"
	expect_contains "$(json_step_field outside reason)" "output m2.json is a symlink to $secret, which leaves the workspace"
	expect_contains "$(json_step_field plain reason)" "m3.json is a symlink, and sluice follows no symlink"
	expect_not_contains "$OUT" '"stolen"' "run --json"

	# 5. the ordinary case: a symlink that stays in the workspace is an
	# output, stored and restored as a symlink (never as the file it names)
	cat >"$ws/ok.yaml" <<'YAML'
name: ok
steps:
  link:
    run: mkdir -p data && echo v3 > data/v3.csv && ln -s v3.csv data/current.csv && ln -s data/v3.csv top.csv
    outputs: [data/v3.csv, data/current.csv, top.csv]
  reader:
    needs: [link]
    run: cat top.csv data/current.csv > both.txt
    inputs: [top.csv]
    outputs: [both.txt]
YAML
	sl "$ws" run ok.yaml --ci --json
	expect_eq "$RC" 0 "run ok.yaml as $WHO: $ERR"
	expect_eq "$(readlink "$ws/top.csv")" "data/v3.csv"
	expect_eq "$(readlink "$ws/data/current.csv")" "v3.csv"
	expect_eq "$(cat "$ws/both.txt")" "v3
v3"
	rm "$ws/top.csv" "$ws/data/current.csv"
	sl "$ws" run ok.yaml --ci --json
	expect_eq "$RC" 0 "second run of ok.yaml as $WHO: $ERR"
	expect_eq "$(json_step_field link status)" "cached"
	[ -L "$ws/top.csv" ] || fail "top.csv came back as a file, not a symlink (as $WHO)"
	expect_eq "$(readlink "$ws/top.csv")" "data/v3.csv"
	expect_eq "$(readlink "$ws/data/current.csv")" "v3.csv"
}

# as root, with a root-only secret
WHO=root
mkdir -p "$T/ws" "$T/outside"
printf 'TOPSECRET root only\n' >"$T/secret"
chmod 600 "$T/secret"
scenario "$T/ws" "$T/outside" "$T/secret"

# as an unprivileged user, with a secret of its own (0600: what lands in the
# cache is world-readable)
unpriv_user
WHO=user
mkdir -p "$BOX/outside"
printf 'TOPSECRET user only\n' >"$BOX/home/secret"
chown -R "$U:" "$BOX/outside" "$BOX/home/secret"
chmod 600 "$BOX/home/secret"
chmod 711 "$BOX/home"
scenario "$BOX/ws" "$BOX/outside" "$BOX/home/secret"

# --junit FILE where a step left a symlink: refused, never written through
WHO=root
mkdir -p "$T/junit" && cd "$T/junit"
printf 'name: j\nsteps:\n  a:\n    run: "true"\n' >p.yaml
ln -s "$T/junit-victim" report.xml
run_sluice 2 run p.yaml --junit report.xml
expect_contains "$ERR" "--junit report.xml: a symlink, not a regular file"
expect_no_file "$T/junit-victim"

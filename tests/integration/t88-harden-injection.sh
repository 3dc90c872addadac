#!/usr/bin/env bash
# Issue 11, item 6: what a step produced never runs as shell code in another
# step.  The attack: a step writes `v=1$(touch MARK)` to $SLUICE_OUTPUT and a
# downstream `run:` pastes ${{ steps.a.outputs.v }}: the command substitution
# ran (in a `sandbox: none` step it touched a file of the host).  Now the
# value reaches the shell as an environment variable that the command
# refers to: it arrives intact, as data, and nothing runs; the recorded
# command shows the reference, the value still enters the cache key.
# As root and as an unprivileged user, sandboxed and not.
set -eu
. "$TESTS_DIR/integration/lib.sh"

# pipeline WS MARK: the attack, against a `sandbox: none` step and a sandboxed one
pipeline() {
	cat > "$1/pipeline.yaml" <<YAML
name: inject
params:
  n: 1
  msg: hello world
steps:
  a:
    run: |
      echo 'v=\${{ params.n }}\$(touch $2)\$(printf RAN%s OK)' >> "\$SLUICE_OUTPUT"
      echo 'w=a  b *' >> "\$SLUICE_OUTPUT"
      echo '{"acc": 0.5}' > m.json
    metrics: m.json
    sandbox: none
  none:
    needs: [a]
    run: |
      echo "quoted:\${{ steps.a.outputs.v }}"
      echo bare:\${{ steps.a.outputs.v }}
      printf '[%s]\n' \${{ steps.a.outputs.w }}
      printf '[%s]\n' "in quotes \${{ steps.a.outputs.w }}"
      echo 'single:\${{ steps.a.outputs.v }}'
      sh -c 'echo "nested:\${{ steps.a.outputs.v }}"'
      echo acc=\${{ steps.a.metrics.acc }} params=\${{ params.msg }}
    sandbox: none
  boxed:
    needs: [a]
    run: |
      echo "quoted:\${{ steps.a.outputs.v }}" > boxed.txt
      echo bare:\${{ steps.a.outputs.v }} >> boxed.txt
      printf '[%s]\n' \${{ steps.a.outputs.w }} >> boxed.txt
    outputs: [boxed.txt]
YAML
}

# check WS MARK SLUICE...: run the attack in WS with the given sluice command
check() {
	local ws=$1 mark=$2
	shift 2
	local val="1\$(touch $mark)\$(printf RAN%s OK)"
	set +e
	(cd "$ws" && "$@" run pipeline.yaml) > "$T/run.out" 2>&1
	local rc=$?
	set -e
	[ $rc = 0 ] || { cat "$T/run.out"; fail "the run failed (exit $rc)"; }
	expect_no_file "$mark"
	local log
	log=$(cd "$ws" && "$@" logs 1 none 2>&1)
	expect_not_contains "$log" "RANOK" "the log of the sandbox: none step"
	expect_contains "$log" "quoted:$val" "the log"
	expect_contains "$log" "bare:$val" "the log"
	# neither field splitting nor globbing touches the value, bare or in quotes
	expect_contains "$log" "[a  b *]" "the log"
	expect_contains "$log" "[in quotes a  b *]" "the log"
	# inside '...' this shell does not expand: the reference goes as text, and
	# a nested shell expands it from its environment, as data
	expect_contains "$log" 'single:${SLUICE_VAL_1}' "the log"
	expect_contains "$log" "nested:$val" "the log"
	# metrics travel the same way; params stay shell text as the author wrote them
	expect_contains "$log" "acc=0.5 params=hello world" "the log"
	local boxed
	boxed=$(cat "$ws/boxed.txt")
	expect_eq "$boxed" "quoted:$val
bare:$val
[a  b *]" "the sandboxed step's output"
	# the recorded command shows the references, never the value
	local show
	show=$(cd "$ws" && "$@" show 1 none 2>&1)
	expect_contains "$show" 'echo "quoted:${SLUICE_VAL_1}"' "show"
	expect_contains "$show" 'echo bare:"${SLUICE_VAL_1}"' "show"
	expect_contains "$show" 'params=hello world' "show"
	expect_contains "$show" "env      SLUICE_VAL_1=$val" "show (the value, as data)"
	local cmd
	cmd=$(cd "$ws" && "$@" show 1 none --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["command"])')
	expect_not_contains "$cmd" "touch" "the recorded command"
}

# The value enters the cache key: a changed upstream value reruns the step.
check_key() {
	local ws=$1
	shift
	(cd "$ws" && "$@" run pipeline.yaml) > "$T/run2.out" 2>&1 || { cat "$T/run2.out"; fail "second run"; }
	# nothing changed: a no-op run (or the step cached)
	case "$(cat "$T/run2.out")" in
	*"nothing to do"* | *"none cached"*) ;;
	*) cat "$T/run2.out"; fail "an unchanged value did not keep the step cached" ;;
	esac
	(cd "$ws" && "$@" run pipeline.yaml -p n=2) > "$T/run3.out" 2>&1 || { cat "$T/run3.out"; fail "third run"; }
	local out
	out=$(cat "$T/run3.out")
	expect_not_contains "$out" "none cached" "a changed upstream value"
	expect_contains "$out" "none started" "a changed upstream value"
	local why
	why=$(cd "$ws" && "$@" show 3 none --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["why"])')
	expect_contains "$why" "env SLUICE_VAL_1 changed" "why the step ran again"
}

# as root
mkdir -p "$T/ws"
pipeline "$T/ws" "$T/marker-root"
check "$T/ws" "$T/marker-root" "$SLUICE"
check_key "$T/ws" "$SLUICE"

# as an unprivileged user
trap unpriv_cleanup EXIT
unpriv_user
pipeline "$BOX/ws" "$BOX/home/marker-user"
chown -R "$U:" "$BOX/ws"
check "$BOX/ws" "$BOX/home/marker-user" as_user env HOME="$BOX/home" PATH=/usr/bin:/bin \
	"$BOX/sluice"
echo "ok: no value a step produced ran as shell code, as root and as $U"

#!/usr/bin/env bash
# Launch latency of one step, side by side in one invocation, interleaved so
# that the machine's mood hits all of them alike:
#   plain    posix_spawn of /bin/true (the plain runner)
#   sandbox  the local runner's sandbox around /bin/true (namespaces, read-only
#            root, overlay workspace, tmpfs /tmp, /dev, /proc, seccomp, no caps)
#   bwrap    Debian's bwrap --unshare-all with equivalent binds, spawned plainly
#   unshare  util-linux unshare of the same namespaces around /bin/true, no
#            file system work: the floor any namespace sandbox stands on
# and the sandbox from a 256 MiB parent, with and without the helper that
# clones pid 1 (runners/local.c).
# All go through the same harness (bench/launch.c: start, pidfd, reap).
# Target: sandbox median <= half of bwrap's.  Then the per-step overhead of
# a whole run with the sandbox on, against ninja, on the same DAG of touches.
# BENCH_LAUNCHES (default 200 per kind), BENCH_SANDBOX_STEPS (default 1000).
#
# Before and after: BASE_SLUICE=/path/to/old/build/sluice adds that build's
# sandbox, through its own harness (BASE_LAUNCH, default bench/launch beside
# it: `make build/bench/launch` in that tree), to every round of the same
# loop, and its whole run next to this one's, so both see the same machine.
set -eu
: "${SLUICE:?}"
: "${LAUNCH:?set LAUNCH to the build/bench/launch harness (make bench does)}"
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/sluice-bench-sandbox.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
mkdir ws && cd ws
n=${BENCH_LAUNCHES:-200}
rounds=10
per=$(( (n + rounds - 1) / rounds ))
bwrap_args=(--unshare-all --die-with-parent --new-session --ro-bind / / --dev /dev --proc /proc
	--tmpfs /tmp --bind "$dir/ws" "$dir/ws" --chdir "$dir/ws" --cap-drop ALL /bin/true)
have_bwrap=1
command -v bwrap >/dev/null && bwrap "${bwrap_args[@]}" 2>/dev/null || have_bwrap=0
[ $have_bwrap = 1 ] || echo "(bwrap missing or not working here: apt-get install bubblewrap)"
# the namespaces the sandbox makes; a user namespace too when not root, as the sandbox does
unshare_args=(--mount --pid --fork --ipc --uts --net --cgroup)
[ "$(id -u)" = 0 ] || unshare_args=(--user --map-root-user "${unshare_args[@]}")
have_unshare=1
unshare "${unshare_args[@]}" /bin/true 2>/dev/null || have_unshare=0
[ $have_unshare = 1 ] || echo "(unshare of ${unshare_args[*]} does not work here)"
base=${BASE_SLUICE:-}
if [ -n "$base" ]; then
	base_launch=${BASE_LAUNCH:-$(dirname "$base")/bench/launch}
	[ -x "$base" ] && [ -x "$base_launch" ] || {
		echo "BASE_SLUICE=$base: needs it and its harness $base_launch (make build/bench/launch there)" >&2
		exit 2
	}
fi
: >plain.ms; : >sandbox.ms; : >bwrap.ms; : >unshare.ms; : >base.ms; : >big.ms; : >bignh.ms
for _ in $(seq $rounds); do
	"$LAUNCH" plain $per -- /bin/true >>plain.ms
	"$LAUNCH" sandbox $per -- /bin/true >>sandbox.ms
	[ -z "$base" ] || "$base_launch" sandbox $per -- /bin/true >>base.ms
	[ $have_bwrap = 0 ] || "$LAUNCH" plain $per -- /usr/bin/bwrap "${bwrap_args[@]}" >>bwrap.ms
	[ $have_unshare = 0 ] || "$LAUNCH" plain $per -- "$(command -v unshare)" "${unshare_args[@]}" /bin/true >>unshare.ms
	LAUNCH_BALLAST=256 "$LAUNCH" sandbox $(( (per + 3) / 4 )) -- /bin/true >>big.ms
	LAUNCH_BALLAST=256 SLUICE_SANDBOX_NO_HELPER=1 "$LAUNCH" sandbox $(( (per + 3) / 4 )) -- /bin/true >>bignh.ms
done
stats() { # file -> "median p90 count"
	sort -n "$1" | awk '{a[NR]=$1} END {if (!NR) {print "- - 0"; exit}
		i = int(NR * 0.9); if (i < 1) i = 1
		printf "%.2f %.2f %d\n", a[int((NR+1)/2)], a[i], NR}'
}
read -r pm p90 pn < <(stats plain.ms)
read -r sm s90 sn < <(stats sandbox.ms)
read -r bm b90 bn < <(stats bwrap.ms)
read -r um u90 un < <(stats unshare.ms)
read -r om o90 on < <(stats base.ms)
read -r gm g90 gn < <(stats big.ms)
read -r hm h90 hn < <(stats bignh.ms)
printf "%-34s %9s %9s %6s %10s\n" launcher median_ms p90_ms n vs_bwrap
ratio() { [ "$bm" = - ] && echo - || awk -v a="$1" -v b="$bm" 'BEGIN{printf "%.2fx", a/b}'; }
printf "%-34s %9s %9s %6s %10s\n" "plain fork/exec (posix_spawn)" $pm $p90 $pn "$(ratio $pm)"
printf "%-34s %9s %9s %6s %10s\n" "sluice sandbox" $sm $s90 $sn "$(ratio $sm)"
[ -z "$base" ] || printf "%-34s %9s %9s %6s %10s\n" "base sluice sandbox (BASE_SLUICE)" $om $o90 $on "$(ratio $om)"
printf "%-34s %9s %9s %6s %10s\n" "bwrap --unshare-all" $bm $b90 $bn "-"
printf "%-34s %9s %9s %6s %10s\n" "unshare (namespaces only)" $um $u90 $un "$(ratio $um)"
printf "%-34s %9s %9s %6s %10s\n" "sluice sandbox, 256 MiB parent" $gm $g90 $gn "$(ratio $gm)"
printf "%-34s %9s %9s %6s %10s\n" "  same, without the helper" $hm $h90 $hn "$(ratio $hm)"
echo "target: sluice sandbox median <= 0.50x bwrap's"
[ -z "$base" ] || awk -v a="$sm" -v b="$om" 'BEGIN{printf "this tree against the base: %.2fx the median (%s ms against %s ms)\n", a/b, a, b}'


# a whole run: the same DAG with the sandbox on, with it off, and ninja
steps=${BENCH_SANDBOX_STEPS:-1000}
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
/usr/bin/python3 "$here/gen_dag.py" fanout $steps "$dir/on" >/dev/null
/usr/bin/python3 "$here/gen_dag.py" fanout $steps "$dir/off" --sandbox >/dev/null
cd "$dir/off"
nj=0
if command -v ninja >/dev/null; then
	rm -rf out && mkdir out && s=$(date +%s%N) && ninja -j2 >/dev/null && nj=$(ms $s)
fi
rm -rf out .sluice && mkdir out && s=$(date +%s%N) && "$SLUICE" run pipeline.yaml -j2 --ci >/dev/null 2>&1 && off=$(ms $s)
cd "$dir/on"
# with a base: this tree, the base, this tree again, the base again; the better of each pair
whole_run() { # binary -> ms
	rm -rf out .sluice && mkdir out && local s=$(date +%s%N) &&
		"$1" run pipeline.yaml -j2 --ci >/dev/null 2>&1 && ms $s
}
on=$(whole_run "$SLUICE")
if [ -n "$base" ]; then
	bon=$(whole_run "$base")
	t=$(whole_run "$SLUICE"); [ "$t" -lt "$on" ] && on=$t
	t=$(whole_run "$base"); [ "$t" -lt "$bon" ] && bon=$t
fi
echo
printf "%-30s %8s %12s %10s\n" "run of $steps touches, -j2" total_ms per_step_ms vs_ninja
per_step() { awk -v t="$1" -v n=$steps 'BEGIN{printf "%.2f", t/n}'; }
vs() { [ "$nj" -gt 0 ] && awk -v a="$1" -v b="$nj" 'BEGIN{printf "%.2fx", a/b}' || echo -; }
[ "$nj" -gt 0 ] && printf "%-30s %8d %12s %10s\n" "ninja" $nj "$(per_step $nj)" 1.00x
printf "%-30s %8d %12s %10s\n" "sluice, sandbox: none" $off "$(per_step $off)" "$(vs $off)"
printf "%-30s %8d %12s %10s\n" "sluice, sandbox on" $on "$(per_step $on)" "$(vs $on)"
[ -z "$base" ] || printf "%-30s %8d %12s %10s\n" "base sluice, sandbox on" $bon "$(per_step $bon)" "$(vs $bon)"

/*
 * sandbox.h — the pieces of the local runner (runners/local.c) that others
 * see: what the machine can do (probed once), the seccomp filter (compiled
 * once, runners/sandbox_seccomp.c), and the cgroup back ends (v1, v2,
 * runners/sandbox_cgroup.c) behind one small API, the way redis picks epoll
 * or kqueue behind ae.h.  The clone, the child and promotion are private
 * to runners/ (runners/sandbox_int.h).
 *
 * Nothing here runs between clone and exec except reading the prepared
 * structures: the child allocates nothing.
 */
#ifndef SLUICE_SANDBOX_H
#define SLUICE_SANDBOX_H

#include "sluice/error.h"

#include <linux/filter.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- the seccomp filter ------------------------------------------------------- */

/* Compile the filter (EPERM for the mount family, namespaces, keyrings, bpf,
 * perf, ptrace, kexec, modules, reboot, swap, acct, clock setting,
 * open_by_handle_at, userfaultfd; ENOSYS for clone3 so libc falls back to
 * clone, whose flags the filter can see; other architectures killed) into
 * BPF.  The caller owns prog->filter (free()).  The child loads it with
 * prctl(PR_SET_SECCOMP) as its last act before execve. */
int sandbox_seccomp_compile(struct sock_fprog *prog, sl_error **err);

/* ---- cgroups ------------------------------------------------------------------- */

enum sandbox_ctl { SB_CTL_MEMORY, SB_CTL_PIDS, SB_CTL_CPU, SB_NCTL };

typedef struct sandbox_cgroups {
	/* per controller: the directory under which step cgroups are made, and
	 * whether it is a v2 (unified) hierarchy; base[c] == NULL: unavailable */
	char *base[SB_NCTL];
	int v2[SB_NCTL];
	char mode[16];          /* "v1", "v2", "hybrid" or "none" */
	char why[SB_NCTL][300]; /* why a controller is unavailable */
} sandbox_cgroups;

/* Find the hierarchies and this process's place in them (/proc/self/cgroup,
 * /proc/self/mountinfo); a v2 controller is used only when it can be enabled
 * for our children.  Never fails: what is missing is recorded in why[]. */
void sandbox_cgroups_probe(sandbox_cgroups *cg);
void sandbox_cgroups_release(sandbox_cgroups *cg);
/* Remove the empty step cgroups ("sluice-PID-N") that an orchestrator
 * killed with -9 left under cg's bases. */
void sandbox_cgroups_sweep(const sandbox_cgroups *cg);

/* One step's cgroups (one directory per controller in v1, one in v2). */
typedef struct sandbox_cgroup {
	char *dir[SB_NCTL]; /* NULL when that controller is not used */
	int procs[SB_NCTL]; /* open cgroup.procs, or -1 */
} sandbox_cgroup;

/* Make the step's cgroups for the limits that are set (0 = no limit) and
 * write the limits.  On failure nothing is left behind. */
int sandbox_cgroup_create(const sandbox_cgroups *cg, sandbox_cgroup *c, const char *name,
			  uint64_t memory, int64_t pids, double cpus, sl_error **err);
/* Move pid into every cgroup of c. */
int sandbox_cgroup_join(sandbox_cgroup *c, pid_t pid, sl_error **err);
/* Peak memory in bytes (-1 unknown) and whether the OOM killer struck. */
void sandbox_cgroup_stats(const sandbox_cgroups *cg, const sandbox_cgroup *c, int64_t *peak,
			  int *oom);
/* Kill what is left, remove the directories, free c. */
void sandbox_cgroup_destroy(sandbox_cgroup *c);

/* ---- a step's processes, by cgroup (the plain runner) -------------------------------- */

/* A `sandbox: none` step's processes are tracked in a cgroup of their own
 * where one can be made, so that a process that leaves the step's process
 * group (setsid) still ends with the step: a v2 cgroup (no controller
 * needed; cgroup.kill from kernel 5.14), else a v1 freezer cgroup (frozen,
 * killed, thawed).  Where neither can be made, the plain runner tracks
 * them by descent (runners/plain.c). */
enum sandbox_track_kind { SB_TRACK_DESCENT, SB_TRACK_CGROUP2, SB_TRACK_FREEZER };

typedef struct sandbox_tracker {
	int kind;      /* what steps get (enum sandbox_track_kind) */
	char *base;    /* the directory step cgroups are made in; NULL for descent */
	char why[300]; /* for descent: why there is no cgroup */
} sandbox_tracker;

/* Find where step cgroups can go: below this process's cgroup in the v2
 * hierarchy, else in the v1 freezer hierarchy.  force ("cgroup2", "freezer",
 * "descent", or NULL/"" for the first that works) picks one, for tests.
 * Never fails: what is missing is in why. */
void sandbox_tracker_probe(sandbox_tracker *t, const char *force);
void sandbox_tracker_release(sandbox_tracker *t);
/* "cgroup2", "freezer" or "descent". */
const char *sandbox_track_kind_name(int kind);

/* One step's tracking cgroup. */
typedef struct sandbox_track {
	int kind;     /* SB_TRACK_CGROUP2 or SB_TRACK_FREEZER; SB_TRACK_DESCENT: none */
	char *dir;    /* the cgroup's directory */
	int procs;    /* open cgroup.procs: the child writes "0" to it before exec; -1 after */
	int has_kill; /* v2 cgroup.kill exists */
} sandbox_track;

/* Make a cgroup called name below t->base and open its cgroup.procs.  On
 * failure (-1) nothing is left and c->kind is SB_TRACK_DESCENT. */
int sandbox_track_create(const sandbox_tracker *t, sandbox_track *c, const char *name,
			 sl_error **err);
/* Send sig to every process in the cgroup whose process group is not
 * skip_pgid (the caller signals that group itself, once).  SIGKILL goes to
 * all of them at once: cgroup.kill, or the freezer (frozen, killed,
 * thawed), so that none forks away meanwhile.  0, or -1 with errno. */
int sandbox_track_signal(const sandbox_track *c, int sig, pid_t skip_pgid);
/* 1 when no process is left in the cgroup. */
int sandbox_track_empty(const sandbox_track *c);
/* Kill what is left, remove the cgroup, free c's strings. */
void sandbox_track_destroy(sandbox_track *c);
/* The cgroups a dead orchestrator left below t->base (sluice-PID-pN, PID
 * gone: a kill -9): what is left in them is killed, they are removed. */
void sandbox_track_sweep(const sandbox_tracker *t);

/* ---- what the machine can do ----------------------------------------------------- */

typedef struct sandbox_probe {
	int root;       /* euid 0: no user namespace needed */
	int userns;     /* can make a user namespace (when not root) */
	int overlay;    /* overlayfs in /proc/filesystems */
	int seccomp;    /* the filter compiled */
	int shared_net; /* an empty network namespace to setns into */
	int landlock;   /* the kernel's Landlock ABI version; scopes need 6 */
	int cap_last;   /* /proc/sys/kernel/cap_last_cap */
	char why_userns[160];
	char why_seccomp[160];
	sandbox_cgroups cg;
} sandbox_probe;

/* The stages of setting up a sandbox, in order; a failure is reported as
 * `sandbox: STAGE: strerror`.  SLUICE_SANDBOX_FAIL=STAGE (name or number)
 * makes that stage fail with EPERM, for tests. */
enum sandbox_stage {
	SB_PREPARE,
	SB_CGROUP,
	SB_PIPE,
	SB_CLONE,
	SB_USERNS,
	SB_UIDMAP,
	SB_CGROUP_JOIN,
	SB_GO,
	SB_WAIT_GO,
	SB_NETNS,
	SB_FDS,
	SB_MOUNT_PRIVATE,
	SB_BIND_ROOT,
	SB_TMP,
	SB_DEV,
	SB_PROC,
	SB_READ,
	SB_HIDE_HOME,
	SB_IDMAP,
	SB_OVERLAY,
	SB_HIDE_STATE,
	SB_PROGRAM,
	SB_READONLY_ROOT,
	SB_PIVOT_ROOT,
	SB_HOSTNAME,
	SB_CHDIR,
	SB_USER,
	SB_RLIMITS,
	SB_NO_NEW_PRIVS,
	SB_DROP_CAPS,
	SB_LANDLOCK,
	SB_SIGNALS,
	SB_SPAWN,
	SB_SETSID,
	SB_SECCOMP,
	SB_EXEC,
	SB_NSTAGES
};

struct runner;
/* What runner_local_new found; NULL when r is not the local runner. */
const sandbox_probe *runner_local_probe(struct runner *r);

/* "overlay", "pivot-root", ... */
const char *sandbox_stage_name(int stage);
/* A stage by name or number; -1 when unknown. */
int sandbox_stage_parse(const char *s);

#endif

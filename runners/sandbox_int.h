/*
 * sandbox_int.h — what the files of the local runner share; private to
 * runners/, never included from elsewhere.
 *
 *   local.c            the runner: prepares a plan, starts, signals, finishes
 *   sandbox_helper.c   clones pid 1 from a plan, in the helper or in-process
 *   sandbox_child.c    pid 1 and the step, between clone and exec
 *   sandbox_world.c    before clone: what of the host the step sees (the mounts)
 *   sandbox_promote.c  after the exit: declared outputs into the workspace
 *
 * The plan is the one thing that crosses the clone: the parent builds it,
 * the child only reads it, so the child allocates nothing.  The report is
 * the one thing that comes back, on a close-on-exec pipe.
 */
#ifndef SLUICE_SANDBOX_INT_H
#define SLUICE_SANDBOX_INT_H

#include "sluice/arena.h"
#include "sluice/error.h"
#include "sluice/runner.h"
#include "sluice/sandbox.h"
#include "sluice/strbuf.h"

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Where the step finds $SLUICE_OUTPUT and $SLUICE_PARAMS (a fresh /tmp). */
#define OUTPUT_INSIDE "/tmp/.sluice/output"
#define PARAMS_INSIDE "/tmp/.sluice/params.json"
#define OUTPUT_MAX    (16 << 20) /* $SLUICE_OUTPUT holds key=value lines */

/* The host uid and gid a step that sluice starts as root runs as when its
 * workspace is root's (nobody, nogroup on Debian). */
#define SB_NOBODY 65534u

/* Device nodes in the step's /dev: the standard ones and the step's GPUs. */
#define MAX_DEVS 32

/*
 * One record on the report pipe.  Written by the child: REP_SETUP by
 * child_fail (a stage of pid 1 or of the step before execve failed; at most
 * one counts), REP_EXIT by pid 1 when the step exited (its wait status).
 * Read by local_finish after pid 1 is reaped; end of file without either
 * means pid 1 died (SIGKILL) and its own wait status is the step's.
 */
struct report {
	int32_t kind; /* REP_SETUP or REP_EXIT */
	int32_t stage;
	int32_t err;
	int32_t status; /* wait status of the step */
};
enum { REP_SETUP = 1, REP_EXIT = 2 };

/*
 * One step of building the step's world below the new root, made by
 * local.c's plan_world and carried out in order by pid 1.  dst is below
 * the new root (ROOT/PATH); its mount point is made first (a directory, or
 * an empty file when src is one).  The list holds the host paths the step
 * may see beyond the fixed ones (/tmp, /dev, /proc): the allow list (/usr,
 * /etc, ...), then, sorted so that a parent comes before what lies below
 * it, the `read:` paths, the workspace's overlay, and the tmpfs mounts that
 * hide sluice's state and home where those would show, and the program.
 */
enum mnt_kind {
	MNT_BIND,    /* src bound read-only, nosuid, nodev (recursive) */
	MNT_LINK,    /* a symlink at dst whose target is src (/bin -> usr/bin) */
	MNT_HIDE,    /* an empty tmpfs, read-only once everything below it is made */
	MNT_OVERLAY, /* the workspace (src unused): see plan.ovl_opts */
};
struct mnt_op {
	int kind;
	int stage; /* reported when it fails */
	int file;  /* the mount point is a file (MNT_BIND of a file) */
	const char *src, *dst;
};
#define MAX_MNT 48

/*
 * Everything the child reads, built before clone.  Filled by local_start
 * (strings in its lproc's arena, fds it owns); copied by the helper's
 * plan_pack into one message and rebuilt by plan_unpack, which also fills
 * fd_null and fd_net from the helper's own copies; the parent's half of the
 * handshake (sandbox_spawn_init) reads the fields under "for the parent"
 * and sets fd_user and fd_idmap; everything else is read by
 * sandbox_child_main and the step before execve, never written.
 */
struct plan {
	int fail_stage;
	int userns;    /* cloned into a user namespace (sluice is not root) */
	int setns_net; /* enter fd_net rather than a network namespace of its own */
	int landlock;  /* scope abstract Unix sockets and signals to the step (ABI 6) */
	int fd_out, fd_report, fd_go, fd_null, fd_net;
	int need_go;               /* the parent has work between clone and go (maps, cgroups) */
	int fd_outfile, fd_params; /* the host's $SLUICE_OUTPUT (write) and params file (read) */
	/* as root: the user namespace the step joins once the mounts are made
	 * (inside uid 0 = step_uid outside), and the one that idmaps a
	 * root-owned workspace to step_uid (-1: the workspace is step_uid's) */
	int fd_user, fd_idmap;
	unsigned step_uid, step_gid; /* as root; 0 when sluice is not root */
	const char *root;            /* mount point of the new root: ATTEMPT/root */
	const char *root_opts;       /* its tmpfs */
	const char *root_ws;         /* ROOT/WORKSPACE */
	const char *ws;              /* the workspace, the same path inside */
	const char *ovl_opts;        /* lowerdir=...,upperdir=...,workdir=... */
	/* with fd_idmap: the idmapped workspace and attempt dir, mounted at these
	 * two mount points of the new root while the overlay is made */
	const char *idmap_ws_src, *idmap_att_src, *idmap_ws_dst, *idmap_att_dst;
	const char *root_tmp, *tmp_opts; /* ROOT/tmp and its tmpfs (sized) */
	const char *root_dev, *dev_opts, *root_shm, *root_proc;
	const char *dev_src[MAX_DEVS], *dev_dst[MAX_DEVS];
	dev_t dev_rdev[MAX_DEVS]; /* the node's number when it is a character device, else 0 */
	size_t ndev;
	struct mnt_op mnt[MAX_MNT];
	size_t nbase, nmnt;      /* mnt[0..nbase): the allow list, before /tmp, /dev, /proc */
	const char *root_sluice; /* ROOT/tmp/.sluice */
	const char *root_home_in_tmp;
	const char *out_dst, *params_dst; /* ROOT/tmp/.sluice/{output,params.json} */
	const char *proc_ro[2];           /* ROOT/proc/sys, ROOT/proc/sysrq-trigger (uid 0 only) */
	const char *exec_path; /* what execve runs: argv[0], or its real path when bound */
	int cap_last;
	rlim_t rl_as, rl_nproc;
	/* sluice's argv strings, which pid 1 (a copy of sluice or of the helper)
	 * overwrites: /proc/1/cmdline is readable by the step */
	uintptr_t argv_start;
	size_t argv_len;
	const struct sock_fprog *prog;
	char *const *argv;
	char *const *envp;
	/* for the parent's side of the handshake */
	uint64_t clone_flags;
	int cg_procs[SB_NCTL]; /* open cgroup.procs files to join, or -1 */
	unsigned uid, gid;
};

/* path is dir or below it (string prefix at a '/'; dir's trailing '/' ignored). */
static inline int sandbox_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

/* ---- sandbox_world.c: what the step sees ---------------------------------------------- */

/* Everything the step sees below the new root, into pl->mnt (see struct
 * mnt_op): the allow list, the read: paths, the workspace, tmpfs mounts
 * over sluice's state dir and hide_home where they would show, the
 * program when it lies outside all of that, the target of
 * /etc/resolv.conf for a step with the network, and /sys for a step with
 * GPUs.  Strings in a.  An error says why the step cannot start. */
int sandbox_world_plan(const step_launch *l, const char *hide_home, arena *a, struct plan *pl,
		       const char *root, const char *ws, const char *state_dir, sl_error **err);

/* ---- sandbox_child.c: pid 1 ------------------------------------------------------------ */

/* pid 1 of the new namespaces, straight after clone: wait for "go", build
 * the world from pl, start the step, forward signals, report its status.
 * Never returns; async-signal-safe. */
__attribute__((noreturn)) void sandbox_child_main(const struct plan *pl);

/* ---- sandbox_helper.c: cloning pid 1 ---------------------------------------------------- */

/* Clone pid 1 for pl and do the parent's half of the handshake: uid/gid maps
 * (in a user namespace), join the cgroups, say go.  From the helper
 * (in_helper) pid 1 is cloned with CLONE_PARENT, so it is the orchestrator's
 * child all the same, and *pidfd is not set (pidfd may be NULL).  Closes the
 * go pipe it makes, no other fd of pl.  Returns the pid (> 0 also on a
 * failure after clone: the caller kills and reaps it); *stage is -1 on
 * success, else the stage that failed with *e and a note in why. */
struct sandbox_userns;
pid_t sandbox_spawn_init(struct plan *pl, struct sandbox_userns *uc, int in_helper, int *pidfd,
			 int *stage, int *e, char *why, size_t whysz);

/*
 * The user namespaces of steps that sluice starts as root, made once and
 * kept by whoever clones (the helper, or sluice): per step uid S, one whose
 * inside uid 0 is S outside (the step joins it); and one that idmaps a
 * root-owned workspace so that its files are S's to the step (disk uid 0
 * shows as S, S's writes land as 0).  Each is made by a short-lived child
 * that unshares and waits while its maps are written.
 */
#define SB_USERNS_MAX 8
struct sandbox_userns {
	unsigned uid[SB_USERNS_MAX], gid[SB_USERNS_MAX];
	int fd[SB_USERNS_MAX];
	size_t n;
	int idmap_fd; /* -1 until made */
};
void sandbox_userns_init(struct sandbox_userns *uc);
void sandbox_userns_release(struct sandbox_userns *uc);

/* Where sluice's argv strings lie (/proc/self/stat: arg_start, arg_end); 0 when unknown. */
void sandbox_argv_area(uintptr_t *start, size_t *len);
/* Overwrite them with name (async-signal-safe: pid 1 calls it too). */
static inline void sandbox_argv_set(uintptr_t start, size_t len, const char *name)
{
	if (!start || !len)
		return;
	size_t n = strlen(name);
	if (n >= len)
		n = len - 1;
	memset((void *)start, 0, len);
	memcpy((void *)start, name, n);
}

/* sandbox_spawn_init in-process (no helper), on a packed copy of pl: pid 1
 * overwrites sluice's argv strings in its copy of our memory, so no
 * string of the plan may lie there. */
pid_t sandbox_spawn_copy(const struct plan *pl, struct sandbox_userns *uc, int *pidfd, int *stage,
			 int *e, char *why, size_t whysz);

/* The helper process that clones every step's pid 1 (sandbox_helper.c). */
struct sandbox_helper {
	int sock;             /* to the helper, or -1: clone in-process */
	uintptr_t argv_start; /* sluice's argv strings, overwritten in the helper */
	size_t argv_len;
	pid_t pid; /* the helper, to wait for */
	char *buf; /* one message (a packed plan) */
};

/* Fork the helper (unless SLUICE_SANDBOX_NO_HELPER is set).  It keeps its
 * own copies of null_fd and net_fd.  On any failure h->sock is -1. */
void sandbox_helper_start(struct sandbox_helper *h, int null_fd, int net_fd);
/* Ask the helper for pid 1, as sandbox_spawn_init would make it; 0 with
 * *pid, *stage, *e and why set; -1 when the helper cannot (gone, plan too
 * big): the caller clones in-process, and after a lost helper h->sock is -1
 * for good. */
int sandbox_helper_spawn(struct sandbox_helper *h, struct plan *pl, pid_t *pid, int *stage, int *e,
			 char *why, size_t whysz);
/* Close the socket (the helper exits on end of file), wait for it, free. */
void sandbox_helper_stop(struct sandbox_helper *h);

/* ---- sandbox_promote.c: after the exit -------------------------------------------------- */

/* What the step wrote in upper that is neither one of outputs (paths
 * relative to the workspace, each covering what is below it) nor a parent
 * of one: the count, with the first 20 names appended to names ("a, b
 * (deleted)").  Walked from directory fds, following no symlink. */
size_t sandbox_list_undeclared(const char *upper, const char *const *outputs, size_t noutputs,
			       strbuf *names);
/* upper/rel exists and is not a whiteout: the step wrote output rel (or
 * left something there that sandbox_promote_check will refuse). */
int sandbox_output_written(const char *upper, const char *rel);
/* Whether upper/rel may be moved to ws/rel, for every output before any is
 * moved: its parents real directories on both sides, and it and all below
 * it regular files, directories, whiteouts or symlinks that stay in the
 * workspace.  0 (also when upper/rel is absent), or -1 with the reason in
 * why ("output p is a FIFO: ...", "output lnk/x: lnk is a symlink ..."). */
int sandbox_promote_check(const char *upper, const char *ws, const char *rel, char *why,
			  size_t whysz);
/* Move upper/rel into ws/rel (a directory is merged, whiteouts delete;
 * setuid, setgid and file capabilities cleared), following no symlink on
 * either side.  0 moved, 1 nothing there, -1 with the reason in why. */
int sandbox_promote(const char *upper, const char *ws, const char *rel, char *why, size_t whysz);

#endif

/*
 * sandbox_int.h — what the files of the local runner share; private to
 * runners/, never included from elsewhere.
 *
 *   local.c            the runner: prepares a plan, starts, signals, finishes
 *   sandbox_helper.c   clones pid 1 from a plan, in the helper or in-process
 *   sandbox_child.c    pid 1 and the step, between clone and exec
 *   sandbox_promote.c  after the exit: declared outputs into the workspace
 *
 * The plan is the one thing that crosses the clone: the parent builds it,
 * the child only reads it, so the child allocates nothing.  The report is
 * the one thing that comes back, on a close-on-exec pipe.
 */
#ifndef SLUICE_SANDBOX_INT_H
#define SLUICE_SANDBOX_INT_H

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
 * Everything the child reads, built before clone.  Filled by local_start
 * (strings in its lproc's arena, fds it owns); copied by the helper's
 * plan_pack into one message and rebuilt by plan_unpack, which also fills
 * fd_null and fd_net from the helper's own copies; the parent's half of the
 * handshake (sandbox_spawn_init) reads the fields under "for the parent";
 * everything else is read by sandbox_child_main and the step before
 * execve, never written.
 */
struct plan {
	int fail_stage;
	int userns, setns_net;
	int fd_out, fd_report, fd_go, fd_null, fd_net;
	int need_go;                  /* the parent has work between clone and go (maps, cgroups) */
	int fd_outfile, fd_params;    /* the host's $SLUICE_OUTPUT (write) and params file (read) */
	const char *root;             /* mount point of the new root: ATTEMPT/root */
	const char *root_ws;          /* ROOT/WORKSPACE */
	const char *ws;               /* the workspace, the same path inside */
	const char *ovl_opts;         /* lowerdir=...,upperdir=...,workdir=... */
	const char *root_home;        /* ROOT/HOME to hide, or NULL */
	const char *root_state;       /* ROOT/STATE to hide, or NULL */
	const char *root_tmp;         /* ROOT/tmp */
	const char *mk_home, *mk_tmp; /* the workspace's path to make in the home / tmp tmpfs */
	/* the program, when the fresh /tmp or home would hide it (sluice's own binary, for
	 * the built-in steps, in a build tree below /tmp or the home): bound read-only at
	 * the same path; NULL when it is visible anyway */
	const char *exe_src, *exe_dst, *exe_dir;
	int exe_in_home;
	const char *root_dev, *root_shm, *root_proc;
	const char *dev_src[MAX_DEVS], *dev_dst[MAX_DEVS];
	dev_t dev_rdev[MAX_DEVS]; /* the node's number when it is a character device, else 0 */
	size_t ndev;
	const char *root_sluice; /* ROOT/tmp/.sluice */
	const char *root_home_in_tmp;
	const char *out_dst, *params_dst; /* ROOT/tmp/.sluice/{output,params.json} */
	const char *proc_ro[2];           /* ROOT/proc/sys, ROOT/proc/sysrq-trigger (uid 0 only) */
	int cap_last;
	rlim_t rl_as, rl_nproc;
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
pid_t sandbox_spawn_init(struct plan *pl, int in_helper, int *pidfd, int *stage, int *e, char *why,
			 size_t whysz);

/* The helper process that clones every step's pid 1 (sandbox_helper.c). */
struct sandbox_helper {
	int sock;  /* to the helper, or -1: clone in-process */
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

/*
 * sandbox_helper.c — cloning a step's pid 1: the parent's half of the
 * handshake (sandbox_spawn_init), run by the helper process or, when there
 * is none, by sluice itself.
 *
 * sandbox_spawn_init lives here rather than in sandbox_child.c because
 * nothing of it runs in the child: it clones, and the child goes straight
 * to sandbox_child_main; what follows (uid maps, cgroups, go) runs in the
 * parent, which may format and allocate.
 */
#include "sandbox_int.h"

#include "sluice/arena.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the user namespaces of steps started as root ------------------------------------ */

void sandbox_userns_init(struct sandbox_userns *uc)
{
	memset(uc, 0, sizeof(*uc));
	uc->idmap_fd = -1;
}

void sandbox_userns_release(struct sandbox_userns *uc)
{
	for (size_t k = 0; k < uc->n; k++)
		close(uc->fd[k]);
	if (uc->idmap_fd >= 0)
		close(uc->idmap_fd);
	sandbox_userns_init(uc);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A new user namespace with these uid and gid maps, held by an fd: a child
 * unshares into it and waits while we write its maps and open it, then
 * goes.  -1 with errno. */
static int make_userns(const char *umap, const char *gmap)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		/* end of file: the parent is done with us */
		while (read(p[0], &c, 1) < 0 && errno == EINTR) {
		}
		_exit(0);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return -1;
	}
	/* the child's namespace is ready once it shows another user namespace than ours */
	char path[64], self[64] = "", other[64] = "";
	if (readlink("/proc/self/ns/user", self, sizeof(self) - 1) < 0)
		self[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	for (int tries = 0; tries < 100000; tries++) {
		ssize_t n = readlink(path, other, sizeof(other) - 1);
		other[n > 0 ? n : 0] = 0;
		if (n < 0 || strcmp(other, self) != 0)
			break;
		sched_yield();
	}
	int fd = -1, e = 0;
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if (write_file(path, umap) == 0) {
		snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
		if (write_file(path, gmap) == 0) {
			snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	e = errno;
	close(p[1]);
	waitpid(pid, NULL, 0);
	errno = e;
	return fd;
}

/* The step's: inside uid and gid 0 are uid and gid outside, nothing else. */
static int userns_step(struct sandbox_userns *uc, unsigned uid, unsigned gid)
{
	for (size_t k = 0; k < uc->n; k++)
		if (uc->uid[k] == uid && uc->gid[k] == gid)
			return uc->fd[k];
	char umap[32], gmap[32];
	snprintf(umap, sizeof(umap), "0 %u 1\n", uid);
	snprintf(gmap, sizeof(gmap), "0 %u 1\n", gid);
	int fd = make_userns(umap, gmap);
	if (fd < 0)
		return -1;
	if (uc->n == SB_USERNS_MAX) {
		close(uc->fd[0]);
		memmove(uc->uid, uc->uid + 1, sizeof(uc->uid[0]) * (SB_USERNS_MAX - 1));
		memmove(uc->gid, uc->gid + 1, sizeof(uc->gid[0]) * (SB_USERNS_MAX - 1));
		memmove(uc->fd, uc->fd + 1, sizeof(uc->fd[0]) * (SB_USERNS_MAX - 1));
		uc->n--;
	}
	uc->uid[uc->n] = uid;
	uc->gid[uc->n] = gid;
	uc->fd[uc->n++] = fd;
	return fd;
}

/* The idmap for a root-owned workspace: disk uid 0 shows as SB_NOBODY and
 * SB_NOBODY's writes land as 0 (the two swapped); every other id is itself. */
static int userns_idmap(struct sandbox_userns *uc)
{
	if (uc->idmap_fd < 0) {
		char map[160];
		snprintf(map, sizeof(map), "0 %u 1\n%u 0 1\n1 1 %u\n%u %u %u\n", SB_NOBODY,
			 SB_NOBODY, SB_NOBODY - 1, SB_NOBODY + 1, SB_NOBODY + 1,
			 4294967295U - SB_NOBODY - 1);
		uc->idmap_fd = make_userns(map, map);
	}
	return uc->idmap_fd;
}

/* See sandbox_int.h. */
void sandbox_argv_area(uintptr_t *start, size_t *len)
{
	*start = 0;
	*len = 0;
	char buf[2048];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	/* after the command's ')' come the fields from 3 (state) on; 48 and 49
	 * are arg_start and arg_end */
	char *p = strrchr(buf, ')');
	if (!p)
		return;
	p++;
	unsigned long long v[50] = {0};
	int field = 2;
	while (*p && field < 49) {
		while (*p == ' ')
			p++;
		field++;
		char *end;
		unsigned long long x = strtoull(p, &end, 10);
		if (field == 3) /* the state, a letter */
			end = p + strcspn(p, " ");
		else if (end == p)
			return;
		v[field] = x;
		p = end;
	}
	if (field == 49 && v[48] && v[49] > v[48]) {
		*start = (uintptr_t)v[48];
		*len = (size_t)(v[49] - v[48]);
	}
}

/* See sandbox_int.h. */
pid_t sandbox_spawn_init(struct plan *pl, struct sandbox_userns *uc, int in_helper, int *pidfd,
			 int *stage, int *e, char *why, size_t whysz)
{
	int go[2] = {-1, -1};
	pid_t pid = -1;
	*stage = SB_PIPE;
	if (pl->need_go && pipe2(go, O_CLOEXEC) < 0) {
		*e = errno;
		return -1;
	}
	pl->fd_go = go[0];
	*stage = SB_CLONE;
	if (pl->fail_stage == SB_CLONE) {
		*e = EPERM;
		goto out;
	}
	/* as root: the user namespaces, made once (before the clone: the child reads their fds) */
	pl->fd_user = pl->fd_idmap = -1;
	if (pl->step_uid) {
		*stage = SB_USERNS;
		if (pl->fail_stage == SB_USERNS ||
		    (pl->fd_user = userns_step(uc, pl->step_uid, pl->step_gid)) < 0 ||
		    (pl->idmap_ws_src && (pl->fd_idmap = userns_idmap(uc)) < 0)) {
			*e = pl->fail_stage == SB_USERNS ? EPERM : errno;
			snprintf(why, whysz, "make the step's user namespace (uid %u)",
				 pl->step_uid);
			goto out;
		}
		*stage = SB_CLONE;
	}
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = pl->clone_flags | (in_helper ? CLONE_PARENT : CLONE_PIDFD);
	ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	ca.exit_signal = in_helper ? 0 : SIGCHLD; /* CLONE_PARENT takes the helper's */
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0 && errno == ENOSYS) {
		unsigned long f = (unsigned long)pl->clone_flags | (in_helper ? CLONE_PARENT : 0);
		pid = (pid_t)syscall(SYS_clone, f | SIGCHLD, 0, 0, 0, 0);
	}
	if (pid == 0)
		sandbox_child_main(pl);
	if (pid < 0) {
		*e = errno;
		goto out;
	}
	close(go[0]);
	go[0] = -1;
	if (pl->userns) {
		*stage = SB_UIDMAP;
		if (pl->fail_stage == SB_UIDMAP) {
			*e = EPERM;
			goto out;
		}
		/* the user is itself inside; no setgroups, so one line each is allowed */
		char path[64], map[64];
		const char *files[3] = {"setgroups", "uid_map", "gid_map"};
		for (int k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[k]);
			unsigned id = k == 1 ? pl->uid : pl->gid;
			if (k == 0)
				snprintf(map, sizeof(map), "deny");
			else
				snprintf(map, sizeof(map), "%u %u 1\n", id, id);
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, map, strlen(map)) < 0) {
				*e = errno;
				if (fd >= 0)
					close(fd);
				snprintf(why, whysz, "write %s", path);
				goto out;
			}
			close(fd);
		}
	}
	*stage = SB_CGROUP_JOIN;
	if (pl->fail_stage == SB_CGROUP_JOIN) {
		*e = EPERM;
		goto out;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (int k = 0; k < SB_NCTL; k++) {
		if (pl->cg_procs[k] >= 0 && write(pl->cg_procs[k], buf, (size_t)n) < 0) {
			*e = errno;
			snprintf(why, whysz, "join the step's %s cgroup",
				 k == SB_CTL_MEMORY ? "memory"
				 : k == SB_CTL_PIDS ? "pids"
						    : "cpu");
			goto out;
		}
	}
	*stage = SB_GO;
	if (pl->fail_stage == SB_GO) {
		*e = EPERM;
		goto out;
	}
	if (go[1] >= 0 && write(go[1], "g", 1) != 1) {
		*e = errno;
		goto out;
	}
	*stage = -1;
out:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	return pid;
}

/*
 * The helper: a fork of sluice made when the runner is created, while
 * sluice is small, that clones every step's pid 1 (docs/benchmarks.md:
 * never fork from a large parent — a 256 MiB orchestrator would pay about
 * 10 ms per step to copy itself).  The plan travels over a SOCK_SEQPACKET
 * pair as one message: the struct with its strings packed behind it
 * (pointers become offsets), the log pipe, report pipe and cgroup.procs
 * files as SCM_RIGHTS.  The reply is {pid, stage, errno, note}.
 */
#define HELPER_MAX_MSG (192 * 1024)
#define HELPER_MAX_FDS (4 + SB_NCTL)

struct helper_reply {
	int32_t pid, stage, err;
	char why[200];
};

struct packer {
	char *buf;
	size_t len, cap;
	int overflow;
};

static uintptr_t pack_bytes(struct packer *pk, const void *data, size_t n, size_t align)
{
	size_t off = (pk->len + align - 1) & ~(align - 1);
	if (off + n > pk->cap) {
		pk->overflow = 1;
		return 0;
	}
	memset(pk->buf + pk->len, 0, off - pk->len);
	memcpy(pk->buf + off, data, n);
	pk->len = off + n;
	return off + 1; /* 0 stays NULL */
}

/* Every string field of a plan, for packing and unpacking alike. */
static const char **plan_field(struct plan *pl, size_t k)
{
	const char **fixed[] = {&pl->root,
				&pl->root_opts,
				&pl->root_ws,
				&pl->ws,
				&pl->ovl_opts,
				&pl->idmap_ws_src,
				&pl->idmap_att_src,
				&pl->idmap_ws_dst,
				&pl->idmap_att_dst,
				&pl->root_tmp,
				&pl->tmp_opts,
				&pl->root_dev,
				&pl->dev_opts,
				&pl->root_shm,
				&pl->root_proc,
				&pl->root_sluice,
				&pl->root_home_in_tmp,
				&pl->out_dst,
				&pl->params_dst,
				&pl->proc_ro[0],
				&pl->proc_ro[1],
				&pl->exec_path};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	if (k < nfixed)
		return fixed[k];
	k -= nfixed;
	if (k < MAX_DEVS)
		return &pl->dev_src[k];
	k -= MAX_DEVS;
	if (k < MAX_DEVS)
		return &pl->dev_dst[k];
	k -= MAX_DEVS;
	if (k < 2 * MAX_MNT)
		return k % 2 ? &pl->mnt[k / 2].dst : &pl->mnt[k / 2].src;
	return NULL;
}

static uintptr_t pack_vec(struct packer *pk, char *const *v)
{
	size_t n = 0;
	while (v[n])
		n++;
	uintptr_t *offs = xcalloc(n + 1, sizeof(uintptr_t));
	for (size_t k = 0; k < n; k++)
		offs[k] = pack_bytes(pk, v[k], strlen(v[k]) + 1, 1);
	uintptr_t at = pack_bytes(pk, offs, (n + 1) * sizeof(uintptr_t), sizeof(uintptr_t));
	free(offs);
	return at;
}

/* pl into buf: the struct, then its strings; fds[] gets the fds to send and
 * the struct's fd fields their indexes.  Returns the length, or 0 when it
 * does not fit. */
static size_t plan_pack(const struct plan *pl, char *buf, size_t cap, int *fds, int *nfds)
{
	struct plan cp = *pl;
	struct packer pk = {buf + sizeof(cp), 0, cap - sizeof(cp), 0};
	const char **f;
	for (size_t k = 0; (f = plan_field(&cp, k)); k++)
		*f = *f ? (const char *)pack_bytes(&pk, *f, strlen(*f) + 1, 1) : NULL;
	cp.argv = (char *const *)pack_vec(&pk, pl->argv);
	cp.envp = (char *const *)pack_vec(&pk, pl->envp);
	*nfds = 0;
	fds[(*nfds)++] = pl->fd_out;
	cp.fd_out = 0;
	fds[(*nfds)++] = pl->fd_report;
	cp.fd_report = 1;
	fds[(*nfds)++] = pl->fd_outfile;
	cp.fd_outfile = 2;
	fds[(*nfds)++] = pl->fd_params;
	cp.fd_params = 3;
	for (int k = 0; k < SB_NCTL; k++) {
		cp.cg_procs[k] = -1;
		if (pl->cg_procs[k] >= 0) {
			cp.cg_procs[k] = *nfds;
			fds[(*nfds)++] = pl->cg_procs[k];
		}
	}
	if (pk.overflow)
		return 0;
	memcpy(buf, &cp, sizeof(cp));
	return sizeof(cp) + pk.len;
}

static void plan_unpack(struct plan *pl, const int *fds)
{
	char *base = (char *)(pl + 1) - 1; /* offsets count from 1 */
	const char **f;
	for (size_t k = 0; (f = plan_field(pl, k)); k++)
		if (*f)
			*f = base + (uintptr_t)*f;
	char *const **vecs[] = {&pl->argv, &pl->envp};
	for (int v = 0; v < 2; v++) {
		uintptr_t *offs = (uintptr_t *)(base + (uintptr_t)*vecs[v]);
		for (size_t k = 0; offs[k]; k++)
			offs[k] = (uintptr_t)(base + offs[k]);
		*vecs[v] = (char *const *)offs;
	}
	pl->fd_out = fds[pl->fd_out];
	pl->fd_report = fds[pl->fd_report];
	pl->fd_outfile = fds[pl->fd_outfile];
	pl->fd_params = fds[pl->fd_params];
	for (int k = 0; k < SB_NCTL; k++)
		if (pl->cg_procs[k] >= 0)
			pl->cg_procs[k] = fds[pl->cg_procs[k]];
}

/* See sandbox_int.h. */
pid_t sandbox_spawn_copy(const struct plan *pl, struct sandbox_userns *uc, int *pidfd, int *stage,
			 int *e, char *why, size_t whysz)
{
	int fds[HELPER_MAX_FDS], nfds;
	char *buf = aligned_alloc(64, HELPER_MAX_MSG);
	size_t len = buf ? plan_pack(pl, buf, HELPER_MAX_MSG, fds, &nfds) : 0;
	if (!len) {
		free(buf);
		*stage = SB_PREPARE;
		*e = E2BIG;
		snprintf(why, whysz, "the plan does not fit in %d bytes", HELPER_MAX_MSG);
		return -1;
	}
	struct plan *cp = (struct plan *)buf;
	plan_unpack(cp, fds);
	cp->fd_null = pl->fd_null;
	cp->fd_net = pl->fd_net;
	pid_t pid = sandbox_spawn_init(cp, uc, 0, pidfd, stage, e, why, whysz);
	free(buf);
	return pid;
}

static __attribute__((noreturn)) void helper_main(const struct sandbox_helper *h, int sock,
						  int null_fd, int net_fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* sluice's arguments are not ours to show (ps, and every pid 1 we clone) */
	sandbox_argv_set(h->argv_start, h->argv_len, "sluice-helper");
	struct sandbox_userns uc;
	sandbox_userns_init(&uc);
	/* Ctrl-C is for sluice; pid 1 and the step reset their masks */
	sigset_t set;
	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* hold no one's terminal or pipe: sluice's stdout may be a reader's EOF */
	dup2(null_fd, 0);
	dup2(null_fd, 1);
	dup2(null_fd, 2);
	char *buf = aligned_alloc(64, HELPER_MAX_MSG);
	if (!buf)
		_exit(1);
	for (;;) {
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(int) * HELPER_MAX_FDS)];
		} ctl;
		struct iovec iov = {buf, HELPER_MAX_MSG};
		struct msghdr msg = {.msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = &ctl,
				     .msg_controllen = sizeof(ctl)};
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* sluice is done */
		int fds[HELPER_MAX_FDS], nfds = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)nfds);
			}
		struct helper_reply rep = {-1, SB_CLONE, EPROTO, ""};
		struct plan *pl = (struct plan *)buf;
		if ((size_t)n >= sizeof(*pl) && nfds >= 4) {
			plan_unpack(pl, fds);
			pl->fd_null = null_fd;
			pl->fd_net = net_fd;
			int stage, e = 0;
			rep.pid = sandbox_spawn_init(pl, &uc, 1, NULL, &stage, &e, rep.why,
						     sizeof(rep.why));
			rep.stage = stage;
			rep.err = e;
		}
		for (int k = 0; k < nfds; k++)
			close(fds[k]);
		if (send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) < 0)
			_exit(0);
	}
}

int sandbox_helper_spawn(struct sandbox_helper *h, struct plan *pl, pid_t *pid, int *stage, int *e,
			 char *why, size_t whysz)
{
	int fds[HELPER_MAX_FDS], nfds;
	size_t len = plan_pack(pl, h->buf, HELPER_MAX_MSG, fds, &nfds);
	if (!len)
		return -1;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * HELPER_MAX_FDS)];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = {h->buf, len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = &ctl,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	struct helper_reply rep;
	ssize_t n;
	if (sendmsg(h->sock, &msg, MSG_NOSIGNAL) < 0)
		goto gone;
	do
		n = recv(h->sock, &rep, sizeof(rep), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep))
		goto gone;
	*pid = rep.pid;
	*stage = rep.stage;
	*e = rep.err;
	rep.why[sizeof(rep.why) - 1] = 0;
	snprintf(why, whysz, "%s", rep.why);
	return 0;
gone:
	/* no helper from now on; this and later steps clone in-process */
	close(h->sock);
	h->sock = -1;
	return -1;
}

void sandbox_helper_start(struct sandbox_helper *h, int null_fd, int net_fd)
{
	int sv[2];
	h->sock = -1;
	if (getenv("SLUICE_SANDBOX_NO_HELPER") ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		helper_main(h, sv[1], null_fd, net_fd);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return;
	}
	h->pid = pid;
	h->sock = sv[0];
	h->buf = aligned_alloc(64, HELPER_MAX_MSG);
	int sz = HELPER_MAX_MSG + 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

void sandbox_helper_stop(struct sandbox_helper *h)
{
	if (h->sock >= 0) {
		close(h->sock); /* the helper exits on EOF */
		waitpid(h->pid, NULL, 0);
	}
	h->sock = -1;
	free(h->buf);
	h->buf = NULL;
}

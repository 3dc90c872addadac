/*
 * sandbox_cgroup.c — a step's memory, pids and cpu limits through cgroups,
 * v2 where the unified hierarchy has the controller for us, v1 otherwise
 * (and "hybrid" machines have both: each controller is taken from where it
 * works).  Step cgroups are made below the orchestrator's own cgroup in each
 * hierarchy, so whatever limits the orchestrator lives under still hold.
 *
 * A cgroup is made only for the limits a step sets: an unlimited step pays
 * no mkdir.  When a controller is missing, the local runner falls back
 * (RLIMIT_AS for memory, RLIMIT_NPROC for pids) and says so.
 */
#include "sluice/sandbox.h"

#include "sluice/arena.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const ctl_names[SB_NCTL] = {"memory", "pids", "cpu"};

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return (int)n;
}

static int write_str(const char *dir, const char *file, const char *val)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, val, strlen(val));
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

/* Is word one of the comma- or space-separated words of list? */
static int has_word(const char *list, const char *word, const char *seps)
{
	size_t wl = strlen(word);
	for (const char *s = list; *s;) {
		size_t l = strcspn(s, seps);
		if (l == wl && strncmp(s, word, wl) == 0)
			return 1;
		s += l;
		s += strspn(s, seps);
	}
	return 0;
}

/* Our path in the hierarchy whose /proc/self/cgroup controller field matches. */
static int self_path(const char *ctl, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -1;
	char line[4096];
	int found = -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		const char *ctls = c1 + 1;
		if ((ctl == NULL && *ctls == 0) || (ctl && has_word(ctls, ctl, ","))) {
			snprintf(out, size, "%s", c2 + 1);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* The mount point of a cgroup (v1, with controller ctl) or cgroup2 (ctl NULL) hierarchy. */
static int mount_point(const char *ctl, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -1;
	char line[4096];
	int found = -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
		char *dash = strstr(line, " - ");
		if (!dash)
			continue;
		char fstype[32], src[256], sopts[1024] = "";
		if (sscanf(dash + 3, "%31s %255s %1023s", fstype, src, sopts) < 2)
			continue;
		char root[1024], mnt[1024];
		if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, mnt) != 2)
			continue;
		if (strcmp(root, "/") != 0)
			continue; /* a bind of a sub-cgroup: paths would not line up */
		if (ctl ? (!strcmp(fstype, "cgroup") && has_word(sopts, ctl, ","))
			: !strcmp(fstype, "cgroup2")) {
			snprintf(out, size, "%s", mnt);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

void sandbox_cgroups_probe(sandbox_cgroups *cg)
{
	memset(cg, 0, sizeof(*cg));
	char mnt[1024], path[4096], v2base[8192] = "";
	int have_v1 = 0, have_v2 = 0;
	if (mount_point(NULL, mnt, sizeof(mnt)) == 0 && self_path(NULL, path, sizeof(path)) == 0) {
		have_v2 = 1;
		snprintf(v2base, sizeof(v2base), "%s%s", mnt, strcmp(path, "/") ? path : "");
	}
	for (int c = 0; c < SB_NCTL; c++) {
		char v1mnt[1024], v1path[4096];
		if (mount_point(ctl_names[c], v1mnt, sizeof(v1mnt)) == 0 &&
		    self_path(ctl_names[c], v1path, sizeof(v1path)) == 0) {
			have_v1 = 1;
		} else {
			v1mnt[0] = 0;
		}
		/* v2 first: usable when our cgroup hands the controller to its children */
		if (have_v2) {
			char file[8300], buf[1024] = "";
			snprintf(file, sizeof(file), "%s/cgroup.subtree_control", v2base);
			int on = read_small(file, buf, sizeof(buf)) >= 0 &&
				 has_word(buf, ctl_names[c], " \n");
			if (!on) {
				snprintf(file, sizeof(file), "%s/cgroup.controllers", v2base);
				if (read_small(file, buf, sizeof(buf)) >= 0 &&
				    has_word(buf, ctl_names[c], " \n")) {
					char plus[32];
					snprintf(plus, sizeof(plus), "+%s", ctl_names[c]);
					on = write_str(v2base, "cgroup.subtree_control", plus) == 0;
				}
			}
			if (on && access(v2base, W_OK) == 0) {
				cg->base[c] = xmalloc(strlen(v2base) + 1);
				memcpy(cg->base[c], v2base, strlen(v2base) + 1);
				cg->v2[c] = 1;
				continue;
			}
		}
		if (v1mnt[0]) {
			char base[8192];
			snprintf(base, sizeof(base), "%s%s", v1mnt,
				 strcmp(v1path, "/") ? v1path : "");
			if (access(base, W_OK) == 0) {
				cg->base[c] = xmalloc(strlen(base) + 1);
				memcpy(cg->base[c], base, strlen(base) + 1);
				continue;
			}
			snprintf(cg->why[c], sizeof(cg->why[c]), "no write access to %.250s", base);
			continue;
		}
		snprintf(cg->why[c], sizeof(cg->why[c]), "no %s controller in cgroup %s",
			 ctl_names[c],
			 have_v2 ? "v2 (not enabled for this process's cgroup) nor v1"
				 : "v1 or v2");
	}
	snprintf(cg->mode, sizeof(cg->mode), "%s",
		 have_v1 && have_v2 ? "hybrid"
		 : have_v2          ? "v2"
		 : have_v1          ? "v1"
				    : "none");
}

void sandbox_cgroups_release(sandbox_cgroups *cg)
{
	for (int c = 0; c < SB_NCTL; c++)
		free(cg->base[c]);
	memset(cg, 0, sizeof(*cg));
}

static void kill_members(const char *dir)
{
	char path[4096], buf[8192];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return;
	for (char *s = buf; *s;) {
		long pid = strtol(s, &s, 10);
		if (pid > 0)
			kill((pid_t)pid, SIGKILL);
		while (*s == '\n')
			s++;
		if (!pid)
			break;
	}
}

static void remove_dir(const char *dir)
{
	/* emptied cgroups may take a moment to go (v1 css offlining) */
	for (int tries = 0; tries < 100; tries++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			return;
		kill_members(dir);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

void sandbox_cgroup_destroy(sandbox_cgroup *c)
{
	for (int k = 0; k < SB_NCTL; k++) {
		if (c->procs[k] >= 0)
			close(c->procs[k]);
		c->procs[k] = -1;
		if (!c->dir[k])
			continue;
		/* v2: one directory shared by all controllers */
		int dup = 0;
		for (int j = 0; j < k; j++)
			dup |= c->dir[j] == c->dir[k];
		if (!dup) {
			kill_members(c->dir[k]);
			remove_dir(c->dir[k]);
			free(c->dir[k]);
		}
	}
	for (int k = 0; k < SB_NCTL; k++)
		c->dir[k] = NULL;
}

/* "sluice-PID-N" of an orchestrator that is gone: a sluice killed with -9
 * leaves its steps' cgroups (pid 1 went with PDEATHSIG, the directories
 * stay), and every sandboxed step has one (the default pids limit).  Only
 * empty ones are removed: PID is read in our pid namespace, and a sluice
 * in another one may own a cgroup whose PID means nothing here (what a dead
 * run left running is resume's to kill, docs/caching.md). */
static int stale_step_cgroup(const char *name)
{
	int pid;
	unsigned seq;
	char tail;
	return sscanf(name, "sluice-%d-%u%c", &pid, &seq, &tail) == 2 && pid > 0 &&
	       pid != (int)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

void sandbox_cgroups_sweep(const sandbox_cgroups *cg)
{
	for (int k = 0; k < SB_NCTL; k++) {
		int dup = 0;
		for (int j = 0; j < k; j++)
			dup |= cg->base[j] && cg->base[k] && !strcmp(cg->base[j], cg->base[k]);
		DIR *d = cg->base[k] && !dup ? opendir(cg->base[k]) : NULL;
		for (struct dirent *e; d && (e = readdir(d));) {
			if (!stale_step_cgroup(e->d_name))
				continue;
			char dir[8192];
			snprintf(dir, sizeof(dir), "%s/%s", cg->base[k], e->d_name);
			rmdir(dir); /* EBUSY: not empty, left alone */
		}
		if (d)
			closedir(d);
	}
}

int sandbox_cgroup_create(const sandbox_cgroups *cg, sandbox_cgroup *c, const char *name,
			  uint64_t memory, int64_t pids, double cpus, sl_error **err)
{
	for (int k = 0; k < SB_NCTL; k++) {
		c->dir[k] = NULL;
		c->procs[k] = -1;
	}
	int want[SB_NCTL] = {memory > 0, pids > 0, cpus > 0};
	char *v2dir = NULL;
	for (int k = 0; k < SB_NCTL; k++) {
		if (!want[k] || !cg->base[k])
			continue;
		if (cg->v2[k] && v2dir) {
			c->dir[k] = v2dir;
			continue;
		}
		size_t len = strlen(cg->base[k]) + strlen(name) + 2;
		char *dir = xmalloc(len);
		snprintf(dir, len, "%s/%s", cg->base[k], name);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			sl_error_errno(err, e, "mkdir %s", dir);
			free(dir);
			sandbox_cgroup_destroy(c);
			return -1;
		}
		c->dir[k] = dir;
		if (cg->v2[k])
			v2dir = dir;
	}
	char val[64];
	for (int k = 0; k < SB_NCTL; k++) {
		if (!c->dir[k])
			continue;
		const char *file = NULL;
		int dup = 0;
		for (int j = 0; j < k; j++)
			dup |= c->dir[j] == c->dir[k];
		if (k == SB_CTL_MEMORY) {
			file = cg->v2[k] ? "memory.max" : "memory.limit_in_bytes";
			snprintf(val, sizeof(val), "%llu", (unsigned long long)memory);
		} else if (k == SB_CTL_PIDS) {
			file = "pids.max";
			snprintf(val, sizeof(val), "%lld", (long long)pids);
		} else {
			long period = 100000, quota = (long)(cpus * (double)period);
			if (quota < 1000)
				quota = 1000;
			if (cg->v2[k]) {
				file = "cpu.max";
				snprintf(val, sizeof(val), "%ld %ld", quota, period);
			} else {
				snprintf(val, sizeof(val), "%ld", period);
				if (write_str(c->dir[k], "cpu.cfs_period_us", val) < 0)
					goto fail_write;
				file = "cpu.cfs_quota_us";
				snprintf(val, sizeof(val), "%ld", quota);
			}
		}
		if (write_str(c->dir[k], file, val) < 0) {
		fail_write:
			sl_error_errno(err, errno, "write %s/%s", c->dir[k], file ? file : "cpu");
			sandbox_cgroup_destroy(c);
			return -1;
		}
		if (k == SB_CTL_MEMORY) {
			/* no swap either, where the knob exists */
			write_str(c->dir[k],
				  cg->v2[k] ? "memory.swap.max" : "memory.memsw.limit_in_bytes",
				  cg->v2[k] ? "0" : val);
		}
		if (dup)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/cgroup.procs", c->dir[k]);
		c->procs[k] = open(path, O_WRONLY | O_CLOEXEC);
		if (c->procs[k] < 0) {
			sl_error_errno(err, errno, "open %s", path);
			sandbox_cgroup_destroy(c);
			return -1;
		}
	}
	return 0;
}

int sandbox_cgroup_join(sandbox_cgroup *c, pid_t pid, sl_error **err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (int k = 0; k < SB_NCTL; k++) {
		if (c->procs[k] < 0)
			continue;
		if (write(c->procs[k], buf, (size_t)n) < 0)
			return sl_error_errno(err, errno, "join %s", c->dir[k]);
	}
	return 0;
}

static int64_t field(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
		if (strncmp(s, key, kl) == 0 && s[kl] == ' ')
			return strtoll(s + kl + 1, NULL, 10);
	return -1;
}

void sandbox_cgroup_stats(const sandbox_cgroups *cg, const sandbox_cgroup *c, int64_t *peak,
			  int *oom)
{
	*peak = -1;
	*oom = 0;
	const char *dir = c->dir[SB_CTL_MEMORY];
	if (!dir)
		return;
	char path[4096], buf[4096];
	int v2 = cg->v2[SB_CTL_MEMORY];
	snprintf(path, sizeof(path), "%s/%s", dir,
		 v2 ? "memory.peak" : "memory.max_usage_in_bytes");
	if (read_small(path, buf, sizeof(buf)) > 0)
		*peak = strtoll(buf, NULL, 10);
	snprintf(path, sizeof(path), "%s/%s", dir, v2 ? "memory.events" : "memory.oom_control");
	if (read_small(path, buf, sizeof(buf)) > 0) {
		int64_t n = field(buf, "oom_kill");
		if (n < 0 && !v2)
			n = field(buf, "under_oom");
		*oom = n > 0;
	}
}

/* ---- a step's processes, by cgroup ---------------------------------------------------- */

const char *sandbox_track_kind_name(int kind)
{
	return kind == SB_TRACK_CGROUP2   ? "cgroup2"
	       : kind == SB_TRACK_FREEZER ? "freezer"
					  : "descent";
}

void sandbox_tracker_probe(sandbox_tracker *t, const char *force)
{
	memset(t, 0, sizeof(*t));
	if (force && !*force)
		force = NULL;
	char mnt[1024], path[4096], base[8192];
	const char *why2 = "no cgroup2 hierarchy mounted", *why1 = "no freezer hierarchy mounted";
	if (!force || !strcmp(force, "cgroup2")) {
		if (mount_point(NULL, mnt, sizeof(mnt)) == 0 &&
		    self_path(NULL, path, sizeof(path)) == 0) {
			snprintf(base, sizeof(base), "%s%s", mnt, strcmp(path, "/") ? path : "");
			if (access(base, W_OK) == 0) {
				t->kind = SB_TRACK_CGROUP2;
				t->base = xstrdup(base);
				return;
			}
			why2 = "no write access to this process's cgroup2 directory";
		}
	}
	if (!force || !strcmp(force, "freezer")) {
		if (mount_point("freezer", mnt, sizeof(mnt)) == 0 &&
		    self_path("freezer", path, sizeof(path)) == 0) {
			snprintf(base, sizeof(base), "%s%s", mnt, strcmp(path, "/") ? path : "");
			if (access(base, W_OK) == 0) {
				t->kind = SB_TRACK_FREEZER;
				t->base = xstrdup(base);
				return;
			}
			why1 = "no write access to this process's freezer cgroup";
		}
	}
	t->kind = SB_TRACK_DESCENT;
	if (force && !strcmp(force, "descent"))
		snprintf(t->why, sizeof(t->why), "SLUICE_PROC_TRACK=descent");
	else
		snprintf(t->why, sizeof(t->why), "%s; %s", why2, why1);
}

void sandbox_tracker_release(sandbox_tracker *t)
{
	free(t->base);
	memset(t, 0, sizeof(*t));
}

int sandbox_track_create(const sandbox_tracker *t, sandbox_track *c, const char *name,
			 sl_error **err)
{
	memset(c, 0, sizeof(*c));
	c->procs = -1;
	c->kind = SB_TRACK_DESCENT;
	if (t->kind == SB_TRACK_DESCENT || !t->base)
		return sl_error_make(err, "no cgroup to track processes in");
	size_t len = strlen(t->base) + strlen(name) + 2;
	char *dir = xmalloc(len);
	snprintf(dir, len, "%s/%s", t->base, name);
	if (mkdir(dir, 0755) < 0) {
		int e = errno;
		free(dir);
		return sl_error_errno(err, e, "mkdir %s/%s", t->base, name);
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	c->procs = open(path, O_WRONLY | O_CLOEXEC);
	if (c->procs < 0) {
		int e = errno;
		rmdir(dir);
		free(dir);
		return sl_error_errno(err, e, "open %s", path);
	}
	c->dir = dir;
	c->kind = t->kind;
	snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
	c->has_kill = t->kind == SB_TRACK_CGROUP2 && access(path, W_OK) == 0;
	return 0;
}

/* Call fn(pid, arg) for each process in the cgroup; the number of them. */
static int each_member(const char *dir, void (*fn)(pid_t, void *), void *arg)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int n = 0, pid;
	while (fscanf(f, "%d", &pid) == 1) {
		if (pid <= 0)
			continue;
		n++;
		if (fn)
			fn((pid_t)pid, arg);
	}
	fclose(f);
	return n;
}

struct sig_arg {
	int sig;
	pid_t skip_pgid;
};

static void signal_member(pid_t pid, void *arg)
{
	const struct sig_arg *a = arg;
	if (a->skip_pgid > 0 && getpgid(pid) == a->skip_pgid)
		return;
	kill(pid, a->sig);
}

/* v1: freeze the cgroup, so that nothing forks while its members are killed. */
static int freeze(const char *dir, const char *state)
{
	if (write_str(dir, "freezer.state", state) < 0)
		return -1;
	if (strcmp(state, "FROZEN") != 0)
		return 0;
	char path[4096], buf[64];
	snprintf(path, sizeof(path), "%s/freezer.state", dir);
	for (int tries = 0; tries < 1000; tries++) {
		if (read_small(path, buf, sizeof(buf)) > 0 && !strncmp(buf, "FROZEN", 6))
			return 0;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return -1; /* killed all the same: SIGKILL waits for the thaw */
}

int sandbox_track_signal(const sandbox_track *c, int sig, pid_t skip_pgid)
{
	if (!c->dir)
		return 0;
	struct sig_arg a = {sig, sig == SIGKILL ? 0 : skip_pgid};
	if (sig == SIGKILL && c->has_kill)
		return write_str(c->dir, "cgroup.kill", "1");
	if (sig == SIGKILL && c->kind == SB_TRACK_FREEZER) {
		freeze(c->dir, "FROZEN");
		each_member(c->dir, signal_member, &a);
		return freeze(c->dir, "THAWED");
	}
	/* v2 without cgroup.kill (before 5.14): until nothing new shows up */
	for (int pass = 0; pass < (sig == SIGKILL ? 10 : 1); pass++)
		if (!each_member(c->dir, signal_member, &a))
			break;
	return 0;
}

int sandbox_track_empty(const sandbox_track *c)
{
	return !c->dir || each_member(c->dir, NULL, NULL) == 0;
}

void sandbox_track_destroy(sandbox_track *c)
{
	if (c->procs >= 0)
		close(c->procs);
	c->procs = -1;
	if (c->dir) {
		sandbox_track_signal(c, SIGKILL, 0);
		remove_dir(c->dir);
		free(c->dir);
	}
	c->dir = NULL;
	c->kind = SB_TRACK_DESCENT;
}

void sandbox_track_sweep(const sandbox_tracker *t)
{
	DIR *d = t->base ? opendir(t->base) : NULL;
	for (struct dirent *e; d && (e = readdir(d));) {
		int pid;
		unsigned seq;
		char tail;
		if (sscanf(e->d_name, "sluice-%d-p%u%c", &pid, &seq, &tail) != 2 || pid <= 0 ||
		    pid == (int)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		size_t len = strlen(t->base) + strlen(e->d_name) + 2;
		sandbox_track c = {.kind = t->kind, .dir = xmalloc(len), .procs = -1};
		snprintf(c.dir, len, "%s/%s", t->base, e->d_name);
		char path[4096];
		snprintf(path, sizeof(path), "%s/cgroup.kill", c.dir);
		c.has_kill = t->kind == SB_TRACK_CGROUP2 && access(path, W_OK) == 0;
		sandbox_track_destroy(&c);
	}
	if (d)
		closedir(d);
}

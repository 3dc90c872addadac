/*
 * sandbox_world.c — what of the host a sandboxed step sees (docs/sandbox.md,
 * "What a step sees"): the allow list, the read: paths, the workspace's
 * overlay, the tmpfs mounts that hide sluice's state and the home, the
 * program when it lies elsewhere.  Runs in the parent, before clone: it
 * fills the plan's mount list, which pid 1 carries out (sandbox_child.c).
 */
#include "sandbox_int.h"

#include "sluice/arena.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The host directories every step sees, read-only (those that exist);
 * a symlink among them (/bin -> usr/bin on Debian 12) is made again as one. */
static const char *const allow_list[] = {"/usr",   "/bin",    "/sbin", "/lib", "/lib32",
					 "/lib64", "/libx32", "/etc",  "/opt"};

/* Paths the step sees, as it sees them: the allow list's directories, the
 * read: paths, the workspace. */
struct world {
	arena *a;
	struct plan *pl;
	const char *root;
	const char *vis[MAX_MNT + 2];
	size_t nvis;
};

static int world_sees(const struct world *w, const char *path)
{
	for (size_t k = 0; k < w->nvis; k++)
		if (sandbox_path_under(path, w->vis[k]))
			return 1;
	return 0;
}

static int world_add(struct world *w, int kind, int stage, int file, const char *src,
		     const char *path)
{
	struct plan *pl = w->pl;
	const char *dst = arena_printf(w->a, "%s%s", w->root, path);
	for (size_t k = pl->nbase; k < pl->nmnt; k++)
		if (!strcmp(pl->mnt[k].dst, dst))
			return 0; /* one mount per path: the first says what it is */
	if (pl->nmnt == MAX_MNT) {
		errno = E2BIG;
		return -1;
	}
	pl->mnt[pl->nmnt++] = (struct mnt_op){kind, stage, file, src, dst};
	return 0;
}

static int by_dst(const void *x, const void *y)
{
	/* a parent sorts before what lies below it */
	return strcmp(((const struct mnt_op *)x)->dst, ((const struct mnt_op *)y)->dst);
}

static int has_component(const char *path, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = path; (p = strstr(p, name)); p += n)
		if (p[-1] == '/' && (p[n] == '/' || p[n] == 0))
			return 1;
	return 0;
}

/* The allow list into w (its mnt[0..nbase)). */
static void world_base(struct world *w)
{
	struct plan *pl = w->pl;
	char real[PATH_MAX];
	struct stat st;
	size_t n = sizeof(allow_list) / sizeof(allow_list[0]);
	/* directories first: a symlink among the names is kept as one when it
	 * points into them */
	for (size_t k = 0; k < n; k++)
		if (lstat(allow_list[k], &st) == 0 && S_ISDIR(st.st_mode)) {
			pl->mnt[pl->nmnt++] =
				(struct mnt_op){MNT_BIND, SB_BIND_ROOT, 0, allow_list[k],
						arena_printf(w->a, "%s%s", w->root, allow_list[k])};
			w->vis[w->nvis++] = allow_list[k];
		}
	size_t ndirs = w->nvis;
	for (size_t k = 0; k < n; k++) {
		char target[PATH_MAX];
		if (lstat(allow_list[k], &st) < 0 || !S_ISLNK(st.st_mode) ||
		    !realpath(allow_list[k], real))
			continue;
		ssize_t len = readlink(allow_list[k], target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		const char *dst = arena_printf(w->a, "%s%s", w->root, allow_list[k]);
		int inside = 0;
		for (size_t d = 0; d < ndirs; d++)
			inside |= sandbox_path_under(real, w->vis[d]);
		if (inside) {
			pl->mnt[pl->nmnt++] = (struct mnt_op){MNT_LINK, SB_BIND_ROOT, 0,
							      arena_strdup(w->a, target), dst};
		} else if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
			pl->mnt[pl->nmnt++] = (struct mnt_op){MNT_BIND, SB_BIND_ROOT, 0,
							      arena_strdup(w->a, real), dst};
			w->vis[w->nvis++] = allow_list[k];
		}
	}
	pl->nbase = pl->nmnt;
}

/* The read: paths: each bound read-only at its path.  A missing one is an
 * error; so is one inside a state directory.  A .sluice directly in one
 * (another workspace's state) is hidden, and sluice's own state dir is
 * hidden wherever it shows (world_plan). */
static int world_read(struct world *w, const sandbox_config *sb, const char *state_dir,
		      sl_error **err)
{
	char real[PATH_MAX];
	for (size_t k = 0; k < sb->nread; k++) {
		const char *p = sb->read[k];
		struct stat st;
		if (stat(p, &st) < 0 || !realpath(p, real))
			return sl_error_errno(err, errno, "sandbox: read %s", p);
		if (has_component(real, ".sluice") || has_component(p, ".sluice") ||
		    (state_dir && sandbox_path_under(real, state_dir)))
			return sl_error_make(err,
					     "sandbox: read %s: lies in a sluice state directory "
					     "(%s); a step never sees sluice's state",
					     p, real);
		if (world_sees(w, p) || world_sees(w, real))
			continue; /* shown already, read-only */
		if (world_add(w, MNT_BIND, SB_READ, !S_ISDIR(st.st_mode), arena_strdup(w->a, real),
			      p) < 0)
			return sl_error_errno(err, errno, "sandbox: read: at most %d mounts",
					      MAX_MNT);
		w->vis[w->nvis++] = p;
		char *dot = arena_printf(w->a, "%s/.sluice", real);
		if (S_ISDIR(st.st_mode) && lstat(dot, &st) == 0 &&
		    world_add(w, MNT_HIDE, SB_READ, 0, NULL, arena_printf(w->a, "%s/.sluice", p)) <
			    0)
			return sl_error_errno(err, errno, "sandbox: read: at most %d mounts",
					      MAX_MNT);
	}
	return 0;
}

int sandbox_world_plan(const step_launch *l, const char *hide_home, arena *a, struct plan *pl,
		       const char *root, const char *ws, const char *state_dir, sl_error **err)
{
	struct world w = {a, pl, root, {0}, 0};
	const sandbox_config *sb = l->sandbox;
	char real[PATH_MAX];
	world_base(&w);
	w.vis[w.nvis++] = ws;
	if (world_read(&w, sb, state_dir, err) < 0)
		return -1;
	int full = world_add(&w, MNT_OVERLAY, SB_OVERLAY, 0, NULL, ws);
	const char *home = hide_home;
	if (state_dir && world_sees(&w, state_dir))
		full |= world_add(&w, MNT_HIDE, SB_HIDE_STATE, 0, NULL, state_dir);
	if (home && !sandbox_path_under(home, ws) && world_sees(&w, home))
		full |= world_add(&w, MNT_HIDE, SB_HIDE_HOME, 0, NULL, home);
	if (sb->network && realpath("/etc/resolv.conf", real) && !world_sees(&w, real))
		full |= world_add(&w, MNT_BIND, SB_READ, 1, arena_strdup(a, real), real);
	if (l->devices && l->devices[0] && access("/sys", F_OK) == 0) {
		/* CUDA and NVML read the PCI tree; the host's cgroups stay out */
		full |= world_add(&w, MNT_BIND, SB_READ, 0, "/sys", "/sys");
		if (access("/sys/fs/cgroup", F_OK) == 0)
			full |= world_add(&w, MNT_HIDE, SB_READ, 0, NULL, "/sys/fs/cgroup");
	}
	/* the program: sluice itself for the built-in steps, often in a build tree */
	pl->exec_path = l->argv[0];
	if (realpath(l->argv[0], real)) {
		int hidden =
			(state_dir && sandbox_path_under(real, state_dir)) ||
			(home && sandbox_path_under(real, home) && !sandbox_path_under(real, ws));
		if (hidden || !world_sees(&w, real)) {
			pl->exec_path = arena_strdup(a, real);
			full |= world_add(&w, MNT_BIND, SB_PROGRAM, 1, pl->exec_path,
					  pl->exec_path);
		}
	}
	if (full)
		return sl_error_errno(err, E2BIG, "sandbox: prepare: at most %d mounts", MAX_MNT);
	qsort(pl->mnt + pl->nbase, pl->nmnt - pl->nbase, sizeof(pl->mnt[0]), by_dst);
	return 0;
}

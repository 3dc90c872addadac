/* Unit tests: the content-addressed cache (put, restore, unshare, gc) and cache keys. */
#include "sluice/cache.h"
#include "sluice/filehash.h"
#include "sluice/stepkey.h"
#include "sluice/store.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[PATH_MAX];
static store *st;

static char *at(const char *rel)
{
	return tu_path(dir, rel);
}

static void put(const char *rel, const char *text)
{
	tu_write(at(rel), text);
}

static char *slurp(const char *rel)
{
	static char buf[4096];
	return tu_read(at(rel), buf, sizeof(buf));
}

static const char *hash_of(const char *rel)
{
	static char hex[SHA256_HEX_LEN + 1];
	sl_error *err = NULL;
	int rc = filehash_path(st, at(rel), hex, NULL, &err);
	ck_assert_msg(rc == 0, "%s", err ? err->msg : "");
	return hex;
}

static void setup(void)
{
	umask(022);
	tu_mkdtemp(dir, sizeof(dir), "sluice-cache");
	st = tu_store_open(at(".sluice"));
}

static void teardown(void)
{
	store_close(st);
	ck_assert_int_eq(fs_rm_rf(dir), 0); /* it opens up read-only directories first */
}

START_TEST(file_round_trip)
{
	put("model.bin", "weights\n");
	char hex[65];
	snprintf(hex, sizeof(hex), "%s", hash_of("model.bin"));
	sl_error *err = NULL;
	ck_assert_int_eq(cache_has(st, hex), 0);
	ck_assert_int_eq(cache_put(st, at("model.bin"), hex, &err), 0);
	ck_assert_int_eq(cache_has(st, hex), 1);
	/* the object: cache/ab/cdef…, read-only, same bytes */
	char obj[200];
	snprintf(obj, sizeof(obj), ".sluice/cache/%.2s/%s", hex, hex + 2);
	struct stat sb;
	ck_assert_int_eq(stat(at(obj), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0444);
	ck_assert_str_eq(slurp(obj), "weights\n");
	/* putting again copies nothing and is fine */
	ck_assert_int_eq(cache_put(st, at("model.bin"), hex, &err), 0);
	/* deleted: restored; unchanged: left alone */
	unlink(at("model.bin"));
	enum cache_how how;
	ck_assert_int_eq(cache_restore(st, hex, at("model.bin"), &how, &err), 0);
	ck_assert_int_ne(how, CACHE_SAME);
	ck_assert_str_eq(slurp("model.bin"), "weights\n");
	ck_assert_int_eq(cache_restore(st, hex, at("model.bin"), &how, &err), 0);
	ck_assert_int_eq(how, CACHE_SAME);
	/* replaced in the workspace: restored over it.  (Written in place through a hard
	 * link, it would change the object: modified_object_is_dropped.) */
	unlink(at("model.bin"));
	put("model.bin", "tampered\n");
	ck_assert_int_eq(cache_restore(st, hex, at("model.bin"), &how, &err), 0);
	ck_assert_str_eq(slurp("model.bin"), "weights\n");
	ck_assert_str_eq(hash_of("model.bin"), hex);
	/* into a directory that does not exist yet */
	ck_assert_int_eq(cache_restore(st, hex, at("deep/er/copy.bin"), &how, &err), 0);
	ck_assert_str_eq(slurp("deep/er/copy.bin"), "weights\n");
}
END_TEST

START_TEST(unshare_protects_the_object)
{
	put("out.txt", "v1\n");
	char hex[65];
	snprintf(hex, sizeof(hex), "%s", hash_of("out.txt"));
	sl_error *err = NULL;
	ck_assert_int_eq(cache_put(st, at("out.txt"), hex, &err), 0);
	unlink(at("out.txt"));
	enum cache_how how;
	ck_assert_int_eq(cache_restore(st, hex, at("out.txt"), &how, &err), 0);
	struct stat sb;
	ck_assert_int_eq(stat(at("out.txt"), &sb), 0);
	if (how == CACHE_HARDLINK)
		ck_assert_uint_gt(sb.st_nlink, 1);
	/* before a step writes it in place, the link is broken */
	ck_assert_int_eq(cache_unshare(at("out.txt"), &err), 0);
	ck_assert_int_eq(stat(at("out.txt"), &sb), 0);
	ck_assert_uint_eq(sb.st_nlink, 1);
	ck_assert_int_eq(sb.st_mode & 0222, 0200); /* writable again */
	put("out.txt", "v2\n");
	char obj[200];
	snprintf(obj, sizeof(obj), ".sluice/cache/%.2s/%s", hex, hex + 2);
	ck_assert_str_eq(slurp(obj), "v1\n");
	/* a missing path is fine */
	ck_assert_int_eq(cache_unshare(at("nope"), &err), 0);
}
END_TEST

START_TEST(modified_object_is_dropped)
{
	put("a.txt", "original\n");
	char hex[65];
	snprintf(hex, sizeof(hex), "%s", hash_of("a.txt"));
	sl_error *err = NULL;
	ck_assert_int_eq(cache_put(st, at("a.txt"), hex, &err), 0);
	char obj[200];
	snprintf(obj, sizeof(obj), ".sluice/cache/%.2s/%s", hex, hex + 2);
	/* as root could through a hard link */
	chmod(at(obj), 0644);
	put(obj, "corrupted\n");
	unlink(at("a.txt"));
	ck_assert_int_eq(cache_restore(st, hex, at("a.txt"), NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "modified"));
	sl_error_release(&err);
	ck_assert_int_eq(cache_has(st, hex), 0);
	ck_assert_int_eq(access(at("a.txt"), F_OK), -1);
}
END_TEST

START_TEST(directory_round_trip)
{
	ck_assert_int_eq(mkdir(at("model"), 0755), 0);
	ck_assert_int_eq(mkdir(at("model/sub"), 0755), 0);
	put("model/a.txt", "A");
	put("model/sub/b.txt", "B");
	put("model/run.sh", "#!/bin/sh\n");
	chmod(at("model/run.sh"), 0755);
	ck_assert_int_eq(symlink("a.txt", at("model/link")), 0);
	char hex[65];
	snprintf(hex, sizeof(hex), "%s", hash_of("model"));
	sl_error *err = NULL;
	ck_assert_int_eq(cache_put(st, at("model"), hex, &err), 0);
	char man[200];
	snprintf(man, sizeof(man), ".sluice/cache/%.2s/%s.dir", hex, hex + 2);
	ck_assert_int_eq(access(at(man), F_OK), 0);
	ck_assert_int_eq(system("true"), 0);
	ck_assert_int_eq(fs_rm_rf(at("model")), 0);
	enum cache_how how;
	ck_assert_int_eq(cache_restore(st, hex, at("model"), &how, &err), 0);
	ck_assert_str_eq(slurp("model/sub/b.txt"), "B");
	struct stat sb;
	ck_assert_int_eq(stat(at("model/run.sh"), &sb), 0);
	ck_assert(sb.st_mode & 0100);
	char target[64] = "";
	ck_assert_int_gt(readlink(at("model/link"), target, sizeof(target) - 1), 0);
	ck_assert_str_eq(target, "a.txt");
	/* same hash after the round trip, whatever the restore made the modes */
	ck_assert_str_eq(hash_of("model"), hex);
	/* a directory replaces a stray file and extra files vanish */
	put("model/extra.txt", "x");
	ck_assert_int_eq(cache_restore(st, hex, at("model"), &how, &err), 0);
	ck_assert_int_eq(access(at("model/extra.txt"), F_OK), -1);
	ck_assert_str_eq(hash_of("model"), hex);
}
END_TEST

START_TEST(gc_keeps_what_runs_reference)
{
	put("kept.txt", "keep me");
	put("dropped.txt", "drop me");
	char kept[65], dropped[65];
	snprintf(kept, sizeof(kept), "%s", hash_of("kept.txt"));
	snprintf(dropped, sizeof(dropped), "%s", hash_of("dropped.txt"));
	sl_error *err = NULL;
	ck_assert_int_eq(cache_put(st, at("kept.txt"), kept, &err), 0);
	ck_assert_int_eq(cache_put(st, at("dropped.txt"), dropped, &err), 0);
	/* a finished run that lists kept.txt as an output */
	run_new rn = {"p", "p.yaml", dir, "", "{}", "manual", 0};
	int64_t id;
	ck_assert_int_eq(store_begin_run(st, &rn, 1, &id, &err), 0);
	step_record s = {.name = "a", .step = "a", .status = "succeeded", .exit_code = 0};
	ck_assert_int_eq(store_put_step(st, id, &s, &err), 0);
	file_record f = {"a", "kept.txt", kept, 7};
	ck_assert_int_eq(store_set_files(st, id, "a", &f, 1, &err), 0);
	/* a live run blocks gc */
	cache_gc_stats gs;
	ck_assert_int_eq(cache_gc(st, 0, NULL, NULL, &gs, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "still running"));
	sl_error_release(&err);
	ck_assert_int_eq(store_finish_run(st, id, "succeeded", 0, &err), 0);
	ck_assert_int_eq(cache_gc(st, 1, NULL, NULL, &gs, &err), 0);
	ck_assert_uint_eq(gs.removed, 1);
	ck_assert_int_eq(cache_has(st, dropped), 1); /* dry run */
	ck_assert_int_eq(cache_gc(st, 0, NULL, NULL, &gs, &err), 0);
	ck_assert_uint_eq(gs.removed, 1);
	ck_assert_uint_eq(gs.kept, 1);
	ck_assert_int_eq(cache_has(st, dropped), 0);
	ck_assert_int_eq(cache_has(st, kept), 1);
}
END_TEST

START_TEST(noop_run_reads_through)
{
	sl_error *err = NULL;
	run_new rn = {"p", "p.yaml", dir, "name: p\n", "{\"n\": 1}", "manual", 0};
	int64_t first, noop;
	ck_assert_int_eq(store_begin_run(st, &rn, 1, &first, &err), 0);
	step_record s[2] = {
		{.name = "a", .step = "a", .status = "succeeded", .exit_code = 0, .cache_key = "k"},
		{.name = "b", .step = "b", .position = 1, .status = "skipped", .reason = "when"}};
	ck_assert_int_eq(store_put_steps(st, first, s, 2, &err), 0);
	file_record f = {"a", "out.txt", "ab", 2};
	ck_assert_int_eq(store_set_files(st, first, "a", &f, 1, &err), 0);
	const char *k[] = {"acc"};
	double v[] = {0.5};
	ck_assert_int_eq(store_set_metrics(st, first, "a", k, v, 1, &err), 0);
	/* a live run of the pipeline refuses a no-op run too */
	ck_assert_int_eq(store_record_noop_run(st, &rn, first, &noop, &err), -1);
	sl_error_release(&err);
	ck_assert_int_eq(store_finish_run(st, first, "succeeded", 0, &err), 0);
	rn.snapshot = NULL;
	ck_assert_int_eq(store_record_noop_run(st, &rn, first, &noop, &err), 0);
	run_info r;
	ck_assert_int_eq(store_get_run(st, noop, &r, &err), 0);
	ck_assert_str_eq(r.status, "succeeded");
	ck_assert_int_eq(r.same_as, first);
	ck_assert_str_eq(r.snapshot, "name: p\n"); /* the repeated run's */
	run_info_release(&r);
	step_record *got;
	size_t n;
	ck_assert_int_eq(store_get_steps(st, noop, &got, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(got[0].status, "cached");
	ck_assert_int_eq(got[0].cached_from, first);
	ck_assert_int_eq(got[0].run_id, noop);
	ck_assert_str_eq(got[1].status, "skipped");
	ck_assert_int_eq(got[1].cached_from, 0);
	step_record_free_array(got, n);
	file_record *files;
	ck_assert_int_eq(store_get_files(st, noop, "a", &files, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(files[0].sha256, "ab");
	file_record_free_array(files, n);
	kv_record *m;
	ck_assert_int_eq(store_get_metrics(st, noop, NULL, &m, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	kv_record_free_array(m, n);
	/* the cache never finds the no-op run itself: it has no rows */
	ck_assert_int_eq(store_find_cached(st, "k", 0, 0, &got, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(got[0].run_id, first);
	step_record_free_array(got, n);
}
END_TEST

START_TEST(a_failed_change_in_a_batch_is_undone_alone)
{
	sl_error *err = NULL;
	run_new rn = {"p", "p.yaml", dir, "", "{}", "manual", 0};
	int64_t id;
	ck_assert_int_eq(store_begin_run(st, &rn, 1, &id, &err), 0);
	store_batch_begin(st);
	step_record a = {.name = "a", .step = "a", .status = "succeeded", .exit_code = 0};
	ck_assert_int_eq(store_put_step(st, id, &a, &err), 0);
	/* no step "ghost": the foreign key refuses its files */
	file_record f = {"ghost", "x.txt", "ab", 1};
	ck_assert_int_eq(store_set_inputs(st, id, "ghost", &f, 1, &err), -1);
	sl_error_release(&err);
	step_record b = {.name = "b", .step = "b", .position = 1, .status = "failed"};
	ck_assert_int_eq(store_put_step(st, id, &b, &err), 0);
	ck_assert_int_eq(store_batch_end(st, &err), 0);
	step_record *got;
	size_t n;
	ck_assert_int_eq(store_get_steps(st, id, &got, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(got[0].status, "succeeded");
	ck_assert_str_eq(got[1].status, "failed");
	step_record_free_array(got, n);
}
END_TEST

START_TEST(keys_and_why)
{
	put("data.csv", "a,b\n1,2\n");
	char *envp[] = {"PATH=/usr/bin:/bin",
			"HOME=/x/runs/1/a/1/home",
			"SLUICE_RUN_ID=1",
			"SLUICE_ATTEMPT=1",
			"SEED=1",
			"TOKEN=hunter2",
			NULL};
	const char *secret[] = {"TOKEN", NULL};
	const char *inputs[] = {"data.csv"};
	const char *outputs[] = {"out.txt"};
	sandbox_config sb = {.enabled = 1};
	step_key_in in = {.command = "python3 train.py",
			  .envp = envp,
			  .secret_env = secret,
			  .program = "/bin/sh",
			  .params_json = "{}",
			  .workspace = dir,
			  .inputs = inputs,
			  .ninputs = 1,
			  .outputs = outputs,
			  .noutputs = 1,
			  .sandbox = &sb,
			  .gpu = "none"};
	step_key k1, k2;
	sl_error *err = NULL;
	ck_assert_int_eq(stepkey_compute(st, &in, &k1, &err), 0);
	/* the run id, the attempt, the scratch paths and a secret's value do not count */
	char *envp2[] = {"PATH=/usr/bin:/bin",
			 "HOME=/x/runs/2/a/3/home",
			 "SLUICE_RUN_ID=2",
			 "SLUICE_ATTEMPT=3",
			 "SEED=1",
			 "TOKEN=other",
			 NULL};
	in.envp = envp2;
	ck_assert_int_eq(stepkey_compute(st, &in, &k2, &err), 0);
	ck_assert_str_eq(k1.key, k2.key);
	ck_assert_str_eq(k1.env_hash, k2.env_hash);
	ck_assert_ptr_null(strstr(k2.env_json, "other"));
	stepkey_release(&k2);
	/* an env value does; and why says which */
	char *envp3[] = {"PATH=/usr/bin:/bin", "SEED=2", "TOKEN=x", NULL};
	in.envp = envp3;
	ck_assert_int_eq(stepkey_compute(st, &in, &k2, &err), 0);
	ck_assert_str_ne(k1.env_hash, k2.env_hash);
	step_record prev = {.command = "python3 train.py",
			    .env_json = k1.env_json,
			    .cache_key = k1.key,
			    .status = "succeeded",
			    .run_id = 4};
	char why[400];
	stepkey_explain(&k2, "python3 train.py", &prev, k1.inputs, k1.ninputs, NULL, why,
			sizeof(why));
	ck_assert_msg(strstr(why, "env SEED changed"), "%s", why);
	stepkey_release(&k2);
	/* the input's content does; the message has both hashes */
	in.envp = envp;
	put("data.csv", "a,b\n1,3\n");
	ck_assert_int_eq(stepkey_compute(st, &in, &k2, &err), 0);
	ck_assert_str_ne(k1.key, k2.key);
	ck_assert_str_eq(k1.env_hash, k2.env_hash);
	const char *producers[] = {NULL};
	stepkey_explain(&k2, "python3 train.py", &prev, k1.inputs, k1.ninputs, producers, why,
			sizeof(why));
	char want[128];
	snprintf(want, sizeof(want), "input data.csv changed (sha256 %.8s... -> %.8s...)",
		 k1.inputs[0].sha256, k2.inputs[0].sha256);
	ck_assert_str_eq(why, want);
	const char *up[] = {"prepare"};
	stepkey_explain(&k2, "python3 train.py", &prev, k1.inputs, k1.ninputs, up, why,
			sizeof(why));
	ck_assert_msg(!strncmp(why, "upstream prepare changed its output data.csv", 44), "%s", why);
	stepkey_explain(&k2, "python3 train.py --lr 1", &prev, k2.inputs, k2.ninputs, NULL, why,
			sizeof(why));
	ck_assert_str_eq(why, "command changed");
	stepkey_explain(&k2, "x", NULL, NULL, 0, NULL, why, sizeof(why));
	ck_assert_str_eq(why, "no earlier run");
	/* sandbox: none is part of the env hash */
	sandbox_config none = {.enabled = 0};
	in.sandbox = &none;
	step_key k3;
	ck_assert_int_eq(stepkey_compute(st, &in, &k3, &err), 0);
	ck_assert_str_ne(k3.env_hash, k2.env_hash);
	ck_assert_ptr_nonnull(strstr(k3.env_json, "\"sandbox\":\"none\""));
	stepkey_release(&k3);
	/* a missing input keys as missing, not as an error */
	unlink(at("data.csv"));
	ck_assert_int_eq(stepkey_compute(st, &in, &k3, &err), 0);
	ck_assert_ptr_null(k3.inputs[0].sha256);
	stepkey_release(&k3);
	stepkey_release(&k1);
	stepkey_release(&k2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, file_round_trip);
	tcase_add_test(tc, unshare_protects_the_object);
	tcase_add_test(tc, modified_object_is_dropped);
	tcase_add_test(tc, directory_round_trip);
	tcase_add_test(tc, gc_keeps_what_runs_reference);
	tcase_add_test(tc, keys_and_why);
	tcase_add_test(tc, noop_run_reads_through);
	tcase_add_test(tc, a_failed_change_in_a_batch_is_undone_alone);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}

/*
 * cmd_doctor.c — `sluice doctor`: check the state directory and say how to
 * repair what is wrong (docs/state.md, "When state.db is damaged").
 *
 * It reads state.db with SQLite directly, read-only, and never through
 * store_open: a store that refuses to open is what it is run for.  Checks:
 * the database file (present, a regular file, not empty), SQLite's
 * integrity_check and foreign_key_check, the schema version, and whether the
 * cache still holds every object a run recorded.  Exit 0 when the database
 * is sound (missing cache objects are reported: those steps run again), 2
 * when it is damaged, after the recovery steps.
 */
#include "sluice/cli.h"
#include "sluice/cleanup.h"
#include "sluice/statelock.h"
#include "sluice/store.h"
#include "sluice/strbuf.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* .recover needs SQLite's sqlite_dbpage table, which some builds of the sqlite3
 * shell lack (Debian 12's says "SQL logic error"); .dump works everywhere but
 * ends a damaged database's dump with a ROLLBACK, hence the sed. */
static void recovery_hint(const char *dir)
{
	printf("\nTo recover what can still be read, with no sluice process using %s:\n"
	       "  cd %s\n"
	       "  sqlite3 state.db .recover | sqlite3 state.db.recovered\n"
	       "    (where .recover fails with \"SQL logic error\", instead:\n"
	       "     sqlite3 state.db .dump | sed 's/^ROLLBACK; -- due to errors$/COMMIT;/' |\n"
	       "       sqlite3 state.db.recovered)\n"
	       "  mv state.db state.db.corrupt; rm -f state.db-wal state.db-shm\n"
	       "  mv state.db.recovered state.db\n"
	       "  sluice doctor\n"
	       "Or start a new history: move state.db (with state.db-wal and state.db-shm) "
	       "away; the next run makes a new one (runs/ and cache/ stay, but 'sluice gc' "
	       "would then remove every cached object).\n",
	       dir, dir);
}

static int open_db(const char *dir, int immutable, sqlite3 **db)
{
	strbuf uri = STRBUF_INIT;
	strbuf_addstr(&uri, "file:");
	for (const unsigned char *c = (const unsigned char *)dir; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("/._~-", *c))
			strbuf_add(&uri, (const char *)c, 1);
		else
			strbuf_addf(&uri, "%%%02X", *c);
	}
	strbuf_addf(&uri, "/state.db?mode=ro%s", immutable ? "&immutable=1" : "");
	int rc = sqlite3_open_v2(uri.buf, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	strbuf_release(&uri);
	if (rc == SQLITE_OK)
		sqlite3_busy_timeout(*db, 10000);
	return rc;
}

/* Run sql and print each row's first column as "  row"; the number of rows, or -1
 * (the message in sqlite3_errmsg).  A single row equal to ok counts 0. */
static int rows(sqlite3 *db, const char *sql, const char *ok, int print)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	int n = 0, rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		if (ok && n == 0 && t && !strcmp(t, ok))
			continue;
		if (print && n < 20)
			printf("    %s\n", t ? t : "(null)");
		n++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? n : -1;
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* How many distinct recorded output hashes have no object in the cache. */
static int missing_objects(sqlite3 *db, const char *dir, int *total)
{
	sqlite3_stmt *s = NULL;
	*total = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT DISTINCT sha256 FROM output_files WHERE sha256 IS NOT NULL",
			       -1, &s, NULL) != SQLITE_OK)
		return -1;
	int missing = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(s, 0);
		if (!h || strlen(h) != 64)
			continue;
		char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
		snprintf(a, sizeof(a), "%s/cache/%.2s/%s", dir, h, h + 2);
		snprintf(b, sizeof(b), "%s/cache/%.2s/%s.dir", dir, h, h + 2);
		/* a symlink output */
		snprintf(c, sizeof(c), "%s/cache/%.2s/%s.link", dir, h, h + 2);
		(*total)++;
		missing += access(a, F_OK) < 0 && access(b, F_OK) < 0 && access(c, F_OK) < 0;
	}
	sqlite3_finalize(s);
	return missing;
}

int cmd_doctor(const cli_args *a)
{
	sl_error *err = NULL;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		sl_error_errno(&err, errno, "getcwd");
		return cli_fail(&err);
	}
	const char *o = cli_value(a, "state");
	sl_autofree char *dir = store_locate(cwd, o ? o : getenv("SLUICE_STATE"));
	struct stat sb;
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		sl_error_usage(&err, "doctor: no sluice state directory at %s", dir);
		return cli_fail(&err);
	}
	printf("state directory %s\n", dir);
	char db_path[PATH_MAX], wal[PATH_MAX];
	snprintf(db_path, sizeof(db_path), "%s/state.db", dir);
	snprintf(wal, sizeof(wal), "%s/state.db-wal", dir);
	struct stat wb;
	int has_wal = stat(wal, &wb) == 0 && wb.st_size > 0;
	if (lstat(db_path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		printf("problem: %s is %s\n", db_path,
		       errno == ENOENT ? "missing (no run was recorded here)"
				       : "not a regular file");
		return EXIT_USAGE;
	}
	if (sb.st_size == 0 && !has_wal) {
		printf("problem: %s is empty (0 bytes): it holds no runs (truncated?)\n", db_path);
		recovery_hint(dir);
		return EXIT_USAGE;
	}
	sqlite3 *db = NULL;
	int rc = open_db(dir, 0, &db);
	int n = rc == SQLITE_OK ? rows(db, "PRAGMA quick_check(1)", "ok", 0) : -1;
	if (n < 0 && db && sqlite3_errcode(db) == SQLITE_CANTOPEN && !has_wal) {
		sqlite3_close(db); /* a read-only directory: read the main file as it is */
		db = NULL;
		rc = open_db(dir, 1, &db);
	}
	int bad = 0;
	printf("integrity_check:\n");
	n = rc == SQLITE_OK ? rows(db, "PRAGMA integrity_check(20)", "ok", 1) : -1;
	if (n < 0) {
		printf("problem: %s cannot be read: %s\n", db_path,
		       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		bad = 1;
	} else if (n > 0) {
		printf("problem: %s is corrupt (%d finding%s above)\n", db_path, n,
		       n == 1 ? "" : "s");
		bad = 1;
	} else {
		printf("    ok\n");
	}
	if (!bad) {
		int fk = rows(db, "PRAGMA foreign_key_check", NULL, 0);
		if (fk > 0) /* what a recovery could not save; sluice reads around them */
			printf("note: %d row%s refer to steps or runs that are gone "
			       "(foreign_key_check), as after a recovery\n",
			       fk, fk == 1 ? "" : "s");
		int64_t v = one_int(db, "SELECT coalesce(max(version), 0) FROM schema_version");
		printf("schema version %lld\n", (long long)v);
		int total = 0, miss = missing_objects(db, dir, &total);
		if (miss > 0)
			printf("note: %d of %d recorded outputs are not in the cache; the steps "
			       "that "
			       "made them run again when needed\n",
			       miss, total);
		else if (miss == 0)
			printf("cache: all %d recorded outputs present\n", total);
	}
	sqlite3_close(db);
	int64_t pids[8];
	size_t np = statelock_holders(dir, pids, 8);
	for (size_t i = 0; i < np; i++)
		printf("in use by pid %lld\n", (long long)pids[i]);
	if (bad) {
		recovery_hint(dir);
		return EXIT_USAGE;
	}
	printf("no problems found\n");
	return EXIT_OK;
}

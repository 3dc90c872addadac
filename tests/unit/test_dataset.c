/*
 * Unit tests for the dataset reader (steps/dataset.c): RFC 4180 CSV and JSON
 * Lines.  Every CSV case runs with several read sizes (1, 2, 3, 7 bytes, the
 * default), so rows, quotes, CRLF pairs and UTF-8 sequences split across
 * reads are covered; the answer must not depend on the read size.
 */
#include "sluice/dataset.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const size_t chunks[] = {1, 2, 3, 7, 0};
#define NCHUNKS (sizeof(chunks) / sizeof(chunks[0]))

/*
 * Read all of text and render it as "a|b|~\n" lines (~ for a missing field),
 * after a "#col1,col2" header line.  On an error, returns "ERR:" + message.
 */
static char *render(const char *text, size_t len, enum dataset_format fmt, size_t chunk)
{
	dataset_reader *r = NULL;
	sl_error *err = NULL;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	if (dataset_open_mem("t.csv", text, len, fmt, chunk, &r, &err) < 0) {
		fprintf(f, "ERR:%s", err->msg);
		ck_assert_int_eq(err->kind, SL_ERR_USAGE);
		sl_error_release(&err);
		fclose(f);
		return out;
	}
	fputc('#', f);
	for (size_t i = 0; i < dataset_ncols(r); i++)
		fprintf(f, "%s%s", i ? "," : "", dataset_colname(r, i));
	fputc('\n', f);
	const char *const *fields;
	int rc;
	while ((rc = dataset_next(r, &fields, &err)) == 1) {
		const size_t *lens = dataset_lengths(r);
		for (size_t i = 0; i < dataset_ncols(r); i++) {
			if (fields[i])
				ck_assert_uint_eq(strlen(fields[i]), lens[i]);
			else
				ck_assert_uint_eq(lens[i], 0);
			fprintf(f, "%s%s", i ? "|" : "", fields[i] ? fields[i] : "~");
		}
		fprintf(f, "@%llu\n", (unsigned long long)dataset_line(r));
	}
	if (rc < 0) {
		fprintf(f, "ERR:%s", err->msg);
		ck_assert_int_eq(err->kind, SL_ERR_USAGE);
		sl_error_release(&err);
		/* the reader stays failed */
		ck_assert_int_eq(dataset_next(r, &fields, &err), -1);
		sl_error_release(&err);
	}
	dataset_close(r);
	fclose(f);
	return out;
}

/* Same result for every read size; returns it (caller frees). */
static char *read_all(const char *text, size_t len, enum dataset_format fmt)
{
	char *first = NULL;
	for (size_t i = 0; i < NCHUNKS; i++) {
		char *got = render(text, len, fmt, chunks[i]);
		if (!first) {
			first = got;
			continue;
		}
		ck_assert_msg(strcmp(first, got) == 0, "chunk %zu gave\n%s\nchunk %zu gave\n%s",
			      chunks[0], first, chunks[i], got);
		free(got);
	}
	return first;
}

static void expect_csv(const char *text, const char *want)
{
	char *got = read_all(text, strlen(text), DATASET_CSV);
	ck_assert_msg(strcmp(got, want) == 0, "input:\n%s\nwant:\n%s\ngot:\n%s", text, want, got);
	free(got);
}

static void expect_jsonl(const char *text, const char *want)
{
	char *got = read_all(text, strlen(text), DATASET_JSONL);
	ck_assert_msg(strcmp(got, want) == 0, "input:\n%s\nwant:\n%s\ngot:\n%s", text, want, got);
	free(got);
}

START_TEST(csv_plain)
{
	expect_csv("a,b,c\n1,2,3\n4,5,6\n", "#a,b,c\n1|2|3@2\n4|5|6@3\n");
	/* no newline at the end */
	expect_csv("a,b\n1,2", "#a,b\n1|2@2\n");
	/* header only */
	expect_csv("a,b\n", "#a,b\n");
	expect_csv("a", "#a\n");
	/* empty fields are missing, quoted or not; a trailing comma is an empty field */
	expect_csv("a,b,c\n,\"\",\n1,,x\n", "#a,b,c\n~|~|~@2\n1|~|x@3\n");
}
END_TEST

START_TEST(csv_quotes)
{
	expect_csv("name,q\n\"Smith, J\",\"say \"\"hi\"\"\"\n", "#name,q\nSmith, J|say \"hi\"@2\n");
	expect_csv("a\n\"\"\"\"\n", "#a\n\"@2\n");
	/* a quote inside an unquoted field is data (5'11") */
	expect_csv("h\n5'11\"\n", "#h\n5'11\"@2\n");
	/* quoted header names */
	expect_csv("\"a,1\",\"b\"\"2\"\nx,y\n", "#a,1,b\"2\nx|y@2\n");
}
END_TEST

START_TEST(csv_newlines)
{
	/* embedded newlines: the next row's line number counts them */
	expect_csv("a,b\n\"line1\nline2\",x\n3,4\n", "#a,b\nline1\nline2|x@2\n3|4@4\n");
	/* a field that is only a newline */
	expect_csv("a,b\n\"\n\",1\n", "#a,b\n\n|1@2\n");
}
END_TEST

START_TEST(csv_crlf)
{
	/* CRLF everywhere, and a CRLF inside quotes is kept */
	expect_csv("a,b\r\n1,2\r\n\"x\r\ny\",z\r\n", "#a,b\n1|2@2\nx\r\ny|z@3\n");
	/* a lone CR ends a row too (old Mac files) */
	expect_csv("a,b\r1,2\r3,4", "#a,b\n1|2@2\n3|4@3\n");
	/* blank lines are skipped, as pandas does */
	expect_csv("a,b\n\n1,2\n\r\n\n3,4\n\n", "#a,b\n1|2@3\n3|4@6\n");
	expect_csv("\n\na\n1\n", "#a\n1@4\n");
}
END_TEST

START_TEST(csv_bom_utf8)
{
	expect_csv("\xEF\xBB\xBFid,name\n1,J\xC3\xBCrgen\n2,\xE6\x97\xA5\xE6\x9C\xAC\n3,"
		   "\xF0\x9F\x98\x80\n",
		   "#id,name\n1|J\xC3\xBCrgen@2\n2|\xE6\x97\xA5\xE6\x9C\xAC@3\n3|\xF0\x9F\x98\x80@"
		   "4\n");
	/* a BOM is only skipped at the start */
	expect_csv("a\n\xEF\xBB\xBFx\n", "#a\n\xEF\xBB\xBFx@2\n");
}
END_TEST

static void expect_error(const char *text, size_t len, enum dataset_format fmt, const char *want)
{
	char *got = read_all(text, len, fmt);
	ck_assert_msg(strstr(got, want) != NULL, "want '%s' in:\n%s", want, got);
	free(got);
}

START_TEST(csv_errors)
{
	const char *t = "a,b\n1,2\n3\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:3: row has 1 field, the header has 2");
	t = "a,b\n1,2,3\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:2: row has 3 fields, the header has 2");
	/* line numbers after embedded newlines */
	t = "a,b\n\"x\ny\",1\n1,2,3\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:4: row has 3 fields");
	t = "a,b\n1,\"open\n2,3\n";
	expect_error(t, strlen(t), DATASET_CSV,
		     "ERR:t.csv:2: quoted field not closed before the end of the file");
	t = "a,b\n\"x\"y,2\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:2: unexpected character after the");
	/* invalid UTF-8: a stray continuation byte, an overlong form, a surrogate,
	 * above U+10FFFF, a truncated sequence at the end, inside quotes too */
	t = "a\nok\n\x80\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:3: invalid UTF-8");
	t = "a\n\xC0\xAF\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:2: invalid UTF-8");
	t = "a\n\xED\xA0\x80\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:2: invalid UTF-8");
	t = "a\n\xF4\x90\x80\x80\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:2: invalid UTF-8");
	t = "a\nx\xE6\x97";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:2: invalid UTF-8");
	t = "a\n\"1\n2\xFF\"\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:3: invalid UTF-8");
	/* a NUL byte */
	expect_error("a\nx\0y\n", 6, DATASET_CSV, "ERR:t.csv:2: NUL byte");
	expect_error("a\n\"x\0y\"\n", 8, DATASET_CSV, "ERR:t.csv:2: NUL byte");
	/* the header */
	expect_error("", 0, DATASET_CSV, "ERR:t.csv:1: no header row");
	expect_error("\n\n", 2, DATASET_CSV, "ERR:t.csv:1: no header row");
	t = "a,b,a\n1,2,3\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:1: column 'a' appears twice");
	t = "a,\"b\n";
	expect_error(t, strlen(t), DATASET_CSV, "ERR:t.csv:1: quoted field not closed");
}
END_TEST

START_TEST(csv_long_row)
{
	/* a field longer than the 1 MiB buffer: the buffer grows, nothing is lost */
	size_t n = 3 << 20;
	char *t = malloc(n + 64);
	snprintf(t, n + 64, "a,b\n\"");
	size_t k = strlen(t);
	for (size_t i = 0; i < n; i++)
		t[k++] = (char)('a' + i % 26);
	memcpy(t + k, "\",2\nx,y\n", 9);
	k += 8;
	dataset_reader *r;
	sl_error *err = NULL;
	ck_assert_int_eq(dataset_open_mem("big.csv", t, k, DATASET_CSV, 0, &r, &err), 0);
	const char *const *f;
	ck_assert_int_eq(dataset_next(r, &f, &err), 1);
	ck_assert_uint_eq(strlen(f[0]), n);
	ck_assert_uint_eq(dataset_lengths(r)[0], n);
	ck_assert_str_eq(f[1], "2");
	ck_assert_int_eq(dataset_next(r, &f, &err), 1);
	ck_assert_str_eq(f[0], "x");
	ck_assert_uint_eq(dataset_line(r), 3);
	ck_assert_int_eq(dataset_next(r, &f, &err), 0);
	ck_assert_uint_eq(dataset_offset(r), k);
	dataset_close(r);
	free(t);
}
END_TEST

START_TEST(csv_unterminated_is_bounded)
{
	/* an unterminated quote over more than the 64 MiB row limit stops there */
	size_t n = (size_t)70 << 20;
	char *t = malloc(n);
	memset(t, 'x', n);
	memcpy(t, "a\n\"", 3);
	dataset_reader *r;
	sl_error *err = NULL;
	ck_assert_int_eq(dataset_open_mem("big.csv", t, n, DATASET_CSV, 0, &r, &err), 0);
	const char *const *f;
	ck_assert_int_eq(dataset_next(r, &f, &err), -1);
	ck_assert_msg(strstr(err->msg, "big.csv:2: a row longer than 64 MiB"), "%s", err->msg);
	sl_error_release(&err);
	dataset_close(r);
	free(t);
}
END_TEST

START_TEST(jsonl_basic)
{
	expect_jsonl("{\"a\": 1, \"b\": \"x\", \"c\": true}\n"
		     "{\"b\": \"y\", \"a\": -2.5, \"c\": false}\n"
		     "{\"a\": null, \"c\": [1, {\"k\": \"v\"}]}\n",
		     "#a,b,c\n1|x|true@1\n-2.5|y|false@2\n~|~|[1,{\"k\":\"v\"}]@3\n");
	/* later keys are ignored; blank lines are skipped; CRLF; no final newline */
	expect_jsonl("{\"a\": \"1\"}\r\n\r\n  \n{\"a\": 0.1, \"z\": 9}\n{\"a\": 1e300}",
		     "#a\n1@1\n0.1@4\n1e+300@5\n");
	/* strings keep escapes decoded and UTF-8; "" is an empty string, not missing */
	expect_jsonl("{\"s\": \"tab\\there \\u00fc\", \"e\": \"\"}\n",
		     "#s,e\ntab\there \xC3\xBC|@1\n");
	/* an empty file: no columns, no rows */
	expect_jsonl("", "#\n");
	expect_jsonl("\n\n", "#\n");
}
END_TEST

START_TEST(jsonl_errors)
{
	const char *t = "{\"a\": 1}\n[1, 2]\n";
	expect_error(t, strlen(t), DATASET_JSONL,
		     "ERR:t.csv:2: expected a JSON object, found an array");
	t = "{\"a\": 1}\n\n{\"a\": 1,}\n";
	expect_error(t, strlen(t), DATASET_JSONL, "ERR:t.csv:3: invalid JSON");
	t = "5\n";
	expect_error(t, strlen(t), DATASET_JSONL,
		     "ERR:t.csv:1: expected a JSON object, found a number");
	t = "{\"a\": 1, \"a\": 2}\n";
	expect_error(t, strlen(t), DATASET_JSONL, "ERR:t.csv:1: invalid JSON");
	t = "{\"a\": \"\xFF\"}\n";
	expect_error(t, strlen(t), DATASET_JSONL, "ERR:t.csv:1: invalid JSON");
}
END_TEST

START_TEST(files_and_formats)
{
	enum dataset_format f;
	ck_assert_int_eq(dataset_format_parse("csv", &f), 0);
	ck_assert_int_eq(f, DATASET_CSV);
	ck_assert_int_eq(dataset_format_parse("jsonl", &f), 0);
	ck_assert_int_eq(f, DATASET_JSONL);
	ck_assert_int_eq(dataset_format_parse("auto", &f), 0);
	ck_assert_int_eq(f, DATASET_AUTO);
	ck_assert_int_eq(dataset_format_parse("parquet", &f), -1);

	char dir[PATH_MAX];
	tu_mkdtemp(dir, sizeof(dir), "sluice-test-dataset");
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/d.ndjson", dir);
	tu_write(path, "{\"x\": 1, \"y\": \"a\"}\n{\"x\": 2}\n");
	dataset_reader *r;
	sl_error *err = NULL;
	ck_assert_int_eq(dataset_open(path, DATASET_AUTO, &r, &err), 0);
	ck_assert_int_eq(dataset_format_of(r), DATASET_JSONL);
	ck_assert_int_eq(dataset_colindex(r, "y"), 1);
	ck_assert_int_eq(dataset_colindex(r, "nope"), -1);
	const char *const *fl;
	ck_assert_int_eq(dataset_next(r, &fl, &err), 1);
	ck_assert_int_eq(dataset_next(r, &fl, &err), 1);
	ck_assert_str_eq(fl[0], "2");
	ck_assert_ptr_null(fl[1]);
	ck_assert_int_eq(dataset_next(r, &fl, &err), 0);
	dataset_close(r);

	/* the same content named .csv is read as CSV unless told */
	snprintf(path, sizeof(path), "%s/d.csv", dir);
	tu_write(path, "{\"x\": 1}\n");
	ck_assert_int_eq(dataset_open(path, DATASET_JSONL, &r, &err), 0);
	ck_assert_int_eq(dataset_ncols(r), 1);
	dataset_close(r);
	ck_assert_int_eq(dataset_open(path, DATASET_AUTO, &r, &err), 0);
	ck_assert_int_eq(dataset_format_of(r), DATASET_CSV);
	ck_assert_str_eq(dataset_colname(r, 0), "{\"x\": 1}");
	dataset_close(r);
	unlink(path);
	snprintf(path, sizeof(path), "%s/d.ndjson", dir);
	unlink(path);

	/* a missing file and a directory are usage errors naming the path */
	snprintf(path, sizeof(path), "%s/missing.csv", dir);
	ck_assert_int_eq(dataset_open(path, DATASET_AUTO, &r, &err), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	ck_assert_msg(strstr(err->msg, "missing.csv: No such file"), "%s", err->msg);
	sl_error_release(&err);
	ck_assert_int_eq(dataset_open(dir, DATASET_AUTO, &r, &err), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	sl_error_release(&err);
	rmdir(dir);
}
END_TEST

START_TEST(many_rows_offsets)
{
	/* 100k rows through small and default reads: counts and offsets agree */
	size_t cap = 100000 * 24, len = 0;
	char *t = malloc(cap);
	len += (size_t)snprintf(t, cap, "i,s\n");
	for (int i = 0; i < 100000; i++)
		len += (size_t)snprintf(t + len, cap - len, "%d,\"v%d\"\"\"\r\n", i, i % 7);
	for (size_t c = 0; c < NCHUNKS; c++) {
		dataset_reader *r;
		sl_error *err = NULL;
		ck_assert_int_eq(dataset_open_mem("m.csv", t, len, DATASET_CSV,
						  chunks[c] ? 4093 : 0, &r, &err),
				 0);
		const char *const *f;
		long n = 0;
		char want[32];
		while (dataset_next(r, &f, &err) == 1) {
			snprintf(want, sizeof(want), "%ld", n);
			ck_assert_str_eq(f[0], want);
			snprintf(want, sizeof(want), "v%ld\"", n % 7);
			ck_assert_str_eq(f[1], want);
			n++;
		}
		ck_assert_ptr_null(err);
		ck_assert_int_eq(n, 100000);
		ck_assert_uint_eq(dataset_offset(r), len);
		ck_assert_uint_eq(dataset_line(r), 100001);
		dataset_close(r);
	}
	free(t);
}
END_TEST

START_TEST(batches)
{
	/* batches give the same rows as dataset_next, for any read size, and
	 * every row of a batch stays valid until the next call */
	const char *t = "a,b\n1,\"x\ny\"\n\n2,\"\"\"q\"\"\"\r\n3,\n4,z";
	for (size_t c = 0; c < NCHUNKS; c++) {
		for (size_t max = 1; max <= 5; max++) {
			dataset_reader *r;
			sl_error *err = NULL;
			ck_assert_int_eq(dataset_open_mem("b.csv", t, strlen(t), DATASET_CSV,
							  chunks[c], &r, &err),
					 0);
			char out[256] = "";
			const char *const *f;
			const size_t *l;
			long n;
			while ((n = dataset_next_batch(r, max, &f, &l, &err)) > 0) {
				ck_assert_int_le(n, (long)max);
				for (long i = 0; i < n; i++) {
					size_t k = strlen(out);
					snprintf(out + k, sizeof(out) - k, "%s|%s;",
						 f[2 * i] ? f[2 * i] : "~",
						 f[2 * i + 1] ? f[2 * i + 1] : "~");
					ck_assert_uint_eq(l[2 * i],
							  f[2 * i] ? strlen(f[2 * i]) : 0);
				}
			}
			ck_assert_int_eq(n, 0);
			ck_assert_str_eq(out, "1|x\ny;2|\"q\";3|~;4|z;");
			ck_assert_uint_eq(dataset_line(r), 7);
			dataset_close(r);
		}
	}
	/* an error after good rows: the good rows come first, then -1 (found by
	 * fuzz_csv: a batch used to drop the rows before a bad one) */
	t = "a,b\n1,2\n3,4\n5\n";
	dataset_reader *r;
	sl_error *err = NULL;
	ck_assert_int_eq(dataset_open_mem("b.csv", t, strlen(t), DATASET_CSV, 0, &r, &err), 0);
	const char *const *f;
	const size_t *l;
	ck_assert_int_eq(dataset_next_batch(r, 100, &f, &l, &err), 2);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(f[2], "3");
	ck_assert_uint_eq(dataset_line(r), 3);
	ck_assert_int_eq(dataset_next_batch(r, 100, &f, &l, &err), -1);
	ck_assert_msg(strstr(err->msg, "b.csv:4: row has 1 field"), "%s", err->msg);
	sl_error_release(&err);
	dataset_close(r);
	t = "a\n\"x\"\n\"\"\n\"x\"y\n";
	ck_assert_int_eq(dataset_open_mem("b.csv", t, strlen(t), DATASET_CSV, 0, &r, &err), 0);
	ck_assert_int_eq(dataset_next_batch(r, 100, &f, &l, &err), 2);
	ck_assert_int_eq(dataset_next_batch(r, 100, &f, &l, &err), -1);
	ck_assert_msg(strstr(err->msg, "b.csv:4: unexpected character after the closing quote"),
		      "%s", err->msg);
	sl_error_release(&err);
	dataset_close(r);
	/* JSON Lines: one row per batch */
	t = "{\"a\": 1}\n{\"a\": 2}\n";
	ck_assert_int_eq(dataset_open_mem("b.jsonl", t, strlen(t), DATASET_AUTO, 0, &r, &err), 0);
	ck_assert_int_eq(dataset_next_batch(r, 100, &f, &l, &err), 1);
	ck_assert_str_eq(f[0], "1");
	ck_assert_int_eq(dataset_next_batch(r, 100, &f, &l, &err), 1);
	ck_assert_str_eq(f[0], "2");
	ck_assert_uint_eq(l[0], 1);
	ck_assert_int_eq(dataset_next_batch(r, 100, &f, &l, &err), 0);
	dataset_close(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dataset");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, csv_plain);
	tcase_add_test(tc, csv_quotes);
	tcase_add_test(tc, csv_newlines);
	tcase_add_test(tc, csv_crlf);
	tcase_add_test(tc, csv_bom_utf8);
	tcase_add_test(tc, csv_errors);
	tcase_add_test(tc, csv_long_row);
	tcase_add_test(tc, csv_unterminated_is_bounded);
	tcase_add_test(tc, jsonl_basic);
	tcase_add_test(tc, jsonl_errors);
	tcase_add_test(tc, files_and_formats);
	tcase_add_test(tc, many_rows_offsets);
	tcase_add_test(tc, batches);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}

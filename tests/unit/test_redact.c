/* Unit tests: masking secrets — the value, its lines, base64 at each
 * alignment, JSON and URL escapes, text cut into pieces, files in place. */
#include "sluice/redact.h"

#include "sluice/arena.h"
#include "sluice/strbuf.h"

#include "testutil.h"

#include <check.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const S = "hunter22secret!";

/* text masked by a redactor of the given secrets (static buffer) */
static const char *masked(const char *const *secrets, const char *text)
{
	static char out[4096];
	redactor *r = redact_new();
	for (size_t k = 0; secrets[k]; k++)
		redact_add(r, secrets[k]);
	snprintf(out, sizeof(out), "%s", text);
	redact_str(r, out);
	redact_free(r);
	return out;
}

static const char *mask1(const char *secret, const char *text)
{
	const char *v[] = {secret, NULL};
	return masked(v, text);
}

static char *b64(const char *text)
{
	static char out[128];
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)text, (int)strlen(text));
	return out;
}

START_TEST(value_becomes_three_stars)
{
	ck_assert_str_eq(mask1(S, "token hunter22secret! twice hunter22secret!"),
			 "token *** twice ***");
	/* overlapping and adjacent matches are one mask */
	ck_assert_str_eq(mask1("abab", "xabababx"), "x***x");
	ck_assert_str_eq(mask1(S, "hunter22secret!hunter22secret!"), "***");
	/* nothing to mask: the text as it was */
	ck_assert_str_eq(mask1(S, "nothing here"), "nothing here");
	const char *none[] = {NULL};
	ck_assert_str_eq(masked(none, "hunter22secret!"), "hunter22secret!");
	/* a NULL redactor masks nothing */
	char text[] = "hunter22secret!";
	ck_assert_uint_eq(redact_apply(NULL, text, strlen(text)), strlen(text));
}
END_TEST

START_TEST(short_values_are_not_masked)
{
	redactor *r = redact_new();
	ck_assert_int_eq(redact_add(r, "abc"), 1);
	ck_assert_int_eq(redact_add(r, ""), 1);
	ck_assert_int_eq(redact_add(r, "ab\n"), 1);
	ck_assert(!redact_active(r));
	ck_assert_int_eq(redact_add(r, "abcd"), 0);
	ck_assert(redact_active(r));
	redact_free(r);
	ck_assert_str_eq(mask1("abc", "abc abc"), "abc abc");
}
END_TEST

/* The shell's `base64` of text before and after the secret, as the
 * integration test prints them: only what depends on the text is left. */
START_TEST(base64_at_each_alignment)
{
	/* printf 'x%s' S | base64: one byte before (alignment 1) */
	ck_assert_str_eq(mask1(S, "eGh1bnRlcjIyc2VjcmV0IQ=="), "eG***");
	/* printf 'xy%s' S | base64: two bytes before (alignment 2) */
	ck_assert_str_eq(mask1(S, "eHlodW50ZXIyMnNlY3JldCE="), "eHl***");
	/* printf '%s\n' S | base64: aligned, a newline after */
	ck_assert_str_eq(mask1(S, "aHVudGVyMjJzZWNyZXQhCg=="), "***Cg==");
	/* printf 'user:%s' S | base64 */
	ck_assert_str_eq(mask1(S, "dXNlcjpodW50ZXIyMnNlY3JldCE="), "dXNlcjp***");
	/* any prefix and suffix: at most the characters that mix in other bytes remain */
	const char *pre[] = {"", "a", "ab", "abc", "abcd", "abcde", "Authorization: Basic u:"};
	const char *post[] = {"", "\n", "zz", "...more text after"};
	for (size_t i = 0; i < sizeof(pre) / sizeof(*pre); i++)
		for (size_t j = 0; j < sizeof(post) / sizeof(*post); j++) {
			char text[256], plain[96];
			snprintf(plain, sizeof(plain), "%s%s%s", pre[i], S, post[j]);
			snprintf(text, sizeof(text), "%s", b64(plain));
			const char *m = mask1(S, text);
			ck_assert_msg(strstr(m, "***"), "%s%s%s: %s not masked", pre[i], S, post[j],
				      text);
			size_t around = (strlen(pre[i]) + strlen(post[j])) * 4 / 3 + 6;
			ck_assert_msg(strlen(m) <= around + 3, "%s: %s left", plain, m);
		}
	/* the URL-safe alphabet too: bytes whose base64 has '+' and '/' */
	const char *bin = "\xfb\xff\xbf>?~secret";
	char text[128];
	snprintf(text, sizeof(text), "%s", b64(bin));
	ck_assert_msg(strpbrk(text, "+/"), "%s", text);
	for (char *c = text; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	ck_assert_str_eq(mask1(bin, text), "***");
}
END_TEST

START_TEST(json_and_url_escapes)
{
	const char *q = "pa\"ss\\wo\trd/é";
	ck_assert_str_eq(mask1(q, "{\"t\": \"pa\\\"ss\\\\wo\\trd/é\"}"), "{\"t\": \"***\"}");
	/* Python's json.dumps: ASCII only, lowercase \u */
	ck_assert_str_eq(mask1(q, "{\"t\": \"pa\\\"ss\\\\wo\\trd/\\u00e9\"}"), "{\"t\": \"***\"}");
	/* \/ as some encoders write it */
	ck_assert_str_eq(mask1(q, "\"pa\\\"ss\\\\wo\\trd\\/é\""), "\"***\"");
	const char *u = "p@ss w/rd&x=1";
	ck_assert_str_eq(mask1(u, "https://h/?k=p%40ss%20w%2Frd%26x%3D1&n=2"),
			 "https://h/?k=***&n=2");
	ck_assert_str_eq(mask1(u, "k=p%40ss+w%2Frd%26x%3D1"), "k=***");
	ck_assert_str_eq(mask1(u, "/p%40ss%20w/rd%26x%3D1"), "/***");
	/* XML and a command line's \" */
	ck_assert_str_eq(mask1("a<b>\"c'&d", "<v>a&lt;b&gt;&quot;c&apos;&amp;d</v>"), "<v>***</v>");
	ck_assert_str_eq(mask1("say \"hi\" now", "echo \"say \\\"hi\\\" now\""), "echo \"***\"");
}
END_TEST

START_TEST(multi_line_values_line_by_line)
{
	const char *key = "-----BEGIN KEY-----\nMIIEvQIBADANBg\nab\r\n-----END KEY-----\n";
	/* each line alone, but not a line shorter than REDACT_MIN */
	ck_assert_str_eq(mask1(key, "line: MIIEvQIBADANBg\nend: -----END KEY-----\nab\n"),
			 "line: ***\nend: ***\nab\n");
	/* the whole value at once is one mask */
	char whole[256];
	snprintf(whole, sizeof(whole), "[%s]", key);
	ck_assert_str_eq(mask1(key, whole), "[***\n]");
	/* a line's base64 too */
	char text[128];
	snprintf(text, sizeof(text), "%s", b64("MIIEvQIBADANBg"));
	ck_assert_str_eq(mask1(key, text), "***");
}
END_TEST

/* Text cut into pieces of every size, masked as a writer does: all but the
 * last max_len - 1 bytes at each step, the rest with what follows. */
static void masked_in_pieces(const redactor *r, const char *text, size_t piece, strbuf *out)
{
	strbuf held = STRBUF_INIT;
	size_t keep = redact_max_len(r) - 1, n = strlen(text);
	for (size_t off = 0; off < n; off += piece) {
		strbuf_add(&held, text + off, n - off < piece ? n - off : piece);
		if (held.len <= keep)
			continue;
		size_t used, m = redact_apply_upto(r, held.buf, held.len, held.len - keep, &used);
		strbuf_add(out, held.buf, m);
		memmove(held.buf, held.buf + used, held.len - used);
		held.len -= used;
	}
	held.len = redact_apply(r, held.buf, held.len);
	strbuf_add(out, held.buf, held.len);
	strbuf_release(&held);
}

START_TEST(needles_cut_across_pieces)
{
	redactor *r = redact_new();
	redact_add(r, S);
	redact_add(r, "hunter"); /* a needle that is the start of a longer one */
	char text[512];
	snprintf(text, sizeof(text), "a hunter22secret! b %.128s c hunter d hunter22secret!",
		 b64(S));
	char whole[512];
	snprintf(whole, sizeof(whole), "%s", text);
	redact_str(r, whole);
	ck_assert_str_eq(whole, "a *** b *** c *** d ***");
	for (size_t piece = 1; piece <= strlen(text); piece++) {
		strbuf out = STRBUF_INIT;
		masked_in_pieces(r, text, piece, &out);
		ck_assert_msg(!strcmp(strbuf_str(&out), whole), "pieces of %zu: %s", piece,
			      strbuf_str(&out));
		strbuf_release(&out);
	}
	redact_free(r);
}
END_TEST

START_TEST(files_in_place)
{
	char dir[256], path[512], link[512], buf[256];
	tu_mkdtemp(dir, sizeof(dir), "sluice-redact");
	snprintf(path, sizeof(path), "%s/output", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	redactor *r = redact_new();
	redact_add(r, S);
	sl_error *err = NULL;
	/* missing: fine */
	ck_assert_int_eq(redact_file(r, path, &err), 0);
	tu_write(path, "token=hunter22secret!\nother=1\n");
	chmod(path, 0644);
	ck_assert_int_eq(redact_file(r, path, &err), 0);
	ck_assert_str_eq(tu_read(path, buf, sizeof(buf)), "token=***\nother=1\n");
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0600);
	/* a file without a match is left as it is */
	tu_write(path, "clean\n");
	ck_assert_int_eq(stat(path, &sb), 0);
	ino_t ino = sb.st_ino;
	ck_assert_int_eq(redact_file(r, path, &err), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_ino, ino);
	/* a symlink is not followed */
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(redact_file(r, link, &err), -1);
	ck_assert_ptr_nonnull(err);
	sl_error_release(&err);
	redact_free(r);
	ck_assert_int_eq(fs_rm_rf(dir), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("redact");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, value_becomes_three_stars);
	tcase_add_test(tc, short_values_are_not_masked);
	tcase_add_test(tc, base64_at_each_alignment);
	tcase_add_test(tc, json_and_url_escapes);
	tcase_add_test(tc, multi_line_values_line_by_line);
	tcase_add_test(tc, needles_cut_across_pieces);
	tcase_add_test(tc, files_in_place);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}

/* report.c — see include/sluice/report.h. */
#include "sluice/report.h"

#include "sluice/strbuf.h"

#include <errno.h>
#include <fcntl.h>

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void report_iso_time(double t, char *buf, size_t size)
{
	if (t <= 0) {
		snprintf(buf, size, "%s", "");
		return;
	}
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03dZ", (int)((t - (double)s) * 1000) % 1000);
}

static json_t *time_or_null(double t)
{
	char buf[64];
	report_iso_time(t, buf, sizeof(buf));
	return t > 0 ? json_string(buf) : json_null();
}

json_t *report_metric_json(double v)
{
	/* JSON has no NaN or Infinity (Python writes them bare, jansson cannot) */
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

json_t *report_run_json(store *st, int64_t run_id, sl_error **err)
{
	run_info run = {0};
	step_record *steps = NULL;
	size_t nsteps = 0;
	kv_record *met = NULL;
	size_t nmet = 0;
	file_record *files = NULL;
	size_t nfiles = 0;
	json_t *doc = NULL;
	if (store_get_run(st, run_id, &run, err) < 0 ||
	    store_get_steps(st, run_id, &steps, &nsteps, err) < 0 ||
	    store_get_metrics(st, run_id, NULL, &met, &nmet, err) < 0 ||
	    store_get_files(st, run_id, NULL, &files, &nfiles, err) < 0)
		goto out;
	doc = json_object();
	json_object_set_new(doc, "run_id", json_integer(run.id));
	json_object_set_new(doc, "pipeline", json_string(run.pipeline));
	json_object_set_new(doc, "status", json_string(run.status));
	json_object_set_new(doc, "exit_code",
			    run.exit_code >= 0 ? json_integer(run.exit_code) : json_null());
	json_object_set_new(doc, "trigger", json_string(run.trigger));
	json_object_set_new(doc, "parent_id",
			    run.parent_id ? json_integer(run.parent_id) : json_null());
	json_object_set_new(doc, "started", time_or_null(run.started));
	json_object_set_new(doc, "finished", time_or_null(run.finished));
	json_t *arr = json_array();
	for (size_t i = 0; i < nsteps; i++) {
		step_record *s = &steps[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "status", json_string(s->status));
		json_object_set_new(o, "reason", s->reason ? json_string(s->reason) : json_null());
		json_object_set_new(o, "attempts", json_integer(s->attempts));
		double dur = store_duration(s->started, s->finished);
		json_object_set_new(o, "duration_s", json_real(round(dur * 1000) / 1000));
		json_object_set_new(o, "cached", json_boolean(strcmp(s->status, "cached") == 0));
		json_object_set_new(o, "cache_key",
				    s->cache_key ? json_string(s->cache_key) : json_null());
		json_object_set_new(o, "exit_code",
				    s->exit_code >= 0 ? json_integer(s->exit_code) : json_null());
		json_t *m = json_object();
		for (size_t k = 0; k < nmet; k++)
			if (strcmp(met[k].step, s->name) == 0)
				json_object_set_new(m, met[k].key, report_metric_json(met[k].num));
		json_object_set_new(o, "metrics", m);
		json_t *outs = json_array();
		for (size_t k = 0; k < nfiles; k++) {
			if (strcmp(files[k].step, s->name) != 0)
				continue;
			json_t *f = json_object();
			json_object_set_new(f, "path", json_string(files[k].path));
			json_object_set_new(f, "sha256",
					    files[k].sha256 ? json_string(files[k].sha256)
							    : json_null());
			json_object_set_new(f, "size", json_integer(files[k].size));
			json_array_append_new(outs, f);
		}
		json_object_set_new(o, "outputs", outs);
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "steps", arr);
out:
	run_info_release(&run);
	step_record_free_array(steps, nsteps);
	kv_record_free_array(met, nmet);
	file_record_free_array(files, nfiles);
	return doc;
}

static void xml_escape(strbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '<':
			strbuf_addstr(sb, "&lt;");
			break;
		case '>':
			strbuf_addstr(sb, "&gt;");
			break;
		case '&':
			strbuf_addstr(sb, "&amp;");
			break;
		case '"':
			strbuf_addstr(sb, "&quot;");
			break;
		default:
			/* control characters are not allowed in XML 1.0 */
			if (c < 0x20 && c != '\n' && c != '\t')
				strbuf_addch(sb, '?');
			else
				strbuf_addch(sb, (char)c);
		}
	}
}

/* The run and its steps, for the reports that need no more; on failure nothing
 * is left to release. */
static int load_run(store *st, int64_t run_id, run_info *run, step_record **steps, size_t *n,
		    sl_error **err)
{
	*run = (run_info){0};
	*steps = NULL;
	*n = 0;
	if (store_get_run(st, run_id, run, err) < 0 ||
	    store_get_steps(st, run_id, steps, n, err) < 0) {
		run_info_release(run);
		return -1;
	}
	return 0;
}

int report_junit(store *st, int64_t run_id, const char *path, sl_error **err)
{
	run_info run;
	step_record *steps;
	size_t n;
	if (load_run(st, run_id, &run, &steps, &n, err) < 0)
		return -1;
	size_t failures = 0, skipped = 0;
	double total = 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = steps[i].status;
		failures += !strcmp(s, "failed") || !strcmp(s, "upstream_failed") ||
			    !strcmp(s, "rejected") || !strcmp(s, "cancelled");
		skipped += !strcmp(s, "skipped");
		total += store_duration(steps[i].started, steps[i].finished);
	}
	strbuf sb = STRBUF_INIT;
	char ts[64];
	report_iso_time(run.started, ts, sizeof(ts));
	strbuf_addstr(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
	strbuf_addstr(&sb, "  <testsuite name=\"");
	xml_escape(&sb, run.pipeline);
	strbuf_addf(&sb,
		    "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" "
		    "time=\"%.3f\" timestamp=\"%s\">\n",
		    n, failures, skipped, total, ts);
	for (size_t i = 0; i < n; i++) {
		step_record *s = &steps[i];
		double dur = store_duration(s->started, s->finished);
		strbuf_addstr(&sb, "    <testcase classname=\"");
		xml_escape(&sb, run.pipeline);
		strbuf_addstr(&sb, "\" name=\"");
		xml_escape(&sb, s->name);
		strbuf_addf(&sb, "\" time=\"%.3f\"", dur);
		if (!strcmp(s->status, "succeeded") || !strcmp(s->status, "cached")) {
			strbuf_addstr(&sb, "/>\n");
			continue;
		}
		strbuf_addstr(&sb, ">\n");
		if (!strcmp(s->status, "skipped")) {
			strbuf_addstr(&sb, "      <skipped message=\"");
			xml_escape(&sb, s->reason ? s->reason : "skipped");
			strbuf_addstr(&sb, "\"/>\n");
		} else {
			strbuf_addstr(&sb, "      <failure type=\"");
			xml_escape(&sb, s->status);
			strbuf_addstr(&sb, "\" message=\"");
			xml_escape(&sb, s->reason ? s->reason : s->status);
			strbuf_addstr(&sb, "\"/>\n");
		}
		strbuf_addstr(&sb, "    </testcase>\n");
	}
	strbuf_addstr(&sb, "  </testsuite>\n</testsuites>\n");
	int rc = 0;
	/* a step may have left a symlink where the report goes: never written through */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
		      0644);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (fd >= 0 && !f)
		close(fd);
	if (!f || fwrite(sb.buf, 1, sb.len, f) != sb.len)
		rc = sl_error_errno(err, errno, "write %s", path);
	if (f && fclose(f) != 0 && rc == 0)
		rc = sl_error_errno(err, errno, "write %s", path);
	strbuf_release(&sb);
	run_info_release(&run);
	step_record_free_array(steps, n);
	return rc;
}

int report_markdown(store *st, int64_t run_id, FILE *out, sl_error **err)
{
	run_info run;
	step_record *steps;
	size_t n;
	if (load_run(st, run_id, &run, &steps, &n, err) < 0)
		return -1;
	fprintf(out, "### sluice run %lld of `%s`: %s\n\n", (long long)run.id, run.pipeline,
		run.status);
	fprintf(out, "| step | status | duration | attempts | reason |\n|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		step_record *s = &steps[i];
		double dur = store_duration(s->started, s->finished);
		fprintf(out, "| %s | %s | %.1fs | %d | %s |\n", s->name, s->status, dur,
			s->attempts, s->reason ? s->reason : "");
	}
	fputc('\n', out);
	run_info_release(&run);
	step_record_free_array(steps, n);
	return 0;
}

int report_print_run_json(store *st, int64_t run_id, FILE *out, sl_error **err)
{
	json_t *doc = report_run_json(st, run_id, err);
	if (!doc)
		return -1;
	json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	fputc('\n', out);
	json_decref(doc);
	return 0;
}

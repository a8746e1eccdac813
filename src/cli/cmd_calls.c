/*
 * cmd_calls — 'bulwark calls' (calls in progress) and 'bulwark cdr'
 * (finished calls: call detail records). The daemon checks --since and
 * --limit (one rule, in the API); a refusal is printed as it answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

/* "0:42", "12:05", "1:02:03" */
static json_t *duration_text(const json_t *row)
{
	json_int_t s = json_integer_value(json_object_get(row, "duration_s"));
	char buf[48];

	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld",
			 (long long)(s / 3600), (long long)(s / 60 % 60),
			 (long long)(s % 60));
	else
		snprintf(buf, sizeof(buf), "%lld:%02lld",
			 (long long)(s / 60), (long long)(s % 60));
	return json_string(buf);
}

/* "2026-12-05 14:03:07Z" from end_ms. */
static json_t *end_text(const json_t *row)
{
	json_int_t ms = json_integer_value(json_object_get(row, "end_ms"));
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[48];

	if (ms <= 0 || !gmtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm))
		return json_string("-");
	return json_string(buf);
}

/* The rows with the derived cells the table shows. New reference. */
/* "202>203 (forward_no_answer)" for a forwarded call, else NULL. */
static json_t *forward_text(const json_t *row)
{
	const char *rule = json_string_value(json_object_get(row,
						"forward_rule"));
	const char *from = json_string_value(json_object_get(row,
						"forward_from"));
	const char *to = json_string_value(json_object_get(row, "forward_to"));
	char buf[96];

	if (!rule || !*rule)
		return NULL;
	snprintf(buf, sizeof(buf), "%.24s>%.24s (%.24s)", from ? from : "",
		 to ? to : "", rule);
	return json_string(buf);
}

static json_t *table_rows(const json_t *reply, bool cdr)
{
	json_t *rows = json_array(), *row;
	size_t i;

	if (!rows)
		return NULL;
	json_array_foreach(reply, i, row) {
		json_t *r = json_is_object(row) ? json_copy(row) : NULL, *v;
		const char *key;
		void *tmp;

		if (!r)
			continue;
		/* an empty cell shows as "-", as a missing one */
		json_object_foreach_safe(r, tmp, key, v)
			if (json_is_string(v) && !*json_string_value(v))
				json_object_del(r, key);
		json_object_set_new(r, "duration", duration_text(row));
		if (cdr) {
			json_t *fw = forward_text(row);

			json_object_set_new(r, "end", end_text(row));
			if (fw)
				json_object_set_new(r, "forwarded", fw);
		}
		else if (json_is_true(json_object_get(row, "held")))
			json_object_set_new(r, "state", json_string("held"));
		json_array_append_new(rows, r);
	}
	return rows;
}

static int show(struct cli *c, const char *path, bool cdr)
{
	static const char *const call_cols[] = { "id", "caller", "callee",
						 "state", "duration",
						 "codec" };
	static const char *const cdr_cols[] = { "end", "caller", "dialled",
						"callee", "disposition",
						"cause", "duration", "codec",
						"reason", "forwarded" };
	json_t *reply = NULL, *rows;
	int rc;

	rc = cli_call(c, "GET", path, NULL, &reply);
	if (rc)
		return rc;
	if (c->json) {
		cli_print_json(reply);
	} else if (!json_array_size(reply)) {
		printf(cdr ? "No call records.\n" : "No calls in progress.\n");
	} else {
		rows = table_rows(reply, cdr);
		if (cdr)
			cli_print_table(rows, cdr_cols, 10);
		else
			cli_print_table(rows, call_cols, 6);
		json_decref(rows);
	}
	json_decref(reply);
	return CLI_OK;
}

static int calls(struct cli *c, int argc, char **argv)
{
	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	return show(c, "/calls", false);
}

/* "&name=escaped value" appended to path; false if it does not fit. */
static bool add_query(char *path, size_t sz, const char *name,
		      const char *value)
{
	char *e = cli_escape(value);
	size_t len = strlen(path);
	int n;

	if (!e)
		return false;
	n = snprintf(path + len, sz - len, "%c%s=%s",
		     strchr(path, '?') ? '&' : '?', name, e);
	free(e);
	return n > 0 && (size_t)n < sz - len;
}

static int cdr(struct cli *c, int argc, char **argv)
{
	const char *since = NULL, *limit = NULL;
	char path[512] = "/cdr";

	for (int i = 0; i < argc; i++) {
		const char **dst = !strcmp(argv[i], "--since") ? &since :
				   !strcmp(argv[i], "--limit") ? &limit : NULL;

		if (!dst)
			return cli_usage(c, "unexpected argument '%s'",
					 argv[i]);
		if (i + 1 >= argc)
			return cli_usage(c, "%s needs a value", argv[i]);
		*dst = argv[++i];
	}
	if ((since && !add_query(path, sizeof(path), "since", since)) ||
	    (limit && !add_query(path, sizeof(path), "limit", limit)))
		return cli_usage(c, "--since or --limit is too long");
	return show(c, path, true);
}

const struct cli_cmd cli_calls_cmds[] = {
	{ "calls", NULL, calls, "[--json]",
	  "Calls in progress: who calls whom, state, duration, codec." },
	{ "cdr", NULL, cdr, "[--since WHEN] [--limit N] [--json]",
	  "Finished calls (call detail records), newest first; WHEN is unix "
	  "milliseconds or an ISO 8601 time, UTC unless it has an offset "
	  "(2026-12-05, 2026-12-05T14:00Z); N is 1 to 10000 (default "
	  "100)." },
	{ NULL, NULL, NULL, NULL, NULL },
};

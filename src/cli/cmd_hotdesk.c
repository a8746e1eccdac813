/*
 * cmd_hotdesk — 'bulwark hotdesk' (issue 13): who is logged in at which
 * phone (GET /api/v1/hotdesk), with the log-in time and when it lapses.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"

/* "2026-12-05 14:03:07Z" of a unix ms value ("-" for none). */
static json_t *when(const json_t *v)
{
	json_int_t ms = json_integer_value(v);
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[48];

	if (ms <= 0 || !gmtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm))
		return json_string("-");
	return json_string(buf);
}

static int hotdesk(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "number", "name", "phone",
					    "login", "last_call", "lapses" };
	json_t *reply = NULL, *rows, *row;
	size_t i;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/hotdesk", NULL, &reply);
	if (rc)
		return rc;
	if (c->json) {
		cli_print_json(reply);
	} else if (!json_array_size(reply)) {
		printf("Nobody is logged in at a hotdesk phone.\n");
	} else {
		rows = json_array();
		json_array_foreach(reply, i, row) {
			json_t *r = json_copy(row);

			if (!r)
				continue;
			json_object_set_new(r, "login", when(json_object_get(
						r, "login_ms")));
			json_object_set_new(r, "last_call", when(
				json_object_get(r, "used_ms")));
			json_object_set_new(r, "lapses", when(json_object_get(
						r, "lapses_ms")));
			json_array_append_new(rows, r);
		}
		cli_print_table(rows, cols, 6);
		json_decref(rows);
	}
	json_decref(reply);
	return CLI_OK;
}

/* POST/DELETE on one number: its reply's "phone" (logout) printed. */
static int one(struct cli *c, int argc, char **argv, bool logout)
{
	char path[128];
	json_t *reply = NULL;
	char *e;
	int rc;

	if (argc != 1)
		return cli_usage(c, "give one hotdesk number");
	e = cli_escape(argv[0]);
	if (!e)
		return CLI_USAGE;
	snprintf(path, sizeof(path), logout ? "/hotdesk/%s" :
		 "/hotdesk/%s/unlock", e);
	free(e);
	rc = cli_call(c, logout ? "DELETE" : "POST", path, NULL, &reply);
	if (!rc && c->json)
		cli_print_json(reply);
	else if (!rc && logout)
		printf("Hotdesk %s logged out at %s.\n", argv[0],
		       json_string_value(json_object_get(reply, "phone")));
	else if (!rc)
		printf("Hotdesk %s unlocked.\n", argv[0]);
	json_decref(reply);
	return rc;
}

static int logout(struct cli *c, int argc, char **argv)
{
	return one(c, argc, argv, true);
}

static int unlock(struct cli *c, int argc, char **argv)
{
	return one(c, argc, argv, false);
}

const struct cli_cmd cli_hotdesk_cmds[] = {
	{ "hotdesk", "logout", logout, "NUMBER",
	  "Log a hotdesk extension out of the phone it is at." },
	{ "hotdesk", "unlock", unlock, "NUMBER",
	  "End a hotdesk extension's PIN lock (its failures reset)." },
	{ "hotdesk", NULL, hotdesk, "[--json]",
	  "Hotdesk log-ins: which hotdesk extension is logged in at which "
	  "phone, since when, and when the log-in lapses." },
	{ NULL, NULL, NULL, NULL, NULL },
};

/*
 * cmd_trunk — 'bulwark trunk status' (issue 15): each trunk's
 * registration state. The trunks are configured with
 * 'bulwark settings set trunks <trunk>.<field>=VALUE ...'.
 */
#include <stdio.h>
#include <time.h>

#include "cli/cli.h"

/* Unix seconds in a row → seconds from now (readable in a table). */
static void relative(json_t *row, const char *key, const char *as)
{
	json_t *v = json_object_get(row, key);

	if (json_is_integer(v))
		json_object_set_new(row, as, json_integer(
			json_integer_value(v) - (json_int_t)time(NULL)));
}

static int trunk_status(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "name", "host", "transport",
					    "state",
					    "expires_in", "next_in",
					    "failures", "last_error" };
	json_t *reply = NULL, *rows, *row;
	size_t i;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/trunks", NULL, &reply);
	if (rc)
		return rc;
	rows = json_object_get(reply, "trunks");
	if (c->json) {
		cli_print_json(reply);
	} else if (!json_array_size(rows)) {
		printf("No trunks.\n");
	} else {
		json_array_foreach(rows, i, row) {
			relative(row, "expires_at", "expires_in");
			relative(row, "next_refresh", "next_in");
		}
		cli_print_table(rows, cols, sizeof(cols) / sizeof(cols[0]));
	}
	json_decref(reply);
	return CLI_OK;
}

const struct cli_cmd cli_trunk_cmds[] = {
	{ "trunk", "status", trunk_status, "",
	  "Trunks: registration state, last error, next refresh." },
	{ NULL, NULL, NULL, NULL, NULL },
};

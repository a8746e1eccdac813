/*
 * cmd_guard — 'bulwark bans ...' and other guard commands.
 * Placeholder: the guard engineer owns and fills this file (issue 4).
 */
#include "cli/cli.h"

static int bans_list(struct cli *c, int argc, char **argv)
{
	json_t *out = NULL;
	int rc;
	static const char *const cols[] = { "source", "reason", "expires_in" };

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/bans", NULL, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			cli_print_table(out, cols, 3);
	}
	json_decref(out);
	return rc;
}

const struct cli_cmd cli_guard_cmds[] = {
	{ "bans", "list", bans_list, "", "List the sources banned right now." },
	{ NULL, NULL, NULL, NULL, NULL },
};

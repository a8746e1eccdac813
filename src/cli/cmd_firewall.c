/*
 * cmd_firewall — 'bulwark firewall ...' and 'bulwark services ...'.
 * Placeholder: the firewall engineer owns and fills this file (issue 5).
 */
#include "cli/cli.h"

static int services_list(struct cli *c, int argc, char **argv)
{
	json_t *out = NULL;
	int rc;
	static const char *const cols[] = { "name", "boot", "state",
					    "restart_required" };

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/services", NULL, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			cli_print_table(out, cols, 4);
	}
	json_decref(out);
	return rc;
}

const struct cli_cmd cli_firewall_cmds[] = {
	{ "services", "list", services_list, "", "List the network services." },
	{ NULL, NULL, NULL, NULL, NULL },
};

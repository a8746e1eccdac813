/*
 * cmd_sip — 'bulwark registrations', 'bulwark sip status': live SIP state.
 */
#include <stdio.h>

#include "cli/cli.h"

static int registrations(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "extension", "contact", "source",
					    "transport", "user_agent",
					    "expires_in" };
	json_t *reply = NULL;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/registrations", NULL, &reply);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else if (!json_array_size(reply))
		printf("No registrations.\n");
	else
		cli_print_table(reply, cols, 6);
	json_decref(reply);
	return CLI_OK;
}

static int sip_status(struct cli *c, int argc, char **argv)
{
	json_t *reply = NULL;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/sip/status", NULL, &reply);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		cli_print_object(reply);
	json_decref(reply);
	return CLI_OK;
}

const struct cli_cmd cli_sip_cmds[] = {
	{ "registrations", NULL, registrations, "",
	  "Phones registered right now." },
	{ "sip", "status", sip_status, "", "SIP listeners and counters." },
	{ NULL, NULL, NULL, NULL, NULL },
};

/*
 * cmd_firewall — 'bulwark firewall ...' (status, preview, apply, confirm,
 * rollback, services, lan, wizard) and 'bulwark services ...'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* ---- small helpers ---- */

static int get_and_print(struct cli *c, const char *path,
			 const char *const *cols, size_t ncols)
{
	json_t *out = NULL;
	int rc = cli_call(c, "GET", path, NULL, &out);

	if (rc == CLI_OK) {
		if (c->json || !cols)
			cli_print_json(out);
		else
			cli_print_table(out, cols, ncols);
	}
	json_decref(out);
	return rc;
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* Parse "--staged" / "--rollback N"; returns CLI_OK or usage error. */
static int opts(struct cli *c, int argc, char **argv, bool *staged,
		long *rollback)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (staged && !strcmp(argv[i], "--staged")) {
			*staged = true;
		} else if (rollback && !strcmp(argv[i], "--rollback") &&
			   i + 1 < argc) {
			char *end;

			*rollback = strtol(argv[++i], &end, 10);
			if (*end || *rollback < 1 || *rollback > 3600)
				return cli_usage(c, "--rollback: 1..3600 "
						 "seconds");
		} else {
			return cli_usage(c, "unexpected argument '%s'",
					 argv[i]);
		}
	}
	return CLI_OK;
}

/* ---- firewall ---- */

static void print_status(const json_t *s)
{
	static const char *const icols[] = { "name", "role", "addresses" };
	const json_t *permit = json_object_get(s, "permit");
	const char *k;
	const json_t *v;

	printf("server type:  %s", str(s, "type"));
	if (strcmp(str(s, "type"), str(s, "staged_type")))
		printf("  (staged: %s, not committed)", str(s, "staged_type"));
	printf("\nrules:        %s\n", json_is_true(json_object_get(s,
	       "active")) ? "installed" : "none installed");
	if (json_is_true(json_object_get(s, "pending")))
		printf("pending:      applied, NOT confirmed: rollback in "
		       "%lld s unless 'bulwark firewall confirm'\n",
		       (long long)json_integer_value(json_object_get(s,
		       "rollback_in")));
	printf("rollback:     %lld s after an apply\n",
	       (long long)json_integer_value(json_object_get(s,
	       "rollback_seconds")));
	printf("\ninterfaces (rules apply to WAN only; LAN is never "
	       "policed):\n");
	cli_print_table(json_object_get(s, "interfaces"), icols, 3);
	printf("\ninbound services permitted on WAN:\n");
	json_object_foreach((json_t *)permit, k, v)
		printf("  %-18s %s\n", k, json_string_value(v));
}

static int fw_status(struct cli *c, int argc, char **argv)
{
	json_t *out = NULL;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/firewall", NULL, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			print_status(out);
	}
	json_decref(out);
	return rc;
}

static int fw_preview(struct cli *c, int argc, char **argv)
{
	bool staged = false;
	json_t *out = NULL;
	int rc = opts(c, argc, argv, &staged, NULL);

	if (rc)
		return rc;
	rc = cli_call(c, "GET", staged ? "/firewall/preview?staged=1" :
		      "/firewall/preview", NULL, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			fputs(str(out, "ruleset"), stdout);  /* exactly */
	}
	json_decref(out);
	return rc;
}

static void print_applied(const json_t *out)
{
	const json_t *w;
	size_t i;

	printf("firewall applied (server type %s).\n", str(out, "type"));
	printf("Run 'bulwark firewall confirm' within %lld s, or the "
	       "previous rules come back.\n",
	       (long long)json_integer_value(json_object_get(out,
	       "rollback_in")));
	json_array_foreach(json_object_get(out, "warnings"), i, w)
		printf("warning: %s\n", json_string_value(w));
}

static int fw_apply(struct cli *c, int argc, char **argv)
{
	long rb = 0;
	json_t *body, *out = NULL;
	int rc = opts(c, argc, argv, NULL, &rb);

	if (rc)
		return rc;
	body = rb ? json_pack("{s:i}", "rollback", (json_int_t)rb) :
		    json_object();
	rc = cli_call(c, "POST", "/firewall/apply", body, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			print_applied(out);
	}
	json_decref(body);
	json_decref(out);
	return rc;
}

static int fw_simple(struct cli *c, int argc, char **argv, const char *path,
		     const char *done)
{
	json_t *out = NULL;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "POST", path, NULL, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			printf("%s\n", done);
	}
	json_decref(out);
	return rc;
}

static int fw_confirm(struct cli *c, int argc, char **argv)
{
	return fw_simple(c, argc, argv, "/firewall/confirm",
			 "firewall confirmed: these rules stay and are "
			 "installed at start.");
}

static int fw_rollback(struct cli *c, int argc, char **argv)
{
	return fw_simple(c, argc, argv, "/firewall/rollback",
			 "firewall rolled back: the previous rules are in "
			 "force.");
}

static int fw_services(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "name", "proto", "ports",
					    "permit", "label" };
	bool staged = false;
	int rc = opts(c, argc, argv, &staged, NULL);

	if (rc)
		return rc;
	return get_and_print(c, staged ? "/firewall/services?staged=1" :
			     "/firewall/services", cols, 5);
}

static int fw_lan(struct cli *c, int argc, char **argv)
{
	json_t *out = NULL;
	const json_t *v;
	size_t i;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/firewall/lan", NULL, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			json_array_foreach(json_object_get(out, "networks"),
					   i, v)
				printf("%s\n", json_string_value(v));
	}
	json_decref(out);
	return rc;
}

/* ---- the interactive wizard (reads answers from stdin) ---- */

/* One answer line; "" = the default. false at end of input. */
static bool ask(const char *prompt, const char *dflt, char *buf, size_t sz)
{
	size_t n;

	printf("%s [%s]: ", prompt, dflt);
	fflush(stdout);
	if (!fgets(buf, (int)sz, stdin)) {
		snprintf(buf, sz, "%s", dflt);
		printf("\n");
		return false;
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (!*buf)
		snprintf(buf, sz, "%s", dflt);
	else if (!isatty(0))
		printf("%s\n", buf);   /* echo piped answers */
	return true;
}

/* POST a step; prints the refusal and returns false if refused. */
static bool post_step(struct cli *c, const char *step, json_t *body,
		      json_t **out)
{
	char path[96];
	int rc;

	snprintf(path, sizeof(path), "/firewall/wizard/%s", step);
	rc = cli_call(c, "POST", path, body, out);
	json_decref(body);
	return rc == CLI_OK;
}

static int wiz_type(struct cli *c, char *type, size_t sz)
{
	json_t *st = NULL;
	const json_t *v;
	char choices[64] = "", buf[32];
	size_t i, len = 0;
	int tries, rc;

	rc = cli_call(c, "GET", "/firewall/wizard/type", NULL, &st);
	if (rc)
		return rc;
	printf("\n== Step 1: server type ==\n");
	printf("Network interfaces found: %zu\n",
	       json_array_size(json_object_get(st, "interfaces")));
	json_array_foreach(json_object_get(st, "interfaces"), i, v) {
		const json_t *a;
		size_t j;

		printf("  %-12s", str(v, "name"));
		json_array_foreach(json_object_get(v, "addresses"), j, a)
			printf(" %s", json_string_value(a));
		printf("\n");
	}
	json_array_foreach(json_object_get(st, "options"), i, v) {
		printf("  %-8s %s: %s\n", str(v, "value"), str(v, "label"),
		       str(v, "help"));
		len += (size_t)snprintf(choices + len, sizeof(choices) - len,
					"%s%s", i ? "/" : "", str(v, "value"));
		if (len >= sizeof(choices))
			len = sizeof(choices) - 1;
	}
	for (tries = 0; tries < 5; tries++) {
		char prompt[128];

		snprintf(prompt, sizeof(prompt), "Server type (%s)", choices);
		ask(prompt, str(st, "current"), buf, sizeof(buf));
		if (post_step(c, "type", json_pack("{s:s}", "type", buf),
			      NULL)) {
			snprintf(type, sz, "%.31s", buf);
			json_decref(st);
			return CLI_OK;
		}
	}
	json_decref(st);
	return CLI_REFUSED;
}

static int wiz_interfaces(struct cli *c)
{
	json_t *st = NULL, *roles;
	const json_t *v;
	bool any_lan = false;
	size_t i;
	int tries, rc;

	rc = cli_call(c, "GET", "/firewall/wizard/interfaces", NULL, &st);
	if (rc)
		return rc;
	printf("\n== Step 2: WAN and LAN interfaces ==\n");
	printf("Rules apply to WAN interfaces only; LAN interfaces are never "
	       "policed (and the guard trusts their networks).\n");
	json_array_foreach(json_object_get(st, "interfaces"), i, v)
		if (!strcmp(str(v, "role"), "lan"))
			any_lan = true;
	for (tries = 0; tries < 5; tries++) {
		roles = json_object();
		json_array_foreach(json_object_get(st, "interfaces"), i, v) {
			char prompt[96], buf[32];

			snprintf(prompt, sizeof(prompt), "Role of %s (wan/lan)",
				 str(v, "name"));
			ask(prompt, any_lan ? str(v, "role") :
			    str(v, "suggested"), buf, sizeof(buf));
			json_object_set_new(roles, str(v, "name"),
					    json_string(buf));
		}
		if (post_step(c, "interfaces", json_pack("{s:o}", "roles",
							  roles), NULL)) {
			json_decref(st);
			return CLI_OK;
		}
	}
	json_decref(st);
	return CLI_REFUSED;
}

static int wiz_services(struct cli *c)
{
	json_t *st = NULL, *permit;
	const json_t *v;
	size_t i;
	int tries, rc;

	rc = cli_call(c, "GET", "/firewall/wizard/services", NULL, &st);
	if (rc)
		return rc;
	printf("\n== Step 3: inbound services permitted on WAN ==\n");
	printf("Answer: any, off, or networks (e.g. 203.0.113.0/24,"
	       "2001:db8::/32). Enter keeps the recommendation.\n");
	for (tries = 0; tries < 5; tries++) {
		permit = json_object();
		json_array_foreach(json_object_get(st, "services"), i, v) {
			char prompt[160], buf[1024];

			snprintf(prompt, sizeof(prompt), "  %-18s %-4s %-12s "
				 "%s", str(v, "name"), str(v, "proto"),
				 str(v, "ports"), str(v, "label"));
			ask(prompt, str(v, "recommended"), buf, sizeof(buf));
			json_object_set_new(permit, str(v, "name"),
					    json_string(buf));
		}
		if (post_step(c, "services", json_pack("{s:o}", "permit",
							permit), NULL)) {
			json_decref(st);
			return CLI_OK;
		}
	}
	json_decref(st);
	return CLI_REFUSED;
}

static int fw_wizard(struct cli *c, int argc, char **argv)
{
	json_t *rev = NULL, *out = NULL, *body;
	const json_t *e;
	char type[32] = "", buf[32];
	long rb = 0;
	size_t i;
	int rc = opts(c, argc, argv, NULL, &rb);

	if (rc)
		return rc;
	printf("Bulwark firewall configuration wizard. Answers are staged; "
	       "nothing reaches the kernel before the last step.\n");
	rc = wiz_type(c, type, sizeof(type));
	if (rc)
		return rc;
	if (strcmp(type, "none")) {
		rc = wiz_interfaces(c);
		if (!rc)
			rc = wiz_services(c);
		if (rc)
			return rc;
	}
	rc = cli_call(c, "GET", "/firewall/wizard/review", NULL, &rev);
	if (rc)
		return rc;
	printf("\n== Step 4: review ==\n");
	if (!json_is_true(json_object_get(rev, "ok"))) {
		fprintf(stderr, "bulwark: the firewall configuration is "
			"refused:\n");
		json_array_foreach(json_object_get(rev, "errors"), i, e)
			fprintf(stderr, "  %s: %s (rule %s)\n",
				str(e, "field"), str(e, "message"),
				str(e, "rule"));
		json_decref(rev);
		return CLI_REFUSED;
	}
	fputs(str(rev, "ruleset"), stdout);
	if (!rb)
		rb = (long)json_integer_value(json_object_get(rev,
						"rollback_seconds"));
	json_decref(rev);
	printf("\n== Step 5: apply ==\n");
	printf("Applying commits the staged firewall settings and installs "
	       "these rules; unless you run 'bulwark firewall confirm' "
	       "within %ld s, the previous rules come back.\n", rb);
	ask("Apply now? (yes/no)", "no", buf, sizeof(buf));
	if (strcmp(buf, "yes") && strcmp(buf, "y")) {
		printf("Not applied. The answers are staged: 'bulwark commit' "
		       "then 'bulwark firewall apply' when ready, or 'bulwark "
		       "discard'.\n");
		return CLI_OK;
	}
	body = json_pack("{s:i}", "rollback", (json_int_t)rb);
	rc = cli_call(c, "POST", "/firewall/wizard/apply", body, &out);
	json_decref(body);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			print_applied(out);
	}
	json_decref(out);
	return rc;
}

/* ---- services ---- */

static int services_list(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "name", "boot", "state",
					    "restart_required",
					    "description" };

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	return get_and_print(c, "/services", cols, 5);
}

static int services_do(struct cli *c, int argc, char **argv,
		       const char *action)
{
	json_t *out = NULL;
	char path[160], *e;
	int rc;

	if (argc != 1)
		return cli_usage(c, "give one service NAME (see 'bulwark "
				 "services')");
	e = cli_escape(argv[0]);
	if (!e)
		return CLI_USAGE;
	snprintf(path, sizeof(path), "/services/%s/%s", e, action);
	free(e);
	rc = cli_call(c, "POST", path, NULL, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			printf("%s %s: %s\n", argv[0], action,
			       str(out, "message"));
	}
	json_decref(out);
	return rc;
}

#define ACTION(fn, a) \
	static int fn(struct cli *c, int argc, char **argv) \
	{ return services_do(c, argc, argv, a); }
ACTION(services_start, "start")
ACTION(services_stop, "stop")
ACTION(services_restart, "restart")
ACTION(services_enable, "enable")
ACTION(services_disable, "disable")

const struct cli_cmd cli_firewall_cmds[] = {
	{ "firewall", "status", fw_status, "",
	  "Server type, interfaces and roles, permitted services, pending "
	  "apply." },
	{ "firewall", "preview", fw_preview, "[--staged]",
	  "Print exactly the nftables rules that apply would install." },
	{ "firewall", "apply", fw_apply, "[--rollback SECONDS]",
	  "Install the committed firewall; rolls back unless confirmed." },
	{ "firewall", "confirm", fw_confirm, "",
	  "Keep the rules of the last apply." },
	{ "firewall", "rollback", fw_rollback, "",
	  "Restore the previous rules now." },
	{ "firewall", "services", fw_services, "[--staged]",
	  "Inbound services catalogue with ports and what is permitted." },
	{ "firewall", "lan", fw_lan, "",
	  "Networks of the LAN interfaces (trusted, never policed)." },
	{ "firewall", "wizard", fw_wizard, "[--rollback SECONDS]",
	  "Interactive configuration wizard (answers from stdin)." },
	{ "firewall", NULL, fw_status, "", "Same as 'firewall status'." },
	{ "services", "list", services_list, "",
	  "List the network services." },
	{ "services", "start", services_start, "NAME", "Start a service." },
	{ "services", "stop", services_stop, "NAME", "Stop a service." },
	{ "services", "restart", services_restart, "NAME",
	  "Restart a service (firewall: apply, commit confirmed)." },
	{ "services", "enable", services_enable, "NAME",
	  "Start at boot (staged: commit to keep)." },
	{ "services", "disable", services_disable, "NAME",
	  "Do not start at boot (staged: commit to keep)." },
	{ "services", NULL, services_list, "",
	  "List the network services (also --json)." },
	{ NULL, NULL, NULL, NULL, NULL },
};

/*
 * cmd_config — 'bulwark policy|settings|passwd|commit|pending|discard|
 * licences|status'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int no_args(struct cli *c, int argc, char **argv)
{
	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	return CLI_OK;
}

/* Show a section reply {section, staged, running[, keys]} as a table. */
static void print_section(const json_t *reply)
{
	static const char *const cols[] = { "key", "value", "running" };
	const json_t *staged = json_object_get(reply, "staged");
	const json_t *running = json_object_get(reply, "running");
	const json_t *keys = json_object_get(reply, "keys");
	json_t *rows = json_array(), *seen = json_object();
	const json_t *k;
	const char *key;
	json_t *v;
	size_t i;

	/* documented keys first, in their order; then any others */
	json_array_foreach(keys, i, k) {
		const char *name = json_string_value(json_object_get(k, "key"));

		if (!name || !json_object_get(staged, name))
			continue;
		json_object_set_new(seen, name, json_true());
	}
	json_array_foreach(keys, i, k) {
		const char *name = json_string_value(json_object_get(k, "key"));
		json_t *sv, *rv;

		if (!name || !(sv = json_object_get(staged, name)))
			continue;
		rv = json_object_get(running, name);
		json_array_append_new(rows, json_pack("{s:s,s:O,s:O?}",
			"key", name, "value", sv,
			"running", rv && !json_equal(rv, sv) ? rv : NULL));
	}
	json_object_foreach((json_t *)staged, key, v) {
		json_t *rv;

		if (json_object_get(seen, key))
			continue;
		rv = json_object_get(running, key);
		json_array_append_new(rows, json_pack("{s:s,s:O,s:O?}",
			"key", key, "value", v,
			"running", rv && !json_equal(rv, v) ? rv : NULL));
	}
	cli_print_table(rows, cols, 3);
	printf("(RUNNING shows the committed value where a change is "
	       "staged.)\n");
	json_decref(rows);
	json_decref(seen);
}

/* KEY=VALUE ... into an object. */
static int kv_body(struct cli *c, int argc, char **argv, json_t **out)
{
	json_t *body = json_object();
	int i;

	for (i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char *key;

		if (!eq || eq == argv[i]) {
			json_decref(body);
			return cli_usage(c, "expected KEY=VALUE, got '%s'",
					 argv[i]);
		}
		key = strndup(argv[i], (size_t)(eq - argv[i]));
		json_object_set_new(body, key, json_string(eq + 1));
		free(key);
	}
	if (!json_object_size(body)) {
		json_decref(body);
		return cli_usage(c, "give at least one KEY=VALUE");
	}
	*out = body;
	return CLI_OK;
}

static int show_path(struct cli *c, const char *path)
{
	json_t *reply = NULL;
	int rc = cli_call(c, "GET", path, NULL, &reply);

	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		print_section(reply);
	json_decref(reply);
	return CLI_OK;
}

static int set_path(struct cli *c, const char *path, int argc, char **argv)
{
	json_t *body = NULL, *reply = NULL;
	int rc = kv_body(c, argc, argv, &body);

	if (rc)
		return rc;
	rc = cli_call(c, "PATCH", path, body, &reply);
	json_decref(body);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		printf("Staged: %d setting%s. Run 'bulwark commit' to apply.\n",
		       argc, argc == 1 ? "" : "s");
	json_decref(reply);
	return CLI_OK;
}

static int policy_show(struct cli *c, int argc, char **argv)
{
	int rc = no_args(c, argc, argv);

	return rc ? rc : show_path(c, "/policy");
}

static int policy_set(struct cli *c, int argc, char **argv)
{
	return set_path(c, "/policy", argc, argv);
}

static int section_path(struct cli *c, const char *name, char *buf,
			size_t sz)
{
	char *e = cli_escape(name);

	if (!e)
		return CLI_USAGE;
	snprintf(buf, sz, "/settings/%s", e);
	free(e);
	return CLI_OK;
}

static int settings_show(struct cli *c, int argc, char **argv)
{
	char path[256];
	json_t *reply = NULL;
	int rc;

	if (argc == 0) {
		rc = cli_call(c, "GET", "/settings", NULL, &reply);
		if (!rc)
			cli_print_json(reply);
		json_decref(reply);
		return rc;
	}
	if (argc != 1)
		return cli_usage(c, "unexpected argument '%s'", argv[1]);
	rc = section_path(c, argv[0], path, sizeof(path));
	return rc ? rc : show_path(c, path);
}

static int settings_set(struct cli *c, int argc, char **argv)
{
	char path[256];
	int rc;

	if (argc < 2)
		return cli_usage(c, "give a SECTION and at least one KEY=VALUE");
	rc = section_path(c, argv[0], path, sizeof(path));
	return rc ? rc : set_path(c, path, argc - 1, argv + 1);
}

static int passwd_generate(struct cli *c, int argc, char **argv)
{
	const char *kind = NULL, *number = NULL;
	json_t *reply = NULL;
	char path[160];
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--sip") || !strcmp(argv[i], "--vm")) {
			if (kind)
				return cli_usage(c, "give --sip or --vm, once");
			kind = argv[i] + 2;
		} else if (!strcmp(argv[i], "--number") && i + 1 < argc) {
			number = argv[++i];
		} else {
			return cli_usage(c, "unexpected argument '%s'", argv[i]);
		}
	}
	if (!kind)
		return cli_usage(c, "say which: --sip (SIP/IAX2 password) or "
				 "--vm (voicemail PIN)");
	if (number) {
		char *e = cli_escape(number);

		if (!e)
			return CLI_USAGE;
		snprintf(path, sizeof(path), "/passwd/generate?kind=%s&number=%s",
			 kind, e);
		free(e);
	} else {
		snprintf(path, sizeof(path), "/passwd/generate?kind=%s", kind);
	}
	rc = cli_call(c, "POST", path, NULL, &reply);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		printf("%s\n", json_string_value(json_object_get(reply,
							       "secret")) ?: "");
	json_decref(reply);
	return CLI_OK;
}

static int commit(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "number", "field", "secret" };
	bool dry = false;
	json_t *reply = NULL;
	const json_t *fixed;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run"))
			dry = true;
		else
			return cli_usage(c, "unexpected argument '%s'", argv[i]);
	}
	rc = cli_call(c, "POST", dry ? "/commit?dry_run=1" : "/commit", NULL,
		      &reply);
	if (rc)
		return rc;
	if (c->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_OK;
	}
	if (dry)
		printf("Dry run: the commit would succeed (%zu changes); "
		       "nothing was written.\n",
		       json_array_size(json_object_get(reply, "changes")));
	else
		printf("Committed: configuration version %" JSON_INTEGER_FORMAT
		       " (%zu changes).\n",
		       json_integer_value(json_object_get(reply, "version")),
		       json_array_size(json_object_get(reply, "changes")));
	fixed = json_object_get(reply, "fixed");
	if (json_array_size(fixed)) {
		printf("%s non-compliant secrets (auto-fix is on)%s:\n",
		       dry ? "Would replace" : "Replaced",
		       dry ? "" : "; the new secrets are shown only now");
		/* a dry run generates no secret to show */
		cli_print_table(fixed, cols, dry ? 2 : 3);
	}
	json_decref(reply);
	return CLI_OK;
}

static int pending(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "kind", "key", "op", "fields" };
	json_t *reply = NULL;
	int rc = no_args(c, argc, argv);

	if (rc)
		return rc;
	rc = cli_call(c, "GET", "/pending", NULL, &reply);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else if (!json_array_size(reply))
		printf("No staged changes.\n");
	else
		cli_print_table(reply, cols, 4);
	json_decref(reply);
	return CLI_OK;
}

static int discard(struct cli *c, int argc, char **argv)
{
	json_t *reply = NULL;
	int rc = no_args(c, argc, argv);

	if (rc)
		return rc;
	rc = cli_call(c, "POST", "/discard", NULL, &reply);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		printf("Discarded every staged change.\n");
	json_decref(reply);
	return CLI_OK;
}

static int licences(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "licence", "used", "staged",
					    "limit" };
	json_t *reply = NULL, *rows;
	const char *key;
	json_t *v;
	int rc = no_args(c, argc, argv);

	if (rc)
		return rc;
	rc = cli_call(c, "GET", "/licences", NULL, &reply);
	if (rc)
		return rc;
	if (c->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_OK;
	}
	rows = json_array();
	json_object_foreach(reply, key, v) {
		json_t *row = json_pack("{s:s}", "licence", key);

		if (json_is_object(v)) {
			const json_t *lim = json_object_get(v, "limit");

			json_object_set(row, "used", json_object_get(v, "used"));
			json_object_set(row, "staged", json_object_get(v, "staged"));
			if (json_is_integer(lim) && json_integer_value(lim) < 0)
				json_object_set_new(row, "limit",
						    json_string("unlimited"));
			else if (lim)
				json_object_set(row, "limit", (json_t *)lim);
		} else {
			json_object_set(row, "used", v);
			json_object_set_new(row, "limit", json_string("none needed"));
		}
		json_array_append_new(rows, row);
	}
	cli_print_table(rows, cols, 4);
	json_decref(rows);
	json_decref(reply);
	return CLI_OK;
}

static long long num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "?";
}

/* The dictionary line, and a loud line per missing word list: the
 * dictionary rule is weaker than the policy says until it is fixed. */
static void print_dictionary(const json_t *d)
{
	const json_t *l;
	size_t i;

	if (!json_is_object(d))
		return;
	printf("%-12s %lld distinct words%s\n", "dictionary", num(d, "words"),
	       json_is_true(json_object_get(d, "degraded")) ?
	       "  ** DEGRADED **" : "");
	json_array_foreach(json_object_get(d, "lists"), i, l) {
		if (json_is_true(json_object_get(l, "loaded")))
			printf("%-12s %s: %lld words\n", "", str(l, "path"),
			       num(l, "words"));
		else
			printf("%-12s %s: MISSING - passwords made of its "
			       "words are not refused; install it and "
			       "restart bulwarkd\n", "", str(l, "path"));
	}
}

static void print_sip(const json_t *sip)
{
	const json_t *cnt = json_object_get(sip, "counters"), *l;
	size_t i;

	printf("%-12s %s, realm %s\n", "sip", str(sip, "state"),
	       str(sip, "realm"));
	printf("%-12s ", "");
	json_array_foreach(json_object_get(sip, "listen"), i, l)
		printf("%s%s %s", i ? ", " : "listening on ",
		       str(l, "transport"), str(l, "address"));
	printf("\n%-12s %lld registered contacts, %lld TCP connections\n",
	       "", num(sip, "bindings"), num(sip, "tcp_connections"));
	if (json_is_object(cnt))
		printf("%-12s REGISTER %lld accepted, %lld refused; "
		       "%lld malformed, %lld dropped\n", "",
		       num(cnt, "register_ok"), num(cnt, "register_failed"),
		       num(cnt, "malformed"), num(cnt, "dropped"));
}

/* Human-readable by default (what an admin reads at a terminal); the
 * whole reply with --json. Sections the printer does not know (added by
 * newer daemons) are still shown, as key/value lines. */
/* The storage line: loud while writes to the data directory fail (the
 * daemon serves from memory and retries; a restart would lose what is
 * pending). */
static void print_storage(const json_t *st)
{
	const json_t *f = json_object_get(st, "failed_writes");
	const json_t *p = json_object_get(st, "pending");
	const json_t *le = json_object_get(st, "last_error");
	bool bad;

	if (!json_is_object(st))
		return;
	bad = strcmp(str(st, "state"), "ok") != 0;
	printf("%-12s %s%s\n", "storage", bad ? "DEGRADED" : "ok",
	       bad ? " - writes to the data directory fail; serving from "
	       "memory, retrying every second" : "");
	if (json_is_object(le))
		printf("%-12s last error: %s\n", "", str(le, "text"));
	if (num(f, "config") || num(f, "bindings") || num(f, "guard") ||
	    num(f, "security_log") || num(f, "cdr"))
		printf("%-12s failed writes: config %lld, bindings %lld, guard "
		       "%lld, security.log %lld, call records %lld\n", "",
		       num(f, "config"), num(f, "bindings"), num(f, "guard"),
		       num(f, "security_log"), num(f, "cdr"));
	if (num(p, "bindings") || num(p, "guard") || num(p, "cdr"))
		printf("%-12s pending: %lld binding, %lld guard change(s) and "
		       "%lld call record(s) not stored yet\n", "",
		       num(p, "bindings"), num(p, "guard"), num(p, "cdr"));
	if (num(json_object_get(st, "lost"), "cdr"))
		printf("%-12s lost: %lld call record(s) since start\n", "",
		       num(json_object_get(st, "lost"), "cdr"));
}

static int status(struct cli *c, int argc, char **argv)
{
	static const char *const known[] = {
		"daemon", "version", "pid", "uptime_s", "data_dir", "pending",
		"dictionary", "sip", "guard", "storage",
	};
	json_t *reply = NULL, *rest;
	const json_t *guard;
	int rc = no_args(c, argc, argv);

	if (rc)
		return rc;
	rc = cli_call(c, "GET", "/status", NULL, &reply);
	if (rc)
		return rc;
	if (c->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_OK;
	}
	printf("%-12s %s %s, pid %lld, up %lld s\n", "daemon",
	       str(reply, "daemon"), str(reply, "version"),
	       num(reply, "pid"), num(reply, "uptime_s"));
	printf("%-12s %s\n", "data", str(reply, "data_dir"));
	printf("%-12s %lld staged change%s%s\n", "pending",
	       num(reply, "pending"), num(reply, "pending") == 1 ? "" : "s",
	       num(reply, "pending") ? " (bulwark pending; bulwark commit)" :
	       "");
	print_dictionary(json_object_get(reply, "dictionary"));
	print_storage(json_object_get(reply, "storage"));
	if (json_is_object(json_object_get(reply, "sip")))
		print_sip(json_object_get(reply, "sip"));
	guard = json_object_get(reply, "guard");
	if (json_is_object(guard))
		printf("%-12s kernel offload %s%s\n", "guard",
		       str(guard, "kernel_offload"),
		       json_is_true(json_object_get(guard, "offload_active")) ?
		       "" : " (not active: bans stay in user space)");
	rest = json_deep_copy(reply);
	for (size_t i = 0; rest && i < sizeof(known) / sizeof(known[0]); i++)
		json_object_del(rest, known[i]);
	if (rest && json_object_size(rest)) {
		printf("\n");
		cli_print_object(rest);
	}
	json_decref(rest);
	json_decref(reply);
	return CLI_OK;
}

const struct cli_cmd cli_config_cmds[] = {
	{ "policy", "show", policy_show, "",
	  "The security policy: staged values, and running ones that differ." },
	{ "policy", "set", policy_set, "KEY=VALUE ...",
	  "Stage policy changes (all or nothing)." },
	{ "settings", "show", settings_show, "[SECTION]",
	  "A settings section (sip, guard, limits, ...), or the list." },
	{ "settings", "set", settings_set, "SECTION KEY=VALUE ...",
	  "Stage changes to a settings section (all or nothing)." },
	{ "passwd", "generate", passwd_generate, "--sip|--vm [--number N]",
	  "Generate a compliant SIP password or voicemail PIN." },
	{ "commit", NULL, commit, "[--dry-run]",
	  "Validate and apply every staged change." },
	{ "pending", NULL, pending, "", "The staged changes not committed yet." },
	{ "discard", NULL, discard, "", "Drop every staged change." },
	{ "licences", NULL, licences, "", "Licences used and their limits." },
	{ "status", NULL, status, "",
	  "Daemon, pending changes, dictionary, SIP and guard state "
	  "(--json: everything, for scripts)." },
	{ NULL, NULL, NULL, NULL, NULL },
};

/*
 * cmd_guard — 'bulwark bans', 'bans add|rm', 'trust add|list', 'events',
 * 'guard show|set'. Rows with a subcommand come before the one-word row of
 * the same name (the dispatcher takes the first match).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* "--for DURATION" anywhere in argv; the remaining positional argument in
 * *pos. Returns CLI_OK or a usage error. */
static int parse_for(struct cli *c, int argc, char **argv, const char **pos,
		     const char **dur)
{
	*pos = NULL;
	*dur = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--for")) {
			if (i + 1 >= argc)
				return cli_usage(c, "--for needs a duration "
						 "(90s, 10m, 2h, 7d)");
			*dur = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return cli_usage(c, "unknown option '%s'", argv[i]);
		} else if (!*pos) {
			*pos = argv[i];
		} else {
			return cli_usage(c, "unexpected argument '%s'", argv[i]);
		}
	}
	return CLI_OK;
}

static void fmt_left(char *buf, size_t sz, long long s)
{
	if (s >= 86400)
		snprintf(buf, sz, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, sz, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, sz, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, sz, "%llds", s);
}

static int bans_list(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "source", "reason", "extensions",
					    "count", "since", "time_left" };
	json_t *out = NULL, *rows;
	size_t i;
	json_t *b;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/bans", NULL, &out);
	if (rc != CLI_OK)
		goto done;
	if (c->json) {
		cli_print_json(out);
		goto done;
	}
	if (!json_array_size(out)) {
		printf("No source is banned.\n");
		goto done;
	}
	rows = json_array();
	json_array_foreach(out, i, b) {
		json_t *r = json_deep_copy(b);
		time_t since = (time_t)json_integer_value(
			json_object_get(b, "since"));
		struct tm tm;
		char tbuf[32], lbuf[32];

		gmtime_r(&since, &tm);
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%SZ", &tm);
		fmt_left(lbuf, sizeof(lbuf), json_integer_value(
			json_object_get(b, "time_left")));
		json_object_set_new(r, "since", json_string(tbuf));
		json_object_set_new(r, "time_left", json_string(lbuf));
		json_array_append_new(rows, r);
	}
	cli_print_table(rows, cols, 6);
	json_decref(rows);
 done:
	json_decref(out);
	return rc;
}

static int bans_add(struct cli *c, int argc, char **argv)
{
	const char *src, *dur;
	json_t *body, *out = NULL;
	int rc = parse_for(c, argc, argv, &src, &dur);

	if (rc)
		return rc;
	if (!src)
		return cli_usage(c, "which address? e.g. 'bans add 192.0.2.7'");
	body = json_pack("{s:s}", "source", src);
	if (dur)
		json_object_set_new(body, "for", json_string(dur));
	rc = cli_call(c, "POST", "/bans", body, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			printf("Banned %s.\n", src);
	}
	json_decref(body);
	json_decref(out);
	return rc;
}

static int bans_rm(struct cli *c, int argc, char **argv)
{
	json_t *body, *out = NULL;
	int rc;

	if (argc != 1)
		return cli_usage(c, "give exactly one address or prefix");
	body = json_pack("{s:s}", "source", argv[0]);
	rc = cli_call(c, "POST", "/bans/remove", body, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			printf("Unbanned %s.\n", argv[0]);
	}
	json_decref(body);
	json_decref(out);
	return rc;
}

static int trust_add(struct cli *c, int argc, char **argv)
{
	const char *net, *dur;
	json_t *body, *out = NULL;
	int rc = parse_for(c, argc, argv, &net, &dur);

	if (rc)
		return rc;
	if (!net)
		return cli_usage(c, "which network? e.g. 'trust add "
				 "192.0.2.0/24 --for 2h'");
	body = json_pack("{s:s}", "network", net);
	if (dur)
		json_object_set_new(body, "for", json_string(dur));
	rc = cli_call(c, "POST", "/trust", body, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			printf("Trusted %s%s%s: never banned%s.\n", net,
			       dur ? " for " : "", dur ? dur : "",
			       dur ? "" : " (until removed from the database)");
	}
	json_decref(body);
	json_decref(out);
	return rc;
}

static int trust_list(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "network", "expires_in", "source" };
	json_t *out = NULL;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/trust", NULL, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else if (!json_array_size(out))
			printf("No trusted network.\n");
		else
			cli_print_table(out, cols, 3);
	}
	json_decref(out);
	return rc;
}

static void print_event(const json_t *ev, bool json)
{
	static const char *const skip[] = { "id", "ts", "ts_ms", "type" };
	const char *key;
	json_t *v;

	if (json) {
		char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s)
			printf("%s\n", s);
		free(s);
		return;
	}
	printf("%s  %-18s", json_string_value(json_object_get(ev, "ts")),
	       json_string_value(json_object_get(ev, "type")));
	json_object_foreach((json_t *)ev, key, v) {
		bool sk = false;
		char *t;
		for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
			sk |= !strcmp(key, skip[i]);
		if (sk)
			continue;
		t = cli_value_text(v);
		printf(" %s=%s", key, t ? t : "");
		free(t);
	}
	printf("\n");
}

static int events(struct cli *c, int argc, char **argv)
{
	bool follow = false;
	long long after = 0;
	const char *type = NULL;
	int rc = CLI_OK;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f"))
			follow = true;
		else if (!strcmp(argv[i], "--type") && i + 1 < argc)
			type = argv[++i];
		else
			return cli_usage(c, "unexpected argument '%s'", argv[i]);
	}
	for (;;) {
		char path[160];
		json_t *out = NULL, *ev;
		size_t i;

		snprintf(path, sizeof(path), "/events?after=%lld&limit=1000",
			 after);
		if (type) {
			char *e = cli_escape(type);
			snprintf(path, sizeof(path),
				 "/events?after=%lld&limit=1000&type=%s", after,
				 e ? e : "");
			free(e);
		}
		rc = cli_call(c, "GET", path, NULL, &out);
		if (rc != CLI_OK)
			return rc;
		json_array_foreach(out, i, ev) {
			long long id = json_integer_value(
				json_object_get(ev, "id"));
			print_event(ev, c->json);
			if (id > after)
				after = id;
		}
		fflush(stdout);
		if (!follow && json_array_size(out) < 1000) {
			json_decref(out);
			break;
		}
		if (json_array_size(out) < 1000)
			usleep(500000);
		json_decref(out);
	}
	return rc;
}

static int guard_show(struct cli *c, int argc, char **argv)
{
	json_t *st = NULL, *set = NULL;
	int rc;

	if (argc > 0)
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	rc = cli_call(c, "GET", "/guard/status", NULL, &st);
	if (rc == CLI_OK)
		rc = cli_call(c, "GET", "/settings/guard", NULL, &set);
	if (rc != CLI_OK)
		goto out;
	if (c->json) {
		json_t *all = json_pack("{s:O,s:O}", "status", st,
					"settings", set);
		cli_print_json(all);
		json_decref(all);
		goto out;
	}
	printf("kernel offload: %s\n", json_string_value(
		json_object_get(st, "kernel_offload")));
	printf("bans now:       %lld\n", (long long)json_integer_value(
		json_object_get(st, "bans")));
	printf("\ncounters:\n");
	cli_print_object(json_object_get(st, "counters"));
	printf("\nsettings (running; staged changes need 'bulwark commit'):\n");
	cli_print_object(json_object_get(set, "running") ?
			 json_object_get(set, "running") : set);
 out:
	json_decref(st);
	json_decref(set);
	return rc;
}

static int guard_set(struct cli *c, int argc, char **argv)
{
	json_t *body, *out = NULL;
	int rc;

	if (argc < 1)
		return cli_usage(c, "give KEY=VALUE, e.g. fail_threshold=5");
	body = json_object();
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[64];
		if (!eq || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(key)) {
			json_decref(body);
			return cli_usage(c, "'%s' is not KEY=VALUE", argv[i]);
		}
		memcpy(key, argv[i], (size_t)(eq - argv[i]));
		key[eq - argv[i]] = 0;
		json_object_set_new(body, key, json_string(eq + 1));
	}
	rc = cli_call(c, "PATCH", "/settings/guard", body, &out);
	if (rc == CLI_OK) {
		if (c->json)
			cli_print_json(out);
		else
			printf("Staged. Run 'bulwark commit' to apply.\n");
	}
	json_decref(body);
	json_decref(out);
	return rc;
}

const struct cli_cmd cli_guard_cmds[] = {
	{ "bans", "add", bans_add, "SRC [--for DURATION]",
	  "Ban an address (IPv6: its prefix) now; default: escalating time." },
	{ "bans", "rm", bans_rm, "SRC", "Lift a ban now." },
	{ "bans", NULL, bans_list, "[--json]",
	  "Banned sources: reason, extensions tried, count, since, time left." },
	{ "trust", "add", trust_add, "CIDR [--for DURATION]",
	  "Never ban this network (for a while, or until removed)." },
	{ "trust", "list", trust_list, "", "Trusted networks." },
	{ "events", NULL, events, "[--follow] [--type TYPE] [--json]",
	  "Security events (auth failures, bans, scanners, alerts)." },
	{ "guard", "show", guard_show, "",
	  "Guard status (kernel offload, counters) and settings." },
	{ "guard", "set", guard_set, "KEY=VALUE ...",
	  "Stage guard settings (then 'bulwark commit')." },
	{ NULL, NULL, NULL, NULL, NULL },
};

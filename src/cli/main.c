/*
 * bulwark — the command-line tool. Global options, the command tables,
 * output helpers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"

#define DEFAULT_DATA "/var/lib/bulwark"
#ifndef BULWARK_VERSION
#define BULWARK_VERSION "unknown"
#endif

/* Every command table; add yours here. */
static const struct cli_cmd *const cli_tables[] = {
	cli_ext_cmds, cli_config_cmds, cli_sip_cmds, cli_guard_cmds,
	cli_firewall_cmds, cli_calls_cmds, cli_vm_cmds,
	cli_hotdesk_cmds,
	cli_trunk_cmds,   /* trunk (issue 15) */
};
#define N_TABLES (sizeof(cli_tables) / sizeof(cli_tables[0]))

static const struct cli_cmd *current;

static void usage(FILE *f)
{
	size_t t;
	const struct cli_cmd *c;

	fprintf(f,
"usage: bulwark [--data DIR] [--json]\n"
"               [--url https://ADDR:PORT --user admin:PW\n"
"                [--cacert FILE | --fingerprint sha256//PIN]]\n"
"               COMMAND [ARGS]\n"
"       bulwark help [COMMAND]      bulwark --version\n"
"\n"
"  --data DIR   data directory of the daemon (default " DEFAULT_DATA
", or $BULWARK_DATA);\n"
"               the CLI talks to DIR/control.sock\n"
"  --json       print JSON for scripts\n"
"  --url URL    talk to the TCP admin API instead: https://ADDR:PORT\n"
"               (bulwarkd --https) or http://ADDR:PORT ($BULWARK_URL)\n"
"  --user U:P   admin credential for --url ($BULWARK_USER)\n"
"  --cacert FILE  https: trust only this certificate (or CA), e.g. a copy\n"
"               of DATA/tls/admin.crt ($BULWARK_CACERT)\n"
"  --fingerprint sha256//PIN  https: accept exactly the server key that\n"
"               bulwarkd printed as \"public key\" ($BULWARK_FINGERPRINT)\n"
"\n"
"Commands:\n");
	for (t = 0; t < N_TABLES; t++)
		for (c = cli_tables[t]; c->name; c++)
			fprintf(f, "  %s%s%s %s\n", c->name, c->sub ? " " : "",
				c->sub ? c->sub : "", c->usage);
	fprintf(f,
"\nExit status: 0 done, 1 refused by the daemon (every finding printed),\n"
"2 usage error or daemon unreachable.\n");
}

int cli_usage(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bulwark: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (current)
		fprintf(stderr, "usage: bulwark %s%s%s %s\n", current->name,
			current->sub ? " " : "",
			current->sub ? current->sub : "", current->usage);
	return CLI_USAGE;
}

void cli_print_json(const json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;

	printf("%s\n", s ? s : "null");
	free(s);
}

char *cli_value_text(const json_t *v)
{
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		return strdup(buf);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		return strdup(buf);
	case JSON_TRUE:
		return strdup("yes");
	case JSON_FALSE:
		return strdup("no");
	case JSON_NULL:
		return strdup("-");
	case JSON_ARRAY: {
		size_t i, len = 0;
		const json_t *it;
		char *out = NULL;

		json_array_foreach(v, i, it) {
			char *t = cli_value_text(it);
			size_t tl = t ? strlen(t) : 0;
			char *o2 = realloc(out, len + tl + 2);

			if (!o2) {
				free(t);
				break;
			}
			out = o2;
			if (len)
				out[len++] = ',';
			if (t)
				memcpy(out + len, t, tl);
			len += tl;
			out[len] = '\0';
			free(t);
		}
		return out ? out : strdup("");
	}
	default:
		return json_dumps(v, JSON_COMPACT);
	}
}

void cli_print_table(const json_t *rows, const char *const *cols,
		     size_t ncols)
{
	size_t w[16] = { 0 }, i, k;
	const json_t *row;

	if (ncols > 16)
		ncols = 16;
	for (k = 0; k < ncols; k++)
		w[k] = strlen(cols[k]);
	json_array_foreach(rows, i, row) {
		for (k = 0; k < ncols; k++) {
			const json_t *v = json_object_get(row, cols[k]);
			char *t = v ? cli_value_text(v) : NULL;
			size_t l = t ? strlen(t) : 1;

			if (l > w[k])
				w[k] = l > 60 ? 60 : l;
			free(t);
		}
	}
	for (k = 0; k < ncols; k++) {
		const char *h = cols[k];
		size_t j;

		for (j = 0; h[j]; j++)
			putchar(toupper((unsigned char)h[j]) == '.' ? '.' :
				toupper((unsigned char)h[j]));
		if (k + 1 < ncols)
			printf("%*s", (int)(w[k] - strlen(h) + 2), "");
	}
	putchar('\n');
	json_array_foreach(rows, i, row) {
		for (k = 0; k < ncols; k++) {
			const json_t *v = json_object_get(row, cols[k]);
			char *t = v ? cli_value_text(v) : NULL;

			if (k + 1 < ncols)
				printf("%-*s  ", (int)w[k], t ? t : "-");
			else
				printf("%s", t ? t : "-");
			free(t);
		}
		putchar('\n');
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cli_print_object(const json_t *obj)
{
	const char **keys;
	const char *key;
	const json_t *v;
	size_t n = json_object_size(obj), i = 0, w = 0;

	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return;
	json_object_foreach((json_t *)obj, key, v) {
		keys[i++] = key;
		if (strlen(key) > w)
			w = strlen(key);
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 0; i < n; i++) {
		char *t = cli_value_text(json_object_get(obj, keys[i]));

		printf("%-*s  %s\n", (int)w, keys[i], t ? t : "-");
		free(t);
	}
	free(keys);
}

static const struct cli_cmd *find_cmd(const char *name, const char *sub)
{
	size_t t;
	const struct cli_cmd *c;

	for (t = 0; t < N_TABLES; t++)
		for (c = cli_tables[t]; c->name; c++)
			if (!strcmp(c->name, name) &&
			    (!c->sub || (sub && !strcmp(c->sub, sub))))
				return c;
	return NULL;
}

static bool known_name(const char *name)
{
	size_t t;
	const struct cli_cmd *c;

	for (t = 0; t < N_TABLES; t++)
		for (c = cli_tables[t]; c->name; c++)
			if (!strcmp(c->name, name))
				return true;
	return false;
}

static void usage_of(FILE *f, const char *name)
{
	size_t t;
	const struct cli_cmd *c;

	fprintf(f, "usage:\n");
	for (t = 0; t < N_TABLES; t++)
		for (c = cli_tables[t]; c->name; c++)
			if (!strcmp(c->name, name))
				fprintf(f, "  bulwark %s%s%s %s\n    %s\n",
					c->name, c->sub ? " " : "",
					c->sub ? c->sub : "", c->usage,
					c->help ? c->help : "");
}

/* --cacert / --fingerprint only mean something for an https URL; a pin
 * must be what bulwarkd printed (curl's "sha256//BASE64" form). */
static int tls_opts_check(const struct cli *c)
{
	bool https = c->url && !strncasecmp(c->url, "https://", 8);
	const char *p = c->pin;

	if ((c->cacert || c->pin) && !https) {
		fprintf(stderr, "bulwark: --cacert and --fingerprint need "
			"--url https://ADDR:PORT\n");
		return -1;
	}
	if (c->cacert && access(c->cacert, R_OK)) {
		fprintf(stderr, "bulwark: --cacert %s: cannot read it\n",
			c->cacert);
		return -1;
	}
	if (!p)
		return 0;
	/* one or more pins separated by ';', each sha256// + 44 base64 */
	for (;;) {
		size_t k;

		if (strncmp(p, "sha256//", 8))
			break;
		p += 8;
		for (k = 0; k < 44 && (isalnum((unsigned char)p[k]) ||
				       p[k] == '+' || p[k] == '/' ||
				       p[k] == '='); k++)
			;
		if (k != 44)
			break;
		p += 44;
		if (*p == '\0')
			return 0;
		if (*p++ != ';')
			break;
	}
	fprintf(stderr, "bulwark: --fingerprint: write the public key "
		"bulwarkd printed, sha256// and 44 base64 characters (the "
		"certificate's colon-separated SHA-256 is for browsers; use "
		"--cacert with the certificate file instead)\n");
	return -1;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	const struct cli_cmd *cmd;
	char **args;
	int i, n = 0, rc;

	c.data_dir = getenv("BULWARK_DATA");
	if (!c.data_dir || !*c.data_dir)
		c.data_dir = DEFAULT_DATA;
	c.url = getenv("BULWARK_URL");
	if (c.url && !*c.url)
		c.url = NULL;
	c.user = getenv("BULWARK_USER");
	c.cacert = getenv("BULWARK_CACERT");
	if (c.cacert && !*c.cacert)
		c.cacert = NULL;
	c.pin = getenv("BULWARK_FINGERPRINT");
	if (c.pin && !*c.pin)
		c.pin = NULL;

	/* --json may appear anywhere; the other global options come first. */
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return CLI_USAGE;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			c.json = true;
			continue;
		}
		args[n++] = argv[i];
	}
	for (i = 0; i < n && args[i][0] == '-'; i++) {
		const char *o = args[i];

		if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			usage(stdout);
			free(args);
			return CLI_OK;
		}
		if (!strcmp(o, "--version") || !strcmp(o, "-V")) {
			printf("bulwark %s\n", BULWARK_VERSION);
			free(args);
			return CLI_OK;
		}
		if (i + 1 >= n || (strcmp(o, "--data") && strcmp(o, "--url") &&
				   strcmp(o, "--user") && strcmp(o, "--cacert") &&
				   strcmp(o, "--fingerprint"))) {
			fprintf(stderr, "bulwark: unknown option '%s'\n", o);
			usage(stderr);
			free(args);
			return CLI_USAGE;
		}
		if (!strcmp(o, "--data"))
			c.data_dir = args[++i];
		else if (!strcmp(o, "--url"))
			c.url = args[++i];
		else if (!strcmp(o, "--cacert"))
			c.cacert = args[++i];
		else if (!strcmp(o, "--fingerprint"))
			c.pin = args[++i];
		else
			c.user = args[++i];
	}
	if (tls_opts_check(&c)) {
		free(args);
		return CLI_USAGE;
	}
	if (i >= n) {
		usage(stderr);
		free(args);
		return CLI_USAGE;
	}
	if (c.url) {
		size_t l = strlen(c.url);

		/* tolerate a trailing slash */
		while (l > 0 && c.url[l - 1] == '/')
			l--;
		c.url = strndup(c.url, l);
	}

	/* help [COMMAND]: what a Unix admin types first; needs no daemon */
	if (!strcmp(args[i], "help")) {
		rc = CLI_OK;
		if (i + 1 >= n)
			usage(stdout);
		else if (known_name(args[i + 1]))
			usage_of(stdout, args[i + 1]);
		else {
			fprintf(stderr, "bulwark: help: no command '%s'\n",
				args[i + 1]);
			usage(stderr);
			rc = CLI_USAGE;
		}
		free((char *)c.url);
		free(args);
		return rc;
	}
	cmd = find_cmd(args[i], i + 1 < n ? args[i + 1] : NULL);
	if (!cmd) {
		if (known_name(args[i]))
			usage_of(stderr, args[i]);
		else {
			fprintf(stderr, "bulwark: unknown command '%s'\n",
				args[i]);
			usage(stderr);
		}
		free((char *)c.url);
		free(args);
		return CLI_USAGE;
	}
	current = cmd;
	c.cmd_name = cmd->name;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	i += cmd->sub ? 2 : 1;
	if (i < n && (!strcmp(args[i], "--help") || !strcmp(args[i], "-h"))) {
		usage_of(stdout, cmd->name);
		rc = CLI_OK;
	} else {
		rc = cmd->run(&c, n - i, args + i);
	}
	curl_global_cleanup();
	if (c.url)
		free((char *)c.url);
	free(args);
	return rc;
}

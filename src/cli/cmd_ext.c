/*
 * cmd_ext — 'bulwark ext ...': extensions (staged; 'bulwark commit'
 * applies them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "model/model.h"

/* Print the report items of a successful reply that carry warnings. */
static void print_warnings(const json_t *reply)
{
	const json_t *w = json_object_get(reply, "warnings"), *it;
	size_t i;

	json_array_foreach(w, i, it) {
		const char *where = json_string_value(json_object_get(it, "where"));
		const char *field = json_string_value(json_object_get(it, "field"));

		fprintf(stderr, "warning: %s%s%s%s%s [%s]\n",
			where && *where ? where : "",
			where && *where ? ": " : "",
			field && *field ? field : "",
			field && *field ? ": " : "",
			json_string_value(json_object_get(it, "message")) ?: "",
			json_string_value(json_object_get(it, "rule")) ?: "?");
	}
}

static void print_generated(const json_t *gen)
{
	const char *key;
	const json_t *v;

	if (!json_object_size(gen))
		return;
	printf("Generated secrets (shown only now; store them safely):\n");
	json_object_foreach((json_t *)gen, key, v)
		printf("  %-16s %s\n", key, json_string_value(v) ?: "");
}

/* --set FIELD=VALUE into obj. */
static int add_set(struct cli *c, json_t *obj, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *field;

	if (!eq || eq == kv)
		return cli_usage(c, "--set wants FIELD=VALUE, got '%s'", kv);
	field = strndup(kv, (size_t)(eq - kv));
	if (!field)
		return CLI_USAGE;
	json_object_set_new(obj, field, json_string(eq + 1));
	free(field);
	return CLI_OK;
}

/* Options shared by add and edit. number_required: add. */
static int parse_ext_opts(struct cli *c, int argc, char **argv,
			  json_t *body, bool is_add)
{
	bool pw = false, gen_pw = false, pin = false, gen_pin = false;
	int i, rc;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--generate-password")) {
			gen_pw = true;
			json_object_set_new(body, "generate_password", json_true());
			continue;
		}
		if (!strcmp(o, "--generate-pin")) {
			gen_pin = true;
			json_object_set_new(body, "generate_pin", json_true());
			continue;
		}
		if (strcmp(o, "--type") && strcmp(o, "--name") &&
		    strcmp(o, "--password") && strcmp(o, "--vm-pin") &&
		    strcmp(o, "--set"))
			return cli_usage(c, "unknown option '%s'", o);
		if (!v)
			return cli_usage(c, "%s needs a value", o);
		i++;
		if (!strcmp(o, "--type")) {
			if (!is_add)
				return cli_usage(c, "the type of an extension "
						 "cannot change; remove and "
						 "add it again");
			json_object_set_new(body, "type", json_string(v));
		} else if (!strcmp(o, "--name")) {
			json_object_set_new(body, "name", json_string(v));
		} else if (!strcmp(o, "--password")) {
			pw = true;
			json_object_set_new(body, "auth.password", json_string(v));
		} else if (!strcmp(o, "--vm-pin")) {
			pin = true;
			json_object_set_new(body, "voicemail.pin", json_string(v));
		} else {
			rc = add_set(c, body, v);
			if (rc)
				return rc;
		}
	}
	if (pw && gen_pw)
		return cli_usage(c, "give either --password or "
				 "--generate-password, not both");
	if (pin && gen_pin)
		return cli_usage(c, "give either --vm-pin or --generate-pin, "
				 "not both");
	if (is_add && (!json_object_get(body, "type") ||
		       !json_object_get(body, "name")))
		return cli_usage(c, "--type and --name are required");
	return CLI_OK;
}

static int number_arg(struct cli *c, int argc, char **argv)
{
	if (argc < 1 || argv[0][0] == '-' || !argv[0][0])
		return cli_usage(c, "the extension NUMBER is required");
	return CLI_OK;
}

static char *ext_path(const char *number, const char *query)
{
	char *e = cli_escape(number), *p = NULL;
	size_t len;

	if (!e)
		return NULL;
	len = strlen(e) + strlen(query) + 8;
	p = malloc(len);
	if (p)
		snprintf(p, len, "/ext/%s%s", e, query);
	free(e);
	return p;
}

static int ext_add(struct cli *c, int argc, char **argv)
{
	json_t *body, *reply = NULL;
	int rc = number_arg(c, argc, argv);

	if (rc)
		return rc;
	body = json_pack("{s:s}", "number", argv[0]);
	rc = parse_ext_opts(c, argc, argv, body, true);
	if (rc)
		goto out;
	rc = cli_call(c, "POST", "/ext", body, &reply);
	if (rc)
		goto out;
	if (c->json) {
		cli_print_json(reply);
		goto out;
	}
	print_warnings(reply);
	printf("Staged: extension %s (%s). Run 'bulwark commit' to apply.\n",
	       argv[0], json_string_value(json_object_get(body, "type")));
	print_generated(json_object_get(reply, "generated"));
out:
	json_decref(body);
	json_decref(reply);
	return rc;
}

static int ext_edit(struct cli *c, int argc, char **argv)
{
	json_t *body, *reply = NULL;
	char *path = NULL;
	int rc = number_arg(c, argc, argv);

	if (rc)
		return rc;
	body = json_object();
	rc = parse_ext_opts(c, argc, argv, body, false);
	if (rc)
		goto out;
	if (!json_object_size(body)) {
		rc = cli_usage(c, "nothing to change: give --set FIELD=VALUE");
		goto out;
	}
	path = ext_path(argv[0], "");
	rc = path ? cli_call(c, "PATCH", path, body, &reply) : CLI_USAGE;
	if (rc)
		goto out;
	if (c->json) {
		cli_print_json(reply);
		goto out;
	}
	print_warnings(reply);
	printf("Staged: changes to extension %s. Run 'bulwark commit' to "
	       "apply.\n", argv[0]);
	print_generated(json_object_get(reply, "generated"));
out:
	free(path);
	json_decref(body);
	json_decref(reply);
	return rc;
}

/* --running / --staged / --reveal */
static int view_opts(struct cli *c, int argc, char **argv, int first,
		     bool allow_reveal, bool *running, bool *reveal)
{
	int i;

	for (i = first; i < argc; i++) {
		if (!strcmp(argv[i], "--running"))
			*running = true;
		else if (!strcmp(argv[i], "--staged"))
			*running = false;
		else if (allow_reveal && !strcmp(argv[i], "--reveal"))
			*reveal = true;
		else
			return cli_usage(c, "unexpected argument '%s'", argv[i]);
	}
	return CLI_OK;
}

static int ext_show(struct cli *c, int argc, char **argv)
{
	bool running = false, reveal = false;
	json_t *reply = NULL;
	char *path;
	char q[40];
	int rc = number_arg(c, argc, argv);

	if (rc)
		return rc;
	rc = view_opts(c, argc, argv, 1, true, &running, &reveal);
	if (rc)
		return rc;
	snprintf(q, sizeof(q), "?staged=%d%s", running ? 0 : 1,
		 reveal ? "&reveal=1" : "");
	path = ext_path(argv[0], q);
	rc = path ? cli_call(c, "GET", path, NULL, &reply) : CLI_USAGE;
	free(path);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		cli_print_object(reply);
	json_decref(reply);
	return CLI_OK;
}

static int ext_list(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "number", "type", "name" };
	bool running = false, reveal = false;
	json_t *reply = NULL;
	int rc = view_opts(c, argc, argv, 0, false, &running, &reveal);

	if (rc)
		return rc;
	rc = cli_call(c, "GET", running ? "/ext" : "/ext?staged=1", NULL,
		      &reply);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		cli_print_table(reply, cols, 3);
	json_decref(reply);
	return CLI_OK;
}

static int ext_rm(struct cli *c, int argc, char **argv)
{
	json_t *reply = NULL;
	char *path;
	int rc = number_arg(c, argc, argv);

	if (rc)
		return rc;
	if (argc > 1)
		return cli_usage(c, "unexpected argument '%s'", argv[1]);
	path = ext_path(argv[0], "");
	rc = path ? cli_call(c, "DELETE", path, NULL, &reply) : CLI_USAGE;
	free(path);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		printf("Staged: removal of extension %s. Run 'bulwark commit' "
		       "to apply.\n", argv[0]);
	json_decref(reply);
	return CLI_OK;
}

/* Columns of the generated-secrets table (bulk's "created", import's
 * "generated"). */
static const char *const secret_cols[] = { "number", "auth.password",
					   "voicemail.pin" };
#define SECRET_COLS (sizeof(secret_cols) / sizeof(secret_cols[0]))

/* --secrets-file PATH is created before anything is staged, so that a path
 * that cannot be written refuses the command rather than losing secrets
 * shown nowhere else; never an existing file or a symlink (written once),
 * mode 0600 whatever the umask: only the admin who ran it can read it. */
static int secrets_open(const char *path, FILE **fp)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		      O_CLOEXEC, 0600);

	if (fd < 0 || fchmod(fd, 0600)) {
		fprintf(stderr, "bulwark: --secrets-file %s: %s%s\n", path,
			strerror(errno), errno == EEXIST ? " (it is never "
			"overwritten: choose a new name)" : "");
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return CLI_USAGE;
	}
	*fp = fdopen(fd, "w");
	if (!*fp) {
		close(fd);
		unlink(path);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* CSV: a header, then one row per extension (empty cell: not generated).
 * Secrets are letters and digits: no quoting needed. */
static int secrets_write(FILE *f, const json_t *rows)
{
	const json_t *row;
	size_t i, k;

	for (k = 0; k < SECRET_COLS; k++)
		fprintf(f, "%s%s", k ? "," : "", secret_cols[k]);
	fputc('\n', f);
	json_array_foreach(rows, i, row) {
		for (k = 0; k < SECRET_COLS; k++) {
			const char *v = json_string_value(
				json_object_get(row, secret_cols[k]));

			fprintf(f, "%s%s", k ? "," : "", v ? v : "");
		}
		fputc('\n', f);
	}
	return fflush(f) || ferror(f) ? EIO : 0;
}

/* After the daemon answered: the secrets go to the file (or, if it was
 * refused or writing failed, are shown — they exist nowhere else). */
static void secrets_deliver(FILE *f, const char *path, bool staged,
			    const json_t *rows)
{
	int err;

	if (!f) {
		if (staged && json_array_size(rows)) {
			printf("Generated secrets (shown only now; store them "
			       "safely):\n");
			cli_print_table(rows, secret_cols, SECRET_COLS);
		}
		return;
	}
	if (!staged) {
		fclose(f);
		unlink(path);
		return;
	}
	err = secrets_write(f, rows);
	if (fclose(f) || err) {
		fprintf(stderr, "bulwark: writing %s failed; the secrets "
			"follow (shown only now):\n", path);
		cli_print_table(rows, secret_cols, SECRET_COLS);
		return;
	}
	printf("Generated secrets of %zu extensions written to %s (mode 0600, "
	       "only you can read it); hand them out, then delete it.\n",
	       json_array_size(rows), path);
}

static int ext_bulk(struct cli *c, int argc, char **argv)
{
	json_t *body = json_object(), *reply = NULL;
	const char *spath = NULL;
	FILE *sf = NULL;
	int i, rc = CLI_OK;

	for (i = 0; i < argc; i++) {
		const char *o = argv[i];

		if (strcmp(o, "--range") && strcmp(o, "--type") &&
		    strcmp(o, "--template") && strcmp(o, "--secrets-file")) {
			rc = cli_usage(c, "unexpected argument '%s'", o);
			goto out;
		}
		if (i + 1 >= argc) {
			rc = cli_usage(c, "%s needs a value", o);
			goto out;
		}
		if (!strcmp(o, "--secrets-file"))
			spath = argv[++i];
		else
			json_object_set_new(body, o + 2,
					    json_string(argv[++i]));
	}
	if (!json_object_get(body, "range") || !json_object_get(body, "type")) {
		rc = cli_usage(c, "--range A-B and --type TYPE are required");
		goto out;
	}
	if (spath && (rc = secrets_open(spath, &sf)))
		goto out;
	rc = cli_call(c, "POST", "/ext/bulk", body, &reply);
	if (c->json && !rc && !sf)
		cli_print_json(reply);
	else if (!rc)
		printf("Staged: %zu extensions (%s). Run 'bulwark commit' to "
		       "apply.\n",
		       json_array_size(json_object_get(reply, "created")),
		       json_string_value(json_object_get(body, "range")));
	if (!c->json || sf)
		secrets_deliver(sf, spath, rc == CLI_OK,
				json_object_get(reply, "created"));
out:
	json_decref(body);
	json_decref(reply);
	return rc;
}

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0, r;
	char *buf = malloc(cap), *b2;

	if (!buf)
		return NULL;
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			if (cap >= (64u << 20)) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			b2 = realloc(buf, cap * 2);
			if (!b2) {
				free(buf);
				return NULL;
			}
			buf = b2;
			cap *= 2;
		}
	}
	if (ferror(f)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static int ext_import(struct cli *c, int argc, char **argv)
{
	FILE *f, *sf = NULL;
	char *csv, *reply = NULL;
	const char *spath = NULL;
	size_t len = 0, rlen = 0;
	json_t *j;
	int rc;

	if (argc == 3 && !strcmp(argv[1], "--secrets-file")) {
		spath = argv[2];
		argc = 1;
	} else if (argc == 3 && !strcmp(argv[0], "--secrets-file")) {
		spath = argv[1];
		argv += 2;
		argc = 1;
	}
	if (argc != 1)
		return cli_usage(c, "give one CSV file (or - for stdin)");
	f = strcmp(argv[0], "-") ? fopen(argv[0], "rb") : stdin;
	if (!f) {
		fprintf(stderr, "bulwark: cannot open %s: %s\n", argv[0],
			strerror(errno));
		return CLI_USAGE;
	}
	csv = read_all(f, &len);
	if (f != stdin)
		fclose(f);
	if (!csv) {
		fprintf(stderr, "bulwark: cannot read %s: %s\n", argv[0],
			strerror(errno));
		return CLI_USAGE;
	}
	if (spath && (rc = secrets_open(spath, &sf))) {
		free(csv);
		return rc;
	}
	rc = cli_call_raw(c, "POST", "/ext/import", "text/csv", csv, len,
			  &reply, &rlen);
	free(csv);
	if (rc) {
		secrets_deliver(sf, spath, false, NULL);
		return rc;
	}
	j = json_loadb(reply, rlen, 0, NULL);
	if (c->json && !sf) {
		cli_print_json(j);
	} else {
		print_warnings(j);
		printf("Staged: %" JSON_INTEGER_FORMAT " extensions from %s. "
		       "Run 'bulwark commit' to apply.\n",
		       json_integer_value(json_object_get(j, "staged")),
		       argv[0]);
		secrets_deliver(sf, spath, true,
				json_object_get(j, "generated"));
	}
	json_decref(j);
	free(reply);
	return CLI_OK;
}

static const char *kind_word(enum model_kind k)
{
	static const char *const w[] = {
		[MODEL_BOOL] = "bool", [MODEL_INT] = "int",
		[MODEL_STRING] = "text", [MODEL_ENUM] = "choice",
		[MODEL_LIST] = "list", [MODEL_SECRET] = "secret",
	};

	return (size_t)k < sizeof(w) / sizeof(w[0]) && w[k] ? w[k] : "?";
}

/* One row of 'ext fields', from the model's table (the same table the
 * daemon validates with, so the list cannot drift from the rules). */
static json_t *field_row(const struct model_field *f)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "field",
			      f->name, "tab", model_tab_name(f->tab), "kind",
			      kind_word(f->kind), "default", f->def ? f->def :
			      "", "label", f->label ? f->label : "", "help",
			      f->help ? f->help : "", "required", f->required);
	json_t *types = json_array(), *ch = json_array();

	for (int t = 0; t < MODEL_TYPE_COUNT; t++)
		if (model_type_has((enum model_type)t, f))
			json_array_append_new(types, json_string(
				model_type_name((enum model_type)t)));
	for (const char *const *c = f->choices; c && *c; c++)
		json_array_append_new(ch, json_string(*c));
	json_object_set_new(o, "types", types);
	json_object_set_new(o, "choices", ch);
	if (f->kind == MODEL_INT || f->max) {
		json_object_set_new(o, "min", json_integer(f->min));
		json_object_set_new(o, "max", json_integer(f->max));
	}
	return o;
}

static int ext_fields(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "field", "tab", "kind",
					    "default", "label" };
	enum model_type t = MODEL_SIP;
	bool by_type = false;
	json_t *rows;

	if (argc == 2 && !strcmp(argv[0], "--type")) {
		if (model_type_parse(argv[1], &t))
			return cli_usage(c, "--type: '%s' is not a type (sip "
					 "iax2 zap voicemail hotdesk virtual "
					 "ring_group shared)", argv[1]);
		by_type = true;
	} else if (argc) {
		return cli_usage(c, "unexpected argument '%s'", argv[0]);
	}
	rows = json_array();
	if (!rows)
		return CLI_USAGE;
	for (size_t i = 0; i < model_field_count; i++)
		if (!by_type || model_type_has(t, &model_fields[i]))
			json_array_append_new(rows, field_row(&model_fields[i]));
	if (c->json)
		cli_print_json(rows);
	else
		cli_print_table(rows, cols, sizeof(cols) / sizeof(cols[0]));
	json_decref(rows);
	return CLI_OK;
}

static int ext_export(struct cli *c, int argc, char **argv)
{
	bool running = false, reveal = false;
	char *csv = NULL;
	size_t len = 0;
	int rc = view_opts(c, argc, argv, 0, false, &running, &reveal);

	if (rc)
		return rc;
	rc = cli_call_raw(c, "GET", running ? "/ext/export" :
			  "/ext/export?staged=1", NULL, NULL, 0, &csv, &len);
	if (rc)
		return rc;
	fwrite(csv, 1, len, stdout);
	free(csv);
	return CLI_OK;
}

const struct cli_cmd cli_ext_cmds[] = {
	{ "ext", "add", ext_add,
	  "NUMBER --type TYPE --name \"First Last\" [--password P | "
	  "--generate-password] [--vm-pin N | --generate-pin] "
	  "[--set FIELD=VALUE ...]",
	  "Stage a new extension." },
	{ "ext", "edit", ext_edit,
	  "NUMBER [--set FIELD=VALUE ...] [--name N] [--password P | "
	  "--generate-password] [--vm-pin N | --generate-pin]",
	  "Stage changes to an extension." },
	{ "ext", "show", ext_show, "NUMBER [--reveal] [--running]",
	  "Every field of one extension (staged view unless --running)." },
	{ "ext", "list", ext_list, "[--running]",
	  "All extensions (staged view unless --running)." },
	{ "ext", "rm", ext_rm, "NUMBER", "Stage the removal of an extension." },
	{ "ext", "bulk", ext_bulk,
	  "--range A-B --type TYPE [--template NUMBER] [--secrets-file PATH]",
	  "Stage many extensions with generated secrets (shown once, or "
	  "written to a new 0600 file)." },
	{ "ext", "import", ext_import, "FILE.csv [--secrets-file PATH]",
	  "Stage extensions from CSV; one bad row imports nothing. Secrets "
	  "generated for new rows are shown once, or written to a new 0600 "
	  "file." },
	{ "ext", "export", ext_export, "[--running]",
	  "Print every extension as CSV (no secrets)." },
	{ "ext", "fields", ext_fields, "[--type TYPE]",
	  "Every field (of one type): name, tab, kind, default, label; "
	  "--json adds types, bounds, choices and help." },
	{ NULL, NULL, NULL, NULL, NULL },
};

/*
 * cmd_vm — 'bulwark vm': the administrator's view of a mailbox through
 * the API (api/routes_vm.c): list its messages and state, unlock it after
 * PIN failures, download or delete a message. The daemon checks the
 * number and the id; a refusal is printed as it answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* "/voicemail/EXT" or "/voicemail/EXT/ID" (segments escaped); malloc'd */
static char *vm_path(const char *ext, const char *id)
{
	char *e = cli_escape(ext), *i = id ? cli_escape(id) : NULL, *p = NULL;

	if (e && (!id || i) &&
	    asprintf(&p, "/voicemail/%s%s%s", e, id ? "/" : "",
		     id ? i : "") < 0)
		p = NULL;
	free(e);
	free(i);
	return p;
}

static json_t *time_text(json_int_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[48];

	if (ms <= 0 || !gmtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm))
		return json_string("-");
	return json_string(buf);
}

static int vm_list(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = { "id", "folder", "time", "caller",
					    "caller_name", "seconds",
					    "copy_of" };
	json_t *reply = NULL, *rows, *m, *st;
	char *path;
	size_t i;
	int rc;

	if (argc != 1)
		return cli_usage(c, "give one extension number");
	path = vm_path(argv[0], NULL);
	if (!path)
		return CLI_USAGE;
	rc = cli_call(c, "GET", path, NULL, &reply);
	free(path);
	if (rc)
		return rc;
	if (c->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_OK;
	}
	st = json_object_get(reply, "state");
	printf("Mailbox %s: %lld new, %lld saved; ", argv[0],
	       (long long)json_integer_value(json_object_get(reply, "new")),
	       (long long)json_integer_value(json_object_get(reply, "saved")));
	if (json_is_true(json_object_get(st, "locked"))) {
		json_t *u = time_text(json_integer_value(json_object_get(st,
							 "locked_until")));

		printf("LOCKED until %s (bulwark vm unlock %s)",
		       json_string_value(u), argv[0]);
		json_decref(u);
	} else {
		printf("not locked");
	}
	printf("; %lld PIN failure(s) in a row; %s\n",
	       (long long)json_integer_value(json_object_get(st, "fails")),
	       json_is_true(json_object_get(st, "initialised")) ?
	       "initialised" : "first login not done");
	rows = json_array();
	json_array_foreach(json_object_get(reply, "messages"), i, m) {
		json_t *r = json_copy(m);

		json_object_set_new(r, "time", time_text(json_integer_value(
			json_object_get(m, "time_ms"))));
		json_object_set_new(r, "seconds", json_integer(
			json_integer_value(json_object_get(m, "duration_ms")) /
			1000));
		json_array_append_new(rows, r);
	}
	if (json_array_size(rows))
		cli_print_table(rows, cols, sizeof(cols) / sizeof(cols[0]));
	else
		printf("No messages.\n");
	json_decref(rows);
	json_decref(reply);
	return CLI_OK;
}

static int vm_unlock(struct cli *c, int argc, char **argv)
{
	json_t *reply = NULL;
	char *path, *full = NULL;
	int rc;

	if (argc != 1)
		return cli_usage(c, "give one extension number");
	path = vm_path(argv[0], NULL);
	if (!path || asprintf(&full, "%s/unlock", path) < 0) {
		free(path);
		return CLI_USAGE;
	}
	free(path);
	rc = cli_call(c, "POST", full, NULL, &reply);
	free(full);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		printf("Mailbox %s unlocked; its PIN failures are reset.\n",
		       argv[0]);
	json_decref(reply);
	return CLI_OK;
}

static int vm_get(struct cli *c, int argc, char **argv)
{
	const char *out = NULL;
	char *path, *body = NULL;
	size_t len = 0, off = 0;
	int i, fd, rc;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else
			return cli_usage(c, "unknown argument '%s'", argv[i]);
	}
	if (argc < 2 || !out)
		return cli_usage(c, "give EXT ID -o FILE");
	path = vm_path(argv[0], argv[1]);
	if (!path)
		return CLI_USAGE;
	rc = cli_call_raw(c, "GET", path, NULL, NULL, 0, &body, &len);
	free(path);
	if (rc)
		return rc;
	/* a new file only, never through a symlink: a message is private */
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		fprintf(stderr, "bulwark: %s: %s (the file must not exist)\n",
			out, strerror(errno));
		free(body);
		return CLI_USAGE;
	}
	while (off < len) {
		ssize_t n = write(fd, body + off, len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(body);
	if (close(fd) || off < len) {
		fprintf(stderr, "bulwark: %s: could not write the message\n",
			out);
		unlink(out);
		return CLI_USAGE;
	}
	if (!c->json)
		printf("Message %s of %s written to %s (%zu bytes).\n",
		       argv[1], argv[0], out, len);
	return CLI_OK;
}

static int vm_delete(struct cli *c, int argc, char **argv)
{
	json_t *reply = NULL;
	char *path;
	int rc;

	if (argc != 2)
		return cli_usage(c, "give EXT ID");
	path = vm_path(argv[0], argv[1]);
	if (!path)
		return CLI_USAGE;
	rc = cli_call(c, "DELETE", path, NULL, &reply);
	free(path);
	if (rc)
		return rc;
	if (c->json)
		cli_print_json(reply);
	else
		printf("Message %s of %s deleted.\n", argv[1], argv[0]);
	json_decref(reply);
	return CLI_OK;
}

const struct cli_cmd cli_vm_cmds[] = {
	{ "vm", "list", vm_list, "EXT [--json]",
	  "A mailbox's messages (oldest first) and its state: locked, PIN "
	  "failures, first login done." },
	{ "vm", "unlock", vm_unlock, "EXT",
	  "End a mailbox's PIN lock and reset its failures." },
	{ "vm", "get", vm_get, "EXT ID -o FILE",
	  "Download a message (WAV) into a new file FILE (0600)." },
	{ "vm", "delete", vm_delete, "EXT ID",
	  "Delete a message (the phone's message light follows)." },
	{ NULL, NULL, NULL, NULL, NULL },
};

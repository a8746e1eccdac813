/*
 * cli — the bulwark command-line tool. It talks HTTP/JSON to the daemon's
 * admin API: DATA/control.sock by default, or --url https://ADDR:PORT (or
 * http://) with --user admin:PASSWORD (env BULWARK_URL, BULWARK_USER) and,
 * for https, --cacert FILE / --fingerprint sha256//PIN (env
 * BULWARK_CACERT, BULWARK_FINGERPRINT).
 *
 * Commands are rows of tables (STYLE.md: dispatch tables): each cmd_*.c
 * exports one table, terminated by a row whose name is NULL, and main.c
 * lists the tables. To add commands: add rows to your file's table.
 *
 * Exit codes: CLI_OK 0, CLI_REFUSED 1 (the daemon refused: every finding
 * printed), CLI_USAGE 2 (bad usage, or the daemon is unreachable).
 */
#ifndef BULWARK_CLI_H
#define BULWARK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum { CLI_OK = 0, CLI_REFUSED = 1, CLI_USAGE = 2 };

struct cli {
	const char *data_dir;    /* --data, BULWARK_DATA, /var/lib/bulwark */
	const char *url;         /* --url or BULWARK_URL; NULL = control.sock */
	const char *user;        /* --user admin:PW or BULWARK_USER */
	const char *cacert;      /* --cacert FILE: trust only this (https) */
	const char *pin;         /* --fingerprint sha256//BASE64 (https) */
	bool json;               /* --json: print raw JSON for scripts */
	const char *cmd_name;    /* for usage messages */
};

struct cli_cmd {
	const char *name;        /* "ext" */
	const char *sub;         /* "add", or NULL for a one-word command */
	/* argv[0] is the first argument after the (sub)command name.
	 * Returns CLI_OK / CLI_REFUSED / CLI_USAGE. */
	int (*run)(struct cli *c, int argc, char **argv);
	const char *usage;       /* arguments, e.g. "NUMBER [--reveal]" */
	const char *help;        /* one sentence */
};

extern const struct cli_cmd cli_ext_cmds[];       /* cmd_ext.c */
extern const struct cli_cmd cli_config_cmds[];    /* cmd_config.c */
extern const struct cli_cmd cli_sip_cmds[];       /* cmd_sip.c */
extern const struct cli_cmd cli_guard_cmds[];     /* cmd_guard.c */
extern const struct cli_cmd cli_firewall_cmds[];  /* cmd_firewall.c */
extern const struct cli_cmd cli_calls_cmds[];     /* cmd_calls.c */
extern const struct cli_cmd cli_vm_cmds[];        /* cmd_vm.c */
extern const struct cli_cmd cli_hotdesk_cmds[];   /* cmd_hotdesk.c */
extern const struct cli_cmd cli_trunk_cmds[];     /* cmd_trunk.c (issue 15) */

/* --- client.c: talking to the daemon --- */

/* One API call. method "GET"...; path below /api/v1 (caller URL-escapes
 * path segments with cli_escape). body may be NULL. On a 2xx answer *out
 * (if non-NULL) is the parsed JSON reply (or NULL if none) and CLI_OK is
 * returned. On a 4xx/5xx answer the error and every finding are printed
 * to stderr (or the JSON to stdout with --json) and CLI_REFUSED is
 * returned. If the daemon cannot be reached, says so and returns
 * CLI_USAGE. */
int cli_call(struct cli *c, const char *method, const char *path,
	     const json_t *body, json_t **out);

/* Same with a raw body and raw reply (CSV). ctype may be NULL.
 * *out is malloc'd and NUL-terminated on CLI_OK (caller frees). */
int cli_call_raw(struct cli *c, const char *method, const char *path,
		 const char *ctype, const char *body, size_t len,
		 char **out, size_t *out_len);

/* Print an API error reply {"error","errors":[...]} to stderr. */
void cli_print_error(const json_t *err);

/* URL-escape one path segment or query value; malloc'd, or NULL. */
char *cli_escape(const char *s);

/* --- output helpers (main.c) --- */

/* Print JSON (pretty, with a newline) to stdout. */
void cli_print_json(const json_t *j);

/* Print an array of objects as a table with the given columns (keys);
 * headers are the keys upper-cased. Missing values print as "-". */
void cli_print_table(const json_t *rows, const char *const *cols,
		     size_t ncols);

/* Print "key  value" lines for a flat object, keys sorted. */
void cli_print_object(const json_t *obj);

/* Text of a JSON scalar/array for a table cell; malloc'd. */
char *cli_value_text(const json_t *v);

/* Usage error for the current command: prints msg and the command's usage
 * line to stderr; returns CLI_USAGE. */
int cli_usage(struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif

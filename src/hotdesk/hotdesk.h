/*
 * hotdesk — the hotdesk application (issue 13): a person whose extension
 * is of type hotdesk logs in at a physical phone (*55: the hotdesk
 * number, then its hotdesk.pin) and from then calls to the hotdesk number
 * ring that phone and the phone's calls carry the hotdesk identity, until
 * *56 at that phone, a log-in elsewhere, another user's log-in at that
 * phone, or the "hotdesk" section's time bounds.
 *
 * On the SIP loop thread: the service (call/svc.h, ROUTE_SVC_HOTDESK) on
 * a media endpoint of its own, the log-in table (hdtab.h) the call layer
 * asks through its hotdesk hook (call/call.h call_set_hotdesk). The PIN
 * check, the failure accounting and the table's copy at rest
 * (store/hdstore.h) run on a worker thread. Rules: docs/internals/
 * hotdesk.md; what a user hears and presses: docs/admin/calls.md,
 * "Hotdesk".
 *
 * Include libre's headers (re_types.h, re_sa.h) and jansson first.
 */
#ifndef BULWARK_HOTDESK_H
#define BULWARK_HOTDESK_H

#include <stdint.h>

struct hotdesk;
struct call_app;
struct store;
struct hdstore;
struct snapshot;
struct store_section;

/* The "hotdesk" settings section, typed (snapshot_typed(snap,
 * "hotdesk")). */
struct hotdesk_settings {
	uint32_t max_minutes;     /* a log-in lapses this long after it
				   * (1..43200; default 720 = 12 h) */
	uint32_t idle_minutes;    /* ... or this long after the last call
				   * made or received there (0 = off) */
};
extern const struct store_section hotdesk_section;

struct hotdesk_conf {
	struct call_app *calls;
	struct store *store;       /* the PIN check */
	struct hdstore *hs;        /* log-ins and failures at rest */
	const char *prompt_dir;    /* NULL: PROMPT_DIR_DEFAULT */
	const char *prompt_override;  /* the admin's (DATA/prompts), NULL */
	unsigned max_sessions;     /* 0: 32 */
	unsigned max_logins;       /* 0: 4096 */
	/* On the loop thread: ban a source that tried PINs on many hotdesk
	 * extensions; report a security event (hotdesk_pin_failed,
	 * hotdesk_locked; takes fields). Either may be NULL. */
	void (*ban)(const char *src, void *arg);
	void (*event)(const char *type, json_t *fields, void *arg);
	void *arg;
};

/* Reads the log-ins kept at rest (before the loop runs: synchronous),
 * registers the service and the call layer's hotdesk hook. 0 or an
 * errno. */
int hotdesk_alloc(struct hotdesk **hp, const struct hotdesk_conf *conf,
		  const struct snapshot *snap);
/* Ends every hotdesk call, unregisters. NULL-safe; returns NULL. Before
 * call_close. */
struct hotdesk *hotdesk_free(struct hotdesk *h);

/* A new running configuration (loop thread): the time bounds; log-ins of
 * numbers that are no longer hotdesk extensions, or at phones that are
 * gone, end. */
void hotdesk_snapshot(struct hotdesk *h, const struct snapshot *snap);

/* The administrator logs hotdesk extension number out (loop thread);
 * the phone it was at into phone (24 bytes). 0, or ENOENT (not logged
 * in). */
int hotdesk_logout(struct hotdesk *h, const char *number, char *phone);

/* The log-ins now (loop thread): array of {number, name, phone,
 * login_ms, used_ms, lapses_ms}, by number. New reference. */
json_t *hotdesk_list(struct hotdesk *h);

#endif

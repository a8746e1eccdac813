/*
 * vmapp — the voicemail application: the calls the PBX answers for a
 * mailbox (leaving a message, *97 and *98 access, the first login, the
 * owner's menus), on the call layer's service hook (call/svc.h) and the
 * media endpoint (media/endpoint.h). Everything on the SIP loop thread;
 * disk and database work on its worker (vmwork.h). What callers hear and
 * press: docs/admin/voicemail-menus.md; the rules: docs/internals/ * voicemail.md, "The application".
 *
 * Include libre's headers (re_types.h, re_sa.h) and jansson first.
 */
#ifndef BULWARK_VMAPP_H
#define BULWARK_VMAPP_H

#include <stdint.h>

struct vmapp;
struct call_app;
struct store;
struct vmstore;
struct vmmail;

struct vmapp_conf {
	struct call_app *calls;
	struct store *store;       /* PIN checks and changes, settings */
	struct vmstore *vs;
	struct vmmail *mail;       /* may be NULL: no e-mail */
	const char *prompt_dir;    /* NULL: PROMPT_DIR_DEFAULT */
	const char *prompt_override;  /* the admin's (DATA/prompts), NULL */
	unsigned max_sessions;     /* 0: 128 */
	/* On the loop thread: ban a source that tried PINs on many
	 * mailboxes; report a security event (vm_pin_failed, vm_locked;
	 * takes fields). Either may be NULL. */
	void (*ban)(const char *src, void *arg);
	void (*event)(const char *type, json_t *fields, void *arg);
	void *arg;
};

/* Registers as the call layer's service. 0 or an errno. */
int vmapp_alloc(struct vmapp **ap, const struct vmapp_conf *conf);
/* Ends every voicemail call (a recording in progress is kept, as on a
 * hang-up) and unregisters. NULL-safe; returns NULL. Before call_close. */
struct vmapp *vmapp_free(struct vmapp *a);

/* A new running configuration (loop thread): the mailboxes of extensions
 * it no longer has are removed (messages, greetings, state) on the
 * worker. The first snapshot only records the extensions. */
struct snapshot;
void vmapp_snapshot(struct vmapp *a, const struct snapshot *snap);

struct vmapp_stats {
	unsigned live;             /* sessions now */
	uint64_t deposits;         /* messages kept */
	uint64_t logins;           /* correct PINs */
	uint64_t pin_failures;
	uint64_t refused;          /* calls refused: at max_sessions, no
				    * port, the worker's queue full */
};
void vmapp_stats(const struct vmapp *a, struct vmapp_stats *st);

#endif

/*
 * vmmail — voicemail to e-mail: a queue of notifications sent through the
 * SMTP smart relay of the "smtp" settings section (host, port, security
 * none / starttls / smtps, user, password sealed like other secrets,
 * from address) by a thread of its own with libcurl, never on the loop.
 *
 * A failed send is retried with a growing delay (1 min, 5 min, 30 min, then
 * every 2 h) up to VMMAIL_MAX_TRIES; each failure is counted, kept as the
 * last error in the status, and raised as a security/operations event
 * ("vm_mail_failed"). The queue is bounded (VMMAIL_QUEUE_MAX: more is
 * refused with ENOSPC and counted); it is in memory: a restart loses
 * pending mails (the messages themselves are kept in the mailbox unless
 * delete_after, which only happens after a successful send).
 *
 * Thread-safe: vmmail_send may be called from any thread.
 */
#ifndef BULWARK_VMMAIL_H
#define BULWARK_VMMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct vmmail;

#define VMMAIL_QUEUE_MAX 256
#define VMMAIL_MAX_TRIES 8

/* The relay, as decoded from the "smtp" section (password in clear in
 * memory only). host "" = e-mail off (vmmail_send refuses with ENOTCONN). */
struct vmmail_conf {
	char host[256];
	uint16_t port;             /* 25, 587 (starttls), 465 (smtps) */
	char security[12];         /* "none", "starttls", "smtps" */
	char user[128];
	char password[128];
	char from[256];            /* envelope and header From */
	bool verify_peer;          /* TLS certificate checked (default on) */
};

struct vmmail_msg {
	char to[256];
	char mailbox[24];
	char caller[32];
	char caller_name[64];
	int64_t time_ms;
	uint32_t duration_ms;
	char wav_path[512];        /* attached when attach; "" = none */
	bool attach;
	bool delete_after;         /* remove the message once sent (through
				    * the done callback) */
	char msg_id[40];
};

/* Called on the mail thread when a mail was sent (ok) or given up. */
typedef void (vmmail_done_h)(const struct vmmail_msg *m, bool ok, void *arg);
/* An event for the guard/event log, on the mail thread. */
typedef void (vmmail_event_h)(const char *type, json_t *fields, void *arg);

int vmmail_alloc(struct vmmail **mp, vmmail_done_h *done,
		 vmmail_event_h *ev, void *arg);
void vmmail_free(struct vmmail *m);        /* NULL-safe; joins the thread */
/* New relay settings (a commit); the queue keeps going. */
void vmmail_configure(struct vmmail *m, const struct vmmail_conf *conf);
/* Queues one notification. 0, ENOTCONN (no relay), ENOSPC (queue full),
 * EINVAL. */
int vmmail_send(struct vmmail *m, const struct vmmail_msg *msg);
/* {"configured":b,"queued":n,"sent":n,"failed":n,"given_up":n,
 *  "refused":n,"last_error":s|null,"last_error_at":ms|null}; failed
 * counts failed attempts, given_up mails abandoned after the last try.
 * A new reference. */
json_t *vmmail_status(struct vmmail *m);
/* Replace the retry delays (n of them, the last repeating; for tests and
 * tuning — the daemon keeps the default 1 min, 5 min, 30 min, 2 h).
 * 0 or EINVAL. */
int vmmail_set_delays(struct vmmail *m, const uint32_t *ms, size_t n);

/* The "smtp" settings section (vmmail_conf.c): its table and the
 * callbacks of a struct store_section (defaults, set, validate, decode
 * into struct vmmail_conf). Findings name the field ("smtp.port") and the
 * rule ("smtp.range", "smtp.choice", "smtp.host", "smtp.address", ...). */
struct settings_table;
struct report;
extern const struct settings_table vmmail_smtp_table;
json_t *vmmail_smtp_defaults(void);
int vmmail_smtp_set(json_t *obj, const char *key, const char *value,
		    struct report *r);
int vmmail_smtp_validate(const json_t *obj, struct report *r);
void vmmail_smtp_decode(const json_t *obj, void *out);
/* The section as registered with the store (password a secret key). */
struct store_section;
extern const struct store_section vmmail_smtp_section;

#endif

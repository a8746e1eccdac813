/*
 * hdstore — hotdesk at rest (issue 13): who is logged in at which phone,
 * each hotdesk extension's PIN failures and lock, the PIN failures per
 * source (tables of migration 10, owner "hotdesk"), and the check of a
 * hotdesk PIN against the sealed hotdesk.pin of the running row.
 *
 * hdstore_* are synchronous and thread-safe (one SQLite connection of
 * their own behind a mutex), called from the hotdesk worker thread and
 * at start-up, never from the SIP loop. The PIN rules are the voicemail
 * PIN's (docs/internals/voicemail.md): HD_PIN_FAILS wrong PINs in a row
 * lock the extension for 60 s << lock_level (capped at 24 h); a source
 * that failed on HD_SRC_NUMBERS different hotdesk extensions within
 * HD_SRC_WINDOW_MS is reported for a ban. Numbers are digits (1-23).
 */
#ifndef BULWARK_HDSTORE_H
#define BULWARK_HDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct hdstore;

#define HD_NUM_MAX        24
#define HD_PIN_FAILS      3
#define HD_SRC_NUMBERS    3
#define HD_SRC_WINDOW_MS  (3600 * 1000)

/* A hotdesk PIN typed at a phone: *ok when number is a running hotdesk
 * extension whose hotdesk.pin is pin (compared in constant time over a
 * fixed length); *exists when number is a running hotdesk extension with
 * a PIN at all. 0, or an errno (store failure: *ok false). The PIN is
 * never logged nor kept. */
int store_hotdesk_pin_check(struct store *s, const char *number,
			    const char *pin, bool *exists, bool *ok);

/* Opens DATA/bulwark.db (migrated by the store). 0 or errno. */
int hdstore_open(struct hdstore **hp, const char *db_path);
void hdstore_close(struct hdstore *h);     /* NULL-safe */

struct hd_login {
	char number[HD_NUM_MAX];   /* the hotdesk extension */
	char phone[HD_NUM_MAX];    /* the physical extension it is at */
	int64_t login_ms;          /* unix ms */
	int64_t used_ms;           /* last call made or received */
};

/* number logs in at phone: any row of number, and any row at phone,
 * is replaced (one user per phone, one phone per user). 0 or errno. */
int hdstore_login_put(struct hdstore *h, const struct hd_login *l);
/* number logs out (no row: 0). */
int hdstore_login_del(struct hdstore *h, const char *number);
/* Every row, fn per row. 0, or EIO. */
int hdstore_login_each(struct hdstore *h,
		       void (*fn)(const struct hd_login *l, void *arg),
		       void *arg);

struct hd_state {
	unsigned fails;            /* wrong PINs in a row */
	unsigned lock_level;       /* locks so far (escalation) */
	int64_t locked_until;      /* unix ms, 0 = not locked */
};

struct hd_failres {
	bool locked;               /* this failure locked the extension */
	int64_t locked_until;
	unsigned fails;
	unsigned src_numbers;      /* distinct hotdesk extensions this
				    * source failed on within the window */
};

/* A number never seen has every field zero. */
int hdstore_state_get(struct hdstore *h, const char *number,
		      struct hd_state *st);
/* A wrong PIN for number from src_ip (text), at now_ms. */
int hdstore_pin_fail(struct hdstore *h, const char *number,
		     const char *src_ip, int64_t now_ms,
		     struct hd_failres *res);
/* A right PIN: fails and lock reset. */
int hdstore_pin_ok(struct hdstore *h, const char *number);

#endif

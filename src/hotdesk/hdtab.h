/*
 * hdtab — the hotdesk log-in table (issue 13): which hotdesk extension is
 * logged in at which phone, since when, last used when. Pure (no I/O, no
 * locks, no libre): the hotdesk application keeps one on the SIP loop
 * and mirrors every change to the store (store/hdstore.h); tests/unit/
 * test_hotdesk.c drives it with a clock of its own.
 *
 * Rules: one phone per hotdesk extension and one hotdesk extension per
 * phone — a log-in replaces both the extension's earlier place and the
 * phone's earlier user. The table holds at most `max` entries, fixed at
 * creation; a log-in beyond that is refused (ENOSPC), never an eviction.
 * An entry lapses max_ms after its log-in, or idle_ms after its last use
 * (0: that bound is off).
 */
#ifndef BULWARK_HDTAB_H
#define BULWARK_HDTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HDTAB_NUM 24

struct hdtab_entry {
	char number[HDTAB_NUM];   /* the hotdesk extension */
	char phone[HDTAB_NUM];    /* the physical extension */
	int64_t login_ms;         /* unix ms */
	int64_t used_ms;          /* last call made or received */
};

struct hdtab {
	struct hdtab_entry *e;    /* n used of max */
	size_t n, max;
};

/* An empty table for at most max entries (1..65536). 0, EINVAL, ENOMEM. */
int hdtab_init(struct hdtab *t, size_t max);
/* Frees the entries; the table is empty and unusable. NULL-safe. */
void hdtab_reset(struct hdtab *t);

/* number logs in at phone at now_ms. *gone (may be NULL) gets what it
 * replaced: gone[0] the number's earlier place (number moved), gone[1]
 * the phone's earlier user (logged out by this); each with number[0]
 * == '\0' when there was none. 0, EINVAL (a number or phone that is not
 * 1-23 digits), ENOSPC (the table is full). */
int hdtab_login(struct hdtab *t, const char *number, const char *phone,
		int64_t now_ms, struct hdtab_entry gone[2]);
/* The entry of hotdesk extension number / of phone, or NULL. Valid until
 * the next change. */
const struct hdtab_entry *hdtab_of_number(const struct hdtab *t,
					  const char *number);
const struct hdtab_entry *hdtab_at_phone(const struct hdtab *t,
					 const char *phone);
/* Removes number's entry (copied to *out when not NULL). false: none. */
bool hdtab_logout(struct hdtab *t, const char *number,
		  struct hdtab_entry *out);
/* number made or received a call at now_ms (idle bound). */
void hdtab_touch(struct hdtab *t, const char *number, int64_t now_ms);
/* Removes the entries that lapsed at now_ms (max_ms, idle_ms: 0 = off),
 * calling fn (may be NULL) with each before it goes. Returns how many. */
size_t hdtab_expire(struct hdtab *t, int64_t now_ms, int64_t max_ms,
		    int64_t idle_ms,
		    void (*fn)(const struct hdtab_entry *e, void *arg),
		    void *arg);
/* When the next entry lapses (unix ms), 0 when none will. */
int64_t hdtab_next_lapse(const struct hdtab *t, int64_t max_ms,
			 int64_t idle_ms);

#endif

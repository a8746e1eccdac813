/*
 * campon_tab — the camp-on requests (a caller waiting for a busy
 * extension to free) and the "last busy" memory that lets *82 alone name
 * the extension: a pure, bounded table, its time given by the caller
 * (tests/unit/test_campon.c). The application around it is campon.c;
 * the rules: docs/admin/calls.md, "Camp-on".
 */
#ifndef BULWARK_CAMPON_TAB_H
#define BULWARK_CAMPON_TAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAMPON_MAX 64            /* requests kept in all (hard bound) */
#define CAMPON_PER_CALLER 3      /* requests one caller may have */
#define CAMPON_EXPIRY_S 1800     /* a request lives 30 minutes */
#define CAMPON_LAST_MAX 128      /* callers whose last busy is kept */
#define CAMPON_LAST_S 600        /* *82 alone: busy within 10 minutes */
#define CAMPON_NUM 24

enum campon_state {
	CAMPON_FREE = 0,         /* slot unused */
	CAMPON_WAITING,          /* for the callee to free */
	CAMPON_CALLING,          /* the callback is under way */
};

struct campon_req {
	enum campon_state state;
	uint64_t id;             /* > 0, unique in the table's life */
	char caller[CAMPON_NUM]; /* who asked (rung first) */
	char callee[CAMPON_NUM]; /* the busy extension */
	uint64_t created;        /* ms, the caller's clock */
	uint64_t expires;        /* ms */
};

struct campon_tab {
	unsigned max, per_caller;     /* bounds (<= CAMPON_MAX) */
	uint64_t expiry_ms, last_ms;
	uint64_t next_id;
	struct campon_req req[CAMPON_MAX];
	struct {
		char caller[CAMPON_NUM], callee[CAMPON_NUM];
		uint64_t at;          /* 0: unused */
	} last[CAMPON_LAST_MAX];
};

/* Bounds: max requests in all (0 or more than CAMPON_MAX: CAMPON_MAX),
 * per caller (0: CAMPON_PER_CALLER), a request's life and the last busy
 * memory in seconds (0: the defaults). */
void campon_tab_init(struct campon_tab *t, unsigned max, unsigned per_caller,
		     unsigned expiry_s, unsigned last_s);

enum campon_add {
	CAMPON_ADDED = 0,        /* a new request */
	CAMPON_RENEWED,          /* the same caller and callee again: one
				  * request, its life starts again */
	CAMPON_CALLER_FULL,      /* the caller has per_caller already */
	CAMPON_FULL,             /* max requests in all */
	CAMPON_BAD,              /* empty or too long a number, or itself */
};

/* Take caller's request to be called back when callee frees, at now
 * (ms). *id (may be NULL) names it. */
enum campon_add campon_tab_add(struct campon_tab *t, const char *caller,
			       const char *callee, uint64_t now,
			       uint64_t *id);

/* Drop waiting requests whose life ended by now; returns how many. */
unsigned campon_tab_expire(struct campon_tab *t, uint64_t now);

struct campon_req *campon_tab_get(struct campon_tab *t, uint64_t id);
/* Remove request id (any state); false when there is none. */
bool campon_tab_del(struct campon_tab *t, uint64_t id);
/* Requests in use (any state). */
size_t campon_tab_count(const struct campon_tab *t);
/* Waiting requests oldest first (by id: ids grow with time): the first
 * after prev (NULL: the oldest), or NULL when none is left. */
struct campon_req *campon_tab_next(struct campon_tab *t,
				   const struct campon_req *prev);
/* A callback for callee under way (a request in CAMPON_CALLING). */
bool campon_tab_calling(const struct campon_tab *t, const char *callee);

/* caller found callee busy at now: *82 alone names it until last_s. */
void campon_tab_note_busy(struct campon_tab *t, const char *caller,
			  const char *callee, uint64_t now);
/* The extension last busy for caller (within last_s of now), or NULL. */
const char *campon_tab_last_busy(const struct campon_tab *t,
				 const char *caller, uint64_t now);

#endif

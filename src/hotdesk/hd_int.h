/*
 * hd_int — the hotdesk application's internals, shared by hdapp.c (the
 * engine: table, service ops, endpoint, worker; prompts and digits on
 * the shared engine media/voicesess.h) and
 * hdflow.c (what a session says and does). Loop thread only, except the
 * job bodies (hdflow.c *_work), which touch only their job.
 */
#ifndef BULWARK_HD_INT_H
#define BULWARK_HD_INT_H

#include <stdbool.h>
#include <stdint.h>

/* libre in parts (no include guards): registrar.h brings re_types,
 * re_fmt, re_mem, re_list, re_sa, re_tmr and jansson */
#include "registrar/registrar.h"
#include <re_main.h>

#include "call/svc.h"
#include "hotdesk/hdtab.h"
#include "hotdesk/hotdesk.h"
#include "media/endpoint.h"
#include "media/voicesess.h"
#include "store/hdstore.h"

#define HD_PIN_MAX  16
#define HD_TRIES    3      /* wrong PINs (or unknown numbers) a call */
#define HD_SRC_MAX  64     /* sources remembered for unknown numbers */

struct hdsess;
typedef void (hd_step_h)(struct hdsess *s);
typedef void (hd_input_h)(struct hdsess *s, const char *in);

struct hotdesk {
	struct hotdesk_conf conf;
	struct endpoints *eps;
	struct vmwork *work;
	struct list sessions;
	unsigned live;
	uint64_t next_tag;
	struct hdtab tab;
	int64_t max_ms, idle_ms;   /* the "hotdesk" section's bounds */
	struct snapshot *snap;     /* the last one (names, types) */
	struct tmr expire;
	struct {                   /* failures on numbers that are none */
		char ip[64];
		unsigned n;
		int64_t first_ms;
	} src[HD_SRC_MAX];
};

struct hdsess {
	struct le le;
	struct hotdesk *h;
	uint64_t tag;              /* endpoint events name it */
	uint64_t handle;           /* the call layer's */
	unsigned refs;             /* the call, the endpoint, each job */
	bool closed, ep_live, answered;
	uint32_t ep;
	bool logout;               /* *56 */
	char phone[HD_NUM_MAX];    /* the physical extension calling */
	char src_ip[64];

	/* prompts and digits (media/voicesess.h); the flow's steps */
	struct voicesess vs;
	hd_step_h *after;
	hd_input_h *input;

	/* the log-in */
	unsigned tries, quiet;
	char number[HD_NUM_MAX];
	char pin[HD_PIN_MAX + 1];
};

/* hdapp.c: the engine (hd_src_fail and the PIN job: hdflow.c; hd_login,
 * hd_logout: hdlogins.c) */
void hd_hold(struct hdsess *s);
void hd_release(struct hdsess *s);
/* Queue prompts and play them (barge: a digit stops them), then
 * `after`. */
void hd_say(struct hdsess *s, bool barge, hd_step_h *after, ...);
/* Take digits up to '#', want of them, or timeout_ms of quiet. */
void hd_collect(struct hdsess *s, unsigned want, unsigned timeout_ms,
		hd_input_h *input);
/* Hang up (BYE): as an `after` step, once the prompts are said. */
void hd_bye(struct hdsess *s);
/* Queue a worker job; held for s when s is not NULL. false: the queue
 * is full (nothing queued). */
bool hd_job(struct hotdesk *h, struct hdsess *s, void (*work)(void *),
	    void (*done)(void *), void *job);
/* A failure on a number that is no hotdesk extension (boxes 0), or on
 * `numbers` distinct ones (from the store): ban at HD_SRC_NUMBERS. */
void hd_src_fail(struct hotdesk *h, const char *ip, unsigned numbers);
/* Log-ins: change the table, keep it at rest, log. */
int hd_login(struct hotdesk *h, const char *number, const char *phone,
	     const char *src);
bool hd_logout(struct hotdesk *h, const char *number, const char *why);

/* hdlogins.c: the table on the loop */
struct call_hotdesk_ops;
extern const struct call_hotdesk_ops hd_hook;
/* The log-ins kept at rest into the table (start-up, synchronous). */
void hd_logins_load(struct hotdesk *h);
/* Run the time-bound check at the next lapse (at most 30 s away). */
void hd_expire_arm(struct hotdesk *h);

/* hdflow.c */
void hd_flow_start(struct hdsess *s);

#endif

/*
 * campon — camp-on: a caller who found an extension busy dials *82 (or
 * *82<number>); the PBX confirms with a short prompt and keeps the
 * request (campon_tab.h); when the extension frees and the caller is
 * idle and registered, the PBX calls the caller back, then the
 * extension (originate.c), and connects them. The rules and bounds:
 * docs/admin/calls.md, "Camp-on".
 *
 * Loop thread only. Include libre's headers (re_types.h, re_sa.h) first.
 */
#ifndef BULWARK_CAMPON_H
#define BULWARK_CAMPON_H

#include <stdint.h>

struct campon;
struct call_app;

struct campon_conf {
	struct call_app *calls;
	const char *prompt_dir;       /* NULL: PROMPT_DIR_DEFAULT */
	const char *prompt_override;  /* the admin's (DATA/prompts), NULL */
	unsigned max;                 /* requests in all, 0: CAMPON_MAX */
	unsigned per_caller;          /* 0: CAMPON_PER_CALLER */
	unsigned expiry_s;            /* a request's life, 0: 1,800 */
	unsigned last_s;              /* *82 alone: busy within, 0: 600 */
};

/* Registers the camp-on service (ROUTE_SVC_CAMPON) and the call layer's
 * hooks. 0 or an errno. */
int campon_alloc(struct campon **cp, const struct campon_conf *conf);
/* Unregisters; requests are forgotten, confirmations hung up. Before
 * call_close. NULL-safe; returns NULL. */
struct campon *campon_free(struct campon *cp);

#endif

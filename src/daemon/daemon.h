/*
 * daemon — process-wide context of bulwarkd and the bridge between the two
 * planes.
 *
 * Threads: the main thread runs the data-plane loop (libre re_main): SIP,
 * registrar, guard, timers. The control plane (admin API) runs on
 * libmicrohttpd's threads and owns the store. The control plane reaches
 * the loop only through loop_post()/loop_call(); it never touches data-plane
 * structures directly (libre mem refcounts are not atomic).
 */
#ifndef BULWARK_DAEMON_H
#define BULWARK_DAEMON_H

#include <stdbool.h>

struct store;
struct sipd;
struct registrar;
struct guard;
struct firewall;
struct services;
struct call_app;
struct vmstore;
struct mwi;
struct vmapp;
struct vmmail;
struct campon;
struct hotdesk;
struct hdstore;
struct treg;   /* trunk (issue 15) */

struct daemon {
	const char *data_dir;
	const char *share_dir;      /* data files shipped with Bulwark */
	struct store *store;        /* control plane only */
	struct vmstore *vmstore;    /* thread-safe; never on the loop */
	struct sipd *sipd;          /* data plane (loop thread) only */
	struct registrar *registrar;   /* data plane (loop thread) only */
	struct call_app *calls;     /* data plane (loop thread) only */
	struct mwi *mwi;            /* data plane (loop thread) only */
	struct vmapp *vmapp;        /* data plane (loop thread) only */
	struct campon *campon;      /* data plane (loop thread) only */
	struct guard *guard;        /* data plane (loop thread) only */
	struct firewall *firewall;  /* control plane only */
	struct services *services;  /* control plane only */
	struct vmmail *vmmail;      /* any thread (its own lock) */
	/* hotdesk (issue 13) */
	struct hotdesk *hotdesk;    /* data plane (loop thread) only */
	struct hdstore *hdstore;    /* thread-safe; never on the loop */
	struct treg *treg;          /* trunk (issue 15): loop thread only */
};

/* The one daemon context (valid between start-up and exit). */
extern struct daemon *daemon_ctx;

/* Run fn(arg) on the loop thread and wait until it returned. Must not be
 * called from the loop thread. The loop never blocks, so this returns
 * quickly. Returns 0 or an errno code if the loop is gone (fn not run). */
int loop_call(void (*fn)(void *arg), void *arg);

/* Queue fn(arg) on the loop thread without waiting. fn owns arg. Returns 0
 * or an errno code (fn not run; arg still the caller's). */
int loop_post(void (*fn)(void *arg), void *arg);

#endif

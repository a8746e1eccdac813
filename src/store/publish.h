/*
 * publish — hand each newly committed snapshot to the data plane.
 *
 * The data-plane modules that read the running configuration (guard, sip,
 * registrar; later call, media, voicemail) subscribe once at start-up. A
 * commit (the admin API, on a control-plane thread) calls store_publish();
 * the snapshot is posted to the loop thread, where every subscriber's
 * apply function runs in subscription order with the snapshot borrowed —
 * a subscriber that keeps it takes its own reference (snapshot_ref). The
 * publisher's reference is dropped after the last subscriber ran.
 *
 * The store never includes the daemon: the daemon gives store_publish_init
 * its loop's post function. docs/internals/loop.md.
 */
#ifndef BULWARK_STORE_PUBLISH_H
#define BULWARK_STORE_PUBLISH_H

struct snapshot;

/* At most this many subscribers. */
#define STORE_SUBSCRIBERS_MAX 16

/* Runs fn(arg) on the loop thread; fn owns arg. Returns 0, or an errno
 * code (fn not run, arg still the caller's). The daemon's loop_post. */
typedef int (store_post_h)(void (*fn)(void *arg), void *arg);

/* Apply a new snapshot (loop thread). snap is borrowed for the call. */
typedef void (store_apply_h)(void *arg, struct snapshot *snap);

/* Set the poster (at start-up, before any publish, single-threaded).
 * NULL turns publishing off (store_publish then drops the snapshot). */
void store_publish_init(store_post_h *post);

/* Add a subscriber (at start-up, before the first store_publish, while
 * only the starting thread runs; the table is read on the loop thread
 * without a lock). name is for the log, static storage. Returns 0,
 * EINVAL, or ENOSPC beyond STORE_SUBSCRIBERS_MAX. */
int store_subscribe(const char *name, store_apply_h *apply, void *arg);

/* Forget every subscriber and the poster (at shut-down, after the loop
 * stopped). */
void store_publish_reset(void);

/* Hand snap to every subscriber on the loop thread; takes the caller's
 * reference (dropped on failure too). Any thread but the loop's. Returns
 * 0, EINVAL (snap NULL), ENODEV (no poster) or the poster's error. */
int store_publish(struct snapshot *snap);

/* Run every subscriber on snap now, on the calling thread (the loop
 * thread, or start-up before the loop runs); snap stays the caller's. */
void store_publish_apply(struct snapshot *snap);

#endif

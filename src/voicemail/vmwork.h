/*
 * vmwork — the voicemail application's worker thread: what touches the
 * disk and the databases (vmstore, the store's PIN check, e-mail queueing)
 * runs there, never on the SIP loop. A job's work() runs on the worker;
 * its done() then runs on the loop thread when vmwork_drain() is called
 * (the loop listens on vmwork_fd()). Jobs run one at a time, in order.
 */
#ifndef BULWARK_VMWORK_H
#define BULWARK_VMWORK_H

#include <stddef.h>

struct vmwork;

typedef void (vmwork_fn)(void *arg);

/* A bounded queue (max jobs waiting or done-but-not-drained) and its
 * thread. 0 or an errno. */
int vmwork_alloc(struct vmwork **wp, size_t max);
/* Runs the jobs still queued, stops the thread; the done() of finished
 * jobs not drained is not called: `cancel` gets each job's arg instead
 * (to free it). NULL-safe. */
void vmwork_free(struct vmwork *w, void (*cancel)(void *arg));

/* Queue a job. 0, ENOSPC (queue full: nothing queued), EINVAL. */
int vmwork_put(struct vmwork *w, vmwork_fn *work, vmwork_fn *done,
	       void *arg);

/* Readable (eventfd) while finished jobs wait for their done(). */
int vmwork_fd(const struct vmwork *w);
/* Runs done() of every finished job, oldest first (the loop thread). */
void vmwork_drain(struct vmwork *w);

#endif

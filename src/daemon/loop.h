/*
 * loop — internal to bulwarkd: set-up and tear-down of the message queue
 * behind loop_call()/loop_post() (daemon.h).
 */
#ifndef BULWARK_DAEMON_LOOP_H
#define BULWARK_DAEMON_LOOP_H

/* Create the queue; the calling thread is the loop thread. After
 * libre_init, before re_main. Returns 0 or an errno code. */
int loop_init(void);

/* The loop has stopped for good: wake and fail every waiting loop_call,
 * refuse further posts. Thread-safe. */
void loop_shutdown(void);

/* loop_shutdown and free the queue (loop thread, after re_main). */
void loop_close(void);

#endif

/*
 * loop — the bridge from control-plane threads to the data-plane loop:
 * loop_post() queues a function on the loop (libre mqueue), loop_call()
 * queues it and waits for it on a condition variable.
 *
 * Shutdown: loop_shutdown() (called by main after re_main returned) marks
 * the loop gone and wakes every waiter, so an API thread never waits for a
 * loop that will not run again; messages still queued are never run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* Only the libre headers needed: re.h pulls re_json.h, which clashes
 * with jansson. */
#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_main.h>
#include <re_mqueue.h>

#include "daemon/daemon.h"
#include "daemon/loop.h"

enum { MSG_POST = 1, MSG_CALL = 2 };

struct loop_msg {
	void (*fn)(void *arg);
	void *arg;
	bool done;               /* MSG_CALL: set under lock by the loop */
};

static struct mqueue *mq;
static pthread_t loop_thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool gone = true;

static void mqueue_handler(int id, void *data, void *arg)
{
	struct loop_msg *m = data;

	(void)arg;
	m->fn(m->arg);
	if (id == MSG_POST) {
		free(m);
		return;
	}
	pthread_mutex_lock(&lock);
	m->done = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

int loop_init(void)
{
	int err = mqueue_alloc(&mq, mqueue_handler, NULL);

	if (err)
		return err;
	pthread_mutex_lock(&lock);
	loop_thread = pthread_self();
	gone = false;
	pthread_mutex_unlock(&lock);
	return 0;
}

void loop_shutdown(void)
{
	pthread_mutex_lock(&lock);
	gone = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

void loop_close(void)
{
	loop_shutdown();
	mq = mem_deref(mq);
}

int loop_post(void (*fn)(void *arg), void *arg)
{
	struct loop_msg *m;
	int err;

	if (!fn)
		return EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	m->fn = fn;
	m->arg = arg;
	pthread_mutex_lock(&lock);
	err = gone ? ESHUTDOWN : mqueue_push(mq, MSG_POST, m);
	pthread_mutex_unlock(&lock);
	if (err)
		free(m);
	return err;
}

int loop_call(void (*fn)(void *arg), void *arg)
{
	struct loop_msg m = { .fn = fn, .arg = arg, .done = false };
	int err;

	if (!fn)
		return EINVAL;
	pthread_mutex_lock(&lock);
	if (gone) {
		err = ESHUTDOWN;
		goto out;
	}
	if (pthread_equal(pthread_self(), loop_thread)) {
		err = EDEADLK;
		goto out;
	}
	err = mqueue_push(mq, MSG_CALL, &m);
	if (err)
		goto out;
	while (!m.done && !gone)
		pthread_cond_wait(&cond, &lock);
	/* Gone before it ran: the message stays queued but the loop never
	 * runs again, so &m is never touched after we return. */
	err = m.done ? 0 : ESHUTDOWN;
out:
	pthread_mutex_unlock(&lock);
	return err;
}

/*
 * vmwork — one worker thread and a bounded FIFO of jobs (vmwork.h).
 * A job moves from the `todo` list to the `done` list when its work()
 * returned; the eventfd tells the loop that `done` is not empty.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "voicemail/vmwork.h"

struct job {
	struct job *next;
	vmwork_fn *work, *done;
	void *arg;
};

struct jq {
	struct job *head, *tail;
};

struct vmwork {
	pthread_t thr;
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct jq todo, done;
	size_t n, max;          /* jobs in todo + done */
	bool stop, started;
	int efd;
};

static void jq_push(struct jq *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *jq_pop(struct jq *q)
{
	struct job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
	}
	return j;
}

static void *run(void *arg)
{
	struct vmwork *w = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&w->mtx);
	for (;;) {
		struct job *j;

		while (!w->stop && !w->todo.head)
			pthread_cond_wait(&w->cond, &w->mtx);
		/* stopping: what was queued still runs (a message being
		 * saved is saved); only the done() side is dropped */
		if (!w->todo.head)
			break;
		j = jq_pop(&w->todo);
		pthread_mutex_unlock(&w->mtx);
		if (j->work)
			j->work(j->arg);
		pthread_mutex_lock(&w->mtx);
		jq_push(&w->done, j);
		if (write(w->efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow at our rates; the loop
			 * drains the list anyway on the next wake-up */
		}
	}
	pthread_mutex_unlock(&w->mtx);
	return NULL;
}

int vmwork_alloc(struct vmwork **wp, size_t max)
{
	struct vmwork *w;
	int err;

	if (!wp || !max)
		return EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->max = max;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		err = errno;
		free(w);
		return err;
	}
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cond, NULL);
	err = pthread_create(&w->thr, NULL, run, w);
	if (err) {
		close(w->efd);
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->mtx);
		free(w);
		return err;
	}
	pthread_setname_np(w->thr, "bw-vmwork");	/* for top, perf, benches */
	w->started = true;
	*wp = w;
	return 0;
}

static void drop(struct jq *q, void (*cancel)(void *arg))
{
	struct job *j;

	while ((j = jq_pop(q))) {
		if (cancel)
			cancel(j->arg);
		free(j);
	}
}

void vmwork_free(struct vmwork *w, void (*cancel)(void *arg))
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
	if (w->started)
		pthread_join(w->thr, NULL);
	drop(&w->todo, cancel);
	drop(&w->done, cancel);
	close(w->efd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mtx);
	free(w);
}

int vmwork_put(struct vmwork *w, vmwork_fn *work, vmwork_fn *done,
	       void *arg)
{
	struct job *j;

	if (!w || !work)
		return EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->mtx);
	if (w->n >= w->max) {
		pthread_mutex_unlock(&w->mtx);
		free(j);
		return ENOSPC;
	}
	w->n++;
	jq_push(&w->todo, j);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
	return 0;
}

int vmwork_fd(const struct vmwork *w)
{
	return w ? w->efd : -1;
}

void vmwork_drain(struct vmwork *w)
{
	struct jq got;
	struct job *j;
	uint64_t v;

	if (!w)
		return;
	if (read(w->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled, the list may still hold jobs */
	}
	pthread_mutex_lock(&w->mtx);
	got = w->done;
	w->done.head = w->done.tail = NULL;
	pthread_mutex_unlock(&w->mtx);
	while ((j = jq_pop(&got))) {
		if (j->done)
			j->done(j->arg);
		free(j);
		pthread_mutex_lock(&w->mtx);
		w->n--;
		pthread_mutex_unlock(&w->mtx);
	}
}

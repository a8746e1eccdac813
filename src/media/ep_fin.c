/*
 * ep_fin — the finisher: completes recordings (header, fsync, rename)
 * on a thread of its own, so that a slow disk never stalls an endpoint
 * thread's 20 ms clock (200 recordings ending in the same tick, each
 * with its fsync, once held every leg of a thread for half a second).
 * The endpoint threads post jobs; the finisher sends RECORD_DONE.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>

#include "media/ep_int.h"

struct ep_fin_job {
	bool quit;
	struct wav_writer ww;
	struct endpoint_event ev;   /* RECORD_DONE, end and duration set */
};

struct ep_fin {
	pthread_t th;
	struct ring jobs;
	struct ring *events;
	atomic_uint_fast64_t *events_lost;
};

static void finish(struct ep_fin *f, struct ep_fin_job *j)
{
	int err = wav_finish(&j->ww);

	if (err) {
		j->ev.end = ENDPOINT_END_ERROR;
		j->ev.err = err;
	}
	if (ring_push(f->events, &j->ev, 0))
		atomic_fetch_add(f->events_lost, 1);
}

static void *run(void *arg)
{
	struct ep_fin *f = arg;
	struct ep_fin_job j;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd p = {.fd = f->jobs.efd, .events = POLLIN};

		while (ring_pop(&f->jobs, &j, 1) == 1) {
			if (j.quit)
				return NULL;
			finish(f, &j);
		}
		(void)poll(&p, 1, -1);
	}
}

int ep_fin_start(struct ep_fin **fp, unsigned cap, struct ring *events,
		 atomic_uint_fast64_t *events_lost)
{
	struct ep_fin *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return ENOMEM;
	f->events = events;
	f->events_lost = events_lost;
	err = ring_init(&f->jobs, sizeof(struct ep_fin_job), cap + 1);
	if (err) {
		free(f);
		return err;
	}
	err = pthread_create(&f->th, NULL, run, f);
	if (err) {
		ring_fini(&f->jobs);
		free(f);
		return err;
	}
	pthread_setname_np(f->th, "bw-ep-fin");	/* for top, perf, benches */
	*fp = f;
	return 0;
}

void ep_fin_post(struct ep_fin *f, struct wav_writer *ww,
		 const struct endpoint_event *ev)
{
	struct ep_fin_job j;

	memset(&j, 0, sizeof(j));
	j.ww = *ww;
	j.ev = *ev;
	/* the place of QUIT is kept; a full queue finishes here (late
	 * rather than lost) */
	if (ring_push(&f->jobs, &j, 1))
		finish(f, &j);
	ww->fd = -1;
	ww->tmp[0] = '\0';
}

void ep_fin_stop(struct ep_fin *f)
{
	struct ep_fin_job j;

	if (!f)
		return;
	memset(&j, 0, sizeof(j));
	j.quit = true;
	while (ring_push(&f->jobs, &j, 0) == EAGAIN)
		usleep(1000);
	pthread_join(f->th, NULL);
	ring_fini(&f->jobs);
	free(f);
}

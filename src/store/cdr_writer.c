/*
 * cdr_writer — call detail records to SQLite without ever blocking the
 * loop (store/cdr_db.h). The loop queues plain-data copies; a writer
 * thread with its own connection (cdr_db.c) inserts them in batches, one
 * transaction per batch, as the registrar's bindings writer does
 * (registrar/persist.c, docs/internals/store.md).
 *
 * The writer is signalled when the queue stops being empty and when it
 * holds CDR_BATCH records; once woken it lets records gather for
 * CDR_GATHER_MS (cut short by a full batch, a flush or a stop). A batch
 * that cannot be written (a full disk) is kept in order and tried again
 * every CDR_RETRY_MS with whatever was queued meanwhile behind it.
 *
 * Bound: at most max_queue records are held at once — queued, being
 * written and kept for a retry together — so a disk that stays full
 * costs a fixed amount of memory; beyond it a record is dropped and
 * counted (dropped, and "lost" in store/health.h). At close, one last
 * try; what is left is counted the same way.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/cdr_int.h"
#include "store/health.h"

#define CDR_RETRY_MS   1000u
#define CDR_GATHER_MS  100u
#define CDR_BATCH      256u
#define CDR_QUEUE_DEF  10000u
/* Rows kept in the table; the oldest beyond go (about 300 bytes each). */
#define CDR_KEEP_DEF   1000000u

struct cdr_writer {
	struct cdr_sql *sql;
	pthread_t thr;
	pthread_mutex_t mtx;
	pthread_cond_t cond, idle;
	struct cdr_item *head, *tail;   /* queued */
	size_t n;                       /* queued */
	size_t held, max;               /* queued + being written + retry */
	bool stop;
	unsigned flushing;              /* cdr_writer_flush callers */
	uint64_t queued, written, dropped, failed;
	/* A batch that could not be written, kept in order ahead of what
	 * was queued since; writer thread only (its size is in held). */
	struct cdr_item *retry;
	size_t n_retry;                 /* its size, for the status */
	uint64_t keep;
	unsigned max_pages, set_pages;  /* test hook */
};

static void items_free(struct cdr_item *it)
{
	while (it) {
		struct cdr_item *nx = it->next;

		free(it);
		it = nx;
	}
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wait for work: until retry_at while a batch waits for a retry, else
 * for a first record and then for a batch to gather. mtx held. False
 * when stopped with nothing left to try. */
static bool wait_work(struct cdr_writer *w, const struct timespec *retry_at)
{
	struct timespec at;

	if (w->retry) {
		while (!w->stop &&
		       pthread_cond_timedwait(&w->cond, &w->mtx, retry_at) !=
		       ETIMEDOUT)
			;
		return true;
	}
	while (!w->head && !w->stop)
		pthread_cond_wait(&w->cond, &w->mtx);
	if (!w->head)
		return false;
	deadline_in(&at, CDR_GATHER_MS);
	while (!w->stop && !w->flushing && w->n < CDR_BATCH &&
	       pthread_cond_timedwait(&w->cond, &w->mtx, &at) != ETIMEDOUT)
		;
	return true;
}

static void *writer(void *arg)
{
	struct cdr_writer *w = arg;
	struct timespec retry_at = { 0, 0 };
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&w->mtx);
	while (wait_work(w, &retry_at)) {
		struct cdr_item *batch, **end;
		size_t n = w->held;
		unsigned pages;
		uint64_t keep = w->keep;
		int err;

		/* the retried batch first: records stay in end order */
		batch = w->retry;
		for (end = &batch; *end; end = &(*end)->next)
			;
		*end = w->head;
		w->retry = w->head = w->tail = NULL;
		w->n = 0;
		pages = w->max_pages != w->set_pages ? w->max_pages : 0;
		w->set_pages = w->max_pages;
		pthread_mutex_unlock(&w->mtx);

		if (pages)
			cdr_sql_max_pages(w->sql, pages);
		err = batch ? cdr_sql_write(w->sql, batch, keep) : 0;
		if (err) {
			char what[64];

			snprintf(what, sizeof(what), "%zu call record%s kept "
				 "for a retry", n, n == 1 ? "" : "s");
			store_health_failed(STORE_HS_CDR, err, what);
		} else {
			items_free(batch);
			batch = NULL;
			store_health_ok(STORE_HS_CDR);
		}
		pthread_mutex_lock(&w->mtx);
		if (err) {
			w->retry = batch;
			w->failed++;
			deadline_in(&retry_at, CDR_RETRY_MS);
		} else {
			w->written += n;
			w->held -= n;
			n = 0;
		}
		w->n_retry = n;
		store_health_pending(STORE_HS_CDR, n, 0);
		pthread_cond_broadcast(&w->idle);
		if (w->stop && w->retry) {
			/* stopping on a full disk: the last try failed */
			size_t lost = w->held;

			items_free(w->retry);
			items_free(w->head);
			w->retry = w->head = w->tail = NULL;
			w->n = w->held = w->n_retry = 0;
			w->dropped += lost;
			store_health_pending(STORE_HS_CDR, 0, lost);
			pthread_cond_broadcast(&w->idle);
			break;
		}
	}
	pthread_mutex_unlock(&w->mtx);
	return NULL;
}

static void writer_free(struct cdr_writer *w)
{
	cdr_sql_close(w->sql);
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->idle);
	free(w);
}

int cdr_writer_open(struct cdr_writer **wp, const char *db_path,
		    size_t max_queue)
{
	struct cdr_writer *w;
	int err;

	if (!wp || !db_path)
		return EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->max = max_queue ? max_queue : CDR_QUEUE_DEF;
	w->keep = CDR_KEEP_DEF;
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->idle, NULL);
	err = cdr_sql_open(&w->sql, db_path);
	if (!err && pthread_create(&w->thr, NULL, writer, w))
		err = EAGAIN;
	if (err) {
		writer_free(w);
		return err;
	}
	*wp = w;
	return 0;
}

/* Every text field ends inside its array, whatever the caller left. */
static void terminate(struct cdr_rec *r)
{
	r->id[sizeof(r->id) - 1] = '\0';
	r->caller[sizeof(r->caller) - 1] = '\0';
	r->callee[sizeof(r->callee) - 1] = '\0';
	r->dialled[sizeof(r->dialled) - 1] = '\0';
	r->disposition[sizeof(r->disposition) - 1] = '\0';
	r->hangup_side[sizeof(r->hangup_side) - 1] = '\0';
	r->reason[sizeof(r->reason) - 1] = '\0';
	r->codec[sizeof(r->codec) - 1] = '\0';
	r->fwd_rule[sizeof(r->fwd_rule) - 1] = '\0';
	r->fwd_from[sizeof(r->fwd_from) - 1] = '\0';
	r->fwd_to[sizeof(r->fwd_to) - 1] = '\0';
	r->recording[sizeof(r->recording) - 1] = '\0';
	r->trunk[sizeof(r->trunk) - 1] = '\0';   /* outbound (issue 15) */
	r->route[sizeof(r->route) - 1] = '\0';
}

bool cdr_writer_put(struct cdr_writer *w, const struct cdr_rec *r)
{
	struct cdr_item *it;

	if (!w || !r)
		return false;
	it = malloc(sizeof(*it));
	if (it) {
		it->next = NULL;
		it->r = *r;
		terminate(&it->r);
	}
	pthread_mutex_lock(&w->mtx);
	if (!it || w->held >= w->max || w->stop) {
		w->dropped++;
		/* a record lost: the admin sees it in the storage status */
		store_health_pending(STORE_HS_CDR, w->n_retry, 1);
		pthread_mutex_unlock(&w->mtx);
		free(it);
		return false;
	}
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	w->n++;
	w->held++;
	w->queued++;
	if (w->n == 1 || w->n == CDR_BATCH)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
	return true;
}

int cdr_writer_flush(struct cdr_writer *w, unsigned timeout_ms)
{
	struct timespec ts;
	int err = 0;

	if (!w)
		return 0;
	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&w->mtx);
	/* no gathering while someone waits for the disk */
	w->flushing++;
	pthread_cond_signal(&w->cond);
	while (w->held && !err)
		err = pthread_cond_timedwait(&w->idle, &w->mtx, &ts);
	w->flushing--;
	pthread_mutex_unlock(&w->mtx);
	return err ? ETIMEDOUT : 0;
}

void cdr_writer_stats(struct cdr_writer *w, uint64_t *queued,
		      uint64_t *written, uint64_t *dropped)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mtx);
	if (queued)
		*queued = w->queued;
	if (written)
		*written = w->written;
	if (dropped)
		*dropped = w->dropped;
	pthread_mutex_unlock(&w->mtx);
}

void cdr_writer_limit_pages(struct cdr_writer *w, unsigned pages)
{
	if (!w || !pages)
		return;
	pthread_mutex_lock(&w->mtx);
	w->max_pages = pages;
	pthread_mutex_unlock(&w->mtx);
}

void cdr_writer_keep(struct cdr_writer *w, uint64_t rows)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mtx);
	w->keep = rows;
	pthread_mutex_unlock(&w->mtx);
}

void cdr_writer_close(struct cdr_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thr, NULL);
	writer_free(w);
}

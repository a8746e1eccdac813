/*
 * persist — bindings in SQLite without ever blocking the loop: the loop
 * queues plain-data copies of changes (malloc, no libre mem: they cross
 * threads); a writer thread with its own connection (store/bindings_db.h)
 * applies them in batches, one transaction per batch.
 *
 * The writer is not woken per registration: the loop signals it when the
 * queue stops being empty and when it reaches PERSIST_BATCH changes; once
 * woken, the writer lets changes gather for PERSIST_GATHER_MS (or until
 * PERSIST_BATCH are queued, a flush waits, or it is stopped) and writes
 * them as one transaction. A binding reaches the disk at most about
 * PERSIST_GATHER_MS later than before; a stop writes what is queued.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registrar/registrar.h"
#include "store/bindings_db.h"
#include "store/health.h"

/* One queued change: a single malloc of plain data (it crosses to the
 * writer thread, which never reads loop memory); addresses are formatted
 * and the Call-ID hash written by the writer. */
struct op {
	struct op *next;
	uint8_t kind;              /* enum reg_op */
	uint8_t tp;
	bool nat;
	uint8_t ua_len;
	uint16_t uri_len;
	char ext[24];
	uint32_t cseq;
	uint64_t cid;
	int64_t expires, registered;
	struct sa src, target;
	char s[];                  /* uri NUL ua NUL */
};

struct reg_persist {
	struct bindings_db *db;
	pthread_t thr;
	bool started;
	pthread_mutex_t mtx;
	pthread_cond_t cond, idle;
	struct op *head, *tail;
	size_t n, max;
	bool stop, busy;
	unsigned flushing;         /* reg_persist_flush callers waiting */
	uint64_t queued, written, dropped;
	/* how often the writer woke (a wait returned) and how many batches
	 * it wrote: the cost of persistence to the rest of the process */
	uint64_t wakeups, batches;
	/* Changes of batches that could not be written (a full disk): kept in
	 * order, ahead of anything queued later, and tried again every
	 * PERSIST_RETRY_MS until they are in the database. Writer thread
	 * only; n_retry mirrored under mtx for the status. */
	struct op *retry;
	size_t n_retry;
	uint64_t failed;           /* batches that failed (each attempt) */
	int last_err;
	unsigned max_pages, set_pages;   /* test hook: PRAGMA max_page_count */
};

#define PERSIST_RETRY_MS 1000u
#define PERSIST_GATHER_MS 100u
#define PERSIST_BATCH     1024u

static void op_free(struct op *o)
{
	free(o);
}

static void ops_free(struct op *o)
{
	while (o) {
		struct op *nx = o->next;

		op_free(o);
		o = nx;
	}
}

/* Every result is checked: a batch is written whole or not at all, and
 * the caller keeps what was not written. 0, or the errno of the failure
 * (ENOSPC for a full disk). */
static int apply_batch(struct reg_persist *p, struct op *list)
{
	int rc;

	rc = bindings_db_begin(p->db);
	for (struct op *o = list; o && !rc; o = o->next) {
		struct binding_row r;
		char cid[24], srcs[64], tgt[64];

		if (o->kind != REG_OP_PUT) {
			rc = bindings_db_del(p->db, o->ext, o->s, o->uri_len);
			continue;
		}
		re_snprintf(cid, sizeof(cid), "#%016llx",
			    (unsigned long long)o->cid);
		re_snprintf(srcs, sizeof(srcs), "%J", &o->src);
		re_snprintf(tgt, sizeof(tgt), "%J", &o->target);
		memset(&r, 0, sizeof(r));
		r.ext = o->ext;
		r.uri = o->s;
		r.uri_len = o->uri_len;
		r.call_id = cid;
		r.cseq = o->cseq;
		r.ua = o->s + o->uri_len + 1;
		r.ua_len = o->ua_len;
		r.expires = o->expires;
		r.registered = o->registered;
		r.source = srcs;
		r.target = tgt;
		r.transport = o->tp;
		r.nat = o->nat;
		rc = bindings_db_put(p->db, &r);
	}
	if (!rc)
		rc = bindings_db_commit(p->db);
	if (rc)
		bindings_db_rollback(p->db);
	return rc;
}

static uint64_t op_key(const struct op *o)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *c = o->ext; *c && c < o->ext + sizeof(o->ext); c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (size_t i = 0; i < o->uri_len; i++)
		h = (h ^ (uint8_t)o->s[i]) * 1099511628211ull;
	return h;
}

static bool op_same(const struct op *a, const struct op *b)
{
	return !strncmp(a->ext, b->ext, sizeof(a->ext)) &&
	       a->uri_len == b->uri_len && !memcmp(a->s, b->s, a->uri_len);
}

/* Keep only the last change of each binding (ext, uri), in order: what
 * waits for a retry is then bounded by the number of bindings, however
 * long the disk stays full. *n is updated. Without memory for the index
 * the list is kept as it is. */
static struct op *coalesce(struct op *list, size_t *n)
{
	size_t cap = 16, mask, kept = 0;
	struct op **tab, *o, *head = NULL, **tail = &head;

	while (cap < *n * 2)
		cap <<= 1;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return list;
	mask = cap - 1;
	for (o = list; o; o = o->next) {
		size_t i = (size_t)op_key(o) & mask;

		while (tab[i] && !op_same(tab[i], o))
			i = (i + 1) & mask;
		tab[i] = o;      /* the later change wins */
	}
	for (o = list; o; ) {
		struct op *nx = o->next;
		size_t i = (size_t)op_key(o) & mask;

		while (tab[i] && !op_same(tab[i], o))
			i = (i + 1) & mask;
		if (tab[i] == o) {
			*tail = o;
			tail = &o->next;
			kept++;
		} else {
			op_free(o);
		}
		o = nx;
	}
	*tail = NULL;
	free(tab);
	*n = kept;
	return head;
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

static void *writer(void *arg)
{
	struct reg_persist *p = arg;
	struct timespec retry_at = { 0, 0 };
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&p->mtx);
	for (;;) {
		struct op *batch, **end;
		size_t n;
		unsigned pages;
		int err;

		if (p->retry) {
			/* a full disk is not retried at the rate changes
			 * arrive: they wait in the queue for the next try */
			while (!p->stop) {
				int rc = pthread_cond_timedwait(&p->cond,
								&p->mtx,
								&retry_at);

				p->wakeups++;
				if (rc == ETIMEDOUT)
					break;
			}
		} else {
			struct timespec at;

			while (!p->head && !p->stop) {
				pthread_cond_wait(&p->cond, &p->mtx);
				p->wakeups++;
			}
			if (!p->head && p->stop)
				break;
			/* let a batch gather (the loop signals again at
			 * PERSIST_BATCH; a flush or a stop cuts it short) */
			deadline_in(&at, PERSIST_GATHER_MS);
			while (!p->stop && !p->flushing &&
			       p->n < PERSIST_BATCH) {
				int rc = pthread_cond_timedwait(&p->cond,
								&p->mtx, &at);

				p->wakeups++;
				if (rc == ETIMEDOUT)
					break;
			}
		}
		/* retried changes first: a later change of the same binding
		 * must land after them */
		batch = p->retry;
		n = p->n_retry;
		for (end = &batch; *end; end = &(*end)->next)
			;
		*end = p->head;
		n += p->n;
		p->retry = NULL;
		p->head = p->tail = NULL;
		p->n = 0;
		p->busy = true;
		p->batches += batch != NULL;
		pages = p->max_pages != p->set_pages ? p->max_pages : 0;
		p->set_pages = p->max_pages;
		pthread_mutex_unlock(&p->mtx);

		if (pages)
			bindings_db_max_pages(p->db, pages);
		err = batch ? apply_batch(p, batch) : 0;
		if (err) {
			char what[64];

			batch = coalesce(batch, &n);
			snprintf(what, sizeof(what), "%zu binding change%s "
				 "kept for a retry", n, n == 1 ? "" : "s");
			store_health_failed(STORE_HS_BINDINGS, err, what);
		} else if (batch) {
			ops_free(batch);
			store_health_ok(STORE_HS_BINDINGS);
		}
		pthread_mutex_lock(&p->mtx);
		if (err) {
			p->retry = batch;
			p->failed++;
			p->last_err = err;
			deadline_in(&retry_at, PERSIST_RETRY_MS);
		} else {
			p->written += n;
			n = 0;
		}
		p->n_retry = n;
		store_health_pending(STORE_HS_BINDINGS, n, 0);
		p->busy = false;
		pthread_cond_broadcast(&p->idle);
		if (p->stop && p->retry) {
			/* stopping on a full disk: the last try failed; what
			 * is left is lost, and counted */
			size_t lost = p->n_retry + p->n;

			ops_free(p->retry);
			ops_free(p->head);
			p->retry = p->head = p->tail = NULL;
			p->n_retry = p->n = 0;
			p->dropped += lost;
			store_health_pending(STORE_HS_BINDINGS, 0, lost);
			break;
		}
	}
	pthread_mutex_unlock(&p->mtx);
	return NULL;
}

static void persist_free(struct reg_persist *p)
{
	bindings_db_close(p->db);
	pthread_mutex_destroy(&p->mtx);
	pthread_cond_destroy(&p->cond);
	pthread_cond_destroy(&p->idle);
	free(p);
}

int reg_persist_open(struct reg_persist **pp, const char *db_path,
		     size_t max_queue)
{
	struct reg_persist *p;
	int err = 0;

	if (!pp || !db_path)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->max = max_queue ? max_queue : 100000;
	pthread_mutex_init(&p->mtx, NULL);
	pthread_cond_init(&p->cond, NULL);
	pthread_cond_init(&p->idle, NULL);
	err = bindings_db_open(&p->db, db_path);
	if (err) {
		persist_free(p);
		return err;
	}
	*pp = p;
	return 0;
}

static int start_thread(struct reg_persist *p)
{
	if (p->started)
		return 0;
	if (pthread_create(&p->thr, NULL, writer, p))
		return EAGAIN;
	p->started = true;
	return 0;
}

void reg_persist_change(enum reg_op op, const struct reg_binding *b,
			void *persist)
{
	struct reg_persist *p = persist;
	size_t ual;
	struct op *o;

	if (!p || !b || !b->ext)
		return;
	if (start_thread(p)) {
		pthread_mutex_lock(&p->mtx);
		p->dropped++;
		pthread_mutex_unlock(&p->mtx);
		return;
	}
	ual = op == REG_OP_PUT && b->ua ? b->ua->len : 0;
	o = malloc(sizeof(*o) + b->uri_len + 1 + ual + 1);
	if (!o)
		goto drop;
	memset(o, 0, sizeof(*o));
	o->kind = (uint8_t)op;
	memcpy(o->ext, b->ext->number, sizeof(o->ext));
	o->uri_len = b->uri_len;
	memcpy(o->s, reg_binding_uri(b), b->uri_len + 1u);
	o->ua_len = (uint8_t)ual;
	memcpy(o->s + b->uri_len + 1, reg_binding_ua(b), ual);
	o->s[b->uri_len + 1 + ual] = '\0';
	if (op == REG_OP_PUT) {
		o->cid = b->cid;
		o->cseq = b->cseq;
		o->expires = b->expires;
		o->registered = b->registered;
		o->src = b->src;
		o->target = *reg_binding_target(b);
		o->tp = b->tp;
		o->nat = b->nat;
	}
	pthread_mutex_lock(&p->mtx);
	if (p->n >= p->max) {
		pthread_mutex_unlock(&p->mtx);
		goto drop;
	}
	if (p->tail)
		p->tail->next = o;
	else
		p->head = o;
	p->tail = o;
	p->n++;
	p->queued++;
	/* the writer waits for a first change, then for a full batch */
	if (p->n == 1 || p->n == PERSIST_BATCH)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	return;
 drop:
	op_free(o);
	pthread_mutex_lock(&p->mtx);
	p->dropped++;
	pthread_mutex_unlock(&p->mtx);
}

struct load_ctx {
	struct reg_loc *l;
	reg_keep_h *keep;
	void *arg;
	size_t n;
};

static void load_row(const struct binding_row *r, void *arg)
{
	struct load_ctx *c = arg;
	struct sa s, t;
	struct reg_ext *e;

	if (c->keep && !c->keep(r->ext, c->arg))
		return;
	if (sa_decode(&s, r->source, strlen(r->source)) ||
	    sa_decode(&t, r->target, strlen(r->target)))
		return;
	e = reg_ext_find(c->l, r->ext, strlen(r->ext));
	if (e && e->n >= 64)
		return;
	if (!reg_restore(c->l, r->ext, r->uri, r->call_id, r->cseq, r->ua,
			 r->expires, r->registered, &s, &t,
			 (uint8_t)r->transport, r->nat))
		c->n++;
}

int reg_persist_load(struct reg_persist *p, struct reg_loc *l, int64_t now,
		     reg_keep_h *keep, void *arg, size_t *count)
{
	struct load_ctx c = { l, keep, arg, 0 };
	int rc;

	if (!p || !l)
		return EINVAL;
	/* Expired rows go first; then read the rest. Housekeeping only
	 * (expired rows are skipped when restored anyway): a full disk must
	 * not keep the bindings from being restored. */
	rc = bindings_db_expire(p->db, now);
	if (rc)
		store_health_failed(STORE_HS_BINDINGS, rc,
				    "deleting expired bindings at start");
	rc = bindings_db_each(p->db, load_row, &c);
	if (count)
		*count = c.n;
	return rc;
}

void reg_persist_stats(struct reg_persist *p, uint64_t *queued,
		       uint64_t *written, uint64_t *dropped)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mtx);
	if (queued)
		*queued = p->queued;
	if (written)
		*written = p->written;
	if (dropped)
		*dropped = p->dropped;
	pthread_mutex_unlock(&p->mtx);
}

void reg_persist_retry_stats(struct reg_persist *p, uint64_t *pending,
			     uint64_t *failed)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mtx);
	if (pending)
		*pending = p->n_retry;
	if (failed)
		*failed = p->failed;
	pthread_mutex_unlock(&p->mtx);
}

void reg_persist_wake_stats(struct reg_persist *p, uint64_t *wakeups,
			    uint64_t *batches)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mtx);
	if (wakeups)
		*wakeups = p->wakeups;
	if (batches)
		*batches = p->batches;
	pthread_mutex_unlock(&p->mtx);
}

void reg_persist_limit_pages(struct reg_persist *p, unsigned pages)
{
	if (!p || !pages)
		return;
	pthread_mutex_lock(&p->mtx);
	p->max_pages = pages;
	if (!p->started)
		p->set_pages = 0;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
}

int reg_persist_flush(struct reg_persist *p, unsigned timeout_ms)
{
	struct timespec ts;
	int err = 0;

	if (!p)
		return EINVAL;
	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&p->mtx);
	/* no gathering while someone waits for the disk */
	p->flushing++;
	pthread_cond_signal(&p->cond);
	while ((p->head || p->busy) && !err)
		err = pthread_cond_timedwait(&p->idle, &p->mtx, &ts);
	p->flushing--;
	if (!err && p->retry)
		err = EAGAIN;
	pthread_mutex_unlock(&p->mtx);
	return err;
}

void reg_persist_close(struct reg_persist *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mtx);
		p->stop = true;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->mtx);
		pthread_join(p->thr, NULL);
	}
	persist_free(p);
}

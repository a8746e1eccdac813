/*
 * worker — the guard's one thread for slow work: libnftables transactions
 * (about a millisecond each), SQLite writes and DATA/security.log. The loop
 * only appends jobs to a bounded queue under a short mutex; the worker
 * takes the whole queue at once and handles it as one batch (one nft
 * transaction, one SQLite transaction), so a burst of bans costs the kernel
 * one commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <nftables/libnftables.h>

#include "common/log.h"
#include "guard/guard_int.h"
#include "store/guard_db.h"
#include "store/health.h"

#define QUEUE_MAX      16384u
#define LOG_ROTATE     (16u << 20)   /* security.log → security.log.1 */
#define EVENTS_KEEP    100000        /* rows kept in guard_events */
#define NFT_BUF        (256u << 10)
#define HISTORY_MS     (2ull * 86400000u)   /* expired bans kept */
#define RETRY_MS       1000u                /* a failed write, again */
#define RETRY_MAX      (4u * QUEUE_MAX)     /* jobs kept for a retry */
#define RETRY_EVENTS   4096u                /* ... of which events */

struct gworker {
	pthread_t thr;
	pthread_mutex_t mtx;
	pthread_cond_t cond, idle;
	struct gjob *head, *tail;
	size_t qlen;
	bool busy, stop, started;
	uint64_t dropped;
	/* worker-thread state */
	struct guard_db *db;
	char log_path[PATH_MAX];
	int log_fd;
	struct nft_ctx *nft;
	bool offload;
	uint64_t credit_trim_ms;     /* last trim of guard_credit */
	unsigned credit_since_trim;  /* rows written since */
	/* Jobs whose database part is not written yet (a full disk), in
	 * order: tried again every RETRY_MS in one transaction with what
	 * came since. Worker thread only, except the counts (mtx). */
	struct gjob *retry, *retry_tail;
	size_t n_retry, n_retry_ev;
	struct timespec retry_at;
	uint64_t log_lost;           /* security.log lines not written */
	uint64_t log_gap;            /* ... since the last line written */
	uint64_t log_lost_since;     /* wall ms of the first of the gap */
	bool log_dirty;              /* lines written, not synced */
	/* shared (mtx): job sequence numbers, for gworker_wait */
	uint64_t seq;                /* last number given by gworker_push */
	uint64_t tried;              /* highest number whose database part
				      * was attempted (or had none) */
	uint64_t retry_first;        /* first number waiting, 0 = none */
	uint64_t db_failed, lost;    /* failed transactions, jobs given up */
	size_t n_pending;            /* n_retry as of the last batch */
	/* shared (mtx) */
	enum { OFF_STARTING, OFF_ACTIVE, OFF_UNAVAILABLE, OFF_DISABLED } off;
	char reason[160];
	char *nftbuf;
};

void gworker_push(struct gworker *w, struct gjob *j)
{
	if (!w || !j)
		return;
	pthread_mutex_lock(&w->mtx);
	if ((w->qlen >= QUEUE_MAX && j->kind == GJOB_EVENT) ||
	    w->qlen >= 4 * QUEUE_MAX) {
		/* Events first; past 4x even bans wait for the next one
		 * (the ban itself holds in user space). */
		w->dropped++;
		pthread_mutex_unlock(&w->mtx);
		free(j->text);
		free(j);
		return;
	}
	j->next = NULL;
	j->seq = ++w->seq;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->qlen++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
}

uint64_t gworker_seq(struct gworker *w)
{
	uint64_t n;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mtx);
	n = w->seq;
	pthread_mutex_unlock(&w->mtx);
	return n;
}

int gworker_wait(struct gworker *w, uint64_t seq, unsigned timeout_ms)
{
	struct timespec ts;
	int err = 0;

	if (!w)
		return EINVAL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mtx);
	while (w->tried < seq && !err)
		err = pthread_cond_timedwait(&w->idle, &w->mtx, &ts);
	if (!err && w->retry_first && w->retry_first <= seq)
		err = EAGAIN;
	pthread_mutex_unlock(&w->mtx);
	return err;
}

void gworker_storage(struct gworker *w, uint64_t *pending, uint64_t *failed,
		     uint64_t *lost, uint64_t *log_lost)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mtx);
	if (pending)
		*pending = w->n_pending;
	if (failed)
		*failed = w->db_failed;
	if (lost)
		*lost = w->lost;
	if (log_lost)
		*log_lost = w->log_lost;
	pthread_mutex_unlock(&w->mtx);
}

uint64_t guard_persist_ticket(struct guard *g)
{
	return g ? gworker_seq(g->worker) : 0;
}

int guard_persist_wait(struct guard *g, uint64_t ticket, unsigned timeout_ms)
{
	if (!g || !g->worker || !ticket)
		return 0;
	return gworker_wait(g->worker, ticket, timeout_ms);
}

static void set_offload(struct gworker *w, int state, const char *reason)
{
	pthread_mutex_lock(&w->mtx);
	w->off = state;
	snprintf(w->reason, sizeof(w->reason), "%s", reason ? reason : "");
	pthread_mutex_unlock(&w->mtx);
}

void gworker_offload(struct gworker *w, char *buf, size_t sz, bool *active)
{
	if (!w) {
		snprintf(buf, sz, "unavailable (no worker)");
		*active = false;
		return;
	}
	pthread_mutex_lock(&w->mtx);
	*active = w->off == OFF_ACTIVE;
	switch (w->off) {
	case OFF_STARTING:
		snprintf(buf, sz, "starting");
		break;
	case OFF_ACTIVE:
		snprintf(buf, sz, "active");
		break;
	case OFF_DISABLED:
		snprintf(buf, sz, "disabled (guard.offload=false); dropping "
			 "in user space");
		break;
	default:
		snprintf(buf, sz, "unavailable (%s); dropping in user space",
			 w->reason);
		break;
	}
	pthread_mutex_unlock(&w->mtx);
}

uint64_t gworker_dropped(struct gworker *w)
{
	uint64_t n;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mtx);
	n = w->dropped;
	pthread_mutex_unlock(&w->mtx);
	return n;
}

/* First line of the nft error buffer, for the status. */
static void nft_reason(struct gworker *w, char *buf, size_t sz)
{
	const char *e = w->nft ? nft_ctx_get_error_buffer(w->nft) : NULL;
	size_t n;

	if (!e || !*e) {
		snprintf(buf, sz, "nft failed");
		return;
	}
	n = strcspn(e, "\n");
	if (n >= sz)
		n = sz - 1;
	memcpy(buf, e, n);
	buf[n] = 0;
}

static int nft_run(struct gworker *w, const char *script)
{
	int rc;

	if (!w->nft) {
		w->nft = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!w->nft)
			return ENOMEM;
		nft_ctx_buffer_output(w->nft);
		nft_ctx_buffer_error(w->nft);
	}
	rc = nft_run_cmd_from_buffer(w->nft, script);
	return rc ? EPERM : 0;
}

static uint64_t wall_ms(void);

/* One line to security.log. A line that does not fit (a full disk) is
 * cut back off, so the file keeps whole lines, and counted; the next line
 * that fits is preceded by one marker line saying how many are missing.
 * 0 or the errno of the failure. */
static int log_append(struct gworker *w, const char *line, size_t len)
{
	struct stat stt;
	struct iovec iov[2] = {
		{ (void *)line, len }, { (void *)"\n", 1 },
	};
	ssize_t n;
	int err;

	if (fstat(w->log_fd, &stt))
		return errno;
	n = writev(w->log_fd, iov, 2);
	if (n == (ssize_t)len + 1)
		return 0;
	err = n < 0 ? errno : ENOSPC;
	if (n > 0 && ftruncate(w->log_fd, stt.st_size))
		err = errno;
	return err;
}

static void log_line(struct gworker *w, const char *line)
{
	struct stat stt;
	int err;

	if (!w->log_path[0])
		return;   /* no data directory (tests): no log */
	if (w->log_fd < 0) {
		/* could not be created or reopened (a full disk): again */
		w->log_fd = open(w->log_path, O_WRONLY | O_CREAT | O_APPEND |
				 O_CLOEXEC, 0600);
		if (w->log_fd < 0) {
			err = errno;
			goto fail;
		}
	}
	if (!fstat(w->log_fd, &stt) && stt.st_size > (off_t)LOG_ROTATE) {
		char old[PATH_MAX + 4];
		snprintf(old, sizeof(old), "%s.1", w->log_path);
		rename(w->log_path, old);
		close(w->log_fd);
		w->log_fd = open(w->log_path, O_WRONLY | O_CREAT | O_APPEND |
				 O_CLOEXEC, 0600);
		if (w->log_fd < 0) {
			err = errno;
			goto fail;
		}
	}
	if (w->log_gap) {
		char gap[160];
		int gl = snprintf(gap, sizeof(gap), "{\"ts_ms\":%llu,\"type\":"
				  "\"log_gap\",\"lines\":%llu,\"since_ms\":"
				  "%llu}", (unsigned long long)wall_ms(),
				  (unsigned long long)w->log_gap,
				  (unsigned long long)w->log_lost_since);
		err = log_append(w, gap, (size_t)gl);
		if (err)
			goto fail;
		w->log_gap = 0;
	}
	w->log_dirty = true;
	if (!line)
		return;
	err = log_append(w, line, strlen(line));
	if (err)
		goto fail;
	return;
 fail:
	if (!line)
		return;   /* only the marker: the gap is unchanged */
	if (!w->log_gap)
		w->log_lost_since = wall_ms();
	w->log_gap++;
	pthread_mutex_lock(&w->mtx);
	w->log_lost++;
	pthread_mutex_unlock(&w->mtx);
	store_health_failed(STORE_HS_SECLOG, err, "security.log");
	store_health_pending(STORE_HS_SECLOG, 0, 1);
}

/* Once per batch: the lines are on disk (ext4 and others may report a
 * full disk only here), or they count as lost. */
static void log_sync(struct gworker *w, unsigned lines)
{
	int err;

	if (w->log_fd < 0 || !w->log_dirty)
		return;
	w->log_dirty = false;
	if (!fdatasync(w->log_fd)) {
		store_health_ok(STORE_HS_SECLOG);
		return;
	}
	err = errno;
	if (err == EINVAL || err == EROFS)
		return;   /* a file that cannot be synced (a pipe, /dev/null) */
	if (!w->log_gap)
		w->log_lost_since = wall_ms();
	w->log_gap += lines;
	pthread_mutex_lock(&w->mtx);
	w->log_lost += lines;
	pthread_mutex_unlock(&w->mtx);
	store_health_failed(STORE_HS_SECLOG, err, "security.log (sync)");
	store_health_pending(STORE_HS_SECLOG, 0, lines);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Append the nft part of a job to the batch buffer. */
static void nft_part(struct gworker *w, const struct gjob *j, size_t *len)
{
	int err = 0;
	uint64_t now = wall_ms();

	if (!j->nft)
		return;
	if (j->kind == GJOB_NFT_SETUP) {
		size_t n = strlen(j->text);
		if (*len + n + 1 < NFT_BUF) {
			memcpy(w->nftbuf + *len, j->text, n + 1);
			*len += n;
		}
		return;
	}
	if (j->kind == GJOB_BAN) {
		if (j->ban.until <= now)
			return;
		err = gnft_ban_script(w->nftbuf + *len, NFT_BUF - *len,
				      &j->ban.addr,
				      (j->ban.until - now + 999) / 1000);
	} else if (j->kind == GJOB_UNBAN) {
		err = gnft_unban_script(w->nftbuf + *len, NFT_BUF - *len,
					&j->ban.addr);
	} else {
		return;
	}
	if (!err)
		*len += strlen(w->nftbuf + *len);
}

/* Whether a job has a database part (kept for a retry if it fails). */
static bool db_job(const struct gjob *j)
{
	switch (j->kind) {
	case GJOB_BAN: case GJOB_UNBAN: case GJOB_TRUST: case GJOB_EVENT:
	case GJOB_BAN_END: case GJOB_CREDIT:
		return true;
	default:
		return false;
	}
}

static int db_part(struct gworker *w, const struct gjob *j)
{
	char addr[64];

	switch (j->kind) {
	case GJOB_BAN:
		return gpersist_put_ban(w->db, &j->ban);
	case GJOB_UNBAN:
		gaddr_str(&j->ban.addr, addr, sizeof(addr));
		return guard_db_ban_del(w->db, addr);
	case GJOB_TRUST:
		gaddr_str(&j->ban.addr, addr, sizeof(addr));
		return guard_db_trust_put(w->db, addr, j->until);
	case GJOB_EVENT:
		return guard_db_event_add(w->db, j->text, EVENTS_KEEP);
	case GJOB_BAN_END:
		gaddr_str(&j->ban.addr, addr, sizeof(addr));
		return guard_db_ban_ended(w->db, addr, j->ban.until);
	case GJOB_CREDIT:
		gaddr_str(&j->ban.addr, addr, sizeof(addr));
		w->credit_since_trim++;
		return guard_db_credit_put(w->db, addr, j->until);
	default:
		return 0;
	}
}

/* guard_credit stays bounded: rows older than credit_hours go, and at
 * most keep rows stay (the most recent). Done once a minute or after
 * CREDIT_TRIM_ROWS new rows, so the table never exceeds keep +
 * CREDIT_TRIM_ROWS rows (plus one minute of new sources). */
#define CREDIT_TRIM_ROWS 1024u
static int credit_trim(struct gworker *w, const struct gjob *last)
{
	uint64_t now = wall_ms();
	int rc;

	if (!last || !w->credit_since_trim ||
	    (w->credit_since_trim < CREDIT_TRIM_ROWS &&
	     now - w->credit_trim_ms < 60000u))
		return 0;
	rc = guard_db_credit_trim(w->db, last->cutoff, last->keep);
	if (!rc) {
		w->credit_trim_ms = now;
		w->credit_since_trim = 0;
	}
	return rc;
}

/* The database part of every job waiting in w->retry, in one
 * transaction: all written, or none (and they wait for the next try).
 * 0 or the errno of the first failure. */
static int db_write(struct gworker *w)
{
	const struct gjob *credit = NULL, *j;
	uint64_t history = 0;
	unsigned trim_before = w->credit_since_trim;
	int err;

	err = guard_db_begin(w->db);
	for (j = w->retry; j && !err; j = j->next) {
		err = db_part(w, j);
		if (j->kind == GJOB_CREDIT)
			credit = j;
		if (j->kind == GJOB_BAN && j->ban.since > history)
			history = j->ban.since;
	}
	/* Expired bans stay a while as escalation history, then go: once
	 * per batch (a table scan), not once per ban. */
	if (!err && history > HISTORY_MS)
		err = guard_db_bans_prune(w->db, history - HISTORY_MS);
	if (!err)
		err = credit_trim(w, credit);
	if (!err)
		err = guard_db_commit(w->db);
	if (err) {
		guard_db_rollback(w->db);
		w->credit_since_trim = trim_before;
	}
	return err;
}

/* Move the jobs of list with a database part to the end of w->retry
 * (marked: their kernel and log parts are done); free the others. Past
 * the bounds, events go first, then anything: counted as lost. */
static void keep_db_jobs(struct gworker *w, struct gjob *list)
{
	struct gjob *j, *next;
	uint64_t lost = 0;

	for (j = list; j; j = next) {
		next = j->next;
		j->next = NULL;
		if (!w->db || !db_job(j) ||
		    (j->kind == GJOB_EVENT && w->n_retry_ev >= RETRY_EVENTS) ||
		    w->n_retry >= RETRY_MAX) {
			if (w->db && db_job(j))
				lost++;
			free(j->text);
			free(j);
			continue;
		}
		if (w->retry_tail)
			w->retry_tail->next = j;
		else
			w->retry = j;
		w->retry_tail = j;
		w->n_retry++;
		w->n_retry_ev += j->kind == GJOB_EVENT;
	}
	if (lost) {
		pthread_mutex_lock(&w->mtx);
		w->lost += lost;
		pthread_mutex_unlock(&w->mtx);
		store_health_pending(STORE_HS_GUARD, w->n_retry, lost);
	}
}

static void retry_free(struct gworker *w)
{
	struct gjob *j, *next;

	for (j = w->retry; j; j = next) {
		next = j->next;
		free(j->text);
		free(j);
	}
	w->retry = w->retry_tail = NULL;
	w->n_retry = w->n_retry_ev = 0;
}

/* The next try of what waits: RETRY_MS from now. */
static void retry_in(struct gworker *w)
{
	clock_gettime(CLOCK_REALTIME, &w->retry_at);
	w->retry_at.tv_sec += RETRY_MS / 1000;
	w->retry_at.tv_nsec += (long)(RETRY_MS % 1000) * 1000000L;
	if (w->retry_at.tv_nsec >= 1000000000L) {
		w->retry_at.tv_sec++;
		w->retry_at.tv_nsec -= 1000000000L;
	}
}

/* One batch: the kernel part (one nft transaction) and security.log for
 * the new jobs at once; the database part behind whatever waits for a
 * retry, attempted now when due (no retry waiting, or its time came),
 * else kept for that time so that a full disk is not hammered at the
 * rate jobs arrive. */
static void run_batch(struct gworker *w, struct gjob *list, bool due,
		      uint64_t last_seq)
{
	size_t len = 0;
	bool any_setup = false, any_nft = false;
	unsigned lines = 0;
	struct gjob *j;
	int err = 0;

	w->nftbuf[0] = 0;
	for (j = list; j; j = j->next) {
		if (j->kind == GJOB_NFT_SETUP) {
			any_setup = true;
			if (!j->nft) {
				/* Offload switched off: withdraw our rules and
				 * elements so that user space decides alone. */
				char wd[256];

				if (w->off == OFF_ACTIVE &&
				    !gnft_withdraw_script(wd, sizeof(wd)))
					nft_run(w, wd);
				set_offload(w, OFF_DISABLED, NULL);
			}
		}
		if (j->nft && (j->kind == GJOB_NFT_SETUP || w->off == OFF_ACTIVE ||
			       any_setup)) {
			nft_part(w, j, &len);
			any_nft = true;
		}
	}
	if (any_nft && len) {
		int nerr = nft_run(w, w->nftbuf);
		if (nerr && !any_setup && w->off == OFF_ACTIVE) {
			/* One bad element must not lose the others. */
			for (j = list; j; j = j->next) {
				len = 0;
				w->nftbuf[0] = 0;
				nft_part(w, j, &len);
				if (len)
					nft_run(w, w->nftbuf);
			}
		} else if (nerr) {
			char reason[128];
			nft_reason(w, reason, sizeof(reason));
			set_offload(w, OFF_UNAVAILABLE, reason);
		} else if (any_setup) {
			set_offload(w, OFF_ACTIVE, NULL);
		}
	}
	for (j = list; j; j = j->next) {
		if (j->kind == GJOB_EVENT) {
			log_line(w, j->text);
			lines++;
		}
	}
	log_sync(w, lines);
	keep_db_jobs(w, list);
	if (w->retry && due) {
		err = db_write(w);
		if (err) {
			char what[64];

			snprintf(what, sizeof(what), "%zu guard change%s kept"
				 " for a retry", w->n_retry,
				 w->n_retry == 1 ? "" : "s");
			store_health_failed(STORE_HS_GUARD, err, what);
		} else {
			retry_free(w);
			store_health_ok(STORE_HS_GUARD);
		}
	}
	if (w->retry && (due || err))
		retry_in(w);
	store_health_pending(STORE_HS_GUARD, w->n_retry, 0);
	pthread_mutex_lock(&w->mtx);
	if (due && last_seq > w->tried)
		w->tried = last_seq;
	w->retry_first = w->retry ? w->retry->seq : 0;
	w->n_pending = w->n_retry;
	w->db_failed += err != 0;
	pthread_mutex_unlock(&w->mtx);
}

static bool ts_passed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *worker_main(void *arg)
{
	struct gworker *w = arg;
	bool stop = false;

	while (!stop) {
		struct gjob *list;
		uint64_t last_seq;
		bool due, waiting = w->retry || w->log_gap;

		pthread_mutex_lock(&w->mtx);
		if (waiting) {
			while (!w->head && !w->stop &&
			       pthread_cond_timedwait(&w->cond, &w->mtx,
						      &w->retry_at) != ETIMEDOUT)
				;
		} else {
			while (!w->head && !w->stop)
				pthread_cond_wait(&w->cond, &w->mtx);
		}
		list = w->head;
		last_seq = w->seq;
		w->head = w->tail = NULL;
		w->qlen = 0;
		w->busy = list != NULL || waiting;
		/* stopping: one last try for what waits, then give up */
		stop = w->stop && !list;
		pthread_mutex_unlock(&w->mtx);
		due = !w->retry || w->stop || ts_passed(&w->retry_at);
		if (list || (waiting && due))
			run_batch(w, list, due, last_seq);
		if (w->log_gap && due && !list && w->log_path[0]) {
			/* nothing new to log: try the gap marker alone, so
			 * that a recovered disk is seen without traffic */
			log_line(w, NULL);
			log_sync(w, 0);
		}
		/* a log that still fails with nothing else to retry is probed
		 * once per RETRY_MS, not in a loop */
		if (w->log_gap && !w->retry && due)
			retry_in(w);
		if (stop && w->retry) {
			pthread_mutex_lock(&w->mtx);
			w->lost += w->n_retry;
			w->n_pending = 0;
			pthread_mutex_unlock(&w->mtx);
			store_health_pending(STORE_HS_GUARD, 0, w->n_retry);
			retry_free(w);
		}
		pthread_mutex_lock(&w->mtx);
		w->busy = false;
		pthread_cond_broadcast(&w->idle);
		pthread_mutex_unlock(&w->mtx);
	}
	return NULL;
}

int gworker_start(struct gworker **wp, const char *data_dir,
		  const char *db_path, bool offload)
{
	struct gworker *w;
	sigset_t all, old;
	int err = 0;

	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->log_fd = -1;
	w->offload = offload;
	w->off = OFF_STARTING;
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->idle, NULL);
	w->nftbuf = malloc(NFT_BUF);
	if (!w->nftbuf) {
		err = ENOMEM;
		goto out;
	}
	if (data_dir) {
		snprintf(w->log_path, sizeof(w->log_path), "%s/security.log",
			 data_dir);
		w->log_fd = open(w->log_path, O_WRONLY | O_CREAT | O_APPEND |
				 O_CLOEXEC, 0600);
	}
	if (db_path && guard_db_open(&w->db, db_path)) {
		log_warn("guard", "cannot open %s: bans will not persist",
			 db_path);
		/* degraded for the life of the process: nothing is retried
		 * without a connection */
		store_health_failed(STORE_HS_GUARD, EIO, "cannot open the "
				    "database: bans, trust and credit are not "
				    "stored");
	}
	/* The worker must not take the daemon's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&w->thr, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out;
	w->started = true;
	*wp = w;
	w = NULL;
 out:
	if (w) {
		guard_db_close(w->db);
		if (w->log_fd >= 0)
			close(w->log_fd);
		free(w->nftbuf);
		free(w);
	}
	return err;
}

void gworker_flush(struct gworker *w, unsigned timeout_ms)
{
	struct timespec ts;

	if (!w)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mtx);
	while (w->head || w->busy)
		if (pthread_cond_timedwait(&w->idle, &w->mtx, &ts))
			break;
	pthread_mutex_unlock(&w->mtx);
}

void gworker_stop(struct gworker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
	if (w->started)
		pthread_join(w->thr, NULL);
	if (w->nft)
		nft_ctx_free(w->nft);
	guard_db_close(w->db);
	if (w->log_fd >= 0)
		close(w->log_fd);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->mtx);
	free(w->nftbuf);
	free(w);
}

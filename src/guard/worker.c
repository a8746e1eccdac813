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
#include <time.h>
#include <unistd.h>
#include <nftables/libnftables.h>
#include <sqlite3.h>

#include "common/log.h"
#include "guard/guard_int.h"

#define QUEUE_MAX      16384u
#define LOG_ROTATE     (16u << 20)   /* security.log → security.log.1 */
#define EVENTS_KEEP    100000        /* rows kept in guard_events */
#define NFT_BUF        (256u << 10)
#define HISTORY_MS     (2ull * 86400000u)   /* expired bans kept */

struct gworker {
	pthread_t thr;
	pthread_mutex_t mtx;
	pthread_cond_t cond, idle;
	struct gjob *head, *tail;
	size_t qlen;
	bool busy, stop, started;
	uint64_t dropped;
	/* worker-thread state */
	sqlite3 *db;
	char log_path[PATH_MAX];
	int log_fd;
	struct nft_ctx *nft;
	bool offload;
	uint64_t credit_trim_ms;     /* last trim of guard_credit */
	unsigned credit_since_trim;  /* rows written since */
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
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->qlen++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
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

static void log_line(struct gworker *w, const char *line)
{
	struct stat stt;
	size_t len = strlen(line);

	if (w->log_fd < 0)
		return;
	if (!fstat(w->log_fd, &stt) && stt.st_size > (off_t)LOG_ROTATE) {
		char old[PATH_MAX + 4];
		snprintf(old, sizeof(old), "%s.1", w->log_path);
		rename(w->log_path, old);
		close(w->log_fd);
		w->log_fd = open(w->log_path, O_WRONLY | O_CREAT | O_APPEND |
				 O_CLOEXEC, 0600);
		if (w->log_fd < 0)
			return;
	}
	if (write(w->log_fd, line, len) != (ssize_t)len ||
	    write(w->log_fd, "\n", 1) != 1)
		return;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void db_exec_ban(struct gworker *w, const struct gban *b)
{
	sqlite3_stmt *st = NULL;
	char addr[64];
	json_t *ja = json_array();
	char *exts;

	if (!w->db)
		goto out;
	for (unsigned i = 0; i < b->n_ext; i++)
		json_array_append_new(ja, json_string(b->ext[i]));
	exts = json_dumps(ja, JSON_COMPACT);
	gaddr_str(&b->addr, addr, sizeof(addr));
	if (!sqlite3_prepare_v2(w->db, "INSERT OR REPLACE INTO guard_bans"
				" (addr, reason, extensions, count, since,"
				" until, offences, manual) VALUES"
				" (?,?,?,?,?,?,?,?)", -1, &st, NULL)) {
		sqlite3_bind_text(st, 1, addr, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, b->reason, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, exts ? exts : "[]", -1,
				  SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, b->count);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)b->since);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)b->until);
		sqlite3_bind_int64(st, 7, b->offences);
		sqlite3_bind_int(st, 8, b->manual);
		sqlite3_step(st);
	}
	free(exts);
 out:
	sqlite3_finalize(st);
	json_decref(ja);
}

static void db_text(struct gworker *w, const char *sql, const char *a,
		    sqlite3_int64 n, const char *t)
{
	sqlite3_stmt *st = NULL;

	if (!w->db || sqlite3_prepare_v2(w->db, sql, -1, &st, NULL))
		goto out;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, n);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_text(st, 3, t, -1, SQLITE_TRANSIENT);
	sqlite3_step(st);
 out:
	sqlite3_finalize(st);
}

static void db_event(struct gworker *w, const char *line)
{
	sqlite3_stmt *st = NULL;
	json_t *ev;
	const char *type;
	sqlite3_int64 ts = 0;

	if (!w->db)
		return;
	ev = json_loads(line, 0, NULL);
	type = json_string_value(json_object_get(ev, "type"));
	ts = json_integer_value(json_object_get(ev, "ts_ms"));
	if (!sqlite3_prepare_v2(w->db, "INSERT INTO guard_events (ts, type,"
				" event) VALUES (?,?,?)", -1, &st, NULL)) {
		sqlite3_bind_int64(st, 1, ts);
		sqlite3_bind_text(st, 2, type ? type : "?", -1,
				  SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, line, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_DONE &&
		    sqlite3_last_insert_rowid(w->db) % 1000 == 0) {
			char sql[128];
			snprintf(sql, sizeof(sql), "DELETE FROM guard_events "
				 "WHERE id <= %lld", (long long)
				 (sqlite3_last_insert_rowid(w->db) -
				  EVENTS_KEEP));
			sqlite3_exec(w->db, sql, NULL, NULL, NULL);
		}
	}
	sqlite3_finalize(st);
	json_decref(ev);
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

static void db_part(struct gworker *w, const struct gjob *j)
{
	char addr[64];

	switch (j->kind) {
	case GJOB_BAN:
		db_exec_ban(w, &j->ban);
		break;
	case GJOB_UNBAN:
		gaddr_str(&j->ban.addr, addr, sizeof(addr));
		db_text(w, "DELETE FROM guard_bans WHERE addr = ?", addr, 0,
			NULL);
		break;
	case GJOB_TRUST:
		gaddr_str(&j->ban.addr, addr, sizeof(addr));
		db_text(w, "INSERT OR REPLACE INTO guard_trust (net, until)"
			" VALUES (?, ?)", addr, (sqlite3_int64)j->until, NULL);
		break;
	case GJOB_EVENT:
		log_line(w, j->text);
		db_event(w, j->text);
		break;
	case GJOB_BAN_END:
		gaddr_str(&j->ban.addr, addr, sizeof(addr));
		db_text(w, "UPDATE guard_bans SET ended = 1 WHERE addr = ? AND"
			" until = ?", addr, (sqlite3_int64)j->ban.until, NULL);
		break;
	case GJOB_CREDIT:
		gaddr_str(&j->ban.addr, addr, sizeof(addr));
		db_text(w, "INSERT INTO guard_credit (addr, last_ok) VALUES"
			" (?, ?) ON CONFLICT(addr) DO UPDATE SET last_ok ="
			" MAX(last_ok, excluded.last_ok)", addr,
			(sqlite3_int64)j->until, NULL);
		w->credit_since_trim++;
		break;
	default:
		break;
	}
}

/* guard_credit stays bounded: rows older than credit_hours go, and at
 * most keep rows stay (the most recent). Done once a minute or after
 * CREDIT_TRIM_ROWS new rows, so the table never exceeds keep +
 * CREDIT_TRIM_ROWS rows (plus one minute of new sources). */
#define CREDIT_TRIM_ROWS 1024u
static void credit_trim(struct gworker *w, const struct gjob *last)
{
	sqlite3_stmt *st = NULL;
	uint64_t now = wall_ms();

	if (!w->db || !last || !w->credit_since_trim ||
	    (w->credit_since_trim < CREDIT_TRIM_ROWS &&
	     now - w->credit_trim_ms < 60000u))
		return;
	w->credit_trim_ms = now;
	w->credit_since_trim = 0;
	if (!sqlite3_prepare_v2(w->db, "DELETE FROM guard_credit WHERE"
				" last_ok < ? OR addr IN (SELECT addr FROM"
				" guard_credit ORDER BY last_ok DESC LIMIT -1"
				" OFFSET ?)", -1, &st, NULL)) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)last->cutoff);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)last->keep);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
}

static void run_batch(struct gworker *w, struct gjob *list)
{
	const struct gjob *credit = NULL;
	uint64_t history = 0;
	size_t len = 0;
	bool any_setup = false, any_nft = false;
	struct gjob *j;

	w->nftbuf[0] = 0;
	for (j = list; j; j = j->next) {
		if (j->kind == GJOB_NFT_SETUP) {
			any_setup = true;
			if (!j->nft) {
				/* Offload switched off: withdraw our rules and
				 * elements so that user space decides alone. */
				if (w->off == OFF_ACTIVE)
					nft_run(w, gnft_withdraw_script);
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
		int err = nft_run(w, w->nftbuf);
		if (err && !any_setup && w->off == OFF_ACTIVE) {
			/* One bad element must not lose the others. */
			for (j = list; j; j = j->next) {
				len = 0;
				w->nftbuf[0] = 0;
				nft_part(w, j, &len);
				if (len)
					nft_run(w, w->nftbuf);
			}
		} else if (err) {
			char reason[128];
			nft_reason(w, reason, sizeof(reason));
			set_offload(w, OFF_UNAVAILABLE, reason);
		} else if (any_setup) {
			set_offload(w, OFF_ACTIVE, NULL);
		}
	}
	if (w->db)
		sqlite3_exec(w->db, "BEGIN", NULL, NULL, NULL);
	for (j = list; j; j = j->next) {
		db_part(w, j);
		if (j->kind == GJOB_CREDIT)
			credit = j;
		if (j->kind == GJOB_BAN && j->ban.since > history)
			history = j->ban.since;
	}
	/* Expired bans stay a while as escalation history, then go: once
	 * per batch (a table scan), not once per ban. */
	if (w->db && history > HISTORY_MS) {
		char sql[128];
		snprintf(sql, sizeof(sql), "DELETE FROM guard_bans WHERE until"
			 " < %llu", (unsigned long long)(history - HISTORY_MS));
		sqlite3_exec(w->db, sql, NULL, NULL, NULL);
	}
	credit_trim(w, credit);
	if (w->db)
		sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
}

static void *worker_main(void *arg)
{
	struct gworker *w = arg;
	bool stop = false;

	while (!stop) {
		struct gjob *list, *j, *next;

		pthread_mutex_lock(&w->mtx);
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cond, &w->mtx);
		list = w->head;
		w->head = w->tail = NULL;
		w->qlen = 0;
		w->busy = list != NULL;
		stop = w->stop && !list;
		pthread_mutex_unlock(&w->mtx);
		if (list)
			run_batch(w, list);
		for (j = list; j; j = next) {
			next = j->next;
			free(j->text);
			free(j);
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
	if (db_path && gpersist_open(&w->db, db_path))
		log_warn("guard", "cannot open %s: bans will not persist",
			 db_path);
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
		sqlite3_close(w->db);
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
	sqlite3_close(w->db);
	if (w->log_fd >= 0)
		close(w->log_fd);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->mtx);
	free(w->nftbuf);
	free(w);
}

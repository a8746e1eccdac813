/*
 * health — one record per process of how the data directory takes our
 * writes (see health.h for why it is not per store).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#include "store/health.h"

static const char *const src_name[STORE_HS_N] = {
	"config", "bindings", "guard", "security_log", "cdr",
};

/* Sources that keep their failed changes and retry them: they clear
 * themselves. The others are cleared by any database write that works. */
static const bool src_retries[STORE_HS_N] = {
	false, true, true, true, true,
};
static const bool src_db[STORE_HS_N] = { true, true, true, false, true };

static struct {
	pthread_mutex_t mtx;
	bool failing[STORE_HS_N];
	uint64_t failed[STORE_HS_N], pending[STORE_HS_N], lost[STORE_HS_N];
	bool degraded;
	uint64_t n_degraded, n_recovered;
	int64_t since;                /* unix s, start of this state */
	struct {
		bool set;
		enum store_hsrc src;
		int err;
		int64_t at;
		char detail[160];
	} last;
} h = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* Recompute the state; mtx held. */
static void update(void)
{
	bool d = false;

	for (int i = 0; i < STORE_HS_N; i++)
		d = d || h.failing[i] || h.pending[i];
	if (d == h.degraded)
		return;
	h.degraded = d;
	h.since = now_s();
	if (d)
		h.n_degraded++;
	else
		h.n_recovered++;
}

void store_health_failed(enum store_hsrc src, int err, const char *detail)
{
	if ((unsigned)src >= STORE_HS_N)
		return;
	pthread_mutex_lock(&h.mtx);
	h.failing[src] = true;
	h.failed[src]++;
	h.last.set = true;
	h.last.src = src;
	h.last.err = err;
	h.last.at = now_s();
	snprintf(h.last.detail, sizeof(h.last.detail), "%s",
		 detail ? detail : "");
	update();
	pthread_mutex_unlock(&h.mtx);
}

void store_health_ok(enum store_hsrc src)
{
	if ((unsigned)src >= STORE_HS_N)
		return;
	pthread_mutex_lock(&h.mtx);
	h.failing[src] = false;
	if (src_db[src])
		for (int i = 0; i < STORE_HS_N; i++)
			if (!src_retries[i])
				h.failing[i] = false;
	update();
	pthread_mutex_unlock(&h.mtx);
}

void store_health_pending(enum store_hsrc src, uint64_t pending,
			  uint64_t lost)
{
	if ((unsigned)src >= STORE_HS_N)
		return;
	pthread_mutex_lock(&h.mtx);
	h.pending[src] = pending;
	h.lost[src] += lost;
	update();
	pthread_mutex_unlock(&h.mtx);
}

bool store_health_degraded(void)
{
	bool d;

	pthread_mutex_lock(&h.mtx);
	d = h.degraded;
	pthread_mutex_unlock(&h.mtx);
	return d;
}

/* "bindings: No space left on device (batch of 12 changes)"; mtx held. */
static void last_text(char *buf, size_t sz)
{
	if (!h.last.set) {
		snprintf(buf, sz, "none");
		return;
	}
	snprintf(buf, sz, "%s: %s%s%s%s", src_name[h.last.src],
		 strerror(h.last.err), h.last.detail[0] ? " (" : "",
		 h.last.detail, h.last.detail[0] ? ")" : "");
}

void store_health_transitions(uint64_t *degraded, uint64_t *recovered,
			      char *detail, size_t sz)
{
	pthread_mutex_lock(&h.mtx);
	if (degraded)
		*degraded = h.n_degraded;
	if (recovered)
		*recovered = h.n_recovered;
	if (detail && sz)
		last_text(detail, sz);
	pthread_mutex_unlock(&h.mtx);
}

static json_t *per_source(const uint64_t *v)
{
	json_t *o = json_object();

	for (int i = 0; i < STORE_HS_N; i++)
		json_object_set_new(o, src_name[i], json_integer((json_int_t)
								 v[i]));
	return o;
}

json_t *store_health_json(void)
{
	json_t *o, *last = NULL;
	char text[256];

	pthread_mutex_lock(&h.mtx);
	if (h.last.set) {
		last_text(text, sizeof(text));
		last = json_pack("{s:s,s:s,s:i,s:s,s:I,s:s}",
				 "source", src_name[h.last.src],
				 "error", strerror(h.last.err),
				 "errno", h.last.err,
				 "detail", h.last.detail,
				 "at", (json_int_t)h.last.at,
				 "text", text);
	}
	o = json_pack("{s:s,s:I,s:o,s:o,s:o,s:o,s:I,s:I}",
		      "state", h.degraded ? "degraded" : "ok",
		      "since", (json_int_t)h.since,
		      "last_error", last ? last : json_null(),
		      "failed_writes", per_source(h.failed),
		      "pending", per_source(h.pending),
		      "lost", per_source(h.lost),
		      "degraded_count", (json_int_t)h.n_degraded,
		      "recovered_count", (json_int_t)h.n_recovered);
	pthread_mutex_unlock(&h.mtx);
	return o;
}

void store_health_reset(void)
{
	pthread_mutex_lock(&h.mtx);
	memset(h.failing, 0, sizeof(h.failing));
	memset(h.failed, 0, sizeof(h.failed));
	memset(h.pending, 0, sizeof(h.pending));
	memset(h.lost, 0, sizeof(h.lost));
	h.degraded = false;
	h.n_degraded = h.n_recovered = 0;
	h.since = now_s();
	memset(&h.last, 0, sizeof(h.last));
	pthread_mutex_unlock(&h.mtx);
}

int store_sqlite_errno(struct sqlite3 *db, int rc)
{
	int sys;

	if (!rc && db)
		rc = sqlite3_extended_errcode(db);
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_IOERR:
		sys = db ? sqlite3_system_errno(db) : 0;
		return sys == ENOSPC || sys == EDQUOT ? ENOSPC : EIO;
	case SQLITE_READONLY:
		return EROFS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	default:
		return EIO;
	}
}

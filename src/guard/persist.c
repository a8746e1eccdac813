/*
 * persist — the guard's rows between its own types and the store's typed
 * functions (store/guard_db.h): addresses parsed and formatted here, the
 * SQL and the tables in store/.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guard/guard_int.h"
#include "store/guard_db.h"

struct bans_fill {
	struct gban *out;
	size_t max, n;
};

static int ban_row(const struct guard_db_ban *r, void *arg)
{
	struct bans_fill *f = arg;
	struct gban *b;

	if (f->n >= f->max)
		return 1;
	b = &f->out[f->n];
	memset(b, 0, sizeof(*b));
	if (gaddr_parse(&b->addr, r->addr, 128))
		return 0;
	snprintf(b->reason, sizeof(b->reason), "%s",
		 r->reason ? r->reason : "");
	for (unsigned i = 0; i < r->n_ext && b->n_ext < GUARD_EXTS; i++)
		snprintf(b->ext[b->n_ext++], GUARD_EXTLEN, "%s", r->ext[i]);
	b->count = r->count;
	b->since = r->since;
	b->until = r->until;
	b->offences = r->offences;
	b->manual = r->manual;
	b->ended = r->ended;
	f->n++;
	return 0;
}

/* What was read before a failure is kept: a damaged row must not cost
 * the bans before it. */
int gpersist_load_bans(struct guard_db *db, struct gban *out, size_t max,
		       size_t *n)
{
	struct bans_fill f = { out, max, 0 };

	guard_db_bans_each(db, ban_row, &f);
	*n = f.n;
	return 0;
}

struct trust_fill {
	struct gtrust *out;
	size_t max, n;
};

static int trust_row(const char *net, uint64_t until, void *arg)
{
	struct trust_fill *f = arg;

	if (f->n >= f->max)
		return 1;
	if (gaddr_parse(&f->out[f->n].net, net, 128))
		return 0;
	f->out[f->n].until = until;
	f->n++;
	return 0;
}

int gpersist_load_trust(struct guard_db *db, struct gtrust *out, size_t max,
			size_t *n)
{
	struct trust_fill f = { out, max, 0 };

	guard_db_trust_each(db, trust_row, &f);
	*n = f.n;
	return 0;
}

struct credit_fill {
	struct gcredit *out;
	size_t max, n;
};

static int credit_row(const char *a, uint64_t last_ok, void *arg)
{
	struct credit_fill *f = arg;

	if (f->n >= f->max)
		return 1;
	/* keys are stored as gaddr_str wrote them ("192.0.2.7",
	 * "2001:db8::/64"): parse back with their own length */
	if (gaddr_parse(&f->out[f->n].addr, a, 128))
		return 0;
	f->out[f->n].last_ok = last_ok;
	f->n++;
	return 0;
}

int gpersist_load_credit(struct guard_db *db, uint64_t cutoff,
			 struct gcredit *out, size_t max, size_t *n)
{
	struct credit_fill f = { out, max, 0 };

	guard_db_credit_each(db, cutoff, max, credit_row, &f);
	*n = f.n;
	return 0;
}

int gpersist_put_ban(struct guard_db *db, const struct gban *b)
{
	struct guard_db_ban r;
	char addr[64];

	memset(&r, 0, sizeof(r));
	gaddr_str(&b->addr, addr, sizeof(addr));
	r.addr = addr;
	r.reason = b->reason;
	for (unsigned i = 0; i < b->n_ext && i < GUARD_DB_EXTS; i++)
		r.ext[r.n_ext++] = b->ext[i];
	r.count = b->count;
	r.since = b->since;
	r.until = b->until;
	r.offences = b->offences;
	r.manual = b->manual;
	return guard_db_ban_put(db, &r);
}

int guard_events_query(const char *db_path, long long after, unsigned limit,
		       json_t **out)
{
	return guard_db_events_query(db_path, after, limit, out);
}

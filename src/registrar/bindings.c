/*
 * bindings — the location service: per extension, up to max_contacts
 * Contact bindings; globally at most max_bind. RFC 3261 section 10.3.
 */
#include <errno.h>
#include <string.h>

#include "registrar/registrar.h"

static void ext_destructor(void *arg)
{
	struct reg_ext *e = arg;

	hash_unlink(&e->he);
}

static void binding_destructor(void *arg)
{
	struct reg_binding *b = arg;

	list_unlink(&b->le_ext);
	list_unlink(&b->le_all);
	hash_unlink(&b->le_id);
	mem_deref(b->uri);
	mem_deref(b->call_id);
	mem_deref(b->ua);
}

static void loc_destructor(void *arg)
{
	struct reg_loc *l = arg;
	struct le *le = l->all.head;

	while (le) {
		struct reg_binding *b = le->data;

		le = le->next;
		mem_deref(b);
	}
	hash_flush(l->by_ext);
	mem_deref(l->by_ext);
	mem_deref(l->by_id);
}

int reg_loc_alloc(struct reg_loc **lp, size_t max_bind)
{
	struct reg_loc *l;
	int err;

	if (!lp)
		return EINVAL;
	l = mem_zalloc(sizeof(*l), loc_destructor);
	if (!l)
		return ENOMEM;
	l->max_bind = max_bind;
	l->next_id = 1;
	err = hash_alloc(&l->by_ext, 16384);
	if (!err)
		err = hash_alloc(&l->by_id, 65536);
	if (err) {
		mem_deref(l);
		return err;
	}
	*lp = l;
	return 0;
}

static bool ext_cmp(struct le *le, void *arg)
{
	const struct reg_str *n = arg;
	const struct reg_ext *e = le->data;

	return strlen(e->number) == n->l && !memcmp(e->number, n->p, n->l);
}

struct reg_ext *reg_ext_find(struct reg_loc *l, const char *num, size_t len)
{
	struct reg_str n = {num, len};

	if (!l || !num)
		return NULL;
	return list_ledata(hash_lookup(l->by_ext, hash_joaat((const uint8_t *)num, len),
				       ext_cmp, &n));
}

int reg_ext_get(struct reg_loc *l, const char *num, size_t len,
		struct reg_ext **ep)
{
	struct reg_ext *e = reg_ext_find(l, num, len);

	if (e) {
		*ep = e;
		return 0;
	}
	if (!len || len >= sizeof(e->number))
		return EINVAL;
	e = mem_zalloc(sizeof(*e), ext_destructor);
	if (!e)
		return ENOMEM;
	memcpy(e->number, num, len);
	hash_append(l->by_ext, hash_joaat((const uint8_t *)num, len), &e->he, e);
	l->n_ext++;
	*ep = e;
	return 0;
}

static bool id_cmp(struct le *le, void *arg)
{
	const struct reg_binding *b = le->data;

	return b->id == *(uint64_t *)arg;
}

struct reg_binding *reg_binding_by_id(struct reg_loc *l, uint64_t id)
{
	if (!l)
		return NULL;
	return list_ledata(hash_lookup(l->by_id, (uint32_t)id, id_cmp, &id));
}

void reg_binding_remove(struct reg_loc *l, struct reg_binding *b,
			reg_change_h *ch, void *arg)
{
	if (!l || !b)
		return;
	if (ch)
		ch(REG_OP_DEL, b, arg);
	if (b->ext && b->ext->n)
		b->ext->n--;
	if (l->n_bind)
		l->n_bind--;
	mem_deref(b);
}

void reg_ext_clear(struct reg_loc *l, struct reg_ext *e, reg_change_h *ch,
		   void *arg)
{
	struct le *le;

	if (!l || !e)
		return;
	le = e->bindings.head;
	while (le) {
		struct reg_binding *b = le->data;

		le = le->next;
		reg_binding_remove(l, b, ch, arg);
	}
}

size_t reg_expire(struct reg_loc *l, int64_t now, reg_change_h *ch,
		  void *arg)
{
	struct le *le;
	size_t n = 0;

	if (!l)
		return 0;
	le = l->all.head;
	while (le) {
		struct reg_binding *b = le->data;

		le = le->next;
		if (b->expires <= now) {
			reg_binding_remove(l, b, ch, arg);
			n++;
		}
	}
	return n;
}

static struct reg_binding *find_uri(struct reg_ext *e, const struct reg_str *u)
{
	for (struct le *le = e->bindings.head; le; le = le->next) {
		struct reg_binding *b = le->data;

		if (strlen(b->uri) == u->l && !memcmp(b->uri, u->p, u->l))
			return b;
	}
	return NULL;
}

static int binding_new(struct reg_loc *l, struct reg_ext *e,
		       struct reg_binding **bp)
{
	struct reg_binding *b = mem_zalloc(sizeof(*b), binding_destructor);

	if (!b)
		return ENOMEM;
	b->ext = e;
	b->id = l->next_id++;
	list_append(&e->bindings, &b->le_ext, b);
	list_append(&l->all, &b->le_all, b);
	hash_append(l->by_id, (uint32_t)b->id, &b->le_id, b);
	e->n++;
	l->n_bind++;
	*bp = b;
	return 0;
}

static int set_str(char **dst, const char *p, size_t l)
{
	char *s = NULL;
	int err;

	if (*dst && strlen(*dst) == l && !memcmp(*dst, p, l))
		return 0;
	err = re_sdprintf(&s, "%b", p, l);
	if (err)
		return err;
	mem_deref(*dst);
	*dst = s;
	return 0;
}

bool reg_reflects(struct reg_loc *l, const struct reg_req *rq)
{
	struct reg_ext *e;

	if (!l || !rq || !rq->number)
		return false;
	e = reg_ext_find(l, rq->number, strlen(rq->number));
	if (rq->star)
		return !e || !e->n;
	for (size_t i = 0; i < rq->n; i++) {
		bool bound = e && find_uri(e, &rq->c[i].uri);

		if (bound != (rq->c[i].expires > 0))
			return false;
	}
	return true;
}

static bool str_differs(const char *s, const char *p, size_t l)
{
	return !s || strlen(s) != l || memcmp(s, p, l);
}

static struct reg_binding *oldest(struct reg_ext *e)
{
	struct reg_binding *o = NULL;

	for (struct le *le = e->bindings.head; le; le = le->next) {
		struct reg_binding *b = le->data;

		if (!o || b->registered < o->registered ||
		    (b->registered == o->registered && b->id < o->id))
			o = b;
	}
	return o;
}

int reg_apply(struct reg_loc *l, const struct reg_req *rq, int64_t now,
	      reg_change_h *ch, void *arg)
{
	struct reg_ext *e;
	size_t adds = 0;
	int err;

	if (!l || !rq || !rq->number)
		return EINVAL;
	err = reg_ext_get(l, rq->number, strlen(rq->number), &e);
	if (err)
		return err;

	/* First pass: check everything, change nothing */
	if (rq->star) {
		for (struct le *le = e->bindings.head; le; le = le->next) {
			const struct reg_binding *b = le->data;

			if (strlen(b->call_id) == rq->call_id.l &&
			    !memcmp(b->call_id, rq->call_id.p, rq->call_id.l) &&
			    rq->cseq <= b->cseq)
				return EPROTO;
		}
		reg_ext_clear(l, e, ch, arg);
		return 0;
	}
	if (rq->n > rq->max_contacts)
		return E2BIG;
	for (size_t i = 0; i < rq->n; i++) {
		const struct reg_binding *b = find_uri(e, &rq->c[i].uri);

		if (b && strlen(b->call_id) == rq->call_id.l &&
		    !memcmp(b->call_id, rq->call_id.p, rq->call_id.l) &&
		    rq->cseq <= b->cseq)
			return EPROTO;
		if (!b && rq->c[i].expires > 0)
			adds++;
	}
	if (l->n_bind + adds > l->max_bind)
		return ENOSPC;

	/* Second pass: apply */
	for (size_t i = 0; i < rq->n; i++) {
		const struct reg_contact *c = &rq->c[i];
		struct reg_binding *b = find_uri(e, &c->uri);
		struct sa target;
		bool changed;

		if (c->expires <= 0) {
			if (b)
				reg_binding_remove(l, b, ch, arg);
			continue;
		}
		changed = !b;
		if (!b) {
			while (e->n >= rq->max_contacts && e->n) {
				struct reg_binding *o = oldest(e);

				reg_binding_remove(l, o, ch, arg);
			}
			err = binding_new(l, e, &b);
			if (err)
				return err;
		}
		/* Call-ID and CSeq are ordering data: a change alone does not
		 * force a write (a phone that restarts its Call-ID on every
		 * refresh would otherwise cost one per REGISTER) */
		changed |= str_differs(b->uri, c->uri.p, c->uri.l) ||
			str_differs(b->ua, rq->ua.p ? rq->ua.p : "", rq->ua.l);
		err = set_str(&b->uri, c->uri.p, c->uri.l);
		err |= set_str(&b->call_id, rq->call_id.p, rq->call_id.l);
		err |= set_str(&b->ua, rq->ua.p ? rq->ua.p : "", rq->ua.l);
		if (err) {
			reg_binding_remove(l, b, ch, arg);
			return ENOMEM;
		}
		target = (rq->nat || !c->has_target) ? rq->src : c->target;
		changed |= !sa_cmp(&b->src, &rq->src, SA_ALL) ||
			!sa_cmp(&b->target, &target, SA_ALL) ||
			b->tp != rq->tp || b->nat != rq->nat;
		b->cseq = rq->cseq;
		b->expires = now + c->expires;
		b->registered = now;
		b->src = rq->src;
		b->tp = rq->tp;
		b->conn_id = rq->conn_id;
		b->nat = rq->nat;
		b->target = target;
		/* a plain refresh is written only when the stored expiry has
		 * less than half of the new lifetime left */
		if (!changed && (b->stored_exp - now) * 2 >= c->expires)
			continue;
		b->stored_exp = b->expires;
		if (ch)
			ch(REG_OP_PUT, b, arg);
	}
	return 0;
}

int reg_restore(struct reg_loc *l, const char *number, const char *uri,
		const char *call_id, uint32_t cseq, const char *ua,
		int64_t expires, int64_t registered, const struct sa *src,
		const struct sa *target, uint8_t tp, bool nat)
{
	struct reg_ext *e;
	struct reg_binding *b;
	int err;

	if (!l || !number || !uri || !call_id || !src || !target)
		return EINVAL;
	if (l->n_bind >= l->max_bind)
		return ENOSPC;
	err = reg_ext_get(l, number, strlen(number), &e);
	if (err)
		return err;
	err = binding_new(l, e, &b);
	if (err)
		return err;
	err = set_str(&b->uri, uri, strlen(uri));
	err |= set_str(&b->call_id, call_id, strlen(call_id));
	err |= set_str(&b->ua, ua ? ua : "", ua ? strlen(ua) : 0);
	if (err) {
		reg_binding_remove(l, b, NULL, NULL);
		return ENOMEM;
	}
	b->cseq = cseq;
	b->expires = expires;
	b->stored_exp = expires;
	b->registered = registered;
	b->src = *src;
	b->target = *target;
	b->tp = tp;
	b->nat = nat;
	return 0;
}

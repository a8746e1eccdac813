/*
 * bindings — the location service: per extension, up to max_contacts
 * Contact bindings; globally at most max_bind. RFC 3261 section 10.3.
 *
 * Memory (docs/internals/registrar.md): a binding is one malloc holding
 * its strings; bindings are found by id through a slot array (8 bytes per
 * binding, no hash entry) and listed per extension by a next pointer; the
 * state of an extension (its bindings list and nonce-count table) lives
 * only while it has bindings or a nonce that may still be used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "registrar/registrar.h"

#define SLOT_BITS 24
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define SLOT_FREE(i) ((struct reg_binding *)(uintptr_t)(((i) << 1) | 1))
#define SLOT_IS_FREE(p) (((uintptr_t)(p)) & 1)

uint64_t reg_callid_hash(const char *p, size_t l)
{
	static const uint8_t key[crypto_shorthash_KEYBYTES] =
		"bulwark call-id";
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	crypto_shorthash(h, (const uint8_t *)p, l, key);
	for (size_t i = 0; i < sizeof(h); i++)
		v = v << 8 | h[i];
	return v;
}

static void ext_free(struct reg_loc *l, struct reg_ext *e)
{
	struct reg_ext **pp = &l->ext_tab[hash_joaat((const uint8_t *)e->number,
						      strlen(e->number)) &
					   (l->ext_buckets - 1)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	free(e->nc);
	free(e);
	if (l->n_ext)
		l->n_ext--;
}

/* ---- shared User-Agent strings ---- */

static struct reg_ua **ua_bucket(struct reg_loc *l, const char *p,
				 size_t n)
{
	return &l->ua_tab[hash_joaat((const uint8_t *)p, n) &
			  (l->ua_buckets - 1)];
}

static void ua_grow(struct reg_loc *l)
{
	size_t nb = l->ua_buckets ? l->ua_buckets * 2 : 64;
	struct reg_ua **t = calloc(nb, sizeof(*t)), **old = l->ua_tab;
	size_t ob = l->ua_buckets;

	if (!t)
		return;   /* longer chains, still correct */
	l->ua_tab = t;
	l->ua_buckets = nb;
	for (size_t i = 0; i < ob; i++) {
		struct reg_ua *u = old[i];

		while (u) {
			struct reg_ua *nx = u->hnext, **pp;

			pp = ua_bucket(l, u->s, u->len);
			u->hnext = *pp;
			*pp = u;
			u = nx;
		}
	}
	free(old);
}

/* A reference to the shared copy of p[0..n) (n ≤ REG_UA_MAX), NULL for
 * "" (or when out of memory: the User-Agent is display only). */
static const struct reg_ua *ua_get(struct reg_loc *l, const char *p,
				   size_t n)
{
	struct reg_ua *u, **pp;

	if (!n)
		return NULL;
	if (l->n_ua >= l->ua_buckets)
		ua_grow(l);
	if (!l->ua_buckets)
		return NULL;
	pp = ua_bucket(l, p, n);
	for (u = *pp; u; u = u->hnext)
		if (u->len == n && !memcmp(u->s, p, n)) {
			u->refs++;
			return u;
		}
	u = malloc(sizeof(*u) + n + 1);
	if (!u)
		return NULL;
	u->refs = 1;
	u->len = (uint8_t)n;
	memcpy(u->s, p, n);
	u->s[n] = '\0';
	u->hnext = *pp;
	*pp = u;
	l->n_ua++;
	return u;
}

static void ua_put(struct reg_loc *l, const struct reg_ua *cu)
{
	struct reg_ua **pp, *u;

	if (!cu)
		return;
	pp = ua_bucket(l, cu->s, cu->len);
	while (*pp && *pp != cu)
		pp = &(*pp)->hnext;
	u = *pp;
	if (!u || --u->refs)
		return;
	*pp = u->hnext;
	free(u);
	l->n_ua--;
}

static void loc_destructor(void *arg)
{
	struct reg_loc *l = arg;

	for (size_t i = 0; i < l->slot_hi; i++)
		if (!SLOT_IS_FREE(l->slot[i]))
			free(l->slot[i]);
	for (size_t i = 0; i < l->ua_buckets; i++) {
		struct reg_ua *u = l->ua_tab[i];

		while (u) {
			struct reg_ua *nx = u->hnext;

			free(u);
			u = nx;
		}
	}
	free(l->ua_tab);
	for (size_t i = 0; i < l->ext_buckets; i++) {
		struct reg_ext *e = l->ext_tab[i];

		while (e) {
			struct reg_ext *nx = e->hnext;

			free(e->nc);
			free(e);
			e = nx;
		}
	}
	free(l->ext_tab);
	free(l->slot);
}

int reg_loc_alloc(struct reg_loc **lp, size_t max_bind)
{
	struct reg_loc *l;

	if (!lp)
		return EINVAL;
	l = mem_zalloc(sizeof(*l), loc_destructor);
	if (!l)
		return ENOMEM;
	l->max_bind = max_bind;
	l->next_id = 1;
	l->nc_keep = 3600 + 60;
	l->ext_buckets = 64;
	l->ext_tab = calloc(l->ext_buckets, sizeof(*l->ext_tab));
	if (!l->ext_tab) {
		mem_deref(l);
		return ENOMEM;
	}
	*lp = l;
	return 0;
}

static struct reg_ext *ext_lookup(const struct reg_loc *l, const char *num,
				  size_t len, uint32_t h)
{
	for (struct reg_ext *e = l->ext_tab[h & (l->ext_buckets - 1)]; e;
	     e = e->hnext)
		if (!memcmp(e->number, num, len) && !e->number[len])
			return e;
	return NULL;
}

struct reg_ext *reg_ext_find(struct reg_loc *l, const char *num, size_t len)
{
	if (!l || !num || !len || len >= sizeof(((struct reg_ext *)0)->number))
		return NULL;
	return ext_lookup(l, num, len, hash_joaat((const uint8_t *)num, len));
}

/* Double the buckets when there are more extensions than buckets. */
static void ext_grow(struct reg_loc *l)
{
	size_t nb = l->ext_buckets * 2;
	struct reg_ext **t = calloc(nb, sizeof(*t));

	if (!t)
		return;   /* longer chains, still correct */
	for (size_t i = 0; i < l->ext_buckets; i++) {
		struct reg_ext *e = l->ext_tab[i];

		while (e) {
			struct reg_ext *nx = e->hnext;
			size_t k = hash_joaat((const uint8_t *)e->number,
					      strlen(e->number)) & (nb - 1);

			e->hnext = t[k];
			t[k] = e;
			e = nx;
		}
	}
	free(l->ext_tab);
	l->ext_tab = t;
	l->ext_buckets = nb;
}

int reg_ext_get(struct reg_loc *l, const char *num, size_t len,
		struct reg_ext **ep)
{
	struct reg_ext *e;
	uint32_t h;

	if (!l || !num || !ep)
		return EINVAL;
	if (!len || len >= sizeof(e->number))
		return EINVAL;
	h = hash_joaat((const uint8_t *)num, len);
	e = ext_lookup(l, num, len, h);
	if (e) {
		*ep = e;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	memcpy(e->number, num, len);
	if (l->n_ext >= l->ext_buckets)
		ext_grow(l);
	e->hnext = l->ext_tab[h & (l->ext_buckets - 1)];
	l->ext_tab[h & (l->ext_buckets - 1)] = e;
	l->n_ext++;
	*ep = e;
	return 0;
}

struct reg_ext *reg_ext_next(const struct reg_loc *l, size_t *pos,
			     struct reg_ext **cur)
{
	if (!l || !pos || !cur)
		return NULL;
	if (*pos && *cur && (*cur)->hnext) {
		*cur = (*cur)->hnext;
		return *cur;
	}
	while (*pos < l->ext_buckets) {
		struct reg_ext *e = l->ext_tab[(*pos)++];

		if (e) {
			*cur = e;
			return e;
		}
	}
	*cur = NULL;
	return NULL;
}

int reg_nc_check(struct reg_loc *l, const char *num, size_t len,
		 uint64_t nonce_id, uint32_t nc, uint32_t tag)
{
	struct reg_ext *e;
	int err = reg_ext_get(l, num, len, &e);

	if (err)
		return err;
	if (!e->nc) {
		e->nc = calloc(1, sizeof(*e->nc));
		if (!e->nc)
			return ENOMEM;
	}
	return auth_nc_check_tag(e->nc, nonce_id, nc, tag);
}

bool reg_nc_seen(struct reg_loc *l, const char *num, size_t len,
		 uint64_t nonce_id, uint32_t nc, uint32_t tag)
{
	struct reg_ext *e = reg_ext_find(l, num, len);

	return e && e->nc && auth_nc_seen(e->nc, nonce_id, nc, tag);
}

struct reg_binding *reg_binding_by_id(struct reg_loc *l, uint64_t id)
{
	size_t i = (size_t)(id & SLOT_MASK);
	struct reg_binding *b;

	if (!l || i >= l->slot_hi)
		return NULL;
	b = l->slot[i];
	return SLOT_IS_FREE(b) || b->id != id ? NULL : b;
}

struct reg_binding *reg_binding_next(const struct reg_loc *l, size_t *pos)
{
	if (!l || !pos)
		return NULL;
	while (*pos < l->slot_hi) {
		struct reg_binding *b = l->slot[(*pos)++];

		if (!SLOT_IS_FREE(b))
			return b;
	}
	return NULL;
}

/* Where b is linked in its extension's list. */
static struct reg_binding **ext_link(struct reg_binding *b)
{
	struct reg_binding **pp = &b->ext->bindings;

	while (*pp && *pp != b)
		pp = &(*pp)->next;
	return pp;
}

/* Take b out of e's list; false when it is not there. */
static bool ext_unlink(struct reg_ext *e, struct reg_binding *b)
{
	for (struct reg_binding **pp = &e->bindings; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			return true;
		}
	return false;
}

/* Account for and free a binding already unlinked from e. */
static void binding_drop(struct reg_loc *l, struct reg_ext *e,
			 struct reg_binding *b)
{
	size_t i = (size_t)(b->id & SLOT_MASK);

	if (e->n)
		e->n--;
	l->slot[i] = SLOT_FREE(l->free_slot);
	l->free_slot = i + 1;
	if (l->n_bind)
		l->n_bind--;
	ua_put(l, b->ua);
	free(b);
}

void reg_binding_remove(struct reg_loc *l, struct reg_binding *b,
			reg_change_h *ch, void *arg)
{
	if (!l || !b)
		return;
	if (ch)
		ch(REG_OP_DEL, b, arg);
	/* Every binding is linked in its extension's list. One that were
	 * not would still be reachable from elsewhere: it is not freed
	 * (a leak is better than a dangling pointer; never seen). */
	if (!ext_unlink(b->ext, b))
		return;
	binding_drop(l, b->ext, b);
}

void reg_ext_clear(struct reg_loc *l, struct reg_ext *e, reg_change_h *ch,
		   void *arg)
{
	struct reg_binding *b;

	if (!l || !e)
		return;
	/* unlink the head before freeing it: the loop never sees it again */
	while ((b = e->bindings) != NULL) {
		if (ch)
			ch(REG_OP_DEL, b, arg);
		e->bindings = b->next;
		binding_drop(l, e, b);
	}
}

size_t reg_expire(struct reg_loc *l, int64_t now, reg_change_h *ch,
		  void *arg)
{
	size_t n = 0, pos = 0;
	struct reg_binding *b;

	if (!l)
		return 0;
	while ((b = reg_binding_next(l, &pos))) {
		if (b->expires <= now) {
			reg_binding_remove(l, b, ch, arg);
			n++;
		}
	}
	for (size_t i = 0; i < l->ext_buckets; i++) {
		struct reg_ext **pp = &l->ext_tab[i];

		while (*pp) {
			struct reg_ext *e = *pp;

			if (e->nc && auth_nc_unused(e->nc, now, l->nc_keep)) {
				free(e->nc);
				e->nc = NULL;
			}
			if (!e->bindings && !e->nc) {
				*pp = e->hnext;
				free(e);
				l->n_ext--;
				continue;
			}
			pp = &e->hnext;
		}
	}
	return n;
}

static struct reg_binding *find_uri(const struct reg_ext *e,
				    const struct reg_str *u)
{
	if (!e)
		return NULL;
	for (struct reg_binding *b = e->bindings; b; b = b->next)
		if (b->uri_len == u->l && !memcmp(reg_binding_uri(b), u->p, u->l))
			return b;
	return NULL;
}

/* Cut a User-Agent to REG_UA_MAX bytes without splitting a UTF-8
 * character (it is shown in JSON). */
static size_t ua_len(const char *p, size_t l)
{
	if (!p || l <= REG_UA_MAX)
		return p ? l : 0;
	l = REG_UA_MAX;
	while (l && ((unsigned char)p[l] & 0xc0) == 0x80)
		l--;
	return l;
}

static size_t binding_size(bool has_target, size_t uri_l)
{
	return sizeof(struct reg_binding) +
		(has_target ? sizeof(struct sa) : 0) + uri_l + 1;
}

/* Write the variable part: target (if any), URI. */
static void binding_fill(struct reg_binding *b, const struct sa *target,
			 const char *uri, size_t uri_l)
{
	char *s = b->s;

	b->has_target = target != NULL;
	if (target) {
		memcpy(s, target, sizeof(*target));
		s += sizeof(*target);
	}
	b->uri_len = (uint16_t)uri_l;
	memmove(s, uri, uri_l);
	s[uri_l] = '\0';
}

/* A new binding, linked last in e and in a slot. */
static int binding_new(struct reg_loc *l, struct reg_ext *e,
		       const struct sa *target, const char *uri, size_t uri_l,
		       const char *ua, size_t ua_l, struct reg_binding **bp)
{
	struct reg_binding *b;
	size_t i;

	if (uri_l > REG_URI_MAX)
		return EOVERFLOW;
	if (l->free_slot) {
		i = l->free_slot - 1;
	}
	else {
		if (l->slot_hi > SLOT_MASK)
			return ENOSPC;
		if (l->slot_hi == l->n_slot) {
			size_t ns = l->n_slot ? l->n_slot * 2 : 1024;
			struct reg_binding **t;

			if (ns > (size_t)SLOT_MASK + 1)
				ns = (size_t)SLOT_MASK + 1;
			t = realloc(l->slot, ns * sizeof(*t));
			if (!t)
				return ENOMEM;
			l->slot = t;
			l->n_slot = ns;
		}
		i = l->slot_hi;
	}
	b = calloc(1, binding_size(target != NULL, uri_l));
	if (!b)
		return ENOMEM;
	if (l->free_slot)
		l->free_slot = (uintptr_t)l->slot[i] >> 1;
	else
		l->slot_hi++;
	l->slot[i] = b;
	b->ext = e;
	b->id = (l->next_id++ << SLOT_BITS | i) & 0xffffffffffffull;
	binding_fill(b, target, uri, uri_l);
	b->ua = ua_get(l, ua, ua_l);
	*ext_link(b) = b;   /* appended: ext_link stops at the NULL end */
	e->n++;
	l->n_bind++;
	*bp = b;
	return 0;
}

/* Give b another target and User-Agent: the target in place when its
 * presence does not change, else b moves to a new allocation (slot and
 * list re-pointed). */
static int binding_update(struct reg_loc *l, struct reg_binding **bp,
			  const struct sa *target, const char *ua, size_t ua_l)
{
	struct reg_binding *b = *bp, *nb, **pp;
	const struct reg_ua *u = NULL;

	if (!b->ua || b->ua->len != ua_l || memcmp(b->ua->s, ua, ua_l)) {
		u = ua_get(l, ua, ua_l);
		ua_put(l, b->ua);
		b->ua = u;
	}
	if (target && b->has_target) {
		memcpy(b->s, target, sizeof(*target));
		return 0;
	}
	if (!target && !b->has_target)
		return 0;
	nb = malloc(binding_size(target != NULL, b->uri_len));
	if (!nb)
		return ENOMEM;
	memcpy(nb, b, sizeof(*b));
	binding_fill(nb, target, reg_binding_uri(b), b->uri_len);
	pp = ext_link(b);
	*pp = nb;
	l->slot[b->id & SLOT_MASK] = nb;
	free(b);
	*bp = nb;
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
		bool bound = find_uri(e, &rq->c[i].uri) != NULL;

		if (bound != (rq->c[i].expires > 0))
			return false;
	}
	return true;
}

static struct reg_binding *oldest(struct reg_ext *e)
{
	struct reg_binding *o = NULL;

	for (struct reg_binding *b = e->bindings; b; b = b->next)
		if (!o || b->registered < o->registered ||
		    (b->registered == o->registered && b->id < o->id))
			o = b;
	return o;
}

int reg_apply(struct reg_loc *l, const struct reg_req *rq, int64_t now,
	      reg_change_h *ch, void *arg)
{
	struct reg_ext *e;
	size_t adds = 0, ual;
	uint64_t cid;
	const char *ua;
	int err;

	if (!l || !rq || !rq->number)
		return EINVAL;
	cid = reg_callid_hash(rq->call_id.p ? rq->call_id.p : "",
			      rq->call_id.l);
	ua = rq->ua.p ? rq->ua.p : "";
	ual = ua_len(rq->ua.p, rq->ua.l);

	/* First pass: check everything, change nothing */
	e = reg_ext_find(l, rq->number, strlen(rq->number));
	if (rq->star) {
		for (struct reg_binding *b = e ? e->bindings : NULL; b;
		     b = b->next)
			if (b->cid == cid && rq->cseq <= b->cseq)
				return EPROTO;
		reg_ext_clear(l, e, ch, arg);
		return 0;
	}
	if (rq->n > rq->max_contacts)
		return E2BIG;
	for (size_t i = 0; i < rq->n; i++) {
		const struct reg_binding *b = find_uri(e, &rq->c[i].uri);

		if (rq->c[i].uri.l > REG_URI_MAX)
			return EOVERFLOW;
		if (b && b->cid == cid && rq->cseq <= b->cseq)
			return EPROTO;
		if (!b && rq->c[i].expires > 0)
			adds++;
	}
	if (l->n_bind + adds > l->max_bind)
		return ENOSPC;
	if (!e) {
		bool any = false;

		for (size_t i = 0; i < rq->n; i++)
			any |= rq->c[i].expires > 0;
		if (!any)
			return 0;   /* nothing bound, nothing to remove */
		err = reg_ext_get(l, rq->number, strlen(rq->number), &e);
		if (err)
			return err;
	}

	/* Second pass: apply */
	for (size_t i = 0; i < rq->n; i++) {
		const struct reg_contact *c = &rq->c[i];
		struct reg_binding *b = find_uri(e, &c->uri);
		const struct sa *target;
		bool changed;

		if (c->expires <= 0) {
			if (b)
				reg_binding_remove(l, b, ch, arg);
			continue;
		}
		target = (rq->nat || !c->has_target ||
			  sa_cmp(&c->target, &rq->src, SA_ALL)) ?
			NULL : &c->target;
		changed = !b;
		if (!b) {
			struct reg_binding *o;

			while (e->n >= rq->max_contacts &&
			       (o = oldest(e)) != NULL) {
				if (ch)
					ch(REG_OP_DEL, o, arg);
				(void)ext_unlink(e, o);   /* o is in e */
				binding_drop(l, e, o);
			}
			err = binding_new(l, e, target, c->uri.p, c->uri.l,
					  ua, ual, &b);
			if (err)
				return err;
		}
		else {
			/* Call-ID and CSeq are ordering data: a change alone
			 * does not force a write (a phone that restarts its
			 * Call-ID on every refresh would otherwise cost one
			 * per REGISTER) */
			changed = (b->ua ? b->ua->len : 0) != ual ||
				memcmp(reg_binding_ua(b), ua, ual) ||
				!sa_cmp(&b->src, &rq->src, SA_ALL) ||
				!sa_cmp(reg_binding_target(b),
					target ? target : &rq->src, SA_ALL) ||
				b->tp != rq->tp || b->nat != rq->nat;
			if (changed) {
				err = binding_update(l, &b, target, ua, ual);
				if (err) {
					reg_binding_remove(l, b, ch, arg);
					return ENOMEM;
				}
			}
		}
		b->cid = cid;
		b->cseq = rq->cseq;
		b->expires = now + c->expires;
		b->registered = (uint32_t)now;
		b->src = rq->src;
		b->tp = rq->tp;
		b->conn_id = rq->conn_id;
		b->nat = rq->nat;
		/* a plain refresh is written only when the stored expiry has
		 * less than half of the new lifetime left */
		if (!changed && ((int64_t)b->stored_exp - now) * 2 >= c->expires)
			continue;
		b->stored_exp = (uint32_t)b->expires;
		if (ch)
			ch(REG_OP_PUT, b, arg);
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "#" + 16 lowercase hex digits → the hash; anything else is a Call-ID. */
static uint64_t stored_cid(const char *s)
{
	size_t n = strlen(s);
	uint64_t v = 0;

	if (n != 17 || s[0] != '#')
		return reg_callid_hash(s, n);
	for (size_t i = 1; i < n; i++) {
		int d = hexval(s[i]);

		if (d < 0)
			return reg_callid_hash(s, n);
		v = v << 4 | (uint64_t)d;
	}
	return v;
}

int reg_restore(struct reg_loc *l, const char *number, const char *uri,
		const char *call_id, uint32_t cseq, const char *ua,
		int64_t expires, int64_t registered, const struct sa *src,
		const struct sa *target, uint8_t tp, bool nat)
{
	struct reg_ext *e;
	struct reg_binding *b;
	size_t ul = strlen(uri ? uri : "");
	int err;

	if (!l || !number || !uri || !call_id || !src || !target)
		return EINVAL;
	if (ul > REG_URI_MAX)
		return EOVERFLOW;
	if (l->n_bind >= l->max_bind)
		return ENOSPC;
	err = reg_ext_get(l, number, strlen(number), &e);
	if (err)
		return err;
	err = binding_new(l, e, sa_cmp(src, target, SA_ALL) ? NULL : target,
			  uri, ul, ua ? ua : "", ua_len(ua, ua ? strlen(ua) : 0),
			  &b);
	if (err) {
		if (!e->n && !e->nc)
			ext_free(l, e);
		return err;
	}
	b->cid = stored_cid(call_id);
	b->cseq = cseq;
	b->expires = expires;
	b->stored_exp = (uint32_t)expires;
	b->registered = (uint32_t)registered;
	b->src = *src;
	b->tp = tp;
	b->nat = nat;
	return 0;
}

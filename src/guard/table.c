/*
 * table — the guard's bounded LRU hash table. Capacity is fixed at
 * creation; inserting into a full table evicts the least recently used
 * entry, so a flood from millions of (spoofed) sources costs at most cap
 * entries. The hash is keyed with a random seed so that an attacker cannot
 * aim for one bucket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard_int.h"

struct ghdr {
	uint64_t hash;
	uint32_t chain;        /* next in bucket, index+1 */
	uint32_t prev, next;   /* LRU list, index+1 */
	uint32_t used;
	struct gkey key;
};

#define HDR(t, i) ((struct ghdr *)(void *)((t)->ent + (size_t)(i) * (t)->esize))
#define VAL(h)    ((void *)((uint8_t *)(h) + sizeof(struct ghdr)))
#define IDX(t, h) ((uint32_t)(((uint8_t *)(h) - (t)->ent) / (t)->esize))

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

uint64_t gtab_hash(uint64_t seed, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);

	while (n >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = mix(h ^ w) + 0x9e3779b97f4a7c15ULL;
		b += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, b, n);
		h = mix(h ^ w ^ 0x5bd1e995ULL);
	}
	return mix(h);
}

int gtab_init(struct gtab *t, size_t cap, size_t vsize, uint64_t seed)
{
	size_t nb = 16;

	memset(t, 0, sizeof(*t));
	if (cap == 0 || cap > (1u << 26))
		return EINVAL;
	while (nb < cap)
		nb <<= 1;
	t->esize = (sizeof(struct ghdr) + vsize + 7) & ~(size_t)7;
	t->ent = calloc(cap, t->esize);
	t->bucket = calloc(nb, sizeof(*t->bucket));
	if (!t->ent || !t->bucket) {
		free(t->ent);
		free(t->bucket);
		memset(t, 0, sizeof(*t));
		return ENOMEM;
	}
	t->cap = cap;
	t->nbucket = nb;
	t->vsize = vsize;
	t->seed = seed;
	t->free_head = 0;
	t->fresh = 0;
	return 0;
}

void gtab_free(struct gtab *t)
{
	if (!t)
		return;
	free(t->ent);
	free(t->bucket);
	memset(t, 0, sizeof(*t));
}

static void lru_unlink(struct gtab *t, struct ghdr *h)
{
	if (h->prev)
		HDR(t, h->prev - 1)->next = h->next;
	else
		t->lru_head = h->next;
	if (h->next)
		HDR(t, h->next - 1)->prev = h->prev;
	else
		t->lru_tail = h->prev;
	h->prev = h->next = 0;
}

static void lru_front(struct gtab *t, struct ghdr *h)
{
	uint32_t id = IDX(t, h) + 1;

	h->prev = 0;
	h->next = t->lru_head;
	if (t->lru_head)
		HDR(t, t->lru_head - 1)->prev = id;
	t->lru_head = id;
	if (!t->lru_tail)
		t->lru_tail = id;
}

static struct ghdr *lookup(struct gtab *t, const struct gkey *k, uint64_t hv)
{
	uint32_t i = t->bucket[hv & (t->nbucket - 1)];

	while (i) {
		struct ghdr *h = HDR(t, i - 1);
		if (h->hash == hv && !memcmp(&h->key, k, sizeof(*k)))
			return h;
		i = h->chain;
	}
	return NULL;
}

void *gtab_get(struct gtab *t, const struct gkey *k)
{
	struct ghdr *h;

	if (!t->cap)
		return NULL;
	h = lookup(t, k, gtab_hash(t->seed, k, sizeof(*k)));
	if (!h)
		return NULL;
	if (t->lru_head != IDX(t, h) + 1) {
		lru_unlink(t, h);
		lru_front(t, h);
	}
	return VAL(h);
}

void gtab_del(struct gtab *t, void *val)
{
	struct ghdr *h = (struct ghdr *)(void *)((uint8_t *)val - sizeof(struct ghdr));
	uint32_t id = IDX(t, h) + 1;
	uint32_t *pp = &t->bucket[h->hash & (t->nbucket - 1)];

	while (*pp && *pp != id)
		pp = &HDR(t, *pp - 1)->chain;
	if (*pp)
		*pp = h->chain;
	lru_unlink(t, h);
	memset(h, 0, t->esize);
	h->chain = t->free_head;
	t->free_head = id;
	t->n--;
}

void *gtab_put(struct gtab *t, const struct gkey *k, bool *created)
{
	uint64_t hv;
	struct ghdr *h;
	uint32_t id;
	size_t b;

	if (created)
		*created = false;
	if (!t->cap)
		return NULL;
	hv = gtab_hash(t->seed, k, sizeof(*k));
	h = lookup(t, k, hv);
	if (h) {
		if (t->lru_head != IDX(t, h) + 1) {
			lru_unlink(t, h);
			lru_front(t, h);
		}
		return VAL(h);
	}
	if (!t->free_head && t->fresh == t->cap) {
		gtab_del(t, VAL(HDR(t, t->lru_tail - 1)));
		t->evicted++;
	}
	if (t->free_head) {
		id = t->free_head;
		h = HDR(t, id - 1);
		t->free_head = h->chain;
	} else {
		id = (uint32_t)++t->fresh;
		h = HDR(t, id - 1);
	}
	memset(h, 0, t->esize);
	h->hash = hv;
	h->key = *k;
	h->used = 1;
	b = hv & (t->nbucket - 1);
	h->chain = t->bucket[b];
	t->bucket[b] = id;
	lru_front(t, h);
	t->n++;
	if (created)
		*created = true;
	return VAL(h);
}

const struct gkey *gtab_key(const struct gtab *t, const void *val)
{
	const struct ghdr *h = (const struct ghdr *)(const void *)
		((const uint8_t *)val - sizeof(struct ghdr));
	return &h->key;
}

void *gtab_iter(const struct gtab *t, size_t *i)
{
	/* Entries at and past fresh were never used: stop there (and leave
	 * their pages untouched). */
	while (*i < t->fresh) {
		struct ghdr *h = HDR(t, *i);
		(*i)++;
		if (h->used)
			return VAL(h);
	}
	return NULL;
}

int gtab_resize(struct gtab *t, size_t cap)
{
	struct gtab n;
	uint32_t i;
	int err;

	if (t->cap == cap)
		return 0;
	err = gtab_init(&n, cap, t->vsize, t->seed);
	if (err)
		return err;
	/* Oldest first, so that the most recent survive a shrink and the
	 * LRU order is kept. */
	for (i = t->lru_tail; i; i = HDR(t, i - 1)->prev) {
		struct ghdr *h = HDR(t, i - 1);
		memcpy(gtab_put(&n, &h->key, NULL), VAL(h), t->vsize);
	}
	n.evicted += t->evicted;
	gtab_free(t);
	*t = n;
	return 0;
}

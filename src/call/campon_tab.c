/*
 * campon_tab — the camp-on table (campon_tab.h): fixed arrays, no
 * allocation, every bound checked here.
 */
#include <string.h>

#include "call/campon_tab.h"

void campon_tab_init(struct campon_tab *t, unsigned max, unsigned per_caller,
		     unsigned expiry_s, unsigned last_s)
{
	memset(t, 0, sizeof(*t));
	t->max = max && max <= CAMPON_MAX ? max : CAMPON_MAX;
	t->per_caller = per_caller ? per_caller : CAMPON_PER_CALLER;
	t->expiry_ms = (uint64_t)(expiry_s ? expiry_s : CAMPON_EXPIRY_S) *
		1000u;
	t->last_ms = (uint64_t)(last_s ? last_s : CAMPON_LAST_S) * 1000u;
	t->next_id = 1;
}

static bool number_ok(const char *n)
{
	size_t l = n ? strlen(n) : 0;

	return l && l < CAMPON_NUM;
}

enum campon_add campon_tab_add(struct campon_tab *t, const char *caller,
			       const char *callee, uint64_t now,
			       uint64_t *id)
{
	struct campon_req *slot = NULL;
	unsigned used = 0, mine = 0;

	if (!number_ok(caller) || !number_ok(callee) ||
	    !strcmp(caller, callee))
		return CAMPON_BAD;
	for (size_t i = 0; i < CAMPON_MAX; i++) {
		struct campon_req *r = &t->req[i];

		if (r->state == CAMPON_FREE) {
			if (!slot)
				slot = r;
			continue;
		}
		used++;
		if (strcmp(r->caller, caller))
			continue;
		if (!strcmp(r->callee, callee)) {
			/* asked again: the same request, a new life */
			r->expires = now + t->expiry_ms;
			if (id)
				*id = r->id;
			return CAMPON_RENEWED;
		}
		mine++;
	}
	if (mine >= t->per_caller)
		return CAMPON_CALLER_FULL;
	if (used >= t->max || !slot)
		return CAMPON_FULL;
	memset(slot, 0, sizeof(*slot));
	slot->state = CAMPON_WAITING;
	slot->id = t->next_id++;
	memcpy(slot->caller, caller, strlen(caller) + 1);
	memcpy(slot->callee, callee, strlen(callee) + 1);
	slot->created = now;
	slot->expires = now + t->expiry_ms;
	if (id)
		*id = slot->id;
	return CAMPON_ADDED;
}

unsigned campon_tab_expire(struct campon_tab *t, uint64_t now)
{
	unsigned n = 0;

	for (size_t i = 0; i < CAMPON_MAX; i++) {
		struct campon_req *r = &t->req[i];

		/* a callback under way ends on its own */
		if (r->state == CAMPON_WAITING && r->expires <= now) {
			r->state = CAMPON_FREE;
			n++;
		}
	}
	return n;
}

struct campon_req *campon_tab_get(struct campon_tab *t, uint64_t id)
{
	for (size_t i = 0; id && i < CAMPON_MAX; i++)
		if (t->req[i].state != CAMPON_FREE && t->req[i].id == id)
			return &t->req[i];
	return NULL;
}

bool campon_tab_del(struct campon_tab *t, uint64_t id)
{
	struct campon_req *r = campon_tab_get(t, id);

	if (!r)
		return false;
	r->state = CAMPON_FREE;
	return true;
}

size_t campon_tab_count(const struct campon_tab *t)
{
	size_t n = 0;

	for (size_t i = 0; i < CAMPON_MAX; i++)
		n += t->req[i].state != CAMPON_FREE;
	return n;
}

struct campon_req *campon_tab_next(struct campon_tab *t,
				   const struct campon_req *prev)
{
	uint64_t after = prev ? prev->id : 0;
	struct campon_req *best = NULL;

	for (size_t i = 0; i < CAMPON_MAX; i++) {
		struct campon_req *r = &t->req[i];

		if (r->state != CAMPON_WAITING || r->id <= after)
			continue;
		if (!best || r->id < best->id)
			best = r;
	}
	return best;
}

bool campon_tab_calling(const struct campon_tab *t, const char *callee)
{
	for (size_t i = 0; i < CAMPON_MAX; i++)
		if (t->req[i].state == CAMPON_CALLING &&
		    !strcmp(t->req[i].callee, callee))
			return true;
	return false;
}

void campon_tab_note_busy(struct campon_tab *t, const char *caller,
			  const char *callee, uint64_t now)
{
	size_t slot = 0;
	uint64_t oldest = UINT64_MAX;

	if (!number_ok(caller) || !number_ok(callee) || !now)
		return;
	for (size_t i = 0; i < CAMPON_LAST_MAX; i++) {
		if (t->last[i].at && !strcmp(t->last[i].caller, caller)) {
			slot = i;
			break;
		}
		/* else the free slot, or the oldest one is reused */
		if (t->last[i].at < oldest) {
			oldest = t->last[i].at;
			slot = i;
		}
	}
	memcpy(t->last[slot].caller, caller, strlen(caller) + 1);
	memcpy(t->last[slot].callee, callee, strlen(callee) + 1);
	t->last[slot].at = now;
}

const char *campon_tab_last_busy(const struct campon_tab *t,
				 const char *caller, uint64_t now)
{
	for (size_t i = 0; caller && i < CAMPON_LAST_MAX; i++)
		if (t->last[i].at && !strcmp(t->last[i].caller, caller))
			return now - t->last[i].at <= t->last_ms ?
				t->last[i].callee : NULL;
	return NULL;
}

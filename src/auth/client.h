/*
 * auth client — the client side of SIP digest (RFC 2617, RFC 7616,
 * RFC 3261 §22): answering a 401/407 challenge from a trunk (REGISTER,
 * INVITE). The challenge is untrusted network input: parsed with bounds,
 * never allocating from its sizes (tests/fuzz/fuzz_authchal.c).
 */
#ifndef BULWARK_AUTH_CLIENT_H
#define BULWARK_AUTH_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum auth_chal_alg { AUTH_CHAL_MD5 = 1, AUTH_CHAL_SHA256 = 2 };

/* One parsed challenge (the parameters we use; bounded copies). */
struct auth_chal {
	char realm[128];
	char nonce[256];
	char opaque[256];
	uint8_t alg;               /* enum auth_chal_alg */
	bool qop_auth;             /* qop offered and includes "auth" */
	bool stale;
};

/* Parse a WWW-Authenticate / Proxy-Authenticate value (with or without
 * the leading "Digest") into c. Returns 0, EINVAL (not Digest, no realm
 * or nonce, malformed), ENOTSUP (no supported algorithm: only MD5 and
 * SHA-256; qop without "auth") or EMSGSIZE (a parameter too long). */
int auth_chal_parse(const char *challenge, size_t clen, struct auth_chal *c);

/* Authorization header value answering one WWW-/Proxy-Authenticate
 * challenge (MD5 and SHA-256, qop=auth), into buf. nc is the nonce count
 * (used with qop), cnonce a client nonce of base64 characters, at most 64 (used
 * with qop;
 * NULL: one is made). Returns 0, an auth_chal_parse error, EINVAL (bad
 * argument) or ENOSPC (buf too small). The password is never copied
 * anywhere but the hash input, which is wiped. */
int auth_client_answer(const char *challenge, size_t clen,
		       const char *method, const char *uri,
		       const char *user, const char *pass,
		       uint32_t nc, const char *cnonce,
		       char *buf, size_t sz);

#endif

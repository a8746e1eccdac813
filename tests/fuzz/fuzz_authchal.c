/*
 * fuzz_authchal — libFuzzer target for the client digest's challenge
 * parser (auth_chal_parse, src/auth/client.c): the WWW-Authenticate /
 * Proxy-Authenticate value a trunk (untrusted) sends in its 401/407.
 * Every byte goes straight in. A parse must be repeatable, leave every
 * field NUL-terminated inside its buffer, and an accepted challenge must
 * be answerable: auth_client_answer writes a whole header into a buffer
 * that is big enough, or ENOSPC (and "") into one that is not.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

static void terminated(const char *f, size_t sz)
{
	if (!memchr(f, '\0', sz))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	struct auth_chal c, d;
	char hdr[2048], small[40];
	int e1, e2;

	e1 = auth_chal_parse(b, size, &c);
	e2 = auth_chal_parse(b, size, &d);
	if (e1 != e2)
		abort();
	if (e1)
		return 0;
	terminated(c.realm, sizeof(c.realm));
	terminated(c.nonce, sizeof(c.nonce));
	terminated(c.opaque, sizeof(c.opaque));
	if (!c.nonce[0] || (c.alg != AUTH_CHAL_MD5 && c.alg != AUTH_CHAL_SHA256)
	    || memcmp(&c, &d, sizeof(c)))
		abort();
	if (auth_client_answer(b, size, "REGISTER", "sip:example.org",
			       "alice", "secret", 1, "abc", hdr, sizeof(hdr)))
		abort();
	if (strncmp(hdr, "Digest username=\"alice\"", 23) ||
	    !strstr(hdr, c.nonce) || strchr(hdr, '\r') || strchr(hdr, '\n'))
		abort();
	e1 = auth_client_answer(b, size, "INVITE", "sip:1@example.org",
				"alice", "secret", 2, NULL, small,
				sizeof(small));
	if (e1 != ENOSPC || small[0])
		abort();
	return 0;
}

void fuzz_cleanup(void)
{
}

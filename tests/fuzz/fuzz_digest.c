/*
 * fuzz_digest — libFuzzer target for the Authorization / Proxy-
 * Authorization value parser (auth_digest_parse), the registrar's first
 * contact with a credential. The SIP harness reaches it too, but only
 * behind a request that parses; here every byte goes straight in. A
 * successful parse must leave every slice inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

static void inside(const struct auth_str *s, const char *b, size_t n)
{
	if (!s->p)
		return;
	if (s->p < b || s->p > b + n || s->l > (size_t)(b + n - s->p))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_cred c;
	const char *b = (const char *)data;
	char resp[65];

	if (auth_digest_parse(&c, b, size))
		return 0;
	inside(&c.username, b, size);
	inside(&c.realm, b, size);
	inside(&c.nonce, b, size);
	inside(&c.uri, b, size);
	inside(&c.response, b, size);
	inside(&c.cnonce, b, size);
	inside(&c.qop, b, size);
	inside(&c.algorithm, b, size);
	inside(&c.nc, b, size);
	inside(&c.opaque, b, size);
	/* the response computation reads every slice */
	(void)auth_digest_response(c.alg, "00000000000000000000000000000000",
				   "REGISTER", &c, resp, sizeof(resp));
	(void)auth_digest_equal(&c.response, resp);
	return 0;
}

void fuzz_cleanup(void)
{
}

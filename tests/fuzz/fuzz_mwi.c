/*
 * fuzz_mwi — libFuzzer target for the values MWI reads from an
 * authenticated SUBSCRIBE (src/voicemail/mwi_body.c): the Event value
 * (mwi_event_parse) and the Accept value (mwi_accepts). The first octet
 * picks which (even: Event, odd: Accept); the rest is the value, not
 * NUL-terminated. A parsed Event must hold an id that is a NUL-terminated
 * token within the bound and found in the input; the answer must not
 * change on a second call; the body writer takes the id where a number
 * goes and must write a whole body or nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "voicemail/mwi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *v = (const char *)data + 1;
	size_t l = size ? size - 1 : 0;
	struct mwi_event ev, again;
	char body[160];
	size_t n, il;

	if (!size)
		return 0;
	if (data[0] & 1) {
		if (mwi_accepts(v, l) != mwi_accepts(v, l))
			abort();
		return 0;
	}
	if (mwi_event_parse(v, l, &ev)) {
		if (!mwi_event_parse(v, l, &again))
			abort();
		return 0;
	}
	if (mwi_event_parse(v, l, &again) || again.msum != ev.msum ||
	    strcmp(again.id, ev.id))
		abort();
	il = strnlen(ev.id, sizeof(ev.id));
	if (il > MWI_ID_MAX || (il && !memmem(v, l, ev.id, il)))
		abort();
	for (size_t i = 0; i < il; i++)
		if (ev.id[i] <= ' ' || ev.id[i] == ';' || ev.id[i] == '"' ||
		    ev.id[i] == '=' || (unsigned char)ev.id[i] >= 0x7f)
			abort();
	n = mwi_body(body, sizeof(body), ev.id, "bulwark", il, 1);
	if (n && (n != strlen(body) || strncmp(body, "Messages-Waiting: ",
					       18)))
		abort();
	if (!n && il + 100 < sizeof(body))
		abort();
	return 0;
}

void fuzz_cleanup(void)
{
}

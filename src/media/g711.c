/*
 * g711 — G.711 encode/decode over librem's tables (see g711.h).
 */
#include <re_types.h>
#include <rem_g711.h>

#include "media/g711.h"

void g711x_encode(enum g711_law law, uint8_t *out, const int16_t *in,
		  size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int16_t s = in[i] == INT16_MIN ? -32767 : in[i];

		out[i] = law == G711_ALAW ? g711_pcm2alaw(s)
					  : g711_pcm2ulaw(s);
	}
}

void g711x_decode(enum g711_law law, int16_t *out, const uint8_t *in,
		  size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = law == G711_ALAW ? g711_alaw2pcm(in[i])
					  : g711_ulaw2pcm(in[i]);
}

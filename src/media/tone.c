/*
 * tone — sine generator (see tone.h).
 */
#include <math.h>

#include "media/tone.h"

void tone_init(struct tone *t, unsigned freq, unsigned srate, int amp)
{
	t->phase = 0;
	t->step = 2.0 * M_PI * (double)freq / (double)(srate ? srate : 8000);
	t->amp = amp < 0 ? 0 : amp > 32767 ? 32767 : amp;
}

void tone_fill(struct tone *t, int16_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[i] = (int16_t)lrint(t->amp * sin(t->phase));
		t->phase += t->step;
		if (t->phase >= 2.0 * M_PI)
			t->phase -= 2.0 * M_PI;
	}
}

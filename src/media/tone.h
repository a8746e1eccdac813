/*
 * tone — a sine generator (beeps, test tones) at 8 kHz, phase kept across
 * calls so that consecutive 20 ms frames join without a click.
 */
#ifndef BULWARK_MEDIA_TONE_H
#define BULWARK_MEDIA_TONE_H

#include <stddef.h>
#include <stdint.h>

struct tone {
	double phase, step;
	double amp;
};

/* freq in Hz (1..3999 at 8 kHz), amplitude 0..32767. */
void tone_init(struct tone *t, unsigned freq, unsigned srate, int amp);
void tone_fill(struct tone *t, int16_t *out, size_t n);

#endif

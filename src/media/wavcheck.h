/*
 * wavcheck — is an uploaded WAV one the media endpoint plays as it is?
 * The user portal's greeting upload (api/routes_greet.c) accepts only
 * RIFF/WAVE, 16-bit PCM, 8000 Hz, mono, its data chunk whole, from 0.1
 * to 120 s long, at most 2 MiB: what the endpoint's own recordings are,
 * so a greeting never needs converting.
 *
 * Untrusted input: the header is read by wav_parse (wav.c) from the
 * first WAV_HDR_MAX octets, as wav_open reads a file (a file whose data
 * starts later would not play); everything else is checked against the
 * buffer's length. A refusal names the field, the rule and what the
 * file is. No global state; thread-safe.
 */
#ifndef BULWARK_MEDIA_WAVCHECK_H
#define BULWARK_MEDIA_WAVCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "media/wav.h"

#define WAVCHECK_MAX_BYTES (2u << 20)   /* 2 MiB, the whole upload */
#define WAVCHECK_MIN_MS    100
#define WAVCHECK_MAX_MS    120000

struct wavcheck {
	struct wav_info wi;   /* accepted: data_off, data_len of buf */
	uint32_t ms;          /* accepted: the audio's length */
	/* refused: "greeting.size", "greeting.format" or
	 * "greeting.duration" (the field and its rule), and why */
	const char *field;
	char msg[240];
};

/* 0, or EINVAL with c->field and c->msg set. */
int wavcheck_greeting(const uint8_t *buf, size_t len, struct wavcheck *c);

#endif

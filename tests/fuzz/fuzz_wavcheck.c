/*
 * fuzz_wavcheck — libFuzzer target for the greeting upload's WAV check
 * (wavcheck_greeting, src/media/wavcheck.c, on wav_parse). Each input is
 * checked twice: as it is, and (when it has at least 3 octets) its rest
 * followed by zeros up to a length the first three octets pick (up to
 * 2.25 MiB: the size and duration bounds are reached with a short
 * input). Invariants: the answer is 0 or EINVAL and the same on a second
 * call; a refusal names one of the three fields with a sentence that
 * says what must be; an acceptance is 8 kHz 16-bit mono PCM whose data
 * lies inside the buffer, starts within WAV_HDR_MAX, holds whole samples,
 * lasts 0.1..120 s, and, stored as wav_header + data, parses back the
 * same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/wavcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

static void check(const uint8_t *buf, size_t len)
{
	struct wavcheck c, again;
	uint8_t out[WAV_HDR_MAX];
	struct wav_info wi;
	size_t n;
	int err = wavcheck_greeting(buf, len, &c);

	if (err != 0 && err != EINVAL)
		abort();
	if (wavcheck_greeting(buf, len, &again) != err ||
	    again.field != c.field || strcmp(again.msg, c.msg))
		abort();
	if (err) {
		if (!c.field || (strcmp(c.field, "greeting.size") &&
				 strcmp(c.field, "greeting.format") &&
				 strcmp(c.field, "greeting.duration")))
			abort();
		if (strnlen(c.msg, sizeof(c.msg)) >= sizeof(c.msg) ||
		    strncmp(c.msg, "must be ", 8))
			abort();
		return;
	}
	if (c.field || len > WAVCHECK_MAX_BYTES || c.wi.fmt != WAV_PCM16 ||
	    c.wi.srate != 8000 || c.wi.channels != 1 ||
	    c.wi.data_off > WAV_HDR_MAX || c.wi.data_off > len ||
	    c.wi.data_len > len - c.wi.data_off || (c.wi.data_len & 1) ||
	    c.ms < WAVCHECK_MIN_MS || c.ms > WAVCHECK_MAX_MS ||
	    c.ms != c.wi.data_len / 16)
		abort();
	/* what routes_greet.c stores: the canonical header, then the data */
	wav_header(out, c.wi.data_len);
	n = c.wi.data_len < sizeof(out) - WAV_HDR_OUT ? c.wi.data_len :
	    sizeof(out) - WAV_HDR_OUT;
	memcpy(out + WAV_HDR_OUT, buf + c.wi.data_off, n);
	if (wav_parse(&wi, out, WAV_HDR_OUT + n) || wi.fmt != WAV_PCM16 ||
	    wi.srate != 8000 || wi.channels != 1 ||
	    wi.data_off != WAV_HDR_OUT || wi.data_len != c.wi.data_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	uint8_t *big;

	check(data, size);
	if (size < 3)
		return 0;
	len = ((size_t)data[0] << 16 | (size_t)data[1] << 8 | data[2]) %
	      (WAVCHECK_MAX_BYTES + WAVCHECK_MAX_BYTES / 8);
	if (len < size - 3)
		len = size - 3;
	big = calloc(1, len ? len : 1);
	if (!big)
		return 0;
	memcpy(big, data + 3, size - 3);
	check(big, len);
	free(big);
	return 0;
}

void fuzz_cleanup(void)
{
}

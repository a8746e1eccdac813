/*
 * wavcheck — the greeting upload's WAV check (see wavcheck.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "media/wavcheck.h"

#define RATE        8000u
#define BYTES_A_SEC (RATE * 2u)

static int refuse(struct wavcheck *c, const char *field, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));

static int refuse(struct wavcheck *c, const char *field, const char *fmt,
		  ...)
{
	va_list ap;

	c->field = field;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	return EINVAL;
}

#define FORMAT_RULE "must be 8 kHz 16-bit mono PCM WAV"

/* What a header wav_parse refused as ENOTSUP is. */
static int not_supported(struct wavcheck *c)
{
	const struct wav_info *wi = &c->wi;

	if (wi->channels != 1)
		return refuse(c, "greeting.format", FORMAT_RULE "; this file "
			      "has %u channels", wi->channels);
	if (wi->tag == WAV_PCM16)
		return refuse(c, "greeting.format", FORMAT_RULE "; this file "
			      "is %u-bit PCM", wi->bits);
	return refuse(c, "greeting.format", FORMAT_RULE "; this file is "
		      "encoded with format tag %u, not PCM", wi->tag);
}

int wavcheck_greeting(const uint8_t *buf, size_t len, struct wavcheck *c)
{
	size_t head = len < WAV_HDR_MAX ? len : WAV_HDR_MAX;
	struct wav_info *wi = &c->wi;
	uint32_t tenths;
	int err;

	memset(c, 0, sizeof(*c));
	if (len > WAVCHECK_MAX_BYTES)
		return refuse(c, "greeting.size", "must be at most 2 MiB "
			      "(%u octets); this file has %zu",
			      WAVCHECK_MAX_BYTES, len);
	if (!buf || len < 12 || memcmp(buf, "RIFF", 4) ||
	    memcmp(buf + 8, "WAVE", 4))
		return refuse(c, "greeting.format", FORMAT_RULE "; this is "
			      "not a RIFF/WAVE file");
	err = wav_parse(wi, buf, head);
	if (err == ENOTSUP)
		return not_supported(c);
	if (err)
		return refuse(c, "greeting.format", FORMAT_RULE "; its "
			      "chunks are damaged or cut short, or its data "
			      "does not start within the first %u octets",
			      WAV_HDR_MAX);
	if (wi->fmt != WAV_PCM16)
		return refuse(c, "greeting.format", FORMAT_RULE "; this file "
			      "is %s", wi->fmt == WAV_ALAW ? "A-law" :
			      "\xc2\xb5-law");
	if (wi->srate != RATE)
		return refuse(c, "greeting.format", FORMAT_RULE "; this file "
			      "is %u Hz", wi->srate);
	if (wi->byte_rate != BYTES_A_SEC || wi->block_align != 2)
		return refuse(c, "greeting.format", FORMAT_RULE "; its "
			      "header says %u octets a second and %u a sample "
			      "(16000 and 2 for 8 kHz 16-bit mono)",
			      wi->byte_rate, wi->block_align);
	if (wi->data_len > len - wi->data_off)
		return refuse(c, "greeting.format", FORMAT_RULE "; its data "
			      "chunk declares %u octets but the file holds "
			      "%zu after the header (cut short?)",
			      wi->data_len, len - wi->data_off);
	if (wi->data_len & 1)
		return refuse(c, "greeting.format", FORMAT_RULE "; its data "
			      "chunk ends in the middle of a sample (%u "
			      "octets)", wi->data_len);
	c->ms = (uint32_t)((uint64_t)wi->data_len * 1000 / BYTES_A_SEC);
	if (c->ms < WAVCHECK_MIN_MS || c->ms > WAVCHECK_MAX_MS) {
		tenths = (uint32_t)((uint64_t)wi->data_len * 10 / BYTES_A_SEC);
		return refuse(c, "greeting.duration", "must be from 0.1 to "
			      "120 seconds long; this file is %u.%u s",
			      tenths / 10, tenths % 10);
	}
	return 0;
}

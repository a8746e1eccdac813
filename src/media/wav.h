/*
 * wav — WAV files of the media endpoint: 8 kHz mono prompts in 16-bit
 * PCM, µ-law or A-law (what Debian's asterisk-core-sounds-en-wav and
 * our own recordings are), and recordings written to a temporary file
 * that is renamed when complete, so that a reader never sees a
 * half-written message.
 *
 * The header parser reads only the buffer it is given (the first
 * WAV_HDR_MAX octets of a file): chunk sizes are checked against it, an
 * odd chunk is padded, a file without "fmt " before "data" is refused.
 * Not thread-safe per object; no global state.
 */
#ifndef BULWARK_MEDIA_WAV_H
#define BULWARK_MEDIA_WAV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WAV_HDR_MAX 4096   /* "data" must start within this */
#define WAV_HDR_OUT 44     /* the header wav_create() writes */

enum wav_fmt { WAV_PCM16 = 1, WAV_ALAW = 6, WAV_ULAW = 7 };

struct wav_info {
	enum wav_fmt fmt;
	uint32_t srate;
	uint16_t channels;
	uint16_t tag;        /* the fmt chunk as written, also when */
	uint16_t bits;       /* refused (ENOTSUP): what the file is */
	uint16_t block_align;
	uint32_t byte_rate;
	size_t   data_off;   /* first octet of the samples */
	uint32_t data_len;   /* as declared; the file may be shorter */
};

/* The 44-octet header of a 16-bit PCM, 8 kHz, mono file with data_len
 * octets of samples (what wav_create writes). */
void wav_header(uint8_t h[WAV_HDR_OUT], uint32_t data_len);

/* Parses a RIFF/WAVE header from buf. Returns 0, EBADMSG (not a WAV,
 * truncated or inconsistent chunks) or ENOTSUP (a format other than
 * 16-bit PCM, µ-law or A-law, or not mono). The rate is reported, not
 * checked. */
int wav_parse(struct wav_info *wi, const uint8_t *buf, size_t len);

struct wav_reader {
	FILE *f;
	struct wav_info info;
	uint32_t left;       /* octets of data not read yet */
};

/* Opens a prompt. Returns 0, an errno of fopen (ENOENT...), EBADMSG,
 * ENOTSUP, or EPROTO for a rate other than 8000 Hz. */
int wav_open(struct wav_reader *r, const char *path);
/* Reads up to n samples as 16-bit PCM; returns how many (0 = end). */
size_t wav_read(struct wav_reader *r, int16_t *out, size_t n);
void wav_close(struct wav_reader *r);

struct wav_writer {
	int  fd;             /* -1 when closed */
	char tmp[PATH_MAX];
	char path[PATH_MAX];
	uint64_t samples;
	bool failed;         /* a write failed: finish refuses */
};

/* Starts a recording for path: 16-bit PCM, 8 kHz, mono, written to a
 * temporary file in the same directory (path + ".XXXXXX.tmp"). Returns
 * 0, ENAMETOOLONG or an errno of mkstemp/write. */
int wav_create(struct wav_writer *w, const char *path);
/* Appends samples. Returns 0 or an errno (ENOSPC...); after a failure
 * the recording can only be aborted. */
int wav_write(struct wav_writer *w, const int16_t *s, size_t n);
/* Completes the header, fsyncs and renames the temporary file to path.
 * Returns 0 or an errno (the temporary file is removed then). */
int wav_finish(struct wav_writer *w);
/* Removes the temporary file. Accepts a closed writer. */
void wav_abort(struct wav_writer *w);

#endif

/*
 * wav — WAV header parser, prompt reader, recording writer (see wav.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/g711.h"
#include "media/wav.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

int wav_parse(struct wav_info *wi, const uint8_t *buf, size_t len)
{
	size_t off = 12;
	bool have_fmt = false;

	if (!wi || !buf || len < 12 || memcmp(buf, "RIFF", 4) ||
	    memcmp(buf + 8, "WAVE", 4))
		return EBADMSG;
	memset(wi, 0, sizeof(*wi));
	while (len - off >= 8) {
		const uint8_t *c = buf + off;
		uint32_t size = le32(c + 4);

		off += 8;
		if (!memcmp(c, "data", 4)) {
			if (!have_fmt)
				return EBADMSG;
			wi->data_off = off;
			wi->data_len = size;
			return 0;
		}
		if (size > len - off)
			return EBADMSG;
		if (!memcmp(c, "fmt ", 4)) {
			uint16_t tag, bits;

			if (size < 16 || have_fmt)
				return EBADMSG;
			tag = le16(c + 8);
			wi->channels = le16(c + 10);
			wi->srate = le32(c + 12);
			bits = le16(c + 22);
			wi->tag = tag;
			wi->bits = bits;
			wi->byte_rate = le32(c + 16);
			wi->block_align = le16(c + 20);
			if (wi->channels != 1)
				return ENOTSUP;
			if (tag == WAV_PCM16 && bits == 16)
				wi->fmt = WAV_PCM16;
			else if ((tag == WAV_ALAW || tag == WAV_ULAW) &&
				 bits == 8)
				wi->fmt = (enum wav_fmt)tag;
			else
				return ENOTSUP;
			have_fmt = true;
		}
		/* chunks are padded to an even size */
		off += size;
		if (size & 1) {
			if (off >= len)
				return EBADMSG;
			off++;
		}
	}
	return EBADMSG;
}

int wav_open(struct wav_reader *r, const char *path)
{
	uint8_t hdr[WAV_HDR_MAX];
	size_t n;
	int err;

	memset(r, 0, sizeof(*r));
	r->f = fopen(path, "rbe");
	if (!r->f)
		return errno ? errno : ENOENT;
	n = fread(hdr, 1, sizeof(hdr), r->f);
	err = wav_parse(&r->info, hdr, n);
	if (!err && r->info.srate != 8000)
		err = EPROTO;
	if (!err && fseek(r->f, (long)r->info.data_off, SEEK_SET) != 0)
		err = errno ? errno : EIO;
	if (err) {
		wav_close(r);
		return err;
	}
	r->left = r->info.data_len;
	return 0;
}

size_t wav_read(struct wav_reader *r, int16_t *out, size_t n)
{
	uint8_t raw[2 * 320];
	size_t want, got, i;
	unsigned width;

	if (!r->f)
		return 0;
	if (n > 320)
		n = 320;
	width = r->info.fmt == WAV_PCM16 ? 2 : 1;
	want = n * width;
	if (want > r->left)
		want = r->left - r->left % width;
	got = fread(raw, 1, want, r->f) / width;
	r->left -= (uint32_t)(got * width);
	if (r->info.fmt == WAV_PCM16) {
		for (i = 0; i < got; i++)
			out[i] = (int16_t)le16(raw + 2 * i);
	} else {
		g711x_decode(r->info.fmt == WAV_ALAW ? G711_ALAW : G711_ULAW,
			     out, raw, got);
	}
	return got;
}

void wav_close(struct wav_reader *r)
{
	if (r->f)
		fclose(r->f);
	r->f = NULL;
}

void wav_header(uint8_t h[WAV_HDR_OUT], uint32_t data_len)
{
	memcpy(h, "RIFF", 4);
	put32(h + 4, 36 + data_len);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	put16(h + 20, WAV_PCM16);
	put16(h + 22, 1);
	put32(h + 24, 8000);
	put32(h + 28, 16000);
	put16(h + 32, 2);
	put16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put32(h + 40, data_len);
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (r == 0)
			return EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int wav_create(struct wav_writer *w, const char *path)
{
	uint8_t h[WAV_HDR_OUT];
	int n, err;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	n = snprintf(w->tmp, sizeof(w->tmp), "%s.XXXXXX.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(w->tmp) ||
	    strlen(path) >= sizeof(w->path))
		return ENAMETOOLONG;
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->fd = mkostemps(w->tmp, 4, O_CLOEXEC);
	if (w->fd < 0) {
		w->fd = -1;
		return errno;
	}
	wav_header(h, 0);
	err = write_all(w->fd, h, sizeof(h));
	if (err)
		wav_abort(w);
	return err;
}

int wav_write(struct wav_writer *w, const int16_t *s, size_t n)
{
	uint8_t raw[2 * 320];
	size_t i, k;
	int err;

	if (w->fd < 0 || w->failed)
		return EBADF;
	while (n) {
		k = n > 320 ? 320 : n;
		for (i = 0; i < k; i++)
			put16(raw + 2 * i, (uint16_t)s[i]);
		err = write_all(w->fd, raw, 2 * k);
		if (err) {
			w->failed = true;
			return err;
		}
		w->samples += k;
		s += k;
		n -= k;
	}
	return 0;
}

int wav_finish(struct wav_writer *w)
{
	uint8_t h[WAV_HDR_OUT];
	int err;

	if (w->fd < 0 || w->failed) {
		wav_abort(w);
		return EIO;
	}
	/* the RIFF size field bounds a WAV to 4 GB; a recording is far
	 * shorter (its maximum length is bounded by the caller) */
	if (w->samples * 2 > UINT32_MAX - 36) {
		wav_abort(w);
		return EFBIG;
	}
	wav_header(h, (uint32_t)(w->samples * 2));
	if (pwrite(w->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		err = errno ? errno : EIO;
		goto fail;
	}
	if (fsync(w->fd) < 0) {
		err = errno;
		goto fail;
	}
	if (close(w->fd) < 0) {
		w->fd = -1;
		err = errno;
		goto fail;
	}
	w->fd = -1;
	if (rename(w->tmp, w->path) < 0) {
		err = errno;
		goto fail;
	}
	w->tmp[0] = '\0';
	return 0;
 fail:
	wav_abort(w);
	return err;
}

void wav_abort(struct wav_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->tmp[0])
		(void)unlink(w->tmp);
	w->tmp[0] = '\0';
}

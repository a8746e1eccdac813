/*
 * callrec_file — a call recording's WAV on disk (callrec.h): created as
 * DIR/YYYY-MM-DD/<id>.wav.tmp on the writer thread's first round, the
 * samples appended as the timeline moves, the header completed, fsynced
 * and renamed to <id>.wav when the call is over. Writer thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/log.h"
#include "media/callrec_int.h"

static void header(uint8_t h[CALLREC_HDR], uint32_t data_len)
{
	static const uint16_t ch = 2, bits = 16;
	uint32_t v;

	memcpy(h, "RIFF", 4);
	v = 36 + data_len;
	memcpy(h + 4, &v, 4);   /* little-endian hosts only (x86, arm) */
	memcpy(h + 8, "WAVEfmt ", 8);
	v = 16;
	memcpy(h + 16, &v, 4);
	h[20] = 1;              /* PCM */
	h[21] = 0;
	memcpy(h + 22, &ch, 2);
	v = CRMIX_RATE;
	memcpy(h + 24, &v, 4);
	v = CRMIX_RATE * ch * (bits / 8);
	memcpy(h + 28, &v, 4);
	h[32] = (uint8_t)(ch * bits / 8);
	h[33] = 0;
	memcpy(h + 34, &bits, 2);
	memcpy(h + 36, "data", 4);
	memcpy(h + 40, &data_len, 4);
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int frames_out(const int16_t *frames, size_t n, void *arg)
{
	struct callrec_tap *t = arg;
	int err;

	if (t->fd < 0)
		return EBADF;
	err = write_all(t->fd, frames, n * 4);
	if (!err)
		t->bytes += n * 4;
	return err;
}

void crfile_fail(struct callrec_tap *t, const char *what, int err)
{
	if (t->failed)
		return;
	t->failed = true;
	log_warn(MOD, "call %s: recording %s: %s: %s (recording dropped)",
		 t->id, t->tmp, what, strerror(err));
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
		(void)unlink(t->tmp);
	}
}

void crfile_open(struct callrec *r, struct callrec_tap *t)
{
	char d[PATH_MAX];
	uint8_t h[CALLREC_HDR];
	int err;

	t->tried = true;
	err = crmix_init(&t->mix, WIN_FRAMES,
			 (uint64_t)CALLREC_MAX_HOURS * 3600u * CRMIX_RATE,
			 frames_out, t);
	if (err) {
		crfile_fail(t, "memory", err);
		return;
	}
	if (mkdir(r->dir, 0750) && errno != EEXIST) {
		crfile_fail(t, "mkdir", errno);
		return;
	}
	snprintf(d, sizeof(d), "%s/%s", r->dir, t->day);
	if (mkdir(d, 0750) && errno != EEXIST) {
		crfile_fail(t, "mkdir", errno);
		return;
	}
	t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (t->fd < 0) {
		crfile_fail(t, "open", errno);
		return;
	}
	memset(h, 0, sizeof(h));
	err = write_all(t->fd, h, sizeof(h));
	if (err)
		crfile_fail(t, "write", err);
}

void crfile_complete(struct callrec *r, struct callrec_tap *t)
{
	uint8_t h[CALLREC_HDR];
	uint64_t other = atomic_load(&t->other_pt);
	uint64_t dropped = atomic_load(&t->dropped);
	int err = 0;

	atomic_fetch_add(&r->dropped, dropped);
	if (!t->failed && t->mix.buf)
		err = crmix_finish(&t->mix);
	if (err)
		crfile_fail(t, "write", err);
	if (!t->failed && !t->mix.placed) {
		/* no file rather than a file of silence */
		if (t->toggle_sides && !t->toggles && t->paused)
			log_info(MOD, "call %s: recording on demand never "
				 "started: nothing recorded", t->id);
		else if (other)
			log_info(MOD, "call %s: its codec is not G.711: "
				 "nothing recorded", t->id);
		else
			log_info(MOD, "call %s: no audio: nothing recorded",
				 t->id);
		close(t->fd);
		t->fd = -1;
		(void)unlink(t->tmp);
	}
	else if (!t->failed) {
		header(h, (uint32_t)t->bytes);
		errno = 0;
		if (pwrite(t->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
			crfile_fail(t, "header", errno ? errno : EIO);
		else if (fsync(t->fd))
			crfile_fail(t, "fsync", errno);
	}
	if (!t->failed && t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
		if (rename(t->tmp, t->path)) {
			err = errno;
			(void)unlink(t->tmp);
			log_warn(MOD, "call %s: recording %s: rename: %s",
				 t->id, t->path, strerror(err));
			atomic_fetch_add(&r->failed, 1);
		}
		else {
			atomic_fetch_add(&r->completed, 1);
			log_info(MOD, "call %s: recorded %s (%llu s; %llu "
				 "packets dropped, %llu late)", t->id,
				 t->path, (unsigned long long)
				 (t->bytes / 4 / CRMIX_RATE),
				 (unsigned long long)dropped,
				 (unsigned long long)t->mix.late);
		}
	}
	else if (t->failed) {
		atomic_fetch_add(&r->failed, 1);
	}
	crmix_fini(&t->mix);
	free(t);
	atomic_fetch_sub(&r->live, 1);
}


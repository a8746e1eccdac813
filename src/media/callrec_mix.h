/*
 * callrec_mix — the assembly of a call recording: the G.711 audio of the
 * two directions of a call (side 0 = what the caller sends, side 1 =
 * what the callee sends), decoded to 16-bit PCM, placed on one 8 kHz
 * stereo timeline by RTP timestamp, and handed to a writer in order.
 *
 * Rules (docs/internals/relay.md "Call recording tap"):
 * * Each side is anchored on the arrival time of its first packet (and
 *   again on a new SSRC, or when its timestamps stray more than
 *   CRMIX_STRAY_S from the arrival clock): later packets go where their
 *   timestamp says, so a lost packet leaves silence in its place, a
 *   reordered one lands where it belongs, a duplicate overwrites the
 *   same samples with the same samples.
 * * A window of win frames is kept in memory; what falls before it (a
 *   packet later than the window) is dropped and counted (late). The
 *   window moves forward when a packet lands beyond it.
 * Pure: no I/O but the write callback, no threads, no global state.
 */
#ifndef BULWARK_MEDIA_CALLREC_MIX_H
#define BULWARK_MEDIA_CALLREC_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRMIX_RATE    8000u   /* frames per second */
#define CRMIX_STRAY_S 5u      /* timestamp vs arrival clock: re-anchor */

/* Writes n stereo frames (2n samples, left then right). 0 or errno. */
typedef int (crmix_write_h)(const int16_t *frames, size_t n, void *arg);

struct crmix_side {
	bool anch;
	uint32_t ssrc, ts0;
	uint64_t pos0;          /* frame of ts0 */
};

struct crmix {
	int16_t *buf;           /* win stereo frames, from base */
	size_t win;
	uint64_t base;          /* frame index of buf[0] (all before written) */
	uint64_t hi;            /* end of the latest frame placed */
	uint64_t max_frames;    /* nothing is placed beyond this */
	struct crmix_side side[2];
	uint64_t late;          /* packets (parts) before the window */
	uint64_t placed;        /* packets placed */
	uint64_t anchors;       /* anchorings (first, new SSRC, stray) */
	crmix_write_h *wh;
	void *arg;
	int err;                /* the first write error; writes stop */
};

/* win: frames kept (>= 160; of a packet longer than that, the head is
 * dropped and counted late); max_frames: the recording's bound (0: none).
 * 0 or ENOMEM/EINVAL. */
int crmix_init(struct crmix *m, size_t win, uint64_t max_frames,
	       crmix_write_h *wh, void *arg);
void crmix_fini(struct crmix *m);

/* Places n samples of side (0, 1) with RTP timestamp ts from stream ssrc
 * that arrived at_ms after the recording began. */
void crmix_put(struct crmix *m, unsigned side, uint32_t ssrc, uint32_t ts,
	       uint64_t at_ms, const int16_t *pcm, size_t n);

/* Writes every frame before hi - hold (hold: frames kept for packets
 * still on the way). Returns m->err. */
int crmix_flush(struct crmix *m, size_t hold);

/* Writes everything up to hi (the end). Returns m->err. */
int crmix_finish(struct crmix *m);

/* Frames written so far (base). */
static inline uint64_t crmix_written(const struct crmix *m)
{
	return m->base;
}

#endif

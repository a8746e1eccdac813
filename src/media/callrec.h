/*
 * callrec — call recording: the relay's tap copies the G.711 payloads of
 * a recorded call's two directions into a bounded per-call ring (on the
 * relay's media thread, never waiting); a writer thread of its own drains
 * the rings, places the audio on a stereo timeline (callrec_mix.h: left
 * = what the caller sends, right = what the callee sends, 8 kHz 16-bit
 * PCM) and writes DIR/YYYY-MM-DD/<id>.wav through a temporary file
 * renamed when the call's recording is complete. Nothing here blocks the
 * relay or the SIP loop on a disk: a ring that is full drops the packet
 * and counts it. See docs/internals/relay.md "Call recording tap".
 *
 * Threads: callrec_alloc/_free/_start/_stop/_stats on the owner's (the
 * SIP loop); callrec_tap_put/_release on the relay's media thread that
 * holds the tap; the writer is internal.
 */
#ifndef BULWARK_MEDIA_CALLREC_H
#define BULWARK_MEDIA_CALLREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CALLREC_SLOTS       256  /* packets waiting per recording */
#define CALLREC_MAX_PAYLOAD 480  /* G.711 octets per packet (60 ms) */
#define CALLREC_MAX_HOURS   12   /* a recording stops growing after */
#define CALLREC_MAX_LIVE    1024 /* bound of every max_live */

struct callrec;
struct callrec_tap;

struct callrec_conf {
	const char *dir;     /* DATA/recordings (created when missing) */
	unsigned max_live;   /* concurrent recordings; 0: 32 (a start may
			      * lower it, never above CALLREC_MAX_LIVE) */
	unsigned flush_ms;   /* writer period, 0: 100 */
};

/* Starts the writer thread. 0, EINVAL (no dir), ENOMEM, or an errno of
 * pthread_create. */
int callrec_alloc(struct callrec **rp, const struct callrec_conf *conf);

/* Completes what can be completed (taps the relay still holds must have
 * been released: free the relay first), stops the writer. NULL-safe;
 * returns NULL. */
struct callrec *callrec_free(struct callrec *r);

/* Recording on demand (user.recording=on_demand): the feature code
 * CALLREC_TOGGLE_CODE sent as RFC 4733 events by a side of toggle_sides
 * (bit 0: the caller's phone, bit 1: the callee's) starts and pauses the
 * recording; te_pt is the telephone-event payload type (96..127, -1:
 * none, so no toggling). Paused time is silence in the file; a
 * recording never started leaves no file. */
#define CALLREC_TOGGLE_CODE "*1"

struct callrec_opts {
	bool paused;           /* starts paused (on demand) */
	unsigned toggle_sides; /* bit 0 caller, bit 1 callee */
	int te_pt;             /* telephone-event PT, -1: none */
};

/* Begins the recording of call id (letters, digits, '-', '_' only),
 * unless max_live recordings run (0: the configured bound; the bound of
 * the moment comes from the settings, sip.max_recordings); opts NULL:
 * recorded from the start, no toggling:
 * sets *tapp (two references: the owner's, dropped by callrec_stop, and
 * the relay's, dropped by callrec_tap_release once the relay lets go)
 * and writes the path relative to dir ("YYYY-MM-DD/<id>.wav", the UTC
 * date now) into rel. The file is created by the writer. Returns 0,
 * EINVAL (id), EBUSY (max_live recordings run), ENOMEM. */
int callrec_start(struct callrec *r, const char *id, unsigned max_live,
		  const struct callrec_opts *opts, struct callrec_tap **tapp,
		  char *rel, size_t relsz);

/* The owner's end of the recording (the call ended). NULL-safe. */
void callrec_stop(struct callrec_tap *t);

/* Relay thread: one datagram from side (0 = the caller's phone, 1 = the
 * callee's) accepted at now_ms (monotonic, relay_now_ms()). RTP with
 * payload type 0 (PCMU), 8 (PCMA) or the telephone-event type of an
 * on-demand recording is copied; any other is counted and ignored. Never blocks: a full ring drops and counts. */
void callrec_tap_put(struct callrec_tap *t, unsigned side,
		     const uint8_t *pkt, size_t len, uint64_t now_ms);

/* The relay lets go of the tap (session closed or tap replaced). */
void callrec_tap_release(struct callrec_tap *t);

struct callrec_stats {
	uint64_t live;       /* recordings running or being completed */
	uint64_t started;    /* since start */
	uint64_t refused;    /* at max_live */
	uint64_t completed;  /* files renamed into place */
	uint64_t failed;     /* a disk error: file removed */
	uint64_t dropped;    /* packets lost to a full ring */
};
void callrec_stats(struct callrec *r, struct callrec_stats *st);

/* Monotonic milliseconds on the relay's clock (relay_now_ms()). */
uint64_t callrec_now_ms(void);

#endif

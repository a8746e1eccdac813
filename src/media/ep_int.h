/*
 * endpoint internals shared by endpoint.c (owner side), ep_thread.c (the
 * endpoint thread's loop and commands), ep_rx.c (what arrives: strict
 * source, RTP, DTMF, recording), ep_play.c (what is sent). Not public.
 */
#ifndef BULWARK_MEDIA_EP_INT_H
#define BULWARK_MEDIA_EP_INT_H

#include <pthread.h>
#include <stdatomic.h>

/* relay_int.h brings re_types.h and re_sa.h (libre has no include
 * guards): struct ring, ring_*, relay_sa_*, the port pool */
#include "media/relay_int.h"
#include "media/endpoint.h"
#include "media/prompt.h"
#include "media/dtmfev.h"
#include "media/tone.h"
#include "media/wav.h"

#define EP_FRAME     160       /* samples per 20 ms at 8 kHz */
#define EP_TICK_NS   20000000LL
#define EP_MAX_PKT   1500
#define EP_CATCHUP   5         /* frames sent at once after missed ticks */

enum ep_cmd_type {
	EPC_CREATE = 1, EPC_MEDIA, EPC_PLAY_PROMPT, EPC_PLAY_FILE,
	EPC_PLAY_TONE, EPC_PLAY_STOP, EPC_RECORD, EPC_RECORD_STOP,
	EPC_DESTROY, EPC_QUIT,
	EPC_LANG,   /* language: the prompt set (path = the language) */
};

struct ep_cmd {
	enum ep_cmd_type type;
	uint32_t id;
	uint64_t tag;
	int fds[2];                    /* CREATE */
	struct endpoint_media md;      /* CREATE, MEDIA */
	char path[ENDPOINT_PATH_MAX];  /* PLAY_*, RECORD: path or name */
	unsigned freq, ms;             /* PLAY_TONE */
	int amp;
	bool flag;                     /* barge_in / keep / stop_on_digit */
	unsigned max_ms, silence_ms, silence_level;
};

/* One endpoint on its thread. */
struct eps {
	struct ep_thread *thr;         /* the thread it lives on */
	uint32_t id;
	uint64_t tag;
	int fd[2];                     /* RTP, RTCP */
	struct endpoint_media md;
	struct sa peer;                /* RTP peer: SDP or latched */
	bool peer_ok, latched;
	uint64_t latch_until;          /* ms */
	uint64_t next_notify;          /* ms */

	/* sending */
	uint16_t seq;
	uint32_t ts, ssrc;
	bool marker;                   /* next packet starts a talkspurt */

	/* playback */
	enum { PL_NONE, PL_FILE, PL_TONE } pl;
	struct wav_reader wr;
	struct tone tone;
	uint32_t tone_left;            /* samples */
	bool barge;

	/* recording */
	bool rec;
	struct wav_writer ww;
	uint64_t rec_max;              /* samples */
	uint64_t rec_ticks, rec_max_ticks; /* wall clock: a leg that sends
					    * nothing is bounded too */
	unsigned rec_silence_ticks, rec_silent, rec_level;
	bool rec_digit, rec_heard;     /* heard: a packet in this tick */
	bool rec_ts_ok;
	uint32_t rec_next_ts, rec_ssrc;

	/* DTMF */
	struct dtmfev_rx drx;
	struct dtmf_dec *dec;          /* in-band (librem) */
	bool te_seen;
	uint64_t dig_window;           /* ms, start of the current second */
	unsigned dig_count;

	struct endpoint_stats st;

	/* language: its prompt set (prompt.h), "" = the default */
	char lang[PROMPT_LANG_MAX + 1];
	char lang_set[ENDPOINT_PATH_MAX];
};

/* ep_fin.c: recordings are completed (fsync, rename) and RECORD_DONE
 * sent on the finisher thread. */
struct ep_fin;
int  ep_fin_start(struct ep_fin **fp, unsigned cap, struct ring *events,
		  atomic_uint_fast64_t *events_lost);
/* Takes over ww (left closed) and sends ev once the file is complete
 * (END_ERROR with err if it could not be). */
void ep_fin_post(struct ep_fin *f, struct wav_writer *ww,
		 const struct endpoint_event *ev);
/* Finishes every job posted, stops, frees. */
void ep_fin_stop(struct ep_fin *f);

struct ep_thread_conf {
	unsigned max_endpoints;
	unsigned latch_ms, notify_ms, digits_per_s;
	const char *prompt_dir, *prompt_override;  /* owned by the owner */
	struct ring *events;
	atomic_uint_fast64_t *events_lost;
	unsigned ev_reserve;           /* kept free for non-droppable events */
	struct ep_fin *fin;
};

struct ep_thread {
	pthread_t th;
	struct ep_thread_conf conf;
	struct ring *cmds;
	int epfd, tfd;
	struct eps **slot;             /* max_endpoints, by id slot */
	unsigned live;
	uint64_t now;                  /* ms, monotonic */
	uint8_t buf[EP_MAX_PKT + 1];
};

int  ep_thread_start(struct ep_thread **tp, const struct ep_thread_conf *c,
		     struct ring *cmds);
void ep_thread_stop(struct ep_thread *t);

/* ep_thread.c: emit an event (droppable ones respect ev_reserve). */
void ep_emit(struct ep_thread *t, struct eps *s,
	     const struct endpoint_event *ev);

/* ep_play.c */
void ep_play_end(struct ep_thread *t, struct eps *s, enum endpoint_end end,
		 int err);
void ep_play_start_file(struct ep_thread *t, struct eps *s,
			const char *path, bool barge);
void ep_play_start_tone(struct ep_thread *t, struct eps *s,
			const struct ep_cmd *c);
/* Sends one frame; skip = ticks given up just before it (their frames
 * are not sent, their time passes in the RTP timestamp). */
void ep_play_tick(struct ep_thread *t, struct eps *s, uint64_t skip);

/* ep_record.c */
void ep_record_start(struct ep_thread *t, struct eps *s,
		     const struct ep_cmd *c);
void ep_record_end(struct ep_thread *t, struct eps *s, enum endpoint_end end,
		   int err);
void ep_record_audio(struct ep_thread *t, struct eps *s, uint32_t ssrc,
		     uint32_t ts, const int16_t *pcm, size_t n);
void ep_record_tick(struct ep_thread *t, struct eps *s, uint64_t missed);

/* ep_rx.c */
void ep_rx_rtp(struct ep_thread *t, struct eps *s);
void ep_rx_rtcp(struct ep_thread *t, struct eps *s);
/* A digit from either detector: flood bound, event, barge-in, record. */
void ep_digit(struct ep_thread *t, struct eps *s, char d, bool inband);

#endif

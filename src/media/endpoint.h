/*
 * endpoint — the media endpoint: a leg the PBX itself terminates
 * (voicemail, prompts, call password). Each endpoint owns one RTP/RTCP
 * port pair, sends G.711 (PCMU or PCMA) every 20 ms, plays WAV prompts
 * and generated tones, records to WAV, and detects DTMF from RFC 4733
 * events and in-band tones.
 *
 * The owner (the SIP loop) drives endpoints through the functions below,
 * which only post messages to the endpoint threads; those do all the
 * packet and file work and answer with events the owner drains from
 * endpoint_event_fd(). No endpoint structure is shared between threads.
 *
 * Include the libre headers first (re_types.h and re_sa.h, or re.h):
 * libre's headers have no include guards.
 *
 * Threading: every function must be called from the owner's thread.
 * docs/internals/endpoint.md gives the rules (what is played when, which
 * event ends what, strict source, the DTMF rules, file rules).
 */
#ifndef BULWARK_MEDIA_ENDPOINT_H
#define BULWARK_MEDIA_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/g711.h"

struct endpoints;

#define ENDPOINT_MAX_THREADS 8
#define ENDPOINT_PATH_MAX    512   /* paths in commands (with the NUL) */

/* Where an endpoint's port pair comes from: by default a pool of its own
 * over [port_min, port_max] (src/media/ports.c). A caller may plug
 * another pool (the relay's, so that both share one range: ports.c's
 * ports_src_take/ports_src_give over the relay's struct ports): take
 * binds a pair and returns 0 or ENOSPC, give returns it. Called on the
 * owner thread only, the thread that owns that pool too. */
struct endpoint_portsrc {
	int  (*take)(void *arg, int fds[2], uint16_t *rtp_port,
		     unsigned *handle);
	void (*give)(void *arg, unsigned handle);
	void *arg;
};

struct endpoint_conf {
	struct sa local;          /* address ports are bound on; unset =
				   * 0.0.0.0 */
	uint16_t  port_min, port_max;  /* own pool: 30000..30999 */
	struct endpoint_portsrc src;   /* take == NULL: own pool */
	unsigned  threads;        /* 1..ENDPOINT_MAX_THREADS, 1 */
	unsigned  max_endpoints;  /* live endpoints, 256 (<= 65535) */
	char prompt_dir[ENDPOINT_PATH_MAX];      /* PROMPT_DIR_DEFAULT */
	char prompt_override[ENDPOINT_PATH_MAX]; /* DATA/prompts, "" */
	unsigned  latch_ms;       /* nat: window after create/media_set
				   * in which the source may latch or
				   * move, 2,000 */
	unsigned  notify_ms;      /* one STRICT_DROP per this, 5,000 */
	unsigned  digits_per_s;   /* DTMF flood bound: more digits in one
				   * second are dropped (counted), 10 */
	int       tos;            /* 0xb8; -1 = leave */
};

void endpoint_conf_default(struct endpoint_conf *conf);

/* Starts the endpoint threads. Returns 0, EINVAL (configuration), or an
 * errno from pthread/epoll/eventfd/timerfd. */
int endpoint_alloc(struct endpoints **ep, const struct endpoint_conf *conf);

/* Stops the threads: every live endpoint is destroyed (an active
 * recording is finished as by endpoint_destroy), pending events are
 * discarded. Accepts NULL; returns NULL. */
struct endpoints *endpoint_free(struct endpoints *e);

/* What the call layer chose for the leg (from its SDP). */
struct endpoint_media {
	struct sa rtp;        /* remote RTP address; unset = not known
			       * yet: nothing is sent and, without nat,
			       * nothing accepted */
	bool      nat;        /* latch onto the source of the first
			       * packets inside the latch window */
	struct sa latch_from; /* with nat: only this IP may latch; unset =
			       * any */
	enum g711_law law;    /* PCMU (PT 0) or PCMA (PT 8) */
	int       te_pt;      /* telephone-event PT (96..127), -1 = none */
	bool      inband;     /* detect in-band DTMF (ignored once RFC 4733
			       * events were seen on the leg) */
};

/* Creates an endpoint: takes a port pair, hands it to a thread. Sets
 * *idp and *rtp_port (even; RTCP is rtp_port + 1). Returns 0, EINVAL
 * (bad media), ENOSPC (no pair or max_endpoints live), EAGAIN (queue
 * full). */
int endpoint_create(struct endpoints *e, uint64_t tag,
		    const struct endpoint_media *md, uint32_t *idp,
		    uint16_t *rtp_port);

/* Updates the leg's media (the answer arrived, a re-INVITE); opens the
 * latch window again for a nat leg. Returns 0, ENOENT, EINVAL, EAGAIN. */
int endpoint_media_set(struct endpoints *e, uint32_t id,
		       const struct endpoint_media *md);

/* Destroys an endpoint: its port pair is returned at once; the thread
 * stops a playback (PLAY_DONE, STOPPED), finishes a recording (kept:
 * RECORD_DONE, HANGUP; call endpoint_record_stop(.., false) first to
 * discard it), closes the sockets and sends DESTROYED with the final
 * counters. Returns 0 or ENOENT. Never fails for a live endpoint. */
int endpoint_destroy(struct endpoints *e, uint32_t id);

/* Plays a prompt by name (prompt.h: the override directory first, then
 * the prompt directory), a WAV file by path, or a tone. One playback at
 * a time: a new one ends the current one (PLAY_DONE, REPLACED). With
 * barge_in, a DTMF digit ends it (PLAY_DONE, BARGE; the DIGIT event
 * comes first). A missing or unreadable file gives PLAY_DONE with ERROR
 * and its errno, never more. Returns 0, ENOENT (no endpoint), EINVAL,
 * ENAMETOOLONG, EAGAIN. */
int endpoint_play_prompt(struct endpoints *e, uint32_t id, const char *name,
			 bool barge_in);
/* Sets the language of the endpoint's prompts (user.language: "fr",
 * "fr_FR"; "" or NULL = the default set): endpoint_play_prompt then
 * looks in DATA/prompts/<lang>/, DATA/prompts/<ll>/ and the installed
 * set of that language (prompt.h prompt_path_lang) before the default
 * ones; a prompt missing there, or a language with no set, is the
 * default's. Returns 0, ENOENT (no endpoint), EINVAL (not a language
 * tag), EAGAIN. */
int endpoint_set_language(struct endpoints *e, uint32_t id,
			  const char *lang);
int endpoint_play_file(struct endpoints *e, uint32_t id, const char *path,
		       bool barge_in);
/* freq 1..3999 Hz, ms 1..60,000, amplitude 0..32767. */
int endpoint_play_tone(struct endpoints *e, uint32_t id, unsigned freq,
		       unsigned ms, int amplitude, bool barge_in);
/* Ends a playback (PLAY_DONE, STOPPED) if there is one. */
int endpoint_play_stop(struct endpoints *e, uint32_t id);

struct endpoint_rec {
	const char *path;       /* the final file; written as path.XXXXXX.tmp
				 * and renamed when complete */
	unsigned max_ms;        /* 1..3,600,000: then RECORD_DONE, MAXLEN */
	unsigned silence_ms;    /* this long without voice (or without
				 * packets): RECORD_DONE, SILENCE; 0 = off */
	unsigned silence_level; /* mean absolute amplitude under which a
				 * 20 ms frame is silence; 0 = 300 */
	bool stop_on_digit;     /* a digit ends it: RECORD_DONE, DIGIT */
};

/* Starts recording what the leg sends (16-bit PCM, 8 kHz, mono). One
 * recording at a time: a new one finishes the current one (REPLACED).
 * RECORD_DONE carries the duration (samples written) in ms; an error
 * (disk full, directory missing) gives RECORD_DONE, ERROR with the
 * errno and no file. Returns 0, ENOENT, EINVAL, ENAMETOOLONG, EAGAIN. */
int endpoint_record(struct endpoints *e, uint32_t id,
		    const struct endpoint_rec *rec);
/* Ends a recording: keep = rename it into place (STOPPED), else remove
 * the temporary file (DISCARDED). */
int endpoint_record_stop(struct endpoints *e, uint32_t id, bool keep);

enum endpoint_ev_type {
	ENDPOINT_EV_PLAY_DONE = 1,
	ENDPOINT_EV_RECORD_DONE,
	ENDPOINT_EV_DIGIT,
	ENDPOINT_EV_LATCHED,     /* a nat leg latched: addr */
	ENDPOINT_EV_STRICT_DROP, /* packets from a wrong source: addr = the
				  * last one, rate-limited (notify_ms) */
	ENDPOINT_EV_DESTROYED,   /* sockets closed; final counters */
};

enum endpoint_end {
	ENDPOINT_END_DONE = 1,  /* played to the end */
	ENDPOINT_END_BARGE,     /* a digit interrupted it */
	ENDPOINT_END_STOPPED,   /* *_stop(), or destroy (playback) */
	ENDPOINT_END_REPLACED,  /* a new play/record took its place */
	ENDPOINT_END_ERROR,     /* err says why; nothing played/kept */
	ENDPOINT_END_MAXLEN,
	ENDPOINT_END_SILENCE,
	ENDPOINT_END_DIGIT,
	ENDPOINT_END_HANGUP,    /* recording finished by destroy */
	ENDPOINT_END_DISCARDED, /* record_stop(.., false) */
};

struct endpoint_stats {
	uint64_t in_pkts;        /* accepted RTP packets */
	uint64_t out_pkts;       /* RTP packets sent */
	uint64_t drop_source;    /* wrong source (strict source) */
	uint64_t drop_early;     /* no remote known yet, not nat */
	uint64_t drop_malformed; /* not RTP, truncated */
	uint64_t drop_pt;        /* a payload type not negotiated */
	uint64_t rtcp_in;        /* RTCP from the right source (ignored) */
	uint64_t digits;         /* digits reported */
	uint64_t digits_dropped; /* over digits_per_s */
	uint64_t send_errors;
	uint64_t tx_skipped;     /* frames given up: the thread was late by
				  * more than EP_CATCHUP ticks */
};

struct endpoint_event {
	enum endpoint_ev_type type;
	uint32_t id;
	uint64_t tag;
	enum endpoint_end end;   /* PLAY_DONE, RECORD_DONE */
	int      err;            /* with END_ERROR */
	uint32_t duration_ms;    /* RECORD_DONE: recorded audio */
	char     digit;          /* DIGIT: 0-9 * # A-D */
	bool     inband;         /* DIGIT: from in-band tones */
	struct sa addr;          /* LATCHED, STRICT_DROP */
	struct endpoint_stats stats;  /* DESTROYED */
};

/* Readable (eventfd) while events are pending: add it to the loop. */
int endpoint_event_fd(const struct endpoints *e);

typedef void (endpoint_event_h)(const struct endpoint_event *ev, void *arg);

/* Calls h for up to max pending events, oldest first; returns how many. */
size_t endpoint_events_poll(struct endpoints *e, endpoint_event_h *h,
			    void *arg, size_t max);
/* Events dropped because the queue was full (DIGIT, STRICT_DROP and
 * LATCHED only: the others have reserved places). */
uint64_t endpoint_events_lost(const struct endpoints *e);

/* Live endpoints now. */
unsigned endpoint_count(const struct endpoints *e);

#endif

/*
 * callrec internals shared by callrec.c (the tap, the owner's side, the
 * writer thread's rounds) and callrec_file.c (the WAV on disk). Nothing
 * here is public API.
 */
#ifndef BULWARK_MEDIA_CALLREC_INT_H
#define BULWARK_MEDIA_CALLREC_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/callrec.h"
#include "media/callrec_mix.h"
#include "media/dtmfev.h"

#define MOD "callrec"
#define WIN_FRAMES  (3u * CRMIX_RATE)   /* kept in memory per call */
#define HOLD_FRAMES (1u * CRMIX_RATE)   /* waited for late packets */
#define BATCH_FRAMES (CRMIX_RATE / 2)   /* written at once, at least */
#define CALLREC_HDR 44                 /* the WAV header written */

struct crslot {
	uint8_t side, pt;
	uint16_t len;
	uint32_t ts, ssrc, at_ms;
	uint8_t data[CALLREC_MAX_PAYLOAD];
};

struct callrec_tap {
	struct callrec_tap *next;     /* r->list (under r->mtx) */
	struct callrec *r;
	atomic_uint refs;             /* owner + relay */
	atomic_uint head;             /* written by the relay thread */
	atomic_uint tail;             /* written by the writer */
	atomic_uint_fast64_t dropped, other_pt;
	uint64_t t0_ms;
	int te_pt;                    /* set before the relay sees the tap */
	struct crslot slots[CALLREC_SLOTS];
	/* writer only */
	char id[40];
	char day[16];
	char path[PATH_MAX - 8], tmp[PATH_MAX];
	int fd;
	bool tried, failed;
	bool paused;                  /* on demand: not recording now */
	unsigned toggle_sides;
	struct dtmfev_rx dtmf[2];
	char last[2];                 /* last digit per side (the code) */
	unsigned toggles;
	uint64_t bytes;
	struct crmix mix;
};

struct callrec {
	char dir[PATH_MAX - 128];
	unsigned max_live, flush_ms;
	pthread_t tid;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool stop;
	struct callrec_tap *list;      /* under mtx */
	struct callrec_tap **work;     /* writer's copy, max_live */
	atomic_uint live;
	atomic_uint_fast64_t started, refused, completed, failed, dropped;
};

/* ---- callrec.c: the writer's work without its thread --------------------
 * callrec_alloc is crrec_init and the writer thread, which calls
 * crrec_round every flush_ms; the fuzz harness (tests/fuzz/
 * fuzz_callrec.c) runs the rounds itself on a recorder without thread. */

/* The recorder without its writer: 0, EINVAL, ENOMEM (callrec_alloc). */
int crrec_init(struct callrec **rp, const struct callrec_conf *conf);
/* Frees it (no tap left, no writer running). */
void crrec_fini(struct callrec *r);
/* One writer round: every tap's file opened (first round), ring drained
 * and what the hold lets go written; taps whose references are gone (all
 * of them when final) completed and freed. */
void crrec_round(struct callrec *r, bool final);

/* ---- callrec_file.c: the writer thread only ---------------------------- */

/* The first round of a tap: its directory, its temporary file, its
 * timeline. A failure marks the tap failed (logged once). */
void crfile_open(struct callrec *r, struct callrec_tap *t);
/* The last reference went: complete the file (header, fsync, rename) or
 * remove it (no audio, an error); frees t. */
void crfile_complete(struct callrec *r, struct callrec_tap *t);
/* A write failed: the recording is dropped (the file removed). */
void crfile_fail(struct callrec_tap *t, const char *what, int err);

#endif

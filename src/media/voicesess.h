/*
 * voicesess — the voice session engine a PBX-answered service (voicemail,
 * its gates, hotdesk) embeds in its session: a queue of prompts played in
 * turn on the session's media endpoint, and digit collection (RFC 4733 /
 * in-band from the endpoint, SIP INFO from the call layer).
 *
 *   queue:   vs_q_prompt / vs_q_file, then vs_play(barge, after): each item
 *            is played in turn; a missing one (ERROR) is skipped; with
 *            barge a digit stops the rest (a typed-ahead digit skips it
 *            all); `after` runs when the queue ends.
 *   digits:  vs_collect(want, timeout_ms, input): want == 1 one key; else
 *            digits up to '#' (dropped), want of them, or timeout_ms of
 *            quiet (what was typed, maybe nothing); type-ahead first.
 *   events:  the owner feeds vs_play_done (PLAY_DONE), vs_digit (DIGIT),
 *            vs_info_digit (a SIP INFO key), vs_ep_gone (DESTROYED), and
 *            vs_close when the call ends (no callback runs after it).
 *
 * Digits handed to `input` may be a PIN: nothing of them is kept once it
 * returns (buffer tail and the stack copy are wiped). Loop thread only.
 */
#ifndef BULWARK_VOICESESS_H
#define BULWARK_VOICESESS_H

#include <stdbool.h>
#include <stdint.h>

/* libre in parts (no include guards): the includer brings re_types,
 * re_sa and re_tmr (struct tmr) first, as endpoint.h asks */
#include "media/endpoint.h"

#define VS_Q_MAX   24    /* prompts queued at once */
#define VS_DIG_MAX 24    /* digits buffered */

typedef void (vs_step_h)(void *arg);
typedef void (vs_input_h)(void *arg, const char *in);

struct vs_item {
	uint8_t kind;              /* 'p' prompt, 'f' file */
	char name[ENDPOINT_PATH_MAX];
};

struct voicesess {
	struct endpoints *eps;
	uint32_t ep;
	void *arg;                 /* the owner's session, for callbacks */
	bool closed;

	/* the prompt queue */
	struct vs_item q[VS_Q_MAX];
	unsigned nq, iq;
	bool playing, barge, info_barge;
	vs_step_h *after;

	/* digits */
	char dig[VS_DIG_MAX + 1];
	unsigned ndig;
	bool collecting;
	unsigned want, timeout_ms;
	vs_input_h *input;
	struct tmr tmr;
};

void vs_init(struct voicesess *v, struct endpoints *eps, uint32_t ep,
	     void *arg);
/* The call ended: the timer stops, digits are wiped, no callback runs. */
void vs_close(struct voicesess *v);

void vs_q_clear(struct voicesess *v);
void vs_q_prompt(struct voicesess *v, const char *name);
void vs_q_file(struct voicesess *v, const char *path);
/* Play the queue (barge: a digit stops it), then `after` (may be NULL). */
void vs_play(struct voicesess *v, bool barge, vs_step_h *after);
/* Take input (see above); `input` gets the digits without the '#'. */
void vs_collect(struct voicesess *v, unsigned want, unsigned timeout_ms,
		vs_input_h *input);

/* Typed-ahead digits not taken yet ("" when none). */
const char *vs_typed(const struct voicesess *v);
/* Forget (and wipe) typed-ahead digits. */
void vs_digits_clear(struct voicesess *v);
bool vs_playing(const struct voicesess *v);

/* Events from the endpoint and the call layer. */
void vs_play_done(struct voicesess *v, enum endpoint_end end);
void vs_digit(struct voicesess *v, char d);
void vs_info_digit(struct voicesess *v, char d);
void vs_ep_gone(struct voicesess *v);

#endif

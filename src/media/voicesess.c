/*
 * voicesess — the voice session engine (voicesess.h): a queue of prompts
 * on a media endpoint and digit collection, driven by the owner's
 * endpoint events and SIP INFO digits. No allocation; one libre timer.
 */
#include <stdio.h>
#include <string.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_sa.h>
#include <re_list.h>
#include <re_tmr.h>

#include "media/voicesess.h"

void vs_init(struct voicesess *v, struct endpoints *eps, uint32_t ep,
	     void *arg)
{
	memset(v, 0, sizeof(*v));
	v->eps = eps;
	v->ep = ep;
	v->arg = arg;
	tmr_init(&v->tmr);
}

void vs_digits_clear(struct voicesess *v)
{
	v->ndig = 0;
	memset(v->dig, 0, sizeof(v->dig));
}

void vs_close(struct voicesess *v)
{
	v->closed = true;
	v->collecting = false;
	v->input = NULL;
	v->after = NULL;
	tmr_cancel(&v->tmr);
	vs_digits_clear(v);
}

const char *vs_typed(const struct voicesess *v)
{
	return v->dig;
}

bool vs_playing(const struct voicesess *v)
{
	return v->playing;
}

/* ---- the prompt queue ----------------------------------------------------- */

void vs_q_clear(struct voicesess *v)
{
	v->nq = v->iq = 0;
}

static void q_add(struct voicesess *v, uint8_t kind, const char *name)
{
	if (v->nq >= VS_Q_MAX)
		return;
	v->q[v->nq].kind = kind;
	snprintf(v->q[v->nq].name, sizeof(v->q[v->nq].name), "%s", name);
	v->nq++;
}

void vs_q_prompt(struct voicesess *v, const char *name)
{
	q_add(v, 'p', name);
}

void vs_q_file(struct voicesess *v, const char *path)
{
	q_add(v, 'f', path);
}

static void play_next(struct voicesess *v)
{
	vs_step_h *after;

	while (v->iq < v->nq && !v->closed) {
		const struct vs_item *it = &v->q[v->iq++];
		int err = it->kind == 'f' ?
			endpoint_play_file(v->eps, v->ep, it->name, v->barge) :
			endpoint_play_prompt(v->eps, v->ep, it->name,
					     v->barge);

		if (!err) {
			v->playing = true;
			return;
		}
		/* a bad name or a full command queue: the next one */
	}
	v->playing = false;
	vs_q_clear(v);
	after = v->after;
	v->after = NULL;
	if (after && !v->closed)
		after(v->arg);
}

void vs_play(struct voicesess *v, bool barge, vs_step_h *after)
{
	v->barge = barge;
	v->info_barge = false;
	v->after = after;
	v->iq = 0;
	/* type-ahead: a digit already typed skips what can be skipped */
	if (barge && v->ndig)
		v->iq = v->nq;
	play_next(v);
}

void vs_play_done(struct voicesess *v, enum endpoint_end end)
{
	if (!v->playing)
		return;
	v->playing = false;
	switch (end) {
	case ENDPOINT_END_DONE:
	case ENDPOINT_END_ERROR:   /* a missing prompt is skipped */
		play_next(v);
		return;
	case ENDPOINT_END_STOPPED:
		if (!v->info_barge)
			return;
		/* a SIP INFO digit stopped it */
		/* fall through */
	case ENDPOINT_END_BARGE:
		v->info_barge = false;
		v->iq = v->nq;
		play_next(v);
		return;
	default:
		return;
	}
}

void vs_ep_gone(struct voicesess *v)
{
	v->playing = false;
}

/* ---- digits ----------------------------------------------------------------- */

static void tmr_input(void *arg);

static void finish_input(struct voicesess *v, unsigned take, bool drop_hash)
{
	char in[VS_DIG_MAX + 1];
	vs_input_h *h = v->input;

	memcpy(in, v->dig, take);
	in[take - (drop_hash && take ? 1 : 0)] = '\0';
	memmove(v->dig, v->dig + take, v->ndig - take);
	v->ndig -= take;
	/* what was taken may be a PIN: no copy of it stays behind */
	memset(v->dig + v->ndig, 0, sizeof(v->dig) - v->ndig);
	v->collecting = false;
	v->input = NULL;
	tmr_cancel(&v->tmr);
	if (h)
		h(v->arg, in);
	memset(in, 0, sizeof(in));
}

static void try_input(struct voicesess *v)
{
	char *hash;

	if (!v->collecting || !v->ndig)
		return;
	if (v->want == 1) {
		finish_input(v, 1, false);
		return;
	}
	hash = memchr(v->dig, '#', v->ndig);
	if (hash) {
		finish_input(v, (unsigned)(hash - v->dig) + 1, true);
		return;
	}
	if (v->ndig >= v->want) {
		finish_input(v, v->want, false);
		return;
	}
	tmr_start(&v->tmr, v->timeout_ms, tmr_input, v);
}

static void tmr_input(void *arg)
{
	struct voicesess *v = arg;

	if (!v->collecting || v->closed)
		return;
	/* quiet: what was typed (maybe nothing) is the input */
	finish_input(v, v->want == 1 ? 0 : v->ndig, false);
}

void vs_collect(struct voicesess *v, unsigned want, unsigned timeout_ms,
		vs_input_h *input)
{
	v->collecting = true;
	v->want = want ? want : 1;
	v->timeout_ms = timeout_ms;
	v->input = input;
	tmr_start(&v->tmr, timeout_ms, tmr_input, v);
	try_input(v);
}

void vs_digit(struct voicesess *v, char d)
{
	if (v->closed)
		return;
	if (v->ndig >= VS_DIG_MAX)
		return;   /* a flood: the endpoint bounds the rate too */
	v->dig[v->ndig++] = d;
	v->dig[v->ndig] = '\0';
	try_input(v);
}

void vs_info_digit(struct voicesess *v, char d)
{
	if (v->closed)
		return;
	if (v->playing && v->barge) {
		v->info_barge = true;
		(void)endpoint_play_stop(v->eps, v->ep);
	}
	vs_digit(v, d);
}

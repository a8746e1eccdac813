/*
 * srtp_leg — a relay leg's SRTP contexts on its media thread (API:
 * srtp_leg.h). The keys are kept only to tell a re-INVITE that repeats
 * them (contexts kept: roll-over counters and replay windows go on) from
 * one that changes them (a fresh context for that direction).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <re_types.h>
#include <re_sa.h>
#include <sodium.h>

#include "media/relay.h"
#include "media/srtp_ctx.h"
#include "media/srtp_leg.h"

struct srtp_leg {
	uint8_t suite;
	uint8_t rx_key[RELAY_SRTP_KEY], tx_key[RELAY_SRTP_KEY];
	struct srtpc *rx, *tx;
};

void srtp_leg_free(struct srtp_leg *sl)
{
	if (!sl)
		return;
	srtpc_free(sl->rx);
	srtpc_free(sl->tx);
	sodium_memzero(sl, sizeof(*sl));
	free(sl);
}

int srtp_leg_apply(struct srtp_leg **slp, const struct relay_leg_conf *lc)
{
	enum srtpc_suite suite = (enum srtpc_suite)lc->srtp_suite;
	size_t n = srtpc_key_len(suite);
	struct srtp_leg *sl = *slp;
	struct srtpc *c;
	int err;

	if (sl && (lc->srtp_suite == 0 || sl->suite != lc->srtp_suite)) {
		srtp_leg_free(sl);
		*slp = sl = NULL;
	}
	if (lc->srtp_suite == 0)
		return 0;
	if (!n || n > RELAY_SRTP_KEY)
		return EINVAL;
	if (!sl) {
		sl = calloc(1, sizeof(*sl));
		if (!sl)
			return ENOMEM;
		sl->suite = lc->srtp_suite;
	}
	/* each direction apart: a phone that re-keys (a re-INVITE with a
	 * new a=crypto) gets a fresh receive context while ours goes on
	 * (its roll-over counters: no index reused under our key) */
	if (!sl->rx || memcmp(sl->rx_key, lc->srtp_rx, sizeof(sl->rx_key))) {
		err = srtpc_alloc(&c, suite, lc->srtp_rx, n, false);
		if (err)
			goto fail;
		srtpc_free(sl->rx);
		sl->rx = c;
		memcpy(sl->rx_key, lc->srtp_rx, sizeof(sl->rx_key));
	}
	if (!sl->tx || memcmp(sl->tx_key, lc->srtp_tx, sizeof(sl->tx_key))) {
		err = srtpc_alloc(&c, suite, lc->srtp_tx, n, true);
		if (err)
			goto fail;
		srtpc_free(sl->tx);
		sl->tx = c;
		memcpy(sl->tx_key, lc->srtp_tx, sizeof(sl->tx_key));
	}
	*slp = sl;
	return 0;
 fail:
	srtp_leg_free(sl);
	*slp = NULL;
	return err;
}

int srtp_leg_in(struct srtp_leg *sl, uint8_t *p, size_t *len, bool rtcp)
{
	return rtcp ? srtpc_unprotect_rtcp(sl->rx, p, len) :
		srtpc_unprotect(sl->rx, p, len);
}

int srtp_leg_out(struct srtp_leg *sl, uint8_t *p, size_t *len, size_t cap,
		 bool rtcp)
{
	return rtcp ? srtpc_protect_rtcp(sl->tx, p, len, cap) :
		srtpc_protect(sl->tx, p, len, cap);
}

/*
 * srtp_leg — a relay leg's SRTP contexts on its media thread (API:
 * srtp_leg.h). The keys are kept only to tell a re-INVITE that repeats
 * them (contexts kept: roll-over counters and replay windows go on) from
 * one that changes them (fresh contexts).
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
	struct srtp_leg *sl = *slp, *nl;
	int err;

	if (sl && sl->suite == suite &&
	    !memcmp(sl->rx_key, lc->srtp_rx, sizeof(sl->rx_key)) &&
	    !memcmp(sl->tx_key, lc->srtp_tx, sizeof(sl->tx_key)))
		return 0;
	srtp_leg_free(sl);
	*slp = NULL;
	if (lc->srtp_suite == 0)
		return 0;
	if (!n || n > RELAY_SRTP_KEY)
		return EINVAL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return ENOMEM;
	nl->suite = lc->srtp_suite;
	memcpy(nl->rx_key, lc->srtp_rx, sizeof(nl->rx_key));
	memcpy(nl->tx_key, lc->srtp_tx, sizeof(nl->tx_key));
	err = srtpc_alloc(&nl->rx, suite, lc->srtp_rx, n, false);
	if (!err)
		err = srtpc_alloc(&nl->tx, suite, lc->srtp_tx, n, true);
	if (err) {
		srtp_leg_free(nl);
		return err;
	}
	*slp = nl;
	return 0;
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

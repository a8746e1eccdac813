/*
 * relay — control side: the owner's API. Takes port pairs from the pool,
 * hands the bound sockets to a media thread in a message, and reads the
 * media threads' events back. Owner thread only (see relay.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "media/relay_int.h"

/* Commands queued per media thread beyond the places reserved for the
 * destroy of every live session. */
#define CMD_CAP 4096u

struct hsess {
	uint32_t id;          /* 0 = slot free */
	unsigned thr;
	unsigned pair[2];
};

struct relay {
	struct relay_conf conf;
	struct ports ports;
	struct hsess *hs;          /* max_sessions slots */
	uint16_t *free_slots;      /* stack */
	unsigned nfree_slots;
	uint16_t *gen;             /* per slot */
	unsigned nthreads, next_thr;
	unsigned live[RELAY_MAX_THREADS];
	struct ring cmds[RELAY_MAX_THREADS];
	struct mthread *thr[RELAY_MAX_THREADS];
	struct ring events;
	atomic_uint_fast64_t events_lost;
};

/* ---- configuration ----------------------------------------------------- */

void relay_conf_default(struct relay_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->local.u.in.sin_family = AF_INET;
	conf->local.len = sizeof(conf->local.u.in);
	conf->port_min = 10000;
	conf->port_max = 20000;
	conf->threads = 1;
	conf->timeout_ms = 60000;
	conf->relearn_ms = 2000;
	conf->notify_ms = 5000;
	conf->tos = 0xb8;
}

/* An address a leg can use: the relay's family, a unicast address other
 * than the wildcard, a port. */
static bool addr_usable(const struct relay *r, const struct sa *a,
			bool need_port)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (a->u.sa.sa_family != r->conf.local.u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET) {
		if (a->u.in.sin_addr.s_addr == htonl(INADDR_ANY))
			return false;
		return !need_port || a->u.in.sin_port != 0;
	}
	if (!memcmp(&a->u.in6.sin6_addr, &any6, sizeof(any6)))
		return false;
	return !need_port || a->u.in6.sin6_port != 0;
}

static void sa_port_set(struct sa *a, uint16_t port)
{
	if (a->u.sa.sa_family == AF_INET)
		a->u.in.sin_port = htons(port);
	else
		a->u.in6.sin6_port = htons(port);
}

static uint16_t sa_port_get(const struct sa *a)
{
	return ntohs(a->u.sa.sa_family == AF_INET ? a->u.in.sin_port
						  : a->u.in6.sin6_port);
}

/* ---- lifetime ---------------------------------------------------------- */

int relay_alloc(struct relay **rp, const struct relay_conf *conf)
{
	struct relay *r;
	unsigned i, cap_events;
	int err;

	if (!rp || !conf || conf->threads < 1 ||
	    conf->threads > RELAY_MAX_THREADS)
		return EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->conf = *conf;
	if (!r->conf.local.u.sa.sa_family) {
		r->conf.local.u.in.sin_family = AF_INET;
		r->conf.local.len = sizeof(r->conf.local.u.in);
	}
	r->conf.local.len = r->conf.local.u.sa.sa_family == AF_INET
			    ? sizeof(r->conf.local.u.in)
			    : sizeof(r->conf.local.u.in6);
	atomic_init(&r->events_lost, 0);
	err = ports_init(&r->ports, &r->conf.local, conf->port_min,
			 conf->port_max, conf->tos);
	if (err) {
		free(r);
		return err;
	}
	if (!r->conf.max_sessions)
		r->conf.max_sessions = r->ports.npairs / 2;
	if (r->conf.max_sessions > 0xffffu)
		r->conf.max_sessions = 0xffffu;
	r->hs = calloc(r->conf.max_sessions, sizeof(*r->hs));
	r->free_slots = calloc(r->conf.max_sessions, sizeof(*r->free_slots));
	r->gen = calloc(r->conf.max_sessions, sizeof(*r->gen));
	if (!r->hs || !r->free_slots || !r->gen) {
		err = ENOMEM;
		goto out;
	}
	for (i = 0; i < r->conf.max_sessions; i++)
		r->free_slots[i] = (uint16_t)(r->conf.max_sessions - 1 - i);
	r->nfree_slots = r->conf.max_sessions;

	/* every session may have a TIMEOUT and a DESTROYED outstanding,
	 * plus room for the rate-limited notices */
	cap_events = 2 * r->conf.max_sessions + 1024;
	err = ring_init(&r->events, sizeof(struct relay_event), cap_events);
	if (err)
		goto out;
	for (i = 0; i < conf->threads; i++) {
		struct mthread_conf mc = {
			.index = i,
			.max_sessions = r->conf.max_sessions,
			.timeout_ms = conf->timeout_ms,
			.relearn_ms = conf->relearn_ms,
			.notify_ms = conf->notify_ms,
			.epoll_only = conf->epoll_only,
			.events = &r->events,
			.events_lost = &r->events_lost,
		};

		err = ring_init(&r->cmds[i], sizeof(struct cmd),
				CMD_CAP + r->conf.max_sessions);
		if (err)
			goto out;
		err = mthread_start(&r->thr[i], &mc, &r->cmds[i]);
		if (err) {
			ring_fini(&r->cmds[i]);
			goto out;
		}
		r->nthreads++;
	}
	*rp = r;
	return 0;
 out:
	relay_free(r);
	return err;
}

struct relay *relay_free(struct relay *r)
{
	unsigned i;

	if (!r)
		return NULL;
	for (i = 0; i < r->nthreads; i++) {
		mthread_stop(r->thr[i]);  /* closes the thread's sockets */
		ring_fini(&r->cmds[i]);
	}
	ring_fini(&r->events);
	ports_fini(&r->ports);
	free(r->hs);
	free(r->free_slots);
	free(r->gen);
	free(r);
	return NULL;
}

/* ---- sessions ---------------------------------------------------------- */

static struct hsess *lookup(struct relay *r, uint32_t id)
{
	unsigned slot = RELAY_ID_SLOT(id);

	if (!r || slot >= r->conf.max_sessions || r->hs[slot].id != id || !id)
		return NULL;
	return &r->hs[slot];
}

int relay_session_create(struct relay *r, uint64_t tag, uint32_t *idp,
			 struct relay_ports ports[2])
{
	struct cmd c;
	unsigned slot, thr, pair[2] = {0, 0};
	int fds[2][2] = {{-1, -1}, {-1, -1}};
	int err;

	if (!r || !idp || !ports)
		return EINVAL;
	if (!r->nfree_slots)
		return ENOSPC;
	thr = r->next_thr;
	err = ports_take(&r->ports, &pair[0], fds[0]);
	if (err)
		return err;
	err = ports_take(&r->ports, &pair[1], fds[1]);
	if (err)
		goto fail;

	slot = r->free_slots[r->nfree_slots - 1];
	if (++r->gen[slot] == 0)
		r->gen[slot] = 1;
	memset(&c, 0, sizeof(c));
	c.type = CMD_CREATE;
	c.id = (uint32_t)r->gen[slot] << 16 | slot;
	c.tag = tag;
	memcpy(c.fds, fds, sizeof(fds));
	/* room for this session's own destroy: live + 1 */
	err = ring_push(&r->cmds[thr], &c, r->live[thr] + 1);
	if (err)
		goto fail;
	/* the media thread owns the sockets from here on */
	r->nfree_slots--;
	r->live[thr]++;
	r->next_thr = (thr + 1) % r->nthreads;
	r->hs[slot].id = c.id;
	r->hs[slot].thr = thr;
	r->hs[slot].pair[0] = pair[0];
	r->hs[slot].pair[1] = pair[1];
	ports[RELAY_LEG_A].rtp = ports_port(&r->ports, pair[0]);
	ports[RELAY_LEG_A].rtcp = (uint16_t)(ports[RELAY_LEG_A].rtp + 1);
	ports[RELAY_LEG_B].rtp = ports_port(&r->ports, pair[1]);
	ports[RELAY_LEG_B].rtcp = (uint16_t)(ports[RELAY_LEG_B].rtp + 1);
	*idp = c.id;
	return 0;
 fail:
	for (int l = 0; l < 2; l++) {
		if (fds[l][0] < 0)
			continue;
		close(fds[l][0]);
		close(fds[l][1]);
		ports_give(&r->ports, pair[l]);
	}
	return err;
}

static int post(struct relay *r, struct hsess *h, struct cmd *c)
{
	return ring_push(&r->cmds[h->thr], c, r->live[h->thr]);
}

int relay_leg_set(struct relay *r, uint32_t id, enum relay_leg leg,
		  const struct relay_leg_conf *lc)
{
	struct hsess *h = lookup(r, id);
	struct cmd c;

	if (!h)
		return ENOENT;
	if (!lc || (leg != RELAY_LEG_A && leg != RELAY_LEG_B))
		return EINVAL;
	memset(&c, 0, sizeof(c));
	c.type = CMD_LEG_SET;
	c.id = id;
	c.leg = leg;
	c.lc.nat = lc->nat;
	/* unset (or unusable for this relay) means "not known"; an address
	 * of another family is an error the caller should see */
	if (lc->rtp.u.sa.sa_family) {
		if (!addr_usable(r, &lc->rtp, true)) {
			if (lc->rtp.u.sa.sa_family !=
			    r->conf.local.u.sa.sa_family)
				return EINVAL;
		} else {
			c.lc.rtp = lc->rtp;
			c.lc.rtp.len = r->conf.local.len;
		}
	}
	if (c.lc.rtp.u.sa.sa_family) {
		if (lc->rtcp.u.sa.sa_family && addr_usable(r, &lc->rtcp, true)) {
			c.lc.rtcp = lc->rtcp;
			c.lc.rtcp.len = r->conf.local.len;
		} else if (lc->rtcp.u.sa.sa_family &&
			   lc->rtcp.u.sa.sa_family !=
			   r->conf.local.u.sa.sa_family) {
			return EINVAL;
		} else {
			uint16_t p = sa_port_get(&c.lc.rtp);

			c.lc.rtcp = c.lc.rtp;
			sa_port_set(&c.lc.rtcp, p == 0xffff ? p : (uint16_t)(p + 1));
		}
	}
	if (lc->latch_from.u.sa.sa_family) {
		if (!addr_usable(r, &lc->latch_from, false))
			return EINVAL;
		c.lc.latch_from = lc->latch_from;
		c.lc.latch_from.len = r->conf.local.len;
	}
	if (lc->hushed.u.sa.sa_family) {     /* music on hold (issue 13) */
		if (!addr_usable(r, &lc->hushed, false))
			return EINVAL;
		c.lc.hushed = lc->hushed;
		c.lc.hushed.len = r->conf.local.len;
	}
	/* srtp (issue 15): the suite and both keys, wiped from here once
	 * queued (the media thread wipes its copies) */
	if (lc->srtp_suite) {
		int err;

		c.lc.srtp_suite = lc->srtp_suite;
		memcpy(c.lc.srtp_rx, lc->srtp_rx, sizeof(c.lc.srtp_rx));
		memcpy(c.lc.srtp_tx, lc->srtp_tx, sizeof(c.lc.srtp_tx));
		err = post(r, h, &c);
		explicit_bzero(&c.lc, sizeof(c.lc));
		return err;
	}
	return post(r, h, &c);
}

static int simple(struct relay *r, uint32_t id, enum cmd_type type,
		  enum relay_leg leg, bool flag)
{
	struct hsess *h = lookup(r, id);
	struct cmd c;

	if (!h)
		return ENOENT;
	if (leg != RELAY_LEG_A && leg != RELAY_LEG_B)
		return EINVAL;
	memset(&c, 0, sizeof(c));
	c.type = type;
	c.id = id;
	c.leg = leg;
	c.flag = flag;
	return post(r, h, &c);
}

int relay_session_tap(struct relay *r, uint32_t id, struct callrec_tap *tap)
{
	struct hsess *h = lookup(r, id);
	struct cmd c;

	if (!h)
		return ENOENT;
	memset(&c, 0, sizeof(c));
	c.type = CMD_TAP;
	c.id = id;
	c.tap = tap;
	return post(r, h, &c);
}

int relay_leg_relearn(struct relay *r, uint32_t id, enum relay_leg leg)
{
	return simple(r, id, CMD_RELEARN, leg, false);
}

int relay_session_hold(struct relay *r, uint32_t id, bool hold)
{
	return simple(r, id, CMD_HOLD, RELAY_LEG_A, hold);
}

int relay_session_query(struct relay *r, uint32_t id)
{
	return simple(r, id, CMD_QUERY, RELAY_LEG_A, false);
}

int relay_session_destroy(struct relay *r, uint32_t id)
{
	struct hsess *h = lookup(r, id);
	struct cmd c;
	unsigned slot;

	if (!h)
		return ENOENT;
	memset(&c, 0, sizeof(c));
	c.type = CMD_DESTROY;
	c.id = id;
	/* its place was reserved at create: cannot fail */
	(void)ring_push(&r->cmds[h->thr], &c, 0);
	r->live[h->thr]--;
	ports_give(&r->ports, h->pair[0]);
	ports_give(&r->ports, h->pair[1]);
	slot = RELAY_ID_SLOT(id);
	h->id = 0;
	r->free_slots[r->nfree_slots++] = (uint16_t)slot;
	return 0;
}

/* ---- events ------------------------------------------------------------ */

int relay_event_fd(const struct relay *r)
{
	return r ? r->events.efd : -1;
}

size_t relay_events_poll(struct relay *r, relay_event_h *h, void *arg,
			 size_t max)
{
	struct relay_event ev[16];
	size_t done = 0;

	if (!r || !h)
		return 0;
	while (done < max) {
		unsigned want = max - done < 16 ? (unsigned)(max - done) : 16;
		unsigned n = ring_pop(&r->events, ev, want), i;

		for (i = 0; i < n; i++)
			h(&ev[i], arg);
		done += n;
		if (n < want)
			break;
	}
	return done;
}

uint64_t relay_events_lost(const struct relay *r)
{
	return r ? atomic_load(&((struct relay *)r)->events_lost) : 0;
}

void relay_ports_count(const struct relay *r, unsigned *total,
		       unsigned *nfree)
{
	if (total)
		*total = r ? r->ports.npairs : 0;
	if (nfree)
		*nfree = r ? r->ports.count : 0;
}

int relay_port_take(void *relay, int fds[2], uint16_t *rtp_port,
		    unsigned *handle)
{
	struct relay *r = relay;

	return r ? ports_src_take(&r->ports, fds, rtp_port, handle) : ENOSPC;
}

void relay_port_give(void *relay, unsigned handle)
{
	struct relay *r = relay;

	if (r)
		ports_src_give(&r->ports, handle);
}

int relay_threads_cpu(const struct relay *r, uint64_t *ns)
{
	uint64_t sum = 0, t;
	unsigned i;
	int err;

	if (!r || !ns)
		return EINVAL;
	for (i = 0; i < r->nthreads; i++) {
		err = mthread_cpu(r->thr[i], &t);
		if (err)
			return err;
		sum += t;
	}
	*ns = sum;
	return 0;
}

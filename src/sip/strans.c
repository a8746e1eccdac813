/*
 * strans — SIP server transactions (RFC 3261 17.2; RFC 6026 Accepted),
 * see strans.h. One flat table allocated at creation: transactions and
 * the per-source counters live in arrays with a free list, chained in
 * buckets by a keyed hash (SipHash, key drawn at creation) so that a
 * peer cannot aim its requests at one chain. Nothing the network sends
 * decides how much is allocated; the only allocations after creation
 * are copies of our own responses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_sa.h>

#include "sip/sipmsg.h"
#include "sip/strans.h"

#define NONE UINT32_MAX
#define COOKIE "z9hG4bK"
#define METHOD_MAX 31

struct strans_tx {
	uint32_t next;           /* bucket chain, NONE at its end */
	uint32_t srci;           /* its source's counter */
	bool used;
	bool invite;
	uint8_t state;           /* enum strans_state */
	uint8_t end_why;         /* enum strans_end, when t_end fires */
	enum sipd_tp tp;
	struct sa src;
	uint64_t conn;
	uint64_t h;
	unsigned code;           /* last response sent, 0 none */
	char *resp;              /* its copy (malloc) */
	size_t resp_len;
	uint64_t t_g;            /* next timer G resend, 0 none */
	uint32_t g_int;          /* its interval */
	uint64_t t_end;          /* when the transaction ends, 0 never */
	void *user;
	char method[METHOD_MAX + 1];
	uint16_t klen;
	char key[STRANS_KEY_MAX];
};

struct src_ent {
	uint32_t next;
	uint32_t count;
	uint64_t h;
	uint8_t alen;
	uint8_t addr[16];
};

struct strans {
	struct strans_conf c;
	strans_send_h *sendh;
	strans_end_h *endh;
	void *arg;
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	struct strans_tx *tx;        /* c.max_total */
	uint32_t *bucket;            /* nbucket heads */
	uint32_t nbucket;            /* power of two */
	uint32_t *free_tx;           /* stack of free indices */
	uint32_t n_free_tx;
	uint32_t hi;                 /* slots at and above are unused: the
				      * tick scans below only */
	struct src_ent *se;          /* c.max_total */
	uint32_t *sbucket;
	uint32_t *free_se;
	uint32_t n_free_se;
	uint32_t live;
	uint64_t earliest;           /* <= every deadline in the table */
	struct strans_stats st;
	char obuf[4096];             /* the stateless 503 */
};

static void tx_end(struct strans *s, struct strans_tx *tx,
		   enum strans_end why);

static void destructor(void *arg)
{
	struct strans *s = arg;

	if (s->tx) {
		for (uint32_t i = 0; i < s->c.max_total; i++)
			if (s->tx[i].used)
				tx_end(s, &s->tx[i], STRANS_END_CLOSED);
	}
	free(s->tx);
	free(s->bucket);
	free(s->free_tx);
	free(s->se);
	free(s->sbucket);
	free(s->free_se);
	sodium_memzero(s->hkey, sizeof(s->hkey));
}

int strans_alloc(struct strans **sp, const struct strans_conf *conf,
		 strans_send_h *sendh, strans_end_h *endh, void *arg)
{
	struct strans *s;
	uint32_t n;

	if (!sp || !sendh)
		return EINVAL;
	if (sodium_init() < 0)
		return ENOMEM;
	s = mem_zalloc(sizeof(*s), destructor);
	if (!s)
		return ENOMEM;
	if (conf)
		s->c = *conf;
#define DEF(f, v) do { if (!s->c.f) s->c.f = (v); } while (0)
	DEF(t1_ms, 500);
	DEF(t2_ms, 4000);
	DEF(t4_ms, 5000);
	DEF(max_total, 4096);
	DEF(max_per_src, 64);
	DEF(retry_after_s, 5);
	DEF(invite_answer_ms, 300000);
#undef DEF
	if (s->c.max_total > (1u << 24)) {
		mem_deref(s);
		return EINVAL;
	}
	n = s->c.max_total;
	for (s->nbucket = 16; s->nbucket < 2 * n; s->nbucket <<= 1)
		;
	s->tx = calloc(n, sizeof(*s->tx));
	s->free_tx = calloc(n, sizeof(*s->free_tx));
	s->se = calloc(n, sizeof(*s->se));
	s->free_se = calloc(n, sizeof(*s->free_se));
	s->bucket = malloc(s->nbucket * sizeof(*s->bucket));
	s->sbucket = malloc(s->nbucket * sizeof(*s->sbucket));
	if (!s->tx || !s->free_tx || !s->se || !s->free_se || !s->bucket ||
	    !s->sbucket) {
		mem_deref(s);
		return ENOMEM;
	}
	for (uint32_t i = 0; i < s->nbucket; i++)
		s->bucket[i] = s->sbucket[i] = NONE;
	for (uint32_t i = 0; i < n; i++) {
		s->free_tx[i] = n - 1 - i;
		s->free_se[i] = n - 1 - i;
	}
	s->n_free_tx = s->n_free_se = n;
	s->sendh = sendh;
	s->endh = endh;
	s->arg = arg;
	s->earliest = UINT64_MAX;
	randombytes_buf(s->hkey, sizeof(s->hkey));
	*sp = s;
	return 0;
}

/* ---- keys ------------------------------------------------------------ */

static uint64_t hash(const struct strans *s, const void *p, size_t l)
{
	uint64_t h;

	crypto_shorthash((uint8_t *)&h, p, l, s->hkey);
	return h;
}

static void addr_bytes(const struct sa *src, uint8_t *out, uint8_t *len)
{
	if (sa_af(src) == AF_INET) {
		uint32_t a = sa_in(src);

		memcpy(out, &a, 4);
		*len = 4;
	}
	else if (sa_af(src) == AF_INET6) {
		sa_in6(src, out);
		*len = 16;
	}
	else {
		*len = 0;
	}
}

struct key {
	char b[STRANS_KEY_MAX];
	size_t l;
	bool over;
};

static void kput(struct key *k, const void *p, size_t l)
{
	if (!l)
		return;   /* an absent slice (NULL): memcpy may not see it */
	if (k->over || l > sizeof(k->b) - k->l) {
		k->over = true;
		return;
	}
	memcpy(k->b + k->l, p, l);
	k->l += l;
}

static void kput_lower(struct key *k, const char *p, size_t l)
{
	for (size_t i = 0; i < l && !k->over; i++) {
		char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		kput(k, &c, 1);
	}
}

/* The key of a request: method (ACK as INVITE), source address, sent-by
 * (host in lower case, port), and the branch when it has the magic
 * cookie (RFC 3261 17.2.3), else (an RFC 2543 peer) Call-ID, CSeq
 * number and From tag. The source is part of it so that another host
 * that learns a branch cannot make us resend a response. false when
 * there is no usable key. */
static bool make_key(struct key *k, const struct sipmsg *m,
		     const struct sa *src, const char *method, size_t ml)
{
	uint8_t a[16], al;
	uint16_t port = m->via_port;

	k->l = 0;
	k->over = false;
	if (!m->via_ok || !m->via_host.l)
		return false;
	kput(k, method, ml);
	kput(k, "\n", 1);
	addr_bytes(src, a, &al);
	kput(k, &al, 1);
	kput(k, a, al);
	kput_lower(k, m->via_host.p, m->via_host.l);
	kput(k, &port, sizeof(port));
	if (m->via_branch.l > 7 && !memcmp(m->via_branch.p, COOKIE, 7)) {
		kput(k, "B", 1);
		kput(k, m->via_branch.p, m->via_branch.l);
	}
	else {
		kput(k, "L", 1);
		kput(k, m->callid.p, m->callid.l);
		kput(k, "\n", 1);
		kput(k, &m->cseq, sizeof(m->cseq));
		kput(k, m->from.tag.p, m->from.tag.l);
	}
	return !k->over;
}

static struct strans_tx *lookup(struct strans *s, const struct key *k,
				uint64_t h)
{
	for (uint32_t i = s->bucket[h & (s->nbucket - 1)]; i != NONE;
	     i = s->tx[i].next) {
		struct strans_tx *tx = &s->tx[i];

		if (tx->h == h && tx->klen == k->l &&
		    !memcmp(tx->key, k->b, k->l))
			return tx;
	}
	return NULL;
}

/* ---- per-source counters -------------------------------------------- */

static uint32_t src_find(struct strans *s, const struct sa *src, bool add)
{
	uint8_t a[16], al;
	uint64_t h;
	uint32_t *head, i;

	addr_bytes(src, a, &al);
	h = hash(s, a, al);
	head = &s->sbucket[h & (s->nbucket - 1)];
	for (i = *head; i != NONE; i = s->se[i].next)
		if (s->se[i].h == h && s->se[i].alen == al &&
		    !memcmp(s->se[i].addr, a, al))
			return i;
	if (!add || !s->n_free_se)
		return NONE;
	i = s->free_se[--s->n_free_se];
	memset(&s->se[i], 0, sizeof(s->se[i]));
	s->se[i].h = h;
	s->se[i].alen = al;
	memcpy(s->se[i].addr, a, al);
	s->se[i].next = *head;
	*head = i;
	return i;
}

static void src_put(struct strans *s, uint32_t i)
{
	uint32_t *pp;

	if (--s->se[i].count)
		return;
	pp = &s->sbucket[s->se[i].h & (s->nbucket - 1)];
	while (*pp != i)
		pp = &s->se[*pp].next;
	*pp = s->se[i].next;
	s->free_se[s->n_free_se++] = i;
}

uint32_t strans_count(const struct strans *s)
{
	return s ? s->live : 0;
}

uint32_t strans_count_src(const struct strans *s, const struct sa *src)
{
	uint32_t i;

	if (!s || !src)
		return 0;
	i = src_find((struct strans *)s, src, false);
	return i == NONE ? 0 : s->se[i].count;
}

/* ---- the state machine ---------------------------------------------- */

static void deadline(struct strans *s, uint64_t t)
{
	if (t && t < s->earliest)
		s->earliest = t;
}

static void tx_end(struct strans *s, struct strans_tx *tx,
		   enum strans_end why)
{
	uint32_t idx = (uint32_t)(tx - s->tx), *pp;

	tx->state = STRANS_TERMINATED;
	if (s->endh)
		s->endh(tx, why, s->arg);
	pp = &s->bucket[tx->h & (s->nbucket - 1)];
	while (*pp != idx)
		pp = &s->tx[*pp].next;
	*pp = tx->next;
	src_put(s, tx->srci);
	free(tx->resp);
	memset(tx, 0, sizeof(*tx));
	s->free_tx[s->n_free_tx++] = idx;
	s->live--;
}

static void resend(struct strans *s, struct strans_tx *tx)
{
	if (!tx->resp)
		return;
	s->st.resent++;
	s->sendh(tx->tp, &tx->src, tx->conn, tx->resp, tx->resp_len, s->arg);
}

static void full_reply(struct strans *s, const struct sipmsg *m,
		       const struct sa *src, enum sipd_tp tp, uint64_t conn)
{
	char ra[48];
	int rl = re_snprintf(ra, sizeof(ra), "Retry-After: %u\r\n",
			     s->c.retry_after_s);
	size_t n;

	s->st.full++;
	if (rl <= 0)
		return;
	n = sipmsg_reply(m, src, 503, "Service Unavailable", ra, (size_t)rl,
			 "strans", s->obuf, sizeof(s->obuf));
	if (n)
		s->sendh(tp, src, conn, s->obuf, n, s->arg);
}

enum strans_rx strans_receive(struct strans *s, const struct sipmsg *m,
			      enum sipd_tp tp, const struct sa *src,
			      uint64_t conn, uint64_t now,
			      struct strans_tx **txp)
{
	bool ack = sipmsg_eq(&m->met, "ACK");
	const char *met = ack ? "INVITE" : m->met.p;
	size_t ml = ack ? 6 : m->met.l;
	struct strans_tx *tx;
	struct key k;
	uint64_t h;
	uint32_t si, idx;

	if (txp)
		*txp = NULL;
	if (!s || !m || !src || !m->req)
		return STRANS_RX_BAD;
	if (ml > METHOD_MAX || !make_key(&k, m, src, met, ml))
		return STRANS_RX_BAD;
	h = hash(s, k.b, k.l);
	tx = lookup(s, &k, h);
	if (ack) {
		if (!tx || !tx->invite)
			return STRANS_RX_PASS;
		if (txp)
			*txp = tx;
		if (tx->state == STRANS_COMPLETED) {
			/* timer I: absorb ACK retransmissions a while
			 * (UDP); over TCP none come */
			tx->state = STRANS_CONFIRMED;
			tx->end_why = STRANS_END_DONE;
			tx->t_g = 0;
			tx->t_end = now + (tp == SIPD_UDP ? s->c.t4_ms : 0);
			if (tp != SIPD_UDP) {
				tx_end(s, tx, STRANS_END_DONE);
				if (txp)
					*txp = NULL;
				return STRANS_RX_ACK;
			}
			deadline(s, tx->t_end);
			return STRANS_RX_ACK;
		}
		if (tx->state == STRANS_CONFIRMED)
			return STRANS_RX_ACK;
		/* an ACK before any final, or for the 2xx: not ours */
		if (txp)
			*txp = NULL;
		return STRANS_RX_PASS;
	}
	if (tx) {
		s->st.absorbed++;
		if (txp)
			*txp = tx;
		/* Trying: nothing to resend (17.2.2); Accepted: the TU
		 * resends its 2xx (RFC 6026); Confirmed: absorbed */
		if (tx->state == STRANS_PROCEEDING ||
		    tx->state == STRANS_COMPLETED)
			resend(s, tx);
		return STRANS_RX_RETRANS;
	}
	si = src_find(s, src, true);
	if (!s->n_free_tx || si == NONE ||
	    s->se[si].count >= s->c.max_per_src) {
		if (si != NONE && !s->se[si].count) {
			s->se[si].count = 1;  /* just made: give it back */
			src_put(s, si);
		}
		full_reply(s, m, src, tp, conn);
		return STRANS_RX_FULL;
	}
	idx = s->free_tx[--s->n_free_tx];
	if (idx >= s->hi)
		s->hi = idx + 1;
	tx = &s->tx[idx];
	memset(tx, 0, sizeof(*tx));
	tx->used = true;
	tx->h = h;
	tx->klen = (uint16_t)k.l;
	memcpy(tx->key, k.b, k.l);
	memcpy(tx->method, met, ml);
	tx->method[ml] = '\0';
	tx->invite = ml == 6 && !memcmp(met, "INVITE", 6);
	tx->state = tx->invite ? STRANS_PROCEEDING : STRANS_TRYING;
	tx->tp = tp;
	tx->src = *src;
	tx->conn = conn;
	tx->srci = si;
	s->se[si].count++;
	/* the bound on the TU: a non-INVITE must be answered within 64*T1
	 * (its client gives up then, timer F), an INVITE within
	 * invite_answer_ms */
	tx->end_why = STRANS_END_NOANSWER;
	tx->t_end = now + (tx->invite ? s->c.invite_answer_ms :
			   64ull * s->c.t1_ms);
	deadline(s, tx->t_end);
	tx->next = s->bucket[h & (s->nbucket - 1)];
	s->bucket[h & (s->nbucket - 1)] = idx;
	s->live++;
	if (txp)
		*txp = tx;
	return STRANS_RX_NEW;
}

int strans_respond(struct strans *s, struct strans_tx *tx, unsigned code,
		   const char *buf, size_t len, uint64_t now)
{
	char *copy;
	bool udp;

	if (!s || !tx || !tx->used || !buf || !len || code < 100 ||
	    code > 699)
		return EINVAL;
	if (tx->state != STRANS_TRYING && tx->state != STRANS_PROCEEDING)
		return EPROTO;
	copy = malloc(len);
	if (!copy)
		return ENOMEM;
	memcpy(copy, buf, len);
	free(tx->resp);
	tx->resp = copy;
	tx->resp_len = len;
	tx->code = code;
	udp = tx->tp == SIPD_UDP;
	s->sendh(tx->tp, &tx->src, tx->conn, buf, len, s->arg);
	if (code < 200) {
		tx->state = STRANS_PROCEEDING;
		return 0;
	}
	tx->end_why = STRANS_END_DONE;
	if (tx->invite && code < 300) {
		/* RFC 6026: Accepted, timer L = 64*T1; the 2xx is resent
		 * by the TU until the ACK, not here */
		tx->state = STRANS_ACCEPTED;
		tx->t_end = now + 64ull * s->c.t1_ms;
	}
	else if (tx->invite) {
		tx->state = STRANS_COMPLETED;
		if (udp) {
			tx->g_int = s->c.t1_ms;
			tx->t_g = now + tx->g_int;
			deadline(s, tx->t_g);
		}
		/* timer H on every transport */
		tx->end_why = STRANS_END_NOACK;
		tx->t_end = now + 64ull * s->c.t1_ms;
	}
	else {
		tx->state = STRANS_COMPLETED;
		if (!udp) {
			/* timer J = 0 */
			tx_end(s, tx, STRANS_END_DONE);
			return 0;
		}
		tx->t_end = now + 64ull * s->c.t1_ms;
	}
	deadline(s, tx->t_end);
	return 0;
}

struct strans_tx *strans_find_invite(struct strans *s,
				     const struct sipmsg *cancel,
				     const struct sa *src)
{
	struct strans_tx *tx;
	struct key k;

	if (!s || !cancel || !src ||
	    !make_key(&k, cancel, src, "INVITE", 6))
		return NULL;
	tx = lookup(s, &k, hash(s, k.b, k.l));
	return tx && tx->invite && tx->state != STRANS_TERMINATED ? tx :
		NULL;
}

struct strans_tx *strans_find(struct strans *s, const struct sipmsg *m,
			      const struct sa *src)
{
	struct strans_tx *tx;
	struct key k;

	if (!s || !m || !src || !m->req ||
	    !make_key(&k, m, src, m->met.p, m->met.l))
		return NULL;
	tx = lookup(s, &k, hash(s, k.b, k.l));
	return tx && tx->state != STRANS_TERMINATED ? tx : NULL;
}

void strans_tick(struct strans *s, uint64_t now)
{
	uint64_t e = UINT64_MAX;

	uint32_t top = 0;

	if (!s || now < s->earliest)
		return;
	/* an end handler may answer a request (a new transaction, wherever
	 * its slot is): its deadline lowers this, not overwritten below */
	s->earliest = UINT64_MAX;
	for (uint32_t i = 0; i < s->hi; i++) {
		struct strans_tx *tx = &s->tx[i];

		if (!tx->used)
			continue;
		if (tx->t_end && now >= tx->t_end) {
			tx_end(s, tx, (enum strans_end)tx->end_why);
			continue;
		}
		top = i + 1;
		if (tx->t_g && now >= tx->t_g) {
			resend(s, tx);
			tx->g_int = tx->g_int * 2 > s->c.t2_ms ?
				s->c.t2_ms : tx->g_int * 2;
			tx->t_g = now + tx->g_int;
		}
		if (tx->t_g && tx->t_g < e)
			e = tx->t_g;
		if (tx->t_end && tx->t_end < e)
			e = tx->t_end;
	}
	if (e < s->earliest)
		s->earliest = e;
	/* slots an end handler took above top are used: the scan stops */
	while (s->hi > top && !s->tx[s->hi - 1].used)
		s->hi--;
}

uint64_t strans_next(const struct strans *s)
{
	return s ? s->earliest : UINT64_MAX;
}

enum strans_state strans_state(const struct strans_tx *tx)
{
	return (enum strans_state)tx->state;
}

const char *strans_method(const struct strans_tx *tx)
{
	return tx->method;
}

void strans_set_user(struct strans_tx *tx, void *user)
{
	tx->user = user;
}

void *strans_user(const struct strans_tx *tx)
{
	return tx->user;
}

unsigned strans_code(const struct strans_tx *tx)
{
	return tx->code;
}

void strans_stats(const struct strans *s, struct strans_stats *st)
{
	if (s)
		*st = s->st;
	else
		memset(st, 0, sizeof(*st));
}

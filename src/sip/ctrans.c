/*
 * ctrans — SIP client transactions (RFC 3261 17.1; RFC 6026 Accepted),
 * see ctrans.h. Laid out as strans.c: one flat table made at creation,
 * a free list, buckets by a keyed hash, a counter per destination
 * address. The requests are ours (copied for retransmission); of a
 * response only the To header is copied (into the ACK of a non-2xx).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_sa.h>

#include "sip/ctrans.h"
#include "sip/sipmsg.h"

#define NONE UINT32_MAX
#define COOKIE "z9hG4bK"
#define KEY_MAX 160
#define METHOD_MAX 31

struct ctrans_tx {
	uint32_t next;
	uint32_t dsti;
	bool used;
	bool invite;
	uint8_t state;           /* enum ctrans_state */
	uint8_t end_why;         /* enum ctrans_end when t_end fires */
	enum sipd_tp tp;
	struct sa dst;
	uint64_t conn;
	uint64_t h;
	unsigned code;
	char *req;               /* the request (malloc) */
	size_t req_len;
	char *ack;               /* the ACK of a non-2xx final (malloc) */
	size_t ack_len;
	uint64_t t_r;            /* next retransmission (A, E), 0 none */
	uint32_t r_int;
	uint64_t t_end;
	void *user;
	char method[METHOD_MAX + 1];
	uint16_t klen;
	char key[KEY_MAX];
};

struct dst_ent {
	uint32_t next;
	uint32_t count;
	uint64_t h;
	uint8_t alen;
	uint8_t addr[16];
};

struct ctrans {
	struct ctrans_conf c;
	ctrans_send_h *sendh;
	ctrans_end_h *endh;
	void *arg;
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	struct ctrans_tx *tx;
	uint32_t *bucket, nbucket;
	uint32_t *free_tx, n_free_tx;
	uint32_t hi;             /* slots at and above are unused: the
				  * tick scans below only */
	struct dst_ent *de;
	uint32_t *dbucket;
	uint32_t *free_de, n_free_de;
	uint32_t live;
	uint64_t earliest;
	struct sipmsg scratch;       /* a request re-read (ACK, CANCEL) */
};

static void tx_end(struct ctrans *c, struct ctrans_tx *tx,
		   enum ctrans_end why);

static void destructor(void *arg)
{
	struct ctrans *c = arg;

	if (c->tx) {
		for (uint32_t i = 0; i < c->c.max_total; i++)
			if (c->tx[i].used)
				tx_end(c, &c->tx[i], CTRANS_END_CLOSED);
	}
	free(c->tx);
	free(c->bucket);
	free(c->free_tx);
	free(c->de);
	free(c->dbucket);
	free(c->free_de);
	sodium_memzero(c->hkey, sizeof(c->hkey));
}

int ctrans_alloc(struct ctrans **cp, const struct ctrans_conf *conf,
		 ctrans_send_h *sendh, ctrans_end_h *endh, void *arg)
{
	struct ctrans *c;
	uint32_t n;

	if (!cp || !sendh)
		return EINVAL;
	if (sodium_init() < 0)
		return ENOMEM;
	c = mem_zalloc(sizeof(*c), destructor);
	if (!c)
		return ENOMEM;
	if (conf)
		c->c = *conf;
#define DEF(f, v) do { if (!c->c.f) c->c.f = (v); } while (0)
	DEF(t1_ms, 500);
	DEF(t2_ms, 4000);
	DEF(t4_ms, 5000);
	DEF(d_ms, 32000);
	DEF(ring_ms, 180000);
	DEF(max_total, 4096);
	DEF(max_per_dst, 256);
#undef DEF
	if (c->c.max_total > (1u << 24)) {
		mem_deref(c);
		return EINVAL;
	}
	n = c->c.max_total;
	for (c->nbucket = 16; c->nbucket < 2 * n; c->nbucket <<= 1)
		;
	c->tx = calloc(n, sizeof(*c->tx));
	c->free_tx = calloc(n, sizeof(*c->free_tx));
	c->de = calloc(n, sizeof(*c->de));
	c->free_de = calloc(n, sizeof(*c->free_de));
	c->bucket = malloc(c->nbucket * sizeof(*c->bucket));
	c->dbucket = malloc(c->nbucket * sizeof(*c->dbucket));
	if (!c->tx || !c->free_tx || !c->de || !c->free_de || !c->bucket ||
	    !c->dbucket) {
		mem_deref(c);
		return ENOMEM;
	}
	for (uint32_t i = 0; i < c->nbucket; i++)
		c->bucket[i] = c->dbucket[i] = NONE;
	for (uint32_t i = 0; i < n; i++)
		c->free_tx[i] = c->free_de[i] = n - 1 - i;
	c->n_free_tx = c->n_free_de = n;
	c->sendh = sendh;
	c->endh = endh;
	c->arg = arg;
	c->earliest = UINT64_MAX;
	randombytes_buf(c->hkey, sizeof(c->hkey));
	*cp = c;
	return 0;
}

void ctrans_branch(char *out, size_t outsz)
{
	uint8_t r[12];

	if (!out || outsz < 32) {
		if (out && outsz)
			out[0] = '\0';
		return;
	}
	randombytes_buf(r, sizeof(r));
	memcpy(out, COOKIE, 7);
	sodium_bin2hex(out + 7, outsz - 7, r, sizeof(r));
}

/* ---- keys and destinations ------------------------------------------ */

static uint64_t hash(const struct ctrans *c, const void *p, size_t l)
{
	uint64_t h;

	crypto_shorthash((uint8_t *)&h, p, l, c->hkey);
	return h;
}

static void addr_bytes(const struct sa *a, uint8_t *out, uint8_t *len)
{
	if (sa_af(a) == AF_INET) {
		uint32_t v = sa_in(a);

		memcpy(out, &v, 4);
		*len = 4;
	}
	else if (sa_af(a) == AF_INET6) {
		sa_in6(a, out);
		*len = 16;
	}
	else {
		*len = 0;
	}
}

/* Key (17.1.3): the branch, the CSeq method, and the address the request
 * went to (a response from elsewhere matches nothing). */
static bool make_key(char *k, size_t *kl, const struct sipmsg_str *branch,
		     const struct sipmsg_str *met, const struct sa *peer)
{
	uint8_t a[16], al;
	size_t n = 0;

	addr_bytes(peer, a, &al);
	if (branch->l < 8 || memcmp(branch->p, COOKIE, 7) ||
	    !met->l || met->l > METHOD_MAX ||
	    1 + al + met->l + 1 + branch->l > KEY_MAX)
		return false;
	k[n++] = (char)al;
	memcpy(k + n, a, al);
	n += al;
	memcpy(k + n, met->p, met->l);
	n += met->l;
	k[n++] = '\n';
	memcpy(k + n, branch->p, branch->l);
	n += branch->l;
	*kl = n;
	return true;
}

static struct ctrans_tx *lookup(struct ctrans *c, const char *k, size_t kl,
				uint64_t h)
{
	for (uint32_t i = c->bucket[h & (c->nbucket - 1)]; i != NONE;
	     i = c->tx[i].next) {
		struct ctrans_tx *tx = &c->tx[i];

		if (tx->h == h && tx->klen == kl && !memcmp(tx->key, k, kl))
			return tx;
	}
	return NULL;
}

static uint32_t dst_find(struct ctrans *c, const struct sa *dst, bool add)
{
	uint8_t a[16], al;
	uint64_t h;
	uint32_t *head, i;

	addr_bytes(dst, a, &al);
	h = hash(c, a, al);
	head = &c->dbucket[h & (c->nbucket - 1)];
	for (i = *head; i != NONE; i = c->de[i].next)
		if (c->de[i].h == h && c->de[i].alen == al &&
		    !memcmp(c->de[i].addr, a, al))
			return i;
	if (!add || !c->n_free_de)
		return NONE;
	i = c->free_de[--c->n_free_de];
	memset(&c->de[i], 0, sizeof(c->de[i]));
	c->de[i].h = h;
	c->de[i].alen = al;
	memcpy(c->de[i].addr, a, al);
	c->de[i].next = *head;
	*head = i;
	return i;
}

static void dst_put(struct ctrans *c, uint32_t i)
{
	uint32_t *pp;

	if (--c->de[i].count)
		return;
	pp = &c->dbucket[c->de[i].h & (c->nbucket - 1)];
	while (*pp != i)
		pp = &c->de[*pp].next;
	*pp = c->de[i].next;
	c->free_de[c->n_free_de++] = i;
}

uint32_t ctrans_count(const struct ctrans *c)
{
	return c ? c->live : 0;
}

uint32_t ctrans_count_dst(const struct ctrans *c, const struct sa *dst)
{
	uint32_t i;

	if (!c || !dst)
		return 0;
	i = dst_find((struct ctrans *)c, dst, false);
	return i == NONE ? 0 : c->de[i].count;
}

/* ---- the state machine ---------------------------------------------- */

static void deadline(struct ctrans *c, uint64_t t)
{
	if (t && t < c->earliest)
		c->earliest = t;
}

static void tx_end(struct ctrans *c, struct ctrans_tx *tx,
		   enum ctrans_end why)
{
	uint32_t idx = (uint32_t)(tx - c->tx), *pp;

	tx->state = CTRANS_TERMINATED;
	if (c->endh)
		c->endh(tx, why, c->arg);
	pp = &c->bucket[tx->h & (c->nbucket - 1)];
	while (*pp != idx)
		pp = &c->tx[*pp].next;
	*pp = tx->next;
	dst_put(c, tx->dsti);
	free(tx->req);
	free(tx->ack);
	memset(tx, 0, sizeof(*tx));
	c->free_tx[c->n_free_tx++] = idx;
	c->live--;
}

int ctrans_send(struct ctrans *c, enum sipd_tp tp, const struct sa *dst,
		uint64_t conn, const char *req, size_t len, uint64_t now,
		struct ctrans_tx **txp)
{
	struct sipmsg *m;
	struct ctrans_tx *tx;
	const char *why;
	char k[KEY_MAX];
	size_t kl;
	uint64_t h;
	uint32_t di, idx;
	bool udp = tp == SIPD_UDP;

	if (!c || !dst || !req || !len || !txp)
		return EINVAL;
	m = &c->scratch;
	if (sipmsg_parse(m, req, len, udp) || !m->req ||
	    sipmsg_check(m, &why) || sipmsg_eq(&m->met, "ACK") ||
	    !make_key(k, &kl, &m->via_branch, &m->met, dst))
		return EINVAL;
	h = hash(c, k, kl);
	if (lookup(c, k, kl, h))
		return EEXIST;
	di = dst_find(c, dst, true);
	if (!c->n_free_tx || di == NONE ||
	    c->de[di].count >= c->c.max_per_dst) {
		if (di != NONE && !c->de[di].count) {
			c->de[di].count = 1;
			dst_put(c, di);
		}
		return EOVERFLOW;
	}
	idx = c->free_tx[c->n_free_tx - 1];
	if (idx >= c->hi)
		c->hi = idx + 1;
	tx = &c->tx[idx];
	memset(tx, 0, sizeof(*tx));
	tx->req = malloc(len);
	if (!tx->req) {
		if (!c->de[di].count) {
			c->de[di].count = 1;
			dst_put(c, di);
		}
		return ENOMEM;
	}
	c->n_free_tx--;
	memcpy(tx->req, req, len);
	tx->req_len = len;
	tx->used = true;
	tx->h = h;
	tx->klen = (uint16_t)kl;
	memcpy(tx->key, k, kl);
	memcpy(tx->method, m->met.p, m->met.l);
	tx->method[m->met.l] = '\0';
	tx->invite = sipmsg_eq(&m->met, "INVITE");
	tx->state = tx->invite ? CTRANS_CALLING : CTRANS_TRYING;
	tx->tp = tp;
	tx->dst = *dst;
	tx->conn = conn;
	tx->dsti = di;
	c->de[di].count++;
	if (udp) {
		/* A / E: T1, doubling (E capped at T2) */
		tx->r_int = c->c.t1_ms;
		tx->t_r = now + tx->r_int;
		deadline(c, tx->t_r);
	}
	/* B / F on every transport */
	tx->end_why = CTRANS_END_TIMEOUT;
	tx->t_end = now + 64ull * c->c.t1_ms;
	deadline(c, tx->t_end);
	tx->next = c->bucket[h & (c->nbucket - 1)];
	c->bucket[h & (c->nbucket - 1)] = idx;
	c->live++;
	c->sendh(tp, dst, conn, req, len, c->arg);
	*txp = tx;
	return 0;
}

struct wb {
	char *p;
	size_t n, cap;
	bool over;
};

static void put(struct wb *w, const char *s, size_t l)
{
	if (!l)
		return;   /* an empty slice may have no pointer */
	if (w->over || l > w->cap - w->n) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->n, s, l);
	w->n += l;
}

/* A header value on one line (a folded value unfolded): CR, LF and TAB
 * written as spaces. */
static void put_line(struct wb *w, const char *s, size_t l)
{
	for (size_t i = 0; i < l && !w->over; i++) {
		char ch = s[i];

		if (ch == '\r' || ch == '\n' || ch == '\t')
			ch = ' ';
		put(w, &ch, 1);
	}
}

static void put_s(struct wb *w, const char *s)
{
	put(w, s, strlen(s));
}

/* A request of method met built from the original request m (re-read
 * from tx->req): Request-URI, top Via, From, Call-ID, Route the same,
 * To from to (or m's), CSeq number with met. 0 when it does not fit. */
static size_t build_from(const struct sipmsg *m, const char *met,
			 const struct sipmsg_str *to, char *out,
			 size_t outsz)
{
	struct wb w = {out, 0, outsz, false};
	const struct sipmsg_hdr *via = sipmsg_hdr(m, SH_VIA),
		*from = sipmsg_hdr(m, SH_FROM), *mto = sipmsg_hdr(m, SH_TO);
	char cs[32];
	int n;

	if (!via || !from || !mto || !m->via_ok ||
	    m->via_top_end > via->val.l)
		return 0;
	put_s(&w, met);
	put_s(&w, " ");
	put(&w, m->ruri.p, m->ruri.l);
	put_s(&w, " SIP/2.0\r\nVia: ");
	put_line(&w, via->val.p, m->via_top_end);
	put_s(&w, "\r\nMax-Forwards: 70\r\nFrom: ");
	put_line(&w, from->val.p, from->val.l);
	put_s(&w, "\r\nTo: ");
	if (to)
		put_line(&w, to->p, to->l);
	else
		put_line(&w, mto->val.p, mto->val.l);
	put_s(&w, "\r\nCall-ID: ");
	put(&w, m->callid.p, m->callid.l);
	n = re_snprintf(cs, sizeof(cs), "\r\nCSeq: %u ", m->cseq);
	if (n <= 0)
		return 0;
	put(&w, cs, (size_t)n);
	put_s(&w, met);
	put_s(&w, "\r\n");
	for (size_t i = 0; i < m->n_hdr; i++) {
		const struct sipmsg_hdr *hd = &m->hdr[i];

		if (hd->id != SH_OTHER || hd->name.l != 5 ||
		    strncasecmp(hd->name.p, "Route", 5))
			continue;
		put_s(&w, "Route: ");
		put_line(&w, hd->val.p, hd->val.l);
		put_s(&w, "\r\n");
	}
	put_s(&w, "Content-Length: 0\r\n\r\n");
	return w.over ? 0 : w.n;
}

static bool reread(const struct ctrans_tx *tx, struct sipmsg *m)
{
	const char *why;

	return !sipmsg_parse(m, tx->req, tx->req_len, tx->tp == SIPD_UDP) &&
		!sipmsg_check(m, &why);
}

/* The ACK of a non-2xx final (17.1.1.3), kept for its retransmissions. */
static void make_ack(struct ctrans *c, struct ctrans_tx *tx,
		     const struct sipmsg *resp)
{
	const struct sipmsg_hdr *to = sipmsg_hdr(resp, SH_TO);
	struct sipmsg_str tov;
	char buf[8192];
	size_t n;

	if (!to || !reread(tx, &c->scratch))
		return;
	tov.p = to->val.p;
	tov.l = to->val.l;
	n = build_from(&c->scratch, "ACK", &tov, buf, sizeof(buf));
	if (!n)
		return;
	tx->ack = malloc(n);
	if (!tx->ack)
		return;
	memcpy(tx->ack, buf, n);
	tx->ack_len = n;
}

static void send_ack(struct ctrans *c, struct ctrans_tx *tx)
{
	if (tx->ack)
		c->sendh(tx->tp, &tx->dst, tx->conn, tx->ack, tx->ack_len,
			 c->arg);
}

enum ctrans_rx ctrans_receive(struct ctrans *c, const struct sipmsg *m,
			      const struct sa *src, uint64_t now,
			      struct ctrans_tx **txp)
{
	struct ctrans_tx *tx;
	char k[KEY_MAX];
	size_t kl;
	bool udp;

	if (txp)
		*txp = NULL;
	if (!c || !m || !src || m->req || m->scode < 100 || m->scode > 699 ||
	    !make_key(k, &kl, &m->via_branch, &m->cseq_met, src))
		return CTRANS_RX_NONE;
	tx = lookup(c, k, kl, hash(c, k, kl));
	if (!tx)
		return CTRANS_RX_NONE;
	if (txp)
		*txp = tx;
	udp = tx->tp == SIPD_UDP;
	switch ((enum ctrans_state)tx->state) {
	case CTRANS_CALLING:
	case CTRANS_TRYING:
	case CTRANS_PROCEEDING:
		break;
	case CTRANS_ACCEPTED:
		/* retransmitted 2xx: the TU ACKs again end to end */
		if (m->scode >= 200 && m->scode < 300)
			return CTRANS_RX_PASS;
		return CTRANS_RX_ABSORBED;
	case CTRANS_COMPLETED:
		if (tx->invite && m->scode >= 300)
			send_ack(c, tx);
		return CTRANS_RX_ABSORBED;
	default:
		return CTRANS_RX_ABSORBED;
	}
	tx->code = m->scode;
	if (m->scode < 200) {
		bool first = tx->state != CTRANS_PROCEEDING;

		tx->state = CTRANS_PROCEEDING;
		if (tx->invite && first) {
			/* A stops; B no longer applies: the ring bound, from
			 * the first provisional (more do not extend it) */
			tx->t_r = 0;
			tx->t_end = now + c->c.ring_ms;
		}
		else if (udp) {
			/* E continues at T2 */
			tx->r_int = c->c.t2_ms;
			tx->t_r = now + tx->r_int;
		}
		deadline(c, tx->t_r);
		deadline(c, tx->t_end);
		return CTRANS_RX_PASS;
	}
	tx->t_r = 0;
	tx->end_why = CTRANS_END_DONE;
	if (tx->invite && m->scode < 300) {
		tx->state = CTRANS_ACCEPTED;
		tx->t_end = now + 64ull * c->c.t1_ms;    /* timer M */
	}
	else if (tx->invite) {
		tx->state = CTRANS_COMPLETED;
		make_ack(c, tx, m);
		send_ack(c, tx);
		/* timer D; 0 over TCP: ends at the next tick */
		tx->t_end = now + (udp ? c->c.d_ms : 0);
	}
	else {
		tx->state = CTRANS_COMPLETED;
		tx->t_end = now + (udp ? c->c.t4_ms : 0);   /* timer K */
	}
	if (!tx->t_end)
		tx->t_end = 1;
	deadline(c, tx->t_end);
	return CTRANS_RX_PASS;
}

size_t ctrans_cancel(const struct ctrans_tx *tx, char *out, size_t outsz)
{
	struct sipmsg *m;
	size_t n;

	if (!tx || !out || !tx->invite || (tx->state != CTRANS_CALLING &&
					   tx->state != CTRANS_PROCEEDING))
		return 0;
	m = malloc(sizeof(*m));
	if (!m)
		return 0;
	n = reread(tx, m) ? build_from(m, "CANCEL", NULL, out, outsz) : 0;
	free(m);
	return n;
}

void ctrans_tick(struct ctrans *c, uint64_t now)
{
	uint64_t e = UINT64_MAX;

	uint32_t top = 0;

	if (!c || now < c->earliest)
		return;
	/* an end handler may send a request (the NOTIFY of a failed
	 * transfer): deadline() lowers this for it, wherever its slot is */
	c->earliest = UINT64_MAX;
	for (uint32_t i = 0; i < c->hi; i++) {
		struct ctrans_tx *tx = &c->tx[i];

		if (!tx->used)
			continue;
		if (tx->t_end && now >= tx->t_end) {
			tx_end(c, tx, (enum ctrans_end)tx->end_why);
			continue;
		}
		top = i + 1;
		if (tx->t_r && now >= tx->t_r) {
			c->sendh(tx->tp, &tx->dst, tx->conn, tx->req,
				 tx->req_len, c->arg);
			tx->r_int *= 2;
			/* E is capped at T2; A doubles on (17.1.1.2) */
			if (!tx->invite && tx->r_int > c->c.t2_ms)
				tx->r_int = c->c.t2_ms;
			tx->t_r = now + tx->r_int;
		}
		if (tx->t_r && tx->t_r < e)
			e = tx->t_r;
		if (tx->t_end && tx->t_end < e)
			e = tx->t_end;
	}
	if (e < c->earliest)
		c->earliest = e;
	/* slots an end handler took above top are used: the scan stops */
	while (c->hi > top && !c->tx[c->hi - 1].used)
		c->hi--;
}

uint64_t ctrans_next(const struct ctrans *c)
{
	return c ? c->earliest : UINT64_MAX;
}

enum ctrans_state ctrans_state(const struct ctrans_tx *tx)
{
	return (enum ctrans_state)tx->state;
}

const char *ctrans_method(const struct ctrans_tx *tx)
{
	return tx->method;
}

unsigned ctrans_code(const struct ctrans_tx *tx)
{
	return tx->code;
}

void ctrans_set_user(struct ctrans_tx *tx, void *user)
{
	tx->user = user;
}

void *ctrans_user(const struct ctrans_tx *tx)
{
	return tx->user;
}

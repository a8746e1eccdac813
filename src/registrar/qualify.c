/*
 * qualify — the registrar's qualify, keep-alives and expiry: the
 * once-a-second sweep sends OPTIONS to contacts whose extension asks for
 * qualify (and reads their answers), CRLF keep-alives to NATed ones, and
 * expires bindings.
 */
#include <string.h>

#include "registrar/reg_priv.h"
#include "store/snapshot.h"

#define QUALIFY_TRIES 4
#define QUALIFY_RETRY_MS 1000

/* ---- responses (qualify) -------------------------------------------- */

#define QBRANCH "z9hG4bKbwq"

void reg_qualify_response(struct sipd *sd, struct sipmsg *m,
			  const struct sa *src, void *arg)
{
	(void)src;
	struct registrar *r = arg;
	const struct sipmsg_str *b = &m->via_branch;
	size_t pl = sizeof(QBRANCH) - 1;
	uint64_t id = 0;
	struct reg_binding *rb;

	if (sipmsg_check_response(m) || b->l != pl + 16 ||
	    strncmp(b->p, QBRANCH, pl) || !sipmsg_eq(&m->cseq_met, "OPTIONS"))
		return;
	for (size_t i = 0; i < 16; i++) {
		char c = b->p[pl + i];
		int v = (c >= '0' && c <= '9') ? c - '0' :
			(c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;

		if (v < 0)
			return;
		id = id << 4 | (uint64_t)v;
	}
	(void)sd;
	rb = reg_binding_by_id(r->loc, id >> 16);
	if (!rb || !rb->q_pending || (uint16_t)id != (uint16_t)rb->q_seq)
		return;
	if (m->scode < 200)
		return;
	rb->q_pending = false;
	rb->q_known = true;
	rb->reachable = true;
	rb->rtt_ms = (uint32_t)tmr_jiffies() - rb->q_sent_ms;
}

/* ---- qualify, keepalive, expiry ------------------------------------- */

/* Where qualify OPTIONS and keep-alives go. Over TCP: the registration's
 * own connection (sipd_send finds it by id; when it is gone nothing is
 * sent). Over UDP: the Contact's address only when it is the address the
 * REGISTER came from (a phone listening on another port than it sends
 * from); a Contact naming any other host is reached at the source
 * address, NAT-style, so that a registered user cannot aim our requests
 * at other machines. The source is proven: the REGISTER answered a nonce
 * bound to it. */
static const struct sa *probe_dst(const struct reg_binding *b)
{
	const struct sa *t = reg_binding_target(b);

	if (b->tp == REG_TP_UDP && sa_cmp(t, &b->src, SA_ADDR))
		return t;
	return &b->src;
}

/* Our address as the phone sees it, for Via and (without a configured
 * realm) From: the stack's local address towards the phone, else the
 * realm. */
static void local_host(struct registrar *r, const struct reg_binding *b,
		       const struct sa *dst, char *host, size_t sz)
{
	struct sa l;

	if (!sipd_local_addr(r->sd, (enum sipd_tp)b->tp, b->conn_id, dst,
			     &l))
		re_snprintf(host, sz, "%J", &l);
	else
		re_snprintf(host, sz, "%s", sipd_settings(r->sd)->realm);
}

static void qualify_send(struct registrar *r, struct reg_binding *b)
{
	const char *realm = sipd_settings(r->sd)->realm;
	const struct sa *dst = probe_dst(b);
	char host[80], from[80];
	uint64_t id = b->id << 16 | (b->q_seq & 0xffff);
	int n;

	local_host(r, b, dst, host, sizeof(host));
	/* From names the PBX: its domain when the admin set a realm, else
	 * its address ("bulwark" is no host) */
	if (strcmp(realm, SIPD_DEFAULT_REALM))
		re_snprintf(from, sizeof(from), "%s", realm);
	else
		re_snprintf(from, sizeof(from), "%s", host);
	n = re_snprintf(r->obuf, sizeof(r->obuf),
			"OPTIONS %s SIP/2.0\r\n"
			"Via: SIP/2.0/%s %s;branch=" QBRANCH "%016llx;rport\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:bulwark@%s>;tag=%08x\r\n"
			"To: <%s>\r\n"
			"Call-ID: bwq%016llx@%s\r\n"
			"CSeq: 1 OPTIONS\r\n"
			"Content-Length: 0\r\n\r\n",
			reg_binding_uri(b), b->tp == REG_TP_TLS ? "TLS" :
			b->tp == REG_TP_TCP ? "TCP" : "UDP",
			host,
			(unsigned long long)id, from,
			(unsigned)(id * 2654435761u), reg_binding_uri(b),
			(unsigned long long)id, realm);
	if (n <= 0 || (size_t)n >= sizeof(r->obuf))
		return;
	r->c_qualify++;
	(void)sipd_send(r->sd, (enum sipd_tp)b->tp, dst, b->conn_id, r->obuf,
			(size_t)n);
}

void reg_sweep(void *arg)
{
	struct registrar *r = arg;
	const struct sipd_settings *set = sipd_settings(r->sd);
	int64_t now = sipd_now(r->sd);
	uint32_t jif = (uint32_t)tmr_jiffies();
	struct reg_binding *b;
	size_t pos = 0;

	tmr_start(&r->sweep, 1000, reg_sweep, r);
	reg_expire(r->loc, now, reg_persist_change, r->persist);
	while ((b = reg_binding_next(r->loc, &pos))) {
		const struct snap_ext *x;

		if (b->q_pending) {
			if ((uint32_t)(jif - b->q_last_ms) < QUALIFY_RETRY_MS)
				continue;
			if (b->q_tries >= QUALIFY_TRIES) {
				b->q_pending = false;
				b->q_known = true;
				b->reachable = false;
				continue;
			}
			b->q_tries++;
			b->q_last_ms = jif;
			qualify_send(r, b);
			continue;
		}
		if (b->q_next > now)
			continue;
		x = snapshot_find(sipd_snapshot(r->sd), b->ext->number,
				  strlen(b->ext->number));
		if (x && x->qualify) {
			b->q_seq++;
			b->q_pending = true;
			b->q_tries = 1;
			b->q_sent_ms = b->q_last_ms = jif;
			b->q_next = (uint32_t)(now + set->qualify_interval);
			qualify_send(r, b);
		}
		else if (b->nat) {
			/* keep the NAT binding open */
			(void)sipd_send(r->sd, (enum sipd_tp)b->tp,
					probe_dst(b), b->conn_id,
					"\r\n\r\n", 4);
			b->q_next = (uint32_t)(now + set->keepalive_interval);
		}
		else {
			b->q_next = (uint32_t)(now + set->keepalive_interval);
		}
	}
}

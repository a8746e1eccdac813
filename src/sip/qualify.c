/*
 * sipd's qualify, keep-alives and expiry: the once-a-second sweep sends
 * OPTIONS to contacts whose extension asks for qualify (and reads their
 * answers), CRLF keep-alives to NATed ones, and expires bindings.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sip/sipd_priv.h"
#include <re_tcp.h>
#include "store/snapshot.h"

#define QUALIFY_TRIES 4
#define QUALIFY_RETRY_MS 1000

/* ---- responses (qualify) -------------------------------------------- */

#define QBRANCH "z9hG4bKbwq"

void sipd_qualify_response(struct sipd *sd, struct sipmsg *m)
{
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
	rb = reg_binding_by_id(sd->loc, id >> 16);
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
 * own connection (sipd_send_raw finds it by id; when it is gone nothing is
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
 * realm) From: the listen address when bound to one, else the local end
 * of the registration's TCP connection, else the address the kernel
 * would send from to the phone (a connected UDP socket sends nothing). */
static void local_host(struct sipd *sd, const struct reg_binding *b,
		       const struct sa *dst, char *host, size_t sz)
{
	struct sa l;

	if (sa_isset(&sd->laddr, SA_ADDR) && !sa_is_any(&sd->laddr)) {
		re_snprintf(host, sz, "%J", &sd->laddr);
		return;
	}
	sa_init(&l, AF_UNSPEC);
	if (b->tp != REG_TP_UDP) {
		struct sipd_conn *c = sipd_tcp_find(sd, b->conn_id);

		if (c && c->tc && !tcp_conn_local_get(c->tc, &l)) {
			sipd_sa_unmap(&l);
			re_snprintf(host, sz, "%J", &l);
			return;
		}
	}
	else {
		int fd = socket(sa_af(dst), SOCK_DGRAM, 0);

		if (fd >= 0) {
			l.len = sizeof(l.u);
			if (connect(fd, &dst->u.sa, dst->len) ||
			    getsockname(fd, &l.u.sa, &l.len))
				sa_init(&l, AF_UNSPEC);
			(void)close(fd);
		}
		if (sa_isset(&l, SA_ADDR)) {
			sa_set_port(&l, sa_port(&sd->laddr));
			re_snprintf(host, sz, "%J", &l);
			return;
		}
	}
	re_snprintf(host, sz, "%s", sd->realm);
}

static void qualify_send(struct sipd *sd, struct reg_binding *b)
{
	const struct sa *dst = probe_dst(b);
	char host[80], from[80];
	uint64_t id = b->id << 16 | (b->q_seq & 0xffff);
	int n;

	local_host(sd, b, dst, host, sizeof(host));
	/* From names the PBX: its domain when the admin set a realm, else
	 * its address ("bulwark" is no host) */
	if (strcmp(sd->realm, DEFAULT_REALM))
		re_snprintf(from, sizeof(from), "%s", sd->realm);
	else
		re_snprintf(from, sizeof(from), "%s", host);
	n = re_snprintf(sd->obuf, sizeof(sd->obuf),
			"OPTIONS %s SIP/2.0\r\n"
			"Via: SIP/2.0/%s %s;branch=" QBRANCH "%016llx;rport\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:bulwark@%s>;tag=%08x\r\n"
			"To: <%s>\r\n"
			"Call-ID: bwq%016llx@%s\r\n"
			"CSeq: 1 OPTIONS\r\n"
			"Content-Length: 0\r\n\r\n",
			reg_binding_uri(b), b->tp == REG_TP_TCP ? "TCP" : "UDP",
			host,
			(unsigned long long)id, from,
			(unsigned)(id * 2654435761u), reg_binding_uri(b),
			(unsigned long long)id, sd->realm);
	if (n <= 0)
		return;
	sd->c_qualify++;
	(void)sipd_send_raw(sd, b->tp == REG_TP_TCP ? SIPD_TCP : SIPD_UDP,
			    dst, b->conn_id, sd->obuf, (size_t)n);
}

void sipd_sweep(void *arg)
{
	struct sipd *sd = arg;
	int64_t now = sipd_now(sd);
	uint32_t jif = (uint32_t)tmr_jiffies();
	struct reg_binding *b;
	size_t pos = 0;

	tmr_start(&sd->sweep, 1000, sipd_sweep, sd);
	sipd_tcp_trim(sd);
	reg_expire(sd->loc, now, sipd_reg_changed, sd);
	while ((b = reg_binding_next(sd->loc, &pos))) {
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
			qualify_send(sd, b);
			continue;
		}
		if (b->q_next > now)
			continue;
		x = sipd_find_ext(sd->snap, b->ext->number,
				  strlen(b->ext->number));
		if (x && x->qualify) {
			b->q_seq++;
			b->q_pending = true;
			b->q_tries = 1;
			b->q_sent_ms = b->q_last_ms = jif;
			b->q_next = (uint32_t)(now + sd->qualify_iv);
			qualify_send(sd, b);
		}
		else if (b->nat) {
			/* keep the NAT binding open */
			(void)sipd_send_raw(sd, b->tp == REG_TP_TCP ?
					    SIPD_TCP : SIPD_UDP, probe_dst(b),
					    b->conn_id, "\r\n\r\n", 4);
			b->q_next = (uint32_t)(now + sd->keepalive_iv);
		}
		else {
			b->q_next = (uint32_t)(now + sd->keepalive_iv);
		}
	}
}

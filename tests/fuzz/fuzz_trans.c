/*
 * fuzz_trans — libFuzzer target for the transaction tables
 * (src/sip/strans.c, src/sip/ctrans.c). The input is a sequence of
 * records: a control octet, a code octet, a 2-octet length and that many
 * octets of a SIP message. A request that parses and checks goes to the
 * server table from one of four sources (over UDP or TCP as the control
 * octet says) and may be answered with a code of the input's choice; it
 * may also be sent through the client table (a CANCEL of a live INVITE
 * is written with ctrans_cancel). A response that parses goes to the
 * client table. The clock moves by the input's steps and both tables
 * are ticked. The bounds must hold after every record, what is sent
 * must look like what it is, and at the end, far in the future, both
 * tables must be empty.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <re_types.h>
#include <re_mem.h>
#include <re_sa.h>

#include "sip/ctrans.h"
#include "sip/sipmsg.h"
#include "sip/strans.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

#define TOTAL 16
#define PER 4

static void s_send(enum sipd_tp tp, const struct sa *dst, uint64_t conn,
		   const char *buf, size_t len, void *arg)
{
	(void)tp; (void)dst; (void)conn; (void)arg;
	if (len < 12 || memcmp(buf, "SIP/2.0 ", 8))
		abort();
}

/* What the client table sends is a request that parses: the TU's own
 * (checked by ctrans_send), a retransmission of it, or an ACK / CANCEL
 * it wrote (with a response's To in it). */
static void c_send(enum sipd_tp tp, const struct sa *dst, uint64_t conn,
		   const char *buf, size_t len, void *arg)
{
	static struct sipmsg sm;

	(void)dst; (void)conn; (void)arg;
	if (sipmsg_parse(&sm, buf, len, tp == SIPD_UDP) || !sm.req)
		abort();
}

static const unsigned codes[] = {100, 180, 183, 200, 202, 302, 404, 486,
				 487, 500, 603, 699};

void fuzz_cleanup(void)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strans_conf sc = {.max_total = TOTAL, .max_per_src = PER};
	struct ctrans_conf cc = {.max_total = TOTAL, .max_per_dst = PER};
	struct strans *st = NULL;
	struct ctrans *ct = NULL;
	struct ctrans_tx *last_inv = NULL;
	struct sipmsg *m = malloc(sizeof(*m));
	struct sa src[4];
	uint64_t now = 1;
	size_t off = 0;

	if (!m)
		return 0;
	sa_set_str(&src[0], "192.0.2.1", 5060);
	sa_set_str(&src[1], "192.0.2.1", 5070);
	sa_set_str(&src[2], "2001:db8::1", 5060);
	sa_set_str(&src[3], "198.51.100.7", 5060);
	if (strans_alloc(&st, &sc, s_send, NULL, NULL) ||
	    ctrans_alloc(&ct, &cc, c_send, NULL, NULL))
		goto out;
	while (off + 4 <= size) {
		uint8_t ctl = data[off], cb = data[off + 1];
		size_t len = (size_t)data[off + 2] << 8 | data[off + 3];
		const struct sa *from = &src[(ctl >> 1) & 3];
		enum sipd_tp tp = ctl & 1 ? SIPD_TCP : SIPD_UDP;
		char *buf;

		off += 4;
		if (len > size - off)
			len = size - off;
		/* an exact-length copy: ASan sees any read past it */
		buf = malloc(len ? len : 1);
		if (!buf)
			break;
		memcpy(buf, data + off, len);
		off += len;
		now += (uint64_t)(ctl >> 3) * 250;
		if (!sipmsg_parse(m, buf, len, tp == SIPD_UDP)) {
			const char *why;

			if (m->req && !sipmsg_check(m, &why)) {
				struct strans_tx *tx = NULL;
				enum strans_rx r;

				if (sipmsg_eq(&m->met, "CANCEL"))
					(void)strans_find_invite(st, m, from);
				r = strans_receive(st, m, tp, from, 0, now,
						   &tx);
				if ((r == STRANS_RX_NEW ||
				     r == STRANS_RX_RETRANS) && !tx)
					abort();
				if (tx && (cb & 0x80)) {
					unsigned code = codes[(cb & 0x7f) %
						(sizeof(codes) /
						 sizeof(codes[0]))];

					(void)strans_respond(st, tx, code,
							     "SIP/2.0 200 OK"
							     "\r\n\r\n", 18,
							     now);
				}
				if (cb & 0x40) {
					struct ctrans_tx *ctx = NULL;

					if (!ctrans_send(ct, tp, from, 0, buf,
							 len, now, &ctx) &&
					    sipmsg_eq(&m->met, "INVITE"))
						last_inv = ctx;
				}
			}
			else if (!m->req && !sipmsg_check_response(m)) {
				struct ctrans_tx *tx = NULL;

				(void)ctrans_receive(ct, m, from, now, &tx);
			}
		}
		if ((cb & 0x20) && last_inv) {
			char cbuf[4096];
			size_t n = ctrans_cancel(last_inv, cbuf,
						 sizeof(cbuf));
			struct ctrans_tx *ctx;

			if (n)
				(void)ctrans_send(ct, tp, from, 0, cbuf, n,
						  now, &ctx);
		}
		free(buf);
		if (strans_next(st) <= now)
			strans_tick(st, now);
		if (ctrans_next(ct) <= now)
			ctrans_tick(ct, now);
		/* last_inv may have ended in the tick: its slot stays in
		 * the table's array (zeroed, or reused by another
		 * transaction), so ctrans_cancel on it is defined; the
		 * input decides when to forget it */
		last_inv = (cb & 0x10) ? last_inv : NULL;
		if (strans_count(st) > TOTAL || ctrans_count(ct) > TOTAL)
			abort();
		for (int i = 0; i < 4; i++)
			if (strans_count_src(st, &src[i]) > PER ||
			    ctrans_count_dst(ct, &src[i]) > PER)
				abort();
	}
	strans_tick(st, now + 3600000);
	ctrans_tick(ct, now + 3600000);
	if (strans_count(st) || ctrans_count(ct))
		abort();
out:
	mem_deref(st);
	mem_deref(ct);
	free(m);
	return 0;
}

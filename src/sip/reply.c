/*
 * sipd's replies: every response to a request is written here, sent at
 * once or, when the guard asks for it, held back on a tarpit timer.
 */
#include <stdarg.h>
#include <string.h>

#include "guard/guard.h"
#include "sip/sipd_priv.h"

#define MAX_TARPIT 256

struct tarpit {
	struct le le;
	struct sipd *sd;
	struct tmr tmr;
	enum sipd_tp tp;
	struct sa dst;
	uint64_t conn;
	size_t len;
	char buf[];
};

static void tarpit_destructor(void *arg)
{
	struct tarpit *t = arg;

	tmr_cancel(&t->tmr);
	list_unlink(&t->le);
	if (t->sd && t->sd->n_tarpit)
		t->sd->n_tarpit--;
}

static void tarpit_fire(void *arg)
{
	struct tarpit *t = arg;

	(void)sipd_send_raw(t->sd, t->tp, &t->dst, t->conn, t->buf, t->len);
	mem_deref(t);
}

void sipd_reply(struct sipd_req *rq, unsigned code, const char *reason,
		const char *extra, size_t xlen)
{
	struct sipd *sd = rq->sd;
	size_t n = sipmsg_reply(rq->m, rq->src, code, reason, extra, xlen,
				sd->totag_salt, sd->obuf, sizeof(sd->obuf));
	unsigned tarpit_ms;

	if (!n)
		return;
	/* the guard decides to tarpit, so its setting says how long */
	tarpit_ms = sd->guard ? guard_tarpit_ms(sd->guard) : 0;
	if (rq->tarpit && tarpit_ms > 0) {
		struct tarpit *t;

		if (sd->n_tarpit >= MAX_TARPIT) {
			sd->c_tarpit_drop++;
			return;
		}
		t = mem_zalloc(sizeof(*t) + n, tarpit_destructor);
		if (!t)
			return;
		t->sd = sd;
		t->tp = rq->tp;
		t->dst = *rq->src;
		t->conn = rq->conn;
		t->len = n;
		memcpy(t->buf, sd->obuf, n);
		list_append(&sd->tarpits, &t->le, t);
		sd->n_tarpit++;
		sd->c_tarpit++;
		tmr_start(&t->tmr, (uint64_t)tarpit_ms, tarpit_fire, t);
		return;
	}
	(void)sipd_send_raw(sd, rq->tp, rq->src, rq->conn, sd->obuf, n);
}

size_t sipd_xput(struct sipd *sd, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= sizeof(sd->xbuf))
		return off;
	va_start(ap, fmt);
	n = re_vsnprintf(sd->xbuf + off, sizeof(sd->xbuf) - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return sizeof(sd->xbuf);
	return off + (size_t)n;
}

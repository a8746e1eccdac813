/*
 * dialog — dialog state and the in-dialog request writer (dialog.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_sa.h>

#include "sip/dialog.h"

void dialog_reset(struct dialog *d)
{
	if (!d)
		return;
	d->callid = mem_deref(d->callid);
	d->from = mem_deref(d->from);
	d->to = mem_deref(d->to);
	d->target = mem_deref(d->target);
	d->route = mem_deref(d->route);
}

const char *dialog_via_tp(enum sipd_tp tp)
{
	switch (tp) {
	case SIPD_TCP:
		return "SIP/2.0/TCP";
	case SIPD_TLS:
		return "SIP/2.0/TLS";
	default:
		return "SIP/2.0/UDP";
	}
}

const char *dialog_uri_tp(enum sipd_tp tp)
{
	switch (tp) {
	case SIPD_TCP:
		return ";transport=tcp";
	case SIPD_TLS:
		return ";transport=tls";
	default:
		return "";
	}
}

/* A slice of a message kept as a C string: one holding a NUL (our parser
 * lets one through inside <...> and a tag) would be cut short there, and
 * a Contact's <sip:\0...> became the Request-URI "sip:" of our ACK. */
static int dup_slice(char **out, const char *p, size_t l, size_t max)
{
	char *s;

	if (l > max || (l && memchr(p, '\0', l)))
		return EBADMSG;
	s = mem_alloc(l + 1, NULL);
	if (!s)
		return ENOMEM;
	memcpy(s, p, l);
	s[l] = '\0';
	mem_deref(*out);
	*out = s;
	return 0;
}

static int set_tag(char *dst, const char *p, size_t l)
{
	if (l > DIALOG_TAG_MAX || (l && memchr(p, '\0', l)))
		return EBADMSG;
	memcpy(dst, p, l);
	dst[l] = '\0';
	return 0;
}

/* The first Contact's URI of m. */
static int contact_uri(const struct sipmsg *m, char **out)
{
	const struct sipmsg_hdr *h = sipmsg_hdr(m, SH_CONTACT);
	struct sipmsg_addr a;
	const char *p;

	if (!h)
		return EBADMSG;
	p = h->val.p;
	if (sipmsg_addr(&a, &p, h->val.p + h->val.l, true) || a.star ||
	    !a.uri.l)
		return EBADMSG;
	/* it becomes the Request-URI of our ACK, BYE and re-INVITE: one our
	 * own parser would refuse is refused here (a 2xx Contact of
	 * <sip.:202@...> once did) */
	if (sipmsg_ruri_check(a.uri.p, a.uri.l))
		return EBADMSG;
	return dup_slice(out, a.uri.p, a.uri.l, DIALOG_HDR_MAX);
}

/* Record-Route values of m joined into "Route: a, b\r\n", in order or
 * reversed; *out NULL when there is none. */
static int route_set(const struct sipmsg *m, bool reverse, char **out)
{
	const struct sipmsg_hdr *rr[16];
	size_t n = 0, len = 0, off;
	char *s;

	for (size_t i = 0; i < m->n_hdr; i++) {
		const struct sipmsg_hdr *h = &m->hdr[i];

		if (h->name.l != 12 || strncasecmp(h->name.p, "Record-Route",
						   12))
			continue;
		if (n == sizeof(rr) / sizeof(rr[0]))
			return EBADMSG;
		rr[n++] = h;
		len += h->val.l + 2;
	}
	*out = mem_deref(*out);
	if (!n)
		return 0;
	if (len > DIALOG_ROUTE_MAX)
		return EBADMSG;
	s = mem_alloc(len + 16, NULL);
	if (!s)
		return ENOMEM;
	off = (size_t)snprintf(s, len + 16, "Route: ");
	for (size_t i = 0; i < n; i++) {
		const struct sipmsg_hdr *h = rr[reverse ? n - 1 - i : i];

		memcpy(s + off, h->val.p, h->val.l);
		off += h->val.l;
		if (i + 1 < n) {
			memcpy(s + off, ", ", 2);
			off += 2;
		}
	}
	memcpy(s + off, "\r\n", 3);
	*out = s;
	return 0;
}

int dialog_uas(struct dialog *d, const struct sipmsg *m, const char *ltag,
	       size_t ltag_len, enum sipd_tp tp, const struct sa *src,
	       uint64_t conn)
{
	const struct sipmsg_hdr *from = sipmsg_hdr(m, SH_FROM);
	const struct sipmsg_hdr *to = sipmsg_hdr(m, SH_TO);
	int err;

	memset(d, 0, sizeof(*d));
	if (!from || !to || !m->from.tag.l || m->to.tag.l)
		return EBADMSG;
	err = set_tag(d->ltag, ltag, ltag_len);
	err = err ? err : set_tag(d->rtag, m->from.tag.p, m->from.tag.l);
	err = err ? err : dup_slice(&d->callid, m->callid.p, m->callid.l,
				    DIALOG_HDR_MAX);
	/* their From is our To; our From is their To with our tag */
	err = err ? err : dup_slice(&d->to, from->val.p, from->val.l,
				    DIALOG_HDR_MAX);
	if (!err) {
		d->from = mem_alloc(to->val.l + ltag_len + 8, NULL);
		if (!d->from)
			err = ENOMEM;
		else if (to->val.l > DIALOG_HDR_MAX)
			err = EBADMSG;
		else
			snprintf(d->from, to->val.l + ltag_len + 8,
				 "%.*s;tag=%s", (int)to->val.l, to->val.p,
				 d->ltag);
	}
	err = err ? err : contact_uri(m, &d->target);
	err = err ? err : route_set(m, false, &d->route);
	if (err) {
		dialog_reset(d);
		return err;
	}
	d->rcseq = m->cseq;
	d->lcseq = 0;
	d->tp = tp;
	d->dst = *src;
	d->conn = conn;
	return 0;
}

static void random_hex(char *out, size_t bytes)
{
	uint8_t b[32];

	if (bytes > sizeof(b))
		bytes = sizeof(b);
	randombytes_buf(b, bytes);
	sodium_bin2hex(out, bytes * 2 + 1, b, bytes);
}

int dialog_uac(struct dialog *d, const char *from_name, const char *from_uri,
	       const char *to_uri, const char *target, enum sipd_tp tp,
	       const struct sa *dst, uint64_t conn)
{
	char cid[33], name[80];
	size_t n;
	int err;

	memset(d, 0, sizeof(*d));
	if (!from_uri || !to_uri || !target || !dst)
		return EINVAL;
	if (sipmsg_ruri_check(target, strlen(target)))
		return EBADMSG;   /* a binding's contact we could not send to */
	random_hex(d->ltag, 8);
	random_hex(cid, 16);
	/* a display name is quoted; quotes and backslashes are left out */
	n = 0;
	for (const char *p = from_name ? from_name : ""; *p &&
	     n < sizeof(name) - 1; p++)
		if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			name[n++] = *p;
	name[n] = '\0';
	err = re_sdprintf(&d->callid, "%s", cid);
	if (!err)
		err = n ? re_sdprintf(&d->from, "\"%s\" <%s>;tag=%s", name,
				      from_uri, d->ltag) :
			re_sdprintf(&d->from, "<%s>;tag=%s", from_uri,
				    d->ltag);
	if (!err)
		err = re_sdprintf(&d->to, "<%s>", to_uri);
	if (!err)
		err = re_sdprintf(&d->target, "%s", target);
	if (err) {
		dialog_reset(d);
		return err;
	}
	d->lcseq = 0;
	d->tp = tp;
	d->dst = *dst;
	d->conn = conn;
	return 0;
}

int dialog_uac_update(struct dialog *d, const struct sipmsg *r, bool final)
{
	const struct sipmsg_hdr *to = sipmsg_hdr(r, SH_TO);
	int err = 0;

	if (!to || !r->to.tag.l)
		return final ? EBADMSG : 0;
	if (!d->rtag[0] || final) {
		err = set_tag(d->rtag, r->to.tag.p, r->to.tag.l);
		err = err ? err : dup_slice(&d->to, to->val.p, to->val.l,
					    DIALOG_HDR_MAX);
	}
	if (!err && (final || sipmsg_hdr(r, SH_CONTACT))) {
		int e = contact_uri(r, &d->target);

		if (e && final)
			err = e;
	}
	if (!err && final)
		err = route_set(r, true, &d->route);
	return err;
}

bool dialog_check_cseq(struct dialog *d, const struct sipmsg *m)
{
	if (d->rcseq && m->cseq <= d->rcseq)
		return false;
	d->rcseq = m->cseq;
	return true;
}

size_t dialog_request(const struct dialog *d, const char *method,
		      uint32_t cseq, const char *branch,
		      const struct sa *laddr, const char *extra,
		      const char *ctype, const char *body, size_t blen,
		      char *out, size_t outsz)
{
	int n;

	if (!body || !ctype)
		blen = 0;
	n = re_snprintf(out, outsz,
			"%s %s SIP/2.0\r\n"
			"Via: %s %J;branch=%s;rport\r\n"
			"Max-Forwards: 70\r\n"
			"From: %s\r\n"
			"To: %s\r\n"
			"Call-ID: %s\r\n"
			"CSeq: %u %s\r\n"
			"%s%s",
			method, d->target, dialog_via_tp(d->tp), laddr, branch,
			d->from, d->to, d->callid, cseq, method,
			d->route ? d->route : "", extra ? extra : "");
	if (n < 0 || (size_t)n >= outsz)
		return 0;
	if (blen) {
		int k = re_snprintf(out + n, outsz - (size_t)n,
				    "Content-Type: %s\r\n"
				    "Content-Length: %zu\r\n\r\n", ctype, blen);

		if (k < 0 || (size_t)n + (size_t)k + blen >= outsz)
			return 0;
		n += k;
		memcpy(out + n, body, blen);
		return (size_t)n + blen;
	}
	{
		int k = re_snprintf(out + n, outsz - (size_t)n,
				    "Content-Length: 0\r\n\r\n");

		if (k < 0 || (size_t)n + (size_t)k >= outsz)
			return 0;
		return (size_t)n + (size_t)k;
	}
}

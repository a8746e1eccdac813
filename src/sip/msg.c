/*
 * msg — the stack's strict one-pass SIP parser and stateless reply
 * writer (API sipmsg_*, see sipmsg.h). Every loop is bounded by the buffer end; nothing here
 * allocates.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_mbuf.h>
#include <re_list.h>
#include <re_hash.h>
#include <re_sa.h>
#include <re_tmr.h>

#include "sip/sipmsg.h"

static const struct {
	const char *name;
	char compact;
	uint8_t id;
} hdr_names[] = {
	{"Via", 'v', SH_VIA}, {"From", 'f', SH_FROM}, {"To", 't', SH_TO},
	{"Call-ID", 'i', SH_CALLID}, {"CSeq", 0, SH_CSEQ},
	{"Contact", 'm', SH_CONTACT}, {"Content-Length", 'l', SH_CLEN},
	{"Content-Type", 'c', SH_CTYPE}, {"Max-Forwards", 0, SH_MAXFWD},
	{"Expires", 0, SH_EXPIRES}, {"Authorization", 0, SH_AUTH},
	{"User-Agent", 0, SH_UA}, {"Require", 0, SH_REQUIRE},
	{"Proxy-Require", 0, SH_PREQUIRE}, {"Supported", 'k', SH_SUPPORTED},
	{"Accept", 0, SH_ACCEPT},
	/* read like Authorization: a slice each, the same header bounds */
	{"Proxy-Authorization", 0, SH_PAUTH},
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_tok(char c)
{
	return is_alpha(c) || is_digit(c) ||
	       (c && strchr("-.!%*_+`'~", c) != NULL);
}

bool sipmsg_eq(const struct sipmsg_str *s, const char *c)
{
	size_t n = strlen(c);

	return s->l == n && !strncasecmp(s->p, c, n);
}

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && is_ws(*p))
		p++;
	return p;
}

static uint8_t hdr_id(const char *n, size_t l)
{
	for (size_t i = 0; i < sizeof(hdr_names) / sizeof(hdr_names[0]); i++) {
		if (l == 1 && hdr_names[i].compact &&
		    (n[0] | 0x20) == hdr_names[i].compact)
			return hdr_names[i].id;
		if (strlen(hdr_names[i].name) == l &&
		    !strncasecmp(hdr_names[i].name, n, l))
			return hdr_names[i].id;
	}
	return SH_OTHER;
}

const struct sipmsg_hdr *sipmsg_hdr(const struct sipmsg *m,
				    enum sipmsg_hid id)
{
	if (!m || id >= SH__COUNT || m->first[id] < 0)
		return NULL;
	return &m->hdr[m->first[id]];
}

/* Digits only, at most maxd of them; value into *v. */
static bool parse_uint(const struct sipmsg_str *s, unsigned maxd,
		       uint64_t *v)
{
	uint64_t x = 0;

	if (!s->l || s->l > maxd)
		return false;
	for (size_t i = 0; i < s->l; i++) {
		if (!is_digit(s->p[i]))
			return false;
		x = x * 10 + (uint64_t)(s->p[i] - '0');
	}
	*v = x;
	return true;
}

static const char *line_end(const char *p, const char *e, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(e - p));
	const char *le;

	if (!nl) {
		*next = e;
		return e;
	}
	*next = nl + 1;
	le = nl;
	if (le > p && le[-1] == '\r')
		le--;
	return le;
}

/* Find the end of the head (after the empty line); NULL if absent. */
static const char *head_end(const char *buf, size_t len)
{
	const char *p = buf, *e = buf + len;

	while (p < e) {
		const char *nx, *le = line_end(p, e, &nx);

		if (nx == e && le == e)
			return NULL;   /* unterminated last line */
		if (le == p)
			return nx;
		p = nx;
	}
	return NULL;
}

static bool find_clen(const char *buf, const char *he, uint64_t *clen,
		      bool *found)
{
	const char *p = buf, *e = he;

	*found = false;
	while (p < e) {
		const char *nx, *le = line_end(p, e, &nx);
		const char *c = memchr(p, ':', (size_t)(le - p));

		if (c && !is_ws(*p)) {
			const char *ne = c;

			while (ne > p && is_ws(ne[-1]))
				ne--;
			if (hdr_id(p, (size_t)(ne - p)) == SH_CLEN) {
				struct sipmsg_str v;
				const char *ve = le;

				v.p = skip_ws(c + 1, le);
				while (ve > v.p && is_ws(ve[-1]))
					ve--;
				v.l = (size_t)(ve - v.p);
				if (*found || !parse_uint(&v, 10, clen))
					return false;
				*found = true;
			}
		}
		p = nx;
	}
	return true;
}

int sipmsg_frame(const char *buf, size_t len, size_t *msglen)
{
	const char *he;
	uint64_t clen = 0;
	bool found;

	if (!buf || !msglen)
		return EINVAL;
	*msglen = 0;
	he = head_end(buf, len > SIPMSG_MAX_LEN ? SIPMSG_MAX_LEN : len);
	if (!he)
		return len >= SIPMSG_MAX_LEN ? EBADMSG : EAGAIN;
	if (!find_clen(buf, he, &clen, &found) || clen > SIPMSG_MAX_LEN ||
	    (size_t)(he - buf) + clen > SIPMSG_MAX_LEN) {
		*msglen = (size_t)(he - buf);   /* the head, to answer 400 */
		return EBADMSG;
	}
	if ((size_t)(he - buf) + clen > len)
		return EAGAIN;
	*msglen = (size_t)(he - buf) + (size_t)clen;
	return 0;
}

static int parse_start(struct sipmsg *m, const char *p, const char *le)
{
	if (le - p >= 4 && !strncmp(p, "SIP/", 4)) {
		const char *sp = memchr(p, ' ', (size_t)(le - p));
		const char *c;

		if (!sp)
			return EBADMSG;
		m->req = false;
		m->ver.p = p;
		m->ver.l = (size_t)(sp - p);
		c = sp + 1;
		if (le - c < 3 || !is_digit(c[0]) || !is_digit(c[1]) ||
		    !is_digit(c[2]) || (le - c > 3 && c[3] != ' ') ||
		    c[0] < '1' || c[0] > '6')
			return EBADMSG;
		m->scode = (unsigned)((c[0] - '0') * 100 + (c[1] - '0') * 10 +
				      (c[2] - '0'));
		m->reason.p = le - c > 3 ? c + 4 : le;
		m->reason.l = (size_t)(le - m->reason.p);
		return 0;
	}
	{
		const char *s1 = memchr(p, ' ', (size_t)(le - p)), *s2;

		m->req = true;
		if (!s1 || s1 == p)
			return EBADMSG;
		m->met.p = p;
		m->met.l = (size_t)(s1 - p);
		for (size_t i = 0; i < m->met.l; i++)
			if (!is_tok(p[i]))
				return EBADMSG;
		s2 = s1 + 1;
		while (s2 < le && *s2 != ' ')
			s2++;
		m->ruri.p = s1 + 1;
		m->ruri.l = (size_t)(s2 - m->ruri.p);
		if (s2 >= le) {
			m->rl_bad = true;
			return 0;
		}
		m->ver.p = s2 + 1;
		m->ver.l = (size_t)(le - m->ver.p);
		if (!m->ruri.l || !m->ver.l ||
		    memchr(m->ver.p, ' ', m->ver.l) ||
		    memchr(m->ver.p, '\t', m->ver.l))
			m->rl_bad = true;
		for (size_t i = 0; i < m->ruri.l; i++)
			if (is_ws(m->ruri.p[i]) || m->ruri.p[i] == '<' ||
			    m->ruri.p[i] == '>' || m->ruri.p[i] == '"')
				m->rl_bad = true;
		if (m->ver.l < 4 || strncasecmp(m->ver.p, "SIP/", 4))
			m->rl_bad = true;
	}
	return 0;
}

int sipmsg_parse(struct sipmsg *m, const char *buf, size_t len, bool dgram)
{
	const char *p = buf, *e = buf + len, *nx, *le, *body;
	struct sipmsg_hdr *last = NULL;
	uint64_t clen = 0;
	bool have_clen = false, end_seen = false;
	int err;

	if (!m || !buf)
		return EINVAL;
	memset(m, 0, offsetof(struct sipmsg, hdr));
	memset(m->first, 0, sizeof(*m) - offsetof(struct sipmsg, first));
	memset(m->first, -1, sizeof(m->first));
	m->expires = -1;
	m->maxfwd = -1;
	if (len > SIPMSG_MAX_LEN)
		return EBADMSG;
	/* RFC 3261 7.5: ignore empty lines before the start line */
	while (p < e && (*p == '\r' || *p == '\n'))
		p++;
	if (p >= e)
		return EBADMSG;
	le = line_end(p, e, &nx);
	err = parse_start(m, p, le);
	if (err)
		return err;
	p = nx;
	while (p < e) {
		const char *c, *ne;

		le = line_end(p, e, &nx);
		if (le == p) {   /* empty line: end of head */
			p = nx;
			end_seen = true;
			break;
		}
		if (*p == ' ' || *p == '\t') {
			if (!last) {
				m->hdr_bad = true;
			}
			else {
				last->val.l = (size_t)(le - last->val.p);
			}
			p = nx;
			continue;
		}
		if (m->n_hdr >= SIPMSG_MAX_HDRS)
			return EBADMSG;
		c = memchr(p, ':', (size_t)(le - p));
		ne = c;
		while (ne && ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		if (!c || ne == p) {
			m->hdr_bad = true;
			last = NULL;
			p = nx;
			continue;
		}
		for (const char *q = p; q < ne; q++)
			if (!is_tok(*q))
				m->hdr_bad = true;
		last = &m->hdr[m->n_hdr];
		last->name.p = p;
		last->name.l = (size_t)(ne - p);
		last->id = hdr_id(p, last->name.l);
		last->val.p = skip_ws(c + 1, le);
		last->val.l = (size_t)(le - last->val.p);
		if (m->first[last->id] < 0)
			m->first[last->id] = (int16_t)m->n_hdr;
		if (m->count[last->id] < 255)
			m->count[last->id]++;
		m->n_hdr++;
		p = nx;
	}
	if (!end_seen && !dgram)
		return EBADMSG;
	/* trim trailing whitespace of values (folded lines included) */
	for (size_t i = 0; i < m->n_hdr; i++) {
		struct sipmsg_str *v = &m->hdr[i].val;

		while (v->l && is_ws(v->p[v->l - 1]))
			v->l--;
	}
	body = p;
	if (m->count[SH_CLEN] == 1 &&
	    parse_uint(&m->hdr[m->first[SH_CLEN]].val, 10, &clen))
		have_clen = true;
	if (have_clen) {
		if (clen > (uint64_t)(e - body)) {
			m->clen_bad = true;
			clen = (uint64_t)(e - body);
		}
		m->body.p = body;
		m->body.l = (size_t)clen;
	}
	else {
		m->body.p = body;
		m->body.l = dgram ? (size_t)(e - body) : 0;
	}
	m->total = (size_t)(body - buf) + m->body.l;
	return 0;
}

/* ---- header value grammar ------------------------------------------- */

/* Host or parameter value: token, quoted string or [IPv6]. */
static const char *scan_value(const char *p, const char *e)
{
	if (p < e && *p == '"') {
		p++;
		while (p < e && *p != '"') {
			/* a quoted pair: never step past e (an escape as the
			 * last octet leaves the string unterminated) */
			if (*p == '\\' && ++p == e)
				return NULL;
			p++;
		}
		return p < e ? p + 1 : NULL;
	}
	if (p < e && *p == '[') {
		const char *q = memchr(p, ']', (size_t)(e - p));

		return q ? q + 1 : NULL;
	}
	{
		const char *s = p;

		while (p < e && (is_tok(*p) || *p == ':' || *p == '/'))
			p++;
		return p > s ? p : NULL;
	}
}

struct prm {
	struct sipmsg_str n, v;
	const char *start, *end;
};

/* After ws*: ';' param. 1 = parsed, 0 = no ';' here, -1 = malformed. */
static int next_param(const char **pp, const char *e, struct prm *pr)
{
	const char *p = skip_ws(*pp, e), *s;

	if (p >= e || *p != ';')
		return 0;
	pr->start = p;
	p = skip_ws(p + 1, e);
	s = p;
	while (p < e && is_tok(*p))
		p++;
	if (p == s)
		return -1;
	pr->n.p = s;
	pr->n.l = (size_t)(p - s);
	pr->v.p = NULL;
	pr->v.l = 0;
	{
		const char *q = skip_ws(p, e);

		if (q < e && *q == '=') {
			const char *ve;

			q = skip_ws(q + 1, e);
			ve = scan_value(q, e);
			if (!ve)
				return -1;
			pr->v.p = q;
			pr->v.l = (size_t)(ve - q);
			p = ve;
		}
	}
	pr->end = p;
	*pp = p;
	return 1;
}

static bool uri_ok(const struct sipmsg_str *u, bool addr_spec)
{
	size_t i = 0;

	if (!u->l || !is_alpha(u->p[0]))
		return false;
	while (i < u->l && (is_alpha(u->p[i]) || is_digit(u->p[i]) ||
			    u->p[i] == '+' || u->p[i] == '-' || u->p[i] == '.'))
		i++;
	if (i >= u->l || u->p[i] != ':' || i + 1 >= u->l)
		return false;
	for (size_t j = 0; j < u->l; j++) {
		char c = u->p[j];

		if (is_ws(c) || c == '<' || c == '>' || c == '"')
			return false;
		if (addr_spec && c == '?')
			return false;
	}
	return true;
}

static bool is_sip_scheme(const struct sipmsg_str *u, size_t *skip)
{
	if (u->l >= 4 && !strncasecmp(u->p, "sip:", 4)) {
		*skip = 4;
		return true;
	}
	if (u->l >= 5 && !strncasecmp(u->p, "sips:", 5)) {
		*skip = 5;
		return true;
	}
	return false;
}

int sipmsg_ruri_check(const char *p, size_t l)
{
	struct sipmsg_str u = { p, l };
	size_t sk;

	if (!p || !uri_ok(&u, false))
		return 400;
	if (!is_sip_scheme(&u, &sk))
		return 416;
	/* '?' is legal in the user part; after the host it starts escaped
	 * headers, which a Request-URI must not carry */
	const char *at = memrchr(u.p, '@', u.l);
	const char *hp = at ? at : u.p;

	if (memchr(hp, '?', u.l - (size_t)(hp - u.p)))
		return 400;
	return 0;
}

int sipmsg_addr(struct sipmsg_addr *a, const char **pp, const char *e,
		bool list)
{
	const char *p = skip_ws(*pp, e);
	struct prm pr;
	size_t sk;
	int r;

	memset(a, 0, sizeof(*a));
	if (p >= e)
		return EBADMSG;
	if (list && *p == '*') {
		a->star = true;
		p = skip_ws(p + 1, e);
		goto tail;
	}
	if (*p == '"') {
		const char *q = scan_value(p, e);

		if (!q)
			return EBADMSG;
		a->dname.p = p;
		a->dname.l = (size_t)(q - p);
		p = skip_ws(q, e);
		if (p >= e || *p != '<')
			return EBADMSG;
	}
	else {
		const char *q = p;

		while (q < e && (is_tok(*q) || is_ws(*q)))
			q++;
		if (q < e && *q == '<') {
			const char *d = q;

			while (d > p && is_ws(d[-1]))
				d--;
			a->dname.p = p;
			a->dname.l = (size_t)(d - p);
			p = q;
		}
	}
	if (*p == '<') {
		const char *gt = memchr(p, '>', (size_t)(e - p));

		if (!gt)
			return EBADMSG;
		a->uri.p = p + 1;
		a->uri.l = (size_t)(gt - a->uri.p);
		if (!uri_ok(&a->uri, false))
			return EBADMSG;
		p = gt + 1;
	}
	else {
		const char *s = p;

		while (p < e && !is_ws(*p) && *p != ';' && *p != ',')
			p++;
		a->uri.p = s;
		a->uri.l = (size_t)(p - s);
		if (!uri_ok(&a->uri, true))
			return EBADMSG;
	}
	if (is_sip_scheme(&a->uri, &sk)) {
		const char *at = memchr(a->uri.p + sk, '@', a->uri.l - sk);

		if (at) {
			const char *u = a->uri.p + sk, *c;

			c = memchr(u, ':', (size_t)(at - u));
			a->user.p = u;
			a->user.l = (size_t)((c ? c : at) - u);
		}
	}
	a->params.p = p;
	while ((r = next_param(&p, e, &pr)) == 1) {
		if (sipmsg_eq(&pr.n, "tag"))
			a->tag = pr.v;
		else if (sipmsg_eq(&pr.n, "expires"))
			a->expires = pr.v;
	}
	if (r < 0)
		return EBADMSG;
	a->params.l = (size_t)(p - a->params.p);
	p = skip_ws(p, e);
 tail:
	if (p < e) {
		if (!list || *p != ',')
			return EBADMSG;
		p++;
		if (skip_ws(p, e) >= e)
			return EBADMSG;   /* trailing comma */
	}
	*pp = p;
	return 0;
}

/* One via-parm at *pp. top: record it in m. */
static int via_parm(struct sipmsg *m, const char **pp, const char *e,
		    const char *vstart, bool top)
{
	const char *p = skip_ws(*pp, e), *s;
	struct sipmsg_str proto, ver, tp, host, branch = {NULL, 0};
	struct prm pr;
	uint64_t port = 0;
	size_t rport_off = 0, rport_len = 0;
	bool rport = false;
	int r;

	s = p;
	while (p < e && is_tok(*p))
		p++;
	proto.p = s;
	proto.l = (size_t)(p - s);
	p = skip_ws(p, e);
	if (p >= e || *p != '/' || !sipmsg_eq(&proto, "SIP"))
		return EBADMSG;
	p = skip_ws(p + 1, e);
	s = p;
	while (p < e && is_tok(*p))
		p++;
	ver.p = s;
	ver.l = (size_t)(p - s);
	p = skip_ws(p, e);
	if (p >= e || *p != '/' || !sipmsg_eq(&ver, "2.0"))
		return EBADMSG;
	p = skip_ws(p + 1, e);
	s = p;
	while (p < e && is_tok(*p))
		p++;
	tp.p = s;
	tp.l = (size_t)(p - s);
	if (!tp.l)
		return EBADMSG;
	p = skip_ws(p, e);
	s = p;
	if (p < e && *p == '[') {
		const char *q = memchr(p, ']', (size_t)(e - p));

		if (!q)
			return EBADMSG;
		p = q + 1;
	}
	else {
		while (p < e && (is_alpha(*p) || is_digit(*p) || *p == '.' ||
				 *p == '-' || *p == '_'))
			p++;
	}
	host.p = s;
	host.l = (size_t)(p - s);
	if (!host.l)
		return EBADMSG;
	{
		const char *q = skip_ws(p, e);

		if (q < e && *q == ':') {
			struct sipmsg_str ps;

			q = skip_ws(q + 1, e);
			ps.p = q;
			while (q < e && is_digit(*q))
				q++;
			ps.l = (size_t)(q - ps.p);
			if (!parse_uint(&ps, 5, &port) || !port ||
			    port > 65535)
				return EBADMSG;
			p = q;
		}
	}
	while ((r = next_param(&p, e, &pr)) == 1) {
		if (!top)
			continue;
		if (sipmsg_eq(&pr.n, "branch"))
			branch = pr.v;
		else if (sipmsg_eq(&pr.n, "rport")) {
			rport = true;
			rport_off = (size_t)(pr.start - vstart);
			rport_len = (size_t)(pr.end - pr.start);
		}
	}
	if (r < 0)
		return EBADMSG;
	/* Only a top via-parm parsed to its end is recorded: the reply
	 * writer does arithmetic on these offsets (they are all within the
	 * value by construction: rport_off + rport_len <= top_end). */
	if (top) {
		m->via_tp = tp;
		m->via_host = host;
		m->via_port = (uint16_t)port;
		m->via_branch = branch;
		m->via_rport = rport;
		m->via_rport_off = rport_off;
		m->via_rport_len = rport_len;
		m->via_top_end = (size_t)(p - vstart);
		m->via_ok = true;
	}
	p = skip_ws(p, e);
	if (p < e) {
		if (*p != ',')
			return EBADMSG;
		p++;
		if (skip_ws(p, e) >= e)
			return EBADMSG;
	}
	*pp = p;
	return 0;
}

static int check_via(struct sipmsg *m)
{
	bool top = true;

	for (size_t i = 0; i < m->n_hdr; i++) {
		const char *p, *e;

		if (m->hdr[i].id != SH_VIA)
			continue;
		p = m->hdr[i].val.p;
		e = p + m->hdr[i].val.l;
		if (p >= e)
			return EBADMSG;
		while (p < e) {
			if (via_parm(m, &p, e, m->hdr[i].val.p, top))
				return EBADMSG;
			top = false;
		}
	}
	return 0;
}

static int check_cseq(struct sipmsg *m)
{
	const struct sipmsg_hdr *h = sipmsg_hdr(m, SH_CSEQ);
	const char *p = h->val.p, *e = p + h->val.l, *s;
	struct sipmsg_str n;
	uint64_t v;

	s = p;
	while (p < e && is_digit(*p))
		p++;
	n.p = s;
	n.l = (size_t)(p - s);
	if (!parse_uint(&n, 10, &v) || v > 0x7fffffffu)
		return EBADMSG;
	if (p >= e || !is_ws(*p))
		return EBADMSG;
	p = skip_ws(p, e);
	s = p;
	while (p < e && is_tok(*p))
		p++;
	if (p != e || p == s)
		return EBADMSG;
	m->cseq = (uint32_t)v;
	m->cseq_met.p = s;
	m->cseq_met.l = (size_t)(p - s);
	return 0;
}

static bool known_ctype(const struct sipmsg_str *v)
{
	static const char *const ok[] = {
		"application/sdp", "multipart/mixed", "multipart/alternative",
		"multipart/signed", "multipart/related", "text/plain",
		"message/sip", "message/sipfrag", "application/pkcs7-mime",
		"application/pidf+xml", "application/dtmf-relay",
		"application/simple-message-summary", NULL,
	};
	size_t l = 0;

	while (l < v->l && v->p[l] != ';' && !is_ws(v->p[l]))
		l++;
	for (size_t i = 0; ok[i]; i++)
		if (strlen(ok[i]) == l && !strncasecmp(ok[i], v->p, l))
			return true;
	return false;
}

unsigned sipmsg_check(struct sipmsg *m, const char **why)
{
	static const uint8_t single[] = {SH_FROM, SH_TO, SH_CALLID, SH_CSEQ,
		SH_MAXFWD, SH_CLEN, SH_CTYPE, SH_EXPIRES};
	static const uint8_t required[] = {SH_VIA, SH_FROM, SH_TO, SH_CALLID,
		SH_CSEQ};
	const struct sipmsg_hdr *h;
	const char *w = "Bad Request";
	uint64_t v;
	int r;

	if (!m || !m->req)
		return 400;
	if (m->rl_bad) {
		w = "Bad Request Line";
		goto bad;
	}
	if (!sipmsg_eq(&m->ver, "SIP/2.0")) {
		/* SIP/x.y with digits: a version we do not speak */
		bool digits = m->ver.l > 4;

		for (size_t i = 4; i < m->ver.l; i++)
			if (!is_digit(m->ver.p[i]) && m->ver.p[i] != '.')
				digits = false;
		if (digits)
			return 505;
		w = "Bad Version";
		goto bad;
	}
	if (m->hdr_bad) {
		w = "Bad Header";
		goto bad;
	}
	for (size_t i = 0; i < sizeof(required); i++)
		if (!m->count[required[i]]) {
			w = "Missing Header";
			goto bad;
		}
	for (size_t i = 0; i < sizeof(single); i++)
		if (m->count[single[i]] > 1) {
			w = "Repeated Header";
			goto bad;
		}
	if (check_cseq(m)) {
		w = "Bad CSeq";
		goto bad;
	}
	if (m->cseq_met.l != m->met.l ||
	    memcmp(m->cseq_met.p, m->met.p, m->met.l)) {
		w = "CSeq Method Mismatch";
		goto bad;
	}
	h = sipmsg_hdr(m, SH_CALLID);
	if (!h->val.l) {
		w = "Bad Call-ID";
		goto bad;
	}
	for (size_t i = 0; i < h->val.l; i++)
		if (is_ws(h->val.p[i])) {
			w = "Bad Call-ID";
			goto bad;
		}
	m->callid = h->val;
	{
		const char *p = sipmsg_hdr(m, SH_FROM)->val.p;

		if (sipmsg_addr(&m->from, &p, p + sipmsg_hdr(m, SH_FROM)->val.l,
				false)) {
			w = "Bad From";
			goto bad;
		}
		p = sipmsg_hdr(m, SH_TO)->val.p;
		if (sipmsg_addr(&m->to, &p, p + sipmsg_hdr(m, SH_TO)->val.l,
				false)) {
			w = "Bad To";
			goto bad;
		}
	}
	if (check_via(m)) {
		w = "Bad Via";
		goto bad;
	}
	if ((h = sipmsg_hdr(m, SH_MAXFWD))) {
		if (!parse_uint(&h->val, 10, &v) || v > 255) {
			w = "Bad Max-Forwards";
			goto bad;
		}
		m->maxfwd = (int)v;
	}
	if ((h = sipmsg_hdr(m, SH_EXPIRES))) {
		if (!parse_uint(&h->val, 10, &v) || v > 0xffffffffu) {
			w = "Bad Expires";
			goto bad;
		}
		m->expires = (int64_t)v;
	}
	if ((h = sipmsg_hdr(m, SH_CLEN))) {
		if (!parse_uint(&h->val, 10, &v)) {
			w = "Bad Content-Length";
			goto bad;
		}
	}
	if (m->clen_bad) {
		w = "Content-Length Mismatch";
		goto bad;
	}
	for (size_t i = 0; i < m->n_hdr; i++) {
		const char *p, *e;
		bool star = false;
		unsigned n = 0;

		if (m->hdr[i].id != SH_CONTACT)
			continue;
		p = m->hdr[i].val.p;
		e = p + m->hdr[i].val.l;
		if (p >= e) {
			w = "Bad Contact";
			goto bad;
		}
		while (p < e) {
			struct sipmsg_addr a;

			if (sipmsg_addr(&a, &p, e, true)) {
				w = "Bad Contact";
				goto bad;
			}
			star |= a.star;
			n++;
		}
		if (star && (n > 1 || m->count[SH_CONTACT] > 1)) {
			w = "Bad Contact";
			goto bad;
		}
	}
	/* Request-URI: sip/sips only, no escaped headers */
	r = sipmsg_ruri_check(m->ruri.p, m->ruri.l);
	if (r == 416)
		return 416;
	if (r) {
		w = "Bad Request-URI";
		goto bad;
	}
	if ((h = sipmsg_hdr(m, SH_REQUIRE)) && !sipmsg_eq(&m->met, "ACK") &&
	    !sipmsg_eq(&m->met, "CANCEL")) {
		m->unsupported = h->val;
		if (h->val.l)
			return 420;
	}
	if (m->body.l) {
		h = sipmsg_hdr(m, SH_CTYPE);
		if (!h || !known_ctype(&h->val))
			return 415;
	}
	return 0;
 bad:
	if (why)
		*why = w;
	return 400;
}

int sipmsg_check_response(struct sipmsg *m)
{
	if (!m || m->req || !m->count[SH_VIA] || !m->count[SH_CSEQ] ||
	    m->count[SH_CSEQ] > 1 || m->hdr_bad)
		return EBADMSG;
	if (check_cseq(m) || check_via(m) || !m->via_branch.l)
		return EBADMSG;
	/* Call-ID, From and To, for the dialog the response may make */
	if (m->count[SH_CALLID] > 1 || m->count[SH_FROM] > 1 ||
	    m->count[SH_TO] > 1)
		return EBADMSG;
	if (m->count[SH_CALLID])
		m->callid = sipmsg_hdr(m, SH_CALLID)->val;
	if (m->count[SH_FROM]) {
		const struct sipmsg_hdr *h = sipmsg_hdr(m, SH_FROM);
		const char *p = h->val.p;

		if (sipmsg_addr(&m->from, &p, p + h->val.l, false))
			return EBADMSG;
	}
	if (m->count[SH_TO]) {
		const struct sipmsg_hdr *h = sipmsg_hdr(m, SH_TO);
		const char *p = h->val.p;

		if (sipmsg_addr(&m->to, &p, p + h->val.l, false))
			return EBADMSG;
	}
	return 0;
}

/* ---- reply writer ---------------------------------------------------- */

struct wb {
	char *p;
	size_t n, cap;
	bool over;
};

/* Bounds are checked as "l > room" so that no length, however large,
 * can wrap the sum around. */
static void put(struct wb *w, const char *s, size_t l)
{
	if (w->over || l > w->cap - w->n) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->n, s, l);
	w->n += l;
}

static void puts_(struct wb *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Header values may be folded: write them on one line. */
static void put_val(struct wb *w, const char *s, size_t l)
{
	if (w->over || l > w->cap - w->n) {
		w->over = true;
		return;
	}
	for (size_t i = 0; i < l; i++) {
		char c = s[i];

		w->p[w->n++] = (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
	}
}

/* A Via value holding a control octet other than folding (NUL,
 * 0x01-0x1f, DEL) cannot be echoed: a Via has no quoted-pair that would
 * carry one, and a response's top Via is parsed strictly by us and by
 * peers. The reply is then not written at all (found by fuzz_sip: a
 * Via with NUL octets came back in a 400 our own parser refused). A
 * quoted-pair in From/To (RFC 4475 intmeth) is echoed as before. */
static bool via_has_ctl(const struct sipmsg_hdr *v)
{
	for (size_t i = 0; i < v->val.l; i++) {
		unsigned char c = (unsigned char)v->val.p[i];

		if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') ||
		    c == 0x7f)
			return true;
	}
	return false;
}

static void put_uint(struct wb *w, uint64_t v)
{
	char b[24];
	size_t i = sizeof(b);

	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i);
	put(w, b + i, sizeof(b) - i);
}

static void put_hdr(struct wb *w, const char *name, const struct sipmsg_hdr *h)
{
	puts_(w, name);
	put_val(w, h->val.p, h->val.l);
	puts_(w, "\r\n");
}

/* The recorded top via-parm spans lie inside this Via value. */
static bool via_rewritable(const struct sipmsg *m, const struct sipmsg_hdr *v)
{
	if (!m->via_ok || m->via_top_end > v->val.l)
		return false;
	if (!m->via_rport)
		return true;
	return m->via_rport_off <= m->via_top_end &&
		m->via_rport_len <= m->via_top_end - m->via_rport_off;
}

void sipmsg_totag(const struct sipmsg *m, const char *totag_salt,
		  char tag[8])
{
	static const char hx[] = "0123456789abcdef";
	uint32_t t = hash_joaat((const uint8_t *)m->callid.p, m->callid.l);

	t ^= hash_joaat((const uint8_t *)m->from.tag.p, m->from.tag.l);
	if (totag_salt)
		t ^= hash_joaat((const uint8_t *)totag_salt,
				strlen(totag_salt));
	for (int i = 0; i < 8; i++)
		tag[i] = hx[(t >> (28 - 4 * i)) & 15];
}

size_t sipmsg_reply(const struct sipmsg *m, const struct sa *src,
		    unsigned code, const char *reason, const char *extra,
		    size_t extra_len, const char *totag_salt, char *out,
		    size_t outsz)
{
	return sipmsg_reply_body(m, src, code, reason, extra, extra_len,
				 totag_salt, NULL, NULL, 0, out, outsz);
}

size_t sipmsg_reply_body(const struct sipmsg *m, const struct sa *src,
			 unsigned code, const char *reason, const char *extra,
			 size_t extra_len, const char *totag_salt,
			 const char *ctype, const char *body, size_t blen,
			 char *out, size_t outsz)
{
	struct wb w = {out, 0, outsz, false};
	bool top = true;
	const struct sipmsg_hdr *h;

	puts_(&w, "SIP/2.0 ");
	put_uint(&w, code);
	puts_(&w, " ");
	puts_(&w, reason ? reason : "");
	puts_(&w, "\r\n");
	for (size_t i = 0; i < m->n_hdr; i++) {
		const struct sipmsg_hdr *v = &m->hdr[i];

		if (v->id != SH_VIA)
			continue;
		if (via_has_ctl(v)) {
			w.over = true;
			break;
		}
		/* A top Via that was not parsed to the end of its via-parm
		 * (the request was refused before or while checking it) is
		 * echoed unchanged: offsets into it were never set. */
		if (!top || !src || !via_rewritable(m, v)) {
			put_hdr(&w, "Via: ", v);
			top = false;
			continue;
		}
		/* RFC 3581: fill rport, add received */
		puts_(&w, "Via: ");
		if (m->via_rport) {
			put_val(&w, v->val.p, m->via_rport_off);
			put_val(&w, v->val.p + m->via_rport_off +
				m->via_rport_len, m->via_top_end -
				m->via_rport_off - m->via_rport_len);
		}
		else {
			put_val(&w, v->val.p, m->via_top_end);
		}
		{
			char ip[64];

			if (re_snprintf(ip, sizeof(ip), "%j", src) > 0) {
				puts_(&w, ";received=");
				puts_(&w, ip);
			}
		}
		if (m->via_rport) {
			puts_(&w, ";rport=");
			put_uint(&w, sa_port(src));
		}
		put_val(&w, v->val.p + m->via_top_end,
			v->val.l - m->via_top_end);
		puts_(&w, "\r\n");
		top = false;
	}
	if ((h = sipmsg_hdr(m, SH_FROM)))
		put_hdr(&w, "From: ", h);
	if ((h = sipmsg_hdr(m, SH_TO))) {
		puts_(&w, "To: ");
		put_val(&w, h->val.p, h->val.l);
		if (!m->to.tag.l && code > 100) {
			char tag[8];

			sipmsg_totag(m, totag_salt, tag);
			puts_(&w, ";tag=");
			put(&w, tag, sizeof(tag));
		}
		puts_(&w, "\r\n");
	}
	if ((h = sipmsg_hdr(m, SH_CALLID)))
		put_hdr(&w, "Call-ID: ", h);
	if ((h = sipmsg_hdr(m, SH_CSEQ)))
		put_hdr(&w, "CSeq: ", h);
	/* a response that may create a dialog (101-299 to a request
	 * outside one) copies the Record-Route values, in order (RFC 3261
	 * 12.1.1): a record-routing proxy in front of us (a trunk's) then
	 * stays in the caller's route set */
	for (size_t i = 0; code > 100 && code < 300 && !m->to.tag.l &&
	     i < m->n_hdr; i++) {
		const struct sipmsg_hdr *v = &m->hdr[i];

		if (v->name.l == 12 &&
		    !strncasecmp(v->name.p, "Record-Route", 12))
			put_hdr(&w, "Record-Route: ", v);
	}
	if (extra && extra_len)
		put(&w, extra, extra_len);
	if (body && blen && ctype) {
		puts_(&w, "Content-Type: ");
		puts_(&w, ctype);
		puts_(&w, "\r\nContent-Length: ");
		put_uint(&w, (unsigned)blen);
		puts_(&w, "\r\n\r\n");
		put(&w, body, blen);
		return w.over ? 0 : w.n;
	}
	puts_(&w, "Content-Length: 0\r\n\r\n");
	return w.over ? 0 : w.n;
}

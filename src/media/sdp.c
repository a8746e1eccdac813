/*
 * sdp — strict, bounded SDP parser and per-leg writer (API: sdp.h, rules:
 * docs/internals/sdp.md).
 *
 * One pass splits the body into lines (bounded count and length), then
 * each line is checked against RFC 4566's order and grammar and the parts
 * the B2BUA uses are decoded. Nothing is allocated; the writer copies the
 * lines it keeps from the input buffer into the caller's bounded buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "media/sdp.h"
#include "media/sdp_crypto.h"   /* srtp (issue 15) */

static const char *const rule_names[SDP_E__COUNT] = {
	[SDP_OK] = "ok",
	[SDP_E_ARG] = "bad argument",
	[SDP_E_EMPTY] = "empty description",
	[SDP_E_TOOBIG] = "description too large",
	[SDP_E_LINES] = "too many lines",
	[SDP_E_LINELEN] = "line too long",
	[SDP_E_CHAR] = "forbidden octet in line",
	[SDP_E_SYNTAX] = "line is not <type>=<value>",
	[SDP_E_TYPE] = "unknown line type",
	[SDP_E_ORDER] = "line out of order or repeated",
	[SDP_E_VERSION] = "first line must be v=0",
	[SDP_E_ORIGIN] = "o= missing or malformed",
	[SDP_E_SESSION] = "s= missing or malformed",
	[SDP_E_TIME] = "t= malformed",
	[SDP_E_CONN] = "c= malformed",
	[SDP_E_FAMILY] = "address family not served",
	[SDP_E_ADDR] = "address not a unicast numeric literal",
	[SDP_E_NOCONN] = "media without a connection address",
	[SDP_E_MEDIA] = "m= malformed",
	[SDP_E_TOOMANY] = "too many media lines",
	[SDP_E_PORT] = "port out of range or port count",
	[SDP_E_FMT] = "bad, repeated or excess payload type",
	[SDP_E_RTPMAP] = "a=rtpmap malformed or repeated",
	[SDP_E_FMTP] = "a=fmtp malformed or repeated",
	[SDP_E_DIR] = "more than one direction attribute",
	[SDP_E_RTCP] = "a=rtcp malformed",
	[SDP_E_PTIME] = "ptime out of range",
	[SDP_E_ATTR] = "a= malformed",
	[SDP_E_ANSWER] = "answer does not match the offer",
	[SDP_E_CRYPTO] = "a=crypto malformed, repeated or too many",
};

const char *sdp_rule_str(enum sdp_rule rule)
{
	if ((unsigned)rule >= SDP_E__COUNT)
		return "unknown rule";
	return rule_names[rule];
}

/* ---- small string helpers ---------------------------------------- */

static bool str_eq(struct sdp_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.l == n && !memcmp(s.p, lit, n);
}

static bool str_ieq(struct sdp_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.l == n && !strncasecmp(s.p, lit, n);
}

/* Next field separated by spaces; false at the end. */
static bool field(struct sdp_str *rest, struct sdp_str *f)
{
	const char *p = rest->p, *e = rest->p + rest->l;

	while (p < e && *p == ' ')
		p++;
	if (p == e)
		return false;
	f->p = p;
	while (p < e && *p != ' ')
		p++;
	f->l = (size_t)(p - f->p);
	rest->l = (size_t)(e - p);
	rest->p = p;
	return true;
}

static bool at_end(struct sdp_str rest)
{
	for (size_t i = 0; i < rest.l; i++)
		if (rest.p[i] != ' ')
			return false;
	return true;
}

/* Decimal digits only, at most maxd of them, value <= max. */
static bool num(struct sdp_str s, unsigned maxd, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (!s.l || s.l > maxd)
		return false;
	for (size_t i = 0; i < s.l; i++) {
		uint64_t d;

		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		d = (uint64_t)(s.p[i] - '0');
		if (x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

/* token chars of RFC 4566 (token-char minus the ones we never see) */
static bool tokchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`{|}~", c);
}

static bool token(struct sdp_str s, size_t maxl)
{
	if (!s.l || s.l > maxl)
		return false;
	for (size_t i = 0; i < s.l; i++)
		if (!s.p[i] || !tokchar(s.p[i]))
			return false;
	return true;
}

/* ---- static payload types (RFC 3551 table 4) --------------------- */

static const struct {
	uint8_t pt;
	const char *name;
	uint32_t clock;
	uint8_t ch;
} static_pts[] = {
	{0, "PCMU", 8000, 1},  {3, "GSM", 8000, 1},   {4, "G723", 8000, 1},
	{5, "DVI4", 8000, 1},  {6, "DVI4", 16000, 1}, {7, "LPC", 8000, 1},
	{8, "PCMA", 8000, 1},  {9, "G722", 8000, 1},  {10, "L16", 44100, 2},
	{11, "L16", 44100, 1}, {12, "QCELP", 8000, 1}, {13, "CN", 8000, 1},
	{14, "MPA", 90000, 1}, {15, "G728", 8000, 1}, {16, "DVI4", 11025, 1},
	{17, "DVI4", 22050, 1}, {18, "G729", 8000, 1},
};

static void pt_static(struct sdp_pt *p)
{
	p->channels = 1;
	for (size_t i = 0; i < sizeof(static_pts) / sizeof(static_pts[0]); i++)
		if (static_pts[i].pt == p->pt) {
			p->name.p = static_pts[i].name;
			p->name.l = strlen(static_pts[i].name);
			p->clock = static_pts[i].clock;
			p->channels = static_pts[i].ch;
			return;
		}
}

/* ---- addresses --------------------------------------------------- */

/* "<nettype> <addrtype> <addr>" of c= and a=rtcp (o= has its own). */
static enum sdp_rule conn_parse(struct sdp_conn *c, struct sdp_str rest,
				unsigned serve, unsigned line)
{
	struct sdp_str net, at, addr;
	char tmp[SDP_MAX_ADDR + 1];

	if (!field(&rest, &net) || !field(&rest, &at) ||
	    !field(&rest, &addr) || !at_end(rest))
		return SDP_E_CONN;
	if (!str_eq(net, "IN"))
		return SDP_E_FAMILY;
	if (str_eq(at, "IP4"))
		c->af = SDP_AF_IP4;
	else if (str_eq(at, "IP6"))
		c->af = SDP_AF_IP6;
	else
		return SDP_E_FAMILY;
	if (!(serve & (1u << c->af)))
		return SDP_E_FAMILY;
	if (addr.l > SDP_MAX_ADDR)
		return SDP_E_ADDR;
	memcpy(tmp, addr.p, addr.l);
	tmp[addr.l] = '\0';
	memset(c->ip, 0, sizeof(c->ip));
	if (inet_pton(c->af == SDP_AF_IP4 ? AF_INET : AF_INET6, tmp, c->ip) != 1)
		return SDP_E_ADDR;   /* a name, a TTL, a range, garbage */
	if (c->af == SDP_AF_IP4) {
		if (c->ip[0] >= 224)
			return SDP_E_ADDR;   /* multicast, reserved, broadcast */
		c->hold = !memcmp(c->ip, "\0\0\0\0", 4);
	} else {
		static const uint8_t zero[16];

		if (c->ip[0] == 0xff)
			return SDP_E_ADDR;   /* multicast */
		c->hold = !memcmp(c->ip, zero, 16);
	}
	c->addr = addr;
	c->set = true;
	c->line = line;
	return SDP_OK;
}

/* ---- lines ------------------------------------------------------- */

enum { SEC_SESSION = -1 };

struct pstate {
	struct sdp *sdp;
	unsigned serve;
	int sec;               /* SEC_SESSION or media index */
	int rank;              /* last line's rank in its section */
	unsigned seen;         /* letters seen once in this section (bits) */
	bool dir_set;
};

static int rank_session(char t)
{
	static const char order[] = "vosiuepcbtrzka";
	const char *p = strchr(order, t);

	return p ? (int)(p - order) : -1;
}

static int rank_media(char t)
{
	static const char order[] = "micbka";
	const char *p = strchr(order, t);

	return p ? (int)(p - order) : -1;
}

static enum sdp_rule origin(struct sdp *sdp, struct sdp_str v)
{
	struct sdp_str user, id, ver, net, at, addr;

	if (!field(&v, &user) || !field(&v, &id) || !field(&v, &ver) ||
	    !field(&v, &net) || !field(&v, &at) || !field(&v, &addr) ||
	    !at_end(v))
		return SDP_E_ORIGIN;
	if (!num(id, 20, UINT64_MAX, &sdp->sess_id) ||
	    !num(ver, 20, UINT64_MAX, &sdp->sess_ver))
		return SDP_E_ORIGIN;
	if (!str_eq(net, "IN") || (!str_eq(at, "IP4") && !str_eq(at, "IP6")) ||
	    addr.l > SDP_MAX_ADDR)
		return SDP_E_ORIGIN;
	for (size_t i = 0; i < addr.l; i++)
		if (!tokchar(addr.p[i]) && addr.p[i] != ':')
			return SDP_E_ORIGIN;
	sdp->o_user = user;
	sdp->o_addr = addr;
	return SDP_OK;
}

static enum sdp_rule times(struct sdp_str v)
{
	struct sdp_str a, b;
	uint64_t x;

	if (!field(&v, &a) || !field(&v, &b) || !at_end(v) ||
	    !num(a, 20, UINT64_MAX, &x) || !num(b, 20, UINT64_MAX, &x))
		return SDP_E_TIME;
	return SDP_OK;
}

static enum sdp_rule media_line(struct sdp_media *m, struct sdp_str v)
{
	struct sdp_str port, f;
	uint64_t x;
	struct sdp_str rest;

	if (!field(&v, &m->type) || !token(m->type, 32) || !field(&v, &port) ||
	    !field(&v, &m->protos) || m->protos.l > 32)
		return SDP_E_MEDIA;
	for (size_t i = 0; i < m->protos.l; i++)
		if (!tokchar(m->protos.p[i]) && m->protos.p[i] != '/')
			return SDP_E_MEDIA;
	if (!num(port, 5, 65535, &x))
		return SDP_E_PORT;   /* also "port/count": not served */
	m->port = (uint16_t)x;
	if (str_eq(m->type, "audio"))
		m->kind = SDP_KIND_AUDIO;
	else if (str_eq(m->type, "video"))
		m->kind = SDP_KIND_VIDEO;
	if (str_ieq(m->protos, "RTP/AVP"))
		m->proto = SDP_PROTO_RTP_AVP;
	else if (str_ieq(m->protos, "RTP/SAVP"))
		m->proto = SDP_PROTO_RTP_SAVP;
	else if (str_ieq(m->protos, "RTP/AVPF"))
		m->proto = SDP_PROTO_RTP_AVPF;
	else if (str_ieq(m->protos, "RTP/SAVPF"))
		m->proto = SDP_PROTO_RTP_SAVPF;
	/* the format list, as written, without trailing spaces */
	while (v.l && *v.p == ' ')
		v.p++, v.l--;
	while (v.l && v.p[v.l - 1] == ' ')
		v.l--;
	m->fmts = v;
	if (!v.l)
		return SDP_E_MEDIA;  /* RFC 4566: at least one format */
	rest = v;
	while (field(&rest, &f)) {
		if (m->proto == SDP_PROTO_OTHER) {
			if (!token(f, SDP_MAX_LINE))
				return SDP_E_FMT;
			continue;
		}
		if (m->n_pt == SDP_MAX_FMT || !num(f, 3, 127, &x))
			return SDP_E_FMT;
		for (size_t i = 0; i < m->n_pt; i++)
			if (m->pt[i].pt == x)
				return SDP_E_FMT;
		m->pt[m->n_pt].pt = (uint8_t)x;
		pt_static(&m->pt[m->n_pt]);
		m->n_pt++;
	}
	return SDP_OK;
}

static struct sdp_pt *pt_find(struct sdp_media *m, uint64_t pt)
{
	for (size_t i = 0; i < m->n_pt; i++)
		if (m->pt[i].pt == pt)
			return &m->pt[i];
	return NULL;
}

/* "<pt> <rest>" of rtpmap, fmtp, rtcp-fb; pt "*" gives 128. */
static bool attr_pt(struct sdp_str v, uint64_t *pt, struct sdp_str *rest)
{
	struct sdp_str f;

	*rest = v;
	if (!field(rest, &f))
		return false;
	if (f.l == 1 && *f.p == '*') {
		*pt = 128;
		return true;
	}
	return num(f, 3, 127, pt);
}

static enum sdp_rule rtpmap(struct sdp_media *m, struct sdp_str v)
{
	struct sdp_str rest, enc, name, clock, ch = {0};
	struct sdp_pt *p;
	uint64_t pt, x;
	const char *s, *e;

	if (!attr_pt(v, &pt, &rest) || pt > 127 || !field(&rest, &enc) ||
	    !at_end(rest))
		return SDP_E_RTPMAP;
	/* name/clock[/channels] */
	s = enc.p;
	e = enc.p + enc.l;
	name.p = s;
	while (s < e && *s != '/')
		s++;
	name.l = (size_t)(s - name.p);
	if (s == e)
		return SDP_E_RTPMAP;
	clock.p = ++s;
	while (s < e && *s != '/')
		s++;
	clock.l = (size_t)(s - clock.p);
	if (s < e) {
		ch.p = s + 1;
		ch.l = (size_t)(e - ch.p);
	}
	if (!token(name, 32) || !num(clock, 7, 1000000, &x) || !x)
		return SDP_E_RTPMAP;
	p = pt_find(m, pt);
	if (!p)
		return SDP_OK;   /* not offered: ignored, never written */
	if (p->rtpmap)
		return SDP_E_RTPMAP;
	p->rtpmap = true;
	p->name = name;
	p->clock = (uint32_t)x;
	p->channels = 1;
	if (ch.p) {
		if (!num(ch, 2, 16, &x) || !x)
			return SDP_E_RTPMAP;
		p->channels = (uint8_t)x;
	}
	return SDP_OK;
}

static enum sdp_rule fmtp(struct sdp_media *m, struct sdp_str v)
{
	struct sdp_str rest;
	struct sdp_pt *p;
	uint64_t pt;

	if (!attr_pt(v, &pt, &rest) || pt > 127)
		return SDP_E_FMTP;
	while (rest.l && *rest.p == ' ')
		rest.p++, rest.l--;
	p = pt_find(m, pt);
	if (!p)
		return SDP_OK;
	if (p->fmtp.p)
		return SDP_E_FMTP;
	p->fmtp = rest;
	if (!rest.l)
		p->fmtp.p = v.p + v.l;   /* set, empty */
	return SDP_OK;
}

static enum sdp_rule ms(struct sdp_str v, uint16_t *out)
{
	uint64_t x;
	struct sdp_str i = v;

	/* "20" or "20.0": the fraction is ignored */
	for (size_t k = 0; k < v.l; k++)
		if (v.p[k] == '.') {
			struct sdp_str fr = {v.p + k + 1, v.l - k - 1};

			i.l = k;
			if (fr.l && !num(fr, 3, 999, &x))
				return SDP_E_PTIME;
			break;
		}
	if (!num(i, 4, 1000, &x) || !x)
		return SDP_E_PTIME;
	*out = (uint16_t)x;
	return SDP_OK;
}

static bool is_ice(struct sdp_str name)
{
	static const char *const ice[] = {
		"candidate", "ice-ufrag", "ice-pwd", "ice-options", "ice-lite",
		"ice-mismatch", "remote-candidates", "end-of-candidates",
		"ice-pacing",
	};

	for (size_t i = 0; i < sizeof(ice) / sizeof(ice[0]); i++)
		if (str_eq(name, ice[i]))
			return true;
	return false;
}

static enum sdp_dir dir_of(struct sdp_str name)
{
	if (str_eq(name, "sendrecv"))
		return SDP_DIR_SENDRECV;
	if (str_eq(name, "sendonly"))
		return SDP_DIR_SENDONLY;
	if (str_eq(name, "recvonly"))
		return SDP_DIR_RECVONLY;
	if (str_eq(name, "inactive"))
		return SDP_DIR_INACTIVE;
	return SDP_DIR_NONE;
}

/* Split "name[:value]". */
static bool attr_split(struct sdp_str v, struct sdp_str *name,
		       struct sdp_str *val, bool *has_val)
{
	size_t i = 0;

	while (i < v.l && v.p[i] != ':')
		i++;
	name->p = v.p;
	name->l = i;
	*has_val = i < v.l;
	val->p = v.p + (i < v.l ? i + 1 : i);
	val->l = i < v.l ? v.l - i - 1 : 0;
	return token(*name, 64);
}

static enum sdp_rule attribute(struct pstate *ps, struct sdp_str v,
			       unsigned line)
{
	struct sdp *sdp = ps->sdp;
	struct sdp_media *m = ps->sec >= 0 ? &sdp->media[ps->sec] : NULL;
	struct sdp_str name, val;
	bool has_val;
	enum sdp_dir d;

	if (!attr_split(v, &name, &val, &has_val))
		return SDP_E_ATTR;
	d = dir_of(name);
	if (d != SDP_DIR_NONE) {
		if (has_val || ps->dir_set)
			return SDP_E_DIR;
		ps->dir_set = true;
		/* by section, not by m: the analyzer reads a NULL m as a
		 * NULL sdp */
		if (ps->sec >= 0)
			sdp->media[ps->sec].dir = d;
		else
			sdp->dir = d;
		return SDP_OK;
	}
	if (is_ice(name)) {
		if (m)
			m->ice = true;
		return SDP_OK;
	}
	if (!m) {
		/* payload attributes mean nothing before the first m= */
		if (str_eq(name, "rtpmap") || str_eq(name, "fmtp"))
			return SDP_E_ORDER;
		return SDP_OK;
	}
	if (str_eq(name, "rtcp-mux")) {
		m->rtcp_mux = true;
		return SDP_OK;
	}
	if (str_eq(name, "ptime"))
		return m->ptime ? SDP_E_PTIME : ms(val, &m->ptime);
	if (str_eq(name, "maxptime"))
		return m->maxptime ? SDP_E_PTIME : ms(val, &m->maxptime);
	if (str_eq(name, "rtcp")) {
		struct sdp_str port;
		struct sdp_conn c = {0};
		uint64_t x;

		if (m->rtcp_port || !field(&val, &port) ||
		    !num(port, 5, 65535, &x) || !x)
			return SDP_E_RTCP;
		m->rtcp_port = (uint16_t)x;
		if (at_end(val))
			return SDP_OK;
		/* the address is checked like c= (family, literal) */
		return conn_parse(&c, val, ps->serve, line);
	}
	if (m->proto == SDP_PROTO_OTHER)
		return SDP_OK;   /* not ours to read: kept, never relayed */
	if (str_eq(name, "rtpmap"))
		return rtpmap(m, val);
	if (str_eq(name, "fmtp"))
		return fmtp(m, val);
	if (str_eq(name, "crypto"))           /* srtp (issue 15) */
		return sdp_crypto_attr(m, val);
	return SDP_OK;
}

static enum sdp_rule line_check(struct pstate *ps, char t, struct sdp_str v,
				unsigned idx)
{
	struct sdp *sdp = ps->sdp;
	unsigned line = idx + 1;
	int r;

	if (idx == 0)
		return t == 'v' && str_eq(v, "0") ? SDP_OK : SDP_E_VERSION;
	if (idx == 1 && t != 'o')
		return SDP_E_ORIGIN;
	if (idx == 2 && t != 's')
		return SDP_E_SESSION;
	if (t == 'm') {
		struct sdp_media *m;

		if (sdp->n_media == SDP_MAX_MEDIA)
			return SDP_E_TOOMANY;
		m = &sdp->media[sdp->n_media];
		memset(m, 0, sizeof(*m));
		m->line = line;
		m->first = m->last = idx;
		ps->sec = (int)sdp->n_media++;
		ps->rank = 0;
		ps->seen = 1u << ('m' - 'a');
		ps->dir_set = false;
		return media_line(m, v);
	}
	r = ps->sec == SEC_SESSION ? rank_session(t) : rank_media(t);
	if (r < 0)
		return strchr("vosiuepcbtrzkam", t) ? SDP_E_ORDER : SDP_E_TYPE;
	/* non-decreasing rank; t= may follow r= (several time blocks) */
	if (r < ps->rank && !(t == 't' && ps->rank == rank_session('r')))
		return SDP_E_ORDER;
	if (t == 'r' && ps->rank < rank_session('t'))
		return SDP_E_ORDER;
	if (strchr("vosiuczk", t)) {
		unsigned bit = 1u << (t - 'a');

		if (ps->seen & bit)
			return t == 'c' ? SDP_E_CONN : SDP_E_ORDER;
		ps->seen |= bit;
	}
	ps->rank = r;
	if (ps->sec >= 0)
		sdp->media[ps->sec].last = idx;
	switch (t) {
	case 'o':
		return origin(sdp, v);
	case 's':
		return v.l ? SDP_OK : SDP_E_SESSION;
	case 't':
		return times(v);
	case 'c':
		return conn_parse(ps->sec >= 0 ? &sdp->media[ps->sec].conn :
				  &sdp->conn, v, ps->serve, line);
	case 'a':
		return attribute(ps, v, line);
	default:
		return SDP_OK;   /* i u e p b r z k: kept as written */
	}
}

static int fail(struct sdp_err *err, enum sdp_rule rule, unsigned line,
		char type)
{
	if (err) {
		err->rule = rule;
		err->line = line;
		err->type = type;
	}
	return rule == SDP_E_ARG ? EINVAL : EBADMSG;
}

int sdp_parse(struct sdp *sdp, const char *buf, size_t len, unsigned serve,
	      struct sdp_err *err)
{
	struct pstate ps = {.sdp = sdp, .serve = serve, .sec = SEC_SESSION,
			    .seen = 0};
	size_t off = 0;
	enum sdp_rule r;

	if (err)
		*err = (struct sdp_err){0};
	if (!sdp || (!buf && len))
		return fail(err, SDP_E_ARG, 0, 0);
	/* media entries are cleared as their m= line comes */
	memset(sdp, 0, offsetof(struct sdp, media));
	sdp->n_lines = 0;
	sdp->buf = buf;
	sdp->len = len;
	if (!len)
		return fail(err, SDP_E_EMPTY, 0, 0);
	if (len > SDP_MAX_LEN)
		return fail(err, SDP_E_TOOBIG, 0, 0);
	while (off < len) {
		const char *p = buf + off, *nl = memchr(p, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - p) : len - off;
		size_t next = off + ll + (nl ? 1 : 0);
		unsigned idx = (unsigned)sdp->n_lines;
		struct sdp_str v;
		char t;

		if (ll && p[ll - 1] == '\r')
			ll--;
		if (!ll) {
			/* blank lines are allowed only at the very end */
			for (size_t k = off; k < len; k++)
				if (buf[k] != '\r' && buf[k] != '\n')
					return fail(err, SDP_E_SYNTAX,
						    idx + 1, 0);
			break;
		}
		if (sdp->n_lines == SDP_MAX_LINES)
			return fail(err, SDP_E_LINES, idx + 1, 0);
		t = p[0];
		if (ll > SDP_MAX_LINE)
			return fail(err, SDP_E_LINELEN, idx + 1,
				    t >= 'a' && t <= 'z' ? t : 0);
		for (size_t k = 0; k < ll; k++) {
			unsigned char c = (unsigned char)p[k];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return fail(err, SDP_E_CHAR, idx + 1,
					    t >= 'a' && t <= 'z' ? t : 0);
		}
		if (ll < 2 || p[1] != '=')
			return fail(err, SDP_E_SYNTAX, idx + 1, 0);
		if (t < 'a' || t > 'z')
			return fail(err, SDP_E_TYPE, idx + 1, 0);
		sdp->loff_len[idx][0] = (uint16_t)off;
		sdp->loff_len[idx][1] = (uint16_t)ll;
		sdp->n_lines++;
		v.p = p + 2;
		v.l = ll - 2;
		r = line_check(&ps, t, v, idx);
		if (r != SDP_OK)
			return fail(err, r, idx + 1, t);
		off = next;
	}
	if (sdp->n_lines < 3)
		return fail(err, sdp->n_lines < 2 ? SDP_E_ORIGIN :
			    SDP_E_SESSION, 0, 0);
	for (size_t i = 0; i < sdp->n_media; i++) {
		const struct sdp_media *m = &sdp->media[i];

		if (m->port && !m->conn.set && !sdp->conn.set)
			return fail(err, SDP_E_NOCONN, m->line, 'm');
	}
	return 0;
}

enum sdp_dir sdp_media_dir(const struct sdp *sdp, size_t i)
{
	if (!sdp || i >= sdp->n_media)
		return SDP_DIR_NONE;
	if (sdp->media[i].dir != SDP_DIR_NONE)
		return sdp->media[i].dir;
	if (sdp->dir != SDP_DIR_NONE)
		return sdp->dir;
	return SDP_DIR_SENDRECV;
}

const struct sdp_conn *sdp_media_conn(const struct sdp *sdp, size_t i)
{
	if (!sdp || i >= sdp->n_media)
		return NULL;
	if (sdp->media[i].conn.set)
		return &sdp->media[i].conn;
	return sdp->conn.set ? &sdp->conn : NULL;
}

bool sdp_media_held(const struct sdp *sdp, size_t i)
{
	const struct sdp_conn *c = sdp_media_conn(sdp, i);
	enum sdp_dir d = sdp_media_dir(sdp, i);

	return d == SDP_DIR_SENDONLY || d == SDP_DIR_INACTIVE ||
	       (c && c->hold);
}

bool sdp_media_relayable(const struct sdp *sdp, size_t i)
{
	if (!sdp || i >= sdp->n_media)
		return false;
	return sdp->media[i].kind == SDP_KIND_AUDIO &&
	       sdp->media[i].proto != SDP_PROTO_OTHER && sdp->media[i].port;
}

/* ---- answers ----------------------------------------------------- */

/* The answer's payload type a was offered as o: same number, and the
 * same encoding and clock when both name one (a static type may be
 * answered without its rtpmap). */
static bool pt_answers(const struct sdp_pt *a, const struct sdp_pt *o)
{
	if (a->pt != o->pt)
		return false;
	if (!a->name.l || !o->name.l)
		return true;
	return a->name.l == o->name.l &&
	       !strncasecmp(a->name.p, o->name.p, a->name.l) &&
	       a->clock == o->clock;
}

int sdp_answer_check(const struct sdp *offer, const struct sdp *answer,
		     struct sdp_err *err)
{
	if (err)
		*err = (struct sdp_err){0};
	if (!offer || !answer)
		return fail(err, SDP_E_ARG, 0, 0);
	if (offer->n_media != answer->n_media)
		return fail(err, SDP_E_ANSWER, 0, 0);
	for (size_t i = 0; i < answer->n_media; i++) {
		const struct sdp_media *o = &offer->media[i];
		const struct sdp_media *a = &answer->media[i];

		if (a->type.l != o->type.l ||
		    memcmp(a->type.p, o->type.p, a->type.l) ||
		    a->protos.l != o->protos.l ||
		    strncasecmp(a->protos.p, o->protos.p, a->protos.l) ||
		    (!o->port && a->port))
			return fail(err, SDP_E_ANSWER, a->line, 'm');
		if (!a->port || a->proto == SDP_PROTO_OTHER)
			continue;
		for (size_t k = 0; k < a->n_pt; k++) {
			bool found = false;

			for (size_t j = 0; j < o->n_pt && !found; j++)
				found = pt_answers(&a->pt[k], &o->pt[j]);
			if (!found)
				return fail(err, SDP_E_ANSWER, a->line, 'm');
		}
	}
	return 0;
}

/* ---- payload type sets and codec intersection -------------------- */

void sdp_ptset_clear(struct sdp_ptset *s)
{
	s->bits[0] = s->bits[1] = 0;
}

void sdp_ptset_add(struct sdp_ptset *s, unsigned pt)
{
	if (pt < 128)
		s->bits[pt / 64] |= 1ull << (pt % 64);
}

bool sdp_ptset_has(const struct sdp_ptset *s, unsigned pt)
{
	return pt < 128 && (s->bits[pt / 64] >> (pt % 64)) & 1;
}

size_t sdp_ptset_count(const struct sdp_ptset *s)
{
	return (size_t)(__builtin_popcountll(s->bits[0]) +
			__builtin_popcountll(s->bits[1]));
}

/* "NAME[/clock[/channels]]" against one payload type. */
static bool codec_match(const char *spec, const struct sdp_pt *p)
{
	const char *slash = strchr(spec, '/');
	size_t nl = slash ? (size_t)(slash - spec) : strlen(spec);
	unsigned long clock, ch;
	char *end;

	if (!p->name.l || p->name.l != nl ||
	    strncasecmp(spec, p->name.p, nl))
		return false;
	if (!slash)
		return true;
	clock = strtoul(slash + 1, &end, 10);
	if (clock != p->clock)
		return false;
	if (*end != '/')
		return !*end;
	ch = strtoul(end + 1, &end, 10);
	return !*end && ch == p->channels;
}

int sdp_codecs_intersect(const struct sdp *sdp, size_t i,
			 const struct sdp_codecs *allow, bool dtmf,
			 struct sdp_ptset *out)
{
	const struct sdp_media *m;
	size_t audio = 0;

	if (!sdp || !allow || !out || i >= sdp->n_media ||
	    allow->n > SDP_MAX_CODECS)
		return EINVAL;
	sdp_ptset_clear(out);
	m = &sdp->media[i];
	if (m->proto == SDP_PROTO_OTHER)
		return EINVAL;
	for (size_t k = 0; k < m->n_pt; k++) {
		const struct sdp_pt *p = &m->pt[k];

		if (str_ieq(p->name, "telephone-event")) {
			if (dtmf)
				sdp_ptset_add(out, p->pt);
			continue;
		}
		for (size_t a = 0; a < allow->n; a++)
			if (allow->name[a] && codec_match(allow->name[a], p)) {
				sdp_ptset_add(out, p->pt);
				audio++;
				break;
			}
	}
	if (!audio) {
		sdp_ptset_clear(out);
		return ENOENT;
	}
	return 0;
}

/* ---- the per-leg writer ------------------------------------------ */

int sdp_leg_init(struct sdp_leg *leg)
{
	if (!leg)
		return EINVAL;
	if (sodium_init() < 0)
		return EIO;
	memset(leg, 0, sizeof(*leg));
	randombytes_buf(&leg->sess_id, sizeof(leg->sess_id));
	/* fits a signed 63-bit integer and is never 0: kind to peers */
	leg->sess_id = (leg->sess_id >> 2) + 1;
	leg->version = 1;
	randombytes_buf(leg->key, sizeof(leg->key));
	return 0;
}

struct wbuf {
	char *p;
	size_t size, len;
	bool over;
};

static void w_mem(struct wbuf *w, const char *s, size_t n)
{
	if (w->over || n > w->size - w->len) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

__attribute__((format(printf, 2, 3)))
static void w_fmt(struct wbuf *w, const char *fmt, ...)
{
	char tmp[SDP_MAX_LINE + 8];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		w->over = true;
		return;
	}
	w_mem(w, tmp, (size_t)n);
}

static struct sdp_str line_at(const struct sdp *sdp, size_t idx)
{
	struct sdp_str s = {sdp->buf + sdp->loff_len[idx][0],
			    sdp->loff_len[idx][1]};

	return s;
}

static void w_line(struct wbuf *w, struct sdp_str s)
{
	w_mem(w, s.p, s.l);
	w_mem(w, "\r\n", 2);
}

static bool pt_kept(const struct sdp_media *m, const struct sdp_ptset *pts,
		    uint64_t pt)
{
	for (size_t i = 0; i < m->n_pt; i++)
		if (m->pt[i].pt == pt)
			return !pts || sdp_ptset_has(pts, (unsigned)pt);
	return false;
}

static bool is_dir(struct sdp_str name)
{
	return str_eq(name, "sendrecv") || str_eq(name, "sendonly") ||
	       str_eq(name, "recvonly") || str_eq(name, "inactive");
}

static void w_conn(struct wbuf *w, const struct sdp_rewrite *rw, bool hold)
{
	const char *at = rw->af == SDP_AF_IP6 ? "IP6" : "IP4";

	if (hold && !rw->sendrecv)
		w_fmt(w, "c=IN %s %s\r\n", at,
		      rw->af == SDP_AF_IP6 ? "::" : "0.0.0.0");
	else
		w_fmt(w, "c=IN %s %s\r\n", at, rw->addr);
}

/* Attributes never written at either level: ICE (candidates name the
 * phone's own addresses: media would bypass the relay), the phone's
 * SSRC/stream description and tool, BUNDLE (the peer
 * could move every media onto one port the relay did not give it for
 * that), rtcp-mux unless the relay demuxes. */
static bool dropped(struct sdp_str name, struct sdp_str val,
		    const struct sdp_rewrite *rw)
{
	struct sdp_str sem;

	if (is_ice(name))
		return true;
	if (str_eq(name, "crypto"))   /* srtp: never a leg's key to another */
		return true;
	/* what a phone says of itself that the other side has no use for:
	 * SSRC and stream attributes (their CNAME names the phone's own
	 * address, sip:201@10.0.0.7:5060) and its tool */
	if (str_eq(name, "ssrc") || str_eq(name, "ssrc-group") ||
	    str_eq(name, "msid") || str_eq(name, "msid-semantic") ||
	    str_eq(name, "tool") || str_eq(name, "label"))
		return true;
	if (str_eq(name, "rtcp-mux"))
		return !rw->rtcp_mux;
	return str_eq(name, "group") && field(&val, &sem) &&
	       str_eq(sem, "BUNDLE");
}

/* One line of the session part; idx > 1 (v= and o= are written apart). */
static void w_session(struct wbuf *w, const struct sdp *in,
		      const struct sdp_rewrite *rw, size_t idx)
{
	struct sdp_str l = line_at(in, idx), v = {l.p + 2, l.l - 2};
	struct sdp_str name, val;
	bool has_val;

	switch (l.p[0]) {
	case 'c':
		w_conn(w, rw, in->conn.hold);
		return;
	case 'a':
		attr_split(v, &name, &val, &has_val);
		if (str_eq(name, "rtcp") || dropped(name, val, rw) ||
		    (rw->sendrecv && is_dir(name)))
			return;
		break;
	default:
		break;
	}
	w_line(w, l);
}

static void w_media(struct wbuf *w, const struct sdp *in,
		    const struct sdp_rewrite *rw, size_t j)
{
	const struct sdp_media *m = &in->media[j];
	const struct sdp_ptset *pts = rw->media[j].pts;
	uint16_t port = rw->media[j].port;
	uint16_t rtcp = rw->media[j].rtcp_port ? rw->media[j].rtcp_port :
			(uint16_t)(port + 1);
	bool rtcp_done = false;

	if (!port) {
		/* rejected (RFC 3264 §6): port 0, formats as offered, no
		 * attributes */
		w_fmt(w, "m=%.*s 0 %.*s %.*s\r\n", (int)m->type.l, m->type.p,
		      (int)m->protos.l, m->protos.p, (int)m->fmts.l,
		      m->fmts.p);
		return;
	}
	w_fmt(w, "m=%.*s %u %s", (int)m->type.l, m->type.p, port,
	      sdp_crypto_proto(m->proto, rw->crypto != NULL));
	for (size_t k = 0; k < m->n_pt; k++)
		if (pt_kept(m, pts, m->pt[k].pt))
			w_fmt(w, " %u", m->pt[k].pt);
	w_mem(w, "\r\n", 2);
	if (rw->sendrecv && rw->dir)
		w_fmt(w, "a=%s\r\n", rw->dir);
	for (size_t idx = m->first + 1; idx <= m->last; idx++) {
		struct sdp_str l = line_at(in, idx), v = {l.p + 2, l.l - 2};
		struct sdp_str name, val, rest;
		bool has_val;
		uint64_t pt;

		if (l.p[0] == 'c') {
			w_conn(w, rw, m->conn.hold);
			continue;
		}
		if (l.p[0] != 'a') {
			w_line(w, l);
			continue;
		}
		attr_split(v, &name, &val, &has_val);
		if (dropped(name, val, rw) || (rw->sendrecv && is_dir(name)))
			continue;
		if (str_eq(name, "rtcp")) {
			w_fmt(w, "a=rtcp:%u\r\n", rtcp);
			rtcp_done = true;
			continue;
		}
		if ((str_eq(name, "rtpmap") || str_eq(name, "fmtp") ||
		     str_eq(name, "rtcp-fb")) && attr_pt(val, &pt, &rest) &&
		    pt < 128 && !pt_kept(m, pts, pt))
			continue;
		if ((str_eq(name, "rtpmap") || str_eq(name, "fmtp")) &&
		    !attr_pt(val, &pt, &rest))
			continue;   /* cannot happen after a parse */
		w_line(w, l);
	}
	if (!rtcp_done && rtcp != (uint16_t)(port + 1))
		w_fmt(w, "a=rtcp:%u\r\n", rtcp);
	if (rw->crypto)          /* srtp (issue 15): after c=, b=, last */
		w_fmt(w, "a=crypto:%s\r\n", rw->crypto);
}

int sdp_rewrite(char *out, size_t size, size_t *outlen, const struct sdp *in,
		const struct sdp_rewrite *rw, struct sdp_leg *leg)
{
	struct wbuf w = {.p = out, .size = size};
	uint8_t ip[16];
	char oline[128];
	uint64_t h, ver;
	size_t vlen, first_media, lines = 0;
	int n;

	if (!out || !outlen || !in || !rw || !leg || !rw->addr ||
	    in->n_lines < 3 || in->n_media > SDP_MAX_MEDIA ||
	    (rw->af != SDP_AF_IP4 && rw->af != SDP_AF_IP6) ||
	    strlen(rw->addr) > SDP_MAX_ADDR ||
	    inet_pton(rw->af == SDP_AF_IP4 ? AF_INET : AF_INET6, rw->addr,
		      ip) != 1)
		return EINVAL;
	for (size_t j = 0; j < in->n_media; j++) {
		const struct sdp_media *m = &in->media[j];
		size_t kept = 0;

		if (!rw->media[j].port)
			continue;
		/* RTP on 65535 would put RTCP on port 0 */
		if (m->proto == SDP_PROTO_OTHER ||
		    (rw->media[j].port == 65535 && !rw->media[j].rtcp_port))
			return EINVAL;
		for (size_t k = 0; k < m->n_pt; k++)
			kept += pt_kept(m, rw->media[j].pts, m->pt[k].pt);
		if (!kept)
			return EINVAL;
	}
	w_line(&w, line_at(in, 0));                 /* v=0 */
	vlen = w.len;
	first_media = in->n_media ? in->media[0].first : in->n_lines;
	for (size_t idx = 2; idx < first_media; idx++)
		w_session(&w, in, rw, idx);
	for (size_t j = 0; j < in->n_media; j++)
		w_media(&w, in, rw, j);
	if (w.over)
		return ENOSPC;
	/* what we write must parse again: the input bounds hold for it */
	for (size_t k = 0; k < w.len; k++)
		lines += out[k] == '\n';
	if (lines + 1 > SDP_MAX_LINES)
		return E2BIG;
	/* the version moves only when what we write moves */
	crypto_shorthash((unsigned char *)&h, (const unsigned char *)out,
			 w.len, leg->key);
	ver = leg->version + (leg->written && h != leg->last);
	n = snprintf(oline, sizeof(oline), "o=- %llu %llu IN %s %s\r\n",
		     (unsigned long long)leg->sess_id, (unsigned long long)ver,
		     rw->af == SDP_AF_IP6 ? "IP6" : "IP4", rw->addr);
	if (n < 0 || (size_t)n >= sizeof(oline) || (size_t)n > size - w.len)
		return ENOSPC;
	if (w.len + (size_t)n > SDP_MAX_LEN)
		return E2BIG;
	memmove(out + vlen + (size_t)n, out + vlen, w.len - vlen);
	memcpy(out + vlen, oline, (size_t)n);
	*outlen = w.len + (size_t)n;
	leg->version = ver;
	leg->last = h;
	leg->written = true;
	return 0;
}

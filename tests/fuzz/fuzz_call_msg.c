/*
 * fuzz_call_msg — the call harness's phones: what each learns from the
 * messages the daemon sends it (tags, Via, Call-ID, CSeq, nonces), and
 * the writer of the script's messages, whose placeholders take those
 * values so that a fuzzed dialogue gets past authentication and into a
 * live call (tests/fuzz/README.md lists them).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "fuzz_call.h"

/* ---- learning ----------------------------------------------------------- */

static void keep(char *dst, size_t sz, const char *p, size_t l)
{
	if (l >= sz)
		l = sz - 1;
	if (l)
		memcpy(dst, p, l);
	dst[l] = '\0';
}

#define KEEP(f, s) keep(f, sizeof(f), (s).p, (s).l)

static const struct sipmsg_hdr *named(const struct sipmsg *m,
				      const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < m->n_hdr; i++)
		if (m->hdr[i].name.l == n &&
		    !strncasecmp(m->hdr[i].name.p, name, n))
			return &m->hdr[i];
	return NULL;
}

/* nonce="..." of a challenge header. */
static void nonce_of(char *dst, size_t sz, const struct sipmsg_hdr *h)
{
	const char *p, *e, *q;

	if (!h)
		return;
	e = h->val.p + h->val.l;
	for (p = h->val.p; p + 7 <= e; p++) {
		if (strncasecmp(p, "nonce=\"", 7))
			continue;
		p += 7;
		q = memchr(p, '"', (size_t)(e - p));
		if (q)
			keep(dst, sz, p, (size_t)(q - p));
		return;
	}
}

static void contact_of(struct fc_seen *s, const struct sipmsg *m)
{
	const struct sipmsg_hdr *h = sipmsg_hdr(m, SH_CONTACT);
	struct sipmsg_addr a;
	const char *p;

	if (!h)
		return;
	p = h->val.p;
	if (!sipmsg_addr(&a, &p, h->val.p + h->val.l, true))
		KEEP(s->contact, a.uri);
}

void fc_learn(struct fc_seen *s, const struct sipmsg *m)
{
	const struct sipmsg_hdr *h;

	if (m->req || sipmsg_eq(&m->cseq_met, "INVITE"))
		contact_of(s, m);
	if (!m->req) {
		KEEP(s->rtag, m->to.tag);
		if (m->scode == 401)
			nonce_of(s->nonce401, sizeof(s->nonce401),
				 named(m, "WWW-Authenticate"));
		if (m->scode == 407)
			nonce_of(s->nonce407, sizeof(s->nonce407),
				 named(m, "Proxy-Authenticate"));
		if (m->scode > 100 && m->scode < 300 && m->to.tag.l &&
		    sipmsg_eq(&m->cseq_met, "INVITE"))
			KEEP(s->tag, m->to.tag);
		return;
	}
	if (sipmsg_eq(&m->met, "ACK"))
		return;
	h = sipmsg_hdr(m, SH_VIA);
	if (h)
		KEEP(s->via, h->val);
	KEEP(s->branch, m->via_branch);
	KEEP(s->callid, m->callid);
	snprintf(s->cseq, sizeof(s->cseq), "%u", m->cseq);
	KEEP(s->method, m->met);
	h = sipmsg_hdr(m, SH_FROM);
	if (h)
		KEEP(s->from, h->val);
	h = sipmsg_hdr(m, SH_TO);
	if (h)
		KEEP(s->to, h->val);
	KEEP(s->tag, m->from.tag);
}

/* ---- writing ------------------------------------------------------------ */

struct wr {
	char *p;
	size_t n, cap;
};

static void put(struct wr *w, const char *s, size_t l)
{
	if (l > w->cap - w->n)
		l = w->cap - w->n;
	memcpy(w->p + w->n, s, l);
	w->n += l;
}

static void puts_(struct wr *w, const char *s)
{
	put(w, s, strlen(s));
}

static bool tokch(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static const struct {
	const char *name;
	size_t off;
} fields[] = {
	{ "TAG", offsetof(struct fc_seen, tag) },
	{ "RTAG", offsetof(struct fc_seen, rtag) },
	{ "VIA", offsetof(struct fc_seen, via) },
	{ "BRANCH", offsetof(struct fc_seen, branch) },
	{ "CALLID", offsetof(struct fc_seen, callid) },
	{ "CSEQ", offsetof(struct fc_seen, cseq) },
	{ "METHOD", offsetof(struct fc_seen, method) },
	{ "FROM", offsetof(struct fc_seen, from) },
	{ "TO", offsetof(struct fc_seen, to) },
	{ "CONTACT", offsetof(struct fc_seen, contact) },
};

/* $<peer><FIELD>: a value the daemon sent that phone ($BTAG...). */
static const char *learnt(const struct fc_seen *seen, const char *t,
			  size_t l)
{
	static const char peers[] = "ABCX";
	const char *pp = l ? memchr(peers, t[0], FC_PEERS) : NULL;

	if (!pp)
		return NULL;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i].name) == l - 1 &&
		    !memcmp(fields[i].name, t + 1, l - 1))
			return (const char *)&seen[pp - peers] +
				fields[i].off;
	return NULL;
}

/* Pass 1: learnt values and "$REP<n> rest of line" (the rest, its LF
 * included, n times); $AUTH, $CL and unknown names stay. */
static void expand(struct wr *w, const char *in, size_t len,
		   const struct fc_seen *seen)
{
	size_t i = 0;

	while (i < len && w->n < w->cap) {
		size_t t = i + 1, l;
		const char *v;

		if (in[i] != '$') {
			put(w, &in[i++], 1);
			continue;
		}
		while (t < len && tokch(in[t]))
			t++;
		l = t - i - 1;
		if (l > 3 && !memcmp(in + i + 1, "REP", 3) && t < len &&
		    in[t] == ' ') {
			unsigned long n = strtoul(in + i + 4, NULL, 10);
			const char *s = in + t + 1;
			const char *e = memchr(s, '\n', len - (t + 1));
			size_t sl = e ? (size_t)(e + 1 - s) : len - (t + 1);

			if (n > 100000)
				n = 100000;
			while (n-- && sl && w->n < w->cap)
				put(w, s, sl);
			i = t + 1 + sl;
			continue;
		}
		v = learnt(seen, in + i + 1, l);
		if (v)
			puts_(w, v);
		else
			put(w, in + i, t - i);
		i = t;
	}
}

/* Pass 2: a bare LF becomes CRLF (the seeds are written with LF). */
static void crlf(struct wr *w, const char *in, size_t len)
{
	for (size_t i = 0; i < len && w->n < w->cap; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			put(w, "\r", 1);
		put(w, &in[i], 1);
	}
}

static bool at_token(const char *in, size_t len, size_t i, const char *tok)
{
	size_t l = strlen(tok);

	return i + l <= len && !memcmp(in + i, tok, l) &&
		(i + l == len || !tokch(in[i + l]));
}

/* The Authorization (REGISTER) or Proxy-Authorization header line of a
 * phone for the request whose start line is at in, without its CRLF. */
static void auth_line(struct wr *w, const char *in, size_t len,
		      const struct fc_seen *me, const struct fc_cred *cred,
		      uint32_t *nc)
{
	const char *sp1 = memchr(in, ' ', len), *sp2;
	char method[32], uri[1024], ncs[9], cnonce[16], resp[65], line[1536];
	const char *nonce;
	struct auth_cred c;
	bool reg;

	if (!sp1 || sp1 == in || (size_t)(sp1 - in) >= sizeof(method))
		return;
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - in));
	if (!sp2 || (size_t)(sp2 - sp1 - 1) >= sizeof(uri))
		return;
	keep(method, sizeof(method), in, (size_t)(sp1 - in));
	keep(uri, sizeof(uri), sp1 + 1, (size_t)(sp2 - sp1 - 1));
	reg = !strcmp(method, "REGISTER");
	nonce = reg ? me->nonce401 : me->nonce407;
	snprintf(ncs, sizeof(ncs), "%08x", ++*nc);
	snprintf(cnonce, sizeof(cnonce), "fc%s", ncs);
	memset(&c, 0, sizeof(c));
	c.nonce.p = nonce;
	c.nonce.l = strlen(nonce);
	c.uri.p = uri;
	c.uri.l = strlen(uri);
	c.nc.p = ncs;
	c.nc.l = 8;
	c.cnonce.p = cnonce;
	c.cnonce.l = strlen(cnonce);
	c.qop.p = "auth";
	c.qop.l = 4;
	c.alg = AUTH_ALG_MD5;
	if (auth_digest_response(AUTH_ALG_MD5, cred->ha1, method, &c, resp,
				 sizeof(resp)))
		return;
	snprintf(line, sizeof(line), "%s: Digest username=\"%s\", "
		 "realm=\"bulwark\", nonce=\"%s\", uri=\"%s\", "
		 "response=\"%s\", algorithm=MD5, qop=auth, nc=%s, "
		 "cnonce=\"%s\"", reg ? "Authorization" : "Proxy-Authorization",
		 cred->user, nonce, uri, resp, ncs, cnonce);
	puts_(w, line);
}

/* Pass 3: $AUTH. */
static void auth(struct wr *w, const char *in, size_t len,
		 const struct fc_seen *me, const struct fc_cred *cred,
		 uint32_t *nc)
{
	for (size_t i = 0; i < len && w->n < w->cap; i++) {
		if (in[i] == '$' && at_token(in, len, i + 1, "AUTH")) {
			auth_line(w, in, len, me, cred, nc);
			i += 4;
			continue;
		}
		put(w, &in[i], 1);
	}
}

/* Pass 4: $CL in the head, the length of the body. */
static void clen(struct wr *w, const char *in, size_t len)
{
	const char *e = NULL;
	size_t head = len, body = 0;
	char num[24];

	for (size_t i = 0; i + 4 <= len; i++)
		if (!memcmp(in + i, "\r\n\r\n", 4)) {
			e = in + i;
			break;
		}
	if (e) {
		head = (size_t)(e - in);
		body = len - head - 4;
	}
	snprintf(num, sizeof(num), "%zu", body);
	for (size_t i = 0; i < len && w->n < w->cap; i++) {
		if (i < head && in[i] == '$' && at_token(in, len, i + 1, "CL")) {
			puts_(w, num);
			i += 2;
			continue;
		}
		put(w, &in[i], 1);
	}
}

size_t fc_build(char *out, size_t outsz, const char *in, size_t len,
		const struct fc_seen seen[FC_PEERS], int self,
		const struct fc_cred *cred, uint32_t *nc)
{
	static char a[SIPMSG_MAX_LEN + 1], b[SIPMSG_MAX_LEN + 1];
	struct wr w1 = { a, 0, sizeof(a) }, w2 = { b, 0, sizeof(b) };
	struct wr w3 = { a, 0, sizeof(a) }, w4 = { out, 0, outsz };

	expand(&w1, in, len, seen);
	crlf(&w2, a, w1.n);
	auth(&w3, b, w2.n, &seen[self], cred, nc);
	clen(&w4, a, w3.n);
	return w4.n;
}

/*
 * mwi_body — the pure parts of MWI: the Event and Accept values of a
 * SUBSCRIBE (untrusted input: tests/fuzz/fuzz_mwi.c), the Expires rule,
 * the message-summary body (RFC 3842 5.2).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "voicemail/mwi.h"

/* RFC 3261 25.1 token characters. */
static bool tokc(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-.!%*_+`'~", c) != NULL;
}

static bool wsp(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && wsp(*p))
		p++;
	return p;
}

static const char *token(const char *p, const char *e)
{
	while (p < e && tokc(*p))
		p++;
	return p;
}

/* A quoted-string from *p (at '"'): past its closing quote, or NULL. */
static const char *quoted(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\') {
			if (++p >= e)
				return NULL;
			continue;
		}
		if (*p == '"')
			return p + 1;
	}
	return NULL;
}

int mwi_event_parse(const char *p, size_t l, struct mwi_event *ev)
{
	const char *e = p + l, *t;

	if (!ev || (!p && l))
		return EINVAL;
	memset(ev, 0, sizeof(*ev));
	p = skip_ws(p, e);
	t = token(p, e);
	if (t == p)
		return EBADMSG;
	ev->msum = (size_t)(t - p) == strlen("message-summary") &&
		!strncasecmp(p, "message-summary", (size_t)(t - p));
	p = skip_ws(t, e);
	while (p < e) {
		const char *n, *ne, *v = NULL, *ve = NULL;

		if (*p != ';')
			return EBADMSG;
		n = skip_ws(p + 1, e);
		ne = token(n, e);
		if (ne == n)
			return EBADMSG;
		p = skip_ws(ne, e);
		if (p < e && *p == '=') {
			v = skip_ws(p + 1, e);
			if (v < e && *v == '"')
				ve = quoted(v, e);
			else {
				/* a token, or a host (IPv6 reference) */
				ve = v;
				while (ve < e && (tokc(*ve) || *ve == ':' ||
						  *ve == '[' || *ve == ']'))
					ve++;
				if (ve == v)
					ve = NULL;
			}
			if (!ve)
				return EBADMSG;
			p = skip_ws(ve, e);
		}
		if ((size_t)(ne - n) == 2 && !strncasecmp(n, "id", 2)) {
			if (!v || token(v, ve) != ve ||
			    (size_t)(ve - v) > MWI_ID_MAX || ev->id[0])
				return EBADMSG;
			memcpy(ev->id, v, (size_t)(ve - v));
			ev->id[ve - v] = '\0';
		}
	}
	return 0;
}

bool mwi_accepts(const char *p, size_t l)
{
	const char *e = p + l;

	if (!p)
		return false;
	while (p < e) {
		const char *t, *te, *s, *se;

		p = skip_ws(p, e);
		t = p;
		te = token(t, e);
		if (te == t || te >= e || *te != '/')
			return false;
		s = te + 1;
		se = token(s, e);
		if (se == s)
			return false;
		if (((size_t)(te - t) == 1 && *t == '*' &&
		     (size_t)(se - s) == 1 && *s == '*') ||
		    ((size_t)(te - t) == 11 &&
		     !strncasecmp(t, "application", 11) &&
		     (((size_t)(se - s) == 1 && *s == '*') ||
		      ((size_t)(se - s) == 22 &&
		       !strncasecmp(s, "simple-message-summary", 22)))))
			return true;
		/* parameters, up to the next media range (a quoted ',' is
		 * no separator) */
		p = se;
		while (p < e && *p != ',') {
			if (*p == '"') {
				p = quoted(p, e);
				if (!p)
					return false;
				continue;
			}
			p++;
		}
		if (p < e)
			p++;
	}
	return false;
}

enum mwi_exp mwi_expires(int64_t asked, uint32_t *granted)
{
	if (asked < 0)
		asked = MWI_EXPIRES_DEF;
	if (asked == 0)
		return MWI_EXP_END;
	if (asked < MWI_EXPIRES_MIN)
		return MWI_EXP_BRIEF;
	if (asked > MWI_EXPIRES_MAX)
		asked = MWI_EXPIRES_MAX;
	if (granted)
		*granted = (uint32_t)asked;
	return MWI_EXP_OK;
}

size_t mwi_body(char *out, size_t sz, const char *number, const char *realm,
		unsigned n_new, unsigned n_old)
{
	int n;

	if (!out || !number || !realm)
		return 0;
	n = snprintf(out, sz, "Messages-Waiting: %s\r\n"
		     "Message-Account: sip:%s@%s\r\n"
		     "Voice-Message: %u/%u (0/0)\r\n",
		     n_new ? "yes" : "no", number, realm, n_new, n_old);
	return n > 0 && (size_t)n < sz ? (size_t)n : 0;
}

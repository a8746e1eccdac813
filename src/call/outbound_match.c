/*
 * outbound_match — dial patterns and the outbound route a dialled number
 * takes (outbound.h; issue 15, outbound). Pure.
 */
#include <stdio.h>
#include <string.h>

#include "call/outbound.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A bracket set at p ('[' first): whether c is in it; *end past ']'.
 * false with *end NULL when the set is malformed. */
static bool set_has(const char *p, char c, const char **end)
{
	bool in = false, any = false;

	*end = NULL;
	for (p++; *p && *p != ']'; p++) {
		if (!is_digit(*p))
			return false;
		if (p[1] == '-' && is_digit(p[2])) {
			in |= c >= p[0] && c <= p[2];
			p += 2;
		} else {
			in |= c == *p;
		}
		any = true;
	}
	if (*p != ']' || !any)
		return false;
	*end = p + 1;
	return in;
}

bool outbound_pattern_match(const char *pat, const char *s, size_t len)
{
	size_t i = 0;
	const char *p = pat;

	if (*p == '_')
		p++;
	for (; *p; p++) {
		const char *end;
		char c;

		if (*p == '.')
			return !p[1] && i < len;
		if (*p == '!')
			return !p[1];
		if (i >= len)
			return false;
		c = s[i++];
		switch (*p) {
		case 'X':
			if (!is_digit(c))
				return false;
			break;
		case 'Z':
			if (c < '1' || c > '9')
				return false;
			break;
		case 'N':
			if (c < '2' || c > '9')
				return false;
			break;
		case '[':
			if (!set_has(p, c, &end) || !end)
				return false;
			p = end - 1;
			break;
		default:
			if (*p != c)
				return false;
		}
	}
	return i == len;
}

bool outbound_pattern_ok(const char *pat)
{
	size_t n = strlen(pat);
	const char *p = pat;

	if (!n || n > OUT_PAT_MAX)
		return false;
	if (*p == '_')
		p++;
	if (!*p)
		return false;
	for (; *p; p++) {
		const char *end;

		if (*p == '.' || *p == '!') {
			if (p[1] || p == pat || (p == pat + 1 && *pat == '_'))
				return false;   /* last, after something */
			continue;
		}
		if (*p == '[') {
			(void)set_has(p, '0', &end);
			if (!end)
				return false;
			p = end - 1;
			continue;
		}
		if (!is_digit(*p) && !strchr("XZN+*#", *p))
			return false;
	}
	return true;
}

bool outbound_route_matches(const struct out_route *r, const char *d,
			    size_t len)
{
	for (size_t i = 0; i < r->n_pat; i++)
		if (outbound_pattern_match(r->pat[i], d, len))
			return true;
	return false;
}

static bool number_of(const struct out_route *r, const char *d, size_t len,
		      char *num, size_t nsz)
{
	size_t strip = r->strip < len ? r->strip : len;
	int n = snprintf(num, nsz, "%s%.*s", r->prefix, (int)(len - strip),
			 d + strip);

	return n > 0 && (size_t)n < nsz;
}

const struct out_route *outbound_match(const struct out_routes *rs,
				       const char *dialled, size_t len,
				       bool emergency_only, char *num,
				       size_t nsz)
{
	if (!rs || !len)
		return NULL;
	for (int pass = 0; pass < (emergency_only ? 1 : 2); pass++) {
		for (size_t i = 0; i < rs->n; i++) {
			const struct out_route *r = &rs->r[i];

			if (r->emergency != (pass == 0) ||
			    !outbound_route_matches(r, dialled, len))
				continue;
			return number_of(r, dialled, len, num, nsz) ? r : NULL;
		}
	}
	return NULL;
}


/*
 * tresolve — a trunk host given as a name (issue 15): the hosts
 * file first (a local file of a few lines, read at each attempt), then
 * DNS (tdns.c, on the loop). trunk_hosts_find is pure (unit-tested).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <re_types.h>
#include <re_sa.h>

#include "trunk/tresolve.h"

#define HOSTS_MAX (64 * 1024)

/* One whitespace-separated token of line [p, e) from *pos; false at the
 * end or at a comment. */
static bool token(const char *p, const char *e, const char **pos,
		  const char **ts, size_t *tl)
{
	const char *s = *pos;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	if (s >= e || *s == '#')
		return false;
	*ts = s;
	while (s < e && *s != ' ' && *s != '\t' && *s != '#')
		s++;
	*tl = (size_t)(s - *ts);
	*pos = s;
	return true;
}

int trunk_hosts_find(const char *text, size_t len, const char *name,
		     uint16_t port, struct sa *out, size_t max, size_t *n)
{
	const char *p = text, *end = text + len;
	size_t nl = name ? strlen(name) : 0, k = 0;

	if (!text || !nl || !out || !n)
		return EINVAL;
	while (p < end && k < max) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		const char *pos = p, *ts, *addr;
		size_t tl, al;
		bool hit = false;

		if (!e)
			e = end;
		if (token(p, e, &pos, &addr, &al)) {
			while (!hit && token(p, e, &pos, &ts, &tl))
				hit = tl == nl && !strncasecmp(ts, name, nl);
		}
		if (hit && al < 64) {
			char a[64];
			struct sa sa;

			memcpy(a, addr, al);
			a[al] = '\0';
			/* a zone (fe80::1%eth0) or garbage: skipped */
			if (!sa_set_str(&sa, a, port)) {
				bool dup = false;

				for (size_t i = 0; i < k && !dup; i++)
					dup = sa_cmp(&out[i], &sa, SA_ADDR);
				if (!dup)
					out[k++] = sa;
			}
		}
		p = e + 1;
	}
	*n = k;
	return k ? 0 : ENOENT;
}

int trunk_hosts_lookup(const char *path, const char *name, uint16_t port,
		       struct sa *out, size_t max, size_t *n)
{
	static char buf[HOSTS_MAX];
	FILE *f = fopen(path, "re");
	size_t len;

	if (!f)
		return errno;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return trunk_hosts_find(buf, len, name, port, out, max, n);
}

int trunk_resolve(const char *host, uint16_t port, struct sa *out,
		  size_t max, size_t *n)
{
	if (!host || !out || !n || !max)
		return EINVAL;
	if (!sa_set_str(out, host, port)) {
		*n = 1;
		return 0;
	}
	if (!trunk_hosts_lookup("/etc/hosts", host, port, out, max, n)) {
		trunk_dns_note(host, out, *n);
		return 0;
	}
	return trunk_dns_lookup(host, port, out, max, n);
}

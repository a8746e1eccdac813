/*
 * nft — rendering of the guard's part of this instance's table ("inet
 * bulwark" by default; common/instance.h)
 * (/work/notes/nft.md, docs/internals/guard.md): the sets ban4/ban6, the
 * chain guard_in with one counter rule per family, and element changes.
 * Pure string building; the worker runs the scripts through libnftables.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/instance.h"
#include "guard/guard_int.h"

static int app(char *buf, size_t sz, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int app(char *buf, size_t sz, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= sz)
		return ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, sz - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sz - *len)
		return ENOSPC;
	*len += (size_t)n;
	return 0;
}

int gnft_setup_script(char *buf, size_t sz, enum guard_scope scope,
		      const unsigned *ports, size_t n_ports,
		      unsigned rtp_start, unsigned rtp_end)
{
	const char *t = instance_nft_table();
	char match[256] = "";
	size_t len = 0, ml = 0;
	int err = 0;

	if (scope == GUARD_SCOPE_SIP) {
		err |= app(match, sizeof(match), &ml,
			   "meta l4proto { tcp, udp } th dport { ");
		for (size_t i = 0; i < n_ports; i++) {
			bool dup = false;
			for (size_t j = 0; j < i; j++)
				dup |= ports[j] == ports[i];
			if (!ports[i] || dup || (rtp_start && ports[i] >= rtp_start &&
						 ports[i] <= rtp_end))
				continue;
			err |= app(match, sizeof(match), &ml, "%u, ", ports[i]);
		}
		if (rtp_start && rtp_end >= rtp_start)
			err |= app(match, sizeof(match), &ml, "%u-%u, ",
				   rtp_start, rtp_end);
		if (ml < 2 || match[ml - 2] != ',')
			return EINVAL;   /* no port at all */
		ml -= 2;
		match[ml] = 0;
		err |= app(match, sizeof(match), &ml, " } ");
	}
	if (err)
		return ENOSPC;
	err |= app(buf, sz, &len,
		"add table %s\n"
		"add set %s ban4 { type ipv4_addr; flags interval, "
		"timeout; }\n"
		"add set %s ban6 { type ipv6_addr; flags interval, "
		"timeout; }\n"
		"add chain %s guard_in { type filter hook input "
		"priority -10; policy accept; }\n"
		"flush chain %s guard_in\n"
		"add rule %s guard_in ip saddr @ban4 %scounter drop\n"
		"add rule %s guard_in ip6 saddr @ban6 %scounter drop\n",
		t, t, t, t, t, t, match, t, match);
	return err ? ENOSPC : 0;
}

static void elem(const struct gaddr *a, char *out, size_t sz,
		 const char **set)
{
	gaddr_str(a, out, sz);
	*set = a->v4 ? "ban4" : "ban6";
}

/* add + delete + add: works whether or not the element exists, and sets
 * the new timeout (a plain "add" keeps an existing element's timeout). */
int gnft_ban_script(char *buf, size_t sz, const struct gaddr *a,
		    uint64_t timeout_s)
{
	const char *t = instance_nft_table();
	char e[64];
	const char *set;
	size_t len = 0;

	if (!timeout_s)
		timeout_s = 1;
	elem(a, e, sizeof(e), &set);
	return app(buf, sz, &len,
		   "add element %s %s { %s }\n"
		   "delete element %s %s { %s }\n"
		   "add element %s %s { %s timeout %llus }\n",
		   t, set, e, t, set, e, t, set, e,
		   (unsigned long long)timeout_s);
}

int gnft_unban_script(char *buf, size_t sz, const struct gaddr *a)
{
	const char *t = instance_nft_table();
	char e[64];
	const char *set;
	size_t len = 0;

	elem(a, e, sizeof(e), &set);
	return app(buf, sz, &len,
		   "add element %s %s { %s }\n"
		   "delete element %s %s { %s }\n",
		   t, set, e, t, set, e);
}

/* Offload switched off: the guard's rules and elements go, its objects
 * stay (the firewall may reference the sets). */
int gnft_withdraw_script(char *buf, size_t sz)
{
	const char *t = instance_nft_table();
	size_t len = 0;

	return app(buf, sz, &len,
		   "flush chain %s guard_in\n"
		   "flush set %s ban4\n"
		   "flush set %s ban6\n", t, t, t);
}

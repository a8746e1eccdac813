/*
 * nft — rendering of the guard's part of the table "inet bulwark"
 * (/work/notes/nft.md, docs/internals/guard.md): the sets ban4/ban6, the
 * chain guard_in with one counter rule per family, and element changes.
 * Pure string building; the worker runs the scripts through libnftables.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
		"add table inet bulwark\n"
		"add set inet bulwark ban4 { type ipv4_addr; flags interval, "
		"timeout; }\n"
		"add set inet bulwark ban6 { type ipv6_addr; flags interval, "
		"timeout; }\n"
		"add chain inet bulwark guard_in { type filter hook input "
		"priority -10; policy accept; }\n"
		"flush chain inet bulwark guard_in\n"
		"add rule inet bulwark guard_in ip saddr @ban4 %scounter drop\n"
		"add rule inet bulwark guard_in ip6 saddr @ban6 %scounter drop\n",
		match, match);
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
	char e[64];
	const char *set;
	size_t len = 0;

	if (!timeout_s)
		timeout_s = 1;
	elem(a, e, sizeof(e), &set);
	return app(buf, sz, &len,
		   "add element inet bulwark %s { %s }\n"
		   "delete element inet bulwark %s { %s }\n"
		   "add element inet bulwark %s { %s timeout %llus }\n",
		   set, e, set, e, set, e, (unsigned long long)timeout_s);
}

int gnft_unban_script(char *buf, size_t sz, const struct gaddr *a)
{
	char e[64];
	const char *set;
	size_t len = 0;

	elem(a, e, sizeof(e), &set);
	return app(buf, sz, &len,
		   "add element inet bulwark %s { %s }\n"
		   "delete element inet bulwark %s { %s }\n",
		   set, e, set, e);
}

/* Offload switched off: the guard's rules and elements go, its objects
 * stay (the firewall may reference the sets). */
const char gnft_withdraw_script[] =
	"flush chain inet bulwark guard_in\n"
	"flush set inet bulwark ban4\n"
	"flush set inet bulwark ban6\n";

/*
 * addr — source addresses as the guard counts them: IPv4 whole, IPv6 by
 * prefix (an attacker owns at least a /64, so counting single IPv6
 * addresses would be useless).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <re_types.h>
#include <re_sa.h>

#include "guard/guard_int.h"

static void mask(struct gaddr *ga)
{
	unsigned full = ga->plen / 8, rem = ga->plen % 8;

	if (full < 16) {
		ga->a[full] &= (uint8_t)(0xff00u >> rem);
		for (unsigned i = full + 1; i < 16; i++)
			ga->a[i] = 0;
	}
}

static void set_v4(struct gaddr *ga, const uint8_t v4[4], unsigned plen)
{
	memset(ga, 0, sizeof(*ga));
	ga->a[10] = 0xff;
	ga->a[11] = 0xff;
	memcpy(ga->a + 12, v4, 4);
	ga->v4 = true;
	ga->plen = (uint8_t)(96 + plen);
	mask(ga);
}

int gaddr_from_sa(struct gaddr *ga, const struct sa *sa, unsigned v6plen)
{
	if (!sa)
		return EINVAL;
	if (sa->u.sa.sa_family == AF_INET) {
		set_v4(ga, (const uint8_t *)&sa->u.in.sin_addr.s_addr, 32);
		return 0;
	}
	if (sa->u.sa.sa_family == AF_INET6) {
		const uint8_t *b = sa->u.in6.sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
		if (!memcmp(b, mapped, 12)) {
			set_v4(ga, b + 12, 32);
			return 0;
		}
		memset(ga, 0, sizeof(*ga));
		memcpy(ga->a, b, 16);
		ga->plen = (uint8_t)(v6plen ? v6plen : 128);
		mask(ga);
		return 0;
	}
	return EINVAL;
}

int gaddr_parse(struct gaddr *ga, const char *s, unsigned v6plen)
{
	char buf[64];
	const char *slash;
	long plen = -1;
	uint8_t b[16];

	if (!s || !*s)
		return EINVAL;
	slash = strchr(s, '/');
	if (slash) {
		char *end;
		if ((size_t)(slash - s) >= sizeof(buf) || !slash[1])
			return EINVAL;
		memcpy(buf, s, (size_t)(slash - s));
		buf[slash - s] = 0;
		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (*end || errno || plen < 0)
			return EINVAL;
	} else {
		if (strlen(s) >= sizeof(buf))
			return EINVAL;
		memcpy(buf, s, strlen(s) + 1);
	}
	if (inet_pton(AF_INET, buf, b) == 1) {
		if (plen > 32)
			return EINVAL;
		set_v4(ga, b, plen < 0 ? 32 : (unsigned)plen);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, b) == 1) {
		if (plen > 128)
			return EINVAL;
		memset(ga, 0, sizeof(*ga));
		memcpy(ga->a, b, 16);
		ga->plen = (uint8_t)(plen < 0 ? (v6plen ? v6plen : 128) : plen);
		mask(ga);
		return 0;
	}
	return EINVAL;
}

void gaddr_str(const struct gaddr *ga, char *buf, size_t sz)
{
	char tmp[INET6_ADDRSTRLEN];

	if (ga->v4) {
		inet_ntop(AF_INET, ga->a + 12, tmp, sizeof(tmp));
		if (ga->plen == 128)
			snprintf(buf, sz, "%s", tmp);
		else
			snprintf(buf, sz, "%s/%u", tmp, ga->plen - 96u);
		return;
	}
	inet_ntop(AF_INET6, ga->a, tmp, sizeof(tmp));
	if (ga->plen == 128)
		snprintf(buf, sz, "%s", tmp);
	else
		snprintf(buf, sz, "%s/%u", tmp, (unsigned)ga->plen);
}

bool gaddr_contains(const struct gaddr *net, const struct gaddr *a)
{
	unsigned full = net->plen / 8, rem = net->plen % 8;

	if (net->v4 != a->v4 || a->plen < net->plen)
		return false;
	if (memcmp(net->a, a->a, full))
		return false;
	if (rem && ((net->a[full] ^ a->a[full]) & (uint8_t)(0xff00u >> rem)))
		return false;
	return true;
}

bool gaddr_loopback(const struct gaddr *a)
{
	static const uint8_t zero[8];

	if (a->v4)
		return a->a[12] == 127;
	/* ::1, also once masked to the IPv6 prefix (::/64). */
	return a->plen >= 64 && !memcmp(a->a, zero, 8);
}

/*
 * ifaces — discovery of the system's network interfaces (getifaddrs), kept
 * apart from the pure model so that tests inject interfaces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "firewall/fw.h"

static unsigned mask_len(const uint8_t *m, size_t len)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t b = m[i];

		while (b & 0x80) {
			n++;
			b = (uint8_t)(b << 1);
		}
		if (m[i] != 0xff)
			break;
	}
	return n;
}

static struct fw_iface *get_iface(struct fw_iface *ifs, size_t max,
				  size_t *n, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp(ifs[i].name, name))
			return &ifs[i];
	if (*n >= max || !firewall_ifname_valid(name))
		return NULL;
	memset(&ifs[*n], 0, sizeof(ifs[*n]));
	snprintf(ifs[*n].name, sizeof(ifs[*n].name), "%s", name);
	return &ifs[(*n)++];
}

static int cmp_iface(const void *a, const void *b)
{
	return strcmp(((const struct fw_iface *)a)->name,
		      ((const struct fw_iface *)b)->name);
}

int firewall_ifaces_discover(struct fw_iface *ifs, size_t max, size_t *n)
{
	struct ifaddrs *ifa = NULL, *it;
	size_t cnt = 0;

	if (getifaddrs(&ifa))
		return errno ? errno : EIO;
	for (it = ifa; it; it = it->ifa_next) {
		struct fw_iface *f;
		const void *addr, *mask;
		int fam;
		size_t alen;
		unsigned plen;
		char a[INET6_ADDRSTRLEN];

		if (!it->ifa_name || (it->ifa_flags & IFF_LOOPBACK))
			continue;
		f = get_iface(ifs, max, &cnt, it->ifa_name);
		if (!f)
			continue;
		f->down = !(it->ifa_flags & IFF_UP);
		if (!it->ifa_addr)
			continue;
		fam = it->ifa_addr->sa_family;
		if (fam == AF_INET) {
			addr = &((struct sockaddr_in *)(void *)it->ifa_addr)
				->sin_addr;
			mask = it->ifa_netmask ?
				(const void *)&((struct sockaddr_in *)(void *)
					it->ifa_netmask)->sin_addr : NULL;
			alen = 4;
		} else if (fam == AF_INET6) {
			const struct in6_addr *a6 = &((struct sockaddr_in6 *)
				(void *)it->ifa_addr)->sin6_addr;

			/* link-local is on every link: not a network to
			 * trust or to name */
			if (IN6_IS_ADDR_LINKLOCAL(a6))
				continue;
			addr = a6;
			mask = it->ifa_netmask ?
				(const void *)&((struct sockaddr_in6 *)(void *)
					it->ifa_netmask)->sin6_addr : NULL;
			alen = 16;
		} else {
			continue;
		}
		if (f->n_net >= FW_MAX_NETS)
			continue;
		plen = mask ? mask_len(mask, alen) : (unsigned)alen * 8;
		firewall_cidr_make(&f->net[f->n_net], fam, addr, plen);
		if (!inet_ntop(fam, addr, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		snprintf(f->addr[f->n_net], sizeof(f->addr[0]), "%s/%u", a,
			 plen);
		f->n_net++;
	}
	freeifaddrs(ifa);
	qsort(ifs, cnt, sizeof(*ifs), cmp_iface);
	*n = cnt;
	return 0;
}

int (*firewall_ifaces_hook)(struct fw_iface *ifs, size_t max, size_t *n) =
	firewall_ifaces_discover;

size_t firewall_ifaces_usable(const struct fw_iface *ifs, size_t n)
{
	size_t u = 0;

	for (size_t i = 0; i < n; i++)
		if (!ifs[i].down || ifs[i].n_net)
			u++;
	return u;
}

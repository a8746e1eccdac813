/*
 * ports — the relay's port pool: even RTP + odd RTCP pairs of a
 * configured range, bounded, FIFO. Runs on the owner thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include "media/relay_int.h"

int ports_init(struct ports *p, const struct sa *local, uint16_t min,
	       uint16_t max, int tos)
{
	unsigned i;

	memset(p, 0, sizeof(*p));
	if (!local || (local->u.sa.sa_family != AF_INET &&
		       local->u.sa.sa_family != AF_INET6))
		return EINVAL;
	if (min < 1024 || min % 2 || max < min)
		return EINVAL;
	p->base = min;
	/* a pair needs both of its ports inside the range */
	p->npairs = ((unsigned)max - min + 1) / 2;
	if (p->npairs < 2)
		return EINVAL;
	p->fifo = calloc(p->npairs, sizeof(*p->fifo));
	p->used = calloc(p->npairs, 1);
	if (!p->fifo || !p->used) {
		ports_fini(p);
		return ENOMEM;
	}
	for (i = 0; i < p->npairs; i++)
		p->fifo[i] = (uint16_t)i;
	p->count = p->npairs;
	p->local = *local;
	p->tos = tos;
	return 0;
}

void ports_fini(struct ports *p)
{
	free(p->fifo);
	free(p->used);
	p->fifo = NULL;
	p->used = NULL;
	p->count = 0;
}

uint16_t ports_port(const struct ports *p, unsigned pair)
{
	return (uint16_t)(p->base + 2 * pair);
}

static int bind_one(const struct ports *p, uint16_t port, int *fdp)
{
	struct sa a = p->local;
	int fd, err;

	fd = socket(a.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_UDP);
	if (fd < 0)
		return errno;
	if (a.u.sa.sa_family == AF_INET) {
		a.u.in.sin_port = htons(port);
		a.len = sizeof(a.u.in);
		if (p->tos >= 0)
			(void)setsockopt(fd, IPPROTO_IP, IP_TOS, &p->tos,
					 sizeof(p->tos));
	} else {
		int on = 1;

		a.u.in6.sin6_port = htons(port);
		a.len = sizeof(a.u.in6);
		/* the v6 socket serves v6 only: a v4 peer needs a v4 relay */
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		if (p->tos >= 0)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &p->tos,
					 sizeof(p->tos));
	}
	if (bind(fd, &a.u.sa, a.len) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

int ports_take(struct ports *p, unsigned *pairp, int fds[2])
{
	unsigned tries = p->count;

	/* Every free pair is tried at most once: a pair whose bind fails
	 * (another process holds the port, or our own media thread has
	 * not closed it yet) goes back to the tail. */
	while (tries--) {
		unsigned pair = p->fifo[p->head];
		uint16_t port = ports_port(p, pair);

		p->head = (p->head + 1) % p->npairs;
		p->count--;
		if (bind_one(p, port, &fds[0]) == 0) {
			if (bind_one(p, (uint16_t)(port + 1), &fds[1]) == 0) {
				p->used[pair] = 1;
				*pairp = pair;
				return 0;
			}
			close(fds[0]);
		}
		p->fifo[(p->head + p->count) % p->npairs] = (uint16_t)pair;
		p->count++;
	}
	return ENOSPC;
}

void ports_give(struct ports *p, unsigned pair)
{
	if (pair >= p->npairs || !p->used[pair])
		return;
	p->used[pair] = 0;
	p->fifo[(p->head + p->count) % p->npairs] = (uint16_t)pair;
	p->count++;
}

/* The pool as an endpoint port source (endpoint.h struct
 * endpoint_portsrc, arg = the struct ports): the endpoint's own pool,
 * and any other pool (the relay's) a caller plugs in. */
int ports_src_take(void *arg, int fds[2], uint16_t *rtp_port,
		   unsigned *handle)
{
	struct ports *p = arg;
	int err = ports_take(p, handle, fds);

	if (!err)
		*rtp_port = ports_port(p, *handle);
	return err;
}

void ports_src_give(void *arg, unsigned handle)
{
	ports_give(arg, handle);
}

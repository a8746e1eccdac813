/*
 * ring — what both sides of the relay share: the bounded ring that carries
 * commands to a media thread and events back (mutex + eventfd), the clock
 * and address comparison. Split from relay.c so that the control side and
 * the packet path (rtpfwd.c) both call down into it and never into each
 * other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "media/relay_int.h"

/* ---- small shared helpers ---------------------------------------------- */

uint64_t relay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool relay_sa_ipeq(const struct sa *a, const struct sa *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
	if (a->u.sa.sa_family == AF_INET6)
		return !memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr,
			       sizeof(a->u.in6.sin6_addr));
	return false;
}

bool relay_sa_eq(const struct sa *a, const struct sa *b)
{
	if (!relay_sa_ipeq(a, b))
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_port == b->u.in.sin_port;
	return a->u.in6.sin6_port == b->u.in6.sin6_port;
}

/* ---- bounded ring ------------------------------------------------------ */

int ring_init(struct ring *q, size_t size, unsigned cap)
{
	memset(q, 0, sizeof(*q));
	q->efd = -1;
	q->slots = calloc(cap, size);
	if (!q->slots)
		return ENOMEM;
	q->size = size;
	q->cap = cap;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		int err = errno;

		free(q->slots);
		q->slots = NULL;
		return err;
	}
	pthread_mutex_init(&q->mtx, NULL);
	return 0;
}

void ring_fini(struct ring *q)
{
	if (!q->slots)
		return;
	pthread_mutex_destroy(&q->mtx);
	free(q->slots);
	q->slots = NULL;
	if (q->efd >= 0)
		close(q->efd);
	q->efd = -1;
}

static void ring_signal(struct ring *q)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is saturated: still readable */
	(void)!write(q->efd, &one, sizeof(one));
}

int ring_push(struct ring *q, const void *elem, unsigned reserve)
{
	bool was_empty;

	pthread_mutex_lock(&q->mtx);
	if (q->count + reserve >= q->cap) {
		pthread_mutex_unlock(&q->mtx);
		return EAGAIN;
	}
	memcpy((char *)q->slots + (size_t)((q->head + q->count) % q->cap) * q->size,
	       elem, q->size);
	was_empty = q->count++ == 0;
	pthread_mutex_unlock(&q->mtx);
	if (was_empty)
		ring_signal(q);
	return 0;
}

unsigned ring_pop(struct ring *q, void *out, unsigned max)
{
	uint64_t v;
	unsigned n = 0;
	bool more;

	(void)!read(q->efd, &v, sizeof(v));
	pthread_mutex_lock(&q->mtx);
	while (n < max && q->count) {
		memcpy((char *)out + (size_t)n * q->size,
		       (char *)q->slots + (size_t)q->head * q->size, q->size);
		/* srtp (issue 15): a command may carry keys: none left */
		explicit_bzero((char *)q->slots + (size_t)q->head * q->size,
			       q->size);
		q->head = (q->head + 1) % q->cap;
		q->count--;
		n++;
	}
	more = q->count > 0;
	pthread_mutex_unlock(&q->mtx);
	if (more)
		ring_signal(q);
	return n;
}

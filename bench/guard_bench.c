/*
 * guard_bench — cost of the guard's hooks per call, on the real wall clock
 * (clock_gettime included), with the default settings:
 *   packet/legit     guard_packet from 1,000 credited phones
 *   packet/spoofed   guard_packet from random sources (10 M space): every
 *                    call inserts and evicts (table bound 65,536)
 *   packet/banned    guard_packet from a banned source (user-space drop)
 *   mix              90 % legit, 10 % spoofed guard_packet
 *   auth/ok          guard_auth_result OK (refresh)
 *   auth/fail        guard_auth_result BAD_PASSWORD from random sources
 *                    (builds the security event; no worker attached)
 *   request/ua       guard_request with a phone's User-Agent (scanner scan)
 * Usage: guard_bench [iterations]   (default 2,000,000)
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <re_types.h>
#include <re_sa.h>

#include "guard/guard.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct sa v4(uint32_t a)
{
	struct sa sa;

	memset(&sa, 0, sizeof(sa));
	sa.u.in.sin_family = AF_INET;
	sa.u.in.sin_addr.s_addr = htonl(a);
	sa.len = sizeof(sa.u.in);
	return sa;
}

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static volatile int sink;

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	struct guard *g = NULL;
	struct sa *legit;
	struct sa banned = v4(0xc6336401);   /* 198.51.100.1 */
	char ext[16];
	double t0, t;
	const char *ua = "Yealink SIP-T46S 66.86.0.15";
	/* failures that answered a challenge of this hour: they count */
	const struct guard_proof pf = { .nonce = true,
					.nonce_ts = (uint64_t)time(NULL) };

	if (n < 1000)
		n = 1000;
	if (guard_alloc(&g, NULL)) {
		fprintf(stderr, "guard_alloc failed\n");
		return 1;
	}
	legit = calloc(1000, sizeof(*legit));
	for (int i = 0; i < 1000; i++) {
		legit[i] = v4(0x0a000000u + (uint32_t)i);
		snprintf(ext, sizeof(ext), "%d", 1000 + i);
		guard_auth_result(g, &legit[i], ext, strlen(ext), GUARD_AUTH_OK,
				  &pf, ua, strlen(ua));
	}
	guard_ban_add(g, "198.51.100.1", 3600);

	t0 = now_ns();
	for (long i = 0; i < n; i++)
		sink += guard_packet(g, &legit[i % 1000]);
	t = now_ns() - t0;
	printf("packet/legit    %8.1f ns/call\n", t / (double)n);

	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		struct sa s = v4(0x0b000000u + rnd() % 10000000u);
		sink += guard_packet(g, &s);
	}
	t = now_ns() - t0;
	printf("packet/spoofed  %8.1f ns/call\n", t / (double)n);

	t0 = now_ns();
	for (long i = 0; i < n; i++)
		sink += guard_packet(g, &banned);
	t = now_ns() - t0;
	printf("packet/banned   %8.1f ns/call\n", t / (double)n);

	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (i % 10 == 9) {
			struct sa s = v4(0x0b000000u + rnd() % 10000000u);
			sink += guard_packet(g, &s);
		} else {
			sink += guard_packet(g, &legit[i % 1000]);
		}
	}
	t = now_ns() - t0;
	printf("mix 90/10       %8.1f ns/call\n", t / (double)n);

	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int k = (int)(i % 1000);
		snprintf(ext, sizeof(ext), "%d", 1000 + k);
		sink += guard_auth_result(g, &legit[k], ext, strlen(ext),
					  GUARD_AUTH_OK, &pf, ua, strlen(ua));
	}
	t = now_ns() - t0;
	printf("auth/ok         %8.1f ns/call\n", t / (double)n);

	t0 = now_ns();
	for (long i = 0; i < n / 10; i++) {
		struct sa s = v4(0x0c000000u + rnd() % 10000000u);
		sink += guard_auth_result(g, &s, "201", 3,
					  GUARD_AUTH_BAD_PASSWORD, &pf, "x", 1);
	}
	t = now_ns() - t0;
	printf("auth/fail       %8.1f ns/call\n", t / (double)(n / 10));

	t0 = now_ns();
	for (long i = 0; i < n; i++)
		sink += guard_request(g, &legit[i % 1000], 0, ua, strlen(ua));
	t = now_ns() - t0;
	printf("request/ua      %8.1f ns/call\n", t / (double)n);

	{
		json_t *st = guard_status(g);
		json_t *tb = json_object_get(st, "tables");
		printf("tables: sources %lld (bound 65536), evicted %lld\n",
		       (long long)json_integer_value(json_object_get(tb,
			       "sources")),
		       (long long)json_integer_value(json_object_get(tb,
			       "evicted")));
		json_decref(st);
	}
	free(legit);
	guard_close(g);
	return 0;
}

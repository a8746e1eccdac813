/*
 * binding_mem — what the registrar keeps per live binding, measured.
 *
 *   binding_mem [BINDINGS [PER_EXT [DB]]]
 *
 * Creates BINDINGS bindings (default 100,000) over BINDINGS/PER_EXT
 * extensions (default 10 per extension, as bench_register.sh's SIPp run;
 * 1 is the usual office phone) through reg_apply() with realistic strings
 * (a 60-odd byte Contact URI, a 45-byte Call-ID, a phone's User-Agent),
 * one authenticated nonce-count per extension, then refreshes every
 * binding once with a new Call-ID (what a phone does). With DB (a path;
 * the file is created) every change goes through the persistence writer
 * like in bulwarkd, paced at BINDMEM_RATE contacts bound a second (default
 * 20,000, about what bulwarkd sustains in bench_register.sh; unpaced, the
 * writer's queue would hold every change at once). Prints heap in use
 * (mallinfo2) and VmRSS before and after, per binding, and once more
 * after the nonce-count tables have aged out (sipd's default nonce_ttl
 * 300 s + 60 s, bindings still live). Exit 1 when bytes per binding (heap, everything
 * the registrar holds once the writer has drained) exceed BINDMEM_MAX
 * (environment, default 300).
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "registrar/registrar.h"

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = strtol(line + 6, NULL, 10);
	fclose(f);
	return v;
}

static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static const char *uas[] = {
	"Yealink SIP-T46S 66.86.0.15",
	"Grandstream GXP2170 1.0.11.23",
	"PolycomVVX-VVX_450-UA/6.4.3.5018",
	"Linphone-Desktop/5.2.0 (belle-sip/5.2.0)",
	"baresip v3.10.1 (x86_64/linux)",
};

int main(int argc, char **argv)
{
	size_t nb = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t per = argc > 2 ? strtoul(argv[2], NULL, 10) : 10;
	const char *db = argc > 3 ? argv[3] : NULL;
	const char *maxs = getenv("BINDMEM_MAX");
	const char *rates = getenv("BINDMEM_RATE");
	double rate = rates ? atof(rates) : 20000;
	struct timespec t0;
	double max = maxs ? atof(maxs) : 300;
	struct reg_loc *l = NULL;
	struct reg_persist *p = NULL;
	size_t h0, h1 = 0, h2, h3;
	long r0, r1 = 0, r2, r3;
	int64_t now = (int64_t)time(NULL);
	size_t next = 0;
	double per_b;
	int err;

	if (!nb || !per || per > 64) {
		fprintf(stderr, "usage: binding_mem [BINDINGS [PER_EXT (1-64)"
			" [DB]]]\n");
		return 2;
	}
	mallopt(M_ARENA_MAX, 2);
	if (db) {
		unlink(db);
		err = reg_persist_open(&p, db, 200000);
		if (err) {
			fprintf(stderr, "persist %s: %s\n", db, strerror(err));
			return 2;
		}
	}
	err = reg_loc_alloc(&l, nb);
	if (err)
		return 2;
	malloc_trim(0);
	h0 = heap_used();
	r0 = rss_kib();
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nb; i += per) {
			char num[16], uri[64][96], cid[64];
			struct reg_contact c[64];
			struct reg_req rq;
			size_t k = nb - i < per ? nb - i : per;
			unsigned x = (unsigned)(i / per);

			snprintf(num, sizeof(num), "%u", 100000 + x);
			memset(&rq, 0, sizeof(rq));
			memset(c, 0, sizeof(c));
			for (size_t j = 0; j < k; j++) {
				unsigned h = (unsigned)(i + j);

				snprintf(uri[j], sizeof(uri[j]),
					 "sip:%s@10.%u.%u.%u:5060;transport=udp;"
					 "rinstance=%08x%08x", num,
					 (h >> 16) & 255, (h >> 8) & 255,
					 h & 255, h * 2654435761u,
					 h ^ 0x5bd1e995u);
				c[j].uri.p = uri[j];
				c[j].uri.l = strlen(uri[j]);
				c[j].expires = 3600;
				sa_set_str(&c[j].target, "10.1.2.3", 5060);
				sa_set_port(&c[j].target, (uint16_t)(5060 + j));
				c[j].has_target = true;
			}
			snprintf(cid, sizeof(cid),
				 "%08x%08x%08x%08x@10.0.0.1",
				 x * 2654435761u, x ^ 0xdeadbeefu,
				 (unsigned)pass, x * 40503u);
			rq.number = num;
			rq.call_id.p = cid;
			rq.call_id.l = strlen(cid);
			rq.cseq = (uint32_t)pass + 1;
			rq.c = c;
			rq.n = k;
			sa_set_str(&rq.src, "10.9.8.7", (uint16_t)(1024 + x % 60000));
			rq.tp = REG_TP_UDP;
			rq.ua.p = uas[x % 5];
			rq.ua.l = strlen(uas[x % 5]);
			rq.max_contacts = (unsigned)per;
			err = reg_nc_check(l, num, strlen(num),
					   ((uint64_t)now << 32) | (uint32_t)++next,
					   1, x);
			if (err) {
				fprintf(stderr, "nc %s: %s\n", num,
					strerror(err));
				return 2;
			}
			if (p && rate > 0) {
				/* pace: this many requests by now */
				struct timespec t;
				double el;

				clock_gettime(CLOCK_MONOTONIC, &t);
				el = (double)(t.tv_sec - t0.tv_sec) +
					(double)(t.tv_nsec - t0.tv_nsec) / 1e9;
				if ((double)(pass * nb + i) > el * rate)
					usleep((useconds_t)(((double)(pass * nb + i) /
							     rate - el) * 1e6));
			}
			err = reg_apply(l, &rq, now + pass,
					p ? reg_persist_change : NULL, p);
			if (err) {
				fprintf(stderr, "reg_apply %s: %s\n", num,
					strerror(err));
				return 2;
			}
		}
		if (!pass) {
			h1 = heap_used();
			r1 = rss_kib();
		}
	}
	h2 = heap_used();
	r2 = rss_kib();
	if (l->n_bind != nb) {
		fprintf(stderr, "%zu bindings, expected %zu\n", l->n_bind, nb);
		return 2;
	}
	if (p) {
		uint64_t q, w, d;

		for (int i = 0; i < 600; i++) {
			reg_persist_stats(p, &q, &w, &d);
			if (w + d >= q)
				break;
			usleep(100000);
		}
		printf("persist: queued %llu written %llu dropped %llu\n",
		       (unsigned long long)q, (unsigned long long)w,
		       (unsigned long long)d);
	}
	h3 = heap_used();
	r3 = rss_kib();
	per_b = (double)(h3 - h0) / (double)nb;
	printf("bindings %zu, %zu per extension (%zu extensions)%s\n", nb,
	       per, (nb + per - 1) / per, p ? ", persisted" : "");
	printf("heap:  +%zu bytes registered, +%zu refreshed (peak), "
	       "+%zu settled = %.1f bytes/binding\n", h1 - h0, h2 - h0,
	       h3 - h0, per_b);
	printf("VmRSS: +%ld KiB registered, +%ld KiB refreshed, +%ld KiB "
	       "settled = %.1f bytes/binding\n", r1 - r0, r2 - r0, r3 - r0,
	       (double)(r3 - r0) * 1024.0 / (double)nb);
	{
		/* later, without new authentications: nc tables age out */
		size_t h4;

		l->nc_keep = 300 + 60;
		reg_expire(l, now + 300 + 60 + 2, NULL, NULL);
		h4 = heap_used();
		printf("heap once nonce-count tables aged out (%zu extensions "
		       "left): %.1f bytes/binding\n", l->n_ext,
		       (double)(h4 - h0) / (double)nb);
	}
	reg_persist_close(p);
	mem_deref(l);
	if (per_b > max) {
		printf("FAIL: %.1f bytes/binding > %.0f\n", per_b, max);
		return 1;
	}
	return 0;
}

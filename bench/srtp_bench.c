/*
 * srtp_bench — the relay's CPU per packet with SRTP beside plain RTP
 * (issue 15). N concurrent G.711 calls (two 20 ms streams each, 172-byte
 * RTP, 50 packets/s per direction) through our relay (src/media, its own
 * media thread(s) in this process), in one of three modes:
 *   plain — neither leg SRTP: the relay's untouched fast path,
 *   srtp  — leg B SRTP (AES_CM_128_HMAC_SHA1_80): each packet from B is
 *           authenticated and decrypted, each towards B encrypted and
 *           tagged (a plain phone calling an SRTP one),
 *   srtp2 — both legs SRTP: every packet is unprotected and protected
 *           again (two SRTP phones).
 * The phones are two sockets in this process; phone B (and A in srtp2)
 * protects what it sends with its own contexts in the sender thread, so
 * the relay sees real SRTP; that work is not counted. Printed: packets
 * relayed per second, the relay threads' CPU per relayed packet (ns),
 * loss, and in SRTP modes how many received packets failed to
 * unprotect at the phone (must be 0).
 *
 *   srtp_bench --mode plain|srtp|srtp2 [--calls N] [--seconds S]
 *              [--warm S] [--threads T]
 *   srtp_bench --mode crypto   the cost of srtp_ctx.c alone, per suite:
 *              CPU (this thread) per protect and per unprotect of a
 *              172-octet packet, 200,000 of each
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <re_types.h>
#include <re_sa.h>
#include <re_mem.h>
#include <re_mbuf.h>
#include <re_srtp.h>

#include "media/relay.h"
#include "media/srtp_ctx.h"

#define PKT    172
#define ROOM   256
#define PERIOD 20000000ull
#define SUITE  SRTPC_AES_CM_128_HMAC_SHA1_80

struct call {
	struct sockaddr_in dst[2];     /* relay port of leg A, of leg B */
	struct srtpc *tx[2], *rx[2];   /* the phones' contexts (NULL plain) */
	uint16_t seq[2];
};

static struct {
	unsigned calls, seconds, warm, threads;
	int mode;                      /* 0 plain, 1 srtp, 2 srtp2 */
	int fd[2];                     /* phone A, phone B */
	struct sockaddr_in addr[2];
	struct call *c;
	atomic_uint_fast64_t rcvd, bad;
	atomic_bool stop;
} G = {.calls = 100, .seconds = 10, .warm = 2, .threads = 1};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "srtp_bench: %s: %s\n", what, strerror(err));
	exit(2);
}

static int udp(struct sockaddr_in *out)
{
	socklen_t len = sizeof(*out);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 8 << 20;

	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)out, sizeof(*out)) ||
	    getsockname(fd, (struct sockaddr *)out, &len))
		die("socket", errno);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	return fd;
}

/* The key of a phone side (side 0 A, 1 B) of call i, or the relay's
 * towards it (+2): all different. */
static void key_of(unsigned i, unsigned who, uint8_t *k)
{
	for (unsigned j = 0; j < SRTPC_KEY_MAX; j++)
		k[j] = (uint8_t)(i * 7 + who * 31 + j);
}

static bool srtp_side(unsigned side)
{
	return G.mode == 2 || (G.mode == 1 && side == 1);
}

static void setup(struct relay *r)
{
	G.c = calloc(G.calls, sizeof(*G.c));
	if (!G.c)
		die("calloc", ENOMEM);
	for (unsigned i = 0; i < G.calls; i++) {
		struct relay_ports p[2];
		uint32_t id;
		int err = relay_session_create(r, i, &id, p);

		if (err)
			die("relay_session_create", err);
		for (unsigned s = 0; s < 2; s++) {
			struct relay_leg_conf lc;
			uint8_t kp[SRTPC_KEY_MAX], kr[SRTPC_KEY_MAX];

			memset(&lc, 0, sizeof(lc));
			sa_set_sa(&lc.rtp, (struct sockaddr *)&G.addr[s]);
			key_of(i, s, kp);
			key_of(i, s + 2, kr);
			if (srtp_side(s)) {
				lc.srtp_suite = SUITE;
				memcpy(lc.srtp_rx, kp, srtpc_key_len(SUITE));
				memcpy(lc.srtp_tx, kr, srtpc_key_len(SUITE));
				if (srtpc_alloc(&G.c[i].tx[s], SUITE, kp,
						srtpc_key_len(SUITE), true) ||
				    srtpc_alloc(&G.c[i].rx[s], SUITE, kr,
						srtpc_key_len(SUITE), false))
					die("srtpc_alloc", EIO);
			}
			err = relay_leg_set(r, id, s ? RELAY_LEG_B : RELAY_LEG_A,
					    &lc);
			if (err)
				die("relay_leg_set", err);
			G.c[i].dst[s].sin_family = AF_INET;
			G.c[i].dst[s].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			G.c[i].dst[s].sin_port = htons(s ? p[RELAY_LEG_B].rtp :
						       p[RELAY_LEG_A].rtp);
		}
	}
}

/* Which call and side a packet a phone received belongs to: the SSRC
 * the sender wrote (call << 1 | side it came from). */
static void *receiver(void *arg)
{
	static uint8_t buf[64][ROOM];
	struct mmsghdr mm[64];
	struct iovec iov[64];
	struct pollfd pf[2] = {{.fd = G.fd[0], .events = POLLIN},
			       {.fd = G.fd[1], .events = POLLIN}};

	(void)arg;
	for (unsigned i = 0; i < 64; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = ROOM;
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load(&G.stop)) {
		if (poll(pf, 2, 100) <= 0)
			continue;
		for (unsigned s = 0; s < 2; s++) {
			int n = recvmmsg(G.fd[s], mm, 64, MSG_DONTWAIT, NULL);

			for (int k = 0; k < n; k++) {
				uint32_t ssrc;
				size_t len = mm[k].msg_len;
				unsigned ci;

				memcpy(&ssrc, buf[k] + 8, 4);
				ci = ntohl(ssrc) >> 1;
				atomic_fetch_add(&G.rcvd, 1);
				/* a sample is checked: 1 in 16 */
				if (ci >= G.calls || !G.c[ci].rx[s] ||
				    (ntohs(*(uint16_t *)(buf[k] + 2)) & 15))
					continue;
				if (srtpc_unprotect(G.c[ci].rx[s], buf[k],
						    &len) || len != PKT)
					atomic_fetch_add(&G.bad, 1);
			}
		}
	}
	return NULL;
}

/* One packet of call i from side s into p; its length. */
static size_t make(unsigned i, unsigned s, uint8_t *p)
{
	struct call *c = &G.c[i];
	uint32_t ssrc = htonl(i << 1 | s);
	size_t n = PKT;

	memset(p, 0xd5, PKT);
	p[0] = 0x80;
	p[1] = 8;
	p[2] = (uint8_t)(c->seq[s] >> 8);
	p[3] = (uint8_t)c->seq[s];
	memset(p + 4, 0, 4);
	memcpy(p + 8, &ssrc, 4);
	c->seq[s]++;
	if (c->tx[s] && srtpc_protect(c->tx[s], p, &n, ROOM))
		die("srtpc_protect", EIO);
	return n;
}

static uint64_t thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The same with libre's srtp (what baresip uses), for comparison: its
 * mbuf written per packet (a copy of 172 octets, counted). */
static int crypto_libre(void)
{
	static const struct { enum srtp_suite s; const char *name;
			      size_t kl; } su[] = {
		{SRTP_AES_CM_128_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80", 30},
		{SRTP_AES_128_GCM, "AEAD_AES_128_GCM", 28},
	};
	const unsigned n = 200000;
	uint8_t pkt[PKT];

	memset(pkt, 0xd5, sizeof(pkt));
	pkt[0] = 0x80;
	for (size_t x = 0; x < sizeof(su) / sizeof(su[0]); x++) {
		struct srtp *tx = NULL, *rx = NULL;
		struct mbuf *mb[1000];
		uint8_t k[SRTPC_KEY_MAX];
		uint64_t tp = 0, tu = 0, t;
		unsigned bad = 0;

		key_of(1, 1, k);
		if (srtp_alloc(&tx, su[x].s, k, su[x].kl, 0) ||
		    srtp_alloc(&rx, su[x].s, k, su[x].kl, 0))
			die("srtp_alloc", EIO);
		for (unsigned i = 0; i < 1000; i++)
			if (!(mb[i] = mbuf_alloc(ROOM)))
				die("mbuf_alloc", ENOMEM);
		for (unsigned done = 0; done < n; done += 1000) {
			t = thread_ns();
			for (unsigned i = 0; i < 1000; i++) {
				uint16_t seq = (uint16_t)(done + i);

				pkt[2] = (uint8_t)(seq >> 8);
				pkt[3] = (uint8_t)seq;
				mbuf_rewind(mb[i]);
				(void)mbuf_write_mem(mb[i], pkt, PKT);
				mb[i]->pos = 0;
				bad += srtp_encrypt(tx, mb[i]) != 0;
			}
			tp += thread_ns() - t;
			t = thread_ns();
			for (unsigned i = 0; i < 1000; i++) {
				mb[i]->pos = 0;
				bad += srtp_decrypt(rx, mb[i]) != 0;
			}
			tu += thread_ns() - t;
		}
		printf("libre suite=%s protect_ns=%.0f unprotect_ns=%.0f "
		       "failed=%u\n", su[x].name, (double)tp / n,
		       (double)tu / n, bad);
		for (unsigned i = 0; i < 1000; i++)
			mem_deref(mb[i]);
		mem_deref(tx);
		mem_deref(rx);
	}
	return 0;
}

/* --mode crypto */
static int crypto_only(void)
{
	static const char *const name[SRTPC__COUNT] = {
		"", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32",
		"AEAD_AES_128_GCM", "AEAD_AES_256_GCM",
	};
	const unsigned n = 200000;

	for (int su = 1; su < SRTPC__COUNT; su++) {
		static uint8_t p[1000][ROOM];
		static size_t len[1000];
		uint8_t k[SRTPC_KEY_MAX];
		struct srtpc *tx = NULL, *rx = NULL;
		uint64_t tp = 0, tu = 0, t;
		unsigned bad = 0;

		key_of(1, 1, k);
		if (srtpc_alloc(&tx, (enum srtpc_suite)su, k,
				srtpc_key_len((enum srtpc_suite)su), true) ||
		    srtpc_alloc(&rx, (enum srtpc_suite)su, k,
				srtpc_key_len((enum srtpc_suite)su), false))
			die("srtpc_alloc", EIO);
		for (unsigned done = 0; done < n; done += 1000) {
			for (unsigned i = 0; i < 1000; i++) {
				uint16_t seq = (uint16_t)(done + i);

				memset(p[i], 0xd5, PKT);
				p[i][0] = 0x80;
				p[i][2] = (uint8_t)(seq >> 8);
				p[i][3] = (uint8_t)seq;
				len[i] = PKT;
			}
			t = thread_ns();
			for (unsigned i = 0; i < 1000; i++)
				bad += srtpc_protect(tx, p[i], &len[i], ROOM) != 0;
			tp += thread_ns() - t;
			t = thread_ns();
			for (unsigned i = 0; i < 1000; i++)
				bad += srtpc_unprotect(rx, p[i], &len[i]) != 0;
			tu += thread_ns() - t;
		}
		printf("crypto suite=%s protect_ns=%.0f unprotect_ns=%.0f "
		       "failed=%u\n", name[su], (double)tp / n, (double)tu / n,
		       bad);
		srtpc_free(tx);
		srtpc_free(rx);
		if (bad)
			return 1;
	}
	return crypto_libre();
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"mode", 1, NULL, 'm'}, {"calls", 1, NULL, 'n'},
		{"seconds", 1, NULL, 's'}, {"warm", 1, NULL, 'w'},
		{"threads", 1, NULL, 't'}, {NULL, 0, NULL, 0},
	};
	const char *mode = "plain";
	struct relay_conf rc;
	struct relay *r = NULL;
	pthread_t rt;
	uint64_t t0, tick, cpu0 = 0, cpu1 = 0, r0 = 0, r1 = 0, sent = 0;
	size_t npk;
	uint8_t (*pk)[ROOM];
	struct mmsghdr *mm;
	struct iovec *iov;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': mode = optarg; break;
		case 'n': G.calls = (unsigned)atoi(optarg); break;
		case 's': G.seconds = (unsigned)atoi(optarg); break;
		case 'w': G.warm = (unsigned)atoi(optarg); break;
		case 't': G.threads = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: see the head of srtp_bench.c\n");
			return 2;
		}
	}
	if (!strcmp(mode, "crypto"))
		return crypto_only();
	G.mode = !strcmp(mode, "srtp2") ? 2 : !strcmp(mode, "srtp") ? 1 : 0;
	if ((G.mode == 0 && strcmp(mode, "plain")) || !G.calls ||
	    G.calls > 600 || !G.seconds)
		die("arguments", EINVAL);
	G.fd[0] = udp(&G.addr[0]);
	G.fd[1] = udp(&G.addr[1]);
	relay_conf_default(&rc);
	sa_set_str(&rc.local, "127.0.0.1", 0);
	/* a range of its own per run (parallel runs, other programs) */
	rc.port_min = (uint16_t)(44000 + ((unsigned)getpid() % 8) * 2500);
	rc.port_max = (uint16_t)(rc.port_min + 4 * G.calls + 31);
	rc.threads = G.threads;
	rc.timeout_ms = 0;
	rc.max_sessions = G.calls + 4;
	err = relay_alloc(&r, &rc);
	if (err)
		die("relay_alloc", err);
	setup(r);
	npk = 2 * (size_t)G.calls;   /* G.calls >= 1, checked above */
	if (!npk)
		die("arguments", EINVAL);
	pk = calloc(npk, sizeof(*pk));
	mm = calloc(npk, sizeof(*mm));
	iov = calloc(npk, sizeof(*iov));
	if (!pk || !mm || !iov)
		die("calloc", ENOMEM);
	if (pthread_create(&rt, NULL, receiver, NULL))
		die("pthread_create", errno);
	t0 = mono_ns();
	for (tick = 0; tick < (uint64_t)(G.warm + G.seconds) * 50; tick++) {
		struct timespec ts;
		uint64_t due = t0 + tick * PERIOD;

		if (tick == (uint64_t)G.warm * 50) {
			(void)relay_threads_cpu(r, &cpu0);
			r0 = atomic_load(&G.rcvd);
		}
		for (unsigned s = 0; s < 2; s++) {
			unsigned n = 0, done = 0;

			for (unsigned i = 0; i < G.calls; i++, n++) {
				iov[n].iov_base = pk[n];
				iov[n].iov_len = make(i, s, pk[n]);
				memset(&mm[n], 0, sizeof(mm[n]));
				mm[n].msg_hdr.msg_iov = &iov[n];
				mm[n].msg_hdr.msg_iovlen = 1;
				mm[n].msg_hdr.msg_name = &G.c[i].dst[s];
				mm[n].msg_hdr.msg_namelen = sizeof(G.c[i].dst[s]);
			}
			while (done < n) {
				int k = sendmmsg(G.fd[s], mm + done, n - done, 0);

				if (k <= 0)
					break;
				done += (unsigned)k;
			}
			if (tick >= (uint64_t)G.warm * 50)
				sent += done;
		}
		due += PERIOD;
		ts.tv_sec = (time_t)(due / 1000000000ull);
		ts.tv_nsec = (long)(due % 1000000000ull);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	usleep(200000);        /* the last packets drain */
	(void)relay_threads_cpu(r, &cpu1);
	r1 = atomic_load(&G.rcvd);
	atomic_store(&G.stop, true);
	pthread_join(rt, NULL);
	printf("mode=%s calls=%u seconds=%u pps=%.0f relay_ns_per_pkt=%.0f "
	       "loss=%.4f%% unprotect_failed=%" PRIu64 "\n", mode, G.calls,
	       G.seconds, (double)(r1 - r0) / G.seconds,
	       r1 > r0 ? (double)(cpu1 - cpu0) / (double)(r1 - r0) : 0.0,
	       sent ? 100.0 * ((double)sent - (double)(r1 - r0)) /
	       (double)sent : 0.0, atomic_load(&G.bad));
	relay_free(r);
	for (unsigned i = 0; i < G.calls; i++)
		for (unsigned s = 0; s < 2; s++) {
			srtpc_free(G.c[i].tx[s]);
			srtpc_free(G.c[i].rx[s]);
		}
	free(G.c);
	free(pk);
	free(mm);
	free(iov);
	return atomic_load(&G.bad) ? 1 : 0;
}

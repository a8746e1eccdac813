/*
 * rtpgen — drives N concurrent G.711 calls (two 20 ms streams each, 172-byte
 * RTP packets, 50 packets/s per direction) through a relay and measures
 * what the relay costs and adds:
 *   - CPU per relayed packet (the relay's threads, or the peer process),
 *   - loss (per stream: sent - received after a drain),
 *   - added jitter: per packet, one-way delay minus the least delay seen
 *     on its stream (kernel receive timestamp SO_TIMESTAMPNS - send time);
 *     p50/p99/p99.9/max. "direct" mode (no relay) gives the floor of
 *     the machine and of this tool.
 *
 * Modes: --mode bulwark (our relay in a child process, its own threads;
 * leg A flagged behind NAT so latching is on the path), --mode direct,
 * --mode rtpengine --ng HOST:PORT --pid PID (offer/answer over the ng
 * protocol, CPU from /proc/PID/stat), --mode external: calls set up by
 * someone else (bench/bench_calls.sh: SIPp through a SIP server), the
 * relay ports given in --ports FILE (lines "a PORT": where the caller
 * sends, "b PORT": where the callee sends; the nth a and nth b need not
 * be one call: each port carries one stream), the phones bound to
 * --a-port and --b-port (what the SDP named), CPU of --pid PID[,PID...].
 *
 * The phones are a few sockets (--socks per side) shared by the calls, as
 * SIPp's pcap play does; every call has its own relay ports.
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
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <re_types.h>
#include <re_sa.h>

#include "media/relay.h"
#include "media/callrec.h"

#define PKT      172
#define PERIOD   20000000ull     /* ns */
#define MAXSOCKS 16

enum mode { M_BULWARK, M_DIRECT, M_RTPENGINE, M_EXTERNAL };
#define MAXPIDS  16

struct stream {
	int txfd;
	struct sockaddr_in dst;
	uint16_t seq;
	uint32_t ts;
	uint64_t due;
	uint64_t sent;
	uint64_t recv;
	int64_t min_delay;
	uint8_t pkt[PKT];
};

static struct {
	enum mode mode;
	unsigned calls, seconds, socks, threads, warm;
	uint16_t pmin, pmax;
	const char *ng;
	int peer_pid;
	int pids[MAXPIDS];            /* --pid list (rtpengine, external) */
	unsigned npids;
	uint16_t a_port, b_port;      /* external: the phones' ports */
	uint16_t *ext_a, *ext_b;      /* external: relay ports per call */
	const char *label;
	const char *record;           /* bulwark: record every call here */
	unsigned nstreams;
	struct stream *st;
	int afd[MAXSOCKS], bfd[MAXSOCKS];
	struct sockaddr_in aaddr[MAXSOCKS], baddr[MAXSOCKS];
	atomic_bool sending, receiving;
	atomic_uint_fast64_t rx_total;
	/* samples (stream, delay) taken in the measured window */
	uint32_t *s_stream;
	int64_t *s_delay;
	size_t nsamp, capsamp;
	atomic_bool measuring;
	int from_relay, to_relay;     /* pipes to our relay's process */
} G;

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int udp_socket(struct sockaddr_in *out, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), on = 1, big = 16 << 20;

	if (fd < 0)
		die("socket");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("getsockname");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	*out = a;
	return fd;
}

/* ---- CPU of the relay -------------------------------------------------- */

static uint64_t pid_cpu_ns(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, stt;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &stt) != 2)
		return 0;
	return (uint64_t)(ut + stt) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* the relay's CPU: our child, or every process given with --pid */
static uint64_t peer_cpu_ns(void)
{
	uint64_t sum = 0;
	unsigned i;

	if (G.mode == M_DIRECT)
		return 0;
	if (G.mode == M_BULWARK)
		return pid_cpu_ns(G.peer_pid);
	for (i = 0; i < G.npids; i++)
		sum += pid_cpu_ns(G.pids[i]);
	return sum;
}

/* external: "a PORT" / "b PORT" lines; G.calls = the pairs found */
static void load_ports(const char *path)
{
	char line[64], side;
	unsigned na = 0, nb = 0, port;
	size_t cap = 1024;
	FILE *f = fopen(path, "r");

	if (!f)
		die(path);
	G.ext_a = calloc(cap, sizeof(*G.ext_a));
	G.ext_b = calloc(cap, sizeof(*G.ext_b));
	while (G.ext_a && G.ext_b && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %c %u", &side, &port) != 2 || !port ||
		    port > 65535 || (side != 'a' && side != 'b'))
			continue;
		if (na == cap || nb == cap) {
			uint16_t *a, *b;

			cap *= 2;
			a = realloc(G.ext_a, cap * sizeof(*a));
			if (a)
				G.ext_a = a;
			b = realloc(G.ext_b, cap * sizeof(*b));
			if (b)
				G.ext_b = b;
			if (!a || !b)
				die("realloc");
		}
		if (side == 'a')
			G.ext_a[na++] = (uint16_t)port;
		else
			G.ext_b[nb++] = (uint16_t)port;
	}
	fclose(f);
	if (!G.ext_a || !G.ext_b)
		die("calloc");
	if (na != nb)
		fprintf(stderr, "%s: %u caller ports, %u callee ports: "
			"using %u calls\n", path, na, nb, na < nb ? na : nb);
	G.calls = na < nb ? na : nb;
}

/* ---- rtpengine ng protocol (bencode over UDP) -------------------------- */

static int ng_fd = -1;
static struct sockaddr_in ng_addr;

static size_t bstr(char *o, const char *s)
{
	return (size_t)sprintf(o, "%zu:%s", strlen(s), s);
}

/* offer/answer for call i; returns the port the relay gives the leg. */
static uint16_t ng_cmd(const char *cmd, unsigned call, uint16_t my_port)
{
	char sdp[512], req[2048], resp[8192], callid[48], *p, *q;
	size_t n = 0;
	ssize_t r;
	unsigned cookie = (unsigned)rand();
	int tries;

	/* unique per run: rtpengine keeps deleted calls a while */
	snprintf(callid, sizeof(callid), "rtpgen-%d-%u", (int)getpid(), call);
	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		 "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %u RTP/AVP 8\r\n"
		 "a=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n", call, my_port);
	n += (size_t)sprintf(req + n, "%u d", cookie);
	n += bstr(req + n, "command");
	n += bstr(req + n, cmd);
	n += bstr(req + n, "call-id");
	n += bstr(req + n, callid);
	n += bstr(req + n, "from-tag");
	n += bstr(req + n, "ftag");
	if (!strcmp(cmd, "answer")) {
		n += bstr(req + n, "to-tag");
		n += bstr(req + n, "ttag");
	}
	if (strcmp(cmd, "delete")) {
		n += bstr(req + n, "sdp");
		n += bstr(req + n, sdp);
		n += bstr(req + n, "ICE");
		n += bstr(req + n, "remove");
	}
	n += (size_t)sprintf(req + n, "e");
	for (tries = 0; tries < 5; tries++) {
		struct timeval tv = {1, 0};

		if (sendto(ng_fd, req, n, 0, (struct sockaddr *)&ng_addr,
			   sizeof(ng_addr)) < 0)
			die("ng sendto");
		(void)setsockopt(ng_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		r = recv(ng_fd, resp, sizeof(resp) - 1, 0);
		if (r <= 0)
			continue;
		resp[r] = 0;
		if (strtoul(resp, NULL, 10) != cookie)
			continue;
		if (!strcmp(cmd, "delete"))
			return 0;
		p = strstr(resp, "m=audio ");
		if (!p || !strstr(resp, "6:result2:ok")) {
			fprintf(stderr, "ng %s failed: %s\n", cmd, resp);
			exit(2);
		}
		q = p + 8;
		return (uint16_t)strtoul(q, NULL, 10);
	}
	fprintf(stderr, "ng %s: no answer\n", cmd);
	exit(2);
}

/* ---- our relay, in a process of its own (as in bulwarkd) --------------- */

/* The child creates the relay and the calls' sessions, writes each
 * call's two relay ports to the pipe, then waits for the parent to close
 * the other pipe. Its CPU is read from /proc like rtpengine's. */
static void relay_child(int wfd, int rfd)
{
	struct relay *r = NULL;
	struct relay_conf c;
	struct callrec *rec = NULL;
	unsigned i;
	char x;
	int err;

	relay_conf_default(&c);
	sa_set_str(&c.local, "127.0.0.1", 0);
	c.port_min = G.pmin;
	c.port_max = G.pmax;
	c.threads = G.threads;
	c.max_sessions = G.calls + 16;
	err = relay_alloc(&r, &c);
	if (err) {
		fprintf(stderr, "relay_alloc: %s\n", strerror(err));
		_exit(2);
	}
	if (G.record) {
		/* call recording (issue 13): the relay's tap on every call,
		 * the writer thread in this process, its CPU counted */
		struct callrec_conf rc = { .dir = G.record,
					   .max_live = CALLREC_MAX_LIVE };

		err = callrec_alloc(&rec, &rc);
		if (err) {
			fprintf(stderr, "callrec_alloc: %s\n", strerror(err));
			_exit(2);
		}
	}
	for (i = 0; i < G.calls; i++) {
		struct relay_ports p[2];
		struct relay_leg_conf lc;
		uint16_t out[2];
		uint32_t id;

		err = relay_session_create(r, i, &id, p);
		if (err) {
			fprintf(stderr, "call %u: %s\n", i, strerror(err));
			_exit(2);
		}
		memset(&lc, 0, sizeof(lc));
		/* A behind NAT: its SDP names a private address, the relay
		 * latches onto the real one (from the signalling's IP) */
		sa_set_str(&lc.rtp, "127.0.0.99", 4000);
		lc.nat = true;
		sa_set_str(&lc.latch_from, "127.0.0.1", 0);
		if (relay_leg_set(r, id, RELAY_LEG_A, &lc))
			_exit(2);
		memset(&lc, 0, sizeof(lc));
		sa_set_sa(&lc.rtp, (struct sockaddr *)&G.baddr[i % G.socks]);
		if (relay_leg_set(r, id, RELAY_LEG_B, &lc))
			_exit(2);
		if (rec) {
			struct callrec_tap *tap;
			char cid[32];

			snprintf(cid, sizeof(cid), "bench%u", i);
			if (callrec_start(rec, cid, 0, NULL, &tap, NULL, 0))
				_exit(2);
			if (relay_session_tap(r, id, tap))
				_exit(2);
			callrec_stop(tap);    /* the relay's reference stays */
		}
		out[0] = p[RELAY_LEG_A].rtp;
		out[1] = p[RELAY_LEG_B].rtp;
		if (write(wfd, out, sizeof(out)) != sizeof(out))
			_exit(2);
	}
	(void)!read(rfd, &x, 1);      /* until the parent closes */
	if (relay_events_lost(r))
		fprintf(stderr, "relay events lost: %" PRIu64 "\n",
			relay_events_lost(r));
	relay_free(r);
	callrec_free(rec);       /* completes the recordings */
	_exit(0);
}

static void relay_fork(void)
{
	int up[2], down[2];
	pid_t pid;

	if (pipe(up) || pipe(down))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* a session (hence a scheduler autogroup) of its own, as a
		 * daemon has: the relay does not share the generator's CPU
		 * share (bench_relay.sh starts rtpengine the same way) */
		(void)setsid();
		close(up[0]);
		close(down[1]);
		relay_child(up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	G.from_relay = up[0];
	G.to_relay = down[1];
	G.peer_pid = pid;
}

/* ---- set-up ------------------------------------------------------------ */

static void setup_calls(void)
{
	unsigned i;

	for (i = 0; i < G.socks; i++) {
		G.afd[i] = udp_socket(&G.aaddr[i], G.a_port);
		G.bfd[i] = udp_socket(&G.baddr[i], G.b_port);
	}
	if (G.mode == M_BULWARK)
		relay_fork();
	if (G.mode == M_RTPENGINE) {
		char host[64];
		const char *colon = strrchr(G.ng, ':');

		if (!colon || colon - G.ng >= (long)sizeof(host))
			die("--ng HOST:PORT");
		memcpy(host, G.ng, (size_t)(colon - G.ng));
		host[colon - G.ng] = 0;
		ng_addr.sin_family = AF_INET;
		ng_addr.sin_port = htons((uint16_t)atoi(colon + 1));
		inet_pton(AF_INET, host, &ng_addr.sin_addr);
		ng_fd = socket(AF_INET, SOCK_DGRAM, 0);
	}
	for (i = 0; i < G.calls; i++) {
		struct stream *ab = &G.st[2 * i], *ba = &G.st[2 * i + 1];
		unsigned k = i % G.socks;
		uint16_t to_a = 0, to_b = 0;   /* relay ports the phones use */

		ab->txfd = G.afd[k];
		ba->txfd = G.bfd[k];
		if (G.mode == M_DIRECT) {
			ab->dst = G.baddr[k];
			ba->dst = G.aaddr[k];
			continue;
		}
		if (G.mode == M_EXTERNAL) {
			to_a = G.ext_a[i];
			to_b = G.ext_b[i];
		} else if (G.mode == M_BULWARK) {
			uint16_t p[2];

			if (read(G.from_relay, p, sizeof(p)) != sizeof(p)) {
				fprintf(stderr, "relay process failed\n");
				exit(2);
			}
			to_a = p[0];
			to_b = p[1];
		} else {
			to_b = ng_cmd("offer", i, ntohs(G.aaddr[k].sin_port));
			to_a = ng_cmd("answer", i, ntohs(G.baddr[k].sin_port));
		}
		ab->dst.sin_family = ba->dst.sin_family = AF_INET;
		ab->dst.sin_addr.s_addr = ba->dst.sin_addr.s_addr =
			htonl(INADDR_LOOPBACK);
		ab->dst.sin_port = htons(to_a);
		ba->dst.sin_port = htons(to_b);
		if (getenv("RTPGEN_DEBUG"))
			fprintf(stderr, "call %u: A sends to %u, B sends to %u\n",
				i, to_a, to_b);
	}
}

/* ---- sender ------------------------------------------------------------ */

static void *sender(void *arg)
{
	static struct mmsghdr mm[MAXSOCKS * 2][256];
	static struct iovec iov[MAXSOCKS * 2][256];
	unsigned nq[MAXSOCKS * 2];
	int qfd[MAXSOCKS * 2];
	uint64_t start = mono_ns() + 100000000ull, end, now;
	unsigned cur = 0, i, nfds = 2 * G.socks;

	const unsigned socks = G.socks, nst = G.nstreams;

	(void)arg;
	if (!nst || !socks)
		return NULL;
	for (i = 0; i < G.socks; i++) {
		qfd[2 * i] = G.afd[i];
		qfd[2 * i + 1] = G.bfd[i];
	}
	end = start + (uint64_t)G.seconds * 1000000000ull;
	for (i = 0; i < G.nstreams; i++)
		G.st[i].due = start + (uint64_t)i * PERIOD / nst;
	while ((now = mono_ns()) < end) {
		struct timespec ts;
		uint64_t wake;
		unsigned f, n = 0;
		uint64_t stamp;

		memset(nq, 0, sizeof(nq));
		stamp = real_ns();
		while (G.st[cur].due <= now && n < G.nstreams) {
			struct stream *s = &G.st[cur];
			unsigned q = (cur % 2) + 2 * ((cur / 2) % socks);
			uint8_t *p = s->pkt;

			p[0] = 0x80;
			p[1] = 8;
			p[2] = (uint8_t)(s->seq >> 8);
			p[3] = (uint8_t)s->seq;
			p[4] = (uint8_t)(s->ts >> 24);
			p[5] = (uint8_t)(s->ts >> 16);
			p[6] = (uint8_t)(s->ts >> 8);
			p[7] = (uint8_t)s->ts;
			memcpy(p + 8, &cur, 4);            /* SSRC = stream */
			memcpy(p + 12, &cur, 4);
			memcpy(p + 16, &stamp, 8);
			s->seq++;
			s->ts += 160;
			s->sent++;
			s->due += PERIOD;
			iov[q][nq[q]].iov_base = p;
			iov[q][nq[q]].iov_len = PKT;
			memset(&mm[q][nq[q]], 0, sizeof(mm[q][0]));
			mm[q][nq[q]].msg_hdr.msg_iov = &iov[q][nq[q]];
			mm[q][nq[q]].msg_hdr.msg_iovlen = 1;
			mm[q][nq[q]].msg_hdr.msg_name = &s->dst;
			mm[q][nq[q]].msg_hdr.msg_namelen = sizeof(s->dst);
			nq[q]++;
			cur = (cur + 1) % G.nstreams;
			n++;
			if (nq[q] == 256) {
				stamp = real_ns();
				for (f = 0; f < 256; f++)
					memcpy((uint8_t *)iov[q][f].iov_base +
					       16, &stamp, 8);
				(void)sendmmsg(qfd[q], mm[q], 256, 0);
				nq[q] = 0;
			}
		}
		for (f = 0; f < nfds; f++) {
			unsigned done = 0, j;

			/* the send time, taken just before the batch leaves */
			stamp = real_ns();
			for (j = 0; j < nq[f]; j++)
				memcpy((uint8_t *)iov[f][j].iov_base + 16,
				       &stamp, 8);

			while (done < nq[f]) {
				int r = sendmmsg(qfd[f], mm[f] + done,
						 nq[f] - done, 0);

				if (r <= 0)
					break;
				done += (unsigned)r;
			}
		}
		/* tick of 1 ms: send whatever is due at each tick */
		wake = now + 1000000ull;
		ts.tv_sec = (time_t)(wake / 1000000000ull);
		ts.tv_nsec = (long)(wake % 1000000000ull);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	atomic_store(&G.sending, false);
	return NULL;
}

/* ---- receiver ---------------------------------------------------------- */

static void *receiver(void *arg)
{
	static struct mmsghdr mm[64];
	static struct iovec iov[64];
	static uint8_t buf[64][2048];
	static char ctl[64][128];
	struct epoll_event evs[32];
	int ep = epoll_create1(0);
	unsigned i;

	(void)arg;
	for (i = 0; i < G.socks; i++) {
		struct epoll_event ev = {.events = EPOLLIN};

		ev.data.fd = G.afd[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, G.afd[i], &ev);
		ev.data.fd = G.bfd[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, G.bfd[i], &ev);
	}
	for (i = 0; i < 64; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
	}
	while (atomic_load(&G.receiving)) {
		int n = epoll_wait(ep, evs, 32, 100), e;

		for (e = 0; e < n; e++) {
			int r;

			for (i = 0; i < 64; i++) {
				memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
				mm[i].msg_hdr.msg_iov = &iov[i];
				mm[i].msg_hdr.msg_iovlen = 1;
				mm[i].msg_hdr.msg_control = ctl[i];
				mm[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
			}
			r = recvmmsg(evs[e].data.fd, mm, 64, MSG_DONTWAIT, NULL);
			for (i = 0; r > 0 && i < (unsigned)r; i++) {
				struct cmsghdr *cm;
				uint64_t rx = 0, tx;
				uint32_t sid;
				struct stream *s;
				int64_t d;

				if (mm[i].msg_len < 24)
					continue;
				for (cm = CMSG_FIRSTHDR(&mm[i].msg_hdr); cm;
				     cm = CMSG_NXTHDR(&mm[i].msg_hdr, cm)) {
					if (cm->cmsg_level == SOL_SOCKET &&
					    cm->cmsg_type == SCM_TIMESTAMPNS) {
						struct timespec t;

						memcpy(&t, CMSG_DATA(cm), sizeof(t));
						rx = (uint64_t)t.tv_sec * 1000000000ull +
						     (uint64_t)t.tv_nsec;
					}
				}
				if (!rx)
					rx = real_ns();
				memcpy(&sid, buf[i] + 12, 4);
				memcpy(&tx, buf[i] + 16, 8);
				if (sid >= G.nstreams)
					continue;
				s = &G.st[sid];
				s->recv++;
				d = (int64_t)(rx - tx);
				if (d < s->min_delay)
					s->min_delay = d;
				atomic_fetch_add(&G.rx_total, 1);
				if (atomic_load(&G.measuring) &&
				    G.nsamp < G.capsamp) {
					G.s_stream[G.nsamp] = sid;
					G.s_delay[G.nsamp] = d;
					G.nsamp++;
				}
			}
		}
	}
	close(ep);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rtpgen [--mode bulwark|direct|rtpengine] [--calls N] "
		"[--seconds S] [--warm S]\n"
		"              [--threads T] [--range MIN-MAX] [--socks K] "
		"[--ng HOST:PORT --pid PID] [--record DIR]\n"
		"       rtpgen --mode external --ports FILE --a-port P "
		"--b-port P --pid PID[,PID...] [--label NAME] ...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"mode", 1, NULL, 'm'}, {"calls", 1, NULL, 'n'},
		{"seconds", 1, NULL, 's'}, {"threads", 1, NULL, 't'},
		{"range", 1, NULL, 'r'}, {"socks", 1, NULL, 'k'},
		{"ng", 1, NULL, 'g'}, {"pid", 1, NULL, 'p'},
		{"warm", 1, NULL, 'w'}, {"ports", 1, NULL, 'P'},
		{"a-port", 1, NULL, 'A'}, {"b-port", 1, NULL, 'B'},
		{"label", 1, NULL, 'L'}, {"record", 1, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	pthread_t ts, tr;
	uint64_t cpu0, cpu1, rx0, rx1, t0, t1, sent = 0, recv = 0, lost = 0;
	uint64_t gen0, gen1;
	struct rlimit rl;
	unsigned i, lossy = 0;
	int64_t *added;
	const char *ports = NULL;
	char *tok, *save;
	int c;

	G.mode = M_BULWARK;
	G.calls = 100;
	G.seconds = 20;
	G.warm = 3;
	G.threads = 1;
	G.socks = 4;
	G.pmin = 30000;
	G.pmax = 39999;
	G.ng = "127.0.0.1:22223";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			G.mode = !strcmp(optarg, "direct") ? M_DIRECT
				: !strcmp(optarg, "rtpengine") ? M_RTPENGINE
				: !strcmp(optarg, "external") ? M_EXTERNAL
				: M_BULWARK;
			break;
		case 'n': G.calls = (unsigned)atoi(optarg); break;
		case 's': G.seconds = (unsigned)atoi(optarg); break;
		case 'w': G.warm = (unsigned)atoi(optarg); break;
		case 't': G.threads = (unsigned)atoi(optarg); break;
		case 'k': G.socks = (unsigned)atoi(optarg); break;
		case 'g': G.ng = optarg; break;
		case 'p':
			for (tok = strtok_r(optarg, ",", &save); tok &&
			     G.npids < MAXPIDS; tok = strtok_r(NULL, ",", &save))
				G.pids[G.npids++] = atoi(tok);
			break;
		case 'P': ports = optarg; break;
		case 'A': G.a_port = (uint16_t)atoi(optarg); break;
		case 'B': G.b_port = (uint16_t)atoi(optarg); break;
		case 'L': G.label = optarg; break;
		case 'R': G.record = optarg; break;
		case 'r':
			if (sscanf(optarg, "%hu-%hu", &G.pmin, &G.pmax) != 2)
				usage();
			break;
		default:
			usage();
		}
	}
	if (G.mode == M_EXTERNAL) {
		/* one socket a side: the one port each SDP named */
		if (!ports || !G.a_port || !G.b_port || !G.npids)
			usage();
		G.socks = 1;
		load_ports(ports);
	}
	if (!G.calls || G.socks < 1 || G.socks > MAXSOCKS ||
	    G.seconds <= G.warm + 1)
		usage();
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* ng cookies must differ from run to run: rtpengine answers a
	 * known cookie from its cache */
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	G.nstreams = 2 * G.calls;
	G.st = calloc(G.nstreams, sizeof(*G.st));
	for (i = 0; i < G.nstreams; i++)
		G.st[i].min_delay = INT64_MAX;
	G.capsamp = (size_t)G.nstreams * 50 * G.seconds;
	G.s_stream = calloc(G.capsamp, sizeof(*G.s_stream));
	G.s_delay = calloc(G.capsamp, sizeof(*G.s_delay));
	if (!G.st || !G.s_stream || !G.s_delay)
		die("calloc");
	setup_calls();

	atomic_store(&G.sending, true);
	atomic_store(&G.receiving, true);
	pthread_create(&tr, NULL, receiver, NULL);
	pthread_create(&ts, NULL, sender, NULL);
	sleep(G.warm);
	cpu0 = peer_cpu_ns();
	rx0 = atomic_load(&G.rx_total);
	gen0 = (uint64_t)clock();
	t0 = mono_ns();
	atomic_store(&G.measuring, true);
	while (atomic_load(&G.sending)) {
		struct timespec w = {0, 50000000};

		nanosleep(&w, NULL);
		if (mono_ns() - t0 >= (uint64_t)(G.seconds - G.warm - 1) *
		    1000000000ull)
			break;
	}
	atomic_store(&G.measuring, false);
	cpu1 = peer_cpu_ns();
	rx1 = atomic_load(&G.rx_total);
	gen1 = (uint64_t)clock();
	t1 = mono_ns();
	pthread_join(ts, NULL);
	sleep(1);                                  /* drain */
	atomic_store(&G.receiving, false);
	pthread_join(tr, NULL);

	for (i = 0; i < G.nstreams; i++) {
		sent += G.st[i].sent;
		recv += G.st[i].recv;
		if (G.st[i].recv < G.st[i].sent) {
			lost += G.st[i].sent - G.st[i].recv;
			lossy++;
		}
	}
	added = malloc((G.nsamp ? G.nsamp : 1) * sizeof(*added));
	for (i = 0; i < G.nsamp; i++)
		added[i] = G.s_delay[i] - G.st[G.s_stream[i]].min_delay;
	qsort(added, G.nsamp, sizeof(*added), cmp64);
	{
		double secs = (double)(t1 - t0) / 1e9;
		double pkts = (double)(rx1 - rx0);
		const char *mname = G.label ? G.label
			: G.mode == M_BULWARK ? "bulwark"
			: G.mode == M_DIRECT ? "direct"
			: G.mode == M_EXTERNAL ? "external" : "rtpengine";
		size_t n = G.nsamp;

#define PCT(q) (n ? (double)added[(size_t)((double)(n - 1) * (q))] / 1000.0 : 0.0)
		printf("mode=%s calls=%u streams=%u window_s=%.1f "
		       "relayed_pps=%.0f cpu_us_per_pkt=%.2f relay_cpu_pct=%.1f "
		       "gen_cpu_pct=%.1f sent=%" PRIu64 " recv=%" PRIu64
		       " lost=%" PRIu64 " loss_pct=%.4f lossy_streams=%u "
		       "added_jitter_us_p50=%.1f p99=%.1f p999=%.1f max=%.1f "
		       "samples=%zu\n",
		       mname, G.calls, G.nstreams, secs, pkts / secs,
		       pkts > 0 ? (double)(cpu1 - cpu0) / 1000.0 / pkts : 0.0,
		       (double)(cpu1 - cpu0) / 1e7 / secs,
		       (double)(gen1 - gen0) / CLOCKS_PER_SEC * 100.0 / secs,
		       sent, recv, lost, sent ? 100.0 * (double)lost / (double)sent : 0.0,
		       lossy, PCT(0.5), PCT(0.99), PCT(0.999),
		       n ? (double)added[n - 1] / 1000.0 : 0.0, n);
	}
	if (G.mode == M_RTPENGINE)
		for (i = 0; i < G.calls; i++)
			(void)ng_cmd("delete", i, 0);
	if (G.mode == M_BULWARK) {
		close(G.to_relay);
		(void)waitpid(G.peer_pid, NULL, 0);
	}
	free(added);
	free(G.ext_a);
	free(G.ext_b);
	free(G.st);
	free(G.s_stream);
	free(G.s_delay);
	return lost ? 1 : 0;
}

/*
 * endpoint_bench — CPU per media endpoint leg and lost audio, on
 * loopback. N endpoints each play a tone for S seconds to a sink socket
 * and record (to a temporary directory) the G.711 the bench sends them
 * every 20 ms; at the end: the endpoint threads' CPU (process CPU minus
 * this thread's), per leg, packets the sink got against those the
 * endpoints sent, and the recorded durations against S (lost audio).
 *
 *   endpoint_bench [N [S [THREADS]]]     (100, 10, 1)
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <re.h>

#include "media/endpoint.h"
#include "media/g711.h"
#include "media/rtppkt.h"

static double cpu(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono(void)
{
	return cpu(CLOCK_MONOTONIC);
}

struct tally {
	unsigned rec_done, play_done;
	uint64_t rec_ms, in_pkts, out_pkts, drops, send_errors, skipped;
};

static void on_ev(const struct endpoint_event *ev, void *arg)
{
	struct tally *t = arg;

	if (ev->type == ENDPOINT_EV_RECORD_DONE) {
		t->rec_done++;
		t->rec_ms += ev->duration_ms;
	} else if (ev->type == ENDPOINT_EV_PLAY_DONE) {
		t->play_done++;
	} else if (ev->type == ENDPOINT_EV_DESTROYED) {
		t->in_pkts += ev->stats.in_pkts;
		t->out_pkts += ev->stats.out_pkts;
		t->drops += ev->stats.drop_source + ev->stats.drop_malformed;
		t->send_errors += ev->stats.send_errors;
		t->skipped += ev->stats.tx_skipped;
	}
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 100;
	unsigned secs = argc > 2 ? (unsigned)atoi(argv[2]) : 10;
	unsigned thr = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
	struct endpoint_conf c;
	struct endpoints *e;
	struct sa sink;
	socklen_t sl = sizeof(sink.u.in);
	int fd, rcv = 8 << 20;
	static uint32_t id[1000];
	static uint16_t port[1000];
	char dir[] = "/tmp/bw-epb-XXXXXX", path[128];
	struct tally t = {0};
	uint64_t got = 0, sent = 0;
	unsigned i, tick;
	uint8_t pkt[12 + 160], buf[1500];
	int16_t pcm[160];
	double c0, m0, w0, w1, t_next;

	if (!n || n > 1000 || !secs || !thr || thr > ENDPOINT_MAX_THREADS ||
	    !mkdtemp(dir))
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	memset(&sink, 0, sizeof(sink));
	sink.u.in.sin_family = AF_INET;
	sink.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sink.len = sizeof(sink.u.in);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (fd < 0 || bind(fd, &sink.u.sa, sink.len) ||
	    getsockname(fd, &sink.u.sa, &sl))
		return 2;
	endpoint_conf_default(&c);
	c.local = sink;
	c.local.u.in.sin_port = 0;
	c.port_min = 36000;
	c.port_max = (uint16_t)(36000 + 4 * n + 63);
	c.max_endpoints = n;
	c.threads = thr;
	if (endpoint_alloc(&e, &c))
		return 2;
	for (i = 0; i < n; i++) {
		struct endpoint_media md = {.rtp = sink, .law = G711_ULAW,
					    .te_pt = 101, .inband = true};
		struct endpoint_rec r = {.path = path, .max_ms = secs * 1000,
					 .silence_ms = 0};

		snprintf(path, sizeof(path), "%s/%u.wav", dir, i);
		if (endpoint_create(e, i, &md, &id[i], &port[i]) ||
		    endpoint_play_tone(e, id[i], 1000, secs * 1000, 8000,
				       false) ||
		    endpoint_record(e, id[i], &r))
			return 3;
	}
	memset(pcm, 0, sizeof(pcm));
	for (i = 0; i < 160; i++)
		pcm[i] = (int16_t)((i % 8 < 4) ? 4000 : -4000);
	g711x_encode(G711_ULAW, pkt + 12, pcm, 160);
	c0 = cpu(CLOCK_PROCESS_CPUTIME_ID) - cpu(CLOCK_THREAD_CPUTIME_ID);
	m0 = mono();
	t_next = m0;
	for (tick = 0; tick < secs * 50; tick++) {
		struct sa to = sink;

		for (i = 0; i < n; i++) {
			rtppkt_write(pkt, 0, false, (uint16_t)tick,
				     tick * 160, 1000 + i);
			to.u.in.sin_port = htons(port[i]);
			if (sendto(fd, pkt, sizeof(pkt), 0, &to.u.sa,
				   to.len) > 0)
				sent++;
		}
		t_next += 0.020;
		while (mono() < t_next) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int ms = (int)((t_next - mono()) * 1000) + 1;

			if (poll(&p, 1, ms) > 0)
				while (recv(fd, buf, sizeof(buf), 0) > 0)
					got++;
			endpoint_events_poll(e, on_ev, &t, 1024);
		}
	}
	w0 = mono() - m0;
	w1 = cpu(CLOCK_PROCESS_CPUTIME_ID) - cpu(CLOCK_THREAD_CPUTIME_ID) - c0;
	for (i = 0; i < 50; i++) {
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			got++;
		endpoint_events_poll(e, on_ev, &t, 1024);
		usleep(10000);
	}
	for (i = 0; i < n; i++)
		endpoint_destroy(e, id[i]);
	for (i = 0; i < 50; i++) {
		endpoint_events_poll(e, on_ev, &t, 4096);
		usleep(5000);
	}
	printf("endpoints %u, threads %u, %.1f s\n", n, thr, w0);
	printf("endpoint threads CPU: %.3f s = %.1f %% of a core, "
	       "%.1f us per leg-second (%.3f %% of a core per leg)\n",
	       w1, 100 * w1 / w0, 1e6 * w1 / (w0 * n), 100 * w1 / (w0 * n));
	/* endpoints send from create to destroy, not only the tone */
	printf("to the sink: %llu packets received of %llu the endpoints "
	       "sent (%u expected for the tone alone)\n",
	       (unsigned long long)got, (unsigned long long)t.out_pkts,
	       n * secs * 50);
	printf("send errors %llu, frames given up (thread late by more "
	       "than 100 ms) %llu\n", (unsigned long long)t.send_errors,
	       (unsigned long long)t.skipped);
	printf("from the bench: %llu sent, %llu accepted; recordings %u, "
	       "mean %.0f ms of %u; plays done %u; drops %llu\n",
	       (unsigned long long)sent, (unsigned long long)t.in_pkts,
	       t.rec_done, t.rec_done ? (double)t.rec_ms / t.rec_done : 0.0,
	       secs * 1000, t.play_done, (unsigned long long)t.drops);
	endpoint_free(e);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path))
		return 4;
	return 0;
}

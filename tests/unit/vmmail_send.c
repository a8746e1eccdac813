/*
 * vmmail_send — sends one notification through vmmail to a relay, for
 * tests/integration/test_vmmail.py (not installed). Waits for the done
 * callback and prints the status and every event as JSON lines.
 *
 *   vmmail_send HOST PORT none|starttls|smtps TO WAV|- DELAYS_MS [USER PW]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "voicemail/vmmail.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done_ok = -1;

static void on_done(const struct vmmail_msg *m, bool ok, void *arg)
{
	pthread_mutex_lock(&mu);
	done_ok = ok;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static void on_event(const char *type, json_t *f, void *arg)
{
	char *s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);

	printf("event %s %s\n", type, s ? s : "?");
	fflush(stdout);
	free(s);
}

int main(int argc, char **argv)
{
	struct vmmail *vm = NULL;
	struct vmmail_conf c = { .verify_peer = false };
	struct vmmail_msg m = { .mailbox = "201", .caller = "0612345678",
				.caller_name = "J\xc3\xbcrgen",
				.time_ms = 1700000000000LL,
				.duration_ms = 4000 };
	uint32_t d = 100;
	json_t *st;
	char *s;

	if (argc < 7 || sodium_init() < 0) {
		fprintf(stderr, "usage: vmmail_send HOST PORT SECURITY TO "
			"WAV|- DELAYS_MS [USER PW]\n");
		return 2;
	}
	snprintf(c.host, sizeof(c.host), "%s", argv[1]);
	c.port = (uint16_t)atoi(argv[2]);
	snprintf(c.security, sizeof(c.security), "%s", argv[3]);
	snprintf(c.from, sizeof(c.from), "voicemail@pbx.test");
	snprintf(m.to, sizeof(m.to), "%s", argv[4]);
	if (strcmp(argv[5], "-")) {
		snprintf(m.wav_path, sizeof(m.wav_path), "%s", argv[5]);
		m.attach = true;
	}
	d = (uint32_t)atoi(argv[6]);
	if (argc >= 9) {
		snprintf(c.user, sizeof(c.user), "%s", argv[7]);
		snprintf(c.password, sizeof(c.password), "%s", argv[8]);
	}
	if (vmmail_alloc(&vm, on_done, on_event, NULL) ||
	    vmmail_set_delays(vm, &d, 1))
		return 1;
	vmmail_configure(vm, &c);
	if (vmmail_send(vm, &m))
		return 1;
	pthread_mutex_lock(&mu);
	while (done_ok < 0)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	st = vmmail_status(vm);
	s = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	printf("status %s\n", s ? s : "?");
	free(s);
	json_decref(st);
	vmmail_free(vm);
	return done_ok ? 0 : 3;
}

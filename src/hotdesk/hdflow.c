/*
 * hdflow — what a hotdesk session says and does (docs/admin/calls.md,
 * "Hotdesk"):
 *   *55  "agent-user": the hotdesk number and #; "agent-pass": the PIN
 *        and #; right: logged in at this phone, "agent-loginok", goodbye.
 *        Wrong PIN, unknown number, a locked extension: the same
 *        "agent-incorrect" (which asks the number again), at most
 *        HD_TRIES a call, then goodbye.
 *   *56  whoever is logged in at this phone logs out: "agent-loggedoff";
 *        nobody: goodbye.
 * The PIN lives in the session only while typed and checked; digits are
 * never logged. The check and the failure accounting run on the worker:
 * a locked extension is not even compared; HD_PIN_FAILS wrong PINs in a
 * row lock it (60 s, doubling, at most 24 h), reported to the guard
 * (hotdesk_pin_failed, hotdesk_locked); a source failing on
 * HD_SRC_NUMBERS numbers within the window is banned.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "hotdesk/hd_int.h"
#include "common/log.h"
#include "store/store.h"

#define MOD "hotdesk"
#define NUM_QUIET 5000
#define PIN_QUIET 5000

static void ask_number(struct hdsess *s);
static void number_collect(struct hdsess *s);

static bool digits_only(const char *in)
{
	if (!*in)
		return false;
	for (; *in; in++)
		if (*in < '0' || *in > '9')
			return false;
	return true;
}

static void wipe(struct hdsess *s)
{
	sodium_memzero(s->pin, sizeof(s->pin));
}

void hd_src_fail(struct hotdesk *h, const char *ip, unsigned numbers)
{
	int64_t now = call_unix_ms();
	unsigned i, slot = 0, n;

	for (i = 0; i < HD_SRC_MAX; i++) {
		if (h->src[i].ip[0] && now - h->src[i].first_ms >
		    HD_SRC_WINDOW_MS)
			h->src[i].ip[0] = '\0';
		if (!strcmp(h->src[i].ip, ip)) {
			slot = i;
			break;
		}
		if (!h->src[i].ip[0] ||
		    h->src[i].first_ms < h->src[slot].first_ms)
			slot = i;
	}
	if (i == HD_SRC_MAX || !h->src[slot].ip[0] ||
	    strcmp(h->src[slot].ip, ip)) {
		snprintf(h->src[slot].ip, sizeof(h->src[slot].ip), "%s", ip);
		h->src[slot].n = 0;
		h->src[slot].first_ms = now;
	}
	if (numbers == 0)
		h->src[slot].n++;
	n = h->src[slot].n + numbers;
	if (n >= HD_SRC_NUMBERS && h->conf.ban) {
		log_warn(MOD, "source %s failed hotdesk PINs on %u numbers: "
			 "banned", ip, n);
		h->conf.ban(ip, h->conf.arg);
		h->src[slot].ip[0] = '\0';
	}
}

/* ---- the PIN check (worker) ----------------------------------------------- */

struct job {
	struct hdsess *s;          /* loop side only */
	struct hotdesk *h;
	char number[HD_NUM_MAX];
	char src_ip[64];
	char pin[HD_PIN_MAX + 1];
	bool exists, good, locked;
	int err;
	struct hd_failres fr;
};

static void job_destroy(void *arg)
{
	struct job *j = arg;

	sodium_memzero(j->pin, sizeof(j->pin));
}

static void pin_work(void *arg)
{
	struct job *j = arg;
	struct hd_state st;
	int64_t now = call_unix_ms();

	if (j->h->conf.hs &&
	    !hdstore_state_get(j->h->conf.hs, j->number, &st) &&
	    st.locked_until > now) {
		j->locked = true;
		return;            /* not even compared while locked */
	}
	j->err = store_hotdesk_pin_check(j->h->conf.store, j->number, j->pin,
					 &j->exists, &j->good);
	sodium_memzero(j->pin, sizeof(j->pin));
	if (j->err)
		j->good = false;
	if (!j->exists || !j->h->conf.hs)
		return;            /* counted per source on the loop */
	if (j->good)
		(void)hdstore_pin_ok(j->h->conf.hs, j->number);
	else
		(void)hdstore_pin_fail(j->h->conf.hs, j->number, j->src_ip,
				       now, &j->fr);
}

static void report(struct hotdesk *h, const char *type, const char *number,
		   const char *src, int64_t until)
{
	json_t *f;

	if (!h->conf.event)
		return;
	f = json_pack("{s:s, s:s}", "hotdesk", number, "src", src);
	if (f && until)
		json_object_set_new(f, "locked_until", json_integer(until));
	h->conf.event(type, f, h->conf.arg);
}

static void logged_in(struct hdsess *s);
static void pin_bad(struct hdsess *s);

static void pin_done(void *arg)
{
	struct job *j = arg;
	struct hdsess *s = j->s;
	struct hotdesk *h = j->h;
	bool live;

	if (!j->good) {
		if (j->locked)
			log_info(MOD, "hotdesk %s: log-in refused at %s, locked "
				 "(from %s)", j->number, s->phone, j->src_ip);
		else if (!j->exists)
			hd_src_fail(h, j->src_ip, 0);
		else {
			report(h, j->fr.locked ? "hotdesk_locked" :
			       "hotdesk_pin_failed", j->number, j->src_ip,
			       j->fr.locked ? j->fr.locked_until : 0);
			if (j->fr.locked)
				log_warn(MOD, "hotdesk %s locked after %u wrong "
					 "PINs (from %s)", j->number,
					 j->fr.fails, j->src_ip);
			if (j->fr.src_numbers)
				hd_src_fail(h, j->src_ip, j->fr.src_numbers);
		}
	}
	live = !s->closed;
	if (live && j->good)
		logged_in(s);
	else if (live)
		pin_bad(s);
	hd_release(s);
	mem_deref(j);
}

static void pin_check(struct hdsess *s)
{
	struct job *j = mem_zalloc(sizeof(*j), job_destroy);

	if (j) {
		j->s = s;
		j->h = s->h;
		snprintf(j->number, sizeof(j->number), "%s", s->number);
		snprintf(j->src_ip, sizeof(j->src_ip), "%s", s->src_ip);
		snprintf(j->pin, sizeof(j->pin), "%s", s->pin);
	}
	wipe(s);
	if (!j || !hd_job(s->h, s, pin_work, pin_done, j)) {
		mem_deref(j);
		log_warn(MOD, "worker queue full: log-in at %s refused",
			 s->phone);
		hd_say(s, false, hd_bye, "vm-goodbye", NULL);
	}
}

/* ---- log in ------------------------------------------------------------------ */

static void logged_in(struct hdsess *s)
{
	int err = hd_login(s->h, s->number, s->phone, s->src_ip);

	s->tries = 0;
	if (err) {
		log_warn(MOD, "hotdesk %s: log-in at %s refused: %s",
			 s->number, s->phone, err == ENOSPC ?
			 "the log-in table is full" : strerror(err));
		hd_say(s, false, hd_bye, "vm-goodbye", NULL);
		return;
	}
	hd_say(s, false, hd_bye, "agent-loginok", "vm-goodbye", NULL);
}

static void pin_bad(struct hdsess *s)
{
	wipe(s);
	s->number[0] = '\0';
	if (++s->tries >= HD_TRIES) {
		hd_say(s, false, hd_bye, "agent-incorrect", "vm-goodbye", NULL);
		return;
	}
	/* "login incorrect, please enter your number": the number again,
	 * the same for an unknown number, a wrong PIN and a lock */
	hd_say(s, true, number_collect, "agent-incorrect", NULL);
}

static void got_pin(struct hdsess *s, const char *in)
{
	snprintf(s->pin, sizeof(s->pin), "%s", in);
	if (!digits_only(s->pin) || strlen(in) > HD_PIN_MAX) {
		pin_bad(s);
		return;
	}
	pin_check(s);
}

static void pin_collect(struct hdsess *s)
{
	hd_collect(s, HD_PIN_MAX + 1, PIN_QUIET, got_pin);
}

static void got_number(struct hdsess *s, const char *in)
{
	if (!digits_only(in) || strlen(in) >= sizeof(s->number)) {
		/* nothing typed, or not a number: ask again (bounded) */
		if (++s->quiet >= HD_TRIES) {
			hd_say(s, false, hd_bye, "vm-goodbye", NULL);
			return;
		}
		ask_number(s);
		return;
	}
	snprintf(s->number, sizeof(s->number), "%s", in);
	hd_say(s, true, pin_collect, "agent-pass", NULL);
}

static void number_collect(struct hdsess *s)
{
	hd_collect(s, HD_NUM_MAX - 1, NUM_QUIET, got_number);
}

static void ask_number(struct hdsess *s)
{
	hd_say(s, true, number_collect, "agent-user", NULL);
}

/* ---- log out ----------------------------------------------------------------- */

static void log_out(struct hdsess *s)
{
	const char *hd = NULL;
	char num[HD_NUM_MAX];

	for (size_t i = 0; i < s->h->tab.n; i++)
		if (!strcmp(s->h->tab.e[i].phone, s->phone))
			hd = s->h->tab.e[i].number;
	if (!hd) {
		log_info(MOD, "log-out code at %s: nobody logged in there",
			 s->phone);
		hd_say(s, false, hd_bye, "vm-goodbye", NULL);
		return;
	}
	snprintf(num, sizeof(num), "%s", hd);
	(void)hd_logout(s->h, num, "log-out code");
	hd_say(s, false, hd_bye, "agent-loggedoff", "vm-goodbye", NULL);
}

void hd_flow_start(struct hdsess *s)
{
	if (s->logout)
		log_out(s);
	else
		ask_number(s);
}

/*
 * test_voicesess — the voice session engine (src/media/voicesess.c) over a
 * fake endpoint: the play/stop commands it sends are logged here, and the
 * test feeds it the events an endpoint would (PLAY_DONE ends, digits, SIP
 * INFO digits). The real timer (libre) runs for the timeout cases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_sa.h>
#include <re_list.h>
#include <re_tmr.h>
#include <re_main.h>

#include "media/voicesess.h"

/* ---- the fake endpoint ---------------------------------------------------- */

static char played[16][64];      /* "p:name:b" / "f:path:-" */
static unsigned n_played, n_stops;

static int fake_play(char kind, const char *name, bool barge)
{
	/* a name the endpoint refuses at once (bad name) */
	if (!strcmp(name, "refused"))
		return EINVAL;
	if (n_played < 16)
		snprintf(played[n_played], sizeof(played[0]), "%c:%s:%c",
			 kind, name, barge ? 'b' : '-');
	n_played++;
	return 0;
}

int endpoint_play_prompt(struct endpoints *e, uint32_t id, const char *name,
			 bool barge)
{
	(void)e;
	(void)id;
	return fake_play('p', name, barge);
}

int endpoint_play_file(struct endpoints *e, uint32_t id, const char *path,
		       bool barge)
{
	(void)e;
	(void)id;
	return fake_play('f', path, barge);
}

int endpoint_play_stop(struct endpoints *e, uint32_t id)
{
	(void)e;
	(void)id;
	n_stops++;
	return 0;
}

/* ---- the owner -------------------------------------------------------------- */

struct owner {
	unsigned afters, inputs;
	char in[VS_DIG_MAX + 1];
	bool stop_loop;
};

static void after(void *arg)
{
	struct owner *o = arg;

	o->afters++;
}

static void input(void *arg, const char *in)
{
	struct owner *o = arg;

	o->inputs++;
	snprintf(o->in, sizeof(o->in), "%s", in);
	if (o->stop_loop)
		re_cancel();
}

static struct voicesess v;
static struct owner o;

static int setup(void **state)
{
	(void)state;
	memset(&o, 0, sizeof(o));
	memset(played, 0, sizeof(played));
	n_played = n_stops = 0;
	vs_init(&v, NULL, 7, &o);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vs_close(&v);
	return 0;
}

static void digits(const char *d)
{
	for (; *d; d++)
		vs_digit(&v, *d);
}

/* ---- the prompt queue ----------------------------------------------------------- */

static void test_queue_order(void **state)
{
	(void)state;
	vs_q_prompt(&v, "vm-intro");
	vs_q_file(&v, "/data/greet.wav");
	vs_q_prompt(&v, "beep");
	vs_play(&v, false, after);
	assert_int_equal(n_played, 1);
	assert_string_equal(played[0], "p:vm-intro:-");
	assert_true(vs_playing(&v));
	vs_play_done(&v, ENDPOINT_END_DONE);
	assert_int_equal(n_played, 2);
	assert_string_equal(played[1], "f:/data/greet.wav:-");
	vs_play_done(&v, ENDPOINT_END_DONE);
	assert_string_equal(played[2], "p:beep:-");
	assert_int_equal(o.afters, 0);
	vs_play_done(&v, ENDPOINT_END_DONE);
	assert_int_equal(n_played, 3);
	assert_int_equal(o.afters, 1);
	assert_false(vs_playing(&v));
	/* a late end (nothing playing) does nothing more */
	vs_play_done(&v, ENDPOINT_END_DONE);
	assert_int_equal(o.afters, 1);
	/* the queue was emptied: a new play says only what is queued now */
	vs_q_prompt(&v, "vm-goodbye");
	vs_play(&v, false, after);
	assert_int_equal(n_played, 4);
	assert_string_equal(played[3], "p:vm-goodbye:-");
}

static void test_queue_bounded(void **state)
{
	(void)state;
	for (unsigned i = 0; i < VS_Q_MAX + 5; i++)
		vs_q_prompt(&v, "x");
	assert_int_equal(v.nq, VS_Q_MAX);
}

static void test_barge_in(void **state)
{
	(void)state;
	vs_q_prompt(&v, "a");
	vs_q_prompt(&v, "b");
	vs_q_prompt(&v, "c");
	vs_play(&v, true, after);
	assert_string_equal(played[0], "p:a:b");
	/* the endpoint reports the key, then the prompt's BARGE end */
	vs_digit(&v, '5');
	vs_play_done(&v, ENDPOINT_END_BARGE);
	assert_int_equal(n_played, 1);   /* b and c skipped */
	assert_int_equal(o.afters, 1);
	assert_string_equal(vs_typed(&v), "5");   /* kept as type-ahead */
}

static void test_info_digit_stops(void **state)
{
	(void)state;
	vs_q_prompt(&v, "a");
	vs_q_prompt(&v, "b");
	vs_play(&v, true, after);
	vs_info_digit(&v, '9');
	assert_int_equal(n_stops, 1);
	vs_play_done(&v, ENDPOINT_END_STOPPED);
	assert_int_equal(n_played, 1);
	assert_int_equal(o.afters, 1);
	assert_string_equal(vs_typed(&v), "9");
}

static void test_no_barge(void **state)
{
	(void)state;
	vs_q_prompt(&v, "a");
	vs_q_prompt(&v, "b");
	vs_play(&v, false, after);
	/* an INFO key does not stop a prompt that cannot be barged */
	vs_info_digit(&v, '1');
	assert_int_equal(n_stops, 0);
	/* a STOPPED end not caused by a key (e.g. destroy) ends nothing */
	vs_play_done(&v, ENDPOINT_END_STOPPED);
	assert_int_equal(o.afters, 0);
}

static void test_type_ahead_skips(void **state)
{
	(void)state;
	digits("3");
	vs_q_prompt(&v, "a");
	vs_q_prompt(&v, "b");
	vs_play(&v, true, after);
	assert_int_equal(n_played, 0);
	assert_int_equal(o.afters, 1);
	assert_int_equal(v.nq, 0);
	/* without barge the typed key does not skip */
	vs_q_prompt(&v, "c");
	vs_play(&v, false, after);
	assert_int_equal(n_played, 1);
	assert_string_equal(played[0], "p:c:-");
}

static void test_missing_prompt_skipped(void **state)
{
	(void)state;
	vs_q_prompt(&v, "gone");
	vs_q_prompt(&v, "refused");   /* refused at once */
	vs_q_prompt(&v, "last");
	vs_play(&v, false, after);
	assert_string_equal(played[0], "p:gone:-");
	/* the file is missing: the endpoint ends it with ERROR */
	vs_play_done(&v, ENDPOINT_END_ERROR);
	assert_int_equal(n_played, 2);
	assert_string_equal(played[1], "p:last:-");
	vs_play_done(&v, ENDPOINT_END_DONE);
	assert_int_equal(o.afters, 1);
}

/* ---- digits ------------------------------------------------------------------------ */

static void test_hash_ends(void **state)
{
	(void)state;
	vs_collect(&v, 8, 5000, input);
	digits("12");
	assert_int_equal(o.inputs, 0);
	digits("#9");
	assert_int_equal(o.inputs, 1);
	assert_string_equal(o.in, "12");
	assert_string_equal(vs_typed(&v), "9");
	/* a lone '#' is an empty input */
	vs_digits_clear(&v);
	vs_collect(&v, 8, 5000, input);
	digits("#");
	assert_int_equal(o.inputs, 2);
	assert_string_equal(o.in, "");
}

static void test_length_ends(void **state)
{
	(void)state;
	digits("1234");          /* typed ahead before the question */
	vs_collect(&v, 3, 5000, input);
	assert_int_equal(o.inputs, 1);
	assert_string_equal(o.in, "123");
	assert_string_equal(vs_typed(&v), "4");
	/* one key: any key, '#' too, is the input */
	vs_digits_clear(&v);
	vs_collect(&v, 1, 5000, input);
	digits("#");
	assert_int_equal(o.inputs, 2);
	assert_string_equal(o.in, "#");
	/* not collecting: digits wait */
	digits("56");
	assert_int_equal(o.inputs, 2);
	assert_string_equal(vs_typed(&v), "56");
}

static void guard_h(void *arg)
{
	(void)arg;
	re_cancel();
}

static void run_loop(void)
{
	struct tmr guard;

	tmr_init(&guard);
	tmr_start(&guard, 3000, guard_h, NULL);
	o.stop_loop = true;
	assert_int_equal(re_main(NULL), 0);
	tmr_cancel(&guard);
}

static void test_timeout(void **state)
{
	(void)state;
	vs_collect(&v, 8, 40, input);
	digits("47");
	run_loop();
	assert_int_equal(o.inputs, 1);
	assert_string_equal(o.in, "47");
	assert_string_equal(vs_typed(&v), "");
	/* nothing typed: the input is empty */
	vs_collect(&v, 1, 40, input);
	run_loop();
	assert_int_equal(o.inputs, 2);
	assert_string_equal(o.in, "");
}

static void test_digits_wiped(void **state)
{
	char zero[VS_DIG_MAX + 1];

	(void)state;
	memset(zero, 0, sizeof(zero));
	vs_collect(&v, VS_DIG_MAX, 5000, input);
	digits("8642#");
	assert_string_equal(o.in, "8642");
	/* the taken digits (maybe a PIN) stay nowhere in the buffer */
	assert_memory_equal(v.dig, zero, sizeof(zero));
	/* the rest after a '#' moves up; nothing of the PIN behind it */
	vs_collect(&v, VS_DIG_MAX, 5000, input);
	digits("13#57");
	assert_string_equal(o.in, "13");
	assert_string_equal(v.dig, "57");
	assert_memory_equal(v.dig + 2, zero, sizeof(zero) - 2);
	vs_digits_clear(&v);
	assert_memory_equal(v.dig, zero, sizeof(zero));
	/* a flood is bounded */
	for (unsigned i = 0; i < VS_DIG_MAX + 10; i++)
		vs_digit(&v, '1');
	assert_int_equal(v.ndig, VS_DIG_MAX);
	/* closing wipes what was typed */
	vs_close(&v);
	assert_memory_equal(v.dig, zero, sizeof(zero));
}

static void test_closed_is_quiet(void **state)
{
	(void)state;
	vs_q_prompt(&v, "a");
	vs_play(&v, true, after);
	vs_collect(&v, 4, 40, input);
	vs_close(&v);
	vs_play_done(&v, ENDPOINT_END_DONE);
	digits("1234#");
	vs_info_digit(&v, '1');
	assert_int_equal(o.afters, 0);
	assert_int_equal(o.inputs, 0);
	assert_int_equal(n_stops, 0);
	assert_string_equal(vs_typed(&v), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_barge_in, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_info_digit_stops, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_barge, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_type_ahead_skips, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_prompt_skipped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_ends, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_length_ends, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_digits_wiped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_closed_is_quiet, setup,
						teardown),
	};
	int rc;

	if (libre_init())
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	libre_close();
	return rc;
}

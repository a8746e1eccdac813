/*
 * Unit tests of voicemail/vmwork.c: jobs run in order on the worker, their
 * done() on the caller's thread at drain, the bound refuses more, and
 * freeing runs what was queued and hands undrained jobs to cancel.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "voicemail/vmwork.h"

static pthread_t main_thr;
static int worked[64], nworked, done_order[64], ndone, cancelled;
static bool done_on_main = true, work_off_main = true;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;

static void work(void *arg)
{
	pthread_mutex_lock(&mtx);
	if (pthread_equal(pthread_self(), main_thr))
		work_off_main = false;
	worked[nworked++] = (int)(intptr_t)arg;
	pthread_mutex_unlock(&mtx);
}

static void slow(void *arg)
{
	usleep(100000);
	work(arg);
}

static void done(void *arg)
{
	if (!pthread_equal(pthread_self(), main_thr))
		done_on_main = false;
	done_order[ndone++] = (int)(intptr_t)arg;
}

static void cancel(void *arg)
{
	(void)arg;
	cancelled++;
}

static int setup(void **state)
{
	(void)state;
	main_thr = pthread_self();
	nworked = ndone = cancelled = 0;
	done_on_main = work_off_main = true;
	return 0;
}

static void wait_done(struct vmwork *w, int n)
{
	struct pollfd p = { .fd = vmwork_fd(w), .events = POLLIN };

	for (int i = 0; i < 200 && ndone < n; i++) {
		if (poll(&p, 1, 50) > 0)
			vmwork_drain(w);
	}
}

static void in_order_done_on_the_caller(void **state)
{
	struct vmwork *w = NULL;

	(void)state;
	assert_int_equal(vmwork_alloc(&w, 16), 0);
	for (intptr_t i = 0; i < 10; i++)
		assert_int_equal(vmwork_put(w, work, done, (void *)i), 0);
	wait_done(w, 10);
	assert_int_equal(ndone, 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(worked[i], i);
		assert_int_equal(done_order[i], i);
	}
	assert_true(done_on_main);
	assert_true(work_off_main);
	vmwork_free(w, cancel);
	assert_int_equal(cancelled, 0);
}

static void bounded(void **state)
{
	struct vmwork *w = NULL;

	(void)state;
	assert_int_equal(vmwork_alloc(&w, 3), 0);
	assert_int_equal(vmwork_put(w, slow, done, (void *)1), 0);
	assert_int_equal(vmwork_put(w, work, done, (void *)2), 0);
	assert_int_equal(vmwork_put(w, work, done, (void *)3), 0);
	/* finished but not drained still counts against the bound */
	assert_int_equal(vmwork_put(w, work, done, (void *)4), ENOSPC);
	wait_done(w, 3);
	assert_int_equal(ndone, 3);
	assert_int_equal(vmwork_put(w, work, done, (void *)5), 0);
	wait_done(w, 4);
	assert_int_equal(done_order[3], 5);
	assert_int_equal(vmwork_put(NULL, work, done, NULL), EINVAL);
	assert_int_equal(vmwork_put(w, NULL, done, NULL), EINVAL);
	vmwork_free(w, cancel);
}

static void free_runs_queued_work_and_cancels_the_rest(void **state)
{
	struct vmwork *w = NULL;

	(void)state;
	assert_int_equal(vmwork_alloc(&w, 8), 0);
	assert_int_equal(vmwork_put(w, slow, done, (void *)1), 0);
	assert_int_equal(vmwork_put(w, work, done, (void *)2), 0);
	assert_int_equal(vmwork_put(w, work, done, (void *)3), 0);
	vmwork_free(w, cancel);
	/* a message being saved is saved: every work ran */
	assert_int_equal(nworked, 3);
	/* nobody drained: no done(), each job's arg went to cancel */
	assert_int_equal(ndone, 0);
	assert_int_equal(cancelled, 3);
	vmwork_free(NULL, cancel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(in_order_done_on_the_caller, setup),
		cmocka_unit_test_setup(bounded, setup),
		cmocka_unit_test_setup(free_runs_queued_work_and_cancels_the_rest,
				       setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

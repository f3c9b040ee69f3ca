/* Unit tests for src/engine/iplimit: slots per address, FIFO grants from the loop,
 * cancellation of waiters, and state dropped when an address is idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>

#include "engine/iplimit.h"

struct waiter {
	struct iplimit_ticket t;
	int granted;
	int order;
};

static int grant_seq;

static void on_grant(void *arg)
{
	struct waiter *w = arg;
	w->granted++;
	w->order = ++grant_seq;
}

static void test_cap_and_fifo(void **state)
{
	struct event_base *base = event_base_new();
	struct iplimit *l = iplimit_new(base, 2);
	struct waiter w[5];
	(void)state;

	memset(w, 0, sizeof(w));
	grant_seq = 0;
	assert_int_equal(iplimit_acquire(l, "127.0.0.1", &w[0].t, on_grant, &w[0]), 1);
	assert_int_equal(iplimit_acquire(l, "127.0.0.1", &w[1].t, on_grant, &w[1]), 1);
	assert_int_equal(iplimit_acquire(l, "127.0.0.1", &w[2].t, on_grant, &w[2]), 0);
	assert_int_equal(iplimit_acquire(l, "127.0.0.1", &w[3].t, on_grant, &w[3]), 0);
	/* another address is not held back by the first one's queue */
	assert_int_equal(iplimit_acquire(l, "::1", &w[4].t, on_grant, &w[4]), 1);
	assert_int_equal(iplimit_active(l, "127.0.0.1"), 2);
	assert_int_equal(iplimit_waiting(l, "127.0.0.1"), 2);
	assert_int_equal(iplimit_entries(l), 2);

	iplimit_release(l, &w[0].t);
	/* granted from the loop, not inside release */
	assert_int_equal(w[2].granted, 0);
	assert_int_equal(iplimit_active(l, "127.0.0.1"), 2);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(w[2].granted, 1);
	assert_int_equal(w[3].granted, 0);
	iplimit_release(l, &w[1].t);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(w[3].granted, 1);
	assert_true(w[2].order < w[3].order);
	assert_int_equal(iplimit_peak(l), 2);

	iplimit_release(l, &w[2].t);
	iplimit_release(l, &w[3].t);
	iplimit_release(l, &w[4].t);
	assert_int_equal(iplimit_entries(l), 0);
	assert_int_equal(iplimit_active(l, "127.0.0.1"), 0);
	iplimit_free(l);
	event_base_free(base);
}

static void test_cancel_waiter_and_ready(void **state)
{
	struct event_base *base = event_base_new();
	struct iplimit *l = iplimit_new(base, 1);
	struct waiter w[4];
	(void)state;

	memset(w, 0, sizeof(w));
	assert_int_equal(iplimit_acquire(l, "10.0.0.1", &w[0].t, on_grant, &w[0]), 1);
	assert_int_equal(iplimit_acquire(l, "10.0.0.1", &w[1].t, on_grant, &w[1]), 0);
	assert_int_equal(iplimit_acquire(l, "10.0.0.1", &w[2].t, on_grant, &w[2]), 0);
	assert_int_equal(iplimit_acquire(l, "10.0.0.1", &w[3].t, on_grant, &w[3]), 0);
	/* a waiter leaves the queue: it is never granted */
	iplimit_release(l, &w[2].t);
	assert_int_equal(iplimit_waiting(l, "10.0.0.1"), 2);
	/* releasing an idle ticket again changes nothing */
	iplimit_release(l, &w[2].t);
	assert_int_equal(iplimit_waiting(l, "10.0.0.1"), 2);
	/* w[1] is granted but released before its callback ran: the slot passes to w[3] */
	iplimit_release(l, &w[0].t);
	iplimit_release(l, &w[1].t);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(w[1].granted, 0);
	assert_int_equal(w[2].granted, 0);
	assert_int_equal(w[3].granted, 1);
	assert_int_equal(iplimit_active(l, "10.0.0.1"), 1);
	assert_int_equal(iplimit_peak(l), 1);
	iplimit_release(l, &w[3].t);
	assert_int_equal(iplimit_entries(l), 0);
	iplimit_free(l);
	event_base_free(base);
}

/* Many addresses: state exists only while something is held or waiting. */
static void test_many_addresses(void **state)
{
	struct event_base *base = event_base_new();
	struct iplimit *l = iplimit_new(base, 1);
	static struct waiter w[3000];
	char addr[32];
	(void)state;

	for (int i = 0; i < 3000; i++) {
		snprintf(addr, sizeof(addr), "127.2.%d.%d", i / 250, i % 250);
		assert_int_equal(iplimit_acquire(l, addr, &w[i].t, on_grant, &w[i]), 1);
	}
	assert_int_equal(iplimit_entries(l), 3000);
	for (int i = 0; i < 3000; i++)
		iplimit_release(l, &w[i].t);
	assert_int_equal(iplimit_entries(l), 0);
	/* free with waiters still queued: no callback, no leak */
	assert_int_equal(iplimit_acquire(l, "a", &w[0].t, on_grant, &w[0]), 1);
	assert_int_equal(iplimit_acquire(l, "a", &w[1].t, on_grant, &w[1]), 0);
	iplimit_free(l);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_and_fifo),
		cmocka_unit_test(test_cancel_waiter_and_ready),
		cmocka_unit_test(test_many_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Fibers: a wait on a socket parks the fiber while the loop goes on, the
 * answer resumes it where it stopped, a limit ends the wait, and a hold
 * lets one fiber at a time through. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "coopbill/fiber.h"

struct waiter {
	int fd;
	int timeout_ms;
	int result;
	char got;
	unsigned ticks_seen; /* the loop's timer ticks when the wait ended */
	bool done;
	char name; /* its letter in the log */
	char *log; /* what the fibers did, in order */
	struct fiber_hold *hold;
};

static unsigned ticks;

static void on_tick(uv_timer_t *timer)
{
	ticks++;
}

static void wait_read(void *data)
{
	struct waiter *waiter = data;

	waiter->result = fiber_wait_fd(waiter->fd, false, waiter->timeout_ms);
	if (waiter->result == 0)
		assert_int_equal(read(waiter->fd, &waiter->got, 1), 1);
	waiter->ticks_seen = ticks;
}

static void on_done(void *data)
{
	((struct waiter *)data)->done = true;
}

static void on_write(uv_timer_t *timer)
{
	int *fd = timer->data;

	assert_int_equal(write(*fd, "x", 1), 1);
}

static void on_stop(uv_timer_t *timer)
{
	uv_stop(timer->loop);
}

static void on_closed(uv_handle_t *handle)
{
}

/* Runs the loop until stop_ms, with a timer ticking every millisecond
 * and, at write_ms (if not negative), a byte written to write_fd. */
static void run_loop(uv_loop_t *loop, int *write_fd, int write_ms, int stop_ms)
{
	uv_timer_t tick, write, stop;

	uv_timer_init(loop, &tick);
	uv_timer_init(loop, &write);
	uv_timer_init(loop, &stop);
	write.data = write_fd;
	uv_timer_start(&tick, on_tick, 1, 1);
	if (write_ms >= 0)
		uv_timer_start(&write, on_write, (uint64_t)write_ms, 0);
	uv_timer_start(&stop, on_stop, (uint64_t)stop_ms, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&tick, on_closed);
	uv_close((uv_handle_t *)&write, on_closed);
	uv_close((uv_handle_t *)&stop, on_closed);
	uv_run(loop, UV_RUN_DEFAULT);
}

/* A loop for fibers, and a pipe to wait on. */
static void begin(uv_loop_t *loop, int fds[2])
{
	assert_int_equal(uv_loop_init(loop), 0);
	fiber_init(loop);
	assert_int_equal(pipe(fds), 0);
}

static void finish(uv_loop_t *loop, int fds[2])
{
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(fiber_count(), 0);
	fiber_shutdown();
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void test_wait_lets_the_loop_run(void **state)
{
	struct waiter waiter = { .timeout_ms = -1 };
	uv_loop_t loop;
	int fds[2];

	begin(&loop, fds);
	waiter.fd = fds[0];
	ticks = 0;
	assert_int_equal(fiber_run(NULL, wait_read, on_done, &waiter), 1);
	assert_int_equal(fiber_count(), 1);
	assert_false(waiter.done);
	run_loop(&loop, &fds[1], 50, 80);
	assert_true(waiter.done);
	assert_int_equal(waiter.result, 0);
	assert_int_equal(waiter.got, 'x');
	/* The loop's timers ran while the fiber waited. */
	assert_true(waiter.ticks_seen > 0);
	finish(&loop, fds);
}

static void test_wait_ends_at_its_limit(void **state)
{
	struct waiter waiter = { .timeout_ms = 20 };
	uv_loop_t loop;
	int fds[2];

	begin(&loop, fds);
	waiter.fd = fds[0];
	assert_int_equal(fiber_run(NULL, wait_read, on_done, &waiter), 1);
	run_loop(&loop, NULL, -1, 60);
	assert_true(waiter.done);
	assert_int_equal(waiter.result, -ETIMEDOUT);
	finish(&loop, fds);
}

static void test_no_wait_ends_at_once(void **state)
{
	struct waiter waiter = { .timeout_ms = -1 };
	uv_loop_t loop;
	int fds[2];

	begin(&loop, fds);
	assert_int_equal(write(fds[1], "y", 1), 1);
	waiter.fd = fds[0];
	/* Readable already: poll(2) answers on the loop's stack too. */
	wait_read(&waiter);
	assert_int_equal(waiter.result, 0);
	assert_int_equal(waiter.got, 'y');
	finish(&loop, fds);
}

static void log_letter(struct waiter *waiter, char letter)
{
	size_t len = strlen(waiter->log);

	waiter->log[len] = letter;
	waiter->log[len + 1] = '\0';
}

/* Takes the hold, logs its letter, waits for a byte, logs it again. */
static void hold_and_wait(void *data)
{
	struct waiter *waiter = data;

	assert_int_equal(fiber_hold_take(waiter->hold), 0);
	log_letter(waiter, waiter->name);
	waiter->result = fiber_wait_fd(waiter->fd, false, -1);
	log_letter(waiter, (char)(waiter->name + 'a' - 'A'));
}

static void test_hold_lets_one_through(void **state)
{
	struct fiber_hold hold = { 0 };
	char log[8] = "";
	struct waiter a = { .timeout_ms = -1, .name = 'A', .log = log, .hold = &hold };
	struct waiter b = { .timeout_ms = -1, .name = 'B', .log = log, .hold = &hold };
	uv_loop_t loop;
	int fds[2];

	begin(&loop, fds);
	a.fd = b.fd = fds[0];
	assert_int_equal(fiber_run(NULL, hold_and_wait, on_done, &a), 1);
	assert_int_equal(fiber_run(NULL, hold_and_wait, on_done, &b), 1);
	/* The loop's stack may not use what a fiber holds. */
	assert_int_equal(fiber_hold_take(&hold), -EBUSY);
	assert_true(fiber_hold_elsewhere(&hold));
	/* B waits for A to end before it takes the hold, though the byte
	 * that ends A's wait would end B's too. */
	assert_int_equal(write(fds[1], "z", 1), 1);
	run_loop(&loop, NULL, -1, 30);
	assert_string_equal(log, "AaBb");
	assert_true(a.done && b.done);
	assert_int_equal(fiber_hold_take(&hold), 0);
	assert_false(fiber_hold_elsewhere(&hold));
	finish(&loop, fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_lets_the_loop_run),
		cmocka_unit_test(test_wait_ends_at_its_limit),
		cmocka_unit_test(test_no_wait_ends_at_once),
		cmocka_unit_test(test_hold_lets_one_through),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

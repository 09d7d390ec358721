/* Fibers on ucontext(3): each has a stack of its own (mapped, with a guard
 * page below it), entered with swapcontext() from the loop's stack and left
 * back to it when it waits or ends. A wait on a socket is a uv_poll_t on
 * it (and a uv_timer_t for the limit) whose callback enters the fiber
 * again; a fiber waiting its turn for a hold is entered from an idle
 * handle once the hold is handed to it.
 *
 * Under AddressSanitizer each switch says where the stack goes
 * (__sanitizer_start_switch_fiber), and under valgrind each stack is
 * registered, so that neither takes a switch for a stack overflow. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "coopbill/fiber.h"

#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif
#ifdef FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(start, end) 0
#define VALGRIND_STACK_DEREGISTER(id)
#endif

/* Deep enough for what runs on a fiber (a request's handler, a poll's
 * commit, libpq); only the pages touched take memory. */
#define FIBER_STACK_SIZE (512 * 1024)
/* Stacks kept for the next fibers instead of unmapped. */
#define FIBER_SPARE_STACKS 16

struct fiber_stack {
	void *base; /* the guard page, then the stack */
	size_t size;
	unsigned valgrind_id;
};

struct fiber {
	ucontext_t context;
	struct fiber_stack stack;
	fiber_fn fn, done;
	void *data;
	struct fiber_hold *hold; /* taken before fn runs */
	bool parked;		 /* it waited once: done runs when it ends */
	bool ended;
	struct fiber *next;	  /* in the ready list or a hold's waiting list */
	struct fiber_hold *holds; /* what it holds until it ends */
	void *fake_stack;	  /* AddressSanitizer's, while it is parked */
};

/* A socket some fiber waited on, watched again by the next wait on it. */
struct fiber_watch {
	uv_poll_t poll;
	uv_timer_t timer;
	int fd;
	int result;
	int open_handles; /* freed when both are closed */
	struct fiber *waiter;
	struct fiber_watch *next;
};

static struct {
	uv_loop_t *loop;
	ucontext_t loop_context;
	struct fiber *current;
	struct fiber *ready_head, *ready_tail;
	uv_idle_t runner;
	bool runner_ready;
	unsigned count;
	struct fiber_stack spare[FIBER_SPARE_STACKS];
	size_t n_spare;
	struct fiber_watch *watches;
	const void *loop_stack_bottom;
	size_t loop_stack_size;
	void *loop_fake_stack;
} fibers;

static void switch_begin(void **fake_stack_save, const void *bottom, size_t size)
{
#ifdef FIBER_ASAN
	__sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
	(void)fake_stack_save;
	(void)bottom;
	(void)size;
#endif
}

static void switch_end(void *fake_stack_save, const void **ret_bottom, size_t *ret_size)
{
#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(fake_stack_save, ret_bottom, ret_size);
#else
	(void)fake_stack_save;
	(void)ret_bottom;
	(void)ret_size;
#endif
}

static int stack_get(struct fiber_stack *stack)
{
	long page = sysconf(_SC_PAGESIZE);
	void *base;

	if (fibers.n_spare > 0) {
		*stack = fibers.spare[--fibers.n_spare];
		return 0;
	}
	base = mmap(NULL, FIBER_STACK_SIZE + (size_t)page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	/* An overflow faults on the guard page instead of writing below. */
	if (mprotect(base, (size_t)page, PROT_NONE) < 0) {
		munmap(base, FIBER_STACK_SIZE + (size_t)page);
		return -ENOMEM;
	}
	stack->base = base;
	stack->size = FIBER_STACK_SIZE;
	stack->valgrind_id = VALGRIND_STACK_REGISTER((char *)base + page,
						     (char *)base + page + FIBER_STACK_SIZE);
	return 0;
}

static void stack_put(struct fiber_stack *stack)
{
	if (fibers.n_spare < FIBER_SPARE_STACKS) {
		fibers.spare[fibers.n_spare++] = *stack;
		return;
	}
	VALGRIND_STACK_DEREGISTER(stack->valgrind_id);
	munmap(stack->base, stack->size + (size_t)sysconf(_SC_PAGESIZE));
}

static void *stack_area(const struct fiber_stack *stack)
{
	return (char *)stack->base + sysconf(_SC_PAGESIZE);
}

static void holds_release(struct fiber *fiber);

/* Leaves the running fiber for the loop's stack: to wait, or for good. */
static void switch_out(struct fiber *fiber)
{
	switch_begin(fiber->ended ? NULL : &fiber->fake_stack, fibers.loop_stack_bottom,
		     fibers.loop_stack_size);
	swapcontext(&fiber->context, &fibers.loop_context);
	switch_end(fiber->fake_stack, &fibers.loop_stack_bottom, &fibers.loop_stack_size);
}

static void trampoline(void)
{
	struct fiber *fiber = fibers.current;

	switch_end(NULL, &fibers.loop_stack_bottom, &fibers.loop_stack_size);
	if (fiber->hold)
		(void)fiber_hold_take(fiber->hold);
	fiber->fn(fiber->data);
	holds_release(fiber);
	fiber->ended = true;
	switch_out(fiber);
}

/* Runs a fiber from the loop's stack until it waits or ends: true when it
 * ended (and is freed). */
static bool switch_in(struct fiber *fiber)
{
	fiber_fn done;
	void *data;

	fibers.current = fiber;
	switch_begin(&fibers.loop_fake_stack, stack_area(&fiber->stack), fiber->stack.size);
	swapcontext(&fibers.loop_context, &fiber->context);
	switch_end(fibers.loop_fake_stack, NULL, NULL);
	fibers.current = NULL;
	if (!fiber->ended)
		return false;
	done = fiber->parked ? fiber->done : NULL;
	data = fiber->data;
	stack_put(&fiber->stack);
	free(fiber);
	fibers.count--;
	if (done)
		done(data);
	return true;
}

static void park(void)
{
	struct fiber *fiber = fibers.current;

	fiber->parked = true;
	switch_out(fiber);
}

static void on_runner(uv_idle_t *idle)
{
	struct fiber *ready = fibers.ready_head;

	fibers.ready_head = fibers.ready_tail = NULL;
	uv_idle_stop(idle);
	while (ready) {
		struct fiber *fiber = ready;

		ready = fiber->next;
		fiber->next = NULL;
		switch_in(fiber);
	}
}

/* Makes a parked fiber run again from the loop, after what runs now. */
static void make_ready(struct fiber *fiber)
{
	if (fibers.ready_tail)
		fibers.ready_tail->next = fiber;
	else
		fibers.ready_head = fiber;
	fibers.ready_tail = fiber;
	if (!fibers.runner_ready) {
		uv_idle_init(fibers.loop, &fibers.runner);
		fibers.runner_ready = true;
	}
	uv_idle_start(&fibers.runner, on_runner);
}

void fiber_init(uv_loop_t *loop)
{
	fibers.loop = loop;
}

static void on_watch_closed(uv_handle_t *handle)
{
	struct fiber_watch *watch = handle->data;

	if (--watch->open_handles == 0)
		free(watch);
}

void fiber_shutdown(void)
{
	while (fibers.watches) {
		struct fiber_watch *watch = fibers.watches;

		fibers.watches = watch->next;
		watch->open_handles = 2;
		uv_close((uv_handle_t *)&watch->poll, on_watch_closed);
		uv_close((uv_handle_t *)&watch->timer, on_watch_closed);
	}
	if (fibers.runner_ready) {
		uv_close((uv_handle_t *)&fibers.runner, NULL);
		fibers.runner_ready = false;
	}
	while (fibers.n_spare > 0) {
		struct fiber_stack *stack = &fibers.spare[--fibers.n_spare];

		VALGRIND_STACK_DEREGISTER(stack->valgrind_id);
		munmap(stack->base, stack->size + (size_t)sysconf(_SC_PAGESIZE));
	}
}

int fiber_run(struct fiber_hold *hold, fiber_fn fn, fiber_fn done, void *data)
{
	struct fiber *fiber;

	if (fibers.current) {
		if (hold)
			(void)fiber_hold_take(hold);
		fn(data);
		return 0;
	}
	fiber = calloc(1, sizeof(*fiber));
	if (!fiber)
		return -ENOMEM;
	if (stack_get(&fiber->stack) < 0) {
		free(fiber);
		return -ENOMEM;
	}
	getcontext(&fiber->context);
	fiber->context.uc_stack.ss_sp = stack_area(&fiber->stack);
	fiber->context.uc_stack.ss_size = fiber->stack.size;
	fiber->context.uc_link = NULL;
	makecontext(&fiber->context, trampoline, 0);
	fiber->hold = hold;
	fiber->fn = fn;
	fiber->done = done;
	fiber->data = data;
	fibers.count++;
	return switch_in(fiber) ? 0 : 1;
}

unsigned fiber_count(void)
{
	return fibers.count;
}

static void watch_wake(struct fiber_watch *watch, int result)
{
	struct fiber *waiter = watch->waiter;

	uv_poll_stop(&watch->poll);
	uv_timer_stop(&watch->timer);
	watch->waiter = NULL;
	watch->result = result;
	switch_in(waiter);
}

static void on_watch_poll(uv_poll_t *poll, int status, int events)
{
	(void)events;
	watch_wake(poll->data, status < 0 ? status : 0);
}

static void on_watch_timer(uv_timer_t *timer)
{
	watch_wake(timer->data, -ETIMEDOUT);
}

static struct fiber_watch *watch_get(int fd)
{
	struct fiber_watch *watch;

	for (watch = fibers.watches; watch; watch = watch->next)
		if (watch->fd == fd)
			return watch;
	watch = calloc(1, sizeof(*watch));
	if (!watch)
		return NULL;
	if (uv_poll_init(fibers.loop, &watch->poll, fd) < 0) {
		free(watch);
		return NULL;
	}
	uv_timer_init(fibers.loop, &watch->timer);
	watch->poll.data = watch->timer.data = watch;
	watch->fd = fd;
	watch->next = fibers.watches;
	fibers.watches = watch;
	return watch;
}

static int wait_blocking(int fd, bool write, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = write ? POLLOUT : POLLIN };
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

int fiber_wait_fd(int fd, bool write, int timeout_ms)
{
	struct fiber_watch *watch;
	int r;

	if (!fibers.current)
		return wait_blocking(fd, write, timeout_ms);
	watch = watch_get(fd);
	if (!watch)
		return -ENOMEM;
	r = uv_poll_start(&watch->poll, write ? UV_WRITABLE : UV_READABLE, on_watch_poll);
	if (r < 0)
		return r;
	if (timeout_ms >= 0)
		uv_timer_start(&watch->timer, on_watch_timer, (uint64_t)timeout_ms, 0);
	watch->waiter = fibers.current;
	park();
	return watch->result;
}

struct fiber_work {
	uv_work_t work;
	fiber_fn fn;
	void *data;
	struct fiber *waiter;
};

static void on_work(uv_work_t *work)
{
	struct fiber_work *fiber_work = work->data;

	fiber_work->fn(fiber_work->data);
}

static void on_work_done(uv_work_t *work, int status)
{
	(void)status;
	switch_in(((struct fiber_work *)work->data)->waiter);
}

void fiber_work(fiber_fn fn, void *data)
{
	struct fiber_work work = { .fn = fn, .data = data, .waiter = fibers.current };

	work.work.data = &work;
	if (!fibers.current || uv_queue_work(fibers.loop, &work.work, on_work, on_work_done) < 0) {
		fn(data);
		return;
	}
	park();
}

int fiber_hold_take(struct fiber_hold *hold)
{
	struct fiber *self = fibers.current;

	if (!self)
		return hold->holder ? -EBUSY : 0;
	if (hold->holder == self)
		return 0;
	if (!hold->holder) {
		hold->holder = self;
		hold->next_held = self->holds;
		self->holds = hold;
		return 0;
	}
	/* Handed over when the holder ends (holds_release). */
	if (hold->waiting_tail)
		hold->waiting_tail->next = self;
	else
		hold->waiting_head = self;
	hold->waiting_tail = self;
	park();
	return 0;
}

bool fiber_hold_elsewhere(const struct fiber_hold *hold)
{
	return hold->holder && hold->holder != fibers.current;
}

static void holds_release(struct fiber *fiber)
{
	while (fiber->holds) {
		struct fiber_hold *hold = fiber->holds;
		struct fiber *next = hold->waiting_head;

		fiber->holds = hold->next_held;
		hold->holder = next;
		hold->next_held = NULL;
		if (!next)
			continue;
		hold->waiting_head = next->next;
		if (!hold->waiting_head)
			hold->waiting_tail = NULL;
		next->next = NULL;
		hold->next_held = next->holds;
		next->holds = hold;
		make_ready(next);
	}
}

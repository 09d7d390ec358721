/* Fibers: code that waits on a socket without holding up the libuv loop.
 *
 * The PostgreSQL store sends a statement and waits for its answer. On the
 * loop's own stack that wait would stop every request, timer and poll until
 * the server answered. On a fiber, the wait parks the fiber (its stack put
 * aside, the socket watched by the loop) and the loop goes on; the answer
 * wakes the fiber where it stopped. Fibers run one at a time on the loop's
 * thread: only a wait lets another run, so what they share needs no locks.
 *
 * Outside a fiber the same calls block, as they would without fibers. */
#pragma once

#include <stdbool.h>
#include <uv.h>

typedef void (*fiber_fn)(void *data);

/* The loop that fibers park on; before the first fiber_run(). */
void fiber_init(uv_loop_t *loop);
/* Closes the loop's handles that fibers used; once no fiber is left. */
void fiber_shutdown(void);

struct fiber_hold;
/* Runs fn(data) on a fiber of its own, once it has taken hold (if not
 * NULL), until it ends or waits. 0 when fn ended; 1 when it waits:
 * done(data), if given, then runs on the loop's stack once fn has
 * returned. -ENOMEM when no fiber could be made (fn did not run). Called
 * on a fiber, fn runs there, after the hold, and 0 is returned. */
int fiber_run(struct fiber_hold *hold, fiber_fn fn, fiber_fn done, void *data);
/* Fibers that were started and have not ended. */
unsigned fiber_count(void);

/* Waits until fd can be read (or written), at most timeout_ms (negative: no
 * limit): 0, -ETIMEDOUT, or a negative errno. A fiber parks meanwhile; the
 * loop's stack blocks in poll(2). */
int fiber_wait_fd(int fd, bool write, int timeout_ms);

/* Runs fn(data) on a libuv worker thread; a fiber parks until it has
 * returned. On the loop's stack fn runs there. */
void fiber_work(fiber_fn fn, void *data);

/* Something one fiber uses at a time (a database connection), held from
 * the first fiber_hold_take() until the fiber ends, so that none of its
 * work interleaves with another's. Zero-initialise it. */
struct fiber;
struct fiber_hold {
	struct fiber *holder;
	struct fiber *waiting_head, *waiting_tail;
	struct fiber_hold *next_held; /* the holder's other holds */
};
/* 0 once the caller holds it: a fiber waits its turn. On the loop's stack,
 * 0 while no fiber holds it (the caller cannot be interrupted), else
 * -EBUSY. */
int fiber_hold_take(struct fiber_hold *hold);
/* Whether a fiber other than the caller holds it. */
bool fiber_hold_elsewhere(const struct fiber_hold *hold);

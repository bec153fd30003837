/*
 * The in-flight overlap table: serializes read-modify-write windows against
 * every other I/O of the job, and keeps writes to the same bytes in order.
 *
 * Each entry has a window (the blocks its transfer touches) and user bytes
 * (what the caller asked for, inside the window). Ranges are [start, end),
 * compared only within one file.
 *
 * Exclusion, on windows: an EXCL entry (a write that needs RMW) may not be in
 * flight together with any entry whose window overlaps its own, whatever the
 * type. READ and WRITE entries never exclude each other: that is the stock
 * engine's behaviour. This is what keeps an RMW from writing back stale
 * neighbour bytes.
 *
 * Order, on user bytes: two entries whose user bytes overlap, one of them a
 * write, start in the order they arrived. Entries that only share a block
 * (sequential 1000-byte writes on a 4Kn device: every write shares a block
 * with the next) may start in either order; exclusion still runs them one at
 * a time, and either order gives the same bytes. Ordering windows instead
 * would chain every such write behind the one before it: one queue for the
 * whole job, whatever its depth.
 *
 * Fairness: a waiter may be passed by a later entry it excludes at most
 * max_pass times (the table's depth); after that every later entry that
 * conflicts with it queues behind it. So no waiter starves: by induction on
 * arrival order, everything ahead of it drains, and only max_pass later
 * entries can get in front.
 *
 * In short, an entry may start when
 *   (a) no entry in flight excludes it,
 *   (b) no earlier waiter must stay ahead of it (user bytes, one a write),
 *   (c) no earlier waiter it conflicts with has used up its passes;
 * starting counts one pass on each earlier waiter it conflicts with. Waiters
 * that may start do so in arrival order.
 *
 * Cost: with no EXCL entry in flight and nobody waiting (every I/O of an
 * aligned job) acquire and release are O(1) and touch no list but the
 * in-flight one. Otherwise work is bounded by the depth: acquire scans the
 * in-flight list and the waiters; a release marks only the waiters it
 * conflicted with, and pop_ready evaluates only marked waiters (a waiter
 * that is not marked is provably still blocked: only a release, or a waiter
 * ahead of it starting, can unblock it).
 *
 * Entries are indexed by request id; the table never allocates after init.
 */
#ifndef FIOB_OVERLAP_H
#define FIOB_OVERLAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fiob_ovl_type {
	FIOB_OVL_READ = 0,
	FIOB_OVL_WRITE,
	FIOB_OVL_EXCL,
};

enum fiob_ovl_state {
	FIOB_OVL_IDLE = 0,
	FIOB_OVL_ACTIVE,	/* in flight, holds its window */
	FIOB_OVL_WAITING,	/* queued behind a conflict */
};

struct fiob_ovl_entry {
	uint64_t start;		/* window */
	uint64_t end;
	uint64_t ustart;	/* user bytes: these keep their order */
	uint64_t uend;
	uint32_t file;
	uint32_t passed;	/* waiting: later entries that went first */
	uint8_t type;
	uint8_t state;
	uint8_t recheck;	/* waiting: may have been unblocked */
	int32_t next;		/* in-flight or waiter list, -1 at the tail */
	int32_t prev;		/* -1 at the head */
};

struct fiob_ovl {
	struct fiob_ovl_entry *e;
	uint32_t nr;
	uint32_t max_pass;	/* passes a waiter allows (default: nr) */
	uint32_t nr_active;	/* ACTIVE entries */
	uint32_t nr_active_excl;
	uint32_t nr_waiting;
	uint32_t nr_recheck;	/* waiters marked to be evaluated again */
	int32_t active_head;	/* ACTIVE entries, newest first */
	int32_t wait_head;	/* WAITING entries, in arrival order */
	int32_t wait_tail;
};

int fiob_ovl_init(struct fiob_ovl *t, uint32_t nr);
void fiob_ovl_exit(struct fiob_ovl *t);

/* True if anything can conflict at all: lets callers skip the table. */
static inline bool fiob_ovl_busy(const struct fiob_ovl *t)
{
	return t->nr_active_excl || t->nr_waiting;
}

/*
 * True if anything is in the table (in flight, waiting, or to be checked
 * again): while it is false, a request that never entered the table has
 * nothing to release, and nobody waits for it.
 */
static inline bool fiob_ovl_in_use(const struct fiob_ovl *t)
{
	return (t->nr_active | t->nr_waiting | t->nr_recheck) != 0;
}

bool fiob_ovl_acquire_slow(struct fiob_ovl *t, uint32_t id);
void fiob_ovl_release_slow(struct fiob_ovl *t, uint32_t id);
int fiob_ovl_pop_ready_slow(struct fiob_ovl *t);
/*
 * Take waiter @id off the queue without starting it: its owner is gone (a
 * job that ends with requests still queued in a table other jobs share).
 * Call fiob_ovl_pop_ready() after, as after a release.
 */
void fiob_ovl_cancel(struct fiob_ovl *t, uint32_t id);

/* Mark @id in flight. Reads never block anyone: they need not stay. */
static inline void fiob_ovl_activate(struct fiob_ovl *t, uint32_t id)
{
	struct fiob_ovl_entry *e = &t->e[id];

	if (e->type == FIOB_OVL_READ) {
		e->state = FIOB_OVL_IDLE;
		return;
	}
	e->state = FIOB_OVL_ACTIVE;
	e->prev = -1;
	e->next = t->active_head;
	if (e->next >= 0)
		t->e[e->next].prev = (int32_t)id;
	t->active_head = (int32_t)id;
	t->nr_active++;
	if (e->type == FIOB_OVL_EXCL)
		t->nr_active_excl++;
}

/*
 * Request @id wants the window [start, end) of @file, for the user bytes
 * [ustart, uend) inside it. Returns true if it may start now (writes then
 * hold the window until fiob_ovl_release()), false if it was queued; a
 * queued id comes back from fiob_ovl_pop_ready() later.
 * Inline: with no RMW window in flight and nobody waiting, a read or write
 * cannot conflict, and that is every I/O of an aligned job.
 */
static inline bool fiob_ovl_acquire_bytes(struct fiob_ovl *t, uint32_t id,
					  uint32_t file, uint64_t start,
					  uint64_t end, uint64_t ustart,
					  uint64_t uend,
					  enum fiob_ovl_type type)
{
	struct fiob_ovl_entry *e = &t->e[id];

	e->file = file;
	e->start = start;
	e->end = end;
	e->ustart = ustart;
	e->uend = uend;
	e->type = type;
	if (type == FIOB_OVL_EXCL || fiob_ovl_busy(t))
		return fiob_ovl_acquire_slow(t, id);
	fiob_ovl_activate(t, id);
	return true;
}

/*
 * fiob_ovl_acquire() for a caller that has just seen !fiob_ovl_busy() and
 * wants a READ or WRITE claim of its own bytes [start, end): nothing can
 * make it wait, so it has no slow path.
 */
static inline void fiob_ovl_acquire_now(struct fiob_ovl *t, uint32_t id,
					uint32_t file, uint64_t start,
					uint64_t end, enum fiob_ovl_type type)
{
	struct fiob_ovl_entry *e = &t->e[id];

	e->file = file;
	e->start = e->ustart = start;
	e->end = e->uend = end;
	e->type = type;
	fiob_ovl_activate(t, id);
}

/* The same, for an I/O whose window is its user bytes. */
static inline bool fiob_ovl_acquire(struct fiob_ovl *t, uint32_t id,
				    uint32_t file, uint64_t start,
				    uint64_t end, enum fiob_ovl_type type)
{
	return fiob_ovl_acquire_bytes(t, id, file, start, end, start, end,
				      type);
}

/* Take @e off the list at @head (and @tail, if the list keeps one). */
static inline void fiob_ovl_unlink(struct fiob_ovl *t,
				   const struct fiob_ovl_entry *e,
				   int32_t *head, int32_t *tail)
{
	if (e->prev >= 0)
		t->e[e->prev].next = e->next;
	else
		*head = e->next;
	if (e->next >= 0)
		t->e[e->next].prev = e->prev;
	else if (tail)
		*tail = e->prev;
}

/* Request @id is complete: drop its window (no-op for an IDLE entry). */
static inline void fiob_ovl_release(struct fiob_ovl *t, uint32_t id)
{
	struct fiob_ovl_entry *e = &t->e[id];

	if (e->state != FIOB_OVL_ACTIVE)
		return;
	e->state = FIOB_OVL_IDLE;
	fiob_ovl_unlink(t, e, &t->active_head, NULL);
	t->nr_active--;
	if (e->type == FIOB_OVL_EXCL)
		t->nr_active_excl--;
	if (t->nr_waiting)
		fiob_ovl_release_slow(t, id);
}

/*
 * The first waiter, in arrival order, that may start now (rules above): it
 * is dequeued, made ACTIVE, and its id returned. Returns -1 when none can
 * start. Call until -1 after each release.
 */
static inline int fiob_ovl_pop_ready(struct fiob_ovl *t)
{
	return t->nr_recheck ? fiob_ovl_pop_ready_slow(t) : -1;
}

#endif

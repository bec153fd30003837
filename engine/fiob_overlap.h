/*
 * The in-flight overlap table: serializes read-modify-write windows against
 * every other I/O of the job.
 *
 * Rules (byte ranges are [start, end), compared only within one file):
 *  - an EXCL entry (a write that needs RMW) conflicts with any overlapping
 *    entry, whatever its type;
 *  - READ and WRITE entries do not conflict with each other: that is the
 *    stock engine's behaviour, and fio orders such I/O itself.
 * An entry that conflicts with an in-flight entry, or with an earlier waiter,
 * waits in one FIFO queue, so waiters keep their order. Only writes stay in
 * the table while in flight: an RMW write must wait for overlapping writes,
 * not for reads (a read sees either the old or the new bytes of the user's
 * range, and unchanged neighbour bytes).
 *
 * Entries are indexed by request id; the table never allocates after init.
 */
#ifndef FIOB_OVERLAP_H
#define FIOB_OVERLAP_H

#include <stdbool.h>
#include <stdint.h>

enum fiob_ovl_type {
	FIOB_OVL_READ = 0,
	FIOB_OVL_WRITE,
	FIOB_OVL_EXCL,
};

enum fiob_ovl_state {
	FIOB_OVL_IDLE = 0,
	FIOB_OVL_ACTIVE,	/* in flight, holds its range */
	FIOB_OVL_WAITING,	/* queued behind a conflict */
};

struct fiob_ovl_entry {
	uint64_t start;
	uint64_t end;
	uint32_t file;
	uint8_t type;
	uint8_t state;
	int32_t next;		/* next waiter, -1 at the tail */
};

struct fiob_ovl {
	struct fiob_ovl_entry *e;
	uint32_t nr;
	uint32_t nr_active;	/* ACTIVE entries */
	uint32_t nr_active_excl;
	uint32_t nr_waiting;
	int32_t wait_head;
	int32_t wait_tail;
};

int fiob_ovl_init(struct fiob_ovl *t, uint32_t nr);
void fiob_ovl_exit(struct fiob_ovl *t);

/* True if anything can conflict at all: lets callers skip the table. */
static inline bool fiob_ovl_busy(const struct fiob_ovl *t)
{
	return t->nr_active_excl || t->nr_waiting;
}

bool fiob_ovl_acquire_slow(struct fiob_ovl *t, uint32_t id);
int fiob_ovl_pop_ready_slow(struct fiob_ovl *t);

/* Mark @e in flight. Reads never block anyone: they need not stay. */
static inline void fiob_ovl_activate(struct fiob_ovl *t,
				     struct fiob_ovl_entry *e)
{
	if (e->type == FIOB_OVL_READ) {
		e->state = FIOB_OVL_IDLE;
		return;
	}
	e->state = FIOB_OVL_ACTIVE;
	t->nr_active++;
	if (e->type == FIOB_OVL_EXCL)
		t->nr_active_excl++;
}

/*
 * Request @id wants [start, end) of @file. Returns true if it may start now
 * (writes then hold the range until fiob_ovl_release()), false if it was
 * queued; a queued id comes back from fiob_ovl_pop_ready() later.
 * Inline: with no RMW window in flight and nobody waiting, a read or write
 * cannot conflict, and that is every I/O of an aligned job.
 */
static inline bool fiob_ovl_acquire(struct fiob_ovl *t, uint32_t id,
				    uint32_t file, uint64_t start,
				    uint64_t end, enum fiob_ovl_type type)
{
	struct fiob_ovl_entry *e = &t->e[id];

	e->file = file;
	e->start = start;
	e->end = end;
	e->type = type;
	e->next = -1;
	if (type == FIOB_OVL_EXCL || fiob_ovl_busy(t))
		return fiob_ovl_acquire_slow(t, id);
	fiob_ovl_activate(t, e);
	return true;
}

/* Request @id is complete: drop its range (no-op for an IDLE entry). */
static inline void fiob_ovl_release(struct fiob_ovl *t, uint32_t id)
{
	struct fiob_ovl_entry *e = &t->e[id];

	if (e->state != FIOB_OVL_ACTIVE)
		return;
	e->state = FIOB_OVL_IDLE;
	t->nr_active--;
	if (e->type == FIOB_OVL_EXCL)
		t->nr_active_excl--;
}

/*
 * The first waiter, in FIFO order, that conflicts with no in-flight entry and
 * no earlier waiter: it is dequeued, made ACTIVE, and its id returned.
 * Returns -1 when none can start. Call until -1 after each release.
 */
static inline int fiob_ovl_pop_ready(struct fiob_ovl *t)
{
	return t->nr_waiting ? fiob_ovl_pop_ready_slow(t) : -1;
}

#endif

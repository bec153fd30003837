#include <errno.h>
#include <stdlib.h>

#include "fiob_overlap.h"

int fiob_ovl_init(struct fiob_ovl *t, uint32_t nr)
{
	uint32_t i;

	t->e = calloc(nr, sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	t->nr = nr;
	t->max_pass = nr;
	t->nr_active = t->nr_active_excl = t->nr_waiting = t->nr_recheck = 0;
	t->active_head = t->wait_head = t->wait_tail = -1;
	for (i = 0; i < nr; i++)
		t->e[i].next = t->e[i].prev = -1;
	return 0;
}

void fiob_ovl_exit(struct fiob_ovl *t)
{
	free(t->e);
	t->e = NULL;
	t->nr = 0;
}

/* Exclusion: may @a and @b not be in flight together? */
static bool conflicts(const struct fiob_ovl_entry *a,
		      const struct fiob_ovl_entry *b)
{
	if (a->type != FIOB_OVL_EXCL && b->type != FIOB_OVL_EXCL)
		return false;
	return a->file == b->file && a->start < b->end && b->start < a->end;
}

/* Order: must the earlier of @a and @b start first? */
static bool ordered(const struct fiob_ovl_entry *a,
		    const struct fiob_ovl_entry *b)
{
	if (a->type == FIOB_OVL_READ && b->type == FIOB_OVL_READ)
		return false;
	return a->file == b->file && a->ustart < b->uend &&
	       b->ustart < a->uend;
}

static bool conflicts_in_flight(const struct fiob_ovl *t,
				const struct fiob_ovl_entry *x)
{
	int32_t i;

	/* Only an EXCL entry can conflict with a READ or WRITE. */
	if (x->type != FIOB_OVL_EXCL && !t->nr_active_excl)
		return false;
	for (i = t->active_head; i != -1; i = t->e[i].next)
		if (conflicts(x, &t->e[i]))
			return true;
	return false;
}

/* Must @x stay behind a waiter queued before @stop (-1: any waiter)? */
static bool blocked_by_waiters(const struct fiob_ovl *t,
			       const struct fiob_ovl_entry *x, int32_t stop)
{
	int32_t w;

	for (w = t->wait_head; w != stop; w = t->e[w].next) {
		const struct fiob_ovl_entry *e = &t->e[w];

		if (ordered(x, e))
			return true;
		if (conflicts(x, e) && e->passed >= t->max_pass)
			return true;
	}
	return false;
}

/* @x starts ahead of the waiters before @stop: one pass on each it delays. */
static void count_passes(struct fiob_ovl *t, const struct fiob_ovl_entry *x,
			 int32_t stop)
{
	int32_t w;

	for (w = t->wait_head; w != stop; w = t->e[w].next)
		if (conflicts(x, &t->e[w]))
			t->e[w].passed++;
}

/* Evaluate waiter @w again (or not) when the next pop_ready runs. */
static void mark(struct fiob_ovl *t, int32_t w)
{
	if (!t->e[w].recheck) {
		t->e[w].recheck = 1;
		t->nr_recheck++;
	}
}

/* @id's entry is filled in and may conflict: check, then start or queue. */
bool fiob_ovl_acquire_slow(struct fiob_ovl *t, uint32_t id)
{
	struct fiob_ovl_entry *e = &t->e[id];

	if (conflicts_in_flight(t, e) || blocked_by_waiters(t, e, -1)) {
		e->state = FIOB_OVL_WAITING;
		e->passed = 0;
		e->recheck = 0;
		e->next = -1;
		e->prev = t->wait_tail;
		if (t->wait_tail == -1)
			t->wait_head = (int32_t)id;
		else
			t->e[t->wait_tail].next = (int32_t)id;
		t->wait_tail = (int32_t)id;
		t->nr_waiting++;
		return false;
	}
	count_passes(t, e, -1);
	fiob_ovl_activate(t, id);
	return true;
}

/* @id left the table: the waiters it excluded may start now. */
void fiob_ovl_release_slow(struct fiob_ovl *t, uint32_t id)
{
	const struct fiob_ovl_entry *x = &t->e[id];
	int32_t w;

	for (w = t->wait_head; w != -1; w = t->e[w].next)
		if (conflicts(x, &t->e[w]))
			mark(t, w);
}

/* Take waiter @w off the queue and start it. */
static void dequeue_and_start(struct fiob_ovl *t, int32_t w)
{
	struct fiob_ovl_entry *e = &t->e[w];
	int32_t i;

	count_passes(t, e, w);
	/* Those behind it that it ordered or passes counted may go now. */
	for (i = e->next; i != -1; i = t->e[i].next)
		if (ordered(e, &t->e[i]) || conflicts(e, &t->e[i]))
			mark(t, i);
	fiob_ovl_unlink(t, e, &t->wait_head, &t->wait_tail);
	t->nr_waiting--;
	fiob_ovl_activate(t, (uint32_t)w);
}

int fiob_ovl_pop_ready_slow(struct fiob_ovl *t)
{
	int32_t w;

	for (w = t->wait_head; w != -1 && t->nr_recheck; w = t->e[w].next) {
		struct fiob_ovl_entry *e = &t->e[w];

		if (!e->recheck)
			continue;
		e->recheck = 0;
		t->nr_recheck--;
		if (conflicts_in_flight(t, e) || blocked_by_waiters(t, e, w))
			continue;
		dequeue_and_start(t, w);
		return w;
	}
	return -1;
}

void fiob_ovl_cancel(struct fiob_ovl *t, uint32_t id)
{
	struct fiob_ovl_entry *e = &t->e[id];
	int32_t i;

	if (e->state != FIOB_OVL_WAITING)
		return;
	/* Whoever it ordered or held back behind it may go now. */
	for (i = e->next; i != -1; i = t->e[i].next)
		mark(t, i);
	if (e->recheck) {
		e->recheck = 0;
		t->nr_recheck--;
	}
	fiob_ovl_unlink(t, e, &t->wait_head, &t->wait_tail);
	t->nr_waiting--;
	e->state = FIOB_OVL_IDLE;
}

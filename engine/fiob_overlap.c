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
	t->nr_active = t->nr_active_excl = t->nr_waiting = 0;
	t->wait_head = t->wait_tail = -1;
	for (i = 0; i < nr; i++)
		t->e[i].next = -1;
	return 0;
}

void fiob_ovl_exit(struct fiob_ovl *t)
{
	free(t->e);
	t->e = NULL;
	t->nr = 0;
}

static bool conflicts(const struct fiob_ovl_entry *a,
		      const struct fiob_ovl_entry *b)
{
	if (a->type != FIOB_OVL_EXCL && b->type != FIOB_OVL_EXCL)
		return false;
	return a->file == b->file && a->start < b->end && b->start < a->end;
}

static bool conflicts_in_flight(const struct fiob_ovl *t,
				const struct fiob_ovl_entry *x)
{
	uint32_t i;

	/* Only an EXCL entry can conflict with a READ or WRITE. */
	if (!t->nr_active || (x->type != FIOB_OVL_EXCL && !t->nr_active_excl))
		return false;
	for (i = 0; i < t->nr; i++) {
		const struct fiob_ovl_entry *e = &t->e[i];

		if (e != x && e->state == FIOB_OVL_ACTIVE && conflicts(x, e))
			return true;
	}
	return false;
}

/* Does @x conflict with a waiter queued before @stop (-1: any waiter)? */
static bool conflicts_waiting(const struct fiob_ovl *t,
			      const struct fiob_ovl_entry *x, int32_t stop)
{
	int32_t w;

	for (w = t->wait_head; w != -1 && w != stop; w = t->e[w].next)
		if (conflicts(x, &t->e[w]))
			return true;
	return false;
}

/* @id's entry is filled in and may conflict: check, then start or queue. */
bool fiob_ovl_acquire_slow(struct fiob_ovl *t, uint32_t id)
{
	struct fiob_ovl_entry *e = &t->e[id];

	if (conflicts_in_flight(t, e) || conflicts_waiting(t, e, -1)) {
		e->state = FIOB_OVL_WAITING;
		if (t->wait_tail == -1)
			t->wait_head = id;
		else
			t->e[t->wait_tail].next = id;
		t->wait_tail = id;
		t->nr_waiting++;
		return false;
	}
	fiob_ovl_activate(t, e);
	return true;
}

int fiob_ovl_pop_ready_slow(struct fiob_ovl *t)
{
	int32_t w, prev = -1;

	for (w = t->wait_head; w != -1; prev = w, w = t->e[w].next) {
		struct fiob_ovl_entry *e = &t->e[w];

		if (conflicts_in_flight(t, e) || conflicts_waiting(t, e, w))
			continue;
		if (prev == -1)
			t->wait_head = e->next;
		else
			t->e[prev].next = e->next;
		if (t->wait_tail == w)
			t->wait_tail = prev;
		e->next = -1;
		t->nr_waiting--;
		fiob_ovl_activate(t, e);
		return w;
	}
	return -1;
}

/*
 * The bounce ring: a fixed set of equal, page-aligned bounce slots, allocated
 * once per job thread. Getting and putting a slot is O(1) and never
 * allocates; when every slot is taken the caller must push back (FIO_Q_BUSY).
 */
#ifndef FIOB_SLOTS_H
#define FIOB_SLOTS_H

#include <stddef.h>
#include <stdint.h>

struct fiob_slots {
	char *base;		/* nr * size bytes, @align-aligned */
	size_t size;		/* bytes per slot, a multiple of the page */
	size_t map_len;
	uint32_t nr;
	uint32_t nr_free;
	uint32_t *free;		/* stack of free slot indexes */
};

/*
 * @size is rounded up to @align: 0 or a power of two, and anything under a
 * page (0 included) means the page.
 */
int fiob_slots_init(struct fiob_slots *s, uint32_t nr, size_t size,
		    size_t align);
void fiob_slots_exit(struct fiob_slots *s);

/* A free slot index, or -1 when the ring is empty. */
static inline int32_t fiob_slots_get(struct fiob_slots *s)
{
	if (!s->nr_free)
		return -1;
	/* LIFO: the most recently used slot is the one most likely cached. */
	return (int32_t)s->free[--s->nr_free];
}

static inline void fiob_slots_put(struct fiob_slots *s, int32_t idx)
{
	s->free[s->nr_free++] = (uint32_t)idx;
}

static inline void *fiob_slot_addr(const struct fiob_slots *s, int32_t idx)
{
	return s->base + (size_t)idx * s->size;
}

#endif

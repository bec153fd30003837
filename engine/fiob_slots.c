/* The bounce ring (fiob_slots.h): one mapping, a stack of free slots. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fiob_align.h"
#include "fiob_slots.h"

int fiob_slots_init(struct fiob_slots *s, uint32_t nr, size_t size,
		    size_t align)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t over;
	char *map;
	uint32_t i;

	s->base = NULL;
	s->free = NULL;
	s->nr = s->nr_free = 0;
	if (!nr || !size || (align && !fiob_is_pow2(align)))
		return -EINVAL;
	/* The one place the alignment is clamped: 0 and less than a page. */
	if (align < page)
		align = page;
	if (size > SIZE_MAX - align)
		return -EINVAL;
	s->size = fiob_round_up(size, align);
	/* mmap gives page alignment; over-map to reach larger alignments. */
	over = align > page ? align - page : 0;
	if (s->size > (SIZE_MAX - over) / nr)
		return -EINVAL;
	s->map_len = (size_t)nr * s->size + over;

	s->free = malloc(nr * sizeof(*s->free));
	if (!s->free)
		return -ENOMEM;
	/* MAP_POPULATE: fault the slots in now, not on the I/O path. */
	map = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (map == MAP_FAILED) {
		free(s->free);
		s->free = NULL;
		return -ENOMEM;
	}
	s->base = (char *)fiob_round_up((uintptr_t)map, align);
	s->map_len -= (size_t)(s->base - map);
	if (s->base != map)
		munmap(map, (size_t)(s->base - map));
	s->nr = s->nr_free = nr;
	/* Stack order: slot 0 is handed out first. */
	for (i = 0; i < nr; i++)
		s->free[i] = nr - 1 - i;
	return 0;
}

void fiob_slots_exit(struct fiob_slots *s)
{
	if (s->base)
		munmap(s->base, s->map_len);
	free(s->free);
	s->base = NULL;
	s->free = NULL;
	s->nr = s->nr_free = 0;
}

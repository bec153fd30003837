/* The span (fiob_span.h): a discard area placed where one range covers it. */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fiob_align.h"
#include "fiob_span.h"

/*
 * Map @len bytes at exactly @want, never over an existing mapping
 * (MAP_FIXED_NOREPLACE); NULL if that address space is taken. A kernel
 * before 4.17 reads the flag as a hint and may map elsewhere: also NULL.
 */
static char *map_at(uintptr_t want, size_t len)
{
	char *map = mmap((void *)want, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE |
			 MAP_FIXED_NOREPLACE, -1, 0);

	if (map == MAP_FAILED)
		return NULL;
	if ((uintptr_t)map != want) {
		munmap(map, len);
		return NULL;
	}
	return map;
}

/* Whole pages from the lower of the two to the end of the higher. */
static struct iovec cover(uintptr_t a, size_t a_len, uintptr_t b, size_t b_len,
			  size_t page)
{
	uintptr_t lo = (a < b ? a : b) & ~(uintptr_t)(page - 1);
	uintptr_t end = a + a_len > b + b_len ? a + a_len : b + b_len;

	end = fiob_round_up(end, page);
	return (struct iovec){ .iov_base = (void *)lo, .iov_len = end - lo };
}

int fiob_span_init(struct fiob_span *s, const struct iovec *user,
		   size_t discard_len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t u = (uintptr_t)user->iov_base;
	uintptr_t first = u & ~(uintptr_t)(page - 1);
	uintptr_t end = fiob_round_up(u + user->iov_len, page);
	size_t step;

	*s = (struct fiob_span){ 0 };
	if (!u || !user->iov_len || !discard_len ||
	    end - first > FIOB_SPAN_MAX_BYTES)
		return -EINVAL;
	s->discard_len = fiob_round_up(discard_len, page);
	/*
	 * Right below the user pages, then right above them, a page further
	 * out each time: the mapping that holds them usually starts or ends
	 * a little beyond (malloc's chunk header, its rounding). The pages in
	 * between are pinned with the rest; a hole or a guard page there
	 * makes the registration fail, and the caller goes without.
	 */
	for (step = 0; !s->discard && step < FIOB_SPAN_REACH_PAGES; step++) {
		size_t gap = step * page + s->discard_len;

		if (first > gap)
			s->discard = map_at(first - gap, s->discard_len);
		if (!s->discard && end < UINTPTR_MAX - gap)
			s->discard = map_at(end + step * page, s->discard_len);
	}
	if (!s->discard) {
		s->discard_len = 0;
		return -ENOMEM;
	}
	s->range = cover(u, user->iov_len, (uintptr_t)s->discard,
			 s->discard_len, page);
	return 0;
}

void fiob_span_exit(struct fiob_span *s)
{
	if (s->discard)
		munmap(s->discard, s->discard_len);
	*s = (struct fiob_span){ 0 };
}

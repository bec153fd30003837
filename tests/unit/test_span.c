/*
 * The span (fiob_span.c): where the discard area goes (right below or
 * right above the caller's memory, a little further out past a mapping's
 * edge), that the range covers both and is whole pages, that there is none
 * when the address space beside is taken, the 64 MiB cap, and that holds()
 * is exact at the edges.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fiob_span.h"
#include "fiob_test.h"

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * Caller memory of @n pages at @pg pages into a mapping of @total pages;
 * the rest unmapped when @holes, so the address space around is free.
 */
static char *user_pages(size_t total, size_t pg, size_t n, bool holes,
			char **map)
{
	*map = mmap(NULL, total * page(), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*map == MAP_FAILED)
		abort();
	if (holes) {
		munmap(*map, pg * page());
		munmap(*map + (pg + n) * page(), (total - pg - n) * page());
	}
	return *map + pg * page();
}

static void discard_goes_right_below_free_space(void)
{
	char *map, *user = user_pages(16, 8, 4, true, &map);
	struct iovec mem = { user + 100, 4 * page() - 200 };
	struct fiob_span s;

	FT_EQ(fiob_span_init(&s, &mem, 8192), 0);
	FT_EQ(s.discard_len, 8192 > page() ? 8192 : page());
	FT_ASSERT(s.discard + s.discard_len == user);
	FT_ASSERT(s.range.iov_base == s.discard);
	FT_EQ(s.range.iov_len, s.discard_len + 4 * page());
	memset(s.discard, 0xab, s.discard_len);	/* writable */
	FT_ASSERT(fiob_span_holds(&s, mem.iov_base, mem.iov_len));
	FT_ASSERT(fiob_span_holds(&s, s.discard, s.range.iov_len));
	FT_ASSERT(!fiob_span_holds(&s, s.discard, s.range.iov_len + 1));
	FT_ASSERT(!fiob_span_holds(&s, s.discard - 1, 1));
	FT_ASSERT(!fiob_span_holds(&s, user + 4 * page(), 1));
	fiob_span_exit(&s);
	FT_ASSERT(s.discard == NULL);
	munmap(user, 4 * page());
}

static void discard_goes_right_above_when_below_is_taken(void)
{
	char *map, *user = user_pages(16, 8, 4, true, &map);
	char *below = mmap(user - page(), page(), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			   -1, 0);
	struct iovec mem = { user, 4 * page() };
	struct fiob_span s;

	FT_ASSERT(below == user - page());
	FT_EQ(fiob_span_init(&s, &mem, 100), 0);
	FT_ASSERT(s.discard == user + 4 * page());
	FT_EQ(s.discard_len, page());
	FT_ASSERT(s.range.iov_base == user);
	FT_EQ(s.range.iov_len, 5 * page());
	fiob_span_exit(&s);
	munmap(below, 5 * page());
}

/*
 * The mapping that holds the user pages reaches a page beyond them on both
 * sides (as malloc's chunk header does): the discard area goes one page
 * further down, and the range covers the page in between.
 */
static void discard_reaches_past_the_mapping_edge(void)
{
	char *map, *user = user_pages(16, 8, 4, true, &map);
	char *edge = mmap(user - page(), 6 * page(), PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			  -1, 0);
	struct iovec mem = { user, 4 * page() };
	struct fiob_span s;

	FT_ASSERT(edge == MAP_FAILED);	/* the user pages are there */
	munmap(user, 4 * page());
	edge = mmap(user - page(), 6 * page(), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	FT_ASSERT(edge == user - page());
	FT_EQ(fiob_span_init(&s, &mem, page()), 0);
	FT_ASSERT(s.discard == user - 2 * page());
	FT_ASSERT(s.range.iov_base == s.discard);
	FT_EQ(s.range.iov_len, 6 * page());	/* discard, edge, user */
	fiob_span_exit(&s);
	munmap(edge, 6 * page());
}

/*
 * Neighbours taken beyond the reach (the user pages sit inside a larger
 * mapping, as a block in the malloc heap does): no span, nothing left.
 */
static void no_room_when_the_space_beside_is_taken(void)
{
	size_t pad = FIOB_SPAN_REACH_PAGES + 4, total = 4 + 2 * pad;
	char *map, *user = user_pages(total, pad, 4, false, &map);
	struct iovec mem = { user, 4 * page() };
	struct fiob_span s;

	FT_EQ(fiob_span_init(&s, &mem, 8192), -ENOMEM);
	FT_ASSERT(s.discard == NULL && s.range.iov_len == 0);
	munmap(map, total * page());
}

static void bad_input_and_exit_on_zeroed(void)
{
	struct iovec none = { NULL, 0 }, some = { &none, 16 };
	struct iovec huge = { &none, FIOB_SPAN_MAX_BYTES + 1 };
	struct fiob_span s;

	memset(&s, 0, sizeof(s));
	fiob_span_exit(&s);
	FT_EQ(fiob_span_init(&s, &none, 8192), -EINVAL);
	FT_EQ(fiob_span_init(&s, &some, 0), -EINVAL);
	FT_EQ(fiob_span_init(&s, &huge, 8192), -EINVAL);
	FT_ASSERT(s.discard == NULL);
	FT_ASSERT(!fiob_span_holds(&s, &none, 1));
	fiob_span_exit(&s);
}

FT_MAIN(
	FT_RUN(discard_goes_right_below_free_space);
	FT_RUN(discard_goes_right_above_when_below_is_taken);
	FT_RUN(discard_reaches_past_the_mapping_edge);
	FT_RUN(no_room_when_the_space_beside_is_taken);
	FT_RUN(bad_input_and_exit_on_zeroed)
)

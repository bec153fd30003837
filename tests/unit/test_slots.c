/*
 * The bounce ring: alignment, disjointness and usability of every slot,
 * LIFO get/put, size rounding, init errors and exit on any state.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "fiob_slots.h"
#include "fiob_test.h"

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * Take every slot, check alignment and that slots are disjoint and inside
 * the mapping, write a distinct byte to the first and last byte of each,
 * then check nothing was overwritten (a too-small stride would be).
 */
static void take_all_and_check(struct fiob_slots *s, size_t align, char *why)
{
	int32_t got[64];
	uint32_t i, n = s->nr;

	why[0] = '\0';
	for (i = 0; i < n; i++) {
		got[i] = fiob_slots_get(s);
		if (got[i] < 0 || (uint32_t)got[i] >= n) {
			sprintf(why, "get %u returned %d", i, got[i]);
			return;
		}
	}
	if (fiob_slots_get(s) != -1) {
		sprintf(why, "get on an empty ring did not return -1");
		return;
	}
	for (i = 0; i < n; i++) {
		char *a = fiob_slot_addr(s, got[i]);

		if ((uintptr_t)a % align || (uintptr_t)a % page()) {
			sprintf(why, "slot %d at %p not %zu-aligned", got[i],
				(void *)a, align);
			return;
		}
		if (a < s->base || a + s->size > s->base + s->map_len) {
			sprintf(why, "slot %d outside the mapping", got[i]);
			return;
		}
		memset(a, (int)(i + 1), s->size);
	}
	for (i = 0; i < n; i++) {
		char *a = fiob_slot_addr(s, got[i]);
		uint32_t j;

		for (j = 0; j < i; j++)
			if (got[i] == got[j]) {
				sprintf(why, "slot %d handed out twice", got[i]);
				return;
			}
		if (a[0] != (char)(i + 1) || a[s->size - 1] != (char)(i + 1)) {
			sprintf(why, "slot %d overlaps another", got[i]);
			return;
		}
	}
	for (i = 0; i < n; i++)
		fiob_slots_put(s, got[i]);
	if (s->nr_free != n)
		sprintf(why, "nr_free %u after putting all back", s->nr_free);
}

static void page_aligned_disjoint_slots_until_empty(void)
{
	struct fiob_slots s;
	char why[128];

	FT_EQ(fiob_slots_init(&s, 16, 12345, 4096), 0);
	FT_EQ(s.nr, 16);
	FT_EQ(s.nr_free, 16);
	take_all_and_check(&s, 4096, why);
	fiob_slots_exit(&s);
	if (why[0])
		FT_FAIL("%s", why);
}

static void size_rounds_up_to_alignment_and_page(void)
{
	struct fiob_slots s;

	FT_EQ(fiob_slots_init(&s, 1, 1, 4096), 0);
	FT_EQ(s.size, page() > 4096 ? page() : 4096);
	fiob_slots_exit(&s);
	FT_EQ(fiob_slots_init(&s, 2, 4096, 4096), 0);
	FT_EQ(s.size, page() > 4096 ? page() : 4096);
	fiob_slots_exit(&s);
	FT_EQ(fiob_slots_init(&s, 2, 4097, 4096), 0);
	FT_EQ(s.size, page() > 8192 ? page() : 8192);
	fiob_slots_exit(&s);
	/* An alignment below the page is raised to the page. */
	FT_EQ(fiob_slots_init(&s, 3, 100, 512), 0);
	FT_EQ(s.size, page());
	FT_EQ((uintptr_t)fiob_slot_addr(&s, 2) % page(), 0);
	fiob_slots_exit(&s);
	FT_EQ(fiob_slots_init(&s, 2, 65537, 65536), 0);
	FT_EQ(s.size, 131072);
	fiob_slots_exit(&s);
}

static void alignment_64k_and_2m_every_slot(void)
{
	static const size_t aligns[] = { 65536, 1 << 21 };
	unsigned int k;
	char why[128];

	for (k = 0; k < 2; k++) {
		struct fiob_slots s;

		FT_EQ(fiob_slots_init(&s, 5, 10000, aligns[k]), 0);
		FT_EQ(s.size, aligns[k]);
		take_all_and_check(&s, aligns[k], why);
		fiob_slots_exit(&s);
		if (why[0])
			FT_FAIL("align %zu: %s", aligns[k], why);
	}
}

static void get_put_is_lifo_starting_at_slot_zero(void)
{
	struct fiob_slots s;
	int32_t a, b, c;

	FT_EQ(fiob_slots_init(&s, 3, 4096, 4096), 0);
	FT_EQ(fiob_slots_get(&s), 0);
	a = 0;
	b = fiob_slots_get(&s);
	c = fiob_slots_get(&s);
	FT_EQ(b, 1);
	FT_EQ(c, 2);
	FT_EQ(fiob_slots_get(&s), -1);
	fiob_slots_put(&s, b);
	fiob_slots_put(&s, a);
	FT_EQ(fiob_slots_get(&s), a);	/* last put, first out */
	FT_EQ(fiob_slots_get(&s), b);
	FT_EQ(fiob_slots_get(&s), -1);
	fiob_slots_put(&s, c);
	FT_EQ(fiob_slots_get(&s), c);
	fiob_slots_exit(&s);
}

static void init_rejects_zero_count_size_and_non_pow2_align(void)
{
	struct fiob_slots s;

	memset(&s, 0x5a, sizeof(s));
	FT_EQ(fiob_slots_init(&s, 0, 4096, 4096), -EINVAL);
	FT_ASSERT(s.base == NULL && s.free == NULL && s.nr == 0);
	fiob_slots_exit(&s);		/* safe after a failed init */
	memset(&s, 0x5a, sizeof(s));
	FT_EQ(fiob_slots_init(&s, 4, 0, 4096), -EINVAL);
	fiob_slots_exit(&s);
	memset(&s, 0x5a, sizeof(s));
	FT_EQ(fiob_slots_init(&s, 4, 4096, 3 * 4096), -EINVAL);
	fiob_slots_exit(&s);
	FT_ASSERT(s.base == NULL && s.nr == 0);
	memset(&s, 0x5a, sizeof(s));
	FT_EQ(fiob_slots_init(&s, 4, 4096, 3), -EINVAL);
	fiob_slots_exit(&s);
	FT_ASSERT(s.base == NULL && s.nr == 0);
}

/* Alignment 0 (learn it) and anything under a page: the page, clamped once. */
static void align_zero_or_below_a_page_means_the_page(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t aligns[] = { 0, 1, 512 };
	struct fiob_slots s;
	unsigned int k;

	for (k = 0; k < sizeof(aligns) / sizeof(aligns[0]); k++) {
		FT_EQ(fiob_slots_init(&s, 3, 100, aligns[k]), 0);
		FT_EQ(s.size, page);
		FT_EQ((uintptr_t)s.base % page, 0);
		FT_EQ((uintptr_t)fiob_slot_addr(&s, 2) % page, 0);
		fiob_slots_exit(&s);
	}
}

/* A mapping the kernel refuses: -ENOMEM, nothing left behind. */
static void init_fails_cleanly_when_mmap_fails(void)
{
	struct fiob_slots s;

	FT_EQ(fiob_slots_init(&s, 1024, (size_t)1 << 50, 4096), -ENOMEM);
	FT_ASSERT(s.base == NULL && s.free == NULL && s.nr == 0);
	fiob_slots_exit(&s);
}

/*
 * nr * size wrapping around size_t must not "succeed" with a small
 * mapping: here 4 * (2^62 + 4096) wraps to 16384 bytes for 4 slots that
 * each claim 2^62 + 4096 bytes.
 */
static void init_refuses_a_total_size_that_overflows(void)
{
	struct fiob_slots s;
	int ret = fiob_slots_init(&s, 4, ((size_t)1 << 62) + 4096, 4096);

	if (!ret) {
		size_t map_len = s.map_len;

		fiob_slots_exit(&s);
		FT_FAIL("init returned 0 with a %zu-byte mapping for 4 slots "
			"of %zu bytes", map_len, ((size_t)1 << 62) + 4096);
	}
	FT_ASSERT(ret < 0);
	FT_ASSERT(s.base == NULL && s.nr == 0);
}

static void exit_on_zeroed_or_exited_ring_is_safe(void)
{
	struct fiob_slots s;

	memset(&s, 0, sizeof(s));
	fiob_slots_exit(&s);
	FT_EQ(fiob_slots_init(&s, 2, 4096, 65536), 0);
	FT_EQ(fiob_slots_get(&s), 0);	/* one slot still taken at exit */
	fiob_slots_exit(&s);
	FT_ASSERT(s.base == NULL && s.free == NULL);
	FT_EQ(s.nr_free, 0);
	fiob_slots_exit(&s);		/* twice */
	FT_EQ(fiob_slots_get(&s), -1);	/* an exited ring gives nothing */
}

FT_MAIN(
	FT_RUN(page_aligned_disjoint_slots_until_empty);
	FT_RUN(size_rounds_up_to_alignment_and_page);
	FT_RUN(alignment_64k_and_2m_every_slot);
	FT_RUN(get_put_is_lifo_starting_at_slot_zero);
	FT_RUN(init_rejects_zero_count_size_and_non_pow2_align);
	FT_RUN(align_zero_or_below_a_page_means_the_page);
	FT_RUN(init_fails_cleanly_when_mmap_fails);
	FT_RUN(init_refuses_a_total_size_that_overflows);
	FT_RUN(exit_on_zeroed_or_exited_ring_is_safe)
)

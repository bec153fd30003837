/*
 * fiob_classify / fiob_plan / fiob_user_bytes / fiob_slot_bytes against a
 * naive byte-level model: per-byte "covered by the user range" flags over
 * the blocks around the I/O, per-block counts of uncovered bytes, and the
 * kind, window, head and RMW reads that follow from them.
 *
 * The model never uses masks: blocks are b / align, alignment is b % align.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "fiob_plan.h"
#include "fiob_test.h"
#include "plan_model.h"

static uint64_t pick_off(uint64_t A)
{
	switch (rnd_below(6)) {
	case 0:
		return rnd_below(8 * A + 8);
	case 1:
		return rnd_below(64) * A;
	case 2:
		return rnd_below(64) * A + A - 1 - rnd_below(A < 4 ? A : 4);
	case 3:		/* just below and above 2^63 */
		return (1ull << 63) - rnd_below(1ull << 20);
	case 4:
		return (1ull << 63) + rnd_below(1ull << 20);
	default:
		return rnd_below(1ull << 40);
	}
}

static uint64_t pick_len(uint64_t A)
{
	uint64_t len;

	switch (rnd_below(7)) {
	case 0:
		return 0;
	case 1:
		return A;
	case 2:
		len = (1 + rnd_below(4)) * A;
		break;
	case 3:
		len = 1 + rnd_below(16);
		break;
	default:
		len = 1 + rnd_below(4 * A + 3);
	}
	return len > MAX_LEN ? MAX_LEN : len;
}

static void random_cases_match_byte_model(void)
{
	uint64_t size;
	int n;

	for (n = 0; n < 12000; n++) {
		struct pcase c;

		/* Mostly up to 4K; 8K..64K (slow to model) one case in 16. */
		c.a.off = 1u << (rnd_below(16) ? rnd_below(13) : 13 + rnd_below(4));
		c.a.mem = 1u << rnd_below(13);
		c.mode = (enum fiob_mode)rnd_below(3);
		c.write = rnd() & 1;
		c.off = pick_off(c.a.off);
		c.len = pick_len(c.a.off);
		c.addr = (uintptr_t)rnd();
		if (rnd() & 1)
			c.addr -= c.addr % c.a.mem;
		if (check_case(&c))
			FT_FAIL("case %d: %s", n, plan_msg);
		/* A regular file ending anywhere around the window. */
		size = c.off + rnd_below(c.len + 2 * (uint64_t)c.a.off + 1);
		size = size > c.a.off ? size - c.a.off : 0;
		if (check_short_read(&c, size))
			FT_FAIL("case %d: %s", n, plan_msg);
	}
}

#define CASE(o, l, ad, ao, am, md, w)					\
	do {								\
		struct pcase c_ = { o, l, ad, { ao, am }, md, w };	\
		if (check_case(&c_))					\
			FT_FAIL("%s", plan_msg);			\
	} while (0)

static void edge_cases_match_byte_model(void)
{
	const enum fiob_mode modes[] = {
		FIOB_MODE_AUTO, FIOB_MODE_ALWAYS, FIOB_MODE_NEVER,
	};
	unsigned int m, w;

	for (m = 0; m < 3; m++) {
		for (w = 0; w < 2; w++) {
			enum fiob_mode md = modes[m];

			CASE(0, 0, 0, 4096, 512, md, w);	/* len 0 */
			CASE(1, 0, 1, 4096, 512, md, w);
			CASE(0, 4096, 0x1000, 4096, 512, md, w);
			CASE(0, 4096, 0x1001, 4096, 512, md, w);
			CASE(0, 512, 0x1000, 512, 4096, md, w);
			CASE(4095, 1, 0, 4096, 1, md, w);	/* last byte */
			CASE(4095, 2, 0, 4096, 1, md, w);	/* adjacent */
			CASE(4095, 4098, 0, 4096, 1, md, w);	/* 3 blocks */
			CASE(1, 4094, 0, 4096, 1, md, w);	/* one block */
			CASE(4096, 8191, 0, 4096, 1, md, w);	/* tail only */
			CASE(7, 12, 3, 1, 1, md, w);		/* align 1 */
			CASE(UINT64_C(1) << 63, 4096, 0, 4096, 4096, md, w);
			CASE((UINT64_C(1) << 63) - 1, 2, 0, 4096, 512, md, w);
			CASE((UINT64_C(1) << 63) - 4096 + 100, 8000, 0, 4096,
			     512, md, w);
			CASE(65535, 65538, 0, 65536, 4096, md, w);
		}
	}
}

/* The named properties, spelled out on top of the model comparison. */
static void align_one_never_needs_a_window(void)
{
	struct fiob_align a = { 1, 1 };
	int i;

	for (i = 0; i < 1000; i++) {
		uint64_t off = rnd_below(1ull << 62), len = rnd_below(1 << 20);

		FT_EQ(fiob_classify(&a, FIOB_MODE_AUTO, off, len, rnd()),
		      FIOB_KIND_PASS);
	}
}

static void len_zero_is_pass_even_when_always(void)
{
	struct fiob_align a = { 4096, 4096 };

	FT_EQ(fiob_classify(&a, FIOB_MODE_ALWAYS, 1, 0, 3), FIOB_KIND_PASS);
	FT_EQ(fiob_classify(&a, FIOB_MODE_AUTO, 1, 0, 3), FIOB_KIND_PASS);
}

/* The masks say PASS exactly when fiob_classify() does, but for length 0. */
static void pass_masks_agree_with_classify(void)
{
	static const struct fiob_align rules[] = {
		{ 1, 1 }, { 512, 512 }, { 4096, 512 }, { 4096, 4096 },
		{ 65536, 4 },
	};
	unsigned int i, j, md;

	for (md = FIOB_MODE_AUTO; md <= FIOB_MODE_NEVER; md++) {
		for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
			uint64_t om, mm;

			fiob_pass_masks(&rules[i], md, &om, &mm);
			for (j = 0; j < 20000; j++) {
				uint64_t off = rnd_below(8) ?
					       rnd_below(64) * 512 + rnd_below(2) :
					       rnd();
				uint64_t len = rnd_below(8) ?
					       rnd_below(64) * 512 + rnd_below(2) :
					       rnd_below(1 << 20);
				uint64_t addr = rnd_below(4) ?
						rnd_below(64) * 512 + rnd_below(2) :
						rnd();
				bool pass = !(((off | len) & om) |
					      ((addr | len) & mm));

				if (!len)
					continue;
				FT_EQ(pass, fiob_classify(&rules[i], md, off,
							  len, addr) ==
					    FIOB_KIND_PASS);
			}
		}
	}
}

static void same_and_adjacent_partial_blocks_merge_into_one_read(void)
{
	struct fiob_align a = { 4096, 512 };
	struct fiob_plan p;

	fiob_plan(&p, &a, FIOB_KIND_WINDOW, 100, 200, true);	/* same */
	FT_EQ(p.nr_rmw, 1);
	FT_EQ(p.rmw_off[0], 0);
	FT_EQ(p.rmw_len[0], 4096);
	fiob_plan(&p, &a, FIOB_KIND_WINDOW, 4000, 200, true);	/* adjacent */
	FT_EQ(p.nr_rmw, 1);
	FT_EQ(p.rmw_off[0], 0);
	FT_EQ(p.rmw_len[0], 8192);
	fiob_plan(&p, &a, FIOB_KIND_WINDOW, 4000, 4400, true);	/* apart */
	FT_EQ(p.nr_rmw, 2);
	FT_EQ(p.rmw_off[0], 0);
	FT_EQ(p.rmw_len[0], 4096);
	FT_EQ(p.rmw_off[1], 8192);
	FT_EQ(p.rmw_len[1], 4096);
	fiob_plan(&p, &a, FIOB_KIND_WINDOW, 4000, 200, false);	/* a read */
	FT_EQ(p.nr_rmw, 0);
}

/* Any window of len <= max_len, at any offset, fits a slot; page multiple. */
/*
 * Zero copy against the byte model: eligible exactly when every segment's
 * address and length is a multiple of the memory rule; the segments then
 * cover the window once, in order (a write's slot bytes at their window
 * positions, a read's tail right after its head; the user buffer in
 * between), and every one meets the memory rule.
 */
static void zero_copy_segments_cover_the_window_in_order(void)
{
	static char slot_base[1 << 20] __attribute__((aligned(4096)));
	struct fiob_plan p;
	struct iovec iov[FIOB_MAX_IOV];
	int k, eligible = 0;

	for (k = 0; k < 200000; k++) {
		struct fiob_align a;
		uint64_t off, len, tail, at;
		uintptr_t addr;
		unsigned int nr, i;
		bool want, write;

		a.mem = 1u << rnd_below(13);
		a.off = a.mem << rnd_below(4);
		/* Often on the memory grid, so eligible cases are common. */
		off = rnd_below(1 << 20) & (rnd() & 1 ? ~(uint64_t)(a.mem - 1) : ~0ull);
		len = 1 + rnd_below(3 * (uint64_t)a.off);
		if (rnd() & 1)
			len = fiob_round_up(len, a.mem);
		addr = (uintptr_t)rnd_below(1 << 20) & (rnd() & 1 ?
			~(uintptr_t)(a.mem - 1) : ~(uintptr_t)0);
		fiob_plan(&p, &a, fiob_classify(&a, FIOB_MODE_AUTO, off, len,
						addr), off, len, rnd() & 1);
		tail = p.win_off + p.win_len - off - len;
		want = p.kind == FIOB_KIND_WINDOW && off % a.mem == 0 &&
		       len % a.mem == 0 && addr % a.mem == 0 &&
		       (off - p.win_off) % a.mem == 0 && tail % a.mem == 0;
		if (fiob_plan_zero_copy(&p, &a, addr, len) != want)
			FT_FAIL("off %" PRIu64 " len %" PRIu64 " addr %#lx "
				"align %u/%u: zero copy %d, model %d", off, len,
				(unsigned long)addr, a.off, a.mem, !want, want);
		if (!want)
			continue;
		eligible++;
		write = rnd() & 1;
		nr = fiob_plan_iov(&p, write, slot_base, (void *)addr, len,
				   iov);
		FT_EQ(nr, 1 + (off > p.win_off) + (tail > 0));
		for (i = 0, at = 0; i < nr; at += iov[i].iov_len, i++) {
			bool user = at == off - p.win_off;
			/* A read's tail follows its head in the slot. */
			char *want_base = user ? (char *)addr :
					  slot_base + (write || !at ? at :
						       at - len);

			FT_ASSERT(iov[i].iov_len > 0);
			FT_ASSERT((char *)iov[i].iov_base == want_base);
			FT_ASSERT(!user || iov[i].iov_len == len);
			FT_ASSERT((uintptr_t)iov[i].iov_base % a.mem == 0);
			FT_ASSERT(iov[i].iov_len % a.mem == 0);
		}
		FT_EQ(at, p.win_len);
	}
	FT_ASSERT(eligible > 1000);
}

static void slot_bytes_fits_every_window_up_to_max_len(void)
{
	static const uint32_t pages[] = { 4096, 16384, 65536 };
	uint32_t A, max_len, off, len, pg;

	for (pg = 0; pg < 3; pg++) {
		for (A = 1; A <= 65536; A <<= 1) {
			for (max_len = 1; max_len < 3 * A + 5;
			     max_len += 1 + max_len / 7) {
				uint64_t sb = fiob_slot_bytes(max_len, A, pages[pg]);
				struct fiob_align a = { A, 1 };
				struct fiob_plan p;

				if (sb % pages[pg] || sb < max_len)
					FT_FAIL("slot_bytes(%u, %u, %u) = %" PRIu64,
						max_len, A, pages[pg], sb);
				for (off = 0; off < 2 * A; off += 1 + A / 64) {
					len = max_len - (off % 3 < max_len ? off % 3 : 0);
					fiob_plan(&p, &a, FIOB_KIND_WINDOW, off,
						  len, true);
					if (p.win_len > sb)
						FT_FAIL("align %u off %u len %u: "
							"window %" PRIu64 " > slot %" PRIu64,
							A, off, len, p.win_len, sb);
				}
			}
		}
	}
}

FT_MAIN(
	FT_RUN(random_cases_match_byte_model);
	FT_RUN(edge_cases_match_byte_model);
	FT_RUN(align_one_never_needs_a_window);
	FT_RUN(len_zero_is_pass_even_when_always);
	FT_RUN(pass_masks_agree_with_classify);
	FT_RUN(same_and_adjacent_partial_blocks_merge_into_one_read);
	FT_RUN(slot_bytes_fits_every_window_up_to_max_len);
	FT_RUN(zero_copy_segments_cover_the_window_in_order)
)

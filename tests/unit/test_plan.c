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

#define MAX_LEN		(1u << 18)
#define MAX_SPAN	(MAX_LEN + 4 * 65536u)

static char msg[512], what[256];
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	/* splitmix64: deterministic, good enough for case generation */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

struct pcase {
	uint64_t off, len;
	uintptr_t addr;
	struct fiob_align a;
	enum fiob_mode mode;
	bool write;
};

/* The model's answer for one case. */
struct expect {
	enum fiob_kind kind;
	uint64_t win_off, win_len;
	uint64_t head;
	/* Blocks (absolute index) an RMW must read, and how many reads. */
	uint64_t partial[2];
	unsigned int nr_partial;
	unsigned int nr_reads;
};

static uint8_t covered[MAX_SPAN];
static uint32_t cum[MAX_SPAN + 1];	/* covered bytes in [lo, lo + i) */
static uint32_t uncovered[MAX_SPAN];	/* per block, relative to lo / align */

static const char *kind_name(int k)
{
	return k == FIOB_KIND_PASS ? "PASS" : k == FIOB_KIND_MEM ? "MEM" :
	       k == FIOB_KIND_WINDOW ? "WINDOW" : "?";
}

static int describe(const struct pcase *c, const char *what)
{
	snprintf(msg, sizeof(msg),
		 "off=%" PRIu64 " len=%" PRIu64 " addr=%#" PRIxPTR
		 " align=%u/%u mode=%d %s: %s", c->off, c->len, c->addr,
		 c->a.off, c->a.mem, c->mode, c->write ? "write" : "read",
		 what);
	return -1;
}

/* Walk the bytes from one block before the I/O to one block after it. */
static void model(const struct pcase *c, struct expect *e)
{
	uint64_t A = c->a.off, lo, hi, b, first = UINT64_MAX, last = 0;
	uint64_t blo, nblk, i;
	bool any_partial = false;

	memset(e, 0, sizeof(*e));
	lo = c->off >= A ? c->off - A : 0;
	lo -= lo % A;
	hi = c->off + c->len + A;
	blo = lo / A;
	nblk = (hi - lo) / A + 1;
	memset(uncovered, 0, nblk * sizeof(uncovered[0]));
	cum[0] = 0;
	for (b = lo; b < hi; b++) {
		bool in = b >= c->off && b < c->off + c->len;

		covered[b - lo] = in;
		cum[b - lo + 1] = cum[b - lo] + in;
		if (in) {
			if (first == UINT64_MAX)
				first = b / A;
			last = b / A;
		}
	}
	if (first != UINT64_MAX) {
		for (b = first * A; b < (last + 1) * A; b++)
			uncovered[b / A - blo] += !covered[b - lo];
		for (i = first; i <= last; i++) {
			if (!uncovered[i - blo])
				continue;
			any_partial = true;
			if (e->nr_partial < 2)
				e->partial[e->nr_partial] = i;
			e->nr_partial++;
		}
	}

	if (c->mode == FIOB_MODE_NEVER || !c->len)
		e->kind = FIOB_KIND_PASS;
	else if (any_partial)
		e->kind = FIOB_KIND_WINDOW;
	else if (c->mode == FIOB_MODE_ALWAYS || c->addr % c->a.mem ||
		 c->len % c->a.mem)
		e->kind = FIOB_KIND_MEM;
	else
		e->kind = FIOB_KIND_PASS;

	if (e->kind != FIOB_KIND_WINDOW) {
		e->win_off = c->off;
		e->win_len = c->len;
		e->nr_partial = 0;
		return;
	}
	e->win_off = first * A;
	e->win_len = (last - first + 1) * A;
	e->head = c->off - e->win_off;
	if (!c->write)
		e->nr_partial = 0;
	e->nr_reads = e->nr_partial;
	if (e->nr_partial == 2 && e->partial[1] == e->partial[0] + 1)
		e->nr_reads = 1;
}

/* Compare fiob_classify + fiob_plan (+ user bytes) with the model. */
static int check_case(const struct pcase *c)
{
	struct expect e;
	struct fiob_plan p;
	enum fiob_kind k;
	uint64_t A = c->a.off, lo, blocks_read[4], nbr = 0, i, j, t;

	model(c, &e);
	k = fiob_classify(&c->a, c->mode, c->off, c->len, c->addr);
	if (k != e.kind) {
		snprintf(what, sizeof(what), "kind %s, expected %s", kind_name(k),
			 kind_name(e.kind));
		return describe(c, what);
	}
	memset(&p, 0xa5, sizeof(p));
	fiob_plan(&p, &c->a, k, c->off, c->len, c->write);
	if (p.kind != e.kind || p.win_off != e.win_off ||
	    p.win_len != e.win_len || p.head != e.head) {
		snprintf(what, sizeof(what), "plan kind %s win [%" PRIu64 ",+%"
			 PRIu64 ") head %u, expected [%" PRIu64 ",+%" PRIu64
			 ") head %" PRIu64, kind_name(p.kind), p.win_off,
			 p.win_len, p.head, e.win_off, e.win_len, e.head);
		return describe(c, what);
	}
	if (p.nr_rmw != e.nr_reads) {
		snprintf(what, sizeof(what), "nr_rmw %u, expected %u (%u partial)",
			 p.nr_rmw, e.nr_reads, e.nr_partial);
		return describe(c, what);
	}
	/* Every RMW read: whole blocks inside the window, no overlap. */
	for (i = 0; i < p.nr_rmw; i++) {
		if (p.rmw_off[i] % A || p.rmw_len[i] % A || !p.rmw_len[i] ||
		    p.rmw_off[i] < p.win_off ||
		    p.rmw_off[i] + p.rmw_len[i] > p.win_off + p.win_len)
			return describe(c, "RMW read not whole blocks in window");
		for (t = p.rmw_off[i]; t < p.rmw_off[i] + p.rmw_len[i]; t += A) {
			if (nbr == 4)
				return describe(c, "RMW reads more than 4 blocks");
			blocks_read[nbr++] = t / A;
		}
	}
	/* ... and the blocks read are exactly the partial ones. */
	if (nbr != e.nr_partial)
		return describe(c, "RMW reads a block count != partial blocks");
	for (i = 0; i < nbr; i++) {
		for (j = 0; j < e.nr_partial; j++)
			if (blocks_read[i] == e.partial[j])
				break;
		if (j == e.nr_partial)
			return describe(c, "RMW reads a fully covered block");
		for (j = 0; j < i; j++)
			if (blocks_read[i] == blocks_read[j])
				return describe(c, "RMW reads a block twice");
	}
	/* User bytes: count covered bytes in the first res window bytes. */
	lo = c->off >= A ? c->off - A : 0;
	lo -= lo % A;
	for (i = 0; i < 6; i++) {
		uint64_t res = i == 0 ? 0 : i == 1 ? p.win_len :
			       rnd_below(p.win_len + 1), want;

		want = cum[p.win_off + res - lo] - cum[p.win_off - lo];
		if (fiob_user_bytes(&p, c->len, res) != want) {
			snprintf(what, sizeof(what), "user_bytes(res=%" PRIu64
				 ") = %" PRIu64 ", expected %" PRIu64, res,
				 fiob_user_bytes(&p, c->len, res), want);
			return describe(c, what);
		}
	}
	if (p.win_len > fiob_slot_bytes(c->len, c->a.off, 4096))
		return describe(c, "window larger than fiob_slot_bytes(len)");
	return 0;
}

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
			FT_FAIL("case %d: %s", n, msg);
	}
}

#define CASE(o, l, ad, ao, am, md, w)					\
	do {								\
		struct pcase c_ = { o, l, ad, { ao, am }, md, w };	\
		if (check_case(&c_))					\
			FT_FAIL("%s", msg);				\
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
	FT_RUN(same_and_adjacent_partial_blocks_merge_into_one_read);
	FT_RUN(slot_bytes_fits_every_window_up_to_max_len);
	FT_RUN(zero_copy_segments_cover_the_window_in_order)
)

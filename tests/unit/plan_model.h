/*
 * The planner's reference: a naive byte-level model of what fiob_classify,
 * fiob_plan, fiob_user_bytes and fiob_slot_bytes must answer, shared by the
 * unit test (tests/unit/test_plan.c) and the fuzz target
 * (tests/fuzz/fuzz_plan.c).
 *
 * The model keeps per-byte "covered by the user range" flags over the
 * blocks around the I/O and per-block counts of uncovered bytes, and derives
 * the kind, window, head and RMW reads from them. It never uses masks:
 * blocks are b / align, alignment is b % align.
 *
 * check_case() returns 0, or -1 with the reason in plan_msg.
 */
#ifndef FIOB_PLAN_MODEL_H
#define FIOB_PLAN_MODEL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fiob_plan.h"

/*
 * The fuzz target spends its time in the model's byte loops: they are the
 * reference, not code under test, so coverage feedback skips them.
 */
#if defined(__clang__)
#define MODEL_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define MODEL_NOCOV
#endif

#define MAX_LEN		(1u << 18)
#define MAX_SPAN	(MAX_LEN + 4 * 65536u)

static char plan_msg[512], what[256];
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
	snprintf(plan_msg, sizeof(plan_msg),
		 "off=%" PRIu64 " len=%" PRIu64 " addr=%#" PRIxPTR
		 " align=%u/%u mode=%d %s: %s", c->off, c->len, c->addr,
		 c->a.off, c->a.mem, c->mode, c->write ? "write" : "read",
		 what);
	return -1;
}

/* Walk the bytes from one block before the I/O to one block after it. */
MODEL_NOCOV static void model(const struct pcase *c, struct expect *e)
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

/*
 * A window read of @c on a regular file of @size bytes: the kernel moves
 * the window's bytes below EOF, so res = clamp(size - win_off, 0, win_len).
 * The user must get exactly the covered bytes below EOF (model() must have
 * run for @c: cum[] is its cumulative coverage).
 */
static int check_short_read(const struct pcase *c, uint64_t size)
{
	struct fiob_plan p;
	uint64_t A = c->a.off, lo, res, want, stop;
	enum fiob_kind k = fiob_classify(&c->a, c->mode, c->off, c->len,
					 c->addr);

	fiob_plan(&p, &c->a, k, c->off, c->len, false);
	res = size <= p.win_off ? 0 : size - p.win_off;
	if (res > p.win_len)
		res = p.win_len;
	lo = c->off >= A ? c->off - A : 0;
	lo -= lo % A;
	/* Covered bytes in [win_off, min(size, win_end)). */
	stop = p.win_off + res;
	want = cum[stop - lo] - cum[p.win_off - lo];
	if (fiob_user_bytes(&p, c->len, res) != want) {
		snprintf(what, sizeof(what), "file size %" PRIu64 ": read of "
			 "%" PRIu64 " window bytes gives %" PRIu64 " user bytes, "
			 "expected %" PRIu64, size, res,
			 fiob_user_bytes(&p, c->len, res), want);
		return describe(c, what);
	}
	return 0;
}

#endif

/*
 * libFuzzer target: the overlap table (fiob_overlap.c) against the
 * reference model of tests/unit/overlap_model.h (the one the unit test
 * uses), for any max_pass and any sequence of acquire_bytes (file, window,
 * user bytes inside it, type), releases (each followed by every waiter
 * start the model allows) and polls over 8 request ids. After every step
 * the table's states, pass counts and counters must equal the model's, no
 * two conflicting entries may be active, no write may pass an earlier
 * entry with the same user bytes, no waiter may be passed more than
 * max_pass times, every pop must return the model's choice, and at the end
 * every waiter must have started.
 *
 * Input: one byte for max_pass, then 4 bytes per step:
 *   op    bits 0-2 id, 3-4 type (3 reads as READ), 5 user bytes are the
 *         whole window, 6 an EXCL window runs to UINT64_MAX (past EOF)
 *   a     window start (mod 48)
 *   b     bits 0-3 window length - 1, bits 4-7 file (mod 3)
 *   c     bits 0-3 user start within the window, 4-7 user length - 1
 * An op on an id in flight releases it; on a waiting id, polls.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlap_model.h"

/* max_pass values: 0 (a conflicting waiter is never passed) to the depth. */
static uint32_t fuzz_max_pass(uint8_t x)
{
	x %= NR + 2;
	return x <= NR ? x : UINT32_MAX;
}

static void fuzz_request(struct ovl_req *r, uint8_t op, uint8_t a, uint8_t b,
			 uint8_t c)
{
	uint64_t len = 1 + (b & 15);

	r->type = (op >> 3) & 3;
	if (r->type > FIOB_OVL_EXCL)
		r->type = FIOB_OVL_READ;
	r->file = (uint32_t)((b >> 4) % 3);
	r->start = a % 48;
	r->end = r->start + len;
	if (op & 0x20) {
		r->ustart = r->start;
		r->uend = r->end;
	} else {
		r->ustart = r->start + (c & 15) % len;
		r->uend = r->ustart + 1 + (uint64_t)(c >> 4) % (r->end - r->ustart);
	}
	if (r->type == FIOB_OVL_EXCL && (op & 0x40))
		r->end = UINT64_MAX;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct ovl_run run = { 0, 0 };
	struct fiob_ovl t;
	size_t k;

	if (n < 1 || fiob_ovl_init(&t, NR))
		return 0;
	ovl_reset(&t, fuzz_max_pass(d[0]));
	for (k = 1; k + 4 <= n; k += 4) {
		struct ovl_req r;

		fuzz_request(&r, d[k], d[k + 1], d[k + 2], d[k + 3]);
		if (ovl_step(&t, &run, d[k] % NR, &r, true)) {
			fprintf(stderr, "overlap model mismatch at step %zu "
				"(max_pass %u): %s\n", k / 4, max_pass, ovl_msg);
			abort();
		}
	}
	if (ovl_finish(&t, &run)) {
		fprintf(stderr, "overlap model mismatch at the end (max_pass "
			"%u): %s\n", max_pass, ovl_msg);
		abort();
	}
	fiob_ovl_exit(&t);
	return 0;
}

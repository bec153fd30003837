/*
 * libFuzzer target: the planner (fiob_classify, fiob_plan, fiob_user_bytes,
 * fiob_slot_bytes) against the byte model of tests/unit/plan_model.h, for
 * any offset below 2^63 (file offsets are off_t), buffer address, mode,
 * direction, alignment pair (1..4096 each; the unit test covers 8K..64K),
 * file size and a length of up to three blocks plus 64 bytes. The length is
 * bounded because the model walks every byte; every shape of window (one
 * block; head and tail in the same, adjacent or distant blocks) fits in it.
 *
 * Input: 4 bytes (alignment exponents, mode, flags) then 8-byte words for
 * the offset, length, address and file size; missing bytes read as 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plan_model.h"

static uint64_t word(const uint8_t **d, size_t *n)
{
	uint64_t v = 0;
	size_t k = *n < 8 ? *n : 8;

	memcpy(&v, *d, k);
	*d += k;
	*n -= k;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	uint8_t hdr[4] = { 0 };
	struct pcase c;
	uint64_t A, size, sz;

	memcpy(hdr, d, n < 4 ? n : 4);
	d += n < 4 ? n : 4;
	n -= n < 4 ? n : 4;
	rng = 0x2545f4914f6cdd1dull;	/* check_case's own picks: repeatable */
	c.a.off = 1u << (hdr[0] % 13);
	c.a.mem = 1u << (hdr[1] % 13);
	c.mode = (enum fiob_mode)(hdr[2] % 3);
	c.write = hdr[3] & 1;
	A = c.a.off;
	c.off = word(&d, &n) & ((1ull << 63) - 1);
	c.len = word(&d, &n) % (3 * A + 64 + 1);
	c.addr = (uintptr_t)word(&d, &n);
	sz = word(&d, &n);
	/* Mostly a file ending around the window; sometimes anywhere. */
	if (hdr[3] & 2)
		size = sz;
	else
		size = c.off + sz % (c.len + 2 * A + 1) > A ?
		       c.off + sz % (c.len + 2 * A + 1) - A : 0;
	if (check_case(&c) || check_short_read(&c, size)) {
		fprintf(stderr, "plan model mismatch: %s\n", plan_msg);
		abort();
	}
	return 0;
}

/*
 * libFuzzer target: the overlap table (fiob_overlap.c) against the
 * reference model of tests/unit/overlap_model.h, for any sequence of
 * acquires (file, range, type), releases and polls over 8 request ids.
 * After every step the table's states and counters must equal the model's,
 * no two conflicting entries may be active, every pop must return the
 * model's FIFO choice, and at the end every waiter must have started.
 *
 * Input: 3 bytes per step: id and type, then range and file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlap_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct ovl_run run = { 0, 0 };
	struct fiob_ovl t;
	size_t k;

	if (fiob_ovl_init(&t, NR))
		return 0;
	memset(m, 0, sizeof(m));
	seq = 0;
	for (k = 0; k + 3 <= n; k += 3) {
		uint8_t op = d[k], a = d[k + 1], b = d[k + 2];
		uint64_t start = a % 48;
		uint64_t end = (b >> 6) == 3 && (a & 1) ? UINT64_MAX :
			       start + 1 + (b >> 2) % 16;

		if (ovl_step(&t, &run, op % NR, b % 3, start, end,
			     (op >> 3) % 3, true)) {
			fprintf(stderr, "overlap model mismatch at step %zu: "
				"%s\n", k / 3, ovl_msg);
			abort();
		}
	}
	if (ovl_finish(&t, &run)) {
		fprintf(stderr, "overlap model mismatch at the end: %s\n",
			ovl_msg);
		abort();
	}
	fiob_ovl_exit(&t);
	return 0;
}

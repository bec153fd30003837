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

static void fail(const char *when)
{
	fprintf(stderr, "overlap model mismatch %s: %s\n", when, ovl_msg);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct fiob_ovl t;
	uint64_t started = 0, acquired = 0;
	size_t k;
	int i, round;

	if (fiob_ovl_init(&t, NR))
		return 0;
	memset(m, 0, sizeof(m));
	seq = 0;
	for (k = 0; k + 3 <= n; k += 3) {
		uint8_t op = d[k], a = d[k + 1], b = d[k + 2];

		i = op % NR;
		if (m[i].state == M_IDLE) {
			struct ment *e = &m[i];
			bool want, got;

			e->file = b % 3;
			e->start = a % 48;
			e->end = e->start + 1 + (b >> 2) % 16;
			if ((b >> 6) == 3 && (a & 1))
				e->end = UINT64_MAX;
			e->type = (op >> 3) % 3;
			want = m_can_start(i, true);
			got = fiob_ovl_acquire(&t, (uint32_t)i, e->file,
					       e->start, e->end,
					       (enum fiob_ovl_type)e->type);
			acquired++;
			if (got != want) {
				snprintf(ovl_msg, sizeof(ovl_msg), "acquire "
					 "of %d = %d, model %d", i, got, want);
				fail("at acquire");
			}
			if (want) {
				m_start(i);
				started++;
			} else {
				e->state = M_WAITING;
				e->seq = seq++;
			}
		} else if (m[i].state == M_ACTIVE || m[i].state == M_READING) {
			fiob_ovl_release(&t, (uint32_t)i);
			m[i].state = M_IDLE;
			if (drain(&t, &started))
				fail("after a release");
		} else if (fiob_ovl_pop_ready(&t) != -1) {
			snprintf(ovl_msg, sizeof(ovl_msg), "a waiter started "
				 "with nothing released");
			fail("at a poll");
		}
		if (check_table(&t))
			fail("after a step");
	}
	/* Finish everything: no waiter may be lost. */
	for (round = 0; round < 4 * NR; round++) {
		for (i = 0; i < NR; i++) {
			if (m[i].state != M_ACTIVE && m[i].state != M_READING)
				continue;
			fiob_ovl_release(&t, (uint32_t)i);
			m[i].state = M_IDLE;
			if (drain(&t, &started))
				fail("at the end");
		}
	}
	if (check_table(&t))
		fail("at the end");
	if (t.nr_waiting || t.nr_active || t.wait_head != -1 ||
	    t.wait_tail != -1 || started != acquired) {
		snprintf(ovl_msg, sizeof(ovl_msg), "left %u waiting, %u active,"
			 " %llu of %llu started", t.nr_waiting, t.nr_active,
			 (unsigned long long)started,
			 (unsigned long long)acquired);
		fail("at the end");
	}
	fiob_ovl_exit(&t);
	return 0;
}

/*
 * The overlap table against the reference model of the rules in
 * fiob_overlap.h (tests/unit/overlap_model.h, shared with the fuzz target),
 * on random operations with max_pass varied, with the model's independent
 * checks of the properties those rules exist for: exclusion, order of
 * writes to the same bytes, bounded passing (no starvation), no waiter lost.
 * (test_overlap.c has the directed cases.)
 */
#include <stdbool.h>
#include <stdint.h>

#include "fiob_test.h"
#include "overlap_model.h"

static uint64_t rng = 0x0123456789abcdefull;

static uint64_t rnd(void)
{
	return ft_rand(&rng);
}

/* A random request: a window, user bytes inside it, a type. */
static void random_request(struct ovl_req *r)
{
	uint64_t len;

	r->file = (uint32_t)(rnd() % 3);
	r->start = rnd() % 48;
	r->end = r->start + 1 + rnd() % 16;
	len = r->end - r->start;
	r->type = (int)(rnd() % 3);
	if (r->type == FIOB_OVL_WRITE || rnd() % 4 == 0) {
		r->ustart = r->start;	/* a window that is its user bytes */
		r->uend = r->end;
	} else {
		r->ustart = r->start + rnd() % len;
		r->uend = r->ustart + 1 + rnd() % (r->end - r->ustart);
	}
	if (r->type == FIOB_OVL_EXCL && rnd() % 8 == 0)
		r->end = UINT64_MAX;	/* a window write past a file's end */
}

static void random_ops_match_reference_model(void)
{
	static const uint32_t passes[] = { NR, 1, 2, 3, 0 };
	struct ovl_run total = { 0, 0 };
	struct fiob_ovl t;
	int step, round;

	for (round = 0; round < 400; round++) {
		struct ovl_run run = { 0, 0 };

		FT_EQ(fiob_ovl_init(&t, NR), 0);
		FT_EQ(t.max_pass, NR);
		ovl_reset(&t, passes[round % 5]);
		for (step = 0; step < 2000; step++) {
			int i = (int)(rnd() % NR);
			struct ovl_req r = { 0 };
			bool poll = false;

			if (m[i].state == M_IDLE)
				random_request(&r);
			else if (m[i].state == M_WAITING)
				poll = rnd() % 4 == 0;
			if (ovl_step(&t, &run, i, &r, poll))
				FT_FAIL("round %d step %d (max_pass %u): %s",
					round, step, max_pass, ovl_msg);
		}
		/* Finish everything: no waiter may be lost. */
		if (ovl_finish(&t, &run))
			FT_FAIL("round %d end: %s", round, ovl_msg);
		total.acquired += run.acquired;
		total.started += run.started;
		fiob_ovl_exit(&t);
	}
	FT_EQ(total.started, total.acquired);
}

FT_MAIN(
	FT_RUN(random_ops_match_reference_model)
)

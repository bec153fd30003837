/*
 * fiob_align_apply's rule restated in its own words, shared by the unit
 * test (tests/unit/test_align.c) and the fuzz target (tests/fuzz/
 * fuzz_align.c): an override below what the target needs is refused
 * (-EINVAL); each value in force is the override if given, else the need;
 * then off < mem is refused (-EDOM) if the user fixed off (bounce_align),
 * else off is raised to mem.
 */
#ifndef FIOB_ALIGN_MODEL_H
#define FIOB_ALIGN_MODEL_H

#include <errno.h>

#include "fiob_plan.h"

static int align_apply_model(const struct fiob_align *need,
			     const struct fiob_align *ovr,
			     struct fiob_align *want)
{
	if ((ovr->off && ovr->off < need->off) ||
	    (ovr->mem && ovr->mem < need->mem))
		return -EINVAL;
	want->off = ovr->off ? ovr->off : need->off;
	want->mem = ovr->mem ? ovr->mem : need->mem;
	if (want->off < want->mem && ovr->off)
		return -EDOM;
	if (want->off < want->mem)
		want->off = want->mem;
	return 0;
}

#endif

/*
 * The alignment rule a target's O_DIRECT path sets, and the power-of-two
 * arithmetic everything else does with it. The bottom of the engine: no
 * other fio-bounce header below it, used by plans, slots, stats, the ring
 * layer and discovery alike.
 */
#ifndef FIOB_ALIGN_H
#define FIOB_ALIGN_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

/* What the target's O_DIRECT path needs; both are powers of two, >= 1. */
struct fiob_align {
	uint32_t off;	/* offsets and lengths */
	uint32_t mem;	/* buffer addresses (and segment lengths) */
};

static inline bool fiob_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* The smallest power of two >= @v (1 for 0). */
static inline uint32_t fiob_roundup_pow2(uint32_t v)
{
	uint32_t r = 1;

	while (r < v)
		r <<= 1;
	return r;
}

static inline uint64_t fiob_round_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

static inline uint64_t fiob_round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * The rule in force: @need raised by the overrides in @ovr (0: none), then
 * off raised to at least mem. Every length the engine issues (windows, RMW
 * reads into slots) is a multiple of off only, and the kernel checks
 * segment lengths against the memory rule too, so off < mem would issue I/O
 * the kernel may refuse. Returns -EINVAL if an override is below what the
 * target needs (lowering it would only turn bounced I/O back into EINVAL),
 * -EDOM if bounce_align itself is below the memory rule in force (the user
 * fixed off: it is not silently changed).
 */
static inline int fiob_align_apply(const struct fiob_align *need,
				   const struct fiob_align *ovr,
				   struct fiob_align *out)
{
	if ((ovr->off && ovr->off < need->off) ||
	    (ovr->mem && ovr->mem < need->mem))
		return -EINVAL;
	out->off = ovr->off > need->off ? ovr->off : need->off;
	out->mem = ovr->mem > need->mem ? ovr->mem : need->mem;
	if (out->off < out->mem) {
		if (ovr->off)
			return -EDOM;
		out->off = out->mem;
	}
	return 0;
}

#endif

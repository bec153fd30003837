/*
 * The zero-copy size threshold (fiob_zc.c): the rule from a copy speed, and
 * the per-process calibration that feeds it.
 */
#include <math.h>
#include <stdint.h>

#include "fiob_zc.h"
#include "fiob_test.h"

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* The bytes copied in FIOB_ZC_BREAKEVEN_NS, up to a power of two, bounded. */
static void threshold_rounds_up_within_bounds(void)
{
	double ns = FIOB_ZC_BREAKEVEN_NS;

	FT_EQ(fiob_zc_min_for_speed(0), FIOB_ZC_MIN_LOW);
	FT_EQ(fiob_zc_min_for_speed(-1), FIOB_ZC_MIN_LOW);
	FT_EQ(fiob_zc_min_for_speed(16384 / ns), 16384);
	FT_EQ(fiob_zc_min_for_speed(16385 / ns), 32768);
	FT_EQ(fiob_zc_min_for_speed(114.8e3 / ns), 131072);
	FT_EQ(fiob_zc_min_for_speed(131072 / ns), 131072);
	FT_EQ(fiob_zc_min_for_speed(131073 / ns), 262144);
	FT_EQ(fiob_zc_min_for_speed(1e9), FIOB_ZC_MIN_HIGH);
	FT_EQ(fiob_zc_min_for_speed(INFINITY), FIOB_ZC_MIN_HIGH);
	/* No speed to go by: the high bound (copying is the safe side). */
	FT_EQ(fiob_zc_min_for_speed(NAN), FIOB_ZC_MIN_HIGH);
}

/* Timed once: a positive speed, the rule's answer, the same every call. */
static void auto_threshold_is_calibrated_once(void)
{
	uint64_t t = fiob_zc_auto_min();
	double speed = fiob_zc_copy_speed();

	FT_ASSERT(speed > 0);
	FT_EQ(t, fiob_zc_min_for_speed(speed));
	FT_ASSERT(is_pow2(t) && t >= FIOB_ZC_MIN_LOW && t <= FIOB_ZC_MIN_HIGH);
	FT_EQ(fiob_zc_auto_min(), t);
	FT_ASSERT(fiob_zc_copy_speed() == speed);
}

FT_MAIN(
	FT_RUN(threshold_rounds_up_within_bounds);
	FT_RUN(auto_threshold_is_calibrated_once)
)

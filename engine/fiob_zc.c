/*
 * The zero-copy size threshold (fiob_zc.h): a timed copy per process.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fiob_copy.h"
#include "fiob_zc.h"

#define CAL_BYTES	(64u << 10)
#define CAL_ROUNDS	8

static pthread_once_t zc_once = PTHREAD_ONCE_INIT;
static uint64_t zc_auto_min = FIOB_ZC_MIN_HIGH;
static double zc_speed;

uint64_t fiob_zc_min_for_speed(double bytes_per_ns)
{
	double want = bytes_per_ns * FIOB_ZC_BREAKEVEN_NS;
	uint64_t min = FIOB_ZC_MIN_LOW;

	/* NaN and absurd speeds end at a bound, never at 0. */
	while (min < FIOB_ZC_MIN_HIGH && !(min >= want))
		min <<= 1;
	return min;
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/*
 * Best of a few rounds: a burst of load on a shared machine only makes a
 * round slower, so the fastest round is the CPU's speed. The source was
 * written just before, like a slot the device has just filled.
 */
static void calibrate(void)
{
	unsigned char *src = NULL, *dst = NULL;
	double best = 0;
	unsigned int i;

	if (posix_memalign((void **)&src, 4096, CAL_BYTES) ||
	    posix_memalign((void **)&dst, 4096, CAL_BYTES))
		goto out;	/* keep the high bound: copy is the safe side */
	memset(dst, 0, CAL_BYTES);
	for (i = 0; i < CAL_ROUNDS; i++) {
		double t0, dt;

		memset(src, (int)i + 1, CAL_BYTES);
		t0 = now_ns();
		fiob_copy(dst, src, CAL_BYTES);
		dt = now_ns() - t0;
		if (dt > 0 && (best == 0 || dt < best))
			best = dt;
	}
	if (best > 0) {
		zc_speed = CAL_BYTES / best;
		zc_auto_min = fiob_zc_min_for_speed(zc_speed);
	}
out:
	free(src);
	free(dst);
}

uint64_t fiob_zc_auto_min(void)
{
	pthread_once(&zc_once, calibrate);
	return zc_auto_min;
}

double fiob_zc_copy_speed(void)
{
	return zc_speed;
}

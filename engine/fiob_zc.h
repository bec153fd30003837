/*
 * When zero copy pays: the smallest user transfer that goes out as one
 * vectored transfer around the user buffer instead of being copied.
 *
 * Zero copy is not free. A WRITEV cannot name the registered slot (a fixed
 * vectored op needs every segment in one registered buffer, and these mix
 * a slot with fio's memory; reads escape that on the span, fiob_span.h,
 * where one exists), so the kernel pins and unpins the
 * transfer's pages per I/O and imports three segments, where the copy
 * path moves the whole window into a registered slot with no pinning and
 * then copies the user's bytes. Below some size the copy is the cheaper
 * of the two. That size scales with how fast this CPU copies, so it is
 * derived at run time from a timed copy (once per process, at the first
 * open); the kernel's extra work it is weighed against is a constant
 * measured on the bench machine (FIOB_ZC_BREAKEVEN_NS).
 */
#ifndef FIOB_ZC_H
#define FIOB_ZC_H

#include <stdint.h>

/* bounce_zero_copy_min=auto: the engine chooses (fiob_zc_auto_min). */
#define FIOB_ZC_MIN_AUTO	UINT64_MAX

/*
 * Nanoseconds of extra kernel work per zero-copy transfer, against a fixed
 * read or write into a registered slot, that the saved copy must outweigh.
 * Measured on the bench machine (Zen 5 VM, kernel 6.18, 4Kn loop device;
 * bench/RESULTS-zc.md): submitter CPU per I/O was lower with the copy
 * through 64 KiB and about even at 128 KiB, where the copy took ~1 us.
 */
#define FIOB_ZC_BREAKEVEN_NS	1000u
/* Bounds of the automatic threshold. */
#define FIOB_ZC_MIN_LOW		(16u << 10)
#define FIOB_ZC_MIN_HIGH	(1u << 20)

/*
 * The threshold for a CPU that copies @bytes_per_ns: the bytes it copies
 * in FIOB_ZC_BREAKEVEN_NS, rounded up to a power of two, within
 * [FIOB_ZC_MIN_LOW, FIOB_ZC_MIN_HIGH]. Pure, for the tests.
 */
uint64_t fiob_zc_min_for_speed(double bytes_per_ns);

/*
 * The automatic threshold of this process: fiob_zc_min_for_speed of a
 * 64 KiB fiob_copy timed on first use (best of a few rounds, ~20 us), the
 * same answer afterwards. No syscalls but the clock and the buffers' first
 * allocation; callers cache it per file.
 */
uint64_t fiob_zc_auto_min(void);

/* The copy speed fiob_zc_auto_min measured, bytes per ns (0: not measured). */
double fiob_zc_copy_speed(void);

#endif

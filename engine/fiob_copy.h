/*
 * Copying between bounce buffers and user buffers at arbitrary byte
 * offsets, with the routine that is fastest on the CPU we run on.
 *
 * Which memcpy is fastest depends on the CPU, the size and the distance
 * d = (dst - src) mod 4096: on Zen 3, glibc's memcpy (rep movsb) collapses
 * to a few GB/s at small d (4K aliasing) while an AVX2 loop that copies
 * backwards there does not; on Zen 5, glibc has no such cliff, an AVX-512
 * loop wins at 4 KiB and rep movsb above. So the choice is made per size
 * class and distance class, once per process at load, from CPUID and a
 * short calibration (fiob_copy_select.c). Routines: fiob_copy.c.
 */
#ifndef FIOB_COPY_H
#define FIOB_COPY_H

#include <stddef.h>

/* memcpy() for non-overlapping buffers: any alignment, any n (0 too). */
void fiob_copy(void *dst, const void *src, size_t n);

/*
 * The choice, one word (no spaces, for log lines): per size class the
 * routine for most distances and the exceptions, then the calibration
 * cost, e.g. "256+:glibc,2K+:vbmi,32K+:glibc(d1-63:vbmi),512K+:erms,
 * cal=420us". "forced:NAME" after fiob_copy_force(NAME).
 */
const char *fiob_copy_impl(void);

/*
 * For tests and benchmarks only: route every size and distance to routine
 * @name ("glibc", "erms", "vbmi", "avx512", "avx2", "sse2"), or back to the
 * calibrated choice if @name is NULL. Returns 0, or -1 if @name is unknown
 * or this CPU cannot run it. FIOB_COPY=name in the environment does the
 * same at load, instead of the calibration (runs under valgrind).
 */
int fiob_copy_force(const char *name);

/* Names of the routines this CPU can run, best first; returns how many. */
int fiob_copy_routines(const char **names, int max);

/* Name of the routine fiob_copy(dst, src, n) calls now. */
const char *fiob_copy_route(const void *dst, const void *src, size_t n);

/* Wall time the calibration took, in microseconds (0 if none ran). */
double fiob_copy_calibration_us(void);

#endif

/*
 * Copying between bounce buffers and user buffers at arbitrary byte
 * offsets, at memory speed for every (dst - src) mod 4096.
 *
 * glibc's memcpy (rep movsb) collapses to a few GB/s when dst is a little
 * above src modulo 4096 (4K aliasing), which is exactly the case of a
 * page-aligned bounce buffer copied to a user buffer at a small offset.
 * See fiob_copy.c for the rule and bench/copybench.c for the measurement.
 */
#ifndef FIOB_COPY_H
#define FIOB_COPY_H

#include <stddef.h>

/* memcpy() for non-overlapping buffers: any alignment, any n (0 too). */
void fiob_copy(void *dst, const void *src, size_t n);

/* Short name of the implementation in use, e.g. "avx2-fwd/bwd". */
const char *fiob_copy_impl(void);

/*
 * For tests and benchmarks only: use implementation @name ("avx2" or
 * "sse2"; "generic" off x86-64), or the CPU's best one if @name is NULL.
 * Returns 0, or -1 if @name is unknown or this CPU cannot run it.
 */
int fiob_copy_force(const char *name);

#endif

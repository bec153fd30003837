/*
 * Private to fiob_copy.c (the routines and the dispatch) and
 * fiob_copy_select.c (which routine goes where).
 */
#ifndef FIOB_COPY_INT_H
#define FIOB_COPY_INT_H

#include <stddef.h>
#include <stdint.h>

typedef void (*fiob_copy_fn)(void *dst, const void *src, size_t n);

struct fiob_copy_routine {
	const char *name;
	fiob_copy_fn fn;
	unsigned int needs;	/* FIOB_CPU_* bits it needs */
	unsigned int superseded;	/* not worth timing with these bits */
	/*
	 * Copies forwards with rep movsb at some sizes (glibc from 2 KiB
	 * with ERMS/FSRM, erms always), which loses its fast path at d 1..63.
	 */
	unsigned int movsb;
};

enum {
	FIOB_CPU_AVX2	= 1u << 0,	/* CPUID and OS YMM state */
	FIOB_CPU_AVX512	= 1u << 1,	/* avx512f+bw, OS ZMM state */
	FIOB_CPU_ERMS	= 1u << 2,	/* ERMS or FSRM: fast rep movsb */
	FIOB_CPU_VBMI	= 1u << 3,	/* avx512vbmi: vpermt2b */
};

/* The distance class where rep movsb loses its fast path: d in [1, 64). */
#define FIOB_COPY_DIST_ALIAS	1

/* Every routine built in, best first; the last (glibc) runs anywhere. */
extern const struct fiob_copy_routine fiob_copy_all[];
extern const unsigned int fiob_copy_nr_all;

/*
 * Size classes: below 256 bytes glibc copies by loading everything before
 * storing anything, so distance cannot matter and class 0 is glibc unless
 * forced; then [256, 2K), [2K, 32K), [32K, 512K), [512K, ...).
 */
#define FIOB_COPY_SIZES	5
extern const unsigned char fiob_copy_size_map[64];	/* by log2(n) */
static inline unsigned int fiob_copy_size_class(size_t n)
{
	return fiob_copy_size_map[63 - __builtin_clzll((unsigned long long)n | 1)];
}

/*
 * Distance classes, d = (dst - src) mod 4096: 0; [1, 64): the source line
 * overlaps the destination line modulo 4K; [64, 256): where Zen 3's
 * forward copies still alias; [256, 1024), [1024, 2048), [2048, 4096).
 */
#define FIOB_COPY_DISTS	6
extern const unsigned char fiob_copy_dist_map[64];	/* by d / 64 */
static inline unsigned int fiob_copy_dist_class(const void *dst,
						const void *src)
{
	unsigned int d = ((uintptr_t)dst - (uintptr_t)src) & 4095;

	return d ? fiob_copy_dist_map[d >> 6] : 0;
}

/* The dispatch table: written at load (and by fiob_copy_force) only. */
extern fiob_copy_fn fiob_copy_table[FIOB_COPY_SIZES][FIOB_COPY_DISTS];

#endif

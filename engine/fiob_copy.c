/*
 * Bounce copies: the routines, and the dispatch by size and distance.
 * fiob_copy_select.c decides which routine serves which class.
 *
 * A load whose address matches the low 12 bits of an older store still in
 * flight waits as if it depended on it ("4K aliasing"). When dst - src is
 * small and positive modulo 4096, a forward copy loads each byte just after
 * storing to an address that aliases it: glibc 2.36's memcpy (rep movsb,
 * used from 2 KiB up to the L2 size on AMD) then drops from 50-80 GB/s to
 * 2-3 GB/s on Zen 3. Aligning dst first keeps the distance, so no help.
 *
 * The vector routines sse2, avx2 and avx512 follow one rule, with
 * d = (dst - src) mod 4096:
 *   1 <= d < 2048: copy backwards; the store a load aliases was issued
 *                  4096 - d > 2048 bytes earlier.
 *   otherwise:     copy forwards; that store is d >= 2048 bytes back
 *                  (for d == 0, a whole page).
 * 2048 bytes are 64 32-byte stores, Zen 3's whole store queue, so the
 * aliased store has left it. Measured, forward copies slow down only for
 * d below ~256 and backward ones above ~3840: the midpoint leaves margin.
 *
 * vbmi (below) copies forwards at any distance with aligned loads too.
 *
 * Stores go to vector-aligned addresses: unaligned ones that split cache
 * lines made the copy 2-3x slower. Only the two end vectors are unaligned.
 *
 * "erms" is a bare rep movsb. Where the CPU has ERMS/FSRM it writes whole
 * lines without reading them first (measured on Zen 5: 1.2x glibc at
 * 1 MiB, where glibc 2.36 uses a vector loop), but it is the one that
 * aliases at small d, so it only wins where the calibration says so. On
 * Zen 5 at d 1..63 it loses that no-read path: at 128 KiB it runs at
 * 0.70-0.98 of aligned memcpy from one tenth of a second to the next,
 * like the vector loops, which read every destination line they write.
 */
#include <stdint.h>
#include <string.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "fiob_copy.h"
#include "fiob_copy_int.h"

#define PAGE		4096u
#define BACKWARD_MAX	2048u	/* backwards iff 1 <= d < BACKWARD_MAX */
/*
 * Vectors per loop turn. For 32-byte vectors 4 measured as fast as 8 on
 * Zen 3 (2 slower), but 8 take ~35% fewer instructions per byte (callgrind:
 * a 4 KiB copy in ~330 instead of 508); 64-byte vectors keep 4 (256 bytes).
 */
#define UNROLL(V)	((V) == 64 ? 4 : 8)

#define INLINE		static inline __attribute__((always_inline))

/* GCC vector types; any alignment, may alias (like __m256i_u). */
typedef unsigned char vec32_u __attribute__((vector_size(32), aligned(1),
					      may_alias));
typedef unsigned char vec64_u __attribute__((vector_size(64), aligned(1),
					      may_alias));

/*
 * Copy V bytes. The kernels below are inlined into one function per
 * instruction set: V = 64 in the AVX-512 one (one zmm load and store),
 * V = 32 with wide set in the AVX2 one (one ymm), and V = 32 with wide
 * clear in the baseline one, where memcpy() of a constant 32 bytes becomes
 * two SSE2 moves (a 32-byte vector there is spilled, doubling the stores).
 */
INLINE void move(unsigned char *d, const unsigned char *s, size_t V, int wide)
{
	if (V == 64) {
		vec64_u v = *(const vec64_u *)s;
		*(vec64_u *)d = v;
	} else if (wide) {
		vec32_u v = *(const vec32_u *)s;
		*(vec32_u *)d = v;
	} else {
		memcpy(d, s, 32);
	}
}

/*
 * A store straddling a page boundary costs ~10 ns here (a whole 4 KiB copy
 * takes ~50), so an end vector that would straddle one is replaced by a
 * memcpy() of the < V bytes on its side of the boundary.
 */
INLINE int splits_page(const void *p, size_t V)
{
	return ((uintptr_t)p & (PAGE - 1)) > PAGE - V;
}

/*
 * The end of a forward copy: V-aligned d up to @end (where the last vector
 * goes, d > end - V), then that last vector, unaligned.
 */
INLINE void fwd_tail(unsigned char *d, const unsigned char *s,
		     unsigned char *end, const unsigned char *send, size_t V,
		     int wide)
{
	/*
	 * Fewer than UNROLL(V) vectors are left before the last one: 4, 2,
	 * then 1 and 1, instead of a loop of single vectors (a third of the
	 * instructions of a 4 KiB copy went to that loop's control).
	 */
	if (UNROLL(V) == 8 && end - d > (ptrdiff_t)(4 * V)) {
		move(d, s, V, wide);
		move(d + V, s + V, V, wide);
		move(d + 2 * V, s + 2 * V, V, wide);
		move(d + 3 * V, s + 3 * V, V, wide);
		d += 4 * V;
		s += 4 * V;
	}
	if (end - d > (ptrdiff_t)(2 * V)) {
		move(d, s, V, wide);
		move(d + V, s + V, V, wide);
		d += 2 * V;
		s += 2 * V;
	}
	if (end - d > (ptrdiff_t)V) {
		move(d, s, V, wide);
		d += V;
		s += V;
	}
	if (d < end) {
		move(d, s, V, wide);
		d += V;
		s += V;
	}
	if (splits_page(end, V))
		memcpy(d, s, end + V - d);	/* d is the page boundary */
	else
		move(end, send, V, wide);
}

/* The V-aligned middle forwards, then the unaligned ends. n >= V. */
INLINE void copy_fwd(unsigned char *d, const unsigned char *s, size_t n,
		     size_t V, int wide)
{
	unsigned char *end = d + n - V;	/* where the last vector goes */
	const unsigned char *send = s + n - V;
	size_t skew = V - ((uintptr_t)d & (V - 1));	/* 1..V */

	if (splits_page(d, V))
		memcpy(d, s, skew);
	else
		move(d, s, V, wide);
	d += skew;
	s += skew;
	for (; end - d >= (ptrdiff_t)(UNROLL(V) * V); d += UNROLL(V) * V,
						     s += UNROLL(V) * V) {
		move(d, s, V, wide);
		move(d + V, s + V, V, wide);
		move(d + 2 * V, s + 2 * V, V, wide);
		move(d + 3 * V, s + 3 * V, V, wide);
		if (UNROLL(V) == 8) {
			move(d + 4 * V, s + 4 * V, V, wide);
			move(d + 5 * V, s + 5 * V, V, wide);
			move(d + 6 * V, s + 6 * V, V, wide);
			move(d + 7 * V, s + 7 * V, V, wide);
		}
	}
	fwd_tail(d, s, end, send, V, wide);
}

/* The same from the top down. n >= V. */
INLINE void copy_bwd(unsigned char *d, const unsigned char *s, size_t n,
		     size_t V, int wide)
{
	unsigned char *lo = d + V, *de = d + n;
	const unsigned char *se = s + n;
	size_t skew = (((uintptr_t)de - 1) & (V - 1)) + 1;	/* 1..V */

	if (splits_page(de - V, V))
		memcpy(de - skew, se - skew, skew);
	else
		move(de - V, se - V, V, wide);
	de -= skew;
	se -= skew;
	while (de - lo >= (ptrdiff_t)(UNROLL(V) * V)) {
		de -= UNROLL(V) * V;
		se -= UNROLL(V) * V;
		if (UNROLL(V) == 8) {
			move(de + 7 * V, se + 7 * V, V, wide);
			move(de + 6 * V, se + 6 * V, V, wide);
			move(de + 5 * V, se + 5 * V, V, wide);
			move(de + 4 * V, se + 4 * V, V, wide);
		}
		move(de + 3 * V, se + 3 * V, V, wide);
		move(de + 2 * V, se + 2 * V, V, wide);
		move(de + V, se + V, V, wide);
		move(de, se, V, wide);
	}
	/* The rest as in fwd_tail(), from the top down. */
	if (UNROLL(V) == 8 && de - lo > (ptrdiff_t)(4 * V)) {
		de -= 4 * V;
		se -= 4 * V;
		move(de + 3 * V, se + 3 * V, V, wide);
		move(de + 2 * V, se + 2 * V, V, wide);
		move(de + V, se + V, V, wide);
		move(de, se, V, wide);
	}
	if (de - lo > (ptrdiff_t)(2 * V)) {
		de -= 2 * V;
		se -= 2 * V;
		move(de + V, se + V, V, wide);
		move(de, se, V, wide);
	}
	if (de - lo > (ptrdiff_t)V) {
		de -= V;
		se -= V;
		move(de, se, V, wide);
	}
	if (de > lo) {
		de -= V;
		se -= V;
		move(de, se, V, wide);
	}
	if (splits_page(d, V))
		memcpy(d, s, de - d);		/* de is the page boundary */
	else
		move(d, s, V, wide);
}

/* Any n: below one vector, glibc loads it all before storing any of it. */
INLINE void copy_any(void *dst, const void *src, size_t n, size_t V, int wide)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	uintptr_t dist = ((uintptr_t)d - (uintptr_t)s) & (PAGE - 1);

	if (n < V) {
		if (n)
			memcpy(d, s, n);
	} else if (dist - 1 < BACKWARD_MAX - 1) {
		copy_bwd(d, s, n, V, wide);
	} else {
		copy_fwd(d, s, n, V, wide);
	}
}

static void copy_base(void *d, const void *s, size_t n)
{
	copy_any(d, s, n, 32, 0);
}

static void copy_glibc(void *d, const void *s, size_t n)
{
	if (n)			/* memcpy(NULL, NULL, 0) is undefined */
		memcpy(d, s, n);
}

#ifdef __x86_64__
#define BASE_NAME	"sse2"		/* part of the x86-64 baseline */

static __attribute__((target("avx2")))
void copy_avx2(void *d, const void *s, size_t n)
{
	copy_any(d, s, n, 32, 1);
}

static __attribute__((target("avx512f,avx512bw")))
void copy_avx512(void *d, const void *s, size_t n)
{
	copy_any(d, s, n, 64, 1);
}

/*
 * Forwards at any distance, every load and store 64-byte aligned: each
 * destination line is cut from two aligned source lines by vpermt2b. On
 * Zen 5 at 128 KiB (source and destination in L2) a line-crossing load
 * costs the avx512 loop ~10% (0.89 of aligned memcpy instead of 0.97);
 * this runs at 0.95-0.99 at every distance when the machine is quiet. When
 * it is not (this VM's neighbours), every loop that reads the destination
 * lines it writes drops to ~0.74, this one too. Loads stay inside the
 * source: its first and last partial lines go through unaligned moves.
 */
#define VBMI_MIN	256	/* below: the avx512 kernel */
#define VBMI_UNROLL	4

static __attribute__((target("avx512f,avx512bw,avx512vbmi")))
void copy_vbmi(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst, *end = d + n - 64;
	const unsigned char *s = src, *send = s + n - 64, *line;
	size_t skew = 64 - ((uintptr_t)d & 63);		/* 1..64 */
	unsigned int r = ((uintptr_t)s - (uintptr_t)d) & 63;
	__m512i idx, prev;

	if (n < VBMI_MIN || !r) {	/* r == 0: plain loads are aligned */
		copy_any(dst, src, n, 64, 1);
		return;
	}
	if (splits_page(d, 64))
		memcpy(d, s, skew);
	else
		move(d, s, 64, 1);
	d += skew;
	s += skew;
	line = s - r;			/* d is aligned, s is r past a line */
	if (line < (const unsigned char *)src) {
		move(d, s, 64, 1);
		d += 64;
		s += 64;
		line += 64;
	}
	/* output byte i of a line is byte r + i of (line, next line) */
	idx = _mm512_add_epi8(_mm512_set_epi8(
		63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48,
		47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32,
		31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
		15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
		_mm512_set1_epi8((char)r));
	prev = _mm512_load_si512(line);
	/* the lines loaded, line + 64 .. line + 64 * VBMI_UNROLL, end in src */
	while (send + 64 - line >= 64 * (VBMI_UNROLL + 1)) {
		__m512i a = _mm512_load_si512(line + 64);
		__m512i b = _mm512_load_si512(line + 128);
		__m512i c = _mm512_load_si512(line + 192);
		__m512i e = _mm512_load_si512(line + 256);

		_mm512_store_si512(d, _mm512_permutex2var_epi8(prev, idx, a));
		_mm512_store_si512(d + 64, _mm512_permutex2var_epi8(a, idx, b));
		_mm512_store_si512(d + 128, _mm512_permutex2var_epi8(b, idx, c));
		_mm512_store_si512(d + 192, _mm512_permutex2var_epi8(c, idx, e));
		prev = e;
		line += 64 * VBMI_UNROLL;
		d += 64 * VBMI_UNROLL;
	}
	fwd_tail(d, line + r, end, send, 64, 1);
}

static void copy_erms(void *d, const void *s, size_t n)
{
	__asm__ __volatile__("rep movsb"
			     : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}
#else
#define BASE_NAME	"generic"
#endif

const struct fiob_copy_routine fiob_copy_all[] = {
#ifdef __x86_64__
	{ "vbmi", copy_vbmi, FIOB_CPU_AVX512 | FIOB_CPU_VBMI, 0, 0 },
	/* timed where vbmi cannot run: vbmi is this kernel below 256 bytes,
	 * and as fast within noise above at 4 KiB (1.02-1.16 of aligned) */
	{ "avx512", copy_avx512, FIOB_CPU_AVX512, FIOB_CPU_VBMI, 0 },
	{ "avx2", copy_avx2, FIOB_CPU_AVX2, FIOB_CPU_AVX512, 0 },
	{ "erms", copy_erms, FIOB_CPU_ERMS, 0, 1 },
#endif
	/* avx2's kernel at half the width: only where avx2 cannot run */
	{ BASE_NAME, copy_base, 0, FIOB_CPU_AVX2, 0 },
	{ "glibc", copy_glibc, 0, 0, 1 },
};
const unsigned int fiob_copy_nr_all =
	sizeof(fiob_copy_all) / sizeof(fiob_copy_all[0]);

/* floor(log2(n)) -> class: <256, <2K, <32K, <512K, the rest */
const unsigned char fiob_copy_size_map[64] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3,
	3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* d / 64 -> class: 0 (d in 1..63), 1-3, 4-15, 16-31, 32-63 */
const unsigned char fiob_copy_dist_map[64] = {
	1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
};

/* glibc everywhere until the constructor in fiob_copy_select.c has run. */
#define G6	{ copy_glibc, copy_glibc, copy_glibc, copy_glibc, copy_glibc, \
		  copy_glibc }
fiob_copy_fn fiob_copy_table[FIOB_COPY_SIZES][FIOB_COPY_DISTS] = {
	G6, G6, G6, G6, G6
};

void fiob_copy(void *dst, const void *src, size_t n)
{
	fiob_copy_table[fiob_copy_size_class(n)]
		       [fiob_copy_dist_class(dst, src)](dst, src, n);
}

const char *fiob_copy_route(const void *dst, const void *src, size_t n)
{
	fiob_copy_fn fn = fiob_copy_table[fiob_copy_size_class(n)]
					 [fiob_copy_dist_class(dst, src)];

	for (unsigned int i = 0; i < fiob_copy_nr_all; i++)
		if (fiob_copy_all[i].fn == fn)
			return fiob_copy_all[i].name;
	return "?";
}

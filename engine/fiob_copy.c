/*
 * Bounce copies: memcpy() that stays fast at every (dst - src) mod 4096.
 *
 * A load whose address matches the low 12 bits of an older store still in
 * flight waits as if it depended on it ("4K aliasing"). When dst - src is
 * small and positive modulo 4096, a forward copy loads each byte just after
 * storing to an address that aliases it: glibc 2.36's memcpy (rep movsb,
 * used from 2 KiB up to the L2 size on AMD) then drops from 50-80 GB/s to
 * 2-3 GB/s on Zen 3. Aligning dst first keeps the distance, so no help.
 * It also loses ~25% at 4 KiB at any misaligned offset.
 *
 * The rule here, with d = (dst - src) mod 4096:
 *   1 <= d < 2048: copy backwards; the store a load aliases was issued
 *                  4096 - d > 2048 bytes earlier.
 *   otherwise:     copy forwards; that store is d >= 2048 bytes back
 *                  (for d == 0, a whole page).
 * 2048 bytes are 64 32-byte stores, Zen 3's whole store queue, so the
 * aliased store has left it. Measured, forward copies slow down only for
 * d below ~256 and backward ones above ~3840: the midpoint leaves margin.
 *
 * Stores go to 32-byte aligned addresses: unaligned ones that split cache
 * lines made the copy 2-3x slower. Only the two end vectors are unaligned.
 */
#include <stdint.h>
#include <string.h>

#include "fiob_copy.h"

#define PAGE		4096u
#define BACKWARD_MAX	2048u	/* backwards iff 1 <= d < BACKWARD_MAX */
#define VEC		32u	/* bytes per vector; also the smallest n */
#define UNROLL		(4 * VEC)	/* 2 measured slower, 8 no faster */

typedef void (*copy_fn)(unsigned char *d, const unsigned char *s, size_t n);

#define INLINE		static inline __attribute__((always_inline))

/* GCC vector type; _u: any alignment, may alias (like __m256i_u). */
typedef unsigned char vec_t __attribute__((vector_size(VEC)));
typedef unsigned char vec_u __attribute__((vector_size(VEC), aligned(1),
					     may_alias));

/*
 * Copy VEC bytes. The kernel below is inlined twice: with wide set into an
 * AVX2 function, where this is one ymm load and store, and with wide clear
 * into a baseline one, where memcpy() of a constant 32 bytes becomes two
 * SSE2 moves (a 32-byte vec_t there is spilled, doubling the stores).
 */
INLINE void move(unsigned char *d, const unsigned char *s, int wide)
{
	vec_t v;

	if (wide) {
		v = *(const vec_u *)s;
		*(vec_u *)d = v;
	} else {
		memcpy(d, s, VEC);
	}
}

/*
 * A store straddling a page boundary costs ~10 ns here (a whole 4 KiB copy
 * takes ~50), so an end vector that would straddle one is replaced by a
 * memcpy() of the < 32 bytes on its side of the boundary.
 */
INLINE int splits_page(const void *p)
{
	return ((uintptr_t)p & (PAGE - 1)) > PAGE - VEC;
}

/* The VEC-aligned middle forwards, then the unaligned ends. n >= VEC. */
INLINE void copy_fwd(unsigned char *d, const unsigned char *s, size_t n,
		     int wide)
{
	unsigned char *end = d + n - VEC;	/* where the last vector goes */
	const unsigned char *send = s + n - VEC;
	size_t skew = VEC - ((uintptr_t)d & (VEC - 1));	/* 1..VEC */

	if (splits_page(d))
		memcpy(d, s, skew);
	else
		move(d, s, wide);
	d += skew;
	s += skew;
	for (; end - d >= (ptrdiff_t)UNROLL; d += UNROLL, s += UNROLL) {
		move(d, s, wide);
		move(d + VEC, s + VEC, wide);
		move(d + 2 * VEC, s + 2 * VEC, wide);
		move(d + 3 * VEC, s + 3 * VEC, wide);
	}
	for (; d < end; d += VEC, s += VEC)
		move(d, s, wide);
	if (splits_page(end))
		memcpy(d, s, end + VEC - d);	/* d is the page boundary */
	else
		move(end, send, wide);
}

/* The same from the top down. n >= VEC. */
INLINE void copy_bwd(unsigned char *d, const unsigned char *s, size_t n,
		     int wide)
{
	unsigned char *lo = d + VEC, *de = d + n;
	const unsigned char *se = s + n;
	size_t skew = (((uintptr_t)de - 1) & (VEC - 1)) + 1;	/* 1..VEC */

	if (splits_page(de - VEC))
		memcpy(de - skew, se - skew, skew);
	else
		move(de - VEC, se - VEC, wide);
	de -= skew;
	se -= skew;
	while (de - lo >= (ptrdiff_t)UNROLL) {
		de -= UNROLL;
		se -= UNROLL;
		move(de + 3 * VEC, se + 3 * VEC, wide);
		move(de + 2 * VEC, se + 2 * VEC, wide);
		move(de + VEC, se + VEC, wide);
		move(de, se, wide);
	}
	while (de > lo) {
		de -= VEC;
		se -= VEC;
		move(de, se, wide);
	}
	if (splits_page(d))
		memcpy(d, s, de - d);		/* de is the page boundary */
	else
		move(d, s, wide);
}

INLINE void copy_any(unsigned char *d, const unsigned char *s, size_t n,
		     int wide)
{
	uintptr_t dist = ((uintptr_t)d - (uintptr_t)s) & (PAGE - 1);

	if (dist - 1 < BACKWARD_MAX - 1)
		copy_bwd(d, s, n, wide);
	else
		copy_fwd(d, s, n, wide);
}

static void copy_base(unsigned char *d, const unsigned char *s, size_t n)
{
	copy_any(d, s, n, 0);
}

#ifdef __x86_64__
#define BASE_NAME	"sse2"		/* part of the x86-64 baseline */

static __attribute__((target("avx2")))
void copy_avx2(unsigned char *d, const unsigned char *s, size_t n)
{
	copy_any(d, s, n, 1);
}

static int have_avx2(void)
{
	__builtin_cpu_init();	/* we may run before libgcc's constructor */
	return __builtin_cpu_supports("avx2");	/* also checks OS YMM state */
}
#else
#define BASE_NAME	"generic"
#endif

static const struct copy_impl {
	const char *key, *name;
	copy_fn fn;
} impls[] = {
#ifdef __x86_64__
	{ "avx2", "avx2-fwd/bwd", copy_avx2 },
#endif
	{ BASE_NAME, BASE_NAME "-fwd/bwd", copy_base },
};

#define NR_IMPLS	(sizeof(impls) / sizeof(impls[0]))

static int usable(const struct copy_impl *im)
{
#ifdef __x86_64__
	if (im->fn == copy_avx2)
		return have_avx2();
#endif
	return 1;
}

static const struct copy_impl *best(void)
{
	unsigned int i = 0;

	while (!usable(&impls[i]))	/* the last one always is */
		i++;
	return &impls[i];
}

/*
 * Chosen on first use. Threads racing here all store the same pointer, and
 * pointer-sized loads and stores are atomic, so no lock is needed.
 */
static void copy_first(unsigned char *d, const unsigned char *s, size_t n);
static copy_fn copy_impl = copy_first;

static copy_fn current(void)
{
	copy_fn fn = __atomic_load_n(&copy_impl, __ATOMIC_RELAXED);

	if (fn == copy_first) {
		fn = best()->fn;
		__atomic_store_n(&copy_impl, fn, __ATOMIC_RELAXED);
	}
	return fn;
}

static void copy_first(unsigned char *d, const unsigned char *s, size_t n)
{
	current()(d, s, n);
}

void fiob_copy(void *dst, const void *src, size_t n)
{
	if (n < VEC) {
		/* glibc loads all of a short copy before storing any of it */
		if (n)
			memcpy(dst, src, n);
		return;
	}
	__atomic_load_n(&copy_impl, __ATOMIC_RELAXED)(dst, src, n);
}

const char *fiob_copy_impl(void)
{
	copy_fn fn = current();

	for (unsigned int i = 0; i < NR_IMPLS; i++)
		if (impls[i].fn == fn)
			return impls[i].name;
	return "?";
}

int fiob_copy_force(const char *name)
{
	const struct copy_impl *im = NULL;

	if (!name)
		im = best();
	for (unsigned int i = 0; !im && i < NR_IMPLS; i++)
		if (!strcmp(impls[i].key, name) && usable(&impls[i]))
			im = &impls[i];
	if (!im)
		return -1;
	__atomic_store_n(&copy_impl, im->fn, __ATOMIC_RELAXED);
	return 0;
}

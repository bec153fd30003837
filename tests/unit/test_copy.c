/*
 * fiob_copy: exact copies at every (dst - src) mod 4096, nothing written
 * around dst, nothing read or written outside the two buffers, with every
 * implementation this CPU can run (avx2, sse2).
 *
 * "read" = src page-aligned, dst at +off (device data into the user buffer);
 * "write" = src at +off, dst page-aligned (user data into a bounce buffer).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#include "fiob_copy.h"
#include "fiob_test.h"

#define PAGE	4096
#define GUARD	128		/* bytes checked on each side of dst */
#define BIG	(128 * 1024)
#define MAXN	(BIG + 1)

static const char *const impl_keys[] = { "avx2", "sse2" };

/* Sizes for the every-offset sweeps: vector and loop edges, odd sizes. */
static const size_t sizes[] = {
	0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
	159, 160, 161, 255, 256, 257, 511, 1000, 2047, 2049, 4095, 4096, 4097,
	12345, BIG, MAXN,
};
#define NR_SIZES	(sizeof(sizes) / sizeof(sizes[0]))

static unsigned char *sbuf, *dbuf;	/* page-aligned, a PAGE of slack */
static char msg[256];

/* Source bytes: never 0, unlike the zeroed guard bytes around dst. */
static uint8_t pat(size_t i)
{
	return 1 + ((uint32_t)(i * 2654435761u + 12345) >> 24) % 255;
}

static void buffers_init(void)
{
	/* aligned_alloc() wants a multiple of the alignment */
	size_t len = (MAXN + 3 * PAGE) & ~(size_t)(PAGE - 1);

	if (sbuf)
		return;
	sbuf = aligned_alloc(PAGE, len);
	dbuf = aligned_alloc(PAGE, len);
	if (!sbuf || !dbuf)
		abort();
	for (size_t i = 0; i < len; i++)
		sbuf[i] = pat(i);
	sbuf += PAGE;
	dbuf += PAGE;
}

static unsigned int expect(const unsigned char *s, size_t n, long i)
{
	return i >= 0 && i < (long)n ? s[i] : 0;
}

/*
 * One copy of n bytes from sbuf + soff to dbuf + doff, checked byte for
 * byte: dst must equal the source bytes, and the GUARD bytes on each side,
 * zeroed before, must still be zero (source bytes never are).
 */
static int copy_and_check(size_t soff, size_t doff, size_t n)
{
	static const unsigned char zero[GUARD];
	unsigned char *d = dbuf + doff;
	const unsigned char *s = sbuf + soff;
	long i;

	memset(d - GUARD, 0, n + 2 * GUARD);
	fiob_copy(d, s, n);
	if (!memcmp(d - GUARD, zero, GUARD) && !memcmp(d, s, n) &&
	    !memcmp(d + n, zero, GUARD))
		return 0;
	for (i = -GUARD; i < (long)n + GUARD - 1; i++)
		if (d[i] != expect(s, n, i))
			break;
	snprintf(msg, sizeof(msg), "%s: n=%zu src+%zu dst+%zu: dst[%ld]%s is"
		 " 0x%02x, want 0x%02x", fiob_copy_impl(), n, soff, doff, i,
		 i >= 0 && i < (long)n ? "" : " (guard)", d[i],
		 expect(s, n, i));
	return -1;
}

/* Every offset 0..4095 in one direction, for every size, with impl @key. */
static int sweep(const char *key, int read_dir, size_t nmin, size_t nmax)
{
	int ret = 0;

	if (fiob_copy_force(key))
		return 1;	/* not on this CPU */
	buffers_init();
	for (size_t k = 0; k < NR_SIZES && !ret; k++) {
		size_t n = sizes[k];

		if (n < nmin || n > nmax)
			continue;
		for (size_t off = 0; off < PAGE && !ret; off++)
			ret = read_dir ? copy_and_check(0, off, n) :
					 copy_and_check(off, 0, n);
	}
	fiob_copy_force(NULL);
	return ret;
}

#define SWEEP_CASE(name, key, read_dir, nmin, nmax)			\
static void name(void)							\
{									\
	int r = sweep(key, read_dir, nmin, nmax);			\
									\
	if (r > 0)							\
		FT_SKIP("CPU lacks " key);				\
	if (r)								\
		FT_FAIL("%s", msg);					\
}

/* Sizes 0..12345: both implementations. */
SWEEP_CASE(avx2_read_every_offset_upto_12345_exact_guards_intact,
	   "avx2", 1, 0, 12345)
SWEEP_CASE(avx2_write_every_offset_upto_12345_exact_guards_intact,
	   "avx2", 0, 0, 12345)
SWEEP_CASE(sse2_read_every_offset_upto_12345_exact_guards_intact,
	   "sse2", 1, 0, 12345)
SWEEP_CASE(sse2_write_every_offset_upto_12345_exact_guards_intact,
	   "sse2", 0, 0, 12345)
/* 128 KiB (+1), a bounce slot: the main loop runs ~1000 times a copy. */
SWEEP_CASE(avx2_read_every_offset_128k_exact_guards_intact,
	   "avx2", 1, BIG, MAXN)
SWEEP_CASE(avx2_write_every_offset_128k_exact_guards_intact,
	   "avx2", 0, BIG, MAXN)
SWEEP_CASE(sse2_read_every_offset_128k_exact_guards_intact,
	   "sse2", 1, BIG, BIG)
SWEEP_CASE(sse2_write_every_offset_128k_exact_guards_intact,
	   "sse2", 0, BIG, BIG)

/* Independent src and dst offsets (both misaligned), random sizes. */
static void both_misaligned_random_offsets_and_sizes_exact(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t k = 0; k < sizeof(impl_keys) / sizeof(impl_keys[0]); k++) {
		if (fiob_copy_force(impl_keys[k]))
			continue;
		buffers_init();
		for (int i = 0; i < 20000; i++) {
			size_t soff, doff, n;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			soff = x & (PAGE - 1);
			doff = (x >> 12) & (PAGE - 1);
			n = (x >> 24) % ((x >> 60) ? 20000 : MAXN + 1);
			if (copy_and_check(soff, doff, n)) {
				fiob_copy_force(NULL);
				FT_FAIL("%s", msg);
			}
		}
	}
	fiob_copy_force(NULL);
}

/*
 * src flush against a PROT_NONE page, above it (placement 0) or below it
 * (1), with dst at every offset: any read outside src faults, at every
 * distance, so in both copy directions. dst is flush against a guard page
 * at offset 0 (the sweeps' guard bytes cover the other offsets). Sizes
 * 0..300 and some larger ones.
 */
#define GUARDED_PAGES	4	/* room for 8191 bytes at offset 4095 */
#define GUARDED_LEN	(GUARDED_PAGES * PAGE)

static sigjmp_buf fault_jmp;
static struct sigaction old_segv, old_bus;

static void on_fault(int sig)
{
	siglongjmp(fault_jmp, sig);
}

static unsigned char *guarded(size_t pages)
{
	unsigned char *p = mmap(NULL, (pages + 2) * PAGE,
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	mprotect(p, PAGE, PROT_NONE);
	mprotect(p + (pages + 1) * PAGE, PAGE, PROT_NONE);
	return p + PAGE;
}

/*
 * Placement 0: src ends at s's top guard, dst starts at d + off;
 * 1: src starts at s's bottom guard, dst ends off bytes below d's top.
 */
static int guarded_copy(const unsigned char *s, unsigned char *d, size_t len,
			size_t off, int place)
{
	const unsigned char *from = place ? s : s + GUARDED_LEN - len;
	unsigned char *to = place ? d + GUARDED_LEN - len - off : d + off;

	fiob_copy(to, from, len);
	return len && (to[0] != from[0] || to[len - 1] != from[len - 1]);
}

static void restore_signals(void)
{
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	fiob_copy_force(NULL);
}

static void no_access_outside_src_or_dst_any_size_any_distance(void)
{
	static const size_t big[] = { 511, 512, 1000, 4095, 4096, 4097, 8191 };
	unsigned char *volatile s = guarded(GUARDED_PAGES);
	unsigned char *volatile d = guarded(GUARDED_PAGES);
	struct sigaction sa = { .sa_handler = on_fault };
	volatile size_t i = 0, j = 0, len = 0, off = 0, k = 0, place = 0;

	FT_ASSERT(s && d);
	for (i = 0; i < GUARDED_LEN; i++)
		s[i] = pat(i);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(fault_jmp, 1)) {
		restore_signals();
		FT_FAIL("%s: fault: n=%zu dst offset %zu placement %zu",
			impl_keys[k], (size_t)len, (size_t)off, (size_t)place);
	}
	for (k = 0; k < sizeof(impl_keys) / sizeof(impl_keys[0]); k++) {
		if (fiob_copy_force(impl_keys[k]))
			continue;
		for (i = 0; i <= 300 + sizeof(big) / sizeof(big[0]); i++) {
			len = i <= 300 ? i : big[i - 301];
			for (j = 0; j < 2 * PAGE; j++) {
				off = j / 2;
				place = j % 2;
				if (!guarded_copy(s, d, len, off, place))
					continue;
				restore_signals();
				FT_FAIL("%s: wrong copy: n=%zu offset %zu",
					impl_keys[k], (size_t)len, (size_t)off);
			}
		}
	}
	restore_signals();
	munmap(s - PAGE, (GUARDED_PAGES + 2) * PAGE);
	munmap(d - PAGE, (GUARDED_PAGES + 2) * PAGE);
}

static void zero_length_with_null_pointers_is_a_noop(void)
{
	fiob_copy(NULL, NULL, 0);	/* UBSan would flag memcpy(NULL, ...) */
	FT_ASSERT(1);
}

static void default_impl_is_best_the_cpu_supports(void)
{
	const char *name = fiob_copy_impl();

	FT_ASSERT(name && *name);
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		FT_ASSERT(!strncmp(name, "avx2", 4));
	else
		FT_ASSERT(!strncmp(name, "sse2", 4));
#endif
}

static void force_rejects_unknown_and_null_restores_default(void)
{
	const char *def = fiob_copy_impl();

	FT_EQ(fiob_copy_force("no-such-impl"), -1);
	FT_ASSERT(!strcmp(fiob_copy_impl(), def));
	FT_EQ(fiob_copy_force("sse2"), 0);
	FT_ASSERT(!strncmp(fiob_copy_impl(), "sse2", 4));
	FT_EQ(fiob_copy_force(NULL), 0);
	FT_ASSERT(!strcmp(fiob_copy_impl(), def));
}

FT_MAIN(
	FT_RUN(default_impl_is_best_the_cpu_supports);
	FT_RUN(force_rejects_unknown_and_null_restores_default);
	FT_RUN(zero_length_with_null_pointers_is_a_noop);
	FT_RUN(avx2_read_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(avx2_write_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(sse2_read_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(sse2_write_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(avx2_read_every_offset_128k_exact_guards_intact);
	FT_RUN(avx2_write_every_offset_128k_exact_guards_intact);
	FT_RUN(sse2_read_every_offset_128k_exact_guards_intact);
	FT_RUN(sse2_write_every_offset_128k_exact_guards_intact);
	FT_RUN(both_misaligned_random_offsets_and_sizes_exact);
	FT_RUN(no_access_outside_src_or_dst_any_size_any_distance)
)

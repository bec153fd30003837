/*
 * fiob_copy: exact copies at every (dst - src) mod 4096, nothing written
 * around dst, nothing read or written outside the two buffers, with every
 * implementation this CPU can run (avx2, sse2).
 *
 * "read" = src page-aligned, dst at +off (device data into the user buffer);
 * "write" = src at +off, dst page-aligned (user data into a bounce buffer).
 */
#define _GNU_SOURCE
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

static unsigned char *sbuf, *dbuf;	/* page-aligned, PAGE of slack each side */
static char msg[256];

static uint8_t pat(size_t i)
{
	return (uint32_t)(i * 2654435761u + 12345) >> 24;
}

static void buffers_init(void)
{
	size_t len = (MAXN + 3 * PAGE) & ~(size_t)(PAGE - 1);	/* C11: multiple */

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

/* OR of (a[i] ^ b[i] ^ x) over len bytes; 8 at a time, exact. */
static uint64_t diff(const unsigned char *a, const unsigned char *b,
		     size_t len, uint64_t x)
{
	uint64_t acc = 0, u, v;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&u, a + i, 8);
		memcpy(&v, b + i, 8);
		acc |= u ^ v ^ x;
	}
	for (; i < len; i++)
		acc |= a[i] ^ b[i] ^ (uint8_t)x;
	return acc;
}

/*
 * One copy of n bytes from sbuf + soff to dbuf + doff, checked byte by byte
 * against sbuf over [doff - GUARD, doff + n + GUARD): inside, dst must equal
 * the source byte; outside, it must keep its preset value, which is the
 * complement of the byte a shifted copy would have put there.
 */
static int copy_and_check(size_t soff, size_t doff, size_t n)
{
	unsigned char *d = dbuf + doff - GUARD;
	const unsigned char *s = sbuf + soff - GUARD;
	size_t len = n + 2 * GUARD, i;
	uint64_t u;

	for (i = 0; i < len; i += 8) {	/* preset: complement of src */
		memcpy(&u, s + i, 8);
		u = ~u;
		memcpy(d + i, &u, len - i < 8 ? len - i : 8);
	}
	fiob_copy(dbuf + doff, sbuf + soff, n);
	if (!(diff(d, s, GUARD, ~0ull) | diff(d + GUARD, s + GUARD, n, 0) |
	      diff(d + GUARD + n, s + GUARD + n, GUARD, ~0ull)))
		return 0;
	for (i = 0; i < len; i++) {
		int inside = i >= GUARD && i < GUARD + n;
		uint8_t want = inside ? s[i] : (uint8_t)~s[i];

		if (d[i] != want) {
			snprintf(msg, sizeof(msg),
				 "%s: n=%zu src+%zu dst+%zu: dst[%ld]%s is 0x%02x, want 0x%02x",
				 fiob_copy_impl(), n, soff, doff, (long)i - GUARD,
				 inside ? "" : " (guard)", d[i], want);
			break;
		}
	}
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

/* Small and medium sizes: both implementations. */
SWEEP_CASE(avx2_read_every_offset_upto_12345_exact_guards_intact, "avx2", 1, 0, 12345)
SWEEP_CASE(avx2_write_every_offset_upto_12345_exact_guards_intact, "avx2", 0, 0, 12345)
SWEEP_CASE(sse2_read_every_offset_upto_12345_exact_guards_intact, "sse2", 1, 0, 12345)
SWEEP_CASE(sse2_write_every_offset_upto_12345_exact_guards_intact, "sse2", 0, 0, 12345)
/* 128 KiB (+1): the size where glibc's memcpy is slowest when misaligned. */
SWEEP_CASE(avx2_read_every_offset_128k_exact_guards_intact, "avx2", 1, BIG, BIG)
SWEEP_CASE(avx2_write_every_offset_128k_exact_guards_intact, "avx2", 0, BIG, BIG)

/* Independent src and dst offsets (both misaligned), random sizes. */
static void both_misaligned_random_offsets_and_sizes_exact(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t k = 0; k < sizeof(impl_keys) / sizeof(impl_keys[0]); k++) {
		if (fiob_copy_force(impl_keys[k]))
			continue;
		buffers_init();
		for (int i = 0; i < 5000; i++) {
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
 * Source and destination bounded by PROT_NONE pages: a read or write one
 * byte outside either buffer faults. Run for every size 0..300 and some
 * larger ones, buffers flush against the upper and lower guard pages, at
 * all distances (so both copy directions run).
 */
static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	siglongjmp(fault_jmp, sig);
}

static unsigned char *guarded(size_t pages)
{
	unsigned char *p = mmap(NULL, (pages + 2) * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	mprotect(p, PAGE, PROT_NONE);
	mprotect(p + (pages + 1) * PAGE, PAGE, PROT_NONE);
	return p + PAGE;
}

static void no_access_outside_src_or_dst_any_size_any_distance(void)
{
	static const size_t big[] = { 511, 512, 1000, 4095, 4096, 4097, 8191 };
	enum { PAGES = 4 };	/* room for 8191 bytes at offset 4095 */
	unsigned char *s = guarded(PAGES), *d = guarded(PAGES);
	struct sigaction sa = { .sa_handler = on_fault }, old_segv, old_bus;
	volatile size_t n = 0, off = 0, k = 0, place = 0;

	FT_ASSERT(s && d);
	for (size_t i = 0; i < PAGES * PAGE; i++)
		s[i] = pat(i);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(fault_jmp, 1)) {
		sigaction(SIGSEGV, &old_segv, NULL);
		sigaction(SIGBUS, &old_bus, NULL);
		fiob_copy_force(NULL);
		FT_FAIL("%s: fault for n=%zu dst offset %zu placement %zu",
			fiob_copy_impl(), (size_t)n, (size_t)off, (size_t)place);
	}
	for (k = 0; k < sizeof(impl_keys) / sizeof(impl_keys[0]); k++) {
		if (fiob_copy_force(impl_keys[k]))
			continue;
		for (n = 0; n <= 300 + sizeof(big) / sizeof(big[0]); n++) {
			size_t len = n <= 300 ? n : big[n - 301];

			for (off = 0; off < PAGE; off++) {
				/* 0: src ends at the top guard, dst starts at
				 * d + off; 1: src starts at the bottom guard,
				 * dst ends at the top guard minus off. */
				for (place = 0; place < 2; place++) {
					const unsigned char *from = place ?
						s : s + PAGES * PAGE - len;
					unsigned char *to = place ?
						d + PAGES * PAGE - len - off :
						d + off;

					fiob_copy(to, from, len);
					if (len && (to[0] != from[0] ||
						    to[len - 1] != from[len - 1])) {
						sigaction(SIGSEGV, &old_segv, NULL);
						sigaction(SIGBUS, &old_bus, NULL);
						fiob_copy_force(NULL);
						FT_FAIL("%s: wrong copy n=%zu off %zu",
							fiob_copy_impl(), len, (size_t)off);
					}
				}
			}
		}
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	fiob_copy_force(NULL);
	munmap(s - PAGE, (PAGES + 2) * PAGE);
	munmap(d - PAGE, (PAGES + 2) * PAGE);
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
	FT_RUN(both_misaligned_random_offsets_and_sizes_exact);
	FT_RUN(no_access_outside_src_or_dst_any_size_any_distance)
)

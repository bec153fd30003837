/*
 * fiob_copy: exact copies at every (dst - src) mod 4096, nothing written
 * around dst, nothing read or written outside the two buffers, with every
 * routine this CPU can run (vbmi, avx512, avx2, erms, sse2, glibc); and the
 * calibrated choice: only routines this CPU runs, routed by size and
 * distance class exactly as fiob_copy_impl() describes it.
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

/* Every routine built in on x86-64; a CPU without one skips its cases. */
static const char *const impl_keys[] = {
	"vbmi", "avx512", "avx2", "erms", "sse2", "glibc"
};
#define NR_VECTOR_KEYS	3	/* listed iff the CPU has them: vbmi..avx2 */
#define NR_KEYS		(sizeof(impl_keys) / sizeof(impl_keys[0]))

/*
 * Sizes for the every-offset sweeps: vector and loop edges (vbmi: 256
 * bytes and up, four lines a turn after a head of up to two), odd sizes.
 */
static const size_t sizes[] = {
	0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
	159, 160, 161, 255, 256, 257, 319, 320, 321, 511, 577, 1000, 1023,
	1024, 1025, 2047, 2049, 4095, 4096, 4097, 12345, BIG, MAXN,
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

/* Sizes 0..12345 (vector and loop edges): every routine. */
#define SMALL_SWEEPS(key)						\
SWEEP_CASE(key##_read_every_offset_upto_12345_exact_guards_intact,	\
	   #key, 1, 0, 12345)						\
SWEEP_CASE(key##_write_every_offset_upto_12345_exact_guards_intact,	\
	   #key, 0, 0, 12345)
SMALL_SWEEPS(vbmi)
SMALL_SWEEPS(avx512)
SMALL_SWEEPS(avx2)
SMALL_SWEEPS(erms)
SMALL_SWEEPS(sse2)
SMALL_SWEEPS(glibc)
/* 128 KiB (+1), a bounce slot: the main loop runs ~1000 times a copy. */
SWEEP_CASE(vbmi_read_every_offset_128k_exact_guards_intact,
	   "vbmi", 1, BIG, MAXN)
SWEEP_CASE(vbmi_write_every_offset_128k_exact_guards_intact,
	   "vbmi", 0, BIG, MAXN)
SWEEP_CASE(avx512_read_every_offset_128k_exact_guards_intact,
	   "avx512", 1, BIG, MAXN)
SWEEP_CASE(avx512_write_every_offset_128k_exact_guards_intact,
	   "avx512", 0, BIG, MAXN)
SWEEP_CASE(avx2_read_every_offset_128k_exact_guards_intact,
	   "avx2", 1, BIG, MAXN)
SWEEP_CASE(avx2_write_every_offset_128k_exact_guards_intact,
	   "avx2", 0, BIG, MAXN)
SWEEP_CASE(erms_read_every_offset_128k_exact_guards_intact,
	   "erms", 1, BIG, BIG)
SWEEP_CASE(erms_write_every_offset_128k_exact_guards_intact,
	   "erms", 0, BIG, BIG)
SWEEP_CASE(sse2_read_every_offset_128k_exact_guards_intact,
	   "sse2", 1, BIG, BIG)
SWEEP_CASE(sse2_write_every_offset_128k_exact_guards_intact,
	   "sse2", 0, BIG, BIG)

/*
 * Every size 0..8192 at the distances where the routines change course
 * (forward/backward at 2048, vector and line edges, 4K aliasing at both
 * ends) and at every 61st distance (all residues mod 64 come by), both
 * directions, every routine.
 */
static void every_size_to_8k_at_edge_distances_every_routine_exact(void)
{
	static const size_t dists[] = {
		0, 1, 7, 31, 32, 33, 63, 64, 65, 2047, 2048, 2049, 4031,
		4064, 4089, 4095,
	};
#define NR_EDGES	(sizeof(dists) / sizeof(dists[0]))
	int ran = 0;

	buffers_init();
	for (size_t k = 0; k < NR_KEYS; k++) {
		if (fiob_copy_force(impl_keys[k]))
			continue;
		ran++;
		for (size_t n = 0; n <= 8192; n++) {
			for (size_t j = 0; j < NR_EDGES + PAGE / 61 + 1; j++) {
				size_t d = j < NR_EDGES ? dists[j] :
					   (j - NR_EDGES) * 61;

				if (copy_and_check(0, d, n) ||
				    copy_and_check(d, 0, n)) {
					fiob_copy_force(NULL);
					FT_FAIL("%s", msg);
				}
			}
		}
	}
	fiob_copy_force(NULL);
	FT_ASSERT(ran >= 2);	/* sse2 and glibc run anywhere */
}

/* Independent src and dst offsets (both misaligned), random sizes. */
static void both_misaligned_random_offsets_and_sizes_exact(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t k = 0; k < NR_KEYS; k++) {
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
	for (k = 0; k < NR_KEYS; k++) {
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

/* What this CPU can run, asked independently of fiob_copy_select.c. */
static int cpu_can(const char *key)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (!strcmp(key, "vbmi"))
		return !!__builtin_cpu_supports("avx512f") &&
		       !!__builtin_cpu_supports("avx512bw") &&
		       !!__builtin_cpu_supports("avx512vbmi");
	if (!strcmp(key, "avx512"))
		return !!__builtin_cpu_supports("avx512f") &&
		       !!__builtin_cpu_supports("avx512bw");
	if (!strcmp(key, "avx2"))
		return !!__builtin_cpu_supports("avx2");
	if (!strcmp(key, "erms"))
		return 1;	/* rep movsb runs anywhere; fast or not */
#endif
	return !strcmp(key, "glibc") || !strcmp(key, "sse2") ||
	       !strcmp(key, "generic");
}

static void routines_listed_are_the_ones_this_cpu_runs(void)
{
	const char *names[8];
	int nr = fiob_copy_routines(names, 8);

	FT_ASSERT(nr >= 2);
	for (int i = 0; i < nr; i++) {
		FT_ASSERT(cpu_can(names[i]));
		FT_EQ(fiob_copy_force(names[i]), 0);
	}
	FT_EQ(fiob_copy_force(NULL), 0);
	/* vbmi, avx512 and avx2 are listed iff the CPU (and OS) has them */
	for (size_t k = 0; k < NR_VECTOR_KEYS; k++) {
		int listed = 0;

		for (int i = 0; i < nr; i++)
			listed |= !strcmp(names[i], impl_keys[k]);
		FT_EQ(listed, cpu_can(impl_keys[k]));
	}
}

/* The size and distance classes as documented in fiob_copy_int.h. */
static int size_class(size_t n)
{
	return n < 256 ? 0 : n < 2048 ? 1 : n < 32768 ? 2 : n < 524288 ? 3 : 4;
}

static int dist_class(size_t d)
{
	return !d ? 0 : d < 64 ? 1 : d < 256 ? 2 : d < 1024 ? 3 :
	       d < 2048 ? 4 : 5;
}

static const char *const size_labels[5] = {
	"", "256+:", "2K+:", "32K+:", "512K+:"
};
static const char *const dist_labels[6] = {
	"d0:", "d1-63:", "d64-255:", "d256-1023:", "d1024-2047:",
	"d2048-4095:"
};

/*
 * expected[c][k] from fiob_copy_impl(): "SIZE:NAME(DIST:NAME;...)" per
 * size class, NAME for every distance class not listed in parentheses.
 */
static int parse_choice(const char *desc, char expected[5][6][16])
{
	for (int c = 1; c < 5; c++) {
		const char *p = strstr(desc, size_labels[c]), *q;
		size_t len;

		if (!p)
			return -1;
		p += strlen(size_labels[c]);
		len = strcspn(p, "(,");
		if (!len || len >= 16)
			return -1;
		for (int k = 0; k < 6; k++)
			snprintf(expected[c][k], 16, "%.*s", (int)len, p);
		if (p[len] != '(')
			continue;
		for (q = p + len + 1; *q && *q != ')';) {
			int k = 0;

			while (k < 6 && strncmp(q, dist_labels[k],
						strlen(dist_labels[k])))
				k++;
			if (k == 6)
				return -1;
			q += strlen(dist_labels[k]);
			len = strcspn(q, ";)");
			if (!len || len >= 16)
				return -1;
			snprintf(expected[c][k], 16, "%.*s", (int)len, q);
			q += len + (q[len] == ';');
		}
	}
	for (int k = 0; k < 6; k++)
		snprintf(expected[0][k], 16, "glibc");
	return 0;
}

static void dispatch_routes_every_size_and_distance_as_described(void)
{
	static const size_t ns[] = {
		0, 1, 255, 256, 2047, 2048, 4096, 32767, 32768, 131072,
		524287, 524288, 1 << 20, 64 << 20,
	};
	char expected[5][6][16];
	const char *desc = fiob_copy_impl();

	FT_ASSERT(!strncmp(desc, "256+:", 5));
	FT_ASSERT(strstr(desc, ",cal="));
	FT_EQ(parse_choice(desc, expected), 0);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		for (uintptr_t d = 0; d < PAGE; d++) {
			/* addresses only: fiob_copy_route() copies nothing */
			const void *src = (const void *)(uintptr_t)0x10000;
			const void *dst = (const void *)(0x20000 + d);
			const char *got = fiob_copy_route(dst, src, ns[i]);
			const char *want = expected[size_class(ns[i])]
						   [dist_class(d)];

			if (strcmp(got, want))
				FT_FAIL("n=%zu d=%zu: routed to %s, described"
					" as %s (%s)", ns[i], (size_t)d, got,
					want, desc);
			if (!cpu_can(got))
				FT_FAIL("n=%zu d=%zu: %s, not on this CPU",
					ns[i], (size_t)d, got);
		}
	}
}

static void calibration_ran_once_at_load(void)
{
	const char *names[8];

	/* with one candidate (glibc only) there is nothing to time */
	if (fiob_copy_routines(names, 8) > 1)
		FT_ASSERT(fiob_copy_calibration_us() > 0);
}

static void force_rejects_unknown_and_null_restores_default(void)
{
	const char *def = fiob_copy_impl();
	char saved[256];

	snprintf(saved, sizeof(saved), "%s", def);
	buffers_init();
	FT_EQ(fiob_copy_force("no-such-impl"), -1);
	FT_ASSERT(!strcmp(fiob_copy_impl(), saved));
	FT_EQ(fiob_copy_force("sse2"), 0);
	FT_ASSERT(!strcmp(fiob_copy_impl(), "forced:sse2"));
	FT_ASSERT(!strcmp(fiob_copy_route(dbuf + 7, sbuf, 100000), "sse2"));
	FT_ASSERT(!strcmp(fiob_copy_route(dbuf, sbuf, 3), "sse2"));
	FT_EQ(fiob_copy_force(NULL), 0);
	FT_ASSERT(!strcmp(fiob_copy_impl(), saved));
	FT_ASSERT(!strcmp(fiob_copy_route(dbuf, sbuf, 3), "glibc"));
}

FT_MAIN(
	FT_RUN(routines_listed_are_the_ones_this_cpu_runs);
	FT_RUN(dispatch_routes_every_size_and_distance_as_described);
	FT_RUN(calibration_ran_once_at_load);
	FT_RUN(force_rejects_unknown_and_null_restores_default);
	FT_RUN(zero_length_with_null_pointers_is_a_noop);
	FT_RUN(vbmi_read_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(vbmi_write_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(avx512_read_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(avx512_write_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(avx2_read_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(avx2_write_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(erms_read_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(erms_write_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(sse2_read_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(sse2_write_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(glibc_read_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(glibc_write_every_offset_upto_12345_exact_guards_intact);
	FT_RUN(every_size_to_8k_at_edge_distances_every_routine_exact);
	FT_RUN(vbmi_read_every_offset_128k_exact_guards_intact);
	FT_RUN(vbmi_write_every_offset_128k_exact_guards_intact);
	FT_RUN(avx512_read_every_offset_128k_exact_guards_intact);
	FT_RUN(avx512_write_every_offset_128k_exact_guards_intact);
	FT_RUN(avx2_read_every_offset_128k_exact_guards_intact);
	FT_RUN(avx2_write_every_offset_128k_exact_guards_intact);
	FT_RUN(erms_read_every_offset_128k_exact_guards_intact);
	FT_RUN(erms_write_every_offset_128k_exact_guards_intact);
	FT_RUN(sse2_read_every_offset_128k_exact_guards_intact);
	FT_RUN(sse2_write_every_offset_128k_exact_guards_intact);
	FT_RUN(both_misaligned_random_offsets_and_sizes_exact);
	FT_RUN(no_access_outside_src_or_dst_any_size_any_distance)
)

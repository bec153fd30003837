/*
 * Which copy routine serves which size and distance, decided once per
 * process when the engine is loaded: CPUID says which routines can run,
 * then a short calibration times each of them on a representative size
 * and a few distances of every class and keeps the fastest, glibc unless
 * another is clearly faster (glibc is the reference every copy is judged
 * against). The I/O path only indexes the resulting table (fiob_copy.c).
 *
 * Why measure instead of deciding from CPUID alone: on Zen 3 (AVX2, FSRM)
 * glibc falls to ~3 GB/s at small distances where an AVX2 loop copying
 * backwards keeps ~50; on Zen 5 (AVX-512, FSRM) glibc has no such cliff,
 * an AVX-512 loop beats it 1.3-1.8x at 4 KiB, and rep movsb wins at 1 MiB.
 * The same flags, different winners.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* MAP_POPULATE */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "fiob_copy.h"
#include "fiob_copy_int.h"

#ifdef __x86_64__
#include <cpuid.h>
#endif

#define PAGE		4096u
/*
 * Another routine must beat glibc by 10% to be chosen: glibc is what every
 * copy is judged against, and in rep movsb's slow zone (d 1-63 on Zen 5)
 * its timings are bimodal, so a smaller margin let one unlucky glibc
 * sample hand a class to a routine that is no faster.
 */
#define PREFER_GLIBC	1.10
#define MAX_CAND	8
#define SAMPLES		2	/* placements timed per distance class */

/*
 * Per size class (1..4): the size timed, copies per sample (a sample is
 * timed as one block of them) and rounds; a routine's time at a placement
 * is its best round. Rounds interleave routines and placements, so a
 * burst of load on this shared machine hits one sample of each, not every
 * sample of one. With the buffers, 0.6-0.8 ms of CPU on Zen 5 under load
 * (fiob_copy_calibration_us; "cal=" in fiob_copy_impl()).
 */
static const struct size_plan {
	size_t n;
	unsigned int copies, rounds;
} plans[FIOB_COPY_SIZES] = {
	[1] = { 1024, 16, 3 },
	[2] = { 4096, 8, 3 },
	[3] = { 131072, 1, 2 },
	[4] = { 524288, 1, 1 },
};
/* Placements timed per size class: both below 512K, one above (cost). */
static const unsigned int samples_of[FIOB_COPY_SIZES] = { 0, 2, 2, 2, 1 };
#define CAL_MAX		524288u

/*
 * Per distance class, two placements (source offset, destination offset
 * in their pages): a read-like one (user buffer at +d) and a write-like
 * one (user buffer at the source), both with d in the class. A routine's
 * time for the class is its slower placement.
 */
static const struct placement {
	unsigned short soff, doff;
} places[FIOB_COPY_DISTS][SAMPLES] = {
	{ { 0, 0 }, { 0, 0 } },
	{ { 0, 7 }, { 4089, 0 } },		/* d = 7 */
	{ { 0, 72 }, { 3896, 0 } },		/* d = 200 */
	{ { 0, 300 }, { 3196, 0 } },		/* d = 900 */
	{ { 0, 1100 }, { 2196, 0 } },		/* d = 1900 */
	{ { 7, 0 }, { 0, 2500 } },		/* d = 4089 */
};

static const char *const dist_label[FIOB_COPY_DISTS] = {
	"d0", "d1-63", "d64-255", "d256-1023", "d1024-2047", "d2048-4095"
};
static const char *const size_label[FIOB_COPY_SIZES] = {
	"0+", "256+", "2K+", "32K+", "512K+"
};

static fiob_copy_fn chosen[FIOB_COPY_SIZES][FIOB_COPY_DISTS];
static const char *forced;
static double calibration_us;
static char desc[256];

static unsigned int cpu_features(void)
{
	unsigned int f = 0;
#ifdef __x86_64__
	unsigned int a, b, c, d, lo = 0, hi = 0;
	uint64_t xcr0 = 0;
	int avx, osxsave;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	avx = !!(c & bit_AVX);
	osxsave = !!(c & bit_OSXSAVE);
	if (osxsave) {	/* which register state the OS saves: XCR0 */
		__asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		xcr0 = (uint64_t)hi << 32 | lo;
	}
	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	if (avx && (b & bit_AVX2) && (xcr0 & 0x6) == 0x6)	/* XMM, YMM */
		f |= FIOB_CPU_AVX2;
	if ((f & FIOB_CPU_AVX2) && (b & bit_AVX512F) && (b & bit_AVX512BW) &&
	    (xcr0 & 0xe6) == 0xe6)		/* and opmask, ZMM 0-15, 16-31 */
		f |= FIOB_CPU_AVX512;
	if ((f & FIOB_CPU_AVX512) && (c & bit_AVX512VBMI))
		f |= FIOB_CPU_VBMI;
	if ((b & (1u << 9)) || (d & (1u << 4)))	/* ERMS, FSRM */
		f |= FIOB_CPU_ERMS;
#endif
	return f;
}

static unsigned int features;

static int usable(const struct fiob_copy_routine *r)
{
	return (r->needs & features) == r->needs;
}

static uint64_t ticks(void)
{
#ifdef __x86_64__
	return __builtin_ia32_rdtsc();	/* constant rate on every x86-64 we run on */
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
#endif
}

/* CPU time of this thread: the calibration's own cost, without the time
 * another process had the CPU (this machine is shared). */
static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Candidates: every usable routine not superseded on this CPU. */
static int candidates(const struct fiob_copy_routine **cand)
{
	int nr = 0;

	for (unsigned int i = 0; i < fiob_copy_nr_all; i++) {
		const struct fiob_copy_routine *r = &fiob_copy_all[i];

		if (usable(r) && !(r->superseded && (r->superseded & features)
				   == r->superseded))
			cand[nr++] = r;
	}
	return nr;
}

/*
 * At d 1..63 the tie goes the other way: rep movsb (erms, and glibc from
 * 2 KiB) has lost the fast path that makes it win elsewhere, and what it
 * does instead is bimodal: at 128 KiB on Zen 5, 0.70-0.98 of aligned
 * memcpy from one tenth of a second to the next, where the vbmi loop is
 * steadier (interleaved over 30 intervals: ahead in 21, 0.91 against 0.87
 * on average). A single calibration sample cannot tell which state it
 * caught, so the fastest routine that does not use rep movsb takes the
 * class unless a rep movsb one is clearly (PREFER_GLIBC) faster.
 */
static int prefer_vector(const uint64_t *t, int win,
			 const struct fiob_copy_routine **cand, int nr)
{
	int vec = -1;

	if (!cand[win]->movsb)
		return win;
	for (int i = 0; i < nr; i++)
		if (!cand[i]->movsb && (vec < 0 || t[i] < t[vec]))
			vec = i;
	return vec >= 0 && t[vec] <= PREFER_GLIBC * t[win] ? vec : win;
}

/* Fill chosen[c][*] for size class c from timings in buffers s and d. */
static void calibrate_size(unsigned int c, unsigned char *s, unsigned char *d,
			   const struct fiob_copy_routine **cand, int nr)
{
	const struct size_plan *p = &plans[c];
	uint64_t best[FIOB_COPY_DISTS][SAMPLES][MAX_CAND];
	int glibc = nr - 1;		/* the list ends with glibc */

	memset(best, 0xff, sizeof(best));
	for (int i = 0; i < nr; i++)	/* warm caches and vector units */
		cand[i]->fn(d, s, p->n);
	for (unsigned int r = 0; r < p->rounds; r++)
		for (int k = 0; k < FIOB_COPY_DISTS; k++)
			for (unsigned int j = 0; j < samples_of[c]; j++)
				for (int i = 0; i < nr; i++) {
					const struct placement *pl =
						&places[k][j];
					uint64_t t0 = ticks(), t;

					for (unsigned int x = 0; x < p->copies;
					     x++)
						cand[i]->fn(d + pl->doff,
							    s + pl->soff, p->n);
					t = ticks() - t0;
					if (t < best[k][j][i])
						best[k][j][i] = t;
				}
	for (int k = 0; k < FIOB_COPY_DISTS; k++) {
		uint64_t t[MAX_CAND] = { 0 };
		int win = glibc;

		for (int i = 0; i < nr; i++) {	/* a class: its slower placement */
			t[i] = best[k][0][i];
			if (samples_of[c] > 1 && best[k][1][i] > t[i])
				t[i] = best[k][1][i];
		}
		for (int i = 0; i < nr; i++)
			if (t[i] < t[win])
				win = i;
		if (k == FIOB_COPY_DIST_ALIAS)
			win = prefer_vector(t, win, cand, nr);
		else if (t[glibc] <= PREFER_GLIBC * t[win])
			win = glibc;
		chosen[c][k] = cand[win]->fn;
	}
}

static const char *name_of(fiob_copy_fn fn)
{
	for (unsigned int i = 0; i < fiob_copy_nr_all; i++)
		if (fiob_copy_all[i].fn == fn)
			return fiob_copy_all[i].name;
	return "?";
}

/* "256+:avx512,32K+:glibc(d1-63:avx2;d64-255:avx2),...,cal=600us" */
static void describe(void)
{
	size_t len = 0;

	for (int c = 1; c < FIOB_COPY_SIZES; c++) {
		fiob_copy_fn most = chosen[c][0];
		int votes = 0, sep = '(';

		for (int k = 0; k < FIOB_COPY_DISTS; k++) {
			int v = 0;

			for (int j = 0; j < FIOB_COPY_DISTS; j++)
				v += chosen[c][j] == chosen[c][k];
			if (v > votes) {
				votes = v;
				most = chosen[c][k];
			}
		}
		len += snprintf(desc + len, sizeof(desc) - len, "%s:%s",
				size_label[c], name_of(most));
		for (int k = 0; k < FIOB_COPY_DISTS && len < sizeof(desc); k++) {
			if (chosen[c][k] == most)
				continue;
			len += snprintf(desc + len, sizeof(desc) - len,
					"%c%s:%s", sep, dist_label[k],
					name_of(chosen[c][k]));
			sep = ';';
		}
		if (sep == ';' && len < sizeof(desc))
			len += snprintf(desc + len, sizeof(desc) - len, ")");
		if (len < sizeof(desc))
			len += snprintf(desc + len, sizeof(desc) - len, ",");
	}
	if (len < sizeof(desc))
		snprintf(desc + len, sizeof(desc) - len, "cal=%.0fus",
			 calibration_us);
}

static void install(fiob_copy_fn (*t)[FIOB_COPY_DISTS])
{
	memcpy(fiob_copy_table, t, sizeof(fiob_copy_table));
}

/*
 * The calibration's buffers, source then destination, CAL_MAX + 2 pages
 * each. Page faults cost ~10 us each on this VM (a 4 KiB fault per 4 KiB
 * would be the whole budget several times over), so they come from one
 * 2 MiB transparent huge page where the kernel allows one: a single fault.
 * Elsewhere the 4 KiB pages fault in, slower but the same result.
 */
#define HUGE		(2u << 20)
#define CAL_LEN		(2 * (CAL_MAX + 2 * PAGE))

static unsigned char *cal_buffers(void **map, size_t *map_len)
{
	unsigned char *p;

	*map_len = 2 * HUGE;
	*map = mmap(NULL, *map_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*map == MAP_FAILED)
		return NULL;
	/* the first 2 MiB boundary inside: a huge page can only go there */
	p = (unsigned char *)(((uintptr_t)*map + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
	madvise(p, HUGE, MADV_HUGEPAGE);	/* best effort */
	for (size_t i = 0; i < CAL_LEN; i += PAGE)
		p[i] = 1;
	return p;
}

/*
 * At load, before fio starts any job: nothing on the I/O path waits for
 * it. If the buffers cannot be had, glibc serves everything.
 */
__attribute__((constructor))
static void fiob_copy_calibrate(void)
{
	const struct fiob_copy_routine *cand[MAX_CAND];
	double t0 = cpu_us();
	unsigned char *buf = NULL;
	void *map = MAP_FAILED;
	size_t map_len = 0;
	int nr;

	_Static_assert(CAL_LEN <= HUGE, "calibration buffers fit a huge page");
	features = cpu_features();
	for (int c = 0; c < FIOB_COPY_SIZES; c++)
		for (int k = 0; k < FIOB_COPY_DISTS; k++)
			chosen[c][k] = fiob_copy_all[fiob_copy_nr_all - 1].fn;
	install(chosen);
	/* FIOB_COPY=name: that routine everywhere, no calibration (for runs
	 * under valgrind, which cannot time and counts rep movsb per byte) */
	if (getenv("FIOB_COPY") && !fiob_copy_force(getenv("FIOB_COPY")))
		return;
	nr = candidates(cand);
	if (nr > 1)
		buf = cal_buffers(&map, &map_len);
	for (int c = 1; buf && c < FIOB_COPY_SIZES; c++)
		calibrate_size(c, buf, buf + CAL_LEN / 2, cand, nr);
	if (map != MAP_FAILED)
		munmap(map, map_len);
	calibration_us = cpu_us() - t0;
	install(chosen);
	describe();
}

const char *fiob_copy_impl(void)
{
	return forced ? forced : desc;
}

double fiob_copy_calibration_us(void)
{
	return calibration_us;
}

int fiob_copy_routines(const char **names, int max)
{
	int nr = 0;

	for (unsigned int i = 0; i < fiob_copy_nr_all; i++)
		if (usable(&fiob_copy_all[i]) && nr < max)
			names[nr++] = fiob_copy_all[i].name;
	return nr;
}

int fiob_copy_force(const char *name)
{
	static char forced_desc[32];
	fiob_copy_fn all[FIOB_COPY_SIZES][FIOB_COPY_DISTS];
	const struct fiob_copy_routine *r = NULL;

	if (!name) {
		install(chosen);
		forced = NULL;
		return 0;
	}
	for (unsigned int i = 0; i < fiob_copy_nr_all && !r; i++)
		if (!strcmp(fiob_copy_all[i].name, name) &&
		    usable(&fiob_copy_all[i]))
			r = &fiob_copy_all[i];
	if (!r)
		return -1;
	for (int c = 0; c < FIOB_COPY_SIZES; c++)
		for (int k = 0; k < FIOB_COPY_DISTS; k++)
			all[c][k] = r->fn;
	install(all);
	snprintf(forced_desc, sizeof(forced_desc), "forced:%s", r->name);
	forced = forced_desc;
	return 0;
}

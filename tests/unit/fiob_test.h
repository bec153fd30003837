/*
 * Minimal unit-test support for fio-bounce's pure modules.
 *
 * Each test binary runs its cases in order and prints one line per case:
 *   PASS <case>
 *   FAIL <case>: <file>:<line>: <what failed>
 *   SKIP <case>: <reason>
 * tests/run.py turns those lines into its own report. A binary exits 1 if
 * any case failed, so it is also usable on its own.
 */
#ifndef FIOB_TEST_H
#define FIOB_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fiob_test_state {
	const char *current;
	int failed_case;
	int nr_failed;
};

extern struct fiob_test_state fiob_test;

/* Fail the current case (first failure wins) and leave the case function. */
#define FT_FAIL(...)							\
	do {								\
		if (!fiob_test.failed_case) {				\
			printf("FAIL %s: %s:%d: ", fiob_test.current,	\
			       __FILE__, __LINE__);			\
			printf(__VA_ARGS__);				\
			printf("\n");					\
		}							\
		fiob_test.failed_case = 1;				\
		return;							\
	} while (0)

#define FT_ASSERT(cond)							\
	do {								\
		if (!(cond))						\
			FT_FAIL("assertion failed: %s", #cond);		\
	} while (0)

#define FT_EQ(a, b)							\
	do {								\
		long long ft_a_ = (long long)(a);			\
		long long ft_b_ = (long long)(b);			\
		if (ft_a_ != ft_b_)					\
			FT_FAIL("%s == %lld, expected %s == %lld",	\
				#a, ft_a_, #b, ft_b_);			\
	} while (0)

/* Skip the current case with a reason (only for a missing kernel/CPU feature). */
#define FT_SKIP(reason)							\
	do {								\
		printf("SKIP %s: %s\n", fiob_test.current, (reason));	\
		fiob_test.failed_case = -1;				\
		return;							\
	} while (0)

/* xorshift64: a seeded, repeatable stream for generated cases. */
static inline uint64_t ft_rand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

typedef void (*fiob_test_fn)(void);

static inline void fiob_test_run(const char *name, fiob_test_fn fn)
{
	fiob_test.current = name;
	fiob_test.failed_case = 0;
	fn();
	if (fiob_test.failed_case > 0)
		fiob_test.nr_failed++;
	else if (fiob_test.failed_case == 0)
		printf("PASS %s\n", name);
	fflush(stdout);
}

#define FT_RUN(fn) fiob_test_run(#fn, fn)

/* Put once in each test binary, after the case functions. */
#define FT_MAIN(...)							\
	struct fiob_test_state fiob_test;				\
	int main(void)							\
	{								\
		__VA_ARGS__;						\
		return fiob_test.nr_failed ? 1 : 0;			\
	}

#endif

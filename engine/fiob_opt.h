/*
 * Strict parsing of the engine's numeric option values.
 *
 * fio's own integer options read "a-b", "a:b" and "a,b" as a pair of values
 * and keep whichever half parses, so "bounce_slots=-1" used to run with the
 * default instead of failing. The engine's numeric options are therefore
 * plain strings to fio, parsed here: one unsigned number, nothing else.
 */
#ifndef FIOB_OPT_H
#define FIOB_OPT_H

#include <stdint.h>

/*
 * Parse @s as an unsigned decimal (or 0x hex) number with an optional
 * binary suffix: k, m or g (times 1024^1..3), optionally followed by "b" or
 * "ib", any case. Signs, blanks, fractions and trailing text are refused.
 * Returns 0, -EINVAL (not a number) or -ERANGE (does not fit 64 bits).
 */
int fiob_opt_parse_u64(const char *s, uint64_t *out);

/*
 * Parse @s for an option that takes @min .. @max. Returns 0, -EINVAL or
 * -ERANGE (outside the bounds).
 */
int fiob_opt_range(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* As fiob_opt_range (0 .. @max), and -EDOM for anything but 0 or a power of two. */
int fiob_opt_pow2(const char *s, uint64_t max, uint64_t *out);

/*
 * bounce_zero_copy_min: "auto" (FIOB_ZC_MIN_AUTO, the engine chooses) or a
 * byte count 0 .. 1g (0: every size that meets the memory rule), with the
 * suffixes of fiob_opt_parse_u64. Returns 0, -EINVAL or -ERANGE.
 */
int fiob_opt_zero_copy_min(const char *s, uint64_t *out);

#endif

/*
 * Strict numeric option parsing (fiob_opt.c): every accepted spelling, and
 * the refusals fio's own integer parser lets through ("-1" read as a range).
 */
#include <errno.h>
#include <stdint.h>

#include "fiob_opt.h"
#include "fiob_zc.h"
#include "fiob_test.h"

static void accepts_decimal_hex_and_binary_suffixes(void)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "1", 1 }, { "65536", 65536 }, { "007", 7 },
		{ "0x1000", 4096 }, { "0X10", 16 }, { "4k", 4096 },
		{ "4K", 4096 }, { "4kb", 4096 }, { "4KiB", 4096 },
		{ "1m", 1u << 20 }, { "1MB", 1u << 20 }, { "1g", 1u << 30 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183g", 17179869183ull << 30 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 12345;

		if (fiob_opt_parse_u64(ok[i].s, &v) || v != ok[i].v)
			FT_FAIL("\"%s\" gave %llu, want %llu", ok[i].s,
				(unsigned long long)v,
				(unsigned long long)ok[i].v);
	}
}

static void refuses_signs_blanks_ranges_and_junk(void)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "1-2", "1:2", "1,2", "1.5", "4x",
		"4kx", "4kbb", "k", "0x", "0xg", "abc", "1t", "-0",
	};
	unsigned int i;

	FT_EQ(fiob_opt_parse_u64(NULL, &(uint64_t){ 0 }), -EINVAL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 777;
		int ret = fiob_opt_parse_u64(bad[i], &v);

		if (ret != -EINVAL || v != 777)
			FT_FAIL("\"%s\": ret %d, value %llu", bad[i], ret,
				(unsigned long long)v);
	}
}

static void refuses_what_does_not_fit_64_bits(void)
{
	uint64_t v = 5;

	FT_EQ(fiob_opt_parse_u64("18446744073709551616", &v), -ERANGE);
	FT_EQ(fiob_opt_parse_u64("17179869184g", &v), -ERANGE);
	FT_EQ(fiob_opt_parse_u64("0x10000000000000000", &v), -ERANGE);
	FT_EQ(v, 5);
}

/* bounce_slots' bounds: 1 .. 65536, both ends and one past each. */
static void range_holds_both_bounds_exactly(void)
{
	uint64_t v = 0;

	FT_EQ(fiob_opt_range("0", 1, 65536, &v), -ERANGE);
	FT_EQ(fiob_opt_range("1", 1, 65536, &v), 0);
	FT_EQ(v, 1);
	FT_EQ(fiob_opt_range("65536", 1, 65536, &v), 0);
	FT_EQ(v, 65536);
	FT_EQ(fiob_opt_range("65537", 1, 65536, &v), -ERANGE);
	FT_EQ(fiob_opt_range("64k", 1, 65536, &v), 0);
	FT_EQ(fiob_opt_range("65k", 1, 65536, &v), -ERANGE);
	FT_EQ(fiob_opt_range("-1", 1, 65536, &v), -EINVAL);
	FT_EQ(v, 65536);
}

/* bounce_align's rule: 0, or a power of two up to 1 GiB. */
static void pow2_takes_zero_and_powers_of_two_only(void)
{
	uint64_t v = 9, a;
	char s[32];

	FT_EQ(fiob_opt_pow2("0", 1ull << 30, &v), 0);
	FT_EQ(v, 0);
	for (a = 1; a <= (1ull << 30); a <<= 1) {
		snprintf(s, sizeof(s), "%llu", (unsigned long long)a);
		FT_EQ(fiob_opt_pow2(s, 1ull << 30, &v), 0);
		FT_EQ(v, a);
		if (a > 2 && a < (1ull << 30)) {
			snprintf(s, sizeof(s), "%llu", (unsigned long long)a + 1);
			FT_EQ(fiob_opt_pow2(s, 1ull << 30, &v), -EDOM);
		}
	}
	FT_EQ(fiob_opt_pow2("3", 1ull << 30, &v), -EDOM);
	FT_EQ(fiob_opt_pow2("2g", 1ull << 30, &v), -ERANGE);
	FT_EQ(fiob_opt_pow2("1073741825", 1ull << 30, &v), -ERANGE);
	FT_EQ(fiob_opt_pow2("-4096", 1ull << 30, &v), -EINVAL);
	FT_EQ(v, 1ull << 30);
}

static void zero_copy_min_takes_auto_or_bytes_up_to_1g(void)
{
	static const char *const bad[] = {
		"Auto", "AUTO", " auto", "auto ", "", "-1", "1.5", "4k-8k",
		"2g", "1073741825",
	};
	uint64_t v = 7;
	unsigned int i;

	FT_EQ(fiob_opt_zero_copy_min("auto", &v), 0);
	FT_ASSERT(v == FIOB_ZC_MIN_AUTO);
	FT_EQ(fiob_opt_zero_copy_min("0", &v), 0);
	FT_EQ(v, 0);
	FT_EQ(fiob_opt_zero_copy_min("64k", &v), 0);
	FT_EQ(v, 65536);
	FT_EQ(fiob_opt_zero_copy_min("1g", &v), 0);
	FT_EQ(v, 1ull << 30);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		if (!fiob_opt_zero_copy_min(bad[i], &v) || v != 7)
			FT_FAIL("\"%s\" accepted (%llu)", bad[i],
				(unsigned long long)v);
	}
	FT_ASSERT(fiob_opt_zero_copy_min(NULL, &v) < 0);
}

FT_MAIN(
	FT_RUN(accepts_decimal_hex_and_binary_suffixes);
	FT_RUN(refuses_signs_blanks_ranges_and_junk);
	FT_RUN(refuses_what_does_not_fit_64_bits);
	FT_RUN(range_holds_both_bounds_exactly);
	FT_RUN(pow2_takes_zero_and_powers_of_two_only);
	FT_RUN(zero_copy_min_takes_auto_or_bytes_up_to_1g)
)

/*
 * libFuzzer target: alignment application. Even first byte: fiob_align_apply
 * for any power-of-two need (1 .. 2^31) and any override (0 or a power of
 * two), against tests/unit/align_model.h, plus the invariants the engine
 * relies on (off >= mem, nothing below the need). Odd first byte: the rest
 * is an option value for fiob_opt_pow2 (bounce_align, bounce_mem_align):
 * what it accepts is 0 or a power of two up to 1 GiB, prints back to the
 * same number, and a plain decimal agrees with strtoull.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align_model.h"
#include "fiob_align.h"
#include "fiob_opt.h"

static void apply_case(const uint8_t *d, size_t n)
{
	uint8_t b[4] = { 0 };
	struct fiob_align need, ovr, out = { 0, 0 }, want = { 0, 0 };
	int ret, want_ret;

	memcpy(b, d, n < 4 ? n : 4);
	need.off = 1u << (b[0] % 32);
	need.mem = 1u << (b[1] % 32);
	ovr.off = b[2] & 0x80 ? 0 : 1u << (b[2] % 32);
	ovr.mem = b[3] & 0x80 ? 0 : 1u << (b[3] % 32);
	ret = fiob_align_apply(&need, &ovr, &out);
	want_ret = align_apply_model(&need, &ovr, &want);
	if (ret != want_ret || (!ret && (out.off != want.off ||
					 out.mem != want.mem ||
					 out.off < out.mem ||
					 out.off < need.off ||
					 out.mem < need.mem ||
					 !fiob_is_pow2(out.off) ||
					 !fiob_is_pow2(out.mem)))) {
		fprintf(stderr, "need %u/%u override %u/%u: ret %d in force "
			"%u/%u, model %d %u/%u\n", need.off, need.mem, ovr.off,
			ovr.mem, ret, out.off, out.mem, want_ret, want.off,
			want.mem);
		abort();
	}
}

static void option_case(const uint8_t *d, size_t n)
{
	char s[64], back[32];
	uint64_t v = 0, v2 = 0;
	size_t i;
	int ret;
	bool digits = n > 0 && n <= 19;

	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	memcpy(s, d, n);
	s[n] = '\0';
	for (i = 0; i < n; i++)
		digits &= isdigit((unsigned char)s[i]) != 0;
	ret = fiob_opt_pow2(s, 1ull << 30, &v);
	if (digits && strlen(s) == n) {
		unsigned long long ref = strtoull(s, NULL, 10);
		int want = ref > (1ull << 30) ? -ERANGE :
			   ref && !fiob_is_pow2(ref) ? -EDOM : 0;

		if (ret != want || (!ret && v != ref)) {
			fprintf(stderr, "\"%s\": ret %d value %llu, strtoull "
				"%llu\n", s, ret, (unsigned long long)v, ref);
			abort();
		}
	}
	if (ret)
		return;
	snprintf(back, sizeof(back), "%llu", (unsigned long long)v);
	if ((v && !fiob_is_pow2(v)) || v > (1ull << 30) ||
	    fiob_opt_pow2(back, 1ull << 30, &v2) || v2 != v) {
		fprintf(stderr, "\"%s\" accepted as %llu\n", s,
			(unsigned long long)v);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!n)
		return 0;
	if (d[0] & 1)
		option_case(d + 1, n - 1);
	else
		apply_case(d + 1, n - 1);
	return 0;
}

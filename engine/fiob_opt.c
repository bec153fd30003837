#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fiob_opt.h"
#include "fiob_align.h"
#include "fiob_zc.h"

/* "", "b", "ib" after a k/m/g suffix, any case. */
static int suffix_shift(const char *s, unsigned int *shift)
{
	static const char units[] = "kmg";
	const char *u;

	*shift = 0;
	if (!*s)
		return 0;
	u = strchr(units, tolower((unsigned char)*s));
	if (!u)
		return -EINVAL;
	*shift = 10 * (unsigned int)(u - units + 1);
	s++;
	if (!*s || !strcasecmp(s, "b") || !strcasecmp(s, "ib"))
		return 0;
	return -EINVAL;
}

int fiob_opt_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift;
	int base = 10;
	char *end;

	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	/* strtoull would take blanks and a sign: only digits may start. */
	if (!(base == 16 ? isxdigit((unsigned char)*s) :
			   isdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (suffix_shift(end, &shift))
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int fiob_opt_range(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int ret = fiob_opt_parse_u64(s, &v);

	if (ret)
		return ret;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int fiob_opt_pow2(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int ret = fiob_opt_range(s, 0, max, &v);

	if (ret)
		return ret;
	if (v && !fiob_is_pow2(v))
		return -EDOM;
	*out = v;
	return 0;
}

int fiob_opt_zero_copy_min(const char *s, uint64_t *out)
{
	if (s && !strcmp(s, "auto")) {
		*out = FIOB_ZC_MIN_AUTO;
		return 0;
	}
	return fiob_opt_range(s, 0, 1ull << 30, out);
}

/*
 * Stats rendering: the JSON object parses under a strict (RFC 8259) parser
 * written here and holds every counter and name exactly; the summary line
 * holds the counters and per-file alignment; both truncate like snprintf;
 * appends from many processes never interleave.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fiob_stats.h"
#include "fiob_test.h"

/* ---- a strict JSON parser that records "path = value" leaves -------- */

#define MAX_LEAVES	64

struct leaf {
	char path[64];
	char val[256];		/* decoded string, or the number's text */
	bool is_str;
};

struct jp {
	const char *s;
	const char *err;
	struct leaf leaves[MAX_LEAVES];
	int nr;
};

static void ws(struct jp *p)
{
	while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
		p->s++;
}

static int fail(struct jp *p, const char *why)
{
	if (!p->err)
		p->err = why;
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Length of the valid UTF-8 sequence at @s, or 0. Written from the table in
 * RFC 3629 section 4 (by code point ranges), not from the engine's code.
 */
static int utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t cp;
	int n, i;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A string into @out (UTF-8; code points below 0x800 suffice here). */
static int parse_string(struct jp *p, char *out, size_t cap)
{
	size_t n = 0;

	if (*p->s++ != '"')
		return fail(p, "expected a string");
	for (;;) {
		unsigned char c = (unsigned char)*p->s++;
		unsigned int u = 0;
		int i, h;

		if (!c)
			return fail(p, "unterminated string");
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(p, "raw control character in a string");
		if (c >= 0x80) {
			int len = utf8_valid(p->s - 1);

			if (!len)
				return fail(p, "invalid UTF-8 in a string");
			for (i = 1; i < len; i++) {
				if (n + 1 < cap)
					out[n++] = (char)c;
				c = (unsigned char)*p->s++;
			}
		}
		if (c == '\\') {
			c = (unsigned char)*p->s++;
			switch (c) {
			case '"': case '\\': case '/':
				break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				for (i = 0; i < 4; i++) {
					h = hexval(*p->s++);
					if (h < 0)
						return fail(p, "bad \\u escape");
					u = u * 16 + (unsigned int)h;
				}
				if (u >= 0x800)
					return fail(p, "\\u escape beyond test range");
				if (u >= 0x80) {
					if (n + 2 < cap)
						out[n++] = (char)(0xc0 | (u >> 6));
					c = (unsigned char)(0x80 | (u & 0x3f));
				} else {
					c = (unsigned char)u;
				}
				break;
			default:
				return fail(p, "bad escape");
			}
		}
		if (n + 1 < cap)
			out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

static int parse_value(struct jp *p, const char *path);

static struct leaf *add_leaf(struct jp *p, const char *path)
{
	struct leaf *l;

	if (p->nr == MAX_LEAVES)
		return NULL;
	l = &p->leaves[p->nr++];
	snprintf(l->path, sizeof(l->path), "%s", path);
	return l;
}

static int parse_number(struct jp *p, const char *path)
{
	const char *b = p->s;
	struct leaf *l;

	if (*p->s == '-')
		p->s++;
	if (*p->s == '0')
		p->s++;
	else if (*p->s >= '1' && *p->s <= '9')
		while (*p->s >= '0' && *p->s <= '9')
			p->s++;
	else
		return fail(p, "bad number");
	if (*p->s == '.' || *p->s == 'e' || *p->s == 'E')
		return fail(p, "counters must be integers");
	l = add_leaf(p, path);
	if (!l)
		return fail(p, "too many values");
	snprintf(l->val, sizeof(l->val), "%.*s", (int)(p->s - b), b);
	l->is_str = false;
	return 0;
}

static int parse_container(struct jp *p, const char *path, bool obj)
{
	char key[64], sub[128];
	int i = 0;

	p->s++;
	ws(p);
	if (*p->s == (obj ? '}' : ']')) {
		p->s++;
		return 0;
	}
	for (;; i++) {
		ws(p);
		if (obj) {
			if (parse_string(p, key, sizeof(key)))
				return -1;
			ws(p);
			if (*p->s++ != ':')
				return fail(p, "expected ':'");
			snprintf(sub, sizeof(sub), "%s%s%s", path,
				 *path ? "." : "", key);
		} else {
			snprintf(sub, sizeof(sub), "%s[%d]", path, i);
		}
		if (parse_value(p, sub))
			return -1;
		ws(p);
		if (*p->s == ',') {
			p->s++;
			continue;
		}
		if (*p->s++ != (obj ? '}' : ']'))
			return fail(p, "expected ',' or a closing bracket");
		return 0;
	}
}

static int parse_value(struct jp *p, const char *path)
{
	struct leaf *l;

	ws(p);
	if (*p->s == '{' || *p->s == '[')
		return parse_container(p, path, *p->s == '{');
	if (*p->s == '"') {
		l = add_leaf(p, path);
		if (!l)
			return fail(p, "too many values");
		l->is_str = true;
		return parse_string(p, l->val, sizeof(l->val));
	}
	if (!strncmp(p->s, "true", 4) || !strncmp(p->s, "false", 5)) {
		size_t n = *p->s == 't' ? 4 : 5;

		l = add_leaf(p, path);
		if (!l)
			return fail(p, "too many values");
		snprintf(l->val, sizeof(l->val), "%.*s", (int)n, p->s);
		l->is_str = false;
		p->s += n;
		return 0;
	}
	return parse_number(p, path);
}

/* The whole text must be one object plus whitespace. */
static int parse_json(struct jp *p, const char *text)
{
	memset(p, 0, sizeof(*p));
	p->s = text;
	ws(p);
	if (*p->s != '{')
		return fail(p, "not an object");
	if (parse_value(p, ""))
		return -1;
	ws(p);
	return *p->s ? fail(p, "trailing garbage") : 0;
}

static const struct leaf *get(const struct jp *p, const char *path)
{
	int i;

	for (i = 0; i < p->nr; i++)
		if (!strcmp(p->leaves[i].path, path))
			return &p->leaves[i];
	return NULL;
}

/* ---- fixtures -------------------------------------------------------- */

static const char nasty[] = "a\"b\\c\nd\te\x01\x1f/\xc3\xa9z";

static const struct fiob_stats_file files[] = {
	{ .name = "/dev/nvme0n1", .align = { 4096, 512 }, .src = "statx",
	  .zero_copy = "accepted" },
	{ .name = nasty, .align = { 1, 1 }, .src = "buffered",
	  .zero_copy = "n/a" },
};

static const struct fiob_stats_ctx ctx = {
	.job = "job \"one\" \\ \x02", .mode = "auto", .nr_slots = 16,
	.slot_size = 139264, .slots_registered = true, .files = files,
	.nr_files = 2, .zero_copy_fixed = "yes",
};

static const struct fiob_stats st = {
	.passthrough = 1, .mem_bounced = 22, .window_reads = 333,
	.rmw_writes = 4444, .rmw_reads = 55555, .bytes_copied = UINT64_MAX,
	.waits = 7, .ring_empty = 88, .short_done = 999, .syncs = 1010,
	.eof_trims = 1111, .zero_copy = 1212, .share_waits = 1919,
	.device_bytes_read = 8192,
	.user_bytes_read = 1024, .device_bytes_write = 3000,
	.user_bytes_write = 2000, .sq_full_submits = 1313,
	.mid_reap_submits = 1414, .submit_retries = 1515, .cq_overflows = 1616,
	.cq_dropped = 1717,
};

static void json_parses_strictly_and_holds_every_value(void)
{
	static const struct { const char *path; uint64_t v; } want[] = {
		{ "slots", 16 }, { "slot_size", 139264 },
		{ "files[0].off_align", 4096 }, { "files[0].mem_align", 512 },
		{ "files[1].off_align", 1 }, { "files[1].mem_align", 1 },
		{ "counters.passthrough", 1 }, { "counters.mem_bounced", 22 },
		{ "counters.window_reads", 333 }, { "counters.rmw_writes", 4444 },
		{ "counters.rmw_reads", 55555 },
		{ "counters.bytes_copied", UINT64_MAX }, { "counters.waits", 7 },
		{ "counters.ring_empty", 88 }, { "counters.short_done", 999 },
		{ "counters.syncs", 1010 }, { "counters.eof_trims", 1111 },
		{ "counters.zero_copy", 1212 }, { "counters.share_waits", 1919 },
		{ "counters.device_bytes_read", 8192 },
		{ "counters.user_bytes_read", 1024 },
		{ "counters.device_bytes_write", 3000 },
		{ "counters.user_bytes_write", 2000 },
		{ "counters.sq_full_submits", 1313 },
		{ "counters.mid_reap_submits", 1414 },
		{ "counters.submit_retries", 1515 },
		{ "counters.cq_overflows", 1616 },
		{ "counters.cq_dropped", 1717 },
	};
	static const struct { const char *path, *v; } want_s[] = {
		{ "job", "job \"one\" \\ \x02" }, { "mode", "auto" },
		{ "zero_copy_fixed", "yes" },
		{ "files[0].name", "/dev/nvme0n1" }, { "files[0].source", "statx" },
		{ "files[1].name", nasty }, { "files[1].source", "buffered" },
		{ "files[0].zero_copy", "accepted" },
		{ "files[1].zero_copy", "n/a" },
	};
	static struct jp p;
	char buf[2048];
	int n, i;

	n = fiob_stats_json(buf, sizeof(buf), &ctx, &st);
	FT_EQ(n, strlen(buf));
	FT_ASSERT(n > 0 && buf[n - 1] == '\n');
	FT_ASSERT(strchr(buf, '\n') == buf + n - 1);	/* one line */
	if (parse_json(&p, buf))
		FT_FAIL("invalid JSON (%s) at offset %ld: %s", p.err,
			(long)(p.s - buf), buf);
	FT_EQ(p.nr, (int)(sizeof(want) / sizeof(want[0]) +
			  sizeof(want_s) / sizeof(want_s[0])) + 1);
	FT_ASSERT(get(&p, "slots_registered") &&
		  !get(&p, "slots_registered")->is_str &&
		  !strcmp(get(&p, "slots_registered")->val, "true"));
	for (i = 0; i < (int)(sizeof(want) / sizeof(want[0])); i++) {
		const struct leaf *l = get(&p, want[i].path);

		if (!l || l->is_str || strtoull(l->val, NULL, 10) != want[i].v)
			FT_FAIL("%s: got %s, want %" PRIu64, want[i].path,
				l ? l->val : "(missing)", want[i].v);
	}
	for (i = 0; i < (int)(sizeof(want_s) / sizeof(want_s[0])); i++) {
		const struct leaf *l = get(&p, want_s[i].path);

		if (!l || !l->is_str || strcmp(l->val, want_s[i].v))
			FT_FAIL("%s: got \"%s\"", want_s[i].path,
				l ? l->val : "(missing)");
	}
	FT_ASSERT(strstr(buf, "\\u0001") && strstr(buf, "\\u001f"));
}

static void json_with_no_files_and_zero_counters_parses(void)
{
	struct fiob_stats_ctx c = { .job = "", .mode = "never" };
	struct fiob_stats z = { 0 };
	static struct jp p;
	char buf[1024];

	fiob_stats_json(buf, sizeof(buf), &c, &z);
	if (parse_json(&p, buf))
		FT_FAIL("invalid JSON (%s): %s", p.err, buf);
	FT_ASSERT(strstr(buf, "\"files\":[]"));
	FT_ASSERT(get(&p, "counters.eof_trims") != NULL);
	FT_ASSERT(get(&p, "job") && !strcmp(get(&p, "job")->val, ""));
	FT_ASSERT(get(&p, "slots_registered") &&
		  !get(&p, "slots_registered")->is_str &&
		  !strcmp(get(&p, "slots_registered")->val, "false"));
}

static void summary_line_has_counters_and_per_file_alignment(void)
{
	static const struct fiob_stats_file f2[] = {
		files[0], { .name = "/tmp/x y", .align = { 1, 1 }, .src = "buffered",
			    .zero_copy = "n/a" },
	};
	struct fiob_stats_ctx c = ctx;
	char buf[1024];
	int n;

	c.files = f2;
	n = fiob_stats_line(buf, sizeof(buf), &c, &st);

	FT_EQ(n, strlen(buf));
	FT_ASSERT(!strchr(buf, '\n'));
	FT_ASSERT(!strncmp(buf, "fio-bounce: job \"one\"", 21));
	FT_ASSERT(strstr(buf, " mode=auto zero_copy_fixed=yes "));
	/* Every counter of struct fiob_stats, the ring's last five included. */
	FT_ASSERT(strstr(buf, " pass=1 mem=22 winread=333 rmw=4444 "
			 "rmw_reads=55555 copied=18446744073709551615 waits=7 "
			 "ring_empty=88 short=999 syncs=1010 eof_trims=1111 "
			 "zero_copy=1212 share_waits=1919 device_read=8192 user_read=1024 "
			 "device_write=3000 user_write=2000 sq_full=1313 "
			 "mid_reap=1414 submit_retries=1515 cq_overflows=1616 "
			 "cq_dropped=1717 "));
	/* The amplification: device bytes per user byte, each direction. */
	FT_ASSERT(strstr(buf, " amp_read=8.00 amp_write=1.50 "));
	FT_ASSERT(strstr(buf, " align[/dev/nvme0n1]=4096/512(statx,"
			 "zero_copy=accepted)"));
	FT_ASSERT(strstr(buf, " align[/tmp/x y]=1/1(buffered,zero_copy=n/a)"));
}

/*
 * A file name that is not text: invalid UTF-8 of every kind (stray
 * continuation, truncated sequence, overlong, surrogate, past U+10FFFF,
 * 0xf8), valid 2-, 3- and 4-byte sequences, a newline, a quote, ']' and a
 * backslash. Expected texts were computed with Python's strict UTF-8 decoder.
 */
static const char bad_name[] =
	"x\377y\303(\300\257\340\200\200\355\240\200\364\220\200\200\370"
	"\303\251\342\202\254\360\237\230\200\012\"q]\\\177";

static const struct fiob_stats_file bad_files[] = {
	{ .name = bad_name, .align = { 4096, 512 }, .src = "statx" },
};

/* ctx, with that name for the job and its one file. */
static struct fiob_stats_ctx bad_name_ctx(void)
{
	struct fiob_stats_ctx c = ctx;

	c.files = bad_files;
	c.nr_files = 1;
	c.job = bad_name;
	return c;
}

static void json_escapes_invalid_utf8_and_keeps_valid_utf8(void)
{
	static const char want_json[] =
		"x\\u00ffy\\u00c3(\\u00c0\\u00af\\u00e0\\u0080\\u0080\\u00ed"
		"\\u00a0\\u0080\\u00f4\\u0090\\u0080\\u0080\\u00f8\303\251\342"
		"\202\254\360\237\230\200\\u000a\\\"q]\\\\\177";
	static const char want_decoded[] =
		"x\303\277y\303\203(\303\200\302\257\303\240\302\200\302\200"
		"\303\255\302\240\302\200\303\264\302\220\302\200\302\200\303"
		"\270\303\251\342\202\254\360\237\230\200\012\"q]\\\177";
	struct fiob_stats_ctx c = bad_name_ctx();
	static struct jp p;
	char buf[2048];

	fiob_stats_json(buf, sizeof(buf), &c, &st);
	if (parse_json(&p, buf))
		FT_FAIL("invalid JSON (%s) at offset %ld: %s", p.err,
			(long)(p.s - buf), buf);
	FT_ASSERT(strstr(buf, want_json));
	FT_ASSERT(get(&p, "files[0].name") &&
		  !strcmp(get(&p, "files[0].name")->val, want_decoded));
	FT_ASSERT(get(&p, "job") && !strcmp(get(&p, "job")->val, want_decoded));
}

/* The same name in the summary line: one line, every odd byte escaped. */
static void summary_line_escapes_names(void)
{
	static const char want_name[] =
		"x\\xffy\\xc3(\\xc0\\xaf\\xe0\\x80\\x80\\xed\\xa0\\x80\\xf4\\x90"
		"\\x80\\x80\\xf8\303\251\342\202\254\360\237\230\200\\n\"q\\x5d"
		"\\\\\\x7f";
	struct fiob_stats_ctx c = bad_name_ctx();
	char buf[2048], want[512];
	int n;

	n = fiob_stats_line(buf, sizeof(buf), &c, &st);
	FT_EQ(n, strlen(buf));
	FT_ASSERT(!strchr(buf, '\n'));
	snprintf(want, sizeof(want), "fio-bounce: %s: mode=auto ", want_name);
	FT_ASSERT(!strncmp(buf, want, strlen(want)));
	snprintf(want, sizeof(want), " align[%s]=4096/512(statx,zero_copy=?)", want_name);
	FT_ASSERT(strstr(buf, want));
}

/*
 * Every buffer length from 0 to full + 2: the return value is always the
 * full length, the text is the full text's prefix, NUL-terminated, and not
 * one byte past the buffer changes.
 */
static void truncation_never_overflows_and_returns_full_length(void)
{
	int (*fn[2])(char *, size_t, const struct fiob_stats_ctx *,
		     const struct fiob_stats *) = {
		fiob_stats_line, fiob_stats_json,
	};
	char full[2048], buf[2048 + 64];
	int k, full_n;
	size_t len, i;

	for (k = 0; k < 2; k++) {
		full_n = fn[k](full, sizeof(full), &ctx, &st);
		FT_ASSERT(full_n > 0 && full_n < 2000);
		FT_EQ(fn[k](NULL, 0, &ctx, &st), full_n);
		for (len = 0; len <= (size_t)full_n + 2; len++) {
			memset(buf, 0x7e, sizeof(buf));
			FT_EQ(fn[k](buf + 16, len, &ctx, &st), full_n);
			for (i = 0; i < 16; i++)
				FT_ASSERT(buf[i] == 0x7e);
			for (i = 16 + len; i < sizeof(buf); i++)
				if (buf[i] != 0x7e)
					FT_FAIL("%s: len %zu: byte %zu past the "
						"buffer written", k ? "json" : "line",
						len, i - 16 - len);
			if (!len)
				continue;
			i = len - 1 < (size_t)full_n ? len - 1 : (size_t)full_n;
			FT_EQ(buf[16 + i], '\0');
			FT_ASSERT(!memcmp(buf + 16, full, i));
		}
	}
}

#define CHILDREN	8
#define LINES		200

/* Line i of child c: a header, then a payload of c-derived bytes. */
static size_t make_line(char *buf, int c, int i)
{
	size_t len = (size_t)snprintf(buf, 64, "c%d i%d ", c, i);
	size_t pay = 1 + (size_t)((c * 7919 + i * 104729) % 6000);

	memset(buf + len, 'a' + c, pay);
	buf[len + pay] = '\n';
	return len + pay + 1;
}

static void append_from_8_processes_yields_1600_intact_lines(void)
{
	char path[] = "/tmp/fiob-stats-XXXXXX", line[8192], want[8192];
	int next[CHILDREN] = { 0 }, fd, c, i, status, nr = 0;
	pid_t pids[CHILDREN];
	FILE *f;

	fd = mkstemp(path);
	FT_ASSERT(fd >= 0);
	close(fd);
	for (c = 0; c < CHILDREN; c++) {
		pids[c] = fork();
		FT_ASSERT(pids[c] >= 0);
		if (!pids[c]) {
			for (i = 0; i < LINES; i++) {
				size_t n = make_line(line, c, i);

				if (fiob_stats_append(path, line, n))
					_exit(1);
			}
			_exit(0);
		}
	}
	for (c = 0; c < CHILDREN; c++) {
		FT_ASSERT(waitpid(pids[c], &status, 0) == pids[c]);
		FT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	f = fopen(path, "r");
	unlink(path);
	FT_ASSERT(f);
	while (fgets(line, sizeof(line), f)) {
		size_t n;

		if (sscanf(line, "c%d i%d ", &c, &i) != 2 || c < 0 ||
		    c >= CHILDREN || i != next[c]) {
			fclose(f);
			FT_FAIL("line %d out of order or torn: %.40s", nr, line);
		}
		n = make_line(want, c, i);
		if (strlen(line) != n || memcmp(line, want, n)) {
			fclose(f);
			FT_FAIL("line %d (c%d i%d) is not intact", nr, c, i);
		}
		next[c]++;
		nr++;
	}
	fclose(f);
	FT_EQ(nr, CHILDREN * LINES);
}

static void append_reports_errno_for_a_bad_path(void)
{
	FT_EQ(fiob_stats_append("/nonexistent-dir/x/stats.json", "x\n", 2),
	      -ENOENT);
}

/*
 * The zero-copy threshold: recorded only for a file that may go zero copy;
 * the reads' own only where it differs.
 */
static void zero_copy_min_in_line_and_json_when_set(void)
{
	static const struct fiob_stats_file f[] = {
		{ .name = "/dev/loop0", .align = { 4096, 512 }, .src = "statx",
		  .zero_copy = "accepted", .zero_copy_min = 131072,
		  .zero_copy_min_src = "auto", .zero_copy_min_read = 0,
		  .zero_copy_min_read_src = "fixed" },
		{ .name = "/tmp/f", .align = { 4096, 512 }, .src = "statx",
		  .zero_copy = "refused" },
	};
	struct fiob_stats_ctx c = ctx;
	static struct jp p;
	char buf[2048];

	c.files = f;
	fiob_stats_line(buf, sizeof(buf), &c, &st);
	FT_ASSERT(strstr(buf, " align[/dev/loop0]=4096/512(statx,zero_copy="
			 "accepted,zero_copy_min=131072:auto,"
			 "zero_copy_min_read=0:fixed) "));
	FT_ASSERT(strstr(buf, " align[/tmp/f]=4096/512(statx,zero_copy="
			 "refused)"));
	fiob_stats_json(buf, sizeof(buf), &c, &st);
	if (parse_json(&p, buf))
		FT_FAIL("invalid JSON (%s): %s", p.err, buf);
	FT_ASSERT(get(&p, "files[0].zero_copy_min") &&
		  !get(&p, "files[0].zero_copy_min")->is_str &&
		  !strcmp(get(&p, "files[0].zero_copy_min")->val, "131072"));
	FT_ASSERT(get(&p, "files[0].zero_copy_min_source") &&
		  !strcmp(get(&p, "files[0].zero_copy_min_source")->val,
			  "auto"));
	FT_ASSERT(get(&p, "files[0].zero_copy_min_read") &&
		  !strcmp(get(&p, "files[0].zero_copy_min_read")->val, "0"));
	FT_ASSERT(get(&p, "files[0].zero_copy_min_read_source") &&
		  !strcmp(get(&p, "files[0].zero_copy_min_read_source")->val,
			  "fixed"));
	FT_ASSERT(!get(&p, "files[1].zero_copy_min") &&
		  !get(&p, "files[1].zero_copy_min_source") &&
		  !get(&p, "files[1].zero_copy_min_read"));
}

FT_MAIN(
	FT_RUN(json_parses_strictly_and_holds_every_value);
	FT_RUN(json_with_no_files_and_zero_counters_parses);
	FT_RUN(summary_line_has_counters_and_per_file_alignment);
	FT_RUN(json_escapes_invalid_utf8_and_keeps_valid_utf8);
	FT_RUN(summary_line_escapes_names);
	FT_RUN(truncation_never_overflows_and_returns_full_length);
	FT_RUN(append_from_8_processes_yields_1600_intact_lines);
	FT_RUN(append_reports_errno_for_a_bad_path);
	FT_RUN(zero_copy_min_in_line_and_json_when_set)
)

/*
 * Counters rendered (fiob_stats.h): the summary line and the JSON object,
 * both from the one counter list below. Pure layer: no ring, no fio.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "fiob_stats.h"

/* A bounded appender: keeps counting past the end like snprintf does. */
struct out {
	char *buf;
	size_t len;
	size_t pos;
};

static void put(struct out *o, const char *fmt, ...)
{
	size_t room = o->pos < o->len ? o->len - o->pos : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

/*
 * Length of the well-formed UTF-8 sequence at @s (1 to 4 bytes), or 0 when
 * the byte at @s starts none (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF). File names are bytes, not text.
 */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range is what rules out the invalid forms. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * A JSON string. Valid UTF-8 passes as it is; a byte that is not part of
 * valid UTF-8 becomes \u00XX (read back as U+00XX), so the output is always
 * valid JSON and no byte of the name is lost from view.
 */
static void put_json_string(struct out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	put(o, "\"");
	while (s && *s) {
		size_t n = utf8_len(s);

		if (*s == '"' || *s == '\\')
			put(o, "\\%c", *s);
		else if (*s < 0x20 || !n)
			put(o, "\\u%04x", *s);
		else
			put(o, "%.*s", (int)n, (const char *)s);
		s += n ? n : 1;
	}
	put(o, "\"");
}

/*
 * A name in the one-line summary: C-style escapes for backslash, control
 * characters, DEL, bytes that are not valid UTF-8 and ']' (which ends a name
 * in "align[NAME]="), so the line stays one line and parses back.
 */
static void put_text_string(struct out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (s && *s) {
		size_t n = utf8_len(s);

		if (*s == '\\')
			put(o, "\\\\");
		else if (*s == '\n')
			put(o, "\\n");
		else if (*s == '\t')
			put(o, "\\t");
		else if (*s < 0x20 || *s == 0x7f || *s == ']' || !n)
			put(o, "\\x%02x", *s);
		else
			put(o, "%.*s", (int)n, (const char *)s);
		s += n ? n : 1;
	}
}

/*
 * Every counter once, in output order: X(field, summary-line label). Both
 * renderings below walk this list, so neither can miss a counter.
 */
#define COUNTERS(X)							\
	X(passthrough, pass) X(mem_bounced, mem) X(window_reads, winread)	\
	X(rmw_writes, rmw) X(rmw_reads, rmw_reads)			\
	X(bytes_copied, copied) X(waits, waits) X(ring_empty, ring_empty) \
	X(short_done, short) X(syncs, syncs) X(eof_trims, eof_trims)	\
	X(zero_copy, zero_copy) X(share_waits, share_waits)		\
	X(device_bytes_read, device_read) X(user_bytes_read, user_read)	\
	X(device_bytes_write, device_write) X(user_bytes_write, user_write) \
	X(sq_full_submits, sq_full) X(mid_reap_submits, mid_reap)	\
	X(submit_retries, submit_retries) X(cq_overflows, cq_overflows)	\
	X(cq_dropped, cq_dropped)

#define COUNT_ONE(name, label) + 1
_Static_assert(sizeof(struct fiob_stats) ==
	       (0 COUNTERS(COUNT_ONE)) * sizeof(uint64_t),
	       "COUNTERS must name every field of struct fiob_stats");
#undef COUNT_ONE

/* " amp_<dir>=device/user" to two places, when fio moved bytes that way. */
static void put_amplification(struct out *o, const char *dir, uint64_t device,
			      uint64_t user)
{
	if (user)
		put(o, " amp_%s=%.2f", dir, (double)device / (double)user);
}

int fiob_stats_line(char *buf, size_t len, const struct fiob_stats_ctx *ctx,
		    const struct fiob_stats *s)
{
	struct out o = { buf, len, 0 };
	uint32_t i;

	if (len)
		buf[0] = '\0';
	put(&o, "fio-bounce: ");
	put_text_string(&o, ctx->job);
	put(&o, ": mode=%s zero_copy_fixed=%s", ctx->mode,
	    ctx->zero_copy_fixed ? ctx->zero_copy_fixed : "?");
#define X(name, label) put(&o, " " #label "=%" PRIu64, s->name);
	COUNTERS(X)
#undef X
	put_amplification(&o, "read", s->device_bytes_read, s->user_bytes_read);
	put_amplification(&o, "write", s->device_bytes_write,
			  s->user_bytes_write);
	for (i = 0; i < ctx->nr_files; i++) {
		const struct fiob_stats_file *f = &ctx->files[i];

		put(&o, " align[");
		put_text_string(&o, f->name);
		put(&o, "]=%u/%u(%s,zero_copy=%s", f->align.off, f->align.mem,
		    f->src, f->zero_copy ? f->zero_copy : "?");
		if (f->zero_copy_min_src)
			put(&o, ",zero_copy_min=%" PRIu64 ":%s",
			    f->zero_copy_min, f->zero_copy_min_src);
		if (f->zero_copy_min_src && f->zero_copy_min_read_src)
			put(&o, ",zero_copy_min_read=%" PRIu64 ":%s",
			    f->zero_copy_min_read, f->zero_copy_min_read_src);
		put(&o, ")");
	}
	return (int)o.pos;
}

int fiob_stats_json(char *buf, size_t len, const struct fiob_stats_ctx *ctx,
		    const struct fiob_stats *s)
{
	struct out o = { buf, len, 0 };
	bool first = true;
	uint32_t i;

	if (len)
		buf[0] = '\0';
	put(&o, "{\"job\":");
	put_json_string(&o, ctx->job);
	put(&o, ",\"mode\":");
	put_json_string(&o, ctx->mode);
	put(&o, ",\"slots\":%u,\"slot_size\":%" PRIu64
	    ",\"slots_registered\":%s,\"zero_copy_fixed\":", ctx->nr_slots,
	    ctx->slot_size, ctx->slots_registered ? "true" : "false");
	put_json_string(&o, ctx->zero_copy_fixed ? ctx->zero_copy_fixed : "?");
	put(&o, ",\"files\":[");
	for (i = 0; i < ctx->nr_files; i++) {
		const struct fiob_stats_file *f = &ctx->files[i];

		put(&o, "%s{\"name\":", i ? "," : "");
		put_json_string(&o, f->name);
		put(&o, ",\"off_align\":%u,\"mem_align\":%u,\"source\":",
		    f->align.off, f->align.mem);
		put_json_string(&o, f->src);
		put(&o, ",\"zero_copy\":");
		put_json_string(&o, f->zero_copy ? f->zero_copy : "?");
		if (f->zero_copy_min_src) {
			put(&o, ",\"zero_copy_min\":%" PRIu64
			    ",\"zero_copy_min_source\":", f->zero_copy_min);
			put_json_string(&o, f->zero_copy_min_src);
		}
		if (f->zero_copy_min_src && f->zero_copy_min_read_src) {
			put(&o, ",\"zero_copy_min_read\":%" PRIu64
			    ",\"zero_copy_min_read_source\":",
			    f->zero_copy_min_read);
			put_json_string(&o, f->zero_copy_min_read_src);
		}
		put(&o, "}");
	}
	put(&o, "],\"counters\":{");
#define X(name, label)							\
	put(&o, "%s\"" #name "\":%" PRIu64, first ? "" : ",", s->name);	\
	first = false;
	COUNTERS(X)
#undef X
	put(&o, "}}\n");
	return (int)o.pos;
}

char *fiob_stats_render(fiob_stats_render_fn fn,
			const struct fiob_stats_ctx *ctx,
			const struct fiob_stats *s)
{
	int len = fn(NULL, 0, ctx, s);
	char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;

	if (buf)
		fn(buf, (size_t)len + 1, ctx, s);
	return buf;
}

int fiob_stats_append(const char *path, const char *buf, size_t len)
{
	int fd, ret = 0;
	ssize_t n;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		ret = -errno;
		goto err;
	}
	n = write(fd, buf, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	flock(fd, LOCK_UN);
err:
	close(fd);
	return ret;
}

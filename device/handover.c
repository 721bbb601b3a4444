/* SPDX-License-Identifier: MIT */
/*
 * Hand-over images: the writer and the checking reader (handover.h).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handover.h"

struct ho_writer {
	GByteArray *body;
	GArray *fds;		  /* int, not ours */
	guint open[HO_MAX_DEPTH]; /* offsets of open records */
	unsigned int depth;
	int error;
};

static const uint8_t zeros[8];

static size_t pad8(size_t n)
{
	return (8 - (n & 7)) & 7;
}

struct ho_writer *ho_writer_new(void)
{
	struct ho_writer *w = g_new0(struct ho_writer, 1);

	w->body = g_byte_array_new();
	w->fds = g_array_new(FALSE, FALSE, sizeof(int));
	return w;
}

void ho_writer_free(struct ho_writer *w)
{
	if (!w) {
		return;
	}
	g_byte_array_unref(w->body);
	g_array_unref(w->fds);
	g_free(w);
}

static void put_head(struct ho_writer *w, uint16_t tag, uint32_t len)
{
	struct ho_record h = {
		.tag = htole16(tag),
		.len = htole32(len),
	};

	g_byte_array_append(w->body, (const guint8 *)&h, sizeof(h));
}

void ho_begin(struct ho_writer *w, uint16_t tag)
{
	if (w->error) {
		return;
	}
	if (!(tag & HO_NESTED) || w->depth >= HO_MAX_DEPTH) {
		w->error = -EINVAL;
		return;
	}
	w->open[w->depth++] = w->body->len;
	put_head(w, tag, 0);
}

void ho_end(struct ho_writer *w)
{
	struct ho_record *h;
	size_t len;

	if (w->error) {
		return;
	}
	if (!w->depth) {
		w->error = -EINVAL;
		return;
	}
	w->depth--;
	len = w->body->len - w->open[w->depth] - sizeof(*h);
	if (len > HO_MAX_BODY) {
		w->error = -E2BIG;
		return;
	}
	h = (struct ho_record *)(w->body->data + w->open[w->depth]);
	h->len = htole32((uint32_t)len);
}

void ho_put(struct ho_writer *w, uint16_t tag, const void *value, uint32_t len)
{
	if (w->error) {
		return;
	}
	if ((tag & HO_NESTED) || len > HO_MAX_BODY) {
		w->error = -EINVAL;
		return;
	}
	put_head(w, tag, len);
	if (len) {
		g_byte_array_append(w->body, value, len);
	}
	g_byte_array_append(w->body, zeros, (guint)pad8(len));
	if (w->body->len > HO_MAX_BODY) {
		w->error = -E2BIG;
	}
}

void ho_put_u32(struct ho_writer *w, uint16_t tag, uint32_t v)
{
	v = htole32(v);
	ho_put(w, tag, &v, sizeof(v));
}

void ho_put_str(struct ho_writer *w, uint16_t tag, const char *s)
{
	ho_put(w, tag, s, (uint32_t)strlen(s));
}

void ho_put_fd_as(struct ho_writer *w, uint16_t tag, int fd)
{
	if (fd < 0 || w->fds->len >= HO_MAX_FDS) {
		if (!w->error) {
			w->error = -EINVAL;
		}
		return;
	}
	ho_put_u32(w, tag, w->fds->len);
	g_array_append_val(w->fds, fd);
}

void ho_put_fd(struct ho_writer *w, int fd)
{
	ho_put_fd_as(w, HO_FD, fd);
}

int ho_writer_finish(struct ho_writer *w, GByteArray **image)
{
	struct ho_header h = { .version = htole32(HO_VERSION) };
	GChecksum *sum;
	gsize n = sizeof(h.sha256);

	*image = NULL;
	if (!w->error && w->depth) {
		w->error = -EINVAL; /* a record left open */
	}
	if (w->error) {
		return w->error;
	}
	memcpy(h.magic, HO_MAGIC, sizeof(HO_MAGIC));
	h.body_len = htole64(w->body->len);
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, w->body->data, w->body->len);
	g_checksum_get_digest(sum, h.sha256, &n);
	g_checksum_free(sum);
	*image = g_byte_array_sized_new((guint)(sizeof(h) + w->body->len));
	g_byte_array_append(*image, (const guint8 *)&h, sizeof(h));
	g_byte_array_append(*image, w->body->data, w->body->len);
	return 0;
}

const int *ho_writer_fds(const struct ho_writer *w, unsigned int *n)
{
	*n = w->fds->len;
	return (const int *)(const void *)w->fds->data;
}

int ho_image_memfd(const GByteArray *image)
{
	size_t done = 0;
	int fd, rc;

	fd = memfd_create("vhost-user-rtc hand-over",
			  MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		return -errno;
	}
	while (done < image->len) {
		ssize_t k = write(fd, image->data + done, image->len - done);

		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			rc = k < 0 ? -errno : -EIO;
			close(fd);
			return rc;
		}
		done += (size_t)k;
	}
	if (fcntl(fd, F_ADD_SEALS,
		  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) <
	    0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* ---- reading --------------------------------------------------------- */

int ho_fail(struct ho_reader *r, const char *fmt, ...)
{
	va_list ap;

	/* The first reason is the one that matters. */
	if (r->error && r->error_len && !r->error[0]) {
		va_start(ap, fmt);
		vsnprintf(r->error, r->error_len, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

int ho_reader_open(struct ho_reader *r, const void *image, size_t len,
		   struct ho_fds *fds, char *err, size_t err_len)
{
	struct ho_header h;
	uint8_t digest[32];
	gsize n = sizeof(digest);
	GChecksum *sum;
	uint64_t body;

	*r = (struct ho_reader){ .fds = fds,
				 .error = err,
				 .error_len = err_len };
	if (err && err_len) {
		err[0] = '\0';
	}
	if (len < sizeof(h)) {
		return ho_fail(r, "%zu bytes: shorter than the header", len);
	}
	memcpy(&h, image, sizeof(h));
	if (memcmp(h.magic, HO_MAGIC, sizeof(HO_MAGIC)) != 0) {
		return ho_fail(r, "not a hand-over image (bad magic)");
	}
	if (le32toh(h.version) != HO_VERSION) {
		return ho_fail(r,
			       "image version %u; this program reads "
			       "version %u only",
			       le32toh(h.version), HO_VERSION);
	}
	body = le64toh(h.body_len);
	if (h.reserved || body > HO_MAX_BODY || body != len - sizeof(h)) {
		return ho_fail(r, "body of %llu bytes in an image of %zu bytes",
			       (unsigned long long)body, len);
	}
	if (fds && fds->n > HO_MAX_FDS) {
		return ho_fail(r, "%u fds", fds->n);
	}
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, (const guchar *)image + sizeof(h), body);
	g_checksum_get_digest(sum, digest, &n);
	g_checksum_free(sum);
	if (memcmp(digest, h.sha256, sizeof(digest)) != 0) {
		return ho_fail(r, "checksum mismatch: the image is damaged");
	}
	r->p = (const uint8_t *)image + sizeof(h);
	r->len = (size_t)body;
	return 0;
}

int ho_next(struct ho_reader *r, struct ho_item *it)
{
	struct ho_record h;
	size_t left = r->len - r->pos, need;

	if (left == 0) {
		return 0;
	}
	if (left < sizeof(h)) {
		return ho_fail(r, "%zu stray bytes at the end of a record",
			       left);
	}
	memcpy(&h, r->p + r->pos, sizeof(h));
	it->tag = le16toh(h.tag);
	it->len = le32toh(h.len);
	need = sizeof(h) + (size_t)it->len + pad8(it->len);
	if (h.reserved || it->len > left - sizeof(h) || need > left) {
		return ho_fail(r, "record 0x%x of %u bytes overruns its parent",
			       it->tag, it->len);
	}
	it->v = r->p + r->pos + sizeof(h);
	r->pos += need;
	return 1;
}

int ho_enter(const struct ho_reader *parent, const struct ho_item *it,
	     struct ho_reader *r)
{
	*r = *parent;
	if (!(it->tag & HO_NESTED)) {
		return ho_fail(r, "record 0x%x holds no records", it->tag);
	}
	if (parent->depth + 1 >= HO_MAX_DEPTH) {
		return ho_fail(r, "records nested too deep");
	}
	r->p = it->v;
	r->len = it->len;
	r->pos = 0;
	r->depth = parent->depth + 1;
	return 0;
}

int ho_get(struct ho_reader *r, const struct ho_item *it, void *out, size_t len)
{
	if (it->len != len) {
		return ho_fail(r, "record 0x%x: %u bytes, expected %zu",
			       it->tag, it->len, len);
	}
	memcpy(out, it->v, len);
	return 0;
}

int ho_get_u32(struct ho_reader *r, const struct ho_item *it, uint32_t *v)
{
	int rc = ho_get(r, it, v, sizeof(*v));

	*v = le32toh(*v);
	return rc;
}

int ho_get_str(struct ho_reader *r, const struct ho_item *it, char *buf,
	       size_t cap)
{
	if (it->len == 0 || it->len >= cap || memchr(it->v, '\0', it->len)) {
		return ho_fail(r, "record 0x%x: not a name of 1..%zu bytes",
			       it->tag, cap - 1);
	}
	memcpy(buf, it->v, it->len);
	buf[it->len] = '\0';
	return 0;
}

int ho_take_fd(struct ho_reader *r, const struct ho_item *it, int *fd)
{
	uint32_t i = 0;

	*fd = -1;
	if (ho_get_u32(r, it, &i)) {
		return ho_fail(r, "record 0x%x: not an fd index", it->tag);
	}
	if (!r->fds || i >= r->fds->n) {
		return ho_fail(r, "fd index %u of %u", i,
			       r->fds ? r->fds->n : 0);
	}
	if (r->fds->fd[i] < 0) {
		return ho_fail(r, "fd index %u taken twice", i);
	}
	*fd = r->fds->fd[i];
	r->fds->fd[i] = -1;
	return 0;
}

void ho_fds_close_rest(struct ho_fds *fds)
{
	unsigned int i;

	for (i = 0; fds && i < fds->n; i++) {
		if (fds->fd[i] >= 0) {
			close(fds->fd[i]);
			fds->fd[i] = -1;
		}
	}
}

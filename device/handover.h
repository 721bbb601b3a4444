/* SPDX-License-Identifier: MIT */
/*
 * Writing and reading hand-over images (include/handover_wire.h).
 *
 * The writer builds the body in memory and collects the fds that travel
 * with it; ho_writer_finish() adds the header. Write errors are sticky:
 * check the result of ho_writer_finish() only.
 *
 * The reader never trusts the image: ho_reader_open() checks the header,
 * the length and the checksum; ho_next() checks each record against what
 * is left of its parent; the typed getters check lengths and contents;
 * ho_take_fd() checks the index and that no fd is taken twice. Every
 * failure is -EBADMSG with a reason in the reader (ho_reader_error()).
 * Thread/loop: none; plain memory.
 */
#ifndef DEVICE_HANDOVER_H
#define DEVICE_HANDOVER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handover_wire.h"

struct ho_writer;

struct ho_writer *ho_writer_new(void);

/* Frees the buffer; the fds added are the caller's. NULL is a no-op. */
void ho_writer_free(struct ho_writer *w);

/* Open and close a record of a HO_NESTED tag. */
void ho_begin(struct ho_writer *w, uint16_t tag);
void ho_end(struct ho_writer *w);

void ho_put(struct ho_writer *w, uint16_t tag, const void *value, uint32_t len);
void ho_put_u32(struct ho_writer *w, uint16_t tag, uint32_t v);
void ho_put_str(struct ho_writer *w, uint16_t tag, const char *s);

/* A HO_FD record for @fd (-1 is refused), added to the fd table. */
void ho_put_fd(struct ho_writer *w, int fd);

/* The same with another tag (an fd record of a particular meaning). */
void ho_put_fd_as(struct ho_writer *w, uint16_t tag, int fd);

/*
 * ho_writer_finish() - header + body into *@image (g_byte_array_unref()
 * it). Returns 0, or the first error of the writes (-E2BIG, -EINVAL).
 */
int ho_writer_finish(struct ho_writer *w, GByteArray **image);

/* The fd table, in index order (valid until ho_writer_free()). */
const int *ho_writer_fds(const struct ho_writer *w, unsigned int *n);

/* @image in a sealed memfd (read-only for everyone), or -errno. */
int ho_image_memfd(const GByteArray *image);

/* The fd table of an image being read: fds[i] is index i. */
struct ho_fds {
	int *fd; /* -1 once taken */
	unsigned int n;
};

struct ho_reader {
	const uint8_t *p; /* body of this record (or of the image) */
	size_t len, pos;
	struct ho_fds *fds;
	unsigned int depth;
	char *error; /* shared by a reader and its children */
	size_t error_len;
};

struct ho_item {
	uint16_t tag;
	uint32_t len;
	const uint8_t *v;
};

/*
 * ho_reader_open() - check the header and checksum of @len bytes at
 * @image and set @r on its body. @err (@err_len bytes) receives reasons.
 * Returns 0 or -EBADMSG.
 */
int ho_reader_open(struct ho_reader *r, const void *image, size_t len,
		   struct ho_fds *fds, char *err, size_t err_len);

/* The next record: 1 with @it set, 0 at the end, -EBADMSG. */
int ho_next(struct ho_reader *r, struct ho_item *it);

/* @r on the records inside @it (a HO_NESTED tag). 0 or -EBADMSG. */
int ho_enter(const struct ho_reader *parent, const struct ho_item *it,
	     struct ho_reader *r);

/* Typed values: 0, or -EBADMSG if the length or content is wrong. */
int ho_get_u32(struct ho_reader *r, const struct ho_item *it, uint32_t *v);
int ho_get_str(struct ho_reader *r, const struct ho_item *it, char *buf,
	       size_t cap);
int ho_get(struct ho_reader *r, const struct ho_item *it, void *out,
	   size_t len);

/* The fd of an fd item (HO_FD or a tag written by ho_put_fd_as());
 * it is the caller's from now on. */
int ho_take_fd(struct ho_reader *r, const struct ho_item *it, int *fd);

/* Record a reason and return -EBADMSG. */
int ho_fail(struct ho_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Close every fd of @fds nobody took. */
void ho_fds_close_rest(struct ho_fds *fds);

#endif /* DEVICE_HANDOVER_H */

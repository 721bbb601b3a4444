/* SPDX-License-Identifier: MIT */
/*
 * The dirty log: a shared bitmap the front-end reads and clears while we
 * set bits in it. Bits are set with an atomic OR on their byte (the
 * front-end swaps whole words to zero as it collects them), and only
 * after a release fence, so a page's bit never becomes visible before
 * the write that dirtied it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirty_log.h"

struct dirty_log {
	uint8_t *bits;	 /* bitmap start, NULL when none */
	uint64_t size;	 /* bytes of bitmap */
	uint64_t offset; /* of the bitmap in the file */
	void *map_base;	 /* what mmap returned */
	size_t map_len;	 /* what was mapped */
	int fd;		 /* the bitmap's file, -1 */
	int call_fd;	 /* SET_LOG_FD eventfd, -1 */
	bool enabled;	 /* VHOST_F_LOG_ALL negotiated */
	bool kick_owed;	 /* pages marked since the last kick */
	uint64_t missed; /* pages outside the bitmap */
};

struct dirty_log *dirty_log_new(void)
{
	struct dirty_log *l = calloc(1, sizeof(*l));

	if (l) {
		l->fd = -1;
		l->call_fd = -1;
	}
	return l;
}

static void unmap_base(struct dirty_log *l)
{
	if (l->map_base) {
		munmap(l->map_base, l->map_len);
	}
	if (l->fd >= 0) {
		close(l->fd);
	}
	l->bits = NULL;
	l->map_base = NULL;
	l->map_len = 0;
	l->size = 0;
	l->offset = 0;
	l->fd = -1;
}

void dirty_log_free(struct dirty_log *l)
{
	if (!l) {
		return;
	}
	unmap_base(l);
	if (l->call_fd >= 0) {
		close(l->call_fd);
	}
	free(l);
}

int dirty_log_set_base(struct dirty_log *l, int fd, uint64_t size,
		       uint64_t offset)
{
	struct stat st;
	void *p;
	int seals;

	if (fd < 0 || size == 0 || size > DIRTY_LOG_MAX_BYTES ||
	    offset > DIRTY_LOG_MAX_BYTES) {
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0) {
		return -errno;
	}
	/* Only a file that can never shrink under the mapping (SIGBUS). */
	seals = fcntl(fd, F_GET_SEALS);
	if (!S_ISREG(st.st_mode) || seals < 0 || !(seals & F_SEAL_SHRINK)) {
		return -EPERM;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size < offset + size) {
		return -EFAULT;
	}
	p = mmap(NULL, (size_t)(offset + size), PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		return -errno;
	}
	unmap_base(l);
	l->map_base = p;
	l->map_len = (size_t)(offset + size);
	l->bits = (uint8_t *)p + offset;
	l->size = size;
	l->offset = offset;
	l->fd = fd;
	return 0;
}

void dirty_log_set_call_fd(struct dirty_log *l, int fd)
{
	if (l->call_fd >= 0) {
		close(l->call_fd);
	}
	l->call_fd = fd;
	l->kick_owed = false;
}

void dirty_log_set_enabled(struct dirty_log *l, bool on)
{
	l->enabled = on;
}

bool dirty_log_active(const struct dirty_log *l)
{
	return l && l->enabled && l->bits;
}

void dirty_log_mark(struct dirty_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;
	uint8_t mask;

	if (!dirty_log_active(l) || len == 0) {
		return;
	}
	/* The data before the bit that tells the front-end to copy it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	page = gpa / VHOST_LOG_PAGE;
	last = (gpa > UINT64_MAX - (len - 1) ? UINT64_MAX : gpa + (len - 1)) /
	       VHOST_LOG_PAGE;
	for (; page <= last; page++) {
		uint64_t byte = page / 8;

		if (byte >= l->size) {
			/* Every later page is past the end too. */
			l->missed += last - page + 1;
			break;
		}
		mask = (uint8_t)(1u << (page % 8));
		__atomic_fetch_or(&l->bits[byte], mask, __ATOMIC_RELAXED);
		l->kick_owed = true;
	}
}

void dirty_log_kick(struct dirty_log *l)
{
	if (!l || !l->kick_owed) {
		return;
	}
	l->kick_owed = false;
	if (l->call_fd >= 0) {
		(void)eventfd_write(l->call_fd, 1);
	}
}

uint64_t dirty_log_missed(const struct dirty_log *l)
{
	return l->missed;
}

int dirty_log_base(const struct dirty_log *l, uint64_t *size, uint64_t *offset)
{
	*size = l->size;
	*offset = l->offset;
	return l->fd;
}

int dirty_log_call_fd(const struct dirty_log *l)
{
	return l->call_fd;
}

/* SPDX-License-Identifier: MIT */
/*
 * The dirty log of a live migration (VHOST_F_LOG_ALL with
 * VHOST_USER_PROTOCOL_F_LOG_SHMFD): a bitmap the front-end shares as a
 * memfd, one bit per VHOST_LOG_PAGE bytes of guest-physical memory. While
 * logging is on, every byte the device writes to guest memory must have
 * its page's bit set, after the write, or the migration copies a stale
 * page. The virtqueue code (virtq.c) is the only caller of
 * dirty_log_mark(): every device write to guest memory goes through it.
 *
 * The front-end is hostile: the bitmap is bounds-checked like guest
 * memory (a page past its end is counted, never written), and only a
 * memfd sealed against shrinking is mapped, so it can never be truncated
 * under us (QEMU seals its log so).
 * Thread/loop: the daemon's main loop only.
 */
#ifndef DEVICE_DIRTY_LOG_H
#define DEVICE_DIRTY_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_user_wire.h"

/* Largest bitmap mapped: 1 GiB of bits covers 32 TiB of guest memory. */
#define DIRTY_LOG_MAX_BYTES (1ull << 30)

struct dirty_log;

/* An empty log (no bitmap, off), or NULL on allocation failure. */
struct dirty_log *dirty_log_new(void);

/* Unmap the bitmap, close its fd and the notification fd; NULL no-op. */
void dirty_log_free(struct dirty_log *l);

/*
 * dirty_log_set_base() - map @size bytes of bitmap at @offset of @fd
 * (SET_LOG_BASE), replacing any previous one (QEMU sends a bigger log
 * when guest memory grows). @fd becomes the log's on success only.
 * Returns 0; -EINVAL for a zero, oversized or overflowing range;
 * -EPERM for a file not sealed against shrinking; -EFAULT for a range
 * past the end of the file; -errno from fstat/fcntl/mmap. On error the
 * previous bitmap stays.
 */
int dirty_log_set_base(struct dirty_log *l, int fd, uint64_t size,
		       uint64_t offset);

/*
 * dirty_log_set_call_fd() - the eventfd signalled after pages were
 * marked (SET_LOG_FD); it becomes the log's, replacing (closing) the
 * previous one. -1 drops it.
 */
void dirty_log_set_call_fd(struct dirty_log *l, int fd);

/* VHOST_F_LOG_ALL negotiated (SET_FEATURES) or not. */
void dirty_log_set_enabled(struct dirty_log *l, bool on);

/* True if writes are being logged: enabled and a bitmap is mapped. */
bool dirty_log_active(const struct dirty_log *l);

/*
 * dirty_log_mark() - set the bit of every page [@gpa, @gpa + @len)
 * touches, atomically (the front-end clears bits concurrently), after a
 * release fence so the bit is never seen before the data. No-op when
 * not active or @len is 0; a page beyond the bitmap is counted in
 * dirty_log_missed() instead. NULL @l is allowed (no log).
 */
void dirty_log_mark(struct dirty_log *l, uint64_t gpa, uint64_t len);

/*
 * dirty_log_kick() - signal the SET_LOG_FD eventfd once if pages were
 * marked since the last kick (one per batch of writes, not per write).
 */
void dirty_log_kick(struct dirty_log *l);

/* Pages that fell outside the bitmap (a front-end bug or attack). */
uint64_t dirty_log_missed(const struct dirty_log *l);

/*
 * For a live upgrade: the bitmap's fd, size and offset as SET_LOG_BASE
 * gave them (fd -1 when none), and the notification fd (-1). The fds
 * stay the log's.
 */
int dirty_log_base(const struct dirty_log *l, uint64_t *size, uint64_t *offset);
int dirty_log_call_fd(const struct dirty_log *l);

/*
 * dirty_log_page_byte() - the byte index in the bitmap of the page of
 * @gpa, and in *@mask its bit (the bitmap math, exposed for the tests).
 */
static inline uint64_t dirty_log_page_byte(uint64_t gpa, uint8_t *mask)
{
	uint64_t page = gpa / VHOST_LOG_PAGE;

	*mask = (uint8_t)(1u << (page % 8));
	return page / 8;
}

#endif /* DEVICE_DIRTY_LOG_H */

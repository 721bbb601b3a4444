/* SPDX-License-Identifier: MIT */
/*
 * Guest memory as the front-end shares it: up to VHOST_USER_MAX_RAM_SLOTS
 * regions, each an fd mapped with its mmap_offset. Two address spaces are
 * translated, never mixed:
 *  - QEMU user virtual addresses (ring addresses in SET_VRING_ADDR),
 *  - guest-physical addresses (descriptor addresses inside the rings).
 *
 * Everything here is fed by a hostile front-end or guest: every range is
 * checked for overflow and must lie inside mapped memory.
 * Thread/loop: the daemon's main loop only.
 */
#ifndef DEVICE_GUEST_MEM_H
#define DEVICE_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vhost_user_wire.h"

struct guest_mem;

/* Returns an empty table (no regions), or NULL on allocation failure. */
struct guest_mem *guest_mem_new(void);

/* Unmaps every region; NULL is a no-op. */
void guest_mem_free(struct guest_mem *m);

/*
 * guest_mem_set_table() - replace all regions (SET_MEM_TABLE).
 * @regions: @n region descriptions, @fds: one fd per region (not closed
 *           here: the caller owns and closes them).
 * Rejects with -EINVAL, leaving the old table in place: n == 0 or n >
 * VHOST_USER_MAX_RAM_SLOTS, zero-sized regions, ranges that overflow,
 * regions overlapping in guest-physical or in user address space, fds < 0,
 * a region past the end of its (regular) file. Every fd is mapped from
 * offset 0 for mmap_offset + memory_size bytes; several regions may share
 * one fd. On success the old regions are unmapped and the generation
 * bumps (every queue must be virtq_map()ped again).
 * Returns 0, -EINVAL, or -errno from fstat/mmap (old table kept).
 */
int guest_mem_set_table(struct guest_mem *m,
			const struct vhost_user_mem_region *regions,
			const int *fds, unsigned int n);

/*
 * guest_mem_poisoned() - true if the front-end shrank a file behind one
 * of our mappings: the access that hit it got zeros (no SIGBUS death) and
 * nothing read from this memory can be trusted until the next table.
 */
bool guest_mem_poisoned(const struct guest_mem *m);

/* Number of regions mapped now. */
unsigned int guest_mem_nregions(const struct guest_mem *m);

/*
 * guest_mem_region() - region @i as SET_MEM_TABLE described it, in @out;
 * returns our fd of its file (kept for a live upgrade; still ours), or
 * -ENOENT past the last region.
 */
int guest_mem_region(const struct guest_mem *m, unsigned int i,
		     struct vhost_user_mem_region *out);

/* Bumps each time the table changes: ring pointers must be re-resolved. */
uint64_t guest_mem_generation(const struct guest_mem *m);

/*
 * guest_mem_qva_to_ptr() - front-end user address range to our pointer.
 * The whole range [qva, qva + len) must lie inside one region.
 * Returns NULL otherwise, and for len == 0.
 */
void *guest_mem_qva_to_ptr(const struct guest_mem *m, uint64_t qva,
			   uint64_t len);

/*
 * guest_mem_gpa_to_ptr() - guest-physical range to our pointer, when the
 * whole range lies inside one region. Returns NULL otherwise, and for
 * len == 0.
 */
void *guest_mem_gpa_to_ptr(const struct guest_mem *m, uint64_t gpa,
			   uint64_t len);

/*
 * guest_mem_gpa_to_iov() - guest-physical range to iovecs; the range may
 * span adjacent regions. Fills at most @max entries of @iov.
 * Returns the number of entries used, -EFAULT if any byte is unmapped or
 * the range overflows, -ENOBUFS if more than @max entries are needed.
 */
int guest_mem_gpa_to_iov(const struct guest_mem *m, uint64_t gpa, uint64_t len,
			 struct iovec *iov, unsigned int max);

#endif /* DEVICE_GUEST_MEM_H */

/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the split-virtqueue walker over arbitrary guest
 * memory. The input becomes guest memory (two regions of one memfd, the
 * second one non-contiguous in GPA space); its first bytes choose the
 * queue size, ring features and the starting index. The walker must end
 * every pop sequence quickly, with elements inside guest memory.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_mem.h"
#include "virtq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION 0x4000u
#define GPA1 0x100000ull
#define QVA0 0x7f0000000000ull

static struct guest_mem *mem;
static uint8_t *view; /* our own mapping of the memfd, 2 * REGION */

static void setup(void)
{
	int fd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	struct vhost_user_mem_region r[2] = {
		{ .guest_phys_addr = 0,
		  .memory_size = REGION,
		  .userspace_addr = QVA0,
		  .mmap_offset = 0 },
		{ .guest_phys_addr = GPA1,
		  .memory_size = REGION,
		  .userspace_addr = QVA0 + REGION,
		  .mmap_offset = REGION },
	};
	int fds[2] = { fd, fd };

	assert(fd >= 0 && ftruncate(fd, 2 * REGION) == 0);
	view = mmap(NULL, 2 * REGION, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    0);
	assert(view != MAP_FAILED);
	mem = guest_mem_new();
	assert(mem && guest_mem_set_table(mem, r, fds, 2) == 0);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_elem e;
	struct virtq vq;
	unsigned int num;
	int i, rc;

	if (!mem) {
		setup();
	}
	if (size < 4) {
		return 0;
	}
	num = 1u << (data[0] % 8); /* 1 .. 128: rings fit in the region */
	memset(view, 0, 2 * REGION);
	memcpy(view, data + 4, size - 4 < 2 * REGION ? size - 4 : 2 * REGION);

	virtq_init(&vq);
	vq.event_idx = data[1] & 1;
	vq.indirect = data[1] & 2;
	vq.notify_on_empty = data[1] & 4;
	vq.last_avail_idx = (uint16_t)(data[2] | data[3] << 8);
	vq.used_idx = vq.last_avail_idx;
	assert(virtq_set_num(&vq, num) == 0);
	/* desc at 0, avail at 0x1000, used at the start of region 1 */
	assert(virtq_set_addr(&vq, QVA0, QVA0 + REGION, QVA0 + 0x1000) == 0);
	vq.enabled = vq.started = true;
	if (virtq_map(&vq, mem) != 0) {
		return 0;
	}
	for (i = 0; i < 2 * 65536; i++) {
		rc = virtq_pop(&vq, &e);
		if (rc <= 0) {
			break;
		}
		assert(e.out_num + e.in_num >= 1);
		virtq_push(&vq, &e, (uint32_t)(e.in_len > 8 ? 8 : e.in_len));
	}
	assert(i <= (int)num);
	virtq_notify(&vq);
	(void)virtq_enable_notification(&vq);
	virtq_reset(&vq);
	return 0;
}

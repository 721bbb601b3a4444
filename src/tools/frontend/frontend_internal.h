/* SPDX-License-Identifier: MIT */
/*
 * Private to frontend*.c: the state behind struct vuf and the guest
 * memory layout.
 */
#ifndef FRONTEND_INTERNAL_H
#define FRONTEND_INTERNAL_H

#include <stdarg.h>

#include "frontend.h"

#define VUF_GPA_HIGH 0x100000000ull
#define VUF_MAX_REGIONS 4

/*
 * Where things live. Low region (GPA 0): avail rings, request slots,
 * indirect tables, scratch. High region (GPA 4 GiB): descriptor tables,
 * used rings, response slots. So every ring part and buffer kind goes
 * through a different translation than its neighbours.
 */
#define VUF_LOW_AVAIL(q) (0x1000ull + (q)*0x1000ull)
#define VUF_LOW_REQ(q) (0x10000ull + (q)*0x20000ull)
#define VUF_LOW_INDIRECT(q) (0x60000ull + (q)*0x40000ull)
#define VUF_LOW_SCRATCH 0x100000ull
#define VUF_SCRATCH_SIZE 0x100000ull
#define VUF_HIGH_DESC(q) (VUF_GPA_HIGH + (q)*0x4000ull)
#define VUF_HIGH_USED(q) (VUF_GPA_HIGH + 0x8000ull + (q)*0x4000ull)
#define VUF_HIGH_RESP(q) (VUF_GPA_HIGH + 0x10000ull + (q)*0x20000ull)

#define VUF_MEM_MIN (4ull << 20)

struct vuf_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t qva;	   /* fake QEMU user address */
	uint64_t file_off; /* == mmap_offset */
};

struct vuf_slot {
	bool inflight;
	bool cross;	/* uses the region-boundary buffers */
	uint16_t ndesc; /* descriptors taken from the free list */
	uint32_t resp_cap;
	uint64_t resp_gpa; /* where the response room starts */
	uint64_t cookie;
};

struct vuf_queue {
	bool started;
	int kick_fd, call_fd, masked_fd, err_fd;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;  /* next index to publish */
	uint16_t kicked_idx; /* avail idx at the last kick decision */
	uint16_t last_used;
	uint16_t base; /* SET_VRING_BASE value (GET_VRING_BASE's answer) */
	uint16_t free_head;
	unsigned int num_free;
	unsigned int inflight;
	bool interrupts;
	uint16_t next[VIRTQ_SIZE_MAX]; /* free-list links (our shadow) */
	struct vuf_slot slots[VIRTQ_SIZE_MAX];
	struct vuf_stats stats;
};

struct vuf {
	struct vuf_opts opts;
	int sock;
	int mem_fd;
	uint8_t *mem; /* our mapping of the whole memfd */
	size_t mem_size;
	unsigned int nregions;
	struct vuf_region regions[VUF_MAX_REGIONS];
	uint64_t boundary[2];
	bool cross_busy;

	uint64_t features;	 /* offered */
	uint64_t acked;		 /* sent in SET_FEATURES */
	uint64_t protocol;	 /* offered protocol features */
	uint64_t protocol_acked; /* sent in SET_PROTOCOL_FEATURES */
	unsigned int queue_num;
	bool initialised;
	bool running;
	bool stopped;	  /* vuf_reset() done: vuf_resume() allowed */
	uint64_t rtc_seq; /* cookies of vuf_rtc_call() */

	struct vuf_queue q[VUF_MAX_QUEUES];
	char err[256];

	/* Live migration: the dirty log shared with the back-end. */
	int log_fd;	 /* sealed memfd, -1 */
	uint64_t *log;	 /* its mapping */
	size_t log_size; /* bytes */
	bool logging;	 /* LOG_ALL and VHOST_VRING_F_LOG sent */
};

/* Record an error message; returns @ret for tail calls. */
int vuf_fail(struct vuf *v, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * vuf_request() - send a message that QEMU sends with NEED_REPLY when
 * REPLY_ACK is negotiated (@need_reply); then wait for the u64 0 ack,
 * or without REPLY_ACK do QEMU's GET_FEATURES barrier instead.
 */
int vuf_request(struct vuf *v, uint32_t request, const void *payload,
		uint32_t size, const int *fds, unsigned int nfds,
		bool need_reply);

/* SET_VRING_KICK/CALL/ERR of queue @q with @fd. */
int vuf_vring_fd(struct vuf *v, uint32_t request, unsigned int q, int fd);

/* A vring_state message {q, num}. */
int vuf_vring_state(struct vuf *v, uint32_t request, unsigned int q,
		    unsigned int num, bool need_reply);

/* Unmap and close the dirty log (frontend_migrate.c). */
void vuf_log_free(struct vuf *v);

/* Ring helpers shared between frontend.c and frontend_ring.c. */
void vuf_ring_setup(struct vuf *v, unsigned int q);
uint64_t vuf_ring_desc_gpa(const struct vuf *v, unsigned int q);
uint64_t vuf_ring_avail_gpa(const struct vuf *v, unsigned int q);
uint64_t vuf_ring_used_gpa(const struct vuf *v, unsigned int q);

#endif /* FRONTEND_INTERNAL_H */

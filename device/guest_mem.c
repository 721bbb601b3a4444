/* SPDX-License-Identifier: MIT */
/*
 * Guest memory regions shared by the front-end (SET_MEM_TABLE).
 *
 * Each region is mapped from offset 0 of its fd for mmap_offset +
 * memory_size bytes and used from base + mmap_offset: the offset need not
 * suit mmap (hugetlbfs wants huge-page alignment), and several regions
 * may share one fd. Lookups scan at most VHOST_USER_MAX_RAM_SLOTS
 * entries and never allocate.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "guest_mem.h"

struct guest_region {
	uint64_t gpa;	      /* guest-physical start */
	uint64_t qva;	      /* front-end user address of the start */
	uint64_t size;	      /* bytes, > 0; gpa + size and qva + size fit */
	uint8_t *host;	      /* our address of the start */
	void *map_base;	      /* what mmap returned */
	size_t map_len;	      /* what was mapped */
	uint64_t mmap_offset; /* of the start in the file */
	int fd;		      /* our copy of the file, for a hand-over */
};

struct guest_mem {
	unsigned int n;
	uint64_t generation;
	volatile sig_atomic_t poisoned; /* a mapping lost its backing */
	struct guest_region r[VHOST_USER_MAX_RAM_SLOTS];
};

/*
 * A front-end can shrink the file behind a mapping (an unsealed memfd, a
 * file backend): our next access then raises SIGBUS, which by default
 * kills the daemon and every VM with it. The handler below finds the
 * mapping the fault hit, puts zero pages over it so the access completes,
 * and marks that guest memory poisoned; the queues using it then break.
 * The registry is only changed on the main thread outside guest-memory
 * accesses, the only place the handler can run, so it needs no lock.
 */
#define SIGBUS_SLOTS ((size_t)VHOST_USER_MAX_RAM_SLOTS * 2048)

struct sigbus_slot {
	void *base;	 /* what mmap returned */
	uintptr_t start; /* (uintptr_t)base, 0 = free */
	size_t len;
	struct guest_mem *owner;
};

static struct sigbus_slot sigbus_slots[SIGBUS_SLOTS];
static size_t sigbus_used; /* high-water mark of slots in use */

static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	size_t i;

	for (i = 0; i < sigbus_used; i++) {
		struct sigbus_slot *s = &sigbus_slots[i];

		if (s->start && a >= s->start && a - s->start < s->len) {
			if (mmap(s->base, s->len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				 0) == MAP_FAILED) {
				break;
			}
			s->owner->poisoned = 1;
			return;
		}
	}
	/* Not guest memory: our own bug. Die as the default would. */
	signal(SIGBUS, SIG_DFL);
}

static void sigbus_install(void)
{
	static bool installed;
	struct sigaction sa = { 0 };

	if (installed) {
		return;
	}
	sa.sa_sigaction = sigbus_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) == 0) {
		installed = true;
	}
}

static int sigbus_register(struct guest_mem *m, void *base, size_t len)
{
	size_t i;

	for (i = 0; i < SIGBUS_SLOTS; i++) {
		if (!sigbus_slots[i].start) {
			sigbus_slots[i].base = base;
			sigbus_slots[i].len = len;
			sigbus_slots[i].owner = m;
			__atomic_store_n(&sigbus_slots[i].start,
					 (uintptr_t)base, __ATOMIC_RELEASE);
			if (i >= sigbus_used) {
				sigbus_used = i + 1;
			}
			return 0;
		}
	}
	return -ENOSPC;
}

static void sigbus_unregister(void *base)
{
	size_t i;

	for (i = 0; i < sigbus_used; i++) {
		if (sigbus_slots[i].start == (uintptr_t)base) {
			__atomic_store_n(&sigbus_slots[i].start, 0,
					 __ATOMIC_RELEASE);
			return;
		}
	}
}

struct guest_mem *guest_mem_new(void)
{
	sigbus_install();
	return calloc(1, sizeof(struct guest_mem));
}

static void unmap_regions(struct guest_region *r, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (r[i].map_base) {
			sigbus_unregister(r[i].map_base);
			munmap(r[i].map_base, r[i].map_len);
		}
		if (r[i].fd >= 0) {
			close(r[i].fd);
		}
	}
}

bool guest_mem_poisoned(const struct guest_mem *m)
{
	return m->poisoned;
}

void guest_mem_free(struct guest_mem *m)
{
	if (!m) {
		return;
	}
	unmap_regions(m->r, m->n);
	free(m);
}

/* [a, a + alen) and [b, b + blen) intersect; both ends known to fit. */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int check_table(const struct vhost_user_mem_region *regions,
		       const int *fds, unsigned int n)
{
	unsigned int i, j;

	if (n == 0 || n > VHOST_USER_MAX_RAM_SLOTS) {
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		const struct vhost_user_mem_region *a = &regions[i];

		if (fds[i] < 0 || a->memory_size == 0) {
			return -EINVAL;
		}
		if (a->guest_phys_addr > UINT64_MAX - a->memory_size ||
		    a->userspace_addr > UINT64_MAX - a->memory_size ||
		    a->mmap_offset > UINT64_MAX - a->memory_size ||
		    a->mmap_offset + a->memory_size > SIZE_MAX ||
		    a->mmap_offset + a->memory_size > (uint64_t)INT64_MAX) {
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			const struct vhost_user_mem_region *b = &regions[j];

			if (ranges_overlap(a->guest_phys_addr, a->memory_size,
					   b->guest_phys_addr,
					   b->memory_size) ||
			    ranges_overlap(a->userspace_addr, a->memory_size,
					   b->userspace_addr, b->memory_size)) {
				return -EINVAL;
			}
		}
	}
	return 0;
}

/*
 * A mapping past the end of a regular file (memfd, hugetlbfs, tmpfs)
 * would raise SIGBUS on first touch: refuse it up front. Other fd kinds
 * are left to mmap.
 */
static int check_fd_size(int fd, uint64_t end)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		return -errno;
	}
	if (S_ISREG(st.st_mode) &&
	    (st.st_size < 0 || (uint64_t)st.st_size < end)) {
		return -EINVAL;
	}
	return 0;
}

int guest_mem_set_table(struct guest_mem *m,
			const struct vhost_user_mem_region *regions,
			const int *fds, unsigned int n)
{
	struct guest_region nr[VHOST_USER_MAX_RAM_SLOTS];
	unsigned int i;
	int rc;

	rc = check_table(regions, fds, n);
	if (rc < 0) {
		return rc;
	}
	memset(nr, 0, sizeof(nr));
	for (i = 0; i < n; i++) {
		nr[i].fd = -1;
	}
	for (i = 0; i < n; i++) {
		const struct vhost_user_mem_region *a = &regions[i];
		size_t len = (size_t)(a->mmap_offset + a->memory_size);
		void *p;

		rc = check_fd_size(fds[i], a->mmap_offset + a->memory_size);
		if (rc < 0) {
			goto fail;
		}
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE, fds[i], 0);
		if (p == MAP_FAILED) {
			rc = -errno;
			goto fail;
		}
		rc = sigbus_register(m, p, len);
		if (rc < 0) {
			munmap(p, len);
			goto fail;
		}
		nr[i].map_base = p;
		nr[i].map_len = len;
		/* Kept so the next process can map it (live upgrade). */
		nr[i].fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (nr[i].fd < 0) {
			rc = -errno;
			i++; /* unmap this one too */
			goto fail;
		}
		nr[i].gpa = a->guest_phys_addr;
		nr[i].qva = a->userspace_addr;
		nr[i].size = a->memory_size;
		nr[i].host = (uint8_t *)p + a->mmap_offset;
		nr[i].mmap_offset = a->mmap_offset;
	}

	unmap_regions(m->r, m->n);
	memcpy(m->r, nr, sizeof(nr));
	m->n = n;
	m->generation++;
	m->poisoned = 0;
	return 0;

fail:
	unmap_regions(nr, i);
	return rc;
}

unsigned int guest_mem_nregions(const struct guest_mem *m)
{
	return m->n;
}

int guest_mem_region(const struct guest_mem *m, unsigned int i,
		     struct vhost_user_mem_region *out)
{
	if (i >= m->n) {
		return -ENOENT;
	}
	*out = (struct vhost_user_mem_region){
		.guest_phys_addr = m->r[i].gpa,
		.memory_size = m->r[i].size,
		.userspace_addr = m->r[i].qva,
		.mmap_offset = m->r[i].mmap_offset,
	};
	return m->r[i].fd;
}

uint64_t guest_mem_generation(const struct guest_mem *m)
{
	return m->generation;
}

void *guest_mem_qva_to_ptr(const struct guest_mem *m, uint64_t qva,
			   uint64_t len)
{
	unsigned int i;

	if (len == 0) {
		return NULL;
	}
	for (i = 0; i < m->n; i++) {
		const struct guest_region *r = &m->r[i];
		uint64_t off;

		if (qva < r->qva) {
			continue;
		}
		off = qva - r->qva;
		if (off < r->size && len <= r->size - off) {
			return r->host + off;
		}
	}
	return NULL;
}

static const struct guest_region *find_gpa(const struct guest_mem *m,
					   uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < m->n; i++) {
		const struct guest_region *r = &m->r[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size) {
			return r;
		}
	}
	return NULL;
}

void *guest_mem_gpa_to_ptr(const struct guest_mem *m, uint64_t gpa,
			   uint64_t len)
{
	const struct guest_region *r;
	uint64_t off;

	if (len == 0) {
		return NULL;
	}
	r = find_gpa(m, gpa);
	if (!r) {
		return NULL;
	}
	off = gpa - r->gpa;
	if (len > r->size - off) {
		return NULL;
	}
	return r->host + off;
}

int guest_mem_gpa_to_iov(const struct guest_mem *m, uint64_t gpa, uint64_t len,
			 struct iovec *iov, unsigned int max)
{
	unsigned int used = 0;

	if (len > UINT64_MAX - gpa) {
		return -EFAULT;
	}
	/* Every turn consumes at least one byte and one entry: bounded. */
	while (len > 0) {
		const struct guest_region *r = find_gpa(m, gpa);
		uint64_t off, chunk;

		if (!r) {
			return -EFAULT;
		}
		if (used == max) {
			return -ENOBUFS;
		}
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len) {
			chunk = len;
		}
		iov[used].iov_base = r->host + off;
		iov[used].iov_len = (size_t)chunk;
		used++;
		gpa += chunk;
		len -= chunk;
	}
	return (int)used;
}

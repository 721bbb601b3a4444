/* SPDX-License-Identifier: MIT */
/*
 * guest_mem: table validation (every rejection keeps the old table),
 * translation of both address spaces at region edges and across
 * adjacent regions, regions sharing one memfd at unaligned offsets.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_mem.h"

#define R 0x10000ull	  /* region size */
#define G2 0x100000000ull /* gpa of the third region */
#define QVA0 0x7f0000000000ull
#define QVA1 0x7f0000100000ull
#define QVA2 0x7f0000200000ull

/* gpa, size, front-end user address, offset in the fd */
#define REGION(g, s, q, o)                                                     \
	{                                                                      \
		.guest_phys_addr = (g), .memory_size = (s),                    \
		.userspace_addr = (q), .mmap_offset = (o),                     \
	}
#define FILE_SIZE (4 * R)

static int memfd = -1;
static uint8_t *view; /* our own mapping of the whole memfd */
static struct guest_mem *mem;

/* r0 and r1 adjacent in GPA, not in QVA; r2 above 4G; one memfd. */
static const struct vhost_user_mem_region base3[3] = {
	REGION(0, R, QVA0, 0),
	REGION(R, R, QVA1, R),
	REGION(G2, R, QVA2, 2 * R),
};

static int fds8[8];

static void setup(void)
{
	unsigned int i;

	memfd = memfd_create("test-guest-mem", MFD_CLOEXEC);
	cr_assert(memfd >= 0);
	cr_assert_eq(ftruncate(memfd, FILE_SIZE), 0);
	view = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
		    0);
	cr_assert(view != MAP_FAILED);
	for (i = 0; i < 8; i++) {
		fds8[i] = memfd;
	}
	mem = guest_mem_new();
	cr_assert_not_null(mem);
	cr_assert_eq(guest_mem_nregions(mem), 0);
	cr_assert_eq(guest_mem_set_table(mem, base3, fds8, 3), 0);
	cr_assert_eq(guest_mem_nregions(mem), 3);
	cr_assert_eq(guest_mem_generation(mem), 1);
}

static void teardown(void)
{
	guest_mem_free(mem);
	munmap(view, FILE_SIZE);
	close(memfd);
}

TestSuite(guest_mem, .init = setup, .fini = teardown);

/* The old table answers exactly as before. */
static void assert_base_table(void)
{
	cr_assert_eq(guest_mem_nregions(mem), 3);
	cr_assert_eq(guest_mem_generation(mem), 1);
	view[2 * R + 5] = 0xa5;
	cr_assert_eq(*(uint8_t *)guest_mem_qva_to_ptr(mem, QVA2 + 5, 1), 0xa5);
	cr_assert_eq(*(uint8_t *)guest_mem_gpa_to_ptr(mem, G2 + 5, 1), 0xa5);
}

static void expect_reject(const struct vhost_user_mem_region *r, const int *fds,
			  unsigned int n, int err)
{
	cr_assert_eq(guest_mem_set_table(mem, r, fds, n), err,
		     "table of %u expected %d", n, err);
	assert_base_table();
}

Test(guest_mem, free_null)
{
	guest_mem_free(NULL);
}

Test(guest_mem, reject_count)
{
	struct vhost_user_mem_region r[9];
	int fds[9];
	unsigned int i;

	for (i = 0; i < 9; i++) {
		r[i] = (struct vhost_user_mem_region)REGION(
			i * 0x1000ull, 0x1000, QVA0 + i * 0x1000ull,
			i * 0x1000ull);
		fds[i] = memfd;
	}
	expect_reject(r, fds, 0, -EINVAL);
	expect_reject(r, fds, 9, -EINVAL);
	/* eight is the maximum and fine */
	cr_assert_eq(guest_mem_set_table(mem, r, fds, 8), 0);
	cr_assert_eq(guest_mem_nregions(mem), 8);
}

Test(guest_mem, reject_zero_size)
{
	struct vhost_user_mem_region r[3];

	memcpy(r, base3, sizeof(r));
	r[1].memory_size = 0;
	expect_reject(r, fds8, 3, -EINVAL);
}

Test(guest_mem, reject_bad_fd)
{
	int fds[3] = { memfd, -1, memfd };

	expect_reject(base3, fds, 3, -EINVAL);
}

Test(guest_mem, reject_overflow)
{
	struct vhost_user_mem_region r[1];

	r[0] = base3[0];
	r[0].guest_phys_addr = UINT64_MAX - R + 2;
	expect_reject(r, fds8, 1, -EINVAL);
	r[0] = base3[0];
	r[0].userspace_addr = UINT64_MAX - 0x100;
	expect_reject(r, fds8, 1, -EINVAL);
	r[0] = base3[0];
	r[0].mmap_offset = UINT64_MAX - 0x100;
	expect_reject(r, fds8, 1, -EINVAL);
	r[0] = base3[0];
	r[0].memory_size = UINT64_MAX;
	expect_reject(r, fds8, 1, -EINVAL);
	/* sums that fit but do not fit mmap */
	r[0] = base3[0];
	r[0].mmap_offset = 1ull << 63;
	expect_reject(r, fds8, 1, -EINVAL);
}

Test(guest_mem, reject_gpa_overlap)
{
	struct vhost_user_mem_region r[3];

	memcpy(r, base3, sizeof(r));
	r[1].guest_phys_addr = R - 1; /* last byte of r0 */
	expect_reject(r, fds8, 3, -EINVAL);
	memcpy(r, base3, sizeof(r));
	r[2].guest_phys_addr = 0x100; /* inside r0 */
	r[2].memory_size = 0x10;
	expect_reject(r, fds8, 3, -EINVAL);
	memcpy(r, base3, sizeof(r));
	r[0].guest_phys_addr = G2 - 0x1000; /* r0 covers start of r2 */
	r[0].memory_size = 0x2000;
	expect_reject(r, fds8, 3, -EINVAL);
}

Test(guest_mem, reject_qva_overlap)
{
	struct vhost_user_mem_region r[3];

	memcpy(r, base3, sizeof(r));
	r[2].userspace_addr = QVA1 + R - 1;
	expect_reject(r, fds8, 3, -EINVAL);
	memcpy(r, base3, sizeof(r));
	r[0].userspace_addr = QVA2 - 0x10; /* straddles r2's start */
	expect_reject(r, fds8, 3, -EINVAL);
}

Test(guest_mem, reject_beyond_file)
{
	struct vhost_user_mem_region r[3];

	memcpy(r, base3, sizeof(r));
	r[2].mmap_offset = FILE_SIZE - R + 1;
	expect_reject(r, fds8, 3, -EINVAL);
}

Test(guest_mem, reject_unmappable_fd)
{
	int p[2];
	int fds[3];

	cr_assert_eq(pipe(p), 0);
	/* the bad fd is last: the first two get mapped, then undone */
	fds[0] = memfd;
	fds[1] = memfd;
	fds[2] = p[0];
	cr_assert_lt(guest_mem_set_table(mem, base3, fds, 3), 0);
	assert_base_table();
	close(p[0]);
	close(p[1]);
}

Test(guest_mem, adjacent_and_touching_ok)
{
	struct vhost_user_mem_region r[2] = {
		REGION(0x1000, 0x1000, QVA0, 0),
		/* touches r0 in both spaces, odd offset */
		REGION(0x2000, 0x1000, QVA0 + 0x1000, 0x1003),
	};
	uint8_t *p;

	cr_assert_eq(guest_mem_set_table(mem, r, fds8, 2), 0);
	cr_assert_eq(guest_mem_generation(mem), 2);
	view[0x1003] = 0x42;
	p = guest_mem_gpa_to_ptr(mem, 0x2000, 0x1000);
	cr_assert_not_null(p);
	cr_assert_eq(p[0], 0x42);
	p[0xfff] = 0x17;
	cr_assert_eq(view[0x1003 + 0xfff], 0x17);
	/* the qva of r1 start is the same byte */
	cr_assert_eq(*(uint8_t *)guest_mem_qva_to_ptr(mem, QVA0 + 0x1000, 1),
		     0x42);
	/* a qva range across the touching regions is not one region */
	cr_assert_null(guest_mem_qva_to_ptr(mem, QVA0 + 0xfff, 2));
}

Test(guest_mem, qva_edges)
{
	uint8_t *p;

	view[R + 0] = 1;
	view[R + R - 1] = 2;
	p = guest_mem_qva_to_ptr(mem, QVA1, R);
	cr_assert_not_null(p);
	cr_assert_eq(p[0], 1);
	cr_assert_eq(p[R - 1], 2);
	p = guest_mem_qva_to_ptr(mem, QVA1 + R - 1, 1);
	cr_assert_not_null(p);
	cr_assert_eq(*p, 2);
	cr_assert_null(guest_mem_qva_to_ptr(mem, QVA1 + R - 1, 2));
	cr_assert_null(guest_mem_qva_to_ptr(mem, QVA1 + R, 1));
	cr_assert_null(guest_mem_qva_to_ptr(mem, QVA1 - 1, 1));
	cr_assert_null(guest_mem_qva_to_ptr(mem, QVA1 - 1, 2));
	cr_assert_null(guest_mem_qva_to_ptr(mem, QVA1, R + 1));
	cr_assert_null(guest_mem_qva_to_ptr(mem, QVA1, 0));
	cr_assert_null(guest_mem_qva_to_ptr(mem, QVA1 + 8, UINT64_MAX));
	cr_assert_null(guest_mem_qva_to_ptr(mem, UINT64_MAX, 1));
	cr_assert_null(guest_mem_qva_to_ptr(mem, 0, 1));
}

Test(guest_mem, gpa_edges)
{
	uint8_t *p;

	view[R - 1] = 3;
	view[R] = 4;
	view[2 * R] = 5;
	view[3 * R - 1] = 6;
	p = guest_mem_gpa_to_ptr(mem, R - 1, 1);
	cr_assert_not_null(p);
	cr_assert_eq(*p, 3);
	p = guest_mem_gpa_to_ptr(mem, R, 1);
	cr_assert_not_null(p);
	cr_assert_eq(*p, 4);
	/* adjacent in GPA but two regions: not one pointer */
	cr_assert_null(guest_mem_gpa_to_ptr(mem, R - 1, 2));
	p = guest_mem_gpa_to_ptr(mem, G2, R);
	cr_assert_not_null(p);
	cr_assert_eq(p[0], 5);
	cr_assert_eq(p[R - 1], 6);
	cr_assert_null(guest_mem_gpa_to_ptr(mem, G2, R + 1));
	cr_assert_null(guest_mem_gpa_to_ptr(mem, G2 - 1, 1));
	cr_assert_null(guest_mem_gpa_to_ptr(mem, 2 * R, 1)); /* the gap */
	cr_assert_null(guest_mem_gpa_to_ptr(mem, G2 + R, 1));
	cr_assert_null(guest_mem_gpa_to_ptr(mem, 0, 0));
	cr_assert_null(guest_mem_gpa_to_ptr(mem, 8, UINT64_MAX));
	cr_assert_null(guest_mem_gpa_to_ptr(mem, UINT64_MAX, 1));
}

Test(guest_mem, iov_single)
{
	struct iovec iov[4];

	view[0x100] = 9;
	cr_assert_eq(guest_mem_gpa_to_iov(mem, 0x100, 0x10, iov, 4), 1);
	cr_assert_eq(iov[0].iov_len, 0x10);
	cr_assert_eq(*(uint8_t *)iov[0].iov_base, 9);
	cr_assert_eq(guest_mem_gpa_to_iov(mem, 0x100, 0, iov, 4), 0);
	cr_assert_eq(guest_mem_gpa_to_iov(mem, G2, R, iov, 1), 1);
	cr_assert_eq(iov[0].iov_len, R);
}

Test(guest_mem, iov_across_regions)
{
	struct iovec iov[4];
	unsigned int i;

	for (i = 0; i < 16; i++) {
		view[R - 8 + i] = (uint8_t)i;
	}
	cr_assert_eq(guest_mem_gpa_to_iov(mem, R - 8, 16, iov, 4), 2);
	cr_assert_eq(iov[0].iov_len, 8);
	cr_assert_eq(iov[1].iov_len, 8);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(((uint8_t *)iov[0].iov_base)[i], i);
		cr_assert_eq(((uint8_t *)iov[1].iov_base)[i], 8 + i);
	}
	/* the whole of r0 and r1 */
	cr_assert_eq(guest_mem_gpa_to_iov(mem, 0, 2 * R, iov, 4), 2);
	cr_assert_eq(iov[0].iov_len, R);
	cr_assert_eq(iov[1].iov_len, R);
	/* not enough entries */
	cr_assert_eq(guest_mem_gpa_to_iov(mem, R - 8, 16, iov, 1), -ENOBUFS);
	/* running into the gap after r1 */
	cr_assert_eq(guest_mem_gpa_to_iov(mem, R - 8, R + 9, iov, 4), -EFAULT);
	cr_assert_eq(guest_mem_gpa_to_iov(mem, 2 * R, 1, iov, 4), -EFAULT);
	cr_assert_eq(guest_mem_gpa_to_iov(mem, G2 + R - 1, 2, iov, 4), -EFAULT);
	/* overflow of gpa + len */
	cr_assert_eq(guest_mem_gpa_to_iov(mem, 0x10, UINT64_MAX, iov, 4),
		     -EFAULT);
	cr_assert_eq(guest_mem_gpa_to_iov(mem, UINT64_MAX, 1, iov, 4), -EFAULT);
}

Test(guest_mem, new_table_replaces_old)
{
	struct vhost_user_mem_region r[1] = {
		REGION(0x80000000, R, 0x7e0000000000, 3 * R),
	};
	uint8_t *p;

	cr_assert_eq(guest_mem_set_table(mem, r, fds8, 1), 0);
	cr_assert_eq(guest_mem_nregions(mem), 1);
	cr_assert_eq(guest_mem_generation(mem), 2);
	cr_assert_null(guest_mem_qva_to_ptr(mem, QVA0, 1));
	cr_assert_null(guest_mem_gpa_to_ptr(mem, 0, 1));
	view[3 * R + 7] = 0x77;
	p = guest_mem_gpa_to_ptr(mem, 0x80000007, 1);
	cr_assert_not_null(p);
	cr_assert_eq(*p, 0x77);
	p = guest_mem_qva_to_ptr(mem, 0x7e0000000007, 1);
	cr_assert_not_null(p);
	cr_assert_eq(*p, 0x77);
	/* the same table again still counts as a change */
	cr_assert_eq(guest_mem_set_table(mem, r, fds8, 1), 0);
	cr_assert_eq(guest_mem_generation(mem), 3);
}

Test(guest_mem, fd_closed_after_map)
{
	int fd = dup(memfd);
	int fds[3] = { fd, fd, fd };

	cr_assert_eq(guest_mem_set_table(mem, base3, fds, 3), 0);
	close(fd);
	view[5] = 0x33;
	cr_assert_eq(*(uint8_t *)guest_mem_gpa_to_ptr(mem, 5, 1), 0x33);
}

Test(guest_mem, top_of_address_space)
{
	/* ends exactly one byte short of 2^64 in both spaces */
	struct vhost_user_mem_region r[1] = {
		REGION(UINT64_MAX - R, R, UINT64_MAX - R, 0),
	};
	struct iovec iov[2];
	uint8_t *p;

	cr_assert_eq(guest_mem_set_table(mem, r, fds8, 1), 0);
	view[R - 1] = 0x99;
	p = guest_mem_gpa_to_ptr(mem, UINT64_MAX - 1, 1);
	cr_assert_not_null(p);
	cr_assert_eq(*p, 0x99);
	p = guest_mem_qva_to_ptr(mem, UINT64_MAX - 1, 1);
	cr_assert_not_null(p);
	cr_assert_eq(*p, 0x99);
	cr_assert_null(guest_mem_gpa_to_ptr(mem, UINT64_MAX - 1, 2));
	cr_assert_null(guest_mem_gpa_to_ptr(mem, UINT64_MAX, 1));
	cr_assert_eq(guest_mem_gpa_to_iov(mem, UINT64_MAX - 1, 1, iov, 2), 1);
	cr_assert_eq(guest_mem_gpa_to_iov(mem, UINT64_MAX - 1, 2, iov, 2),
		     -EFAULT);
	cr_assert_eq(guest_mem_gpa_to_iov(mem, UINT64_MAX - R, R, iov, 2), 1);
}

/*
 * A front-end shrinks the file behind our mapping: the access that hits
 * the lost pages must not kill the process (SIGBUS); it reads zeros and
 * the memory is marked poisoned until the next table.
 */
Test(guest_mem, file_shrunk_under_mapping_poisons_not_kills)
{
	volatile uint8_t *p;

	view[2 * R + 7] = 0x5a;
	p = guest_mem_gpa_to_ptr(mem, G2 + 7, 1);
	cr_assert_not_null(p);
	cr_assert_eq(*p, 0x5a);
	cr_assert_not(guest_mem_poisoned(mem));

	cr_assert_eq(ftruncate(memfd, R), 0); /* regions 1 and 2 vanish */
	cr_expect_eq(*p, 0, "a vanished page must read as zero");
	cr_expect(guest_mem_poisoned(mem));
	/* Region 0 is intact and still the front-end's memory. */
	view[5] = 0x11;
	cr_expect_eq(*(uint8_t *)guest_mem_gpa_to_ptr(mem, 5, 1), 0x11);

	/* A new table (backed again) clears the poison. */
	cr_assert_eq(ftruncate(memfd, FILE_SIZE), 0);
	cr_assert_eq(guest_mem_set_table(mem, base3, fds8, 3), 0);
	cr_expect_not(guest_mem_poisoned(mem));
	view[2 * R + 7] = 0x77;
	cr_expect_eq(*(uint8_t *)guest_mem_gpa_to_ptr(mem, G2 + 7, 1), 0x77);
}

/* A SIGBUS outside guest memory is a real bug: it must still kill. */
Test(guest_mem, sigbus_outside_guest_memory_still_kills, .signal = SIGBUS)
{
	int fd = memfd_create("not-guest", MFD_CLOEXEC);
	volatile uint8_t *q;

	cr_assert_eq(ftruncate(fd, 4096), 0);
	q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert(q != MAP_FAILED);
	cr_assert_eq(ftruncate(fd, 0), 0);
	(void)*q;
}

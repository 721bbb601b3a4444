/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for device/dirty_log.c: the bitmap math, the bounds of a
 * hostile log (size, offset, file length, seals), and the kick.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dirty_log.h"

/* A sealed memfd of @size bytes, as QEMU makes its log. */
static int log_memfd(size_t size, bool seal)
{
	int fd = memfd_create("test-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	if (seal) {
		cr_assert_eq(fcntl(fd, F_ADD_SEALS,
				   F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
			     0);
	}
	return fd;
}

static const uint8_t *view_of(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

	cr_assert_neq(p, MAP_FAILED);
	return p;
}

Test(dirty_log, page_math)
{
	uint8_t mask;

	cr_assert_eq(dirty_log_page_byte(0, &mask), 0);
	cr_assert_eq(mask, 1);
	cr_assert_eq(dirty_log_page_byte(4095, &mask), 0);
	cr_assert_eq(mask, 1);
	cr_assert_eq(dirty_log_page_byte(4096, &mask), 0);
	cr_assert_eq(mask, 2);
	cr_assert_eq(dirty_log_page_byte(7 * 4096 + 17, &mask), 0);
	cr_assert_eq(mask, 0x80);
	cr_assert_eq(dirty_log_page_byte(8 * 4096, &mask), 1);
	cr_assert_eq(mask, 1);
	cr_assert_eq(dirty_log_page_byte(0x100000000ull + 3 * 4096, &mask),
		     0x100000000ull / 4096 / 8);
	cr_assert_eq(mask, 8);
	cr_assert_eq(dirty_log_page_byte(UINT64_MAX, &mask),
		     UINT64_MAX / 4096 / 8);
	cr_assert_eq(mask, 0x80);
}

Test(dirty_log, marks_every_page_touched)
{
	struct dirty_log *l = dirty_log_new();
	int fd = log_memfd(4096, true);
	const uint8_t *bits = view_of(fd, 4096);

	cr_assert_eq(dirty_log_set_base(l, fd, 64, 128), 0);
	bits += 128;
	/* Not enabled yet: nothing. */
	dirty_log_mark(l, 0, 4096);
	cr_assert_eq(bits[0], 0);
	cr_assert(!dirty_log_active(l));
	dirty_log_set_enabled(l, true);
	cr_assert(dirty_log_active(l));
	/* One byte; a write straddling pages 1 and 2; pages 8..16. */
	dirty_log_mark(l, 0, 1);
	dirty_log_mark(l, 2 * 4096 - 2, 4);
	dirty_log_mark(l, 8 * 4096, 8 * 4096 + 1);
	cr_assert_eq(bits[0], 0x07);
	cr_assert_eq(bits[1], 0xff);
	cr_assert_eq(bits[2], 0x01);
	cr_assert_eq(bits[3], 0);
	/* Zero length marks nothing. */
	dirty_log_mark(l, 30 * 4096, 0);
	cr_assert_eq(bits[3], 0);
	/* The last page of the bitmap, and past it: counted, not written. */
	dirty_log_mark(l, (64 * 8 - 1) * 4096ull, 3 * 4096);
	cr_assert_eq(bits[63], 0x80);
	cr_assert_eq(bits[64], 0, "wrote past the bitmap");
	cr_assert_eq(dirty_log_missed(l), 2);
	/* At the top of the address space: no overflow, all missed. */
	dirty_log_mark(l, UINT64_MAX - 10, 100);
	cr_assert_eq(dirty_log_missed(l), 3);
	dirty_log_free(l);
	munmap((void *)(bits - 128), 4096);
}

Test(dirty_log, hostile_bases_refused)
{
	struct dirty_log *l = dirty_log_new();
	int unsealed = log_memfd(4096, false);
	int small = log_memfd(4096, true);
	int pipes[2];

	cr_assert_eq(dirty_log_set_base(l, unsealed, 64, 0), -EPERM);
	cr_assert_eq(dirty_log_set_base(l, small, 0, 0), -EINVAL);
	cr_assert_eq(dirty_log_set_base(l, small, 4097, 0), -EFAULT);
	cr_assert_eq(dirty_log_set_base(l, small, 4000, 97), -EFAULT);
	cr_assert_eq(dirty_log_set_base(l, small, UINT64_MAX, 1), -EINVAL);
	cr_assert_eq(dirty_log_set_base(l, small, 16, UINT64_MAX - 8), -EINVAL);
	cr_assert_eq(dirty_log_set_base(l, small, DIRTY_LOG_MAX_BYTES + 1, 0),
		     -EINVAL);
	cr_assert_eq(dirty_log_set_base(l, -1, 16, 0), -EINVAL);
	cr_assert_eq(pipe(pipes), 0);
	cr_assert_eq(dirty_log_set_base(l, pipes[0], 16, 0), -EPERM);
	/* Nothing was taken: refused fds stay the caller's. */
	cr_assert_eq(dirty_log_base(l, &(uint64_t){ 0 }, &(uint64_t){ 0 }), -1);
	dirty_log_set_enabled(l, true);
	cr_assert(!dirty_log_active(l), "active without a bitmap");
	dirty_log_mark(l, 0, 4096);
	dirty_log_free(l);
	close(unsealed);
	close(small);
	close(pipes[0]);
	close(pipes[1]);
}

Test(dirty_log, replaced_base_and_kick)
{
	struct dirty_log *l = dirty_log_new();
	int a = log_memfd(4096, true), b = log_memfd(8192, true);
	int call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	const uint8_t *bits = view_of(b, 8192);
	uint64_t size, off, n;

	cr_assert_eq(dirty_log_set_base(l, a, 16, 0), 0);
	/* A bigger log, as QEMU sends when memory grows: a's fd closed. */
	cr_assert_eq(dirty_log_set_base(l, b, 8192, 0), 0);
	cr_assert_lt(fcntl(a, F_GETFD), 0, "old log fd kept");
	cr_assert_eq(dirty_log_base(l, &size, &off), b);
	cr_assert_eq(size, 8192);
	dirty_log_set_call_fd(l, call);
	dirty_log_set_enabled(l, true);
	dirty_log_kick(l);
	cr_assert_lt(read(call, &n, sizeof(n)), 0, "kick without marks");
	dirty_log_mark(l, 0x1000000, 1);
	cr_assert_eq(bits[0x1000000 / 4096 / 8], 1);
	dirty_log_kick(l);
	dirty_log_kick(l);
	cr_assert_eq(read(call, &n, sizeof(n)), sizeof(n));
	cr_assert_eq(n, 1, "one kick per batch");
	dirty_log_free(l);
	cr_assert_lt(fcntl(call, F_GETFD), 0, "call fd kept");
	munmap((void *)bits, 8192);
}

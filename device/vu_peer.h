/* SPDX-License-Identifier: MIT */
/*
 * Who is at the other end of a vhost-user connection: the front-end's
 * credentials, from the kernel at accept (SO_PEERCRED), and, where the
 * front-end is QEMU, its -name (libvirt passes the domain name as
 * "-name guest=NAME,debug-threads=on"), read from /proc/PID/cmdline.
 *
 * The command line is the peer's to write: hostile input. It is read
 * bounded (VU_PEER_CMDLINE_MAX), parsed without trusting any length or
 * terminator, and the name kept only in a label charset
 * ([A-Za-z0-9._-], anything else becomes '_', at most
 * VU_PEER_NAME_MAX - 1 bytes), so that it is safe in a log line, a
 * JSON string and a Prometheus label. A name says what the peer claims;
 * pid and uid are the kernel's.
 *
 * The /proc read runs after the privilege drop (connections arrive
 * then): it needs /proc/PID of another user to be visible (no
 * hidepid=, no systemd ProtectProc=invisible) and is allowed by the
 * seccomp filter's read-only openat. When it fails, the name is simply
 * unknown and the caller keeps the socket's name.
 *
 * Thread/loop: any; vu_peer_identify() makes blocking but bounded
 * system calls on procfs (no waiting on the peer).
 */
#ifndef DEVICE_VU_PEER_H
#define DEVICE_VU_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Longest name kept, with its NUL. */
#define VU_PEER_NAME_MAX 64
/* Bytes of /proc/PID/cmdline looked at (QEMU's under libvirt: ~4 KiB). */
#define VU_PEER_CMDLINE_MAX 65536

struct vu_peer {
	bool cred; /* SO_PEERCRED answered: pid, uid, gid are set */
	pid_t pid; /* 0: the peer is outside our pid namespace */
	uid_t uid;
	gid_t gid;
	bool qemu; /* its argv[0] is QEMU's (qemu-system-*, qemu-kvm, kvm) */
	char name[VU_PEER_NAME_MAX]; /* its -name, sanitized; "": none */
};

/*
 * vu_peer_qemu_name() - the guest name of QEMU command line @cmd (@len
 * bytes of NUL-separated arguments, as /proc/PID/cmdline gives them;
 * the last may be cut short and is then ignored): the value of the
 * last "-name" or "--name" option, either "NAME[,opts]" or
 * "guest=NAME[,opts]" (",," is a literal comma, as QEMU reads it),
 * sanitized into @out (@outlen bytes, at least 2). Pure.
 * Returns 0, -ENOENT (no -name with a guest name), or -EINVAL (@outlen
 * too small).
 */
int vu_peer_qemu_name(const char *cmd, size_t len, char *out, size_t outlen);

/*
 * vu_peer_is_qemu() - whether @argv0 (NUL-terminated) names QEMU: its
 * base name starts with "qemu-system-" or is "qemu-kvm" or "kvm". Pure.
 */
bool vu_peer_is_qemu(const char *argv0);

/*
 * vu_peer_identify() - fill @p for the peer of connected AF_UNIX socket
 * @fd: credentials, and the name when the peer is QEMU. Never fails:
 * what cannot be learnt is left unknown (cred false, name "").
 */
void vu_peer_identify(int fd, struct vu_peer *p);

/*
 * vu_peer_describe() - @p for a log line, into @buf: "pid 1234, uid
 * 64055, QEMU -name vm1", "pid 1234, uid 0, not QEMU", "credentials
 * unknown", ...
 */
void vu_peer_describe(const struct vu_peer *p, char *buf, size_t len);

#endif /* DEVICE_VU_PEER_H */

/* SPDX-License-Identifier: MIT */
/*
 * Live upgrade: the running daemon hands every listening socket, every
 * VM connection and its whole state to a new process of the binary now
 * on disk, which adopts them and serves on; the VMs notice nothing.
 *
 * The daemon drops its privileges and confines itself with seccomp, so
 * it cannot start a full daemon itself. Before the drop it forks a
 * launcher: a small process that keeps the privileges it was started
 * with, holds nothing but one socket to the daemon, and waits. On an
 * upgrade the daemon sends it the hand-over image (a sealed memfd) and
 * every fd the image names. The launcher starts the binary on disk with
 * the daemon's own arguments and --adopt; the new process checks the
 * image as untrusted input, rebuilds everything without serving yet and
 * says "ready". The launcher tells the daemon, which exits at once
 * without touching anything (systemd is told the new MAINPID first);
 * its exit is the new process's signal to serve. If the new process
 * fails, says why, or is not ready within UPGRADE_TIMEOUT_MS, the
 * launcher kills it and the daemon goes on serving, with the reason.
 *
 *   daemon --U(image, fds)--> launcher --fork/exec--> new (--adopt)
 *   daemon <--O pid-------- launcher <--R----------- new (adopted)
 *   daemon: MAINPID=pid, _exit(0)   launcher --G--> new: serves
 *
 * Thread/loop: upgrade_now() blocks the main loop (up to the timeout):
 * nothing else may run between the image and the exit.
 */
#ifndef SRC_UPGRADE_H
#define SRC_UPGRADE_H

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#define UPGRADE_TIMEOUT_MS 10000

struct upgrade;

/*
 * upgrade_launcher_start() - fork the launcher, which will start
 * @argv[0] (the path it was started by, resolved now) with @argv.
 * Call before dropping privileges, with one thread. Returns NULL with
 * @err set.
 */
struct upgrade *upgrade_launcher_start(char **argv, GError **err);

/* Stop the launcher (it exits when its socket closes); NULL is a no-op. */
void upgrade_free(struct upgrade *u);

/*
 * upgrade_now() - hand @image (header + body) and its @nfds @fds to a new
 * process. Returns 0 with its pid in *@pid: the caller must then exit at
 * once, touching nothing. Returns -errno with the reason in @why: the
 * new process is gone and the caller serves on.
 */
int upgrade_now(struct upgrade *u, const GByteArray *image, const int *fds,
		unsigned int nfds, pid_t *pid, char *why, size_t len);

/* The new process's side. --adopt=IMAGE,READY,FIRST,N as the launcher
 * passes it. */
struct upgrade_adopt {
	int image_fd, ready_fd, first_fd;
	unsigned int nfds;
	GBytes *image; /* read from image_fd */
};

/* Parse --adopt's value and read the image. 0 or -errno (@err set). */
int upgrade_adopt_open(struct upgrade_adopt *a, const char *arg, GError **err);

/*
 * upgrade_adopt_ready() - everything is rebuilt: tell the launcher and
 * wait until the old daemon has exited (up to UPGRADE_TIMEOUT_MS).
 * Returns 0 (serve now) or -errno (exit without serving).
 */
int upgrade_adopt_ready(struct upgrade_adopt *a);

/* The adoption failed: say why to the launcher (the old one serves on). */
void upgrade_adopt_failed(struct upgrade_adopt *a, const char *why);

void upgrade_adopt_clear(struct upgrade_adopt *a);

#endif /* SRC_UPGRADE_H */

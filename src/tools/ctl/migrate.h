/* SPDX-License-Identifier: MIT */
/*
 * `vhost-user-rtc-ctl migrate`: live migration of a VM with a
 * vhost-user-rtc device under a QEMU that marks the device unmigratable
 * (QEMU 11.1): unplug it (and the status page's ivshmem device) on the
 * source, migrate, plug them again on the destination.
 * Thread/loop: none (blocking; runs for the whole migration).
 */
#ifndef SRC_CTL_MIGRATE_H
#define SRC_CTL_MIGRATE_H

/*
 * migrate_main() - the subcommand, with its own options: @argc/@argv
 * start at "migrate". Prints progress lines on stdout, errors on stderr.
 * Returns the process exit status: 0 migrated with the devices back on
 * the destination, 1 failed (the devices were put back on the source
 * when the migration itself failed), 2 after the migration completed
 * but a device could not be plugged on the destination, 3 bad command
 * line or no QMP connection (nothing was changed).
 */
int migrate_main(int argc, char **argv);

#endif /* SRC_CTL_MIGRATE_H */

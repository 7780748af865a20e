/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Whether pins made by this command outlive it: a bpffs mounted in a mount
 * namespace of its own (ip netns exec, unshare -m, a container without the
 * host's /sys/fs/bpf) goes away with that namespace, and every link pinned
 * there with it.
 */
#ifndef TOA_HOSTNS_H
#define TOA_HOSTNS_H

#include <stdbool.h>

enum toa_mntns {
	TOA_MNTNS_HOST,		/* the host's mount namespace: a bpffs mounted here stays */
	TOA_MNTNS_PRIVATE,	/* a mount namespace of its own on the host (ip netns exec, unshare -m) */
	TOA_MNTNS_CONTAINER,	/* its own PID namespace too: a container */
	TOA_MNTNS_UNKNOWN,	/* cannot tell (old kernel, PID 1 not readable) */
};

/* Which mount namespace this process runs in. */
enum toa_mntns toa_mount_ns(void);

/*
 * Checks that the bpffs holding path (an existing directory on bpffs) is
 * seen by the host, when that can be told: in a private mount namespace on
 * the host, its device must be in PID 1's mount table. Prints one line
 * naming the cause and the fix, returns false, when it is not.
 */
bool toa_bpffs_is_hosts(const char *path);

/*
 * One line saying why a bpffs may not be mounted at mnt for pin_dir here,
 * and what to do instead; false when mounting it is fine (the host's mount
 * namespace).
 */
bool toa_refuse_private_bpffs(const char *pin_dir, const char *mnt);

#endif /* TOA_HOSTNS_H */

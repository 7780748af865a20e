// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Whether pins made by this command outlive it (see hostns.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "hostns.h"

/*
 * The initial namespaces' fixed inode numbers (include/linux/proc_ns.h): the
 * PID one since Linux 3.8, the mount one only on recent kernels (6.18 has
 * it); where the initial mount namespace has no fixed number, PID 1's is
 * compared.
 */
#define PROC_PID_INIT_INO	0xEFFFFFFCU
#define PROC_MNT_INIT_INO	0xEFFFFFF8U

static int ns_ino(const char *path, ino_t *ino)
{
	struct stat st;

	if (stat(path, &st))
		return -1;
	*ino = st.st_ino;
	return 0;
}

/* The parent of pid, from /proc/PID/stat; 0 when it cannot be read. */
static int parent_of(int pid)
{
	char path[64], buf[512], *close_paren;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	/* "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so parse after the last ')'. */
	if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')))
		sscanf(close_paren + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

/* Whether a readable ancestor of this process (below PID 1) is in another mount namespace. */
static bool ancestor_in_other_ns(ino_t mnt)
{
	char path[64];
	ino_t other;
	int pid = getpid(), depth;

	for (depth = 0; depth < 64 && (pid = parent_of(pid)) > 1; depth++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
		if (!ns_ino(path, &other) && other != mnt)
			return true;
	}
	return false;
}

enum toa_mntns toa_mount_ns(void)
{
	ino_t pid, mnt, init_mnt;

	if (ns_ino("/proc/self/ns/pid", &pid) || ns_ino("/proc/self/ns/mnt", &mnt))
		return TOA_MNTNS_UNKNOWN;
	if (mnt == PROC_MNT_INIT_INO)
		return TOA_MNTNS_HOST;
	if (pid != PROC_PID_INIT_INO)
		return TOA_MNTNS_CONTAINER;
	/* Host PID namespace: /proc/1 is the host's init, whose mount namespace is the host's. */
	if (!ns_ino("/proc/1/ns/mnt", &init_mnt))
		return mnt == init_mnt ? TOA_MNTNS_HOST : TOA_MNTNS_PRIVATE;
	/* PID 1 not readable (a hardened init): a parent in another mount namespace means ours is a child one. */
	return ancestor_in_other_ns(mnt) ? TOA_MNTNS_PRIVATE : TOA_MNTNS_UNKNOWN;
}

/* Whether a bpffs with this device is mounted in PID 1's mount namespace; -1 if unreadable. */
static int host_has_bpffs(dev_t dev)
{
	char line[PATH_MAX + 512], type[64];
	unsigned int major_, minor_;
	int found = 0;
	FILE *f = fopen("/proc/1/mountinfo", "r");

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		/* "ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ... - TYPE SOURCE OPTIONS" */
		if (sep && sscanf(line, "%*u %*u %u:%u", &major_, &minor_) == 2 &&
		    sscanf(sep + 3, "%63s", type) == 1 && !strcmp(type, "bpf"))
			found = makedev(major_, minor_) == dev;
	}
	fclose(f);
	return found;
}

bool toa_bpffs_is_hosts(const char *path)
{
	struct stat st;

	if (toa_mount_ns() != TOA_MNTNS_PRIVATE || stat(path, &st) || host_has_bpffs(st.st_dev) != 0)
		return true;
	fprintf(stderr, "toa-bpf: the bpffs at %s was mounted in this command's own mount namespace "
		"(unshare -m, ip netns exec), not the host's: pins there vanish with it; "
		"run in the host's mount namespace (nsenter --net=/run/netns/NAME, not ip netns exec)\n", path);
	return false;
}

bool toa_refuse_private_bpffs(const char *pin_dir, const char *mnt)
{
	switch (toa_mount_ns()) {
	case TOA_MNTNS_HOST:
		return false;
	case TOA_MNTNS_PRIVATE:
		fprintf(stderr, "toa-bpf: %s is not on the host's bpffs: this command runs in a mount namespace "
			"of its own (ip netns exec, unshare -m), where a bpffs mounted now would vanish when it "
			"exits, and the attachment with it; use nsenter --net=/run/netns/NAME rather than "
			"ip netns exec, or mount the host's bpffs at %s\n", pin_dir, mnt);
		break;
	case TOA_MNTNS_CONTAINER:
		fprintf(stderr, "toa-bpf: %s is not on a bpffs in this container, and one mounted now would "
			"vanish with the container, and the attachment with it; mount the host's %s into it "
			"(a hostPath volume; docker run -v %s:%s)\n", pin_dir, mnt, mnt, mnt);
		break;
	case TOA_MNTNS_UNKNOWN:
		fprintf(stderr, "toa-bpf: %s is not on a bpffs, and whether this is the host's mount namespace "
			"cannot be told (a bpffs mounted in another would vanish with it); mount it in the host's: "
			"mount -t bpf bpf %s\n", pin_dir, mnt);
		break;
	}
	return true;
}

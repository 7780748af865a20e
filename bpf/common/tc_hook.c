// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Attaching a pair of tc programs by tcx links or clsact filters: see tc_hook.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "tc_hook.h"

/*
 * tcx arrived in Linux 6.6; the UAPI headers we build against may be older,
 * so its numbers are spelled out (include/uapi/linux/bpf.h, stable ABI).
 */
#define TCX_INGRESS		46	/* BPF_TCX_INGRESS */
#define TCX_EGRESS		47	/* BPF_TCX_EGRESS */
#define LINK_TYPE_TCX		11	/* BPF_LINK_TYPE_TCX */
#define TCX_F_BEFORE		(1U << 3)	/* BPF_F_BEFORE: with no relative program, the chain's head */

/* Where the link of direction dir (0 ingress, 1 egress) is pinned; -ENAMETOOLONG if it does not fit. */
static int link_pin(const char *pin_dir, int dir, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", pin_dir, dir ? "link_egress" : "link_ingress");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int tc_hook_parse(const char *name)
{
	if (!strcmp(name, "auto"))
		return TC_HOOK_AUTO;
	if (!strcmp(name, "tcx"))
		return TC_HOOK_TCX;
	if (!strcmp(name, "tc"))
		return TC_HOOK_CLSACT;
	return -1;
}

const char *tc_hook_name(int kind)
{
	return kind == TC_HOOK_TCX ? "tcx" : kind == TC_HOOK_CLSACT ? "tc" : "auto";
}

/* The pinned link at path if it is a live tcx link on ifindex at dir, else -1. */
static int tcx_link_get(const char *path, int ifindex, int dir)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return -1;
	/* tcx's {ifindex, attach_type} are the first words of the info union (netns's slots in older headers). */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != LINK_TYPE_TCX ||
	    info.netns.netns_ino != (__u32)ifindex || info.netns.attach_type != (__u32)(dir ? TCX_EGRESS : TCX_INGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Update our pinned links in place, or create and pin new ones; -EINVAL first when the kernel has no tcx. */
static int tcx_attach(int ifindex, const int prog_fd[2], const char *pin_dir)
{
	char path[2][PATH_MAX];
	int fresh[2] = { -1, -1 }, err = 0, d, fd;

	for (d = 0; d < 2 && !err; d++)
		err = link_pin(pin_dir, d, path[d], sizeof(path[d]));
	for (d = 0; d < 2 && !err; d++) {
		fd = tcx_link_get(path[d], ifindex, d);
		if (fd >= 0) {
			err = bpf_link_update(fd, prog_fd[d], NULL) ? -errno : 0;
			close(fd);
			continue;
		}
		/*
		 * Ingress at the head of the chain: a program ahead of ours could
		 * redirect a VIP-bound packet past the strip. Egress appends: the
		 * clamp then sees the SYN-ACK as the wire will.
		 */
		LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = d ? 0 : TCX_F_BEFORE);

		fresh[d] = bpf_link_create(prog_fd[d], ifindex, d ? TCX_EGRESS : TCX_INGRESS, &lo);
		if (fresh[d] < 0)
			err = -errno;
	}
	for (d = 0; d < 2 && !err; d++)
		if (fresh[d] >= 0)
			err = toa_repin(fresh[d], path[d]);
	/* Unpinned links go away with their last fd: a failure leaves no new link attached. */
	for (d = 0; d < 2; d++) {
		if (fresh[d] < 0)
			continue;
		if (err)
			unlink(path[d]);
		close(fresh[d]);
	}
	return err;
}

static int clsact_detach(int ifindex, bool destroy)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HOOK_HANDLE, .priority = TC_HOOK_PRIO);
	int err, ret = 0, d;

	/* No filter or no clsact qdisc here (a tcx attachment) is the normal case: no libbpf warning for it. */
	toa_libbpf_mute(true);
	for (d = 0; d < 2; d++) {
		hook.attach_point = d ? BPF_TC_EGRESS : BPF_TC_INGRESS;
		err = bpf_tc_detach(&hook, &opts);
		if (err && err != -ENOENT && err != -EINVAL)
			ret = err;
	}
	if (destroy) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		if (err && err != -ENOENT && err != -EINVAL)
			ret = err;
	}
	toa_libbpf_mute(false);
	return ret;
}

static int clsact_attach(int ifindex, const int prog_fd[2], bool *created)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HOOK_HANDLE, .priority = TC_HOOK_PRIO,
		    .flags = BPF_TC_F_REPLACE);
	int err, d;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	*created = !err;	/* an existing clsact qdisc (ours from before, or another tool's) is used as it is */
	err = 0;
	for (d = 0; d < 2 && !err; d++) {
		hook.attach_point = d ? BPF_TC_EGRESS : BPF_TC_INGRESS;
		opts.prog_fd = prog_fd[d];
		opts.prog_id = 0;
		err = bpf_tc_attach(&hook, &opts);
	}
	return err;
}

int tc_hook_attach(const char *who, int ifindex, const char *dev, const int prog_fd[2], const char *pin_dir,
		   int *kind, bool *clsact_created)
{
	int err;

	*clsact_created = false;
	if (*kind != TC_HOOK_CLSACT) {
		err = tcx_attach(ifindex, prog_fd, pin_dir);
		if (!err) {
			*kind = TC_HOOK_TCX;
			return 0;
		}
		if (err != -EINVAL || *kind == TC_HOOK_TCX) {
			if (err == -EINVAL)
				fprintf(stderr, "%s: attaching by tcx to %s failed: this kernel has no tcx (Linux 6.6); "
					"--hook tc uses a clsact qdisc\n", who, dev);
			else
				fprintf(stderr, "%s: attaching by tcx to %s failed: %s\n", who, dev, strerror(-err));
			return err;
		}
	}
	err = clsact_attach(ifindex, prog_fd, clsact_created);
	if (err) {
		fprintf(stderr, "%s: attaching the tc filters to %s failed: %s\n", who, dev, strerror(-err));
		if (*clsact_created)
			clsact_detach(ifindex, true);
		*clsact_created = false;
		return err;
	}
	*kind = TC_HOOK_CLSACT;
	return 0;
}

int tc_hook_detach(int ifindex, const char *pin_dir, bool destroy_clsact)
{
	char path[PATH_MAX];
	int ret = 0, err, d;

	for (d = 0; pin_dir && d < 2; d++) {
		err = link_pin(pin_dir, d, path, sizeof(path));
		if (!err && unlink(path) && errno != ENOENT)
			err = -errno;
		if (err && !ret)
			ret = err;
	}
	if (ifindex > 0) {
		err = clsact_detach(ifindex, destroy_clsact);
		if (err && !ret)
			ret = err;
	}
	return ret;
}

bool tc_hook_present(int ifindex, int kind, const char *pin_dir, int dir)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HOOK_HANDLE, .priority = TC_HOOK_PRIO);
	char path[PATH_MAX];
	int fd;

	if (kind == TC_HOOK_TCX) {
		if (link_pin(pin_dir, dir, path, sizeof(path)))
			return false;
		fd = tcx_link_get(path, ifindex, dir);
		if (fd < 0)
			return false;
		close(fd);
		return true;
	}
	hook.attach_point = dir ? BPF_TC_EGRESS : BPF_TC_INGRESS;
	return !bpf_tc_query(&hook, &opts);
}

int tc_hook_ingress_ahead(int ifindex, int kind, const char *pin_dir)
{
	struct bpf_link_info info = {};
	__u32 ids[64], cnt = 64, len = sizeof(info), i;
	char path[PATH_MAX];
	int fd, err;

	/*
	 * tcx's ingress chain runs before any clsact filter; a kernel without
	 * tcx has none. ENOSPC: more than 64, the head of the chain is in ids.
	 */
	if (bpf_prog_query(ifindex, TCX_INGRESS, 0, NULL, ids, &cnt) && errno != ENOSPC)
		return errno == EINVAL ? 0 : -errno;
	if (kind != TC_HOOK_TCX)
		return (int)cnt;
	err = link_pin(pin_dir, 0, path, sizeof(path));
	if (err)
		return err;
	fd = tcx_link_get(path, ifindex, 0);
	if (fd < 0)
		return -ENOENT;
	err = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	close(fd);
	if (err)
		return err;
	for (i = 0; i < cnt && i < 64; i++)
		if (ids[i] == info.prog_id)
			return (int)i;
	return cnt > 64 ? 64 : -ENOENT;	/* not among the first 64: at least that many ahead */
}

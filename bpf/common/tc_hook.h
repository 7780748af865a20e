/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A pair of tc programs (ingress, egress) on one device, attached the
 * cheapest way the kernel offers:
 *
 * - tcx (Linux 6.6): BPF links, pinned as link_ingress and link_egress in the
 *   caller's pin directory so they outlive the loader. No qdisc, no
 *   classifier chain: on the lab's veth path a program that only returns
 *   cost 3-4% of download throughput through clsact + cls_bpf, and nothing
 *   measurable through tcx.
 * - clsact + cls_bpf (direct action), for older kernels or on request.
 *
 * The programs return TC_ACT_UNSPEC (= TCX_NEXT) for packets they pass, so
 * other tc programs and filters on the device still run after them.
 */
#ifndef TOA_TC_HOOK_H
#define TOA_TC_HOOK_H

#include <stdbool.h>
#include <linux/types.h>

enum tc_hook_kind {
	TC_HOOK_AUTO = 0,	/* tcx where the kernel has it, else clsact */
	TC_HOOK_TCX,
	TC_HOOK_CLSACT,
};

/* Handle and priority of our cls_bpf filters: one each per direction, found again by them. */
#define TC_HOOK_HANDLE		0x544f
#define TC_HOOK_PRIO		1

/* "tcx", "tc" (clsact) or "auto" <-> enum tc_hook_kind; -1 for an unknown name. */
int tc_hook_parse(const char *name);
const char *tc_hook_name(int kind);

/*
 * Attach (or replace in place) prog_fd[0] at ingress and prog_fd[1] at
 * egress of ifindex. For tcx the links are pinned in pin_dir (an existing
 * pinned link is updated to the new program, atomically). *kind in: the
 * wish; out: what was used. *clsact_created: set when this call created the
 * clsact qdisc. What an earlier attachment of the other kind left is the
 * caller's to remove (tc_hook_detach). 0 or -errno, with a message on
 * stderr that starts with who.
 */
int tc_hook_attach(const char *who, int ifindex, const char *dev, const int prog_fd[2], const char *pin_dir,
		   int *kind, bool *clsact_created);

/*
 * Take our programs away: the tcx links pinned in pin_dir (removing the pins
 * detaches them; NULL: leave them) and, when ifindex > 0, our cls_bpf filters
 * on it, plus the clsact qdisc when destroy_clsact. Missing pieces are not
 * errors. 0 or -errno.
 */
int tc_hook_detach(int ifindex, const char *pin_dir, bool destroy_clsact);

/* Whether our program is attached at ingress (dir 0) or egress (dir 1) of ifindex. */
bool tc_hook_present(int ifindex, int kind, const char *pin_dir, int dir);

/*
 * How many programs run at ingress of ifindex before ours (tcx programs ahead
 * of our link, or every tcx program when ours is a clsact filter): each could
 * redirect or rewrite a packet before the writer sees it. -errno when ours
 * is not there or the query fails.
 */
int tc_hook_ingress_ahead(int ifindex, int kind, const char *pin_dir);

#endif /* TOA_TC_HOOK_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A pair of tc programs (ingress, egress) on one device, attached the
 * cheapest way the kernel offers:
 *
 * - tcx (Linux 6.6): BPF links, pinned so they outlive the loader. No qdisc,
 *   no classifier chain; on a veth pair it dispatches at about half the cost
 *   of clsact + cls_bpf, which shows in every forwarded packet.
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
 * egress of ifindex. For tcx the links are pinned at link_pin[0..1] (an
 * existing pinned link is updated to the new program, atomically). *kind
 * in: the wish; out: what was used. *clsact_created: set when this call
 * created the clsact qdisc. 0 or -errno, with a message on stderr that
 * starts with who.
 */
int tc_hook_attach(const char *who, int ifindex, const char *dev, const int prog_fd[2],
		   const char *const link_pin[2], int *kind, bool *clsact_created);

/*
 * Take our programs off ifindex: the tcx links (by removing their pins; the
 * last reference going detaches them) and our cls_bpf filters, plus the
 * clsact qdisc when destroy_clsact. Missing pieces are not errors. 0 or -errno.
 */
int tc_hook_detach(int ifindex, const char *const link_pin[2], bool destroy_clsact);

/* Whether our program is attached at ingress (dir 0) or egress (dir 1) of ifindex. */
bool tc_hook_present(int ifindex, int kind, const char *link_pin, int dir);

#endif /* TOA_TC_HOOK_H */

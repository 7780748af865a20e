// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tcx-ahead: a program that passes every packet on, attached by tcx at the
 * head of DEV's ingress chain (ahead of whatever is there), its link pinned
 * at PIN. For testing that the director's status and doctor report programs
 * that run before the writer. Removing PIN detaches it.
 *
 *   tcx-ahead DEV PIN
 *
 * Exit 0 when attached, 1 with a message otherwise.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

/* Spelled out: the UAPI headers we build against may predate tcx (Linux 6.6). */
#define TCX_INGRESS	46
#define TCX_F_BEFORE	(1U << 3)
#define TCX_NEXT	(-1)

int main(int argc, char **argv)
{
	struct bpf_insn pass[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TCX_NEXT },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = TCX_F_BEFORE);
	int ifindex, prog, link;

	if (argc != 3) {
		fprintf(stderr, "usage: tcx-ahead DEV PIN\n");
		return 1;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "tcx-ahead: no device %s\n", argv[1]);
		return 1;
	}
	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "tcx_ahead", "GPL", pass, 2, NULL);
	if (prog < 0) {
		fprintf(stderr, "tcx-ahead: loading: %s\n", strerror(errno));
		return 1;
	}
	link = bpf_link_create(prog, ifindex, TCX_INGRESS, &lo);
	if (link < 0 || bpf_obj_pin(link, argv[2])) {
		fprintf(stderr, "tcx-ahead: attaching to %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}

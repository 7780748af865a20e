// SPDX-License-Identifier: GPL-2.0-only
/*
 * fentry-hold: attaches a BPF fentry program that does nothing to a kernel
 * function and keeps it attached until stdin closes, for the module's test
 * of a host where another direct caller (here, the BPF trampoline) already
 * holds inet_getname's ftrace site.
 *
 *   fentry-hold FUNCTION     (prints "attached ID" once the link is up)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

int main(int argc, char **argv)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct btf *vmlinux;
	int id, prog, link;
	char c;

	if (argc != 2) {
		fprintf(stderr, "usage: fentry-hold FUNCTION\n");
		return 2;
	}
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		fprintf(stderr, "fentry-hold: no kernel BTF: %s\n", strerror(errno));
		return 1;
	}
	id = btf__find_by_name_kind(vmlinux, argv[1], BTF_KIND_FUNC);
	if (id < 0) {
		fprintf(stderr, "fentry-hold: %s is not a function in the kernel's BTF\n", argv[1]);
		return 1;
	}
	opts.attach_btf_id = id;
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "toa_test_hold", "GPL", insns, 2, &opts);
	if (prog < 0) {
		fprintf(stderr, "fentry-hold: loading the program: %s\n", strerror(-prog));
		return 1;
	}
	link = bpf_link_create(prog, 0, BPF_TRACE_FENTRY, NULL);
	if (link < 0) {
		fprintf(stderr, "fentry-hold: attaching to %s: %s\n", argv[1], strerror(-link));
		return 1;
	}
	bpf_obj_get_info_by_fd(prog, &info, &len);
	printf("attached %u\n", info.id);
	fflush(stdout);
	/* The link lives as long as this process: until its parent closes stdin. */
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

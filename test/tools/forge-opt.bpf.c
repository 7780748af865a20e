// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * forge-opt: a sockops program for a test client's cgroup that puts 8
 * option bytes of the test's choosing (the "forged" map, key 0) into every
 * segment its sockets send, TSO/GSO ones included: the kernel's own header
 * option callbacks write it into the header every segment is cut from. Lets
 * a test send a client-chosen TOA in GSO segments, which no raw socket can.
 *
 *   bpftool prog load forge-opt.bpf.o PIN type sockops pinmaps DIR
 *   bpftool map update pinned DIR/forged key 0 0 0 0 value C8 08 ...
 *   bpftool cgroup attach CGROUP sock_ops pinned PIN
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[8]);
} forged SEC(".maps");

SEC("sockops")
int forge_opt(struct bpf_sock_ops *skops)
{
	__u32 key = 0;
	__u8 *opt;

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		bpf_reserve_hdr_opt(skops, 8, 0);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		opt = bpf_map_lookup_elem(&forged, &key);
		if (opt)
			bpf_store_hdr_opt(skops, opt, 8, 0);
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

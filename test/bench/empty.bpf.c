// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Programs that do nothing, of the real server's types: attached beside
 * toa-bpf's in the benchmark, they see the same calls, so bpf_stats' time
 * for them is the cost of being called at all (and of bpf_stats itself).
 * What toa-bpf's programs spend beyond that is their own work. empty_tc is
 * the director's: the baseline of its per-segment test runs.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("sockops")
int empty_sockops(struct bpf_sock_ops *skops)
{
	return 1;
}

SEC("cgroup/getpeername4")
int empty_getpeername4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/getpeername6")
int empty_getpeername6(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("tc")
int empty_tc(struct __sk_buff *skb)
{
	return -1;	/* TC_ACT_UNSPEC */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

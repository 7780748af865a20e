// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Proves include/toa/toa_wire.h passes the BPF verifier: a socket filter that
 * parses and re-encodes whatever a packet holds, with a length the verifier
 * knows nothing about. Never attached; test/unit/wire-header.test.ts loads it
 * with bpftool and unpins it again.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "toa/toa_wire.h"
#include "toa/toa_record.h"

SEC("socket")
int toa_header_check(struct __sk_buff *skb)
{
	__u8 opts[TOA_OPTBUF] = {};
	__u8 enc[TOA_LEN_V6] = {};
	struct toa_addr out = {};
	int st;

	if (bpf_skb_load_bytes(skb, 0, opts, TOA_OPT_MAX))
		return 0;
	/* skb->len is unknown to the verifier: the parser must bound it itself. */
	st = toa_parse(opts, skb->len, opts[0] | (__u32)opts[1] << 8, &out);
	if (st != TOA_OK)
		return st;
	/* The dialect is data too: the encoder must stay in bounds for any value. */
	return toa_encode(out.dialect ^ opts[2], out.port, out.addr, enc) + enc[TOA_LEN_V6 - 1];
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

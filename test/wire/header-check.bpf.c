// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Proves include/toa/toa_wire.h passes the BPF verifier: a socket filter that
 * parses and re-encodes whatever a packet holds, with a length the verifier
 * knows nothing about. Never attached: test/unit/wire-header.test.ts loads it
 * through the verifier, toa-check-bpf runs the vectors through toa_vector.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TOA_BPF_PARSER		/* the parser's map and step function (toa_wire.h) */
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

/*
 * The parser as BPF runs it, for the vector tests (toa-check-bpf drives it
 * with BPF_PROG_TEST_RUN). Packet: 14 bytes of Ethernet, accept mask, length,
 * 40 option bytes, then room where the decoded struct toa_addr is written.
 * Returns enum toa_status, or TOA_VEC_EIO when the packet is not that shape.
 */
#define TOA_VEC_IN	(14)
#define TOA_VEC_OUT	(TOA_VEC_IN + 2 + TOA_OPT_MAX)
#define TOA_VEC_EIO	255

SEC("tc")
int toa_vector(struct __sk_buff *skb)
{
	__u8 in[2 + TOA_OPT_MAX];
	__u8 opts[TOA_OPTBUF] = {};
	struct toa_addr out = {};
	int st, i;

	if (bpf_skb_load_bytes(skb, TOA_VEC_IN, in, sizeof(in)))
		return TOA_VEC_EIO;
	for (i = 0; i < TOA_OPT_MAX; i++)
		opts[i] = in[2 + i];
	st = toa_parse(opts, in[1], in[0], &out);
	if (st == TOA_OK && bpf_skb_store_bytes(skb, TOA_VEC_OUT, &out, sizeof(out), 0))
		return TOA_VEC_EIO;
	return st;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

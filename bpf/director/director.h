/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The director's TOA writer: what its tc programs and its loader share.
 *
 * Pinned under <pin dir>/director/: ingress, egress (programs), vips, flows,
 * counters, info (maps), and link_ingress, link_egress when attached by tcx;
 * with --rs-dev also rs_ingress, rs_egress, rsflows, and rs/link_* for tcx.
 * `toa-bpf director status --json` prints:
 *
 *   {"attached": true, "device": "cli0", "ifindex": 3, "hook": "tcx" (or "tc"),
 *    "clsact_created": false, "filters": {"ingress": true, "egress": true},
 *    "ingress_ahead": 0 (tcx programs that run at ingress before the writer; null unknown),
 *    "vips": ["198.51.100.100:80", "[2001:db8:100::100]:80"],
 *    "dialects": {"ipv4": "v4", "ipv6": "v6"}, "strip_kinds": [28, 200, 253, 254],
 *    "flows": {"max": 65536, "used": 0},
 *    "rs": null, or with --rs-dev {"device": "rs0", "ifindex": 4, "hook": "tcx",
 *          "filters": {"ingress": true, "egress": true}, "flows": {"max": 65536, "used": 0}},
 *    "counters": {"written_v4": 0, ...one key per enum director_counter...}}
 *
 * or {"attached": false} when nothing is pinned.
 */
#ifndef TOA_DIRECTOR_H
#define TOA_DIRECTOR_H

#include <linux/types.h>

#define DIRECTOR_PIN_SUBDIR	"director"
#define DIRECTOR_FLOWS_DEFAULT	65536
#define DIRECTOR_FLOWS_MIN	1024
#define DIRECTOR_FLOWS_MAX	(16u << 20)
#define DIRECTOR_VIPS_MAX	1024

/*
 * What happened to a segment; one per-CPU counter each. Values are stable
 * (status output and tests name them through director_counter_names).
 */
enum director_counter {
	DC_WRITTEN_V4 = 0,	/* TOA written into an IPv4 client's segment */
	DC_WRITTEN_V6,		/* TOA written into an IPv6 client's segment */
	DC_MSS_CLAMPED,		/* MSS lowered in a SYN-ACK (egress) */
	DC_FORGED_STRIPPED,	/* client-supplied option of a TOA kind (or a malformed one and the rest) overwritten with NOPs */
	DC_NO_ROOM,		/* would have written, but the header or the packet has no room */
	DC_GSO,			/* would have written, but the segment is GSO (passed unchanged) */
	DC_NOT_TCP,		/* ingress packet that is not plain TCP over IPv4/IPv6 */
	DC_NOT_VIP,		/* TCP to an address:port that is not a configured VIP */
	DC_NO_FLOW,		/* no longer counted: it was every established segment (kept for stable numbering) */
	DC_HELPER_ERR,		/* a helper failed; the packet went on as it was */
	DC_FLOW_NEW,		/* SYN-ACK seen at egress: the server's ISN recorded */
	DC_FLOW_DONE,		/* the server sent data or acked the client's, or the client acked server data: flow state dropped */
	DC_FLOW_CLOSED,		/* RST or FIN: flow state dropped */
	DC_WRITTEN_FAST,	/* of the written: header moved (header-sized work) */
	DC_WRITTEN_MOVED,	/* of the written: payload moved toward the tail (segment may be CHECKSUM_PARTIAL) */
	/*
	 * Dropped: VIP-bound packets the writer cannot vouch for (the one
	 * exception to fail-open: netfilter would reassemble or walk them behind
	 * the writer's back and a client's own TOA would reach the real server).
	 */
	DC_DROP_FRAGMENT,	/* an IPv4 or IPv6 fragment of TCP (or of an extension header) to a VIP address */
	DC_DROP_HEADERS,	/* an IPv6 header chain the writer does not walk (Fragment aside), or IPsec, to a VIP address */
	DC_DROP_VLAN,		/* a frame with more VLAN tags in its data than the writer reads */
	DC_TFO_STRIPPED,	/* a client SYN's TCP Fast Open option overwritten with NOPs (the handshake becomes a normal one) */
	DC_SYN_DATA_TRIMMED,	/* data taken out of a client SYN (Fast Open without a cookie) */
	DC_DROP_SOURCE_ROUTE,	/* TCP with an IPv4 source route option or an IPv6 Routing header with segments left, to any address */
	DC_DROP_STRIP_FAILED,	/* a VIP-bound segment whose options could not be rewritten (it may hold a client's own TOA) */
	/* The real-server-facing writer (--rs-dev): */
	DC_RS_FLOW_NEW,		/* the real server's SYN-ACK to a LIP, of a connection to a VIP: flow state made from conntrack */
	DC_RS_NO_CT,		/* a real server's SYN-ACK with no conntrack entry, or one whose original destination is no VIP */
	DC_TSECR_FIXED,		/* a handshake-time segment echoed a timestamp the real server never sent (SYNPROXY's ACK): set to the server's */
	DC_MAX
};

#define DIRECTOR_COUNTER_NAMES {					\
	"written_v4", "written_v6", "mss_clamped", "forged_stripped",	\
	"no_room", "gso", "not_tcp", "not_vip", "no_flow", "helper_err",\
	"flow_new", "flow_done", "flow_closed", "written_fast",		\
	"written_moved", "dropped_fragment", "dropped_headers",		\
	"dropped_vlan", "tfo_stripped", "syn_data_trimmed",		\
	"dropped_source_route", "dropped_strip_failed", "rs_flow_new",	\
	"rs_no_conntrack", "tsecr_fixed" }

/*
 * Families in keys are TOA_FAMILY_V4 / TOA_FAMILY_V6; IPv4 addresses use the
 * first 4 bytes. The vips map holds each VIP:port (value DIRECTOR_VIP_PORT)
 * and, under port 0, each VIP address (DIRECTOR_VIP_ADDR): fragments carry
 * no port, and the drop rule asks only whether the address is a VIP's.
 */
#define DIRECTOR_VIP_PORT	1
#define DIRECTOR_VIP_ADDR	2

struct director_vip {
	__u8	family;
	__u8	pad;
	__be16	port;
	__u8	addr[16];
};

struct director_flow_key {
	__u8	family;
	__u8	pad;
	__be16	cport;		/* client port */
	__be16	vport;		/* VIP port */
	__u16	pad2;
	__u8	caddr[16];	/* client address */
	__u8	vaddr[16];	/* VIP */
};

struct director_flow {
	__u32	ack;		/* host order: the real server's ISN + 1 */
	__u32	cack;		/* host order: the client's ISN + 1 (the SYN-ACK's ack) */
};

/*
 * The real-server-facing writer's flows, keyed as the segments to the real
 * server carry them (after NAT): LIP:lport -> RIP:rport. Made from the real
 * server's SYN-ACK, which only connections the director opened draw (with
 * SYNPROXY: only validated clients), the client taken from conntrack.
 */
struct director_rsflow_key {
	__u8	family;
	__u8	pad;
	__be16	lport;		/* the director's (LIP) port */
	__be16	rport;		/* the real server's port */
	__u16	pad2;
	__u8	laddr[16];	/* LIP */
	__u8	raddr[16];	/* real server */
};

struct director_rsflow {
	__u32	ack;		/* host order: the real server's ISN + 1 */
	__u32	cack;		/* host order: the director's ISN + 1 (the SYN-ACK's ack) */
	__u32	ts_first;	/* host order: TSval of the server's first SYN-ACK */
	__u32	ts_last;	/* host order: TSval of its latest SYN-ACK */
	__u8	has_ts;		/* the SYN-ACK carried timestamps */
	__u8	pad;
	__be16	cport;		/* the client's port (conntrack's original source) */
	__u8	caddr[16];	/* the client's address */
};

/* Written by the loader into the pinned "info" map so status and detach from another process know the attachment. */
struct director_info {
	__u32	ifindex;
	__u32	flows_max;
	__u8	clsact_created;	/* attach created the clsact qdisc: detach removes it */
	__u8	dialect_v4;
	__u8	dialect_v6;
	__u8	hook;		/* enum tc_hook_kind: TC_HOOK_TCX or TC_HOOK_CLSACT */
	char	dev[16];	/* IFNAMSIZ */
	__u8	strip[32];	/* bitmap over option kinds */
	/* --rs-dev: the real-server-facing device (rs_ifindex 0: none). */
	__u32	rs_ifindex;
	__u8	rs_hook;
	__u8	rs_clsact_created;
	char	rs_dev[16];
};

#endif /* TOA_DIRECTOR_H */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The director's TOA writer: tc programs on the client-facing interface.
 *
 * egress  (VIP:port -> client, after reverse NAT): records both ISNs from the
 *         SYN-ACK and lowers its MSS by the option's length (the server's
 *         MSS sizes the client's segments, the ones that carry TOA); ends
 *         the flow at the server's first segment with data or an ACK of
 *         client data.
 * ingress (client -> VIP:port, before NAT, so the true client is visible):
 *         overwrites client-supplied TOA kinds with NOPs, and writes TOA
 *         after the fixed TCP header into every segment of a live flow
 *         whose ack is the server's ISN + 1 (the handshake ACK, and data
 *         until the server acknowledges some or speaks, retransmissions
 *         included), except SYN and RST.
 *
 * With --rs-dev two more programs run on the real-server-facing device
 * (toa_rs_ingress, toa_rs_egress: see there) for engines that build the
 * real server's handshake themselves (SYNPROXY); the client side then only
 * strips and clamps.
 *
 * Writing takes one of two ways per segment: the fast one moves only
 * headers (bpf_skb_adjust_room opens a gap before the TCP header, which
 * moves into it); the tail one moves the payload and keeps the TCP header
 * in place, the only way that is right for a CHECKSUM_PARTIAL skb, whose
 * csum_start the kernel does not move and BPF cannot. maybe_partial()
 * chooses; written_fast and written_moved count which ran.
 *
 * Everything fails open: a segment the program cannot handle goes on as it
 * came (TC_PASS) and a counter says why. One exception: a packet to a VIP
 * address that the writer cannot vouch for (a fragment, IPv6 headers it
 * does not walk, IPsec, more VLAN tags than it reads, options it failed to
 * rewrite) is dropped and counted, because netfilter would reassemble or walk
 * it behind the writer's back and the client's own TOA would reach the real
 * server. Source-routed TCP is dropped whatever its address: its route may
 * lead to a VIP after tc; so is an IPv6 packet whose Routing header the
 * walk cannot reach (in a fragment of extension headers, or past
 * EXTHDR_MAX), and a segment a helper broke halfway through the insertion.
 */
#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "toa/toa_wire.h"
#include "director.h"
#include "conntrack.bpf.h"

/*
 * Every packet goes on: TC_ACT_UNSPEC is tcx's TCX_NEXT and cls_bpf's "next
 * filter", so programs and filters attached after ours still see it.
 */
#define TC_PASS		TC_ACT_UNSPEC

/* Set by the loader before load. */
const volatile __u8 dialect_v4 = TOA_D_V4;
const volatile __u8 dialect_v6 = TOA_D_V6;
const volatile __u8 strip_kinds[32] = {};	/* bitmap over option kinds */
/*
 * --rs-dev: TOA is written on the real-server-facing device (toa_rs_*), so
 * the client side only strips and clamps, and keeps no flows: with SYNPROXY
 * its SYN-ACKs are cookies, one per SYN, spoofed ones included.
 */
const volatile __u8 rs_mode = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * DIRECTOR_VIPS_MAX);	/* each VIP:port and its address */
	__type(key, struct director_vip);
	__type(value, __u8);
} vips SEC(".maps");

/*
 * The real-server-facing writer's flows (--rs-dev). LRU like flows, but only
 * real servers' SYN-ACKs fill it: behind SYNPROXY, validated clients only.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DIRECTOR_FLOWS_DEFAULT);
	__type(key, struct director_rsflow_key);
	__type(value, struct director_rsflow);
} rsflows SEC(".maps");

/* LRU: a SYN flood evicts old handshakes instead of filling the map. Size set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DIRECTOR_FLOWS_DEFAULT);
	__type(key, struct director_flow_key);
	__type(value, struct director_flow);
} flows SEC(".maps");

#define TOA_COUNTERS_MAX	DC_MAX
#include "counters.bpf.h"

/* Not used by the programs: the loader's record of the attachment, pinned beside them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct director_info);
} info SEC(".maps");

/* Bytes after the TOA go toward the tail in chunks of this size, through a per-CPU buffer. */
#define TOA_OPT_TFO	34	/* TCP Fast Open cookie (RFC 7413) */

#define MOVE_CHUNK	512
#define MOVE_CHUNKS	32	/* at most 16 KiB of options and payload behind the insertion point */

/* The options walk's state: the options area and where the walk is in it. */
struct opt_walk {
	__u8	buf[TOA_OPTBUF];	/* the options area, changed in place */
	__u32	len;			/* its length */
	__u32	next;			/* where the next option starts */
	__u32	room;			/* lower the MSS by this (0: leave it) */
	__u32	strip;			/* overwrite strippable kinds */
	__u32	stripped;		/* options overwritten */
	__u32	syn;			/* a client's SYN: its Fast Open options go too */
	__u32	tfo;			/* Fast Open options overwritten */
	__u32	clamped;		/* MSS lowered */
	__u32	stop;			/* EOL or a malformed option: nothing more to do */
};

/*
 * Per-CPU working memory (a tc program runs start to end on one CPU).
 * Map memory, not stack: the verifier does not track its contents, so the
 * walk's state does not multiply the paths it explores.
 */
struct scratch_buf {
	struct opt_walk	w;
	__u8		move[MOVE_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch_buf);
} scratch SEC(".maps");

/* One parsed segment. */
struct seg {
	__u32 l3;		/* IP header offset */
	__u32 l4;		/* TCP header offset */
	__u32 end;		/* end of the IP packet (the skb may carry link padding after it) */
	__u8 saddr[16];		/* word-aligned: summed as 32-bit words */
	__u8 daddr[16];
	union {
		struct iphdr v4;	/* its first 20 bytes */
		struct ipv6hdr v6;
	} ip;
	struct tcphdr th;
	__u8 family;
	__u8 odd;		/* headers the fast insertion cannot move: IPv4 options, IPv6 extension headers, VLAN tags in the frame */
};

/*
 * Helper sizes: n (known at run time to be in [1, mask + 1]) in a form every
 * verifier bounds below by 1. Older verifiers (6.1) learn nothing from
 * n != 0, and clang would drop a plain re-check it can prove redundant, so n
 * first goes through an empty asm that hides what clang knows.
 */
#define BOUNDED(n, mask) ({				\
	__u64 __n = (n);				\
	asm volatile("" : "+r"(__n));			\
	(((__n - 1) & (mask)) + 1);			\
})

/* Bytes the TOA takes in the header: the option padded with a NOP to a 4-byte multiple. */
static __always_inline __u32 toa_room(__u8 family)
{
	__u32 len = toa_dialect_len(family == TOA_FAMILY_V6 ? dialect_v6 : dialect_v4);

	return (len + 3) & ~3u;
}

/* What parse() found. The last three: a packet the writer cannot vouch for. */
enum {
	SEG_TCP = 0,		/* a TCP segment, headers in struct seg */
	SEG_OTHER,		/* not TCP, or not well-formed: not ours */
	SEG_FRAGMENT,		/* a fragment of TCP or of an extension header (family and daddr set) */
	SEG_HEADERS,		/* IPv6 headers not walked, or IPsec (family and daddr set) */
	SEG_VLAN,		/* more VLAN tags in the frame than VLAN_MAX */
	SEG_SOURCE_ROUTE,	/* TCP with a source route still to follow (family and daddr set) */
	SEG_FRAGMENT_HDRS,	/* IPv6: a fragment of extension headers, where a Routing header may hide */
	SEG_HEADERS_LONG,	/* IPv6: more extension headers than EXTHDR_MAX, where one may hide */
};

/*
 * VLAN tags read in the frame. The kernel takes the outer tag of a frame off
 * before tc ingress (skb->vlan_tci), so a trunk's single-tagged frames look
 * untagged here; only inner (QinQ) tags, or tags on a device without VLAN
 * offload, are in the data.
 */
#define VLAN_MAX	2
/* IPv6 extension headers walked before the TCP header (Hop-by-Hop, Destination Options, Routing). */
#define EXTHDR_MAX	8

#define IPPROTO_HOPOPTS_	0
#define IPPROTO_ROUTING_	43
#define IPPROTO_FRAGMENT_	44
#define IPPROTO_ESP_		50
#define IPPROTO_AH_		51
#define IPPROTO_DSTOPTS_	60

/*
 * Whether an IPv6 next-header value may stand before a TCP header that the
 * kernel would find (so a packet with it, unwalked, cannot be vouched for):
 * TCP itself and every extension header IANA lists.
 */
static __always_inline bool v6_may_hide_tcp(__u8 nh)
{
	switch (nh) {
	case IPPROTO_TCP: case IPPROTO_HOPOPTS_: case IPPROTO_ROUTING_: case IPPROTO_FRAGMENT_:
	case IPPROTO_ESP_: case IPPROTO_AH_: case IPPROTO_DSTOPTS_:
	case 135: case 139: case 140: case 253: case 254:	/* Mobility, HIP, Shim6, experiments */
		return true;
	}
	return false;
}

/*
 * Whether the kernel itself walks on past nh to a Routing header: only the
 * headers it parses in place (ESP, AH and the rest need an SA or a handler
 * ending on the director, a tunnel case). Decides which unreadable chains
 * are dropped whatever their address.
 */
static __always_inline bool v6_may_hide_route(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_DSTOPTS_ || nh == IPPROTO_ROUTING_ || nh == IPPROTO_FRAGMENT_;
}

/*
 * Walks the IPv6 extension headers from s->l3 + 40 to the TCP header. The
 * ones a TCP segment may carry on its way (Hop-by-Hop, Destination Options,
 * and a Routing header with no segments left, so the destination is final)
 * are walked; a Fragment header (of TCP or of more headers), any other
 * extension header, or a chain longer than EXTHDR_MAX cannot be vouched for.
 * A Routing header with segments left makes TCP a source-routed segment,
 * whatever its destination: the kernel may forward it on to a VIP after tc.
 * So does a Routing header the walk cannot see, after a Fragment header or
 * beyond EXTHDR_MAX: those are told apart from a VIP-bound fragment or chain.
 */
static __always_inline int walk_v6(struct __sk_buff *skb, struct seg *s)
{
	__u8 nh = s->ip.v6.nexthdr, h[4];
	__u32 off = s->l3 + sizeof(struct ipv6hdr), i;
	bool routed = false;

	for (i = 0; i < EXTHDR_MAX; i++) {
		if (nh == IPPROTO_TCP)
			break;
		if (!v6_may_hide_tcp(nh))
			return SEG_OTHER;
		if (nh != IPPROTO_FRAGMENT_ && nh != IPPROTO_HOPOPTS_ && nh != IPPROTO_DSTOPTS_ && nh != IPPROTO_ROUTING_)
			goto headers;
		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
			goto headers;
		/*
		 * A fragment of TCP or of more headers (reassembly takes what the
		 * first fragment says, and that one carries the same value).
		 */
		if (nh == IPPROTO_FRAGMENT_)
			return routed ? SEG_SOURCE_ROUTE : h[0] == IPPROTO_TCP ? SEG_FRAGMENT :
			       v6_may_hide_route(h[0]) ? SEG_FRAGMENT_HDRS : v6_may_hide_tcp(h[0]) ? SEG_FRAGMENT : SEG_OTHER;
		if (nh == IPPROTO_ROUTING_ && h[3])	/* segments left: the destination is not final */
			routed = true;
		nh = h[0];
		off += (h[1] + 1) * 8;
		s->odd = 1;
	}
	if (nh != IPPROTO_TCP)
		return routed ? SEG_SOURCE_ROUTE : v6_may_hide_route(nh) ? SEG_HEADERS_LONG :
		       v6_may_hide_tcp(nh) ? SEG_HEADERS : SEG_OTHER;
	if (routed)
		return SEG_SOURCE_ROUTE;
	s->l4 = off;
	return SEG_TCP;
headers:
	return routed ? SEG_SOURCE_ROUTE : SEG_HEADERS;
}

#define IPOPT_END_	0
#define IPOPT_NOOP_	1
#define IPOPT_LSRR_	131
#define IPOPT_SSRR_	137

/*
 * Whether IPv4 options (ihl > 5) hold a loose or strict source route. The
 * kernel (accept_source_route) may send such a packet on to the next address
 * of its route, after tc: a route through a VIP address would reach the real
 * server unstripped, whatever the packet's own destination. A malformed
 * options area is the kernel's to drop (ip_options_compile), so it is not
 * ours to judge.
 */
static __always_inline bool v4_source_routed(struct __sk_buff *skb, struct seg *s)
{
	__u8 o[40] = {}, kind, len;
	__u32 n = s->ip.v4.ihl * 4 - sizeof(struct iphdr), next = 0, i;

	n = BOUNDED(n, 63);
	if (n > sizeof(o) || bpf_skb_load_bytes(skb, s->l3 + sizeof(struct iphdr), o, n))
		return false;
	for (i = 0; i < sizeof(o); i++) {
		if (i != next)
			continue;
		if (i >= n)
			break;
		kind = o[i];
		if (kind == IPOPT_END_)
			break;
		if (kind == IPOPT_NOOP_) {
			next = i + 1;
			continue;
		}
		if (kind == IPOPT_LSRR_ || kind == IPOPT_SSRR_)
			return true;
		if (i + 1 >= sizeof(o))
			break;
		len = o[i + 1];
		if (len < 2)
			break;
		next = i + len;
	}
	return false;
}

/*
 * Parses Ethernet (with up to VLAN_MAX tags in the frame), IPv4 or IPv6
 * (with the extension headers walk_v6 takes) and TCP. Headers in the skb's
 * linear part (nearly always) are read in place; bpf_skb_load_bytes is the
 * fallback.
 */
static __always_inline int parse(struct __sk_buff *skb, struct seg *s)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__be16 proto = skb->protocol;
	bool direct;
	__u32 doff, i;
	int err;

	s->l3 = ETH_HLEN;
	s->odd = 0;
	for (i = 0; i < VLAN_MAX; i++) {
		__be16 tag[2];	/* TCI, then the type it carries */

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, s->l3, tag, sizeof(tag)))
			return SEG_OTHER;
		proto = tag[1];
		s->l3 += 4;
		s->odd = 1;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return SEG_VLAN;
	direct = false;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + ETH_HLEN;

		direct = s->l3 == ETH_HLEN && (void *)(ip + 1) + sizeof(struct tcphdr) <= data_end;
		if (direct) {
			__builtin_memcpy(&s->ip.v4, ip, sizeof(*ip));
			__builtin_memcpy(&s->th, ip + 1, sizeof(s->th));
		} else if (bpf_skb_load_bytes(skb, s->l3, &s->ip.v4, sizeof(struct iphdr))) {
			return SEG_OTHER;
		}
		s->family = TOA_FAMILY_V4;
		__builtin_memset(s->saddr, 0, sizeof(s->saddr));
		__builtin_memset(s->daddr, 0, sizeof(s->daddr));
		__builtin_memcpy(s->saddr, &s->ip.v4.saddr, 4);
		__builtin_memcpy(s->daddr, &s->ip.v4.daddr, 4);
		/*
		 * The source route first: every fragment carries it (LSRR and SSRR
		 * are copied), and reassembly would hand the whole to the route.
		 */
		if ((s->ip.v4.protocol == IPPROTO_TCP || s->ip.v4.protocol == IPPROTO_ESP_ || s->ip.v4.protocol == IPPROTO_AH_) &&
		    s->ip.v4.ihl > 5 && v4_source_routed(skb, s))
			return SEG_SOURCE_ROUTE;
		if (s->ip.v4.protocol == IPPROTO_ESP_ || s->ip.v4.protocol == IPPROTO_AH_)
			return SEG_HEADERS;
		if (s->ip.v4.protocol != IPPROTO_TCP || s->ip.v4.ihl < 5)
			return SEG_OTHER;
		/* Any fragment, the first (MF set) included: reassembly would happen behind our back. */
		if (s->ip.v4.frag_off & bpf_htons(0x3fff))
			return SEG_FRAGMENT;
		s->odd |= s->ip.v4.ihl > 5;
		s->l4 = s->l3 + s->ip.v4.ihl * 4;
		s->end = s->l3 + bpf_ntohs(s->ip.v4.tot_len);
		direct = direct && s->ip.v4.ihl == 5;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + ETH_HLEN;

		direct = s->l3 == ETH_HLEN && (void *)(ip6 + 1) + sizeof(struct tcphdr) <= data_end;
		if (direct) {
			__builtin_memcpy(&s->ip.v6, ip6, sizeof(*ip6));
			__builtin_memcpy(&s->th, ip6 + 1, sizeof(s->th));
		} else if (bpf_skb_load_bytes(skb, s->l3, &s->ip.v6, sizeof(struct ipv6hdr))) {
			return SEG_OTHER;
		}
		s->family = TOA_FAMILY_V6;
		__builtin_memcpy(s->saddr, &s->ip.v6.saddr, 16);
		__builtin_memcpy(s->daddr, &s->ip.v6.daddr, 16);
		s->l4 = s->l3 + sizeof(struct ipv6hdr);
		if (s->ip.v6.nexthdr != IPPROTO_TCP) {
			err = walk_v6(skb, s);
			if (err)
				return err;
			direct = false;
		}
		s->end = s->l3 + sizeof(struct ipv6hdr) + bpf_ntohs(s->ip.v6.payload_len);
	} else {
		return SEG_OTHER;
	}
	/* A BIG TCP aggregate (GRO beyond 64 KiB) carries length 0: it ends with the skb. */
	if (s->end == s->l3 + (s->family == TOA_FAMILY_V6 ? sizeof(struct ipv6hdr) : 0) && skb->gso_size)
		s->end = skb->len;
	if (!direct && bpf_skb_load_bytes(skb, s->l4, &s->th, sizeof(s->th)))
		return SEG_OTHER;
	doff = s->th.doff * 4;
	if (doff < sizeof(struct tcphdr) || s->l4 + doff > s->end || s->end > skb->len)
		return SEG_OTHER;
	return SEG_TCP;
}

static __always_inline bool is_vip(__u8 family, const __u8 *addr, __be16 port)
{
	struct director_vip k = { .family = family, .port = port };
	__u8 *v;

	__builtin_memcpy(k.addr, addr, 16);
	v = bpf_map_lookup_elem(&vips, &k);
	return v && *v == DIRECTOR_VIP_PORT;
}

/* Whether addr is a VIP's address (on any port). */
static __always_inline bool is_vip_addr(__u8 family, const __u8 *addr)
{
	struct director_vip k = { .family = family };

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&vips, &k) != NULL;
}

static __always_inline bool strip_kind(__u8 kind, __u8 len)
{
	/* Kind 28 with length 4 is the standard User Timeout option, never TOA. */
	if (kind == TOA_OPT_UTO && len == 4)
		return false;
	return strip_kinds[(kind >> 3) & 31] & (1 << (kind & 7));
}

/*
 * The option that starts at p; 1 when the walk is over. A global function:
 * the verifier checks it once for any state, instead of once per path
 * through the options (an inlined walk has more paths than its
 * one-million-instruction budget). Its state is in the scratch map so the
 * argument is a plain number: pointer arguments of global functions need
 * Linux 5.12, this needs 5.6.
 */
__attribute__((noinline)) int director_opt_step(__u32 p)
{
	struct scratch_buf *sb;
	struct opt_walk *w;
	__u32 key = 0, end, i;
	bool tfo = false;
	__u8 kind, len;
	__u16 mss;

	sb = bpf_map_lookup_elem(&scratch, &key);
	if (!sb)
		return 1;
	w = &sb->w;
	if (w->stop || p >= w->len || p >= TOA_OPT_MAX || p != w->next)
		return 1;
	kind = w->buf[TOA_IDX(p)];
	if (kind == TOA_OPT_EOL) {
		w->stop = 1;
		return 1;
	}
	if (kind == TOA_OPT_NOP) {
		w->next = p + 1;
		return 0;
	}
	end = w->len;	/* a malformed option: it and all after it */
	w->stop = 1;
	if (p + 1 >= w->len)
		goto nops;
	len = w->buf[TOA_IDX(p + 1)];
	if (len < 2 || p + len > w->len)
		goto nops;
	w->stop = 0;
	w->next = p + len;
	if (w->room && kind == TOA_OPT_MSS && len == 4) {
		mss = (w->buf[TOA_IDX(p + 2)] << 8) | w->buf[TOA_IDX(p + 3)];
		if (mss > w->room) {
			mss -= w->room;
			w->buf[TOA_IDX(p + 2)] = mss >> 8;
			w->buf[TOA_IDX(p + 3)] = mss & 0xff;
			w->clamped = 1;
		}
		return 0;
	}
	if (!w->strip)
		return 0;
	/*
	 * A client's TCP Fast Open cookie or cookie request (kind 34, or the
	 * experimental 254 with magic 0xF989): without it the handshake is a
	 * normal one, so the real server reads TOA from the handshake ACK; with
	 * it the server would make the connection from the SYN, which never
	 * carries TOA.
	 */
	tfo = w->syn && (kind == TOA_OPT_TFO || (kind == TOA_KIND_254 && len >= 4 && w->buf[TOA_IDX(p + 2)] == 0xf9 &&
						    w->buf[TOA_IDX(p + 3)] == 0x89));
	if (!tfo && !strip_kind(kind, len))
		return 0;
	end = p + len;
nops:
	/*
	 * A strippable option, or a malformed one and the rest: TCP ignores
	 * options from a malformed one on, and no real-server parser, however
	 * it walks, can find a TOA among NOPs.
	 */
	if (!w->strip)
		return w->stop;
	for (i = 0; i < TOA_OPT_MAX; i++) {
		if (p + i >= end)
			break;
		w->buf[TOA_IDX(p + i)] = TOA_OPT_NOP;
	}
	if (tfo)
		w->tfo++;
	else
		w->stripped++;
	return w->stop;
}

/*
 * Whether the segment's options are none, or NOP NOP Timestamps (what Linux
 * and macOS put in every segment after the handshake): nothing to strip and
 * no MSS. Read in place, masked so every verifier sees the offset bounded;
 * false when it cannot tell (the slow path then reads the options).
 */
static __always_inline bool plain_options(struct __sk_buff *skb, const struct seg *s)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__u32 base = s->l4 + sizeof(struct tcphdr);
	__u8 *o;

	if (s->th.doff == 5)
		return true;
	if (s->th.doff != 8 || base >= 128)
		return false;
	o = data + (base & 0x7f);
	return (void *)(o + 4) <= data_end && o[0] == TOA_OPT_NOP && o[1] == TOA_OPT_NOP && o[2] == 8 && o[3] == 10;
}

/* What fix_options did. On FIX_CHANGED and FIX_FAILED the header may have changed: reload it. */
enum { FIX_UNCHANGED = 0, FIX_CHANGED, FIX_FAILED };

/*
 * Overwrite strippable kinds with NOPs (strip) and lower a SYN's MSS by
 * room, then store the options back with one checksum fix.
 */
static __always_inline int fix_options(struct __sk_buff *skb, struct seg *s, bool strip, __u32 room)
{
	__u8 orig[TOA_OPTBUF] = {};
	__u32 base = s->l4 + sizeof(struct tcphdr), optlen = s->th.doff * 4, p, key = 0;
	struct scratch_buf *sb;
	struct opt_walk *w;
	__s64 diff;

	if (plain_options(skb, s))
		return FIX_UNCHANGED;
	optlen = BOUNDED(optlen - sizeof(struct tcphdr), TOA_OPTBUF - 1);	/* 4..40 */
	if (bpf_skb_load_bytes(skb, base, orig, optlen))
		goto err;
	/*
	 * Fast path: NOP NOP Timestamps, what Linux and macOS put in every
	 * segment after the handshake, holds no MSS and no TOA.
	 */
	if (optlen == 12 && orig[0] == TOA_OPT_NOP && orig[1] == TOA_OPT_NOP && orig[2] == 8 && orig[3] == 10)
		return FIX_UNCHANGED;
	/*
	 * Fast path: Linux's SYN and SYN-ACK (MSS, SACK permitted, Timestamps,
	 * NOP, Window scale; the five fill all 20 bytes, so no other option
	 * hides among them): nothing to strip unless one of those kinds is to
	 * be, only the MSS to lower. A client's SYN at ingress (room 0) is done
	 * here: the walk below made its run almost three times as long.
	 */
	if (optlen == 20 && orig[0] == TOA_OPT_MSS && orig[1] == 4 && orig[4] == 4 && orig[5] == 2 &&
	    orig[6] == 8 && orig[7] == 10 && orig[16] == TOA_OPT_NOP && orig[17] == 3 && orig[18] == 3 &&
	    !(strip && (strip_kind(2, 4) || strip_kind(4, 2) || strip_kind(8, 10) || strip_kind(3, 3)))) {
		__be16 omss, nmss;

		if (!room)
			return FIX_UNCHANGED;
		__builtin_memcpy(&omss, orig + 2, 2);
		if (bpf_ntohs(omss) <= room)
			return FIX_UNCHANGED;
		nmss = bpf_htons(bpf_ntohs(omss) - room);
		if (bpf_skb_store_bytes(skb, base + 2, &nmss, 2, 0) ||
		    bpf_l4_csum_replace(skb, s->l4 + offsetof(struct tcphdr, check), omss, nmss, 2))
			goto err;
		toa_count(DC_MSS_CLAMPED);
		return FIX_CHANGED;
	}
	sb = bpf_map_lookup_elem(&scratch, &key);
	if (!sb)
		goto err;
	w = &sb->w;
	__builtin_memcpy(w->buf, orig, sizeof(orig));
	w->len = optlen;
	w->next = 0;
	w->room = room;
	w->strip = strip;
	w->syn = strip && s->th.syn;
	w->stripped = 0;
	w->tfo = 0;
	w->clamped = 0;
	w->stop = 0;
	/*
	 * One call per option, none per byte of an option's body. The call's
	 * result is tested, not dropped: a loop that ends in a call falls
	 * through into its head, a back-edge Linux 6.1's verifier refuses.
	 */
	for (p = 0; p < TOA_OPT_MAX; p++) {
		if (p >= optlen)
			break;
		if (p != w->next)
			continue;
		if (director_opt_step(p))
			break;
	}
	if (!w->stripped && !w->tfo && !w->clamped)
		return FIX_UNCHANGED;
	/* optlen is a multiple of 4 (data offset counts words), as csum_diff needs. */
	diff = bpf_csum_diff((__be32 *)orig, optlen, (__be32 *)w->buf, optlen, 0);
	if (diff < 0 || bpf_skb_store_bytes(skb, base, w->buf, optlen, 0) ||
	    bpf_l4_csum_replace(skb, s->l4 + offsetof(struct tcphdr, check), 0, diff, 0))
		goto err;
	if (w->clamped)
		toa_count(DC_MSS_CLAMPED);
	if (w->stripped)
		toa_add(DC_FORGED_STRIPPED, w->stripped);
	if (w->tfo)
		toa_add(DC_TFO_STRIPPED, w->tfo);
	return FIX_CHANGED;
err:
	return FIX_FAILED;
}

/* A 16-bit ones' complement sum of a sum of 16- or 32-bit words (in memory order, as loaded). */
static __always_inline __u16 fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* Both ones' complement zeros (0 and 0xffff) as 0, for comparing sums. */
static __always_inline __u16 canon(__u16 sum)
{
	return sum == 0xffff ? 0 : sum;
}

static __always_inline __u64 sum_words(const __u32 *w, __u32 n)
{
	__u64 sum = 0;
	__u32 i;

	for (i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

/* The pseudo header's sum without its length (addresses and protocol). */
static __always_inline __u64 pseudo_sum(const struct seg *s)
{
	if (s->family == TOA_FAMILY_V4)
		return sum_words((const __u32 *)s->saddr, 1) + sum_words((const __u32 *)s->daddr, 1) +
		       bpf_htons(IPPROTO_TCP);
	return sum_words((const __u32 *)s->saddr, 4) + sum_words((const __u32 *)s->daddr, 4) +
	       bpf_htonl(IPPROTO_TCP);
}

/* The pseudo header's length field as its words sum (16 bits in IPv4, 32 in IPv6). */
static __always_inline __u64 pseudo_len(const struct seg *s, __u32 len)
{
	return s->family == TOA_FAMILY_V4 ? bpf_htons(len) : bpf_htonl(len);
}

/*
 * Whether the segment may be CHECKSUM_PARTIAL (its sum still to be computed
 * by the NIC or the kernel from skb->csum_start). Such a segment carries in
 * th->check the folded, non-complemented pseudo-header sum: the sending
 * stack puts it there (tcp_v4_send_check, __tcp_v6_send_check) and NAT keeps
 * it so (inet_proto_csum_replace* with pseudohdr). A full checksum equals it
 * only by chance (1 in 65536), which merely costs the slower path.
 */
static __always_inline bool maybe_partial(const struct seg *s)
{
	__u16 ph = fold(pseudo_sum(s) + pseudo_len(s, s->end - s->l4));

	return canon(ph) == canon(s->th.check);
}

#define EINVAL	22

/*
 * Opens (or closes) room bytes between the IP and the TCP header. Kernels
 * that do not know BPF_F_ADJ_ROOM_NO_CSUM_RESET refuse it (-EINVAL); then
 * without it: the skb loses CHECKSUM_UNNECESSARY and the receiver verifies
 * the (right) sums itself.
 */
static __always_inline long adjust_room(struct __sk_buff *skb, __s32 room)
{
	long err = bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_NET, BPF_F_ADJ_ROOM_NO_CSUM_RESET);

	if (err == -EINVAL)
		err = bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_NET, 0);
	return err;
}

/*
 * Fast insertion, for segments that are not CHECKSUM_PARTIAL: the kernel
 * opens a gap of room zero bytes between the IP and the TCP header (moving
 * the Ethernet and IP headers toward the head, header-sized work), and one
 * store writes the IP header (new length), the fixed TCP header (moved into
 * the gap, new data offset and sum) and the option behind it. -1 leaves the
 * packet as it came.
 *
 * Checksums, all computed here:
 * - IPv4 header: the total length grows by room.
 * - th->check: the data offset word, the option's bytes, and the pseudo
 *   header's length change.
 * - A CHECKSUM_COMPLETE skb->csum (a sum over the packet's 16-bit words):
 *   the moved headers travel an even number of bytes (room is 8 or 20), so
 *   their words sum the same; the IPv4 header and the TCP bytes change by
 *   what their own checksum fields balance, except the pseudo header's
 *   length, which is in no byte: bpf_csum_update takes it off (it does
 *   nothing to other skbs).
 * - CHECKSUM_UNNECESSARY stays (adjust_room()): the sums stay right, so
 *   what the receiver (or its NIC) verified stays verified.
 * The skb is not GSO (write_toa passed those on), so no gso_size changes.
 */
static __always_inline int insert_fast(struct __sk_buff *skb, struct seg *s, const __u8 *opt, __u32 room)
{
	union {
		struct {
			struct iphdr	ip;
			struct tcphdr	th;
			__u8		opt[20];
		} v4;
		struct {
			struct ipv6hdr	ip;
			struct tcphdr	th;
			__u8		opt[20];
		} v6;
	} out;
	struct tcphdr *th;
	__u32 l4len = s->end - s->l4, w12_old, w12_new, size;
	__u64 sum, dlen;

	/* The pseudo header's length, as a sum of words: + new - old. */
	dlen = pseudo_len(s, l4len + room) + (__u16)~fold(pseudo_len(s, l4len));
	if (s->family == TOA_FAMILY_V4) {
		__u16 olen = s->ip.v4.tot_len;

		out.v4.ip = s->ip.v4;
		out.v4.ip.tot_len = bpf_htons(bpf_ntohs(olen) + room);
		out.v4.ip.check = ~fold((__u16)~s->ip.v4.check + (__u16)~olen + out.v4.ip.tot_len);
		th = &out.v4.th;
		__builtin_memcpy(out.v4.opt, opt, 20);
		size = sizeof(struct iphdr) + sizeof(struct tcphdr) + room;
	} else {
		out.v6.ip = s->ip.v6;
		out.v6.ip.payload_len = bpf_htons(l4len + room);
		th = &out.v6.th;
		__builtin_memcpy(out.v6.opt, opt, 20);
		size = sizeof(struct ipv6hdr) + sizeof(struct tcphdr) + room;
	}
	*th = s->th;
	((__u8 *)th)[12] += (room / 4) << 4;
	__builtin_memcpy(&w12_old, (__u8 *)&s->th + 12, 4);
	__builtin_memcpy(&w12_new, (__u8 *)th + 12, 4);
	/* th->check = ~(~check - old word + new word + option + length change) */
	sum = (__u16)~s->th.check + (__u64)~w12_old + w12_new + dlen + sum_words((const __u32 *)opt, 2);
	if (room == 20)
		sum += sum_words((const __u32 *)opt + 2, 3);
	th->check = ~fold(sum);

	if (adjust_room(skb, room))
		return -1;
	if (bpf_skb_store_bytes(skb, s->l3, &out, size, 0)) {
		/* Nothing written yet: close the gap again (if that fails, the packet is broken). */
		return adjust_room(skb, -(__s32)room) ? -2 : -1;
	}
	/*
	 * CHECKSUM_COMPLETE only (bpf_csum_update does nothing to other skbs):
	 * the TCP bytes' sum moved by minus the pseudo header's length change.
	 * In IPv6 the payload length field moved by the same amount (the
	 * pseudo header's length is that field's value), so the packet's sum is
	 * unchanged; in IPv4 the total length is balanced by the header sum,
	 * so skb->csum loses the length change.
	 */
	if (s->family == TOA_FAMILY_V4)
		bpf_csum_update(skb, ~fold(dlen) & 0xffff);
	return 0;
}

/*
 * Safe insertion, for any skb: the bytes behind the fixed TCP header (the
 * remaining options and the payload) move toward the tail, so the TCP
 * header keeps its place: a CHECKSUM_PARTIAL skb's csum_start still points
 * at it, which moving the header would break and a BPF program cannot
 * repair. Costs O(payload): the kernel linearizes the skb, and the bytes go
 * through a buffer. 1: no room for the move (counted), -1: the packet is
 * left as it came, -2: the packet is broken.
 */
static __always_inline int insert_moved(struct __sk_buff *skb, struct seg *s, const __u8 *opt, __u32 room)
{
	__u32 start = s->l4 + sizeof(struct tcphdr), rem, at, i, full, n;
	__u32 csum_off = s->l4 + offsetof(struct tcphdr, check), key = 0;
	__u16 word, nword;
	struct scratch_buf *mb;
	__s64 diff;

	rem = s->end - start;
	if (rem > MOVE_CHUNK * MOVE_CHUNKS) {
		toa_count(DC_NO_ROOM);
		return 1;
	}
	mb = bpf_map_lookup_elem(&scratch, &key);
	if (!mb)
		return -1;

	/* Grow to exactly the IP packet plus the room (drops any link-layer padding). */
	if (bpf_skb_change_tail(skb, s->end + room, 0))
		return -1;
	/*
	 * Highest chunk first, so nothing is overwritten before it moved. Whole
	 * chunks in the loop and the remainder after it: a loop body without
	 * data-dependent branches keeps the verifier's paths linear.
	 */
	full = rem / MOVE_CHUNK;
	for (i = 0; i < MOVE_CHUNKS; i++) {
		if (i >= full)
			break;
		at = start + rem - (i + 1) * MOVE_CHUNK;
		if (bpf_skb_load_bytes(skb, at, mb->move, MOVE_CHUNK) ||
		    bpf_skb_store_bytes(skb, at + room, mb->move, MOVE_CHUNK, 0))
			return -2;
	}
	n = rem & (MOVE_CHUNK - 1);
	if (n) {
		n = BOUNDED(n, MOVE_CHUNK - 1);
		if (bpf_skb_load_bytes(skb, start, mb->move, n) ||
		    bpf_skb_store_bytes(skb, start + room, mb->move, n, 0))
			return -2;
	}
	if (bpf_skb_store_bytes(skb, start, opt, room, 0))
		return -2;

	/* Data offset grows by room / 4 words; the sum covers it and the option's bytes. */
	__builtin_memcpy(&word, (__u8 *)&s->th + 12, 2);
	nword = word;
	((__u8 *)&nword)[0] += (room / 4) << 4;
	if (bpf_skb_store_bytes(skb, s->l4 + 12, &nword, 2, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, word, nword, 2))
		return -2;
	diff = bpf_csum_diff(NULL, 0, (__be32 *)opt, room, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, diff, 0))
		return -2;
	return 0;
}

/*
 * After the tail insertion: the IP header's length (and IPv4 header sum) and
 * the pseudo header's length in th->check. BPF_F_PSEUDO_HDR also moves a
 * CHECKSUM_COMPLETE skb->csum by the pseudo header's change, the one change
 * to the packet's bytes that th->check does not balance.
 */
static __always_inline int lengths(struct __sk_buff *skb, struct seg *s, __u32 room)
{
	__u32 csum_off = s->l4 + offsetof(struct tcphdr, check), l4len = s->end - s->l4;

	if (s->family == TOA_FAMILY_V4) {
		__be16 olen = bpf_htons(s->end - s->l3), nlen = bpf_htons(s->end - s->l3 + room);

		if (bpf_l4_csum_replace(skb, csum_off, bpf_htons(l4len), bpf_htons(l4len + room),
					BPF_F_PSEUDO_HDR | 2) ||
		    bpf_skb_store_bytes(skb, s->l3 + offsetof(struct iphdr, tot_len), &nlen, 2, 0) ||
		    bpf_l3_csum_replace(skb, s->l3 + offsetof(struct iphdr, check), olen, nlen, 2))
			return -1;
	} else {
		/* The payload length counts the extension headers too. */
		__be16 nlen = bpf_htons(s->end - s->l3 - sizeof(struct ipv6hdr) + room);

		if (bpf_l4_csum_replace(skb, csum_off, bpf_htonl(l4len), bpf_htonl(l4len + room),
					BPF_F_PSEUDO_HDR | 4) ||
		    bpf_skb_store_bytes(skb, s->l3 + offsetof(struct ipv6hdr, payload_len), &nlen, 2, 0))
			return -1;
	}
	return 0;
}

/*
 * Inserts the TOA (cport, caddr: the client, of the segment's family) right
 * after the fixed TCP header, by the fast way when the segment allows it.
 * TC_ACT_SHOT when a helper failed halfway: the packet is no longer what the
 * client sent, nor a segment we vouch for.
 */
static __always_inline int write_toa(struct __sk_buff *skb, struct seg *s, __u32 room, __be16 cport,
				     const __u8 *caddr)
{
	__u8 opt[32] __attribute__((aligned(4))) = {};	/* summed as 32-bit words */
	__u8 d = s->family == TOA_FAMILY_V6 ? dialect_v6 : dialect_v4;
	int err;

	room &= 0x1c;	/* 8 or 20: masked so the verifier sees the stores bounded */
	if (room != 8 && room != 20)
		goto err;
	if (s->th.doff * 4 + room > 60) {
		toa_count(DC_NO_ROOM);
		return TC_PASS;
	}
	if (skb->gso_size) {
		toa_count(DC_GSO);
		return TC_PASS;
	}
	/* Odd-length dialects (cdn, cdn6) lead with a NOP so the option area stays word-sized. */
	if (toa_dialect_len(d) & 3) {
		opt[0] = TOA_OPT_NOP;
		toa_encode(d, cport, caddr, opt + 1);
	} else {
		toa_encode(d, cport, caddr, opt);
	}
	/*
	 * The gap bpf_skb_adjust_room opens sits right after the fixed IP header
	 * (20 or 40 bytes after it starts, options, extension headers or not),
	 * behind the Ethernet header the kernel knows of (tags in the frame aside).
	 */
	err = s->odd || maybe_partial(s) ? -1 : insert_fast(skb, s, opt, room);
	if (err == -2)
		goto broken;
	if (!err) {
		toa_count(DC_WRITTEN_FAST);
	} else {
		err = insert_moved(skb, s, opt, room);
		if (err == 1)
			return TC_PASS;
		if (err == -1)
			goto err;
		if (err || lengths(skb, s, room))
			goto broken;
		toa_count(DC_WRITTEN_MOVED);
	}
	toa_count(s->family == TOA_FAMILY_V4 ? DC_WRITTEN_V4 : DC_WRITTEN_V6);
	return TC_PASS;
broken:
	/*
	 * Helpers only fail here on memory trouble after the packet grew: dropped
	 * (TCP retransmits) rather than left to the receiver's checksum.
	 */
	toa_count(DC_HELPER_ERR);
	return TC_ACT_SHOT;
err:
	toa_count(DC_HELPER_ERR);
	return TC_PASS;
}

/*
 * Takes the data out of a client's SYN (TCP Fast Open without a cookie, which
 * a server with tcp_fastopen bit 0x200 accepts): the server then answers with
 * a normal handshake, the client sends the data again after it, and the
 * real server reads TOA from the handshake ACK. Checksums: th->check loses
 * the data's sum (a CHECKSUM_PARTIAL skb keeps its pseudo header sum there,
 * which bpf_l4_csum_replace leaves alone) and follows the length in the
 * pseudo header; the trim (bpf_skb_change_tail) makes a CHECKSUM_COMPLETE
 * skb CHECKSUM_NONE, so its skb->csum no longer counts.
 */
static __always_inline int trim_syn(struct __sk_buff *skb, struct seg *s)
{
	__u32 hlen = s->l4 + s->th.doff * 4, plen = s->end - hlen, l4len = s->end - s->l4, key = 0, i, at, n;
	__u32 csum_off = s->l4 + offsetof(struct tcphdr, check);
	struct scratch_buf *mb;
	__s64 sum = 0;

	if (plen > MOVE_CHUNK * 4)	/* a SYN holds at most one MSS of data */
		return -1;
	mb = bpf_map_lookup_elem(&scratch, &key);
	if (!mb)
		return -1;
	for (i = 0; i < 4; i++) {
		at = i * MOVE_CHUNK;
		if (at >= plen)
			break;
		n = plen - at;
		if (n > MOVE_CHUNK)
			n = MOVE_CHUNK;
		n = BOUNDED(n, MOVE_CHUNK - 1);
		__builtin_memset(mb->move + ((n - 1) & ~3u & (MOVE_CHUNK - 1)), 0, 4);	/* the last word's pad */
		if (bpf_skb_load_bytes(skb, hlen + at, mb->move, n))
			return -1;
		/* Chunks start at even offsets of the segment, so their sums add up. */
		n = BOUNDED((n + 3) & ~3u, MOVE_CHUNK - 1);	/* whole words: the pad is zero */
		sum = bpf_csum_diff((__be32 *)mb->move, n, NULL, 0, sum);	/* minus the data's sum */
		if (sum < 0)
			return -1;
	}
	if (bpf_l4_csum_replace(skb, csum_off, 0, sum, 0))
		return -1;
	if (s->family == TOA_FAMILY_V4) {
		__be16 olen = bpf_htons(s->end - s->l3), nlen = bpf_htons(hlen - s->l3);

		if (bpf_l4_csum_replace(skb, csum_off, bpf_htons(l4len), bpf_htons(l4len - plen), BPF_F_PSEUDO_HDR | 2) ||
		    bpf_skb_store_bytes(skb, s->l3 + offsetof(struct iphdr, tot_len), &nlen, 2, 0) ||
		    bpf_l3_csum_replace(skb, s->l3 + offsetof(struct iphdr, check), olen, nlen, 2))
			return -1;
	} else {
		__be16 nlen = bpf_htons(hlen - s->l3 - sizeof(struct ipv6hdr));

		if (bpf_l4_csum_replace(skb, csum_off, bpf_htonl(l4len), bpf_htonl(l4len - plen), BPF_F_PSEUDO_HDR | 4) ||
		    bpf_skb_store_bytes(skb, s->l3 + offsetof(struct ipv6hdr, payload_len), &nlen, 2, 0))
			return -1;
	}
	return bpf_skb_change_tail(skb, hlen, 0) ? -1 : 0;
}

/*
 * The flow bookkeeping both writers share: whether this client segment of a
 * flow still gets TOA (it acks exactly the server's ISN + 1). A RST ends the
 * flow; so does an ack past that (the client saw server data): no later
 * segment gets TOA. map and key are the caller's flow map and its key.
 */
static __always_inline bool flow_writes(void *map, const void *key, __u32 flow_ack, const struct tcphdr *th)
{
	__u32 ack = bpf_ntohl(th->ack_seq);

	if (th->rst) {
		bpf_map_delete_elem(map, key);
		toa_count(DC_FLOW_CLOSED);
		return false;
	}
	if (ack == flow_ack)
		return true;
	if ((__s32)(ack - flow_ack) > 0) {
		bpf_map_delete_elem(map, key);
		toa_count(DC_FLOW_DONE);
	}
	return false;
}

SEC("tc")
int toa_ingress(struct __sk_buff *skb)
{
	struct director_flow_key k = {};
	struct director_flow *f = NULL;
	struct seg s;

	switch (parse(skb, &s)) {
	case SEG_TCP:
		break;
	case SEG_FRAGMENT:
		if (!is_vip_addr(s.family, s.daddr))
			goto not_tcp;
		toa_count(DC_DROP_FRAGMENT);
		return TC_ACT_SHOT;
	case SEG_HEADERS:
		if (!is_vip_addr(s.family, s.daddr))
			goto not_tcp;
		toa_count(DC_DROP_HEADERS);
		return TC_ACT_SHOT;
	case SEG_VLAN:
		toa_count(DC_DROP_VLAN);
		return TC_ACT_SHOT;
	case SEG_SOURCE_ROUTE:
		/* Any destination: the route may lead to a VIP after tc. */
		toa_count(DC_DROP_SOURCE_ROUTE);
		return TC_ACT_SHOT;
	case SEG_FRAGMENT_HDRS:	/* any destination: a Routing header may be in the fragments */
		toa_count(DC_DROP_FRAGMENT);
		return TC_ACT_SHOT;
	case SEG_HEADERS_LONG:	/* any destination: a Routing header may be past EXTHDR_MAX */
		toa_count(DC_DROP_HEADERS);
		return TC_ACT_SHOT;
	default:
		goto not_tcp;
	}
	k.family = s.family;
	k.cport = s.th.source;
	k.vport = s.th.dest;
	__builtin_memcpy(k.caddr, s.saddr, 16);
	__builtin_memcpy(k.vaddr, s.daddr, 16);
	/* Flows are only ever made for VIPs (never in rs_mode): one that exists spares the VIP lookup. */
	if (!rs_mode && !s.th.syn && s.th.ack)
		f = bpf_map_lookup_elem(&flows, &k);
	/*
	 * Most segments: past the handshake, with nothing to strip. Whether the
	 * destination is a VIP changes nothing for them, so without a flow they
	 * pass on one lookup (and are not counted in not_vip).
	 */
	if (!s.th.syn && plain_options(skb, &s)) {
		if (!f)
			return TC_PASS;
		goto flow;
	}
	if (!f && !is_vip(s.family, s.daddr, s.th.dest)) {
		/*
		 * Another port of a VIP address gets no TOA but is stripped all the
		 * same: the engine may forward ports the writer was not told of
		 * (DNAT by address, IPVS port 0 or fwmark services).
		 */
		if (is_vip_addr(s.family, s.daddr) && fix_options(skb, &s, true, 0) == FIX_FAILED)
			goto strip_failed;
		toa_count(DC_NOT_VIP);
		return TC_PASS;
	}
	/* Strip only: the SYN's MSS sizes the server's segments, which never carry TOA. */
	switch (fix_options(skb, &s, true, 0)) {
	case FIX_FAILED:
		goto strip_failed;
	case FIX_CHANGED:
		if (bpf_skb_load_bytes(skb, s.l4, &s.th, sizeof(s.th)))
			goto strip_failed;
	}
	if (s.th.syn && !s.th.ack && s.end > s.l4 + s.th.doff * 4u) {
		if (trim_syn(skb, &s))
			toa_count(DC_HELPER_ERR);
		else
			toa_count(DC_SYN_DATA_TRIMMED);
		return TC_PASS;
	}
	/* No flow: the handshake, a flow already done (the normal case) or evicted. Not counted: that is every segment. */
	if (!f)
		return TC_PASS;
flow:
	if (!flow_writes(&flows, &k, f->ack, &s.th))
		return TC_PASS;
	if (write_toa(skb, &s, toa_room(s.family), s.th.source, s.saddr) == TC_ACT_SHOT)
		return TC_ACT_SHOT;
	if (s.th.fin) {
		bpf_map_delete_elem(&flows, &k);
		toa_count(DC_FLOW_CLOSED);
	}
	return TC_PASS;
not_tcp:
	toa_count(DC_NOT_TCP);
	return TC_PASS;
strip_failed:
	/* A client's own option may still be in it: it must not reach the real server. */
	toa_count(DC_DROP_STRIP_FAILED);
	return TC_ACT_SHOT;
}

/*
 * Egress: the real server's segments to the client, after reverse NAT. A
 * SYN-ACK from a VIP starts a flow (the server's ISN + 1, the client's ISN + 1)
 * and gets its MSS lowered; the first later segment that carries data or
 * acknowledges client data ends it (the real server has what it needs by
 * then: the ACKed segments carried TOA); a RST ends it too.
 */
SEC("tc")
int toa_egress(struct __sk_buff *skb)
{
	struct director_flow_key k = {};
	struct director_flow nf = {}, *f;
	struct seg s;

	if (parse(skb, &s) != SEG_TCP || !s.th.ack)
		return TC_PASS;
	k.family = s.family;
	k.cport = s.th.dest;
	k.vport = s.th.source;
	__builtin_memcpy(k.caddr, s.daddr, 16);
	__builtin_memcpy(k.vaddr, s.saddr, 16);
	if (!s.th.syn) {
		if (rs_mode)	/* no flows on this side */
			return TC_PASS;
		/* The director's own traffic leaves here too: without a flow, not ours (and not counted). */
		f = bpf_map_lookup_elem(&flows, &k);
		if (!f)
			return TC_PASS;
		if (s.th.rst) {
			bpf_map_delete_elem(&flows, &k);
			toa_count(DC_FLOW_CLOSED);
		} else if (s.end - s.l4 > s.th.doff * 4u || bpf_ntohl(s.th.ack_seq) != f->cack) {
			bpf_map_delete_elem(&flows, &k);
			toa_count(DC_FLOW_DONE);
		}
		return TC_PASS;
	}
	if (s.th.rst || !is_vip(s.family, s.saddr, s.th.source))
		return TC_PASS;
	if (fix_options(skb, &s, false, toa_room(s.family)) == FIX_FAILED)
		toa_count(DC_HELPER_ERR);	/* the MSS stays: the client's segments may not fit with a TOA */
	if (rs_mode)
		return TC_PASS;
	nf.ack = bpf_ntohl(s.th.seq) + 1;
	nf.cack = bpf_ntohl(s.th.ack_seq);
	if (bpf_map_update_elem(&flows, &k, &nf, BPF_ANY))
		toa_count(DC_HELPER_ERR);
	else
		toa_count(DC_FLOW_NEW);
	return TC_PASS;
}

/*
 * The real-server-facing writer (--rs-dev): for engines that build the real
 * server's handshake themselves (the kernel's SYNPROXY answers the client
 * with a cookie, then opens its own connection to the real server, whose
 * SYN and ACK are made on the director and leave by the real-server-facing
 * device: the client-side ingress never sees them). Here every segment has
 * been through netfilter (NAT, SYNPROXY's sequence translation), so:
 *
 * rs ingress (RIP:rport -> LIP:lport, before netfilter): the real server's
 *         SYN-ACK starts a flow; the client is conntrack's original source
 *         (bpf_skb_ct_lookup), never anything in a packet, and only when
 *         the original destination is a VIP:port. The server's data or its
 *         ACK of client data ends the flow.
 * rs egress (LIP:lport -> RIP:rport): TOA into the ACK that completes the
 *         real server's handshake and every later segment with the server's
 *         ISN + 1 as ack (retransmissions included), as the client-side
 *         writer does; never SYN or RST.
 *
 * A spoofed SYN draws a cookie from SYNPROXY and never reaches a real
 * server, so it makes no state here.
 */

#define TCPOPT_TS	8
#define TCPOLEN_TS	10

/* Offset in the skb of the Timestamps option's TSval (TSecr follows), or 0. */
static __always_inline __u32 find_ts(struct __sk_buff *skb, const struct seg *s)
{
	__u8 o[40] = {}, kind, len;
	__u32 n = s->th.doff * 4 - sizeof(struct tcphdr), next = 0, i, base = s->l4 + sizeof(struct tcphdr);

	if (!n)
		return 0;
	n = BOUNDED(n, 63);
	if (n > sizeof(o) || bpf_skb_load_bytes(skb, base, o, n))
		return 0;
	for (i = 0; i < sizeof(o); i++) {
		if (i != next)
			continue;
		if (i >= n)
			break;
		kind = o[i];
		if (kind == TOA_OPT_EOL)
			break;
		if (kind == TOA_OPT_NOP) {
			next = i + 1;
			continue;
		}
		if (i + 1 >= sizeof(o))
			break;
		len = o[i + 1];
		if (len < 2 || i + len > n)
			break;
		if (kind == TCPOPT_TS && len == TCPOLEN_TS)
			return base + i + 2;
		next = i + len;
	}
	return 0;
}

/* Whether a is within [lo, hi] in sequence space (timestamps wrap). */
static __always_inline bool ts_between(__u32 a, __u32 lo, __u32 hi)
{
	return hi - lo >= a - lo;
}

/*
 * The client of the connection that a real server's segment s belongs to:
 * the original source of its conntrack entry, when the original
 * destination is a VIP:port of ours. The segment (RIP -> LIP) matches the
 * entry's reply tuple.
 */
static __always_inline bool ct_client(struct __sk_buff *skb, const struct seg *s, struct director_rsflow *f)
{
	struct bpf_ct_opts___toa o = { .netns_id = CT_NETNS_CURRENT, .l4proto = IPPROTO_TCP };
	struct bpf_sock_tuple t = {};
	struct nf_conn *ct;
	__u8 vaddr[16] = {};
	__be16 vport;
	__u32 tsz;
	__u16 l3;

	if (s->family == TOA_FAMILY_V4) {
		t.ipv4.saddr = s->ip.v4.saddr;
		t.ipv4.daddr = s->ip.v4.daddr;
		t.ipv4.sport = s->th.source;
		t.ipv4.dport = s->th.dest;
		tsz = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, s->saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, s->daddr, 16);
		t.ipv6.sport = s->th.source;
		t.ipv6.dport = s->th.dest;
		tsz = sizeof(t.ipv6);
	}
	ct = bpf_skb_ct_lookup(skb, &t, tsz, &o, CT_OPTS_SZ);
	if (!ct)
		return false;
	l3 = ct->tuplehash[CT_DIR_ORIGINAL].tuple.src.l3num;
	__builtin_memcpy(f->caddr, ct->tuplehash[CT_DIR_ORIGINAL].tuple.src.u3.all, 16);
	f->cport = ct->tuplehash[CT_DIR_ORIGINAL].tuple.src.u.all;
	__builtin_memcpy(vaddr, ct->tuplehash[CT_DIR_ORIGINAL].tuple.dst.u3.all, 16);
	vport = ct->tuplehash[CT_DIR_ORIGINAL].tuple.dst.u.all;
	bpf_ct_release(ct);
	/* Same family both sides (AF_INET 2, AF_INET6 10): the TOA's dialect is the segment's family's. */
	if (l3 != (s->family == TOA_FAMILY_V4 ? 2 : 10))
		return false;
	if (s->family == TOA_FAMILY_V4) {
		__builtin_memset(f->caddr + 4, 0, 12);
		__builtin_memset(vaddr + 4, 0, 12);
	}
	return is_vip(s->family, vaddr, vport);
}

SEC("tc")
int toa_rs_ingress(struct __sk_buff *skb)
{
	struct director_rsflow_key k = {};
	struct director_rsflow nf = {}, *f;
	struct seg s;
	__u32 ts;

	if (parse(skb, &s) != SEG_TCP || !s.th.ack)
		return TC_PASS;
	k.family = s.family;
	k.lport = s.th.dest;
	k.rport = s.th.source;
	__builtin_memcpy(k.laddr, s.daddr, 16);
	__builtin_memcpy(k.raddr, s.saddr, 16);
	f = bpf_map_lookup_elem(&rsflows, &k);
	if (!s.th.syn) {
		if (!f)
			return TC_PASS;
		if (s.th.rst) {
			bpf_map_delete_elem(&rsflows, &k);
			toa_count(DC_FLOW_CLOSED);
		} else if (s.end - s.l4 > s.th.doff * 4u || bpf_ntohl(s.th.ack_seq) != f->cack) {
			/* The server speaks or acknowledges client data: it has read the TOA. */
			bpf_map_delete_elem(&rsflows, &k);
			toa_count(DC_FLOW_DONE);
		}
		return TC_PASS;
	}
	if (s.th.rst)
		return TC_PASS;
	ts = find_ts(skb, &s);
	if (f) {
		/* A retransmitted SYN-ACK: its TSval is one the client side may echo too. */
		__be32 v;

		if (f->has_ts && ts && !bpf_skb_load_bytes(skb, ts, &v, 4))
			f->ts_last = bpf_ntohl(v);
		return TC_PASS;
	}
	if (!ct_client(skb, &s, &nf)) {
		toa_count(DC_RS_NO_CT);
		return TC_PASS;
	}
	nf.ack = bpf_ntohl(s.th.seq) + 1;
	nf.cack = bpf_ntohl(s.th.ack_seq);
	if (ts) {
		__be32 v;

		if (!bpf_skb_load_bytes(skb, ts, &v, 4)) {
			nf.ts_first = nf.ts_last = bpf_ntohl(v);
			nf.has_ts = 1;
		}
	}
	if (bpf_map_update_elem(&rsflows, &k, &nf, BPF_ANY))
		toa_count(DC_HELPER_ERR);
	else
		toa_count(DC_RS_FLOW_NEW);
	return TC_PASS;
}

/*
 * SYNPROXY's ACK to the real server echoes a wrong timestamp: the kernel
 * builds it with the server's TSval as TSecr, then its own hook shifts that
 * by the client-to-server timestamp offset as if it came from the client
 * (nf_synproxy_core.c, synproxy_tstamp_adjust). Real servers that check
 * TSecr in SYN_RECV (those counting TcpExtTSEcrRejected; 6.18 does) refuse
 * such an ACK and retransmit the SYN-ACK a second later. Before the server has spoken, every right TSecr is one of
 * its SYN-ACKs' TSvals; one outside them is set to the latest.
 */
static __always_inline void fix_tsecr(struct __sk_buff *skb, struct seg *s, const struct director_rsflow *f)
{
	__u32 off = find_ts(skb, s), ecr;
	__be32 old, new;

	if (!off || bpf_skb_load_bytes(skb, off + 4, &old, 4))
		return;
	ecr = bpf_ntohl(old);
	if (ts_between(ecr, f->ts_first, f->ts_last))
		return;
	new = bpf_htonl(f->ts_last);
	if (bpf_skb_store_bytes(skb, off + 4, &new, 4, 0) ||
	    bpf_l4_csum_replace(skb, s->l4 + offsetof(struct tcphdr, check), old, new, 4) ||
	    bpf_skb_load_bytes(skb, s->l4, &s->th, sizeof(s->th))) {
		toa_count(DC_HELPER_ERR);
		return;
	}
	toa_count(DC_TSECR_FIXED);
}

SEC("tc")
int toa_rs_egress(struct __sk_buff *skb)
{
	struct director_rsflow_key k = {};
	struct director_rsflow *f;
	struct seg s;

	if (parse(skb, &s) != SEG_TCP || !s.th.ack || s.th.syn)
		return TC_PASS;
	k.family = s.family;
	k.lport = s.th.source;
	k.rport = s.th.dest;
	__builtin_memcpy(k.laddr, s.saddr, 16);
	__builtin_memcpy(k.raddr, s.daddr, 16);
	f = bpf_map_lookup_elem(&rsflows, &k);
	if (!f)
		return TC_PASS;
	if (!flow_writes(&rsflows, &k, f->ack, &s.th))
		return TC_PASS;
	if (f->has_ts)
		fix_tsecr(skb, &s, f);
	if (write_toa(skb, &s, toa_room(s.family), f->cport, f->caddr) == TC_ACT_SHOT)
		return TC_ACT_SHOT;
	if (s.th.fin) {
		bpf_map_delete_elem(&rsflows, &k);
		toa_count(DC_FLOW_CLOSED);
	}
	return TC_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

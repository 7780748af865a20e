/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The part of conntrack the real-server-side writer reads: the kfuncs that
 * look an entry up from a tc program (Linux 5.18; nf_conntrack must be
 * loaded) and the fields of struct nf_conn that give the original tuple.
 *
 * No vmlinux.h: the structs below name only the fields read, and
 * preserve_access_index makes libbpf relocate each access against the
 * running kernel's BTF (CO-RE), so one object fits 6.1 and 6.18 alike.
 */
#ifndef TOA_DIRECTOR_CONNTRACK_BPF_H
#define TOA_DIRECTOR_CONNTRACK_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

union nf_inet_addr {
	__u32 all[4];
} __attribute__((preserve_access_index));

union nf_conntrack_man_proto {
	__be16 all;
} __attribute__((preserve_access_index));

struct nf_conntrack_man {
	union nf_inet_addr u3;
	union nf_conntrack_man_proto u;
	__u16 l3num;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple {
	struct nf_conntrack_man src;
	struct {
		union nf_inet_addr u3;
		union {
			__be16 all;
		} u;
	} dst;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple_hash {
	struct nf_conntrack_tuple tuple;
} __attribute__((preserve_access_index));

struct nf_conn {
	struct nf_conntrack_tuple_hash tuplehash[2];	/* IP_CT_DIR_ORIGINAL, IP_CT_DIR_REPLY */
} __attribute__((preserve_access_index));

/*
 * The lookup's options as Linux 6.1 defines them (12 bytes, a size every
 * later kernel still accepts; later ones append zone fields).
 */
struct bpf_ct_opts___toa {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

#define CT_OPTS_SZ		12
#define CT_NETNS_CURRENT	(-1)
#define CT_DIR_ORIGINAL		0

/*
 * Weak: an object that references them still loads where conntrack is
 * absent, as long as the programs that call them are not loaded (the
 * loader loads them only for --rs-dev).
 */
extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb, struct bpf_sock_tuple *tuple, __u32 tuple__sz,
					 struct bpf_ct_opts___toa *opts, __u32 opts__sz) __ksym __weak;
extern void bpf_ct_release(struct nf_conn *ct) __ksym __weak;

#endif /* TOA_DIRECTOR_CONNTRACK_BPF_H */

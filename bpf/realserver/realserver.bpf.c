// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Real server: read TOA into socket storage (sockops), hand it to the
 * application through getpeername() (cgroup/getpeername4, getpeername6).
 *
 * Needs Linux 5.10 (sockops skb_data and header-option callbacks); the rest
 * is older: bounded loops 5.3, global functions with scalar arguments 5.6,
 * cgroup bpf links 5.7, getpeername hooks 5.8, sk_storage 5.2 (from sockops
 * and sock_addr programs: see README.md), the records iterator 5.9.
 * Only UAPI context structs, so no vmlinux.h; the records iterator alone uses
 * kernel BTF (CO-RE) and is optional.
 */
#include <linux/bpf.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TOA_BPF_PARSER		/* the parser's map and step function (toa_wire.h) */
#include "toa/toa_wire.h"
#include "toa/toa_record.h"
#include "realserver.h"

#define AF_INET		2
#define AF_INET6	10

/* Dialects accepted, set by the loader before load. */
const volatile __u32 accept_mask = TOA_ACCEPT_DEFAULT;

/* The record per socket; the node package looks it up by fd. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct toa_record);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct rs_trust4_key);
	__type(value, __u8);
} trust4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct rs_trust6_key);
	__type(value, __u8);
} trust6 SEC(".maps");

#define TOA_COUNTERS_MAX	RS_C_MAX
#include "counters.bpf.h"

/* Written by the loader only (status reads it back); programs never touch it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rs_config);
} config SEC(".maps");

/* Is the socket's peer (the segment's source) in the trust list? */
static __always_inline int trusted(struct bpf_sock_ops *skops)
{
	struct rs_trust4_key k4 = { .prefixlen = 32 };
	struct rs_trust6_key k6 = { .prefixlen = 128 };
	__u32 w0, w1, w2, w3;

	if (skops->family == AF_INET) {
		__u32 a = skops->remote_ip4;

		__builtin_memcpy(k4.addr, &a, 4);
		return bpf_map_lookup_elem(&trust4, &k4) != NULL;
	}
	w0 = skops->remote_ip6[0];
	w1 = skops->remote_ip6[1];
	w2 = skops->remote_ip6[2];
	w3 = skops->remote_ip6[3];
	/* An IPv4 peer of a dual-stack socket is judged by the IPv4 list. */
	if (!w0 && !w1 && w2 == bpf_htonl(0xffff)) {
		__builtin_memcpy(k4.addr, &w3, 4);
		return bpf_map_lookup_elem(&trust4, &k4) != NULL;
	}
	__builtin_memcpy(&k6.addr[0], &w0, 4);
	__builtin_memcpy(&k6.addr[4], &w1, 4);
	__builtin_memcpy(&k6.addr[8], &w2, 4);
	__builtin_memcpy(&k6.addr[12], &w3, 4);
	return bpf_map_lookup_elem(&trust6, &k6) != NULL;
}

/*
 * Parse the options of the segment in skops (skb_data covers exactly the TCP
 * header). Returns enum toa_status; *out is filled on TOA_OK.
 */
static __always_inline int parse_segment(struct bpf_sock_ops *skops, struct toa_addr *out)
{
	void *data = (void *)(long)skops->skb_data;
	void *end = (void *)(long)skops->skb_data_end;
	struct toa_parser *ps;
	struct tcphdr *th = data;
	__u8 *opt;
	__u32 len, i;
	int st;

	if ((void *)(th + 1) > end)
		return TOA_ABSENT;	/* no segment here (e.g. TCP_REPAIR): nothing to read */
	len = th->doff * 4;
	if (len <= sizeof(*th))
		return TOA_ABSENT;
	len -= sizeof(*th);
	if (len > TOA_OPT_MAX)
		return TOA_ERR_TRUNCATED;
	/* Per-CPU parser memory (see toa_wire.h); none free happens only when parses nest deeper than its slots. */
	ps = toa_parser_get();
	if (!ps) {
		toa_count(RS_C_NO_PARSER);
		return TOA_ABSENT;
	}
	opt = (__u8 *)(th + 1);
	st = TOA_PARSE_MORE;
	for (i = 0; i < TOA_OPT_MAX; i++) {
		if (i >= len)
			break;
		if ((void *)(opt + i + 1) > end) {
			st = TOA_ERR_TRUNCATED;
			break;
		}
		ps->buf[i] = opt[i];
	}
	if (st == TOA_PARSE_MORE) {
		ps->len = len;
		ps->accept = accept_mask;
		st = toa_parse_run(ps, out);
	}
	toa_parser_put(ps);
	return st;
}

/* Save the record for this socket: the client, and the peer it replaces. */
static __always_inline void save_record(struct bpf_sock_ops *skops, const struct toa_addr *a)
{
	struct toa_record rec = {};
	struct bpf_sock *sk = skops->sk;
	__u32 w;

	if (!sk)
		return;
	rec.version = TOA_RECORD_VERSION;
	rec.family = a->family;
	rec.dialect = a->dialect;
	rec.port = a->port;
	__builtin_memcpy(rec.addr, a->addr, 16);
	rec.peer_port = bpf_htons(bpf_ntohl(skops->remote_port) & 0xffff);
	if (skops->family == AF_INET) {
		rec.peer_family = TOA_FAMILY_V4;
		w = skops->remote_ip4;
		__builtin_memcpy(&rec.peer_addr[0], &w, 4);
	} else {
		rec.peer_family = TOA_FAMILY_V6;
		w = skops->remote_ip6[0];
		__builtin_memcpy(&rec.peer_addr[0], &w, 4);
		w = skops->remote_ip6[1];
		__builtin_memcpy(&rec.peer_addr[4], &w, 4);
		w = skops->remote_ip6[2];
		__builtin_memcpy(&rec.peer_addr[8], &w, 4);
		w = skops->remote_ip6[3];
		__builtin_memcpy(&rec.peer_addr[12], &w, 4);
	}
	/* Created complete from rec, so getpeername() never sees half a record. */
	if (!bpf_sk_storage_get(&records, sk, &rec, BPF_SK_STORAGE_GET_F_CREATE))
		toa_count(RS_C_STORAGE_FAIL);
}

/* Parse a trusted segment, count what it held, and save the record when it held a TOA. */
static __always_inline int take_toa(struct bpf_sock_ops *skops)
{
	struct toa_addr a = {};
	int st = parse_segment(skops, &a);

	toa_count(RS_C_SEGMENTS);
	if (st >= 0 && st < TOA_STATUS_MAX)
		toa_count(RS_C_STATUS + st);
	if (st == TOA_OK)
		save_record(skops, &a);
	return st;
}

/*
 * Whether the handshake segment of an untrusted connection carries a TOA
 * option, only to count it: the usual Linux ACK (no options, or NOP NOP
 * timestamps) is answered without a parse.
 */
static __always_inline int untrusted_toa(struct bpf_sock_ops *skops)
{
	void *data = (void *)(long)skops->skb_data;
	void *end = (void *)(long)skops->skb_data_end;
	struct toa_addr a;
	struct tcphdr *th = data;
	__u32 *w = (__u32 *)(th + 1);

	if ((void *)(th + 1) > end || th->doff <= 5)
		return 0;
	if (th->doff == 8 && (void *)(w + 1) <= end && *w == bpf_htonl(0x0101080a))
		return 0;
	return parse_segment(skops, &a) != TOA_ABSENT;
}

/* The segment completing the handshake (normal, lost-ACK and SYN-cookie paths alike). */
static __always_inline void on_established(struct bpf_sock_ops *skops)
{
	if (skops->family != AF_INET && skops->family != AF_INET6)
		return;
	if (!trusted(skops)) {
		toa_count(RS_C_UNTRUSTED);
		if (untrusted_toa(skops))
			toa_count(RS_C_UNTRUSTED_TOA);
		return;
	}
	if (take_toa(skops) == TOA_OK)
		return;
	/*
	 * Not here: look at later segments that carry an option Linux does not
	 * know (TOA kinds are such options), until one gives a record. Segments
	 * without one cost nothing: the kernel does not call us for them.
	 */
	toa_count(RS_C_TRUSTED_NO_TOA);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
				  BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG);
}

/*
 * How many data segments may still bring a late TOA. The director writes it
 * for about one round trip after the handshake (an initial window of 10, a
 * GRO segment counting as several); past this the app has likely shown the
 * LIP already, and a record appearing then would change its peer under it.
 */
#define LATE_DATA_SEGS_MAX	64

/* A later segment with an option unknown to Linux, of a connection still without a record. */
static __always_inline void on_segment(struct bpf_sock_ops *skops)
{
	/*
	 * Another sockops program in the cgroup may have asked for this
	 * callback, on any connection: take TOA only where on_established()
	 * would have, and never replace a record.
	 */
	if (!skops->sk || bpf_sk_storage_get(&records, skops->sk, NULL, 0) || !trusted(skops))
		return;
	if (skops->data_segs_in > LATE_DATA_SEGS_MAX) {	/* this one counted: the kernel counts before calling */
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags &
					  ~BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG);
		return;
	}
	if (take_toa(skops) != TOA_OK)
		return;
	toa_count(RS_C_LATE);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags &
				  ~BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG);
}

SEC("sockops")
int toa_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_established(skops);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		on_segment(skops);
		break;
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		/* An accepted socket connecting elsewhere (after connect(AF_UNSPEC)): its client is gone. */
		if (skops->sk)
			bpf_sk_storage_delete(&records, skops->sk);
		break;
	}
	return 1;
}

/* Marks the record once and counts the first time only: counters are per socket. */
static __always_inline void mark(struct toa_record *rec, __u32 flag, __u32 counter)
{
	if (rec->flags & flag)
		return;
	rec->flags |= flag;
	toa_count(counter);
}

static __always_inline struct toa_record *record_of(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct toa_record *rec;

	if (!sk)
		return NULL;
	rec = bpf_sk_storage_get(&records, sk, NULL, 0);
	if (!rec || rec->version != TOA_RECORD_VERSION)
		return NULL;
	return rec;
}

/*
 * Whether the kernel's peer (ctx, before any rewrite) is still the one the
 * record replaced: the LIP and port. A socket that disconnected and connected
 * elsewhere keeps its storage; it must not keep its old client.
 */
static __always_inline int same_peer4(struct bpf_sock_addr *ctx, struct toa_record *rec)
{
	__u32 a;

	__builtin_memcpy(&a, rec->peer_addr, 4);
	return rec->peer_family == TOA_FAMILY_V4 && ctx->user_ip4 == a &&
	       (__u16)ctx->user_port == rec->peer_port;
}

static __always_inline int same_peer6(struct bpf_sock_addr *ctx, struct toa_record *rec)
{
	__u32 w[4];

	__builtin_memcpy(w, rec->peer_addr, 16);
	return rec->peer_family == TOA_FAMILY_V6 && ctx->user_ip6[0] == w[0] && ctx->user_ip6[1] == w[1] &&
	       ctx->user_ip6[2] == w[2] && ctx->user_ip6[3] == w[3] && (__u16)ctx->user_port == rec->peer_port;
}

SEC("cgroup/getpeername4")
int toa_getpeername4(struct bpf_sock_addr *ctx)
{
	struct toa_record *rec = record_of(ctx);
	__u32 a;

	if (!rec)
		return 1;
	if (!same_peer4(ctx, rec)) {
		toa_count(RS_C_STALE);
		return 1;
	}
	if (rec->family != TOA_FAMILY_V4) {
		/* sockaddr_in cannot hold an IPv6 client: keep the LIP, the record has the rest. */
		mark(rec, TOA_REC_NAT64, RS_C_NAT64);
		return 1;
	}
	__builtin_memcpy(&a, rec->addr, 4);
	ctx->user_ip4 = a;
	if (rec->port)	/* the cdn dialects carry no port: keep the socket's */
		ctx->user_port = rec->port;
	mark(rec, TOA_REC_REWRITTEN, RS_C_REWRITTEN4);
	return 1;
}

SEC("cgroup/getpeername6")
int toa_getpeername6(struct bpf_sock_addr *ctx)
{
	struct toa_record *rec = record_of(ctx);
	__u32 w[4];

	if (!rec)
		return 1;
	if (!same_peer6(ctx, rec)) {
		toa_count(RS_C_STALE);
		return 1;
	}
	if (rec->family == TOA_FAMILY_V4) {
		/* IPv4 client on a dual-stack socket: ::ffff:a.b.c.d, as the kernel writes it. */
		w[0] = 0;
		w[1] = 0;
		w[2] = bpf_htonl(0xffff);
		__builtin_memcpy(&w[3], rec->addr, 4);
	} else {
		__builtin_memcpy(w, rec->addr, 16);
	}
	ctx->user_ip6[0] = w[0];
	ctx->user_ip6[1] = w[1];
	ctx->user_ip6[2] = w[2];
	ctx->user_ip6[3] = w[3];
	if (rec->port)
		ctx->user_port = rec->port;
	mark(rec, TOA_REC_REWRITTEN, RS_C_REWRITTEN6);
	return 1;
}

/*
 * Live records, for status and tests: one byte per socket that has a
 * record, so reading the pinned iterator and counting bytes gives the number.
 * The context layout is the kernel's (CO-RE relocated against its BTF).
 */
struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_sk_storage_map {
	struct bpf_iter_meta *meta;
	void *sk;
	void *value;
} __attribute__((preserve_access_index));

SEC("iter/bpf_sk_storage_map")
int toa_records_iter(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	char one = '.';

	if (ctx->sk && ctx->value)
		bpf_seq_write(ctx->meta->seq, &one, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

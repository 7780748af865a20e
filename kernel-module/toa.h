/* SPDX-License-Identifier: GPL-2.0-only */
/* Internal interfaces between the files of toa.ko. */
#ifndef TOA_KMOD_H
#define TOA_KMOD_H

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/types.h>
#include <linux/version.h>
#include <linux/hash.h>
#include <linux/percpu.h>
#include <linux/rculist.h>
#include <linux/tcp.h>
#include <net/ipv6.h>
#include <net/sock.h>

#include <toa/toa_wire.h>
#include <toa/toa_record.h>

/* Counters in /proc/net/toa_stats; names in toa_stats.c follow this order. */
enum toa_counter {
	TOA_C_HANDSHAKE,	/* a child socket was created (any source) */
	TOA_C_UNTRUSTED,	/* its source is not in the trust list */
	TOA_C_FOUND_HANDSHAKE,	/* TOA taken from the handshake-completing segment */
	TOA_C_FOUND_DATA,	/* TOA taken from a later segment */
	TOA_C_LOOKING,		/* handshake lacked TOA: watching the next segments */
	TOA_C_ABSENT,		/* gave up: no TOA within scan_segments (or the socket closed first) */
	TOA_C_ERR_LENGTH,	/* malformed, by enum toa_status ... */
	TOA_C_ERR_TRUNCATED,
	TOA_C_ERR_SHORT,
	TOA_C_ERR_AFTER_EOL,
	TOA_C_ERR_MULTIPLE,
	TOA_C_ERR_VERSION,
	TOA_C_ERR_PORT,
	TOA_C_ERR_ADDRESS,	/* ... up to the last enum toa_status */
	TOA_C_BAD_HEADER,	/* TCP header not where expected: skipped */
	TOA_C_NOMEM,		/* no memory for a record */
	TOA_C_FULL,		/* max_records reached */
	TOA_C_STALE,		/* a record that did not match its socket (ignored) */
	TOA_C_FREED,		/* records freed with their socket */
	TOA_C_GETNAME_V4,	/* getpeername/accept rewritten: IPv4 socket */
	TOA_C_GETNAME_V6,	/* ... IPv6 socket, IPv6 client */
	TOA_C_GETNAME_MAPPED,	/* ... IPv6 socket, IPv4 client as ::ffff:a.b.c.d */
	TOA_C_NAT64,		/* IPv6 client on an IPv4 socket: recorded, not rewritten */
	TOA_C_SOCKOPT_OK,	/* getsockopt(TOA_SO_RECORD) answered */
	TOA_C_SOCKOPT_NONE,	/* ... ENOENT */
	TOA_C_MAX
};

/* count_status() maps every enum toa_status from TOA_ERR_LENGTH on to one of the err counters. */
_Static_assert(TOA_C_BAD_HEADER - TOA_C_ERR_LENGTH == TOA_STATUS_MAX - TOA_ERR_LENGTH,
	       "one err counter per malformed enum toa_status");

DECLARE_PER_CPU(u64 [TOA_C_MAX], toa_counters);

static inline void toa_count(enum toa_counter c)
{
	this_cpu_inc(toa_counters[c]);
}

/* Per-dialect counts of accepted options, indexed by enum toa_dialect. */
DECLARE_PER_CPU(u64 [TOA_D_MAX], toa_dialects);

/* Configuration, fixed at load (toa_params.c). */
struct toa_prefix {
	u8 family;		/* TOA_FAMILY_V4 / TOA_FAMILY_V6 */
	u8 plen;
	u8 addr[16];
};

#define TOA_TRUST_MAX 32

struct toa_config {
	u32 accept;		/* TOA_BIT() mask of dialects */
	bool trust_any;
	unsigned int ntrust;
	struct toa_prefix trust[TOA_TRUST_MAX];
	unsigned int scan_segments;
	unsigned int max_records;
};

extern struct toa_config toa_cfg;

int toa_params_init(void);
bool toa_trusted(u8 family, const u8 *addr);
void toa_params_show(struct seq_file *m);
const char *toa_dialect_name(int d);

/* Records (toa_table.c): one per socket that came through a trusted peer. */
enum toa_state {
	TOA_S_LOOKING = 1,	/* no option yet: the next segments are checked */
	TOA_S_FOUND,		/* rec is complete and may be used */
	TOA_S_DONE,		/* gave up or malformed: never used */
};

struct toa_entry {
	struct hlist_node node;
	const struct sock *sk;	/* key; only compared, never dereferenced through here */
	/* The socket's ports as sk_portpair holds them, so toa_entry_matches() compares both in one load. */
	union {
		__portpair portpair;
		struct {
			__be16 dport;	/* the peer's (the director's LIP): rec.peer_port */
			u16 num;	/* the socket's own, host order */
		};
	};
	u32 segs_in;		/* the socket's segs_in when the record was made: where scanning starts */
	struct toa_record rec;	/* at 32: its IPv6 peer address, compared in words, stays 8-aligned */
	u8 state;		/* enum toa_state; FOUND published with release */
	struct rcu_head rcu;
};

extern atomic_t toa_nrecords;
extern atomic_t toa_nlooking;

int toa_table_init(void);
void toa_table_exit(void);
int toa_insert(struct toa_entry *e);
void toa_remove_sk(const struct sock *sk, enum toa_counter why);

/* The table (toa_table.c); its lookup is inline here, as it runs on every getpeername() while records exist. */
extern struct hlist_head *toa_buckets;
extern unsigned int toa_hash_shift;
extern u64 toa_hash_seed;

/* The key is a pointer: one multiply mixes it (jhash2 is made for bytes someone may choose). */
static __always_inline struct hlist_head *toa_bucket(const struct sock *sk)
{
	return &toa_buckets[(((u64)(unsigned long)sk ^ toa_hash_seed) * GOLDEN_RATIO_64) >> toa_hash_shift];
}

/* The record of a socket, or NULL. Caller is an RCU reader (rcu_read_lock(), or the sched flavour). */
static __always_inline struct toa_entry *toa_lookup(const struct sock *sk)
{
	struct toa_entry *e;

	hlist_for_each_entry_rcu(e, toa_bucket(sk), node)
		if (e->sk == sk)
			return e;
	return NULL;
}

/*
 * A record is used only if its socket still has the ports and peer it was
 * made for. A socket's destruction can go unseen (a kprobe hit is missed
 * when it fires inside another probe's handler); the record it leaves is
 * replaced or dropped when a new child socket takes the same address
 * (toa_hooks.c), and until then this check keeps it from naming anyone's
 * client on another socket.
 */
static inline bool toa_entry_matches(const struct toa_entry *e, const struct sock *sk)
{
	const struct toa_record *r = &e->rec;

	BUILD_BUG_ON(offsetof(struct toa_entry, num) - offsetof(struct toa_entry, dport) !=
		     offsetof(struct sock_common, skc_num) - offsetof(struct sock_common, skc_dport));
	if (e->portpair != sk->sk_portpair)
		return false;
	if (r->peer_family == TOA_FAMILY_V4)
		return !memcmp(r->peer_addr, &sk->sk_daddr, 4);
#if IS_ENABLED(CONFIG_IPV6)
	/* Word compares: memcmp() of 16 bytes is a call, and this runs on every getpeername(). */
	return sk->sk_family == AF_INET6 &&
	       ipv6_addr_equal((const struct in6_addr *)r->peer_addr, &sk->sk_v6_daddr);
#else
	return false;
#endif
}

/*
 * What the module does where it meets the TCP stack (toa_hooks.c), called by
 * whichever way the kernel lets it hook those functions: ftrace where the
 * kernel has ftrace with arguments and lets a module free its filter
 * (toa_ftrace.c, 6.1 on), kprobes before (toa_kprobe.c).
 */
#if IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_ARGS) && defined(TOA_HAVE_FTRACE_FREE_FILTER)
#define TOA_FTRACE 1
#endif

/*
 * getpeername() through an ftrace direct call (toa_direct.c) where the
 * kernel exports the API: as _multi on 6.1 to 6.4, by the plain name with
 * an ops from 6.5 on (Kbuild tells them apart).
 */
#if defined(TOA_FTRACE) && defined(CONFIG_X86_64) && IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS) && \
	(defined(TOA_HAVE_FTRACE_DIRECT_MULTI) || \
	 (defined(TOA_HAVE_FTRACE_DIRECT_OPS) && LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)))
#define TOA_FTRACE_DIRECT 1
int toa_direct_init(void);
void toa_direct_exit(void);
#endif

/* Calls sent to a getname wrapper that have not left it: module text must outlive them. */
DECLARE_PER_CPU(long, toa_in_wrapper);

void toa_on_child(struct sock *child, const struct sk_buff *skb);
void toa_options_looking(const struct sk_buff *skb, struct tcp_options_received *opt_rx);

/*
 * The hooks that fire for sockets with nothing to do (most segments with
 * options, every socket's end) decide inline, without a call: under
 * emulation and with return thunks every call and return counts.
 */
static __always_inline void toa_on_options(const struct sk_buff *skb, struct tcp_options_received *opt_rx,
					   int estab)
{
	if (estab == 1 && unlikely(atomic_read(&toa_nlooking)))
		toa_options_looking(skb, opt_rx);
}

static __always_inline void toa_on_destruct(const struct sock *sk)
{
	if (atomic_read(&toa_nrecords))
		toa_remove_sk(sk, TOA_C_FREED);
}

/* toa_on_getname() is in toa_getname.h: inline in the getname hooks. */

/* Attaching them (toa_ftrace.c or toa_kprobe.c), getsockopt (toa_sockopt.c), /proc (toa_stats.c). */
int toa_hooks_init(void);
void toa_hooks_exit(void);
void toa_hooks_show(struct seq_file *m);
int toa_sockopt_init(void);
void toa_sockopt_exit(void);
int toa_stats_init(void);
void toa_stats_exit(void);

#endif /* TOA_KMOD_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the real server's BPF programs and their loader share: counters, trust keys, config. */
#ifndef TOA_REALSERVER_H
#define TOA_REALSERVER_H

#include <linux/types.h>
#include "toa/toa_wire.h"

/*
 * Counter indexes of the per-CPU counters array. Values are stable; the
 * loader's name table (realserver.c) follows this order.
 */
enum rs_counter {
	RS_C_SEGMENTS = 0,	/* segments from trusted sources whose options were read */
	RS_C_STATUS,		/* RS_C_STATUS + enum toa_status: outcome of each such segment */
	RS_C_UNTRUSTED = RS_C_STATUS + TOA_STATUS_MAX,	/* connections from outside the trust list */
	RS_C_UNTRUSTED_TOA,	/* ... whose handshake segment carried a TOA option (ignored) */
	RS_C_LATE,		/* records taken from a segment after the handshake */
	RS_C_TRUSTED_NO_TOA,	/* trusted connections whose handshake segment gave no record (they look further) */
	RS_C_REWRITTEN4,	/* IPv4 sockets whose getpeername() now returns the client */
	RS_C_REWRITTEN6,	/* IPv6 sockets (IPv4 clients as ::ffff:a.b.c.d) likewise */
	RS_C_NAT64,		/* IPv6 client on an IPv4 socket: left as is, recorded */
	RS_C_STORAGE_FAIL,	/* socket storage could not be allocated */
	RS_C_NO_PARSER,		/* segments not read: every per-CPU parser slot was in use */
	RS_C_STALE,		/* getpeername() of a socket whose peer is no longer the record's LIP: not rewritten */
	RS_C_MAX
};

/* LPM trie keys: prefixlen in bits, then the address in network order. */
struct rs_trust4_key {
	__u32	prefixlen;
	__u8	addr[4];
};

struct rs_trust6_key {
	__u32	prefixlen;
	__u8	addr[16];
};

/* What attach was asked for; kept in a pinned one-entry array for status. */
#define RS_CGROUP_PATH_MAX	256
struct rs_config {
	__u32	accept;		/* TOA_BIT() mask of dialects */
	__u32	pad;
	__u64	cgroup_id;
	char	cgroup[RS_CGROUP_PATH_MAX];
};

#endif /* TOA_REALSERVER_H */

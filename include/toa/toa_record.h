/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-socket TOA record: what the real server learnt about a connection.
 * The same bytes come from the eBPF path (value of the socket-storage map
 * pinned as TOA_PIN_RECORDS under the pin directory, looked up with the
 * socket's fd as key) and from toa.ko (getsockopt TOA_SO_RECORD).
 * node-toa/src/wire.ts decodes it; keep both in step and bump the version
 * on any change of layout.
 */
#ifndef TOA_RECORD_H
#define TOA_RECORD_H

#include <linux/types.h>

#define TOA_RECORD_VERSION	1

/* flags */
#define TOA_REC_NAT64		0x1	/* IPv6 client on an IPv4 socket: getpeername() keeps the LIP */
#define TOA_REC_REWRITTEN	0x2	/* getpeername() of this socket returns the client */

struct toa_record {
	__u8	version;	/* TOA_RECORD_VERSION */
	__u8	family;		/* client: TOA_FAMILY_V4 or TOA_FAMILY_V6 */
	__u8	dialect;	/* enum toa_dialect it arrived in */
	__u8	peer_family;	/* original peer (the director's LIP): 4 or 6 */
	__be16	port;		/* client port, network order (0 for cdn dialects) */
	__be16	peer_port;	/* original peer port, network order */
	__u8	addr[16];	/* client address; IPv4 in the first 4 bytes */
	__u8	peer_addr[16];	/* original peer address; IPv4 in the first 4 bytes */
	__u32	flags;		/* TOA_REC_* */
};				/* 44 bytes, no padding */

/* Pinned names, relative to the pin directory (default /sys/fs/bpf/toa). */
#define TOA_PIN_DIR_DEFAULT	"/sys/fs/bpf/toa"
#define TOA_PIN_DIR_ENV		"TOA_PIN_DIR"
#define TOA_PIN_RECORDS		"records"

/*
 * toa.ko: getsockopt(fd, SOL_IP or SOL_IPV6, TOA_SO_RECORD, &rec, &len)
 * returns the record (ENOENT when the socket has none). Registered through
 * netfilter's sockopt table, like SO_ORIGINAL_DST.
 */
#define TOA_SO_RECORD		0x544f	/* "TO" */

#endif /* TOA_RECORD_H */

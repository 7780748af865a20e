/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TOA wire format: the one definition every C part uses (the director's and
 * the real server's eBPF programs, toa.ko, and the userspace test tools).
 * node-toa/src/wire.ts mirrors it; test/vectors/toa-options.json checks both.
 *
 * The parser is written for the most demanding of its users, the BPF
 * verifier: one bounded loop, byte reads through an index masked to
 * TOA_OPTBUF, no recursion and no helpers. Callers outside BPF may pass any
 * buffer of len bytes: no valid offset is ever changed by the mask.
 */
#ifndef TOA_WIRE_H
#define TOA_WIRE_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* TCP option kinds. */
#define TOA_OPT_EOL		0
#define TOA_OPT_NOP		1
#define TOA_OPT_MSS		2
#define TOA_OPT_UTO		28	/* RFC 5482 User Timeout, length 4; shares kind with cdn */
#define TOA_KIND_CDN		28
#define TOA_KIND_200		200
#define TOA_KIND_253		253
#define TOA_KIND_254		254

/* TCP options area: at most 40 bytes (data offset 15 words, minus 20). */
#define TOA_OPT_MAX		40
/* BPF callers copy options into a buffer of this size so a masked index is provably in bounds. */
#define TOA_OPTBUF		64
#define TOA_IDX(i)		((i) & (TOA_OPTBUF - 1))

/* Dialects (see DESIGN.md); values are stable: they are stored in records and counters. */
enum toa_dialect {
	TOA_D_NONE	= 0,
	TOA_D_V4	= 1,	/* 254/8:  port(2) addr(4) */
	TOA_D_V6	= 2,	/* 254/20: port(2) addr(16) */
	TOA_D_V6_ALI	= 3,	/* 253/20: port(2) addr(16) */
	TOA_D_V4_253	= 4,	/* 253/8:  port(2) addr(4) */
	TOA_D_V4_200	= 5,	/* 200/8:  port(2) addr(4) */
	TOA_D_CDN	= 6,	/* 28/7:   version(1)=1 addr(4) */
	TOA_D_CDN6	= 7,	/* 28/19:  version(1)=1 addr(16) */
	TOA_D_MAX
};

#define TOA_BIT(d)		(1u << (d))
#define TOA_ACCEPT_DEFAULT	(TOA_BIT(TOA_D_V4) | TOA_BIT(TOA_D_V6) | TOA_BIT(TOA_D_V6_ALI))
#define TOA_ACCEPT_ALL		(((1u << TOA_D_MAX) - 1) & ~1u)

#define TOA_LEN_V4		8
#define TOA_LEN_V6		20
#define TOA_LEN_CDN		7
#define TOA_LEN_CDN6		19
#define TOA_CDN_VERSION		1

/* Address families in records and parse results: 4 or 6, independent of AF_* numbering. */
#define TOA_FAMILY_V4		4
#define TOA_FAMILY_V6		6

/*
 * Outcome of parsing one segment's options. 0 and 1 are normal; the rest are
 * the reasons a segment's TOA is not trusted. Values index counters: stable.
 */
enum toa_status {
	TOA_OK		= 0,	/* exactly one TOA option of an accepted dialect */
	TOA_ABSENT	= 1,	/* no TOA option */
	TOA_ERR_LENGTH	= 2,	/* TOA kind with a length no accepted dialect has */
	TOA_ERR_TRUNCATED = 3,	/* an option runs past the end of the header */
	TOA_ERR_SHORT	= 4,	/* an option with length < 2 */
	TOA_ERR_AFTER_EOL = 5,	/* non-zero bytes after End of Option List */
	TOA_ERR_MULTIPLE = 6,	/* more than one TOA option */
	TOA_ERR_VERSION	= 7,	/* cdn option with version != 1 */
	TOA_STATUS_MAX
};

/* One decoded TOA option: the client as the director saw it. */
struct toa_addr {
	__u8	family;		/* TOA_FAMILY_V4 / TOA_FAMILY_V6 */
	__u8	dialect;	/* enum toa_dialect */
	__be16	port;		/* network order; 0 for cdn dialects (they carry no port) */
	__u8	addr[16];	/* IPv4 in the first 4 bytes, rest zero */
};

/*
 * Which dialect a (kind, length) pair is under the accept mask.
 * Returns the dialect, TOA_D_NONE for an option that is not TOA under this
 * mask, or -(enum toa_status) for a TOA kind whose length is wrong.
 */
static __always_inline int toa_dialect_of(__u8 kind, __u8 len, __u32 accept)
{
	switch (kind) {
	case TOA_KIND_254:
		if (len == TOA_LEN_V4)
			return accept & TOA_BIT(TOA_D_V4) ? TOA_D_V4 : TOA_D_NONE;
		if (len == TOA_LEN_V6)
			return accept & TOA_BIT(TOA_D_V6) ? TOA_D_V6 : TOA_D_NONE;
		return accept & (TOA_BIT(TOA_D_V4) | TOA_BIT(TOA_D_V6)) ? -TOA_ERR_LENGTH : TOA_D_NONE;
	case TOA_KIND_253:
		if (len == TOA_LEN_V6)
			return accept & TOA_BIT(TOA_D_V6_ALI) ? TOA_D_V6_ALI : TOA_D_NONE;
		if (len == TOA_LEN_V4)
			return accept & TOA_BIT(TOA_D_V4_253) ? TOA_D_V4_253 : TOA_D_NONE;
		return accept & (TOA_BIT(TOA_D_V6_ALI) | TOA_BIT(TOA_D_V4_253)) ? -TOA_ERR_LENGTH : TOA_D_NONE;
	case TOA_KIND_200:
		if (len == TOA_LEN_V4)
			return accept & TOA_BIT(TOA_D_V4_200) ? TOA_D_V4_200 : TOA_D_NONE;
		return accept & TOA_BIT(TOA_D_V4_200) ? -TOA_ERR_LENGTH : TOA_D_NONE;
	case TOA_KIND_CDN:
		if (len == 4)	/* the standard User Timeout option, never TOA */
			return TOA_D_NONE;
		if (len == TOA_LEN_CDN)
			return accept & TOA_BIT(TOA_D_CDN) ? TOA_D_CDN : TOA_D_NONE;
		if (len == TOA_LEN_CDN6)
			return accept & TOA_BIT(TOA_D_CDN6) ? TOA_D_CDN6 : TOA_D_NONE;
		return accept & (TOA_BIT(TOA_D_CDN) | TOA_BIT(TOA_D_CDN6)) ? -TOA_ERR_LENGTH : TOA_D_NONE;
	}
	return TOA_D_NONE;
}

/* Kind and length a dialect is written with; 0 for an unknown dialect. */
static __always_inline __u8 toa_dialect_kind(int d)
{
	switch (d) {
	case TOA_D_V4: case TOA_D_V6: return TOA_KIND_254;
	case TOA_D_V6_ALI: case TOA_D_V4_253: return TOA_KIND_253;
	case TOA_D_V4_200: return TOA_KIND_200;
	case TOA_D_CDN: case TOA_D_CDN6: return TOA_KIND_CDN;
	}
	return 0;
}

static __always_inline __u8 toa_dialect_len(int d)
{
	switch (d) {
	case TOA_D_V4: case TOA_D_V4_253: case TOA_D_V4_200: return TOA_LEN_V4;
	case TOA_D_V6: case TOA_D_V6_ALI: return TOA_LEN_V6;
	case TOA_D_CDN: return TOA_LEN_CDN;
	case TOA_D_CDN6: return TOA_LEN_CDN6;
	}
	return 0;
}

static __always_inline __u8 toa_dialect_family(int d)
{
	switch (d) {
	case TOA_D_V6: case TOA_D_V6_ALI: case TOA_D_CDN6: return TOA_FAMILY_V6;
	}
	return TOA_FAMILY_V4;
}

/* Fill *out from the option at buf[off] (dialect d, length already checked). */
static __always_inline int toa_decode_at(const __u8 *buf, __u32 off, int d, struct toa_addr *out)
{
	__u32 body = off + 2, alen, i;

	out->dialect = (__u8)d;
	out->family = toa_dialect_family(d);
	alen = out->family == TOA_FAMILY_V6 ? 16 : 4;
	if (d == TOA_D_CDN || d == TOA_D_CDN6) {
		if (buf[TOA_IDX(body)] != TOA_CDN_VERSION)
			return -TOA_ERR_VERSION;
		out->port = 0;
		body += 1;
	} else {
		/* Bytes kept in wire order: port stays network order. */
		((__u8 *)&out->port)[0] = buf[TOA_IDX(body)];
		((__u8 *)&out->port)[1] = buf[TOA_IDX(body + 1)];
		body += 2;
	}
	for (i = 0; i < 16; i++)
		out->addr[i] = i < alen ? buf[TOA_IDX(body + i)] : 0;
	return 0;
}

/*
 * Parse a TCP options area (the bytes after the fixed 20-byte header).
 * Returns enum toa_status; *out is filled only on TOA_OK.
 */
static __always_inline int toa_parse(const __u8 *buf, __u32 len, __u32 accept, struct toa_addr *out)
{
	__u32 off = 0, at = 0, j;
	int found = TOA_D_NONE, i, d;
	__u8 kind, olen;

	if (len > TOA_OPT_MAX)
		return TOA_ERR_TRUNCATED;
	for (i = 0; i < TOA_OPT_MAX; i++) {
		if (off >= len)
			break;
		kind = buf[TOA_IDX(off)];
		if (kind == TOA_OPT_EOL) {
			for (j = off + 1; j < TOA_OPT_MAX; j++)
				if (j < len && buf[TOA_IDX(j)])
					return TOA_ERR_AFTER_EOL;
			break;
		}
		if (kind == TOA_OPT_NOP) {
			off++;
			continue;
		}
		if (off + 1 >= len)
			return TOA_ERR_TRUNCATED;
		olen = buf[TOA_IDX(off + 1)];
		if (olen < 2)
			return TOA_ERR_SHORT;
		if (off + olen > len)
			return TOA_ERR_TRUNCATED;
		d = toa_dialect_of(kind, olen, accept);
		if (d < 0)
			return -d;
		if (d != TOA_D_NONE) {
			if (found != TOA_D_NONE)
				return TOA_ERR_MULTIPLE;
			found = d;
			at = off;
		}
		off += olen;
	}
	if (found == TOA_D_NONE)
		return TOA_ABSENT;
	d = toa_decode_at(buf, at, found, out);
	return d < 0 ? -d : TOA_OK;
}

/*
 * Write the option for dialect d into out (at least 20 bytes).
 * port is network order, addr holds 4 or 16 bytes as the dialect needs.
 * Returns the option length, 0 for an unknown dialect.
 */
static __always_inline __u32 toa_encode(int d, __be16 port, const __u8 *addr, __u8 *out)
{
	__u32 len = toa_dialect_len(d), alen, body, i;

	if (!len)
		return 0;
	out[0] = toa_dialect_kind(d);
	out[1] = (__u8)len;
	if (d == TOA_D_CDN || d == TOA_D_CDN6) {
		out[2] = TOA_CDN_VERSION;
		body = 3;
	} else {
		out[2] = ((const __u8 *)&port)[0];
		out[3] = ((const __u8 *)&port)[1];
		body = 4;
	}
	alen = len - body;
	for (i = 0; i < 16; i++)
		if (i < alen)
			out[body + i] = addr[i];
	return len;
}

#endif /* TOA_WIRE_H */

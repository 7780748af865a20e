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
#if defined(__bpf__)
/*
 * clang drops the mask when it can prove the index small (j < len <= 40),
 * and may then address the buffer through a register the verifier cannot
 * bound. Hiding the value first keeps the mask, and the proof, in the code.
 */
static __always_inline __u32 toa_idx(__u32 i)
{
	asm volatile("" : "+r"(i));
	return i & (TOA_OPTBUF - 1);
}
#define TOA_IDX(i)		toa_idx(i)
#else
#define TOA_IDX(i)		((i) & (TOA_OPTBUF - 1))
#endif

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
	TOA_ERR_LENGTH	= 2,	/* a length no dialect of an accepted kind has (a length of a dialect not accepted: ignored) */
	TOA_ERR_TRUNCATED = 3,	/* an option runs past the end of the header */
	TOA_ERR_SHORT	= 4,	/* an option with length < 2 */
	TOA_ERR_AFTER_EOL = 5,	/* non-zero bytes after End of Option List */
	TOA_ERR_MULTIPLE = 6,	/* more than one TOA option */
	TOA_ERR_VERSION	= 7,	/* cdn option with version != 1 */
	TOA_ERR_PORT	= 8,	/* port 0 in a dialect that carries a port */
	TOA_ERR_ADDRESS	= 9,	/* an address no client can have (see toa_addr_impossible()) */
	TOA_STATUS_MAX
};

/* One decoded TOA option: the client as the director saw it. */
struct toa_addr {
	__u8	family;		/* TOA_FAMILY_V4 / TOA_FAMILY_V6 (V4 for ::ffff:a.b.c.d in a v6 dialect) */
	__u8	dialect;	/* enum toa_dialect */
	__be16	port;		/* network order; 0 only for cdn dialects (they carry no port) */
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

/*
 * An IPv4 address no client can have: exactly the sources Linux itself drops
 * as martian (0.0.0.0/8 "this network", 127.0.0.0/8 loopback, 224.0.0.0/4
 * multicast, 255.255.255.255 broadcast). 240.0.0.0/4 stays allowed: Linux
 * routes it, and some private networks use it.
 */
static __always_inline int toa_v4_impossible(const __u8 *a)
{
	return a[0] == 0 || a[0] == 127 || (a[0] & 0xf0) == 0xe0 ||
	       (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
}

/*
 * An IPv6 address no client can have: :: (unspecified), ::1 (loopback),
 * ff00::/8 (multicast); Linux drops the last two as a packet's source. Other
 * special ranges (link-local, ::a.b.c.d) can be a real source: allowed.
 * Checked after toa_unmap(), so v4-mapped addresses never reach here.
 */
static __always_inline int toa_v6_impossible(const __u8 *a)
{
	__u32 i, zero = 1;

	for (i = 0; i < 15; i++)
		if (a[i])
			zero = 0;
	return a[0] == 0xff || (zero && a[15] <= 1);
}

/*
 * ::ffff:a.b.c.d in a v6 dialect is an IPv4 client (a dual-stack director's
 * way of writing one): turn it into one, so every path records family 4 and
 * a dual-stack socket shows ::ffff:a.b.c.d, an IPv4 socket the client.
 */
static __always_inline void toa_unmap(struct toa_addr *a)
{
	__u32 i, mapped = 1;

	if (a->family != TOA_FAMILY_V6)
		return;
	for (i = 0; i < 10; i++)
		if (a->addr[i])
			mapped = 0;
	if (!mapped || a->addr[10] != 0xff || a->addr[11] != 0xff)
		return;
	a->family = TOA_FAMILY_V4;
	for (i = 0; i < 4; i++)
		a->addr[i] = a->addr[12 + i];
	for (i = 4; i < 16; i++)
		a->addr[i] = 0;
}

/*
 * Fill *out from the option at buf[off] (dialect d, length already checked).
 * 0, or -TOA_ERR_VERSION / -TOA_ERR_PORT / -TOA_ERR_ADDRESS, checked in this
 * order; *out is then not to be used.
 */
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
		/* Port 0 never is a client's: with the socket's own port it would make a pair that never existed. */
		if (!out->port)
			return -TOA_ERR_PORT;
		body += 2;
	}
	for (i = 0; i < 16; i++)
		out->addr[i] = i < alen ? buf[TOA_IDX(body + i)] : 0;
	toa_unmap(out);
	if (out->family == TOA_FAMILY_V4 ? toa_v4_impossible(out->addr) : toa_v6_impossible(out->addr))
		return -TOA_ERR_ADDRESS;
	return 0;
}

/*
 * Parser state. Outside BPF it lives on the caller's stack (toa_parse()). In
 * BPF it lives in per-CPU map memory, taken with toa_parser_get() and given
 * back with toa_parser_put() (see below for why); callers may fill buf, len
 * and accept themselves and call toa_parse_run(), saving a copy.
 */
struct toa_parser {
	__u8	buf[TOA_OPTBUF];	/* the options area; bytes from len on are never used */
	__u32	len;			/* bytes of options in buf */
	__u32	accept;			/* TOA_BIT() mask of dialects */
	__u32	next;			/* where the next option starts; bytes before it are option bodies */
	__u32	at;			/* where the TOA option found starts */
	__s32	found;			/* its dialect; TOA_D_NONE while none */
	__u32	eol;			/* End of Option List seen */
	__u32	slot;			/* BPF: this parser's index in its CPU's slots */
	__u32	busy;			/* BPF: claims on this slot (1 = ours) */
};

#define TOA_PARSE_MORE		(-1)

/* Looks at byte position p; TOA_PARSE_MORE to go on, else the final status. */
static __always_inline int toa_parse_at(struct toa_parser *ps, __u32 p)
{
	__u8 kind, olen;
	int d;

	if (p >= ps->len || p >= TOA_OPT_MAX)
		return TOA_PARSE_MORE;
	kind = ps->buf[TOA_IDX(p)];
	if (ps->eol)
		return kind ? TOA_ERR_AFTER_EOL : TOA_PARSE_MORE;
	if (p != ps->next)
		return TOA_PARSE_MORE;
	if (kind == TOA_OPT_EOL) {
		ps->eol = 1;
		return TOA_PARSE_MORE;
	}
	if (kind == TOA_OPT_NOP) {
		ps->next = p + 1;
		return TOA_PARSE_MORE;
	}
	if (p + 1 >= ps->len)
		return TOA_ERR_TRUNCATED;
	olen = ps->buf[TOA_IDX(p + 1)];
	if (olen < 2)
		return TOA_ERR_SHORT;
	if (p + olen > ps->len)
		return TOA_ERR_TRUNCATED;
	d = toa_dialect_of(kind, olen, ps->accept);
	if (d < 0)
		return -d;
	if (d != TOA_D_NONE) {
		if (ps->found != TOA_D_NONE)
			return TOA_ERR_MULTIPLE;
		ps->found = d;
		ps->at = p;
	}
	ps->next = p + olen;
	return TOA_PARSE_MORE;
}

#if defined(__bpf__) && defined(TOA_BPF_PARSER)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/*
 * BPF programs that parse define TOA_BPF_PARSER before including this
 * header: only they get the parser's map and global function (a program
 * that only encodes, like the director's, carries neither).
 *
 * Why map memory and a global function in BPF: inlined, the walk has more
 * paths than the verifier's one-million-instruction budget (state on the
 * stack is tracked exactly). A global function is checked once, for any
 * input, but until Linux 5.12 its arguments may only be scalars or the
 * context: so the state sits in a per-CPU array the verifier does not track,
 * and the step takes a slot number and a position. Needs bounded loops (5.3)
 * and global functions (5.6).
 *
 * Several slots per CPU, each claimed with an atomic add: a program in
 * process context (sockops on a socket's backlog runs with bottom halves on,
 * and preemptible kernels may switch tasks) can meet another parse on the
 * same CPU; each gets its own slot, never the other's bytes.
 */
#define TOA_PARSE_SLOTS		4

struct toa_parse_slots {
	struct toa_parser	ps[TOA_PARSE_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct toa_parse_slots);
} toa_parse_state SEC(".maps");

/* The per-position step for the parser in slot; verified once (see above). */
__attribute__((noinline)) int toa_parse_step(__u32 slot, __u32 p)
{
	struct toa_parse_slots *s;
	__u32 key = 0;

	s = bpf_map_lookup_elem(&toa_parse_state, &key);
	if (!s)
		return TOA_ABSENT;
	return toa_parse_at(&s->ps[slot & (TOA_PARSE_SLOTS - 1)], p);
}
#define TOA_STEP(ps, p)		toa_parse_step((ps)->slot, (p))

/*
 * A free parser of this CPU, or NULL when all are taken (then: no TOA read
 * from this segment). Give it back with toa_parser_put().
 *
 * A slot is ours when our add made its count 1. Anyone adding later, while we
 * hold it, reads at least 2 and backs off, so two parses never share a slot.
 * Only the add without fetch is used: it is the one Linux 5.10 has.
 */
static __always_inline struct toa_parser *toa_parser_get(void)
{
	struct toa_parse_slots *s;
	struct toa_parser *ps;
	__u32 key = 0, i;

	s = bpf_map_lookup_elem(&toa_parse_state, &key);
	if (!s)
		return NULL;
	for (i = 0; i < TOA_PARSE_SLOTS; i++) {
		ps = &s->ps[i];
		__sync_fetch_and_add(&ps->busy, 1);
		if (*(volatile __u32 *)&ps->busy == 1) {
			ps->slot = i;
			/*
			 * Addressed again through the stored slot: the verifier then
			 * sees one pointer for every slot and checks the caller's
			 * parse once, not once per slot.
			 */
			return &s->ps[*(volatile __u32 *)&ps->slot & (TOA_PARSE_SLOTS - 1)];
		}
		__sync_fetch_and_add(&ps->busy, -1);
	}
	return NULL;
}

static __always_inline void toa_parser_put(struct toa_parser *ps)
{
	__sync_fetch_and_add(&ps->busy, -1);
}
#elif !defined(__bpf__)
#define TOA_STEP(ps, p)		toa_parse_at((ps), (p))
#endif

#if !defined(__bpf__) || defined(TOA_BPF_PARSER)

/*
 * Parse ps->buf[0..ps->len) under ps->accept. Returns enum toa_status; *out
 * is filled only on TOA_OK. One flat pass over byte positions: the position
 * is the loop counter, the walk from option to option lives in ps->next.
 */
static __always_inline int toa_parse_run(struct toa_parser *ps, struct toa_addr *out)
{
	__u32 p;
	int st;

	if (ps->len > TOA_OPT_MAX)
		return TOA_ERR_TRUNCATED;
	ps->next = 0;
	ps->at = 0;
	ps->found = TOA_D_NONE;
	ps->eol = 0;
	for (p = 0; p < TOA_OPT_MAX; p++) {
		if (p >= ps->len)
			break;
		if (p < ps->next && !ps->eol)
			continue;	/* an option's body: no call (the per-connection cost) */
		st = TOA_STEP(ps, p);
		if (st != TOA_PARSE_MORE)
			return st;
	}
	if (ps->found == TOA_D_NONE)
		return TOA_ABSENT;
	st = toa_decode_at(ps->buf, ps->at, ps->found, out);
	return st < 0 ? -st : TOA_OK;
}

/*
 * Parse a TCP options area (the bytes after the fixed 20-byte header).
 * Returns enum toa_status; *out is filled only on TOA_OK.
 */
static __always_inline int toa_parse(const __u8 *buf, __u32 len, __u32 accept, struct toa_addr *out)
{
#if defined(__bpf__)
	struct toa_parser *ps;
#else
	struct toa_parser s = {}, *ps = &s;
#endif
	__u32 i;
	int st;

	if (len > TOA_OPT_MAX)
		return TOA_ERR_TRUNCATED;
#if defined(__bpf__)
	ps = toa_parser_get();
	if (!ps)
		return TOA_ABSENT;
#endif
	for (i = 0; i < TOA_OPT_MAX; i++)
		ps->buf[i] = i < len ? buf[i] : 0;
	ps->len = len;
	ps->accept = accept;
	st = toa_parse_run(ps, out);
#if defined(__bpf__)
	toa_parser_put(ps);
#endif
	return st;
}
#endif /* the parser */

/*
 * Write the option for dialect d into out (at least 20 bytes).
 * port is network order, addr holds 4 or 16 bytes as the dialect needs.
 * Returns the option length, 0 for an unknown dialect.
 */
static __always_inline __u32 toa_encode(int d, __be16 port, const __u8 *addr, __u8 *out)
{
	__u32 len = toa_dialect_len(d), i;

	if (!len)
		return 0;
	out[0] = toa_dialect_kind(d);
	out[1] = (__u8)len;
	/*
	 * Constant body offsets: with a variable one (3 or 4) clang may form
	 * the address as out | body, which the verifier refuses on a pointer.
	 */
	if (d == TOA_D_CDN || d == TOA_D_CDN6) {
		out[2] = TOA_CDN_VERSION;
		for (i = 0; i < 16; i++)
			if (i < len - 3)
				out[3 + i] = addr[i];
	} else {
		out[2] = ((const __u8 *)&port)[0];
		out[3] = ((const __u8 *)&port)[1];
		for (i = 0; i < 16; i++)
			if (i < len - 4)
				out[4 + i] = addr[i];
	}
	return len;
}

#endif /* TOA_WIRE_H */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for include/toa/toa_wire.h. Input: one byte of accept mask
 * (its copies fill the upper mask bits, which must not matter), then the
 * options area, copied into a heap buffer of exactly that size so ASan sees
 * any read past len. Checks toa_parse() against the invariants of the format
 * and against a table-driven reference parser written independently of it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toa/toa_wire.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

/*
 * Planted bugs, built only for the test that proves this harness fails when
 * it should: 1 = the parser is told one byte more than the buffer holds (ASan
 * must see the over-read), 2 = the reference forgets the multiple-TOA rule
 * (the differential check must see the disagreement).
 */
#ifndef TOA_FUZZ_PLANT
#define TOA_FUZZ_PLANT 0
#endif

static const struct { __u8 kind, len, dialect; } table[] = {
	{ 254, 8, TOA_D_V4 }, { 254, 20, TOA_D_V6 }, { 253, 20, TOA_D_V6_ALI },
	{ 253, 8, TOA_D_V4_253 }, { 200, 8, TOA_D_V4_200 }, { 28, 7, TOA_D_CDN },
	{ 28, 19, TOA_D_CDN6 },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

/*
 * DESIGN.md's rules, stated as directly as possible: a (kind, length) in the
 * table is TOA when its dialect is accepted and an unknown option otherwise;
 * another length of a kind that has an accepted dialect is a length error,
 * except the User Timeout option 28/4. Returns a dialect, 0, or -status.
 */
static int ref_classify(__u8 kind, __u8 len, __u32 accept)
{
	unsigned int i, kind_accepted = 0;

	if (kind == 28 && len == 4)
		return 0;
	for (i = 0; i < NTABLE; i++) {
		if (table[i].kind != kind)
			continue;
		if (table[i].len == len)
			return accept & (1u << table[i].dialect) ? table[i].dialect : 0;
		kind_accepted |= accept & (1u << table[i].dialect);
	}
	return kind_accepted ? -TOA_ERR_LENGTH : 0;
}

/*
 * Whether the address in the option at o (already known to be TOA) could be
 * a client's, by DESIGN.md's list: not 0/8, 127/8, 224/4, 255.255.255.255,
 * ::, ::1, ff00::/8, nor ::ffff: followed by a refused IPv4 address.
 */
static int ref_v4_ok(const __u8 *a)
{
	__u32 v = (__u32)a[0] << 24 | (__u32)a[1] << 16 | (__u32)a[2] << 8 | a[3];

	return !(v >> 24 == 0 || v >> 24 == 127 || (v >= 0xe0000000u && v <= 0xefffffffu) || v == 0xffffffffu);
}

static int ref_address_ok(const __u8 *o)
{
	static const __u8 zero[16], mapped[12] = { [10] = 0xff, [11] = 0xff };
	const __u8 *a = o + (o[0] == 28 ? 3 : 4);

	if (o[1] == 8 || o[1] == 7)
		return ref_v4_ok(a);
	if (!memcmp(a, mapped, 12))
		return ref_v4_ok(a + 12);
	if (a[0] == 0xff || (!memcmp(a, zero, 15) && a[15] < 2))
		return 0;
	return 1;
}

/* Returns the status; on TOA_OK, *at and *dialect say which option. */
static int ref_parse(const __u8 *b, size_t len, __u32 accept, size_t *at, int *dialect)
{
	size_t off = 0, i;
	int found = 0, d;

	if (len > TOA_OPT_MAX)
		return TOA_ERR_TRUNCATED;
	while (off < len) {
		if (b[off] == TOA_OPT_EOL) {
			for (i = off; i < len; i++)
				if (b[i])
					return TOA_ERR_AFTER_EOL;
			break;
		}
		if (b[off] == TOA_OPT_NOP) {
			off++;
			continue;
		}
		if (len - off < 2)
			return TOA_ERR_TRUNCATED;
		if (b[off + 1] < 2)
			return TOA_ERR_SHORT;
		if (b[off + 1] > len - off)
			return TOA_ERR_TRUNCATED;
		d = ref_classify(b[off], b[off + 1], accept);
		if (d < 0)
			return -d;
		if (d && found && TOA_FUZZ_PLANT != 2)
			return TOA_ERR_MULTIPLE;
		if (d) {
			found = d;
			*at = off;
		}
		off += b[off + 1];
	}
	if (!found)
		return TOA_ABSENT;
	*dialect = found;
	if ((found == TOA_D_CDN || found == TOA_D_CDN6) && b[*at + 2] != TOA_CDN_VERSION)
		return TOA_ERR_VERSION;
	if (found != TOA_D_CDN && found != TOA_D_CDN6 && !b[*at + 2] && !b[*at + 3])
		return TOA_ERR_PORT;
	return ref_address_ok(b + *at) ? TOA_OK : TOA_ERR_ADDRESS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toa_addr out;
	__u8 enc[TOA_LEN_V6 + 1], addr[16];
	__u32 accept, alen, i, n;
	size_t len, at = 0;
	int st, ref, refd = 0;
	__u8 *buf;

	if (size < 1 || size > 1 + TOA_OPTBUF)
		return 0;
	accept = data[0] * 0x01010101u;
	len = size - 1;
	buf = malloc(len ? len : 1);
	CHECK(buf);
	memcpy(buf, data + 1, len);
	memset(&out, 0x5a, sizeof(out));

	st = toa_parse(buf, (__u32)len + (TOA_FUZZ_PLANT == 1 && len), accept, &out);
	CHECK(st >= 0 && st < TOA_STATUS_MAX);
	ref = ref_parse(buf, len, accept, &at, &refd);
	CHECK(st == ref);
	if (st == TOA_OK) {
		CHECK(out.dialect == refd);
		CHECK(out.dialect > TOA_D_NONE && out.dialect < TOA_D_MAX);
		CHECK(accept & TOA_BIT(out.dialect));
		alen = toa_dialect_family(out.dialect) == TOA_FAMILY_V6 ? 16 : 4;
		CHECK(out.family == (alen == 4 || !memcmp(buf + at + buf[at + 1] - 16, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)
				     ? TOA_FAMILY_V4 : TOA_FAMILY_V6));
		for (i = out.family == TOA_FAMILY_V6 ? 16 : 4; i < 16; i++)
			CHECK(out.addr[i] == 0);
		if (out.dialect == TOA_D_CDN || out.dialect == TOA_D_CDN6)
			CHECK(out.port == 0);
		else
			CHECK(out.port != 0);
		/* Re-encoding gives back exactly the option the parser took (a v4-mapped one mapped again). */
		memcpy(addr, out.addr, 16);
		if (alen == 16 && out.family == TOA_FAMILY_V4) {
			memset(addr, 0, 16);
			addr[10] = addr[11] = 0xff;
			memcpy(addr + 12, out.addr, 4);
		}
		memset(enc, 0xee, sizeof(enc));
		n = toa_encode(out.dialect, out.port, addr, enc);
		CHECK(n == buf[at + 1] && at + n <= len);
		CHECK(!memcmp(enc, buf + at, n));
		CHECK(enc[n] == 0xee || n == sizeof(enc));
	}
	free(buf);
	return 0;
}

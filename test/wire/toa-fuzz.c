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
	return TOA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toa_addr out;
	__u8 enc[TOA_LEN_V6 + 1];
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
		CHECK(out.family == toa_dialect_family(out.dialect));
		CHECK(out.family == (toa_dialect_len(out.dialect) >= TOA_LEN_CDN6 ? TOA_FAMILY_V6 : TOA_FAMILY_V4));
		alen = out.family == TOA_FAMILY_V6 ? 16 : 4;
		for (i = alen; i < 16; i++)
			CHECK(out.addr[i] == 0);
		if (out.dialect == TOA_D_CDN || out.dialect == TOA_D_CDN6)
			CHECK(out.port == 0);
		/* Re-encoding gives back exactly the option the parser took. */
		memset(enc, 0xee, sizeof(enc));
		n = toa_encode(out.dialect, out.port, out.addr, enc);
		CHECK(n == buf[at + 1] && at + n <= len);
		CHECK(!memcmp(enc, buf + at, n));
		CHECK(enc[n] == 0xee || n == sizeof(enc));
	}
	free(buf);
	return 0;
}

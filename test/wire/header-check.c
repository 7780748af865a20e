// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Compiled as C (gcc) and as C++ (g++), -Wall -Wextra -Werror: the shared
 * headers must build cleanly for userspace tools and the native addon too.
 */
#include "toa/toa_wire.h"
#include "toa/toa_record.h"

#ifdef __cplusplus
static_assert(sizeof(struct toa_record) == 44, "toa_record is 44 bytes");
#else
_Static_assert(sizeof(struct toa_record) == 44, "toa_record is 44 bytes");
#endif

int toa_header_check(const __u8 *buf, __u32 len, __u8 *enc);

int toa_header_check(const __u8 *buf, __u32 len, __u8 *enc)
{
	struct toa_addr a;
	int st = toa_parse(buf, len, TOA_ACCEPT_ALL, &a);

	if (st != TOA_OK)
		return st;
	return (int)toa_encode(a.dialect, a.port, a.addr, enc);
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What both roles of toa-bpf share: parsing addresses, the pin directory, libbpf's log. */
#ifndef TOA_CLI_H
#define TOA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct toa_endpoint {
	__u8	family;		/* TOA_FAMILY_V4 / TOA_FAMILY_V6 */
	__u8	addr[16];	/* IPv4 in the first 4 bytes */
	__be16	port;		/* network order */
};

struct toa_cidr {
	__u8	family;
	__u8	prefix;		/* prefix length in bits */
	__u8	addr[16];	/* host bits cleared */
};

/* Options every command takes. */
struct toa_global {
	const char *pin_dir;	/* resolved: --pin-dir, else $TOA_PIN_DIR, else the default */
	bool verbose;		/* -v: libbpf's own log on stderr */
	bool json;		/* status --json */
};

/* "198.51.100.100:80" or "[2001:db8::1]:80"; 0 or -EINVAL after printing why. */
int toa_parse_endpoint(const char *s, struct toa_endpoint *ep);
/* "192.0.2.0/24", "2001:db8::/64", or a bare address (a host prefix). */
int toa_parse_cidr(const char *s, struct toa_cidr *c);
/* Dialect name ("v4", "v6-ali", ...) to enum toa_dialect; -EINVAL if unknown. */
int toa_parse_dialect(const char *s);
const char *toa_dialect_name(int dialect);
/* Text form of an address of the given family into buf (INET6_ADDRSTRLEN). */
const char *toa_addr_str(__u8 family, const __u8 *addr, char *buf, size_t len);

/* Fills g->pin_dir from the flag, the environment or the default. */
void toa_global_init(struct toa_global *g, const char *flag_pin_dir);
/*
 * Makes sure the pin directory can be used: its bpffs is mounted (mounting
 * /sys/fs/bpf when it is the standard place and missing), the directory
 * exists when create is set. Prints what is wrong; returns 0 or -errno.
 */
int toa_prepare_pin_dir(const struct toa_global *g, bool create);
/* Joins the pin directory and a name into buf; -ENAMETOOLONG if it does not fit. */
int toa_pin_path(const struct toa_global *g, const char *name, char *buf, size_t len);
/* Routes libbpf's messages: warnings always, debug only with -v. */
void toa_setup_libbpf_log(bool verbose);

#endif /* TOA_CLI_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What both roles of toa-bpf share: options, parsing addresses, the pin directory, status output, libbpf's log. */
#ifndef TOA_CLI_H
#define TOA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

struct option;
struct bpf_map;

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

/* A role's name in messages ("toa-bpf director") and its --help text. */
struct toa_role {
	const char *prog;
	void (*print_usage)(FILE *f);
};

/* What the options every command takes set, as given on the command line. */
struct toa_opts {
	const char *pin_dir;	/* --pin-dir, NULL when absent (see toa_global_init) */
	bool verbose;		/* -v */
	bool json;		/* --json, --format json */
	bool prometheus;	/* --format prometheus (prom.h) */
};

/* A usage error: "PROG: why", a hint to --help, and the exit code 2 to return. */
int toa_usage_error(const struct toa_role *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Runs getopt over a command's arguments (argv[0] is the command), after
 * the file of --config FILE (config.h) if one is given. The
 * options every role has (-p -j -v -h) land in o; the role's own go to
 * role_opt, which returns 0 or a usage error's exit code. --help prints
 * the role's usage and exits 0. Returns 0, or 2 after a usage error.
 */
int toa_parse_opts(const struct toa_role *r, int argc, char **argv, const char *shortopts,
		   const struct option *longopts, struct toa_opts *o, int (*role_opt)(int opt, char *arg));

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
/* <pin dir>/sub[/name] into buf: a role's pins live in a folder of their own. */
int toa_sub_path(const struct toa_global *g, const char *sub, const char *name, char *buf, size_t len);
/*
 * Opens the object pinned at <pin dir>/sub/name: its fd, or -errno. Says
 * why it failed under r's name when r is set; quiet for callers probing.
 */
int toa_open_pinned(const struct toa_role *r, const struct toa_global *g, const char *sub, const char *name);

/* Keys in a map whose keys are at most 64 bytes, up to max. */
__u32 toa_map_count(int fd, __u32 max);
/* Pins fd's object at path, replacing whatever was pinned there. 0 or -errno. */
int toa_repin(int fd, const char *path);
/*
 * The one way both roles keep state across a re-attach. Before load: map
 * takes over the map pinned at path when that one has its type, sizes,
 * entries and flags (true); otherwise (none pinned, or an upgrade changed its
 * shape) the load creates a new one, which the caller pins over the old with
 * toa_repin() after loading, so attach never fails on an old pin.
 */
bool toa_reuse_pinned(struct bpf_map *map, const char *path);
/* A JSON string on stdout: quotes, backslashes and control bytes escaped. */
void toa_json_str(const char *s);
/*
 * Sums a per-CPU array's n counters into sums, vals being scratch for ncpu
 * values. 0, or -errno after saying which counter could not be read.
 */
int toa_sum_percpu(const struct toa_role *r, int fd, __u32 n, __u64 *vals, int ncpu, __u64 *sums);

/* Routes libbpf's messages: warnings always, debug only with -v. */
/*
 * A group's GID from a name in /etc/group or a number, or -1. Read from the
 * file, not through NSS: the binary is static, and NSS modules are not.
 */
long toa_group_id(const char *name);
void toa_setup_libbpf_log(bool verbose);
/* Silences libbpf's warnings (not -v) around calls whose failure is expected and handled. */
void toa_libbpf_mute(bool mute);

#endif /* TOA_CLI_H */

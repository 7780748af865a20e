// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * toa-bpf realserver: attach, inspect and detach the real server's programs
 * (realserver.bpf.c) on a cgroup v2, so every process in it sees the client
 * behind an LVS FullNAT director in getpeername().
 *
 * Pinned state (pin dir = --pin-dir, $TOA_PIN_DIR or /sys/fs/bpf/toa):
 *   records                      socket-storage map, looked up by fd (node-toa)
 *   realserver/link_sockops      the cgroup links; they keep the programs attached
 *   realserver/link_getpeername4   after this loader exits
 *   realserver/link_getpeername6
 *   realserver/records_live      iterator: reading it yields one byte per live record
 *   realserver/{trust4,trust6,counters,config}
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "toa/toa_wire.h"
#include "toa/toa_record.h"
#include "cli.h"
#include "prom.h"
#include "realserver.h"
#include "realserver.skel.h"

#define PROG		"toa-bpf realserver"
#define SUBDIR		"realserver"
#define TRUST_MAX	256

static const char usage[] =
"Usage: toa-bpf realserver attach [--cgroup PATH] (--trust CIDR... | --trust-any) [OPTIONS]\n"
"       toa-bpf realserver detach [--pin-dir DIR]\n"
"       toa-bpf realserver status [--json | --format text|json|prometheus] [--pin-dir DIR]\n"
"\n"
"Makes getpeername() (and so accept(), Node's socket.remoteAddress, nginx's\n"
"$remote_addr) return the client carried in TOA for every TCP server in a\n"
"cgroup v2. Needs Linux 5.10 or later and root.\n"
"\n"
"Options:\n"
"  -c, --cgroup PATH      cgroup v2 directory (default: the root of the cgroup2\n"
"                         mount found in /proc/self/mounts)\n"
"  -t, --trust CIDR       take TOA only from segments whose source (the director's\n"
"                         LIP) is in CIDR; repeatable, IPv4 or IPv6, at most %d\n"
"  -T, --trust-any        take TOA from any source (only where nobody else can\n"
"                         reach the server)\n"
"  -a, --accept DIALECT   dialects to accept, repeatable or comma-separated:\n"
"                         v4 v6 v6-ali (default), v4-253 v4-200 cdn cdn6;\n"
"                         none: read no TOA (counters only)\n"
"  -g, --records-group GROUP\n"
"                         let GROUP read the records (the toa npm package in an\n"
"                         app that does not run as root): the pin directory and\n"
"                         the records map become group-readable; without it,\n"
"                         root only. Needs Linux 5.19+ for apps without CAP_BPF\n"
"                         unless kernel.unprivileged_bpf_disabled is 0\n"
"  -p, --pin-dir DIR      bpffs directory for pinned state (default $TOA_PIN_DIR,\n"
"                         else /sys/fs/bpf/toa)\n"
"  -C, --config FILE      read options from FILE, `key = value` lines (keys: the long\n"
"                         options); detach and status take only its pin-dir\n"
"  -j, --json             status: machine-readable output\n"
"  -v, --verbose          show libbpf's log (the verifier's, on a load failure)\n"
"  -h, --help             this text\n"
"\n"
"Attaching again replaces the programs and the trust list in place: records of\n"
"open connections and counters are kept. Detach removes links, maps and pins.\n"
"\n"
"EXAMPLES:\n"
"  toa-bpf realserver attach --trust 192.0.2.0/24 --trust 2001:db8:200::/64\n"
"  toa-bpf realserver attach --cgroup /sys/fs/cgroup/web.slice --trust 10.0.0.1 --accept v4,v4-200\n"
"  toa-bpf realserver status --json\n"
"  TOA_PIN_DIR=/sys/fs/bpf/lab1 toa-bpf realserver detach\n";

static struct env {
	const char *cgroup;
	struct toa_cidr trust[TRUST_MAX];
	int ntrust;
	bool trust_any;
	__u32 accept;
	bool accept_none;
	const char *records_group;	/* --records-group */
	gid_t records_gid;
	struct toa_opts opts;	/* --pin-dir, --json, --verbose */
} env;

static const struct option long_opts[] = {
	{ "cgroup",	required_argument,	NULL, 'c' },
	{ "trust",	required_argument,	NULL, 't' },
	{ "trust-any",	no_argument,		NULL, 'T' },
	{ "accept",	required_argument,	NULL, 'a' },
	{ "records-group", required_argument,	NULL, 'g' },
	{ "pin-dir",	required_argument,	NULL, 'p' },
	{ "json",	no_argument,		NULL, 'j' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "help",	no_argument,		NULL, 'h' },
	{},
};

/* Counter names in enum rs_counter order; the status names follow enum toa_status. */
static const char *const counter_names[RS_C_MAX] = {
	[RS_C_SEGMENTS]				= "segments",
	[RS_C_STATUS + TOA_OK]			= "found",
	[RS_C_STATUS + TOA_ABSENT]		= "absent",
	[RS_C_STATUS + TOA_ERR_LENGTH]		= "malformed_length",
	[RS_C_STATUS + TOA_ERR_TRUNCATED]	= "malformed_truncated",
	[RS_C_STATUS + TOA_ERR_SHORT]		= "malformed_short",
	[RS_C_STATUS + TOA_ERR_AFTER_EOL]	= "malformed_after_eol",
	[RS_C_STATUS + TOA_ERR_MULTIPLE]	= "malformed_multiple",
	[RS_C_STATUS + TOA_ERR_VERSION]		= "malformed_version",
	[RS_C_STATUS + TOA_ERR_PORT]		= "malformed_port",
	[RS_C_STATUS + TOA_ERR_ADDRESS]		= "impossible_address",
	[RS_C_UNTRUSTED]			= "untrusted",
	[RS_C_UNTRUSTED_TOA]			= "untrusted_toa",
	[RS_C_LATE]				= "late",
	[RS_C_TRUSTED_NO_TOA]			= "trusted_no_toa",
	[RS_C_REWRITTEN4]			= "rewritten4",
	[RS_C_REWRITTEN6]			= "rewritten6",
	[RS_C_NAT64]				= "nat64",
	[RS_C_STORAGE_FAIL]			= "storage_fail",
	[RS_C_NO_PARSER]			= "no_parser",
	[RS_C_STALE]				= "stale",
};

/* The three attached programs: pinned link name and what each does. */
enum { L_SOCKOPS, L_GETPEERNAME4, L_GETPEERNAME6, L_MAX };
static const char *const link_names[L_MAX] = { "link_sockops", "link_getpeername4", "link_getpeername6" };
/* Pinned names of the maps under the role's folder, and the maps' names in the object. */
static const char *const map_names[] = { "trust4", "trust6", "counters", "config" };
static const char *const map_obj_names[] = { "trust4", "trust6", "toa_counters", "config" };
/* Pins of earlier versions, removed by detach. */
static const char *const old_pins[] = { "pending" };
#define ITER_PIN	"records_live"

static void print_usage(FILE *f)
{
	fprintf(f, usage, TRUST_MAX);
}

static const struct toa_role role = { .prog = PROG, .print_usage = print_usage };

#define usage_error(...) toa_usage_error(&role, __VA_ARGS__)

static int add_accept(char *list)
{
	char *save = NULL, *name;
	int d;

	for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		if (!strcmp(name, "none")) {
			env.accept_none = true;	/* read nothing, only count what passes */
			continue;
		}
		d = toa_parse_dialect(name);
		if (d < 0)
			return usage_error("unknown dialect '%s' (v4, v6, v6-ali, v4-253, v4-200, cdn, cdn6)", name);
		env.accept |= TOA_BIT(d);
	}
	return 0;
}

/* The real server's own options; toa_parse_opts handles the shared ones. */
static int parse_opt(int opt, char *arg)
{
	switch (opt) {
	case 'c':
		if (!*arg)
			return usage_error("--cgroup needs a path");
		env.cgroup = arg;
		break;
	case 't':
		if (env.ntrust >= TRUST_MAX)
			return usage_error("too many --trust (at most %d)", TRUST_MAX);
		if (toa_parse_cidr(arg, &env.trust[env.ntrust]))
			return usage_error("bad --trust '%s'", arg);
		env.ntrust++;
		break;
	case 'T':
		env.trust_any = true;
		break;
	case 'a':
		return add_accept(arg);
	case 'g': {
		long gid = toa_group_id(arg);

		if (gid < 0)
			return usage_error("--records-group: no group '%s' in /etc/group (a numeric GID works too)", arg);
		env.records_group = arg;
		env.records_gid = (gid_t)gid;
		break;
	}
	}
	return 0;
}

static int parse_args(int argc, char **argv, const char *cmd)
{
	int err = toa_parse_opts(&role, argc, argv, ":c:t:Ta:g:p:jvh", long_opts, &env.opts, parse_opt);

	if (err)
		return err;
	if (strcmp(cmd, "attach")) {
		if (env.ntrust || env.trust_any || env.accept || env.accept_none || env.records_group)
			return usage_error("--trust, --trust-any, --accept and --records-group belong to attach");
	} else {
		if (!env.ntrust && !env.trust_any)
			return usage_error("attach needs a trust decision: --trust CIDR (the director's "
					   "LIPs) or --trust-any (only where no one else can reach the server)");
		if (env.ntrust && env.trust_any)
			return usage_error("--trust and --trust-any exclude each other");
	}
	if (env.opts.json && strcmp(cmd, "status"))
		return usage_error("--json belongs to status");
	if (env.accept_none && env.accept)
		return usage_error("--accept none excludes other dialects");
	if (!env.accept && !env.accept_none)
		env.accept = TOA_ACCEPT_DEFAULT;
	if (env.trust_any) {
		/* Two /0 prefixes: the trie stays the one source of truth, and status shows them. */
		env.trust[0] = (struct toa_cidr){ .family = TOA_FAMILY_V4, .prefix = 0 };
		env.trust[1] = (struct toa_cidr){ .family = TOA_FAMILY_V6, .prefix = 0 };
		env.ntrust = 2;
	}
	return 0;
}

/* <pin dir>/realserver[/name] into buf. */
static int sub_path(const struct toa_global *g, const char *name, char *buf, size_t len)
{
	return toa_sub_path(g, SUBDIR, name, buf, len);
}

/* Quiet: a missing pin is an answer here (not attached), not an error. */
static int open_sub(const struct toa_global *g, const char *name)
{
	return toa_open_pinned(NULL, g, SUBDIR, name);
}

/* ---- kernel features ---------------------------------------------------- */

static int probe_prog(enum bpf_prog_type type, enum bpf_attach_type attach, const struct bpf_insn *insns, size_t n)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach);
	int fd = bpf_prog_load(type, NULL, "GPL", insns, n, &opts);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/*
 * Names what the kernel lacks, with the version that brought it, so a failed
 * attach on an old kernel says why instead of showing a verifier log. What
 * the programs use, oldest first:
 *   socket storage maps                       5.2
 *   bounded loops                             5.3  (the options walk)
 *   global functions, scalar arguments        5.6  (its per-position step)
 *   cgroup BPF links, link update             5.7
 *   cgroup getpeername hooks                  5.8
 *   sk_storage iterator (status' records)     5.9  (optional)
 *   sockops skb_data, header-option callbacks 5.10
 * Probed here: the ones a kernel may lack while having the next; the last
 * probe (5.10) implies every older feature on a mainline kernel. Proven on
 * Debian 11's 5.10 (test/tools/kernel-5.10.ts).
 */
#define NEEDS	"; the real-server eBPF path needs Linux 5.10 or later"

static int check_kernel(void)
{
	const struct bpf_insn ret1[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	const struct bpf_insn skb_data[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_1,
		  .off = offsetof(struct bpf_sock_ops, skb_data) },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int err;

	err = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL);
	if (err == -EPERM) {
		fprintf(stderr, PROG ": the kernel refuses BPF to this process (root without CAP_BPF and "
			"CAP_SYS_ADMIN, or a locked-down kernel)\n");
		return err;
	}
	if (err <= 0) {
		fprintf(stderr, PROG ": this kernel has no socket storage maps "
			"(BPF_MAP_TYPE_SK_STORAGE, Linux 5.2)" NEEDS "\n");
		return -EOPNOTSUPP;
	}
	if (probe_prog(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETPEERNAME, ret1, 2)) {
		fprintf(stderr, PROG ": this kernel has no cgroup getpeername hooks "
			"(BPF_CGROUP_INET4_GETPEERNAME, Linux 5.8)" NEEDS "\n");
		return -EOPNOTSUPP;
	}
	if (probe_prog(BPF_PROG_TYPE_SOCK_OPS, 0, skb_data, 3)) {
		fprintf(stderr, PROG ": this kernel's sockops programs cannot read TCP headers "
			"(skb_data and the header-option callbacks, Linux 5.10)" NEEDS "\n");
		return -EOPNOTSUPP;
	}
	/* Mainline has these by 5.10; a vendor kernel with backported hooks may not. */
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_sk_storage_get, NULL) <= 0 ||
	    libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_sk_storage_get, NULL) <= 0) {
		fprintf(stderr, PROG ": this kernel's sockops or cgroup sock_addr programs cannot use "
			"socket storage (bpf_sk_storage_get)" NEEDS "\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* ---- cgroup ------------------------------------------------------------- */

/* Where cgroup2 is mounted, from /proc/self/mounts; 0 or -ENOENT. */
static int cgroup2_mount(char *buf, size_t len)
{
	char line[PATH_MAX + 256], dev[256], mnt[PATH_MAX], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s", dev, mnt, type) == 3 && !strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", mnt);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

/* Resolves --cgroup (or the cgroup2 root) to a canonical path and opens it. */
static int open_cgroup(char *path, size_t len, __u64 *id)
{
	char mnt[PATH_MAX];
	struct statfs sfs;
	struct stat st;
	int fd, have_mnt = !cgroup2_mount(mnt, sizeof(mnt));

	if (!env.cgroup && !have_mnt) {
		fprintf(stderr, PROG ": no cgroup v2 hierarchy is mounted (no cgroup2 line in /proc/self/mounts); "
			"mount one (mount -t cgroup2 none /sys/fs/cgroup) or pass --cgroup\n");
		return -ENOENT;
	}
	if (!realpath(env.cgroup ? env.cgroup : mnt, path)) {
		fprintf(stderr, PROG ": cgroup '%s': %s\n", env.cgroup ? env.cgroup : mnt, strerror(errno));
		return -errno;
	}
	if (strlen(path) >= RS_CGROUP_PATH_MAX || strlen(path) >= len) {
		fprintf(stderr, PROG ": cgroup path '%s' is too long\n", path);
		return -ENAMETOOLONG;
	}
	if (statfs(path, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		if (have_mnt)
			fprintf(stderr, PROG ": '%s' is not a cgroup v2 directory (cgroup2 is mounted at %s)\n",
				path, mnt);
		else
			fprintf(stderr, PROG ": '%s' is not a cgroup v2 directory, and no cgroup2 is mounted\n", path);
		return -ENOTDIR;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, PROG ": opening cgroup '%s' failed: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	*id = st.st_ino;	/* a cgroup2 directory's inode number is the cgroup id */
	return fd;
}

/* ---- trust list --------------------------------------------------------- */

static bool wanted_prefix(__u8 family, __u32 prefixlen, const __u8 *addr)
{
	int i;

	for (i = 0; i < env.ntrust; i++)
		if (env.trust[i].family == family && env.trust[i].prefix == prefixlen &&
		    !memcmp(env.trust[i].addr, addr, family == TOA_FAMILY_V4 ? 4 : 16))
			return true;
	return false;
}

/*
 * Makes the live tries equal env.trust: adds first, then removes what is no
 * longer listed, so an address in both lists never stops being trusted.
 */
static int sync_trust(int fd4, int fd6)
{
	struct rs_trust6_key k6, next6, *prev6;
	struct rs_trust4_key k4, next4, *prev4;
	__u8 one = 1;
	int i, err;

	for (i = 0; i < env.ntrust; i++) {
		const struct toa_cidr *c = &env.trust[i];

		if (c->family == TOA_FAMILY_V4) {
			k4.prefixlen = c->prefix;
			memcpy(k4.addr, c->addr, 4);
			err = bpf_map_update_elem(fd4, &k4, &one, BPF_ANY);
		} else {
			k6.prefixlen = c->prefix;
			memcpy(k6.addr, c->addr, 16);
			err = bpf_map_update_elem(fd6, &k6, &one, BPF_ANY);
		}
		if (err) {
			fprintf(stderr, PROG ": adding a trusted prefix failed: %s\n", strerror(errno));
			return -errno;
		}
	}
	/* Deleting during get_next_key would skip keys: restart after each delete. */
	for (prev4 = NULL; !bpf_map_get_next_key(fd4, prev4, &next4);) {
		if (!wanted_prefix(TOA_FAMILY_V4, next4.prefixlen, next4.addr)) {
			bpf_map_delete_elem(fd4, &next4);
			prev4 = NULL;
			continue;
		}
		k4 = next4;
		prev4 = &k4;
	}
	for (prev6 = NULL; !bpf_map_get_next_key(fd6, prev6, &next6);) {
		if (!wanted_prefix(TOA_FAMILY_V6, next6.prefixlen, next6.addr)) {
			bpf_map_delete_elem(fd6, &next6);
			prev6 = NULL;
			continue;
		}
		k6 = next6;
		prev6 = &k6;
	}
	return 0;
}

/* Whether addr (family, 4 or 16 bytes) is in the prefix c. */
static bool cidr_has(const struct toa_cidr *c, __u8 family, const __u8 *addr)
{
	unsigned int full = c->prefix / 8, rest = c->prefix % 8;

	if (c->family != family || memcmp(c->addr, addr, full))
		return false;
	return !rest || !((c->addr[full] ^ addr[full]) & (0xff00 >> rest));
}

/*
 * Trust is judged on the source the real server sees, after its own NAT: a
 * trusted prefix holding one of this host's addresses trusts the host itself
 * and whatever it masquerades or SNATs (containers, kube-proxy), so outsiders
 * could choose their address. Says so for each such prefix; attach goes on.
 */
static void warn_own_addresses(void)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	struct ifaddrs *ifs, *i;
	int t;

	if (env.trust_any || getifaddrs(&ifs))
		return;
	for (t = 0; t < env.ntrust; t++) {
		for (i = ifs; i; i = i->ifa_next) {
			const __u8 *addr;
			__u8 family;

			if (!i->ifa_addr)
				continue;
			if (i->ifa_addr->sa_family == AF_INET) {
				family = TOA_FAMILY_V4;
				addr = (const __u8 *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			} else if (i->ifa_addr->sa_family == AF_INET6) {
				family = TOA_FAMILY_V6;
				addr = (const __u8 *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			} else {
				continue;
			}
			if (!cidr_has(&env.trust[t], family, addr))
				continue;
			fprintf(stderr, PROG ": warning: trusted prefix %s/%u holds this host's own address %s (%s): "
				"connections from this host, and from anything it masquerades or SNATs (containers, "
				"kube-proxy), would be trusted; trust the director's LIPs themselves\n",
				toa_addr_str(env.trust[t].family, env.trust[t].addr, a, sizeof(a)), env.trust[t].prefix,
				toa_addr_str(family, addr, b, sizeof(b)), i->ifa_name);
			break;
		}
	}
	freeifaddrs(ifs);
}

/* ---- who may read records ------------------------------------------------ */

/* Can members of gid (not root, not the owner) search directory path? */
static bool group_can_search(const char *path, gid_t gid)
{
	struct stat st;

	if (stat(path, &st))
		return false;
	return (st.st_mode & S_IXOTH) || (st.st_gid == gid && (st.st_mode & S_IXGRP));
}

/*
 * Before Linux 5.19 kernel.unprivileged_bpf_disabled refused every bpf()
 * command to a process without CAP_BPF, opening a pinned map included; from
 * 5.19 it refuses only loading programs and creating maps, and file
 * permissions decide who opens a pin.
 */
static bool bpf_syscall_closed_to_users(char *why, size_t len)
{
	struct utsname u;
	unsigned int major = 0, minor = 0;
	char v = '0';
	FILE *f;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2 || major > 5 || (major == 5 && minor >= 19))
		return false;
	f = fopen("/proc/sys/kernel/unprivileged_bpf_disabled", "r");
	if (f) {
		if (fread(&v, 1, 1, f) != 1)
			v = '0';
		fclose(f);
	}
	if (v == '0')
		return false;
	snprintf(why, len, "Linux %s refuses bpf() to processes without CAP_BPF while "
		 "kernel.unprivileged_bpf_disabled is %c (5.19 and later only refuse loading)", u.release, v);
	return true;
}

/*
 * Lets env.records_gid read the records (the pin directory searchable by the
 * group, the records map readable by it), or takes that back: every attach
 * states the whole wanted state. The realserver/ folder stays root's. Says
 * what else stands in the group's way; 0 or -errno.
 */
static int apply_records_access(const struct toa_global *g)
{
	char path[PATH_MAX], why[256];
	gid_t gid = env.records_group ? env.records_gid : 0;
	char *slash;
	int err;

	err = toa_pin_path(g, TOA_PIN_RECORDS, path, sizeof(path));
	if (err)
		return err;
	if (chown(g->pin_dir, -1, gid) || chmod(g->pin_dir, env.records_group ? 0710 : 0700) ||
	    chown(path, -1, gid) || chmod(path, env.records_group ? 0640 : 0600)) {
		err = -errno;
		fprintf(stderr, PROG ": setting who may read %s failed: %s\n", path, strerror(errno));
		return err;
	}
	if (!env.records_group)
		return 0;
	/* Every directory above must let the group through, or the pin cannot be reached. */
	snprintf(path, sizeof(path), "%s", g->pin_dir);
	while ((slash = strrchr(path, '/')) && slash != path) {
		*slash = '\0';
		if (!group_can_search(path, gid))
			fprintf(stderr, PROG ": warning: group %s cannot search %s, so it cannot reach the records; "
				"allow it (chmod o+x %s, or chgrp %s and chmod g+x) or use a --pin-dir it can reach\n",
				env.records_group, path, path, env.records_group);
	}
	if (bpf_syscall_closed_to_users(why, sizeof(why)))
		fprintf(stderr, PROG ": warning: %s: apps of group %s also need CAP_BPF to read records\n",
			why, env.records_group);
	return 0;
}

/* ---- attach ------------------------------------------------------------- */

static int read_config(const struct toa_global *g, struct rs_config *cfg)
{
	__u32 key = 0;
	int fd = open_sub(g, "config"), err = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &key, cfg))
		err = -errno;
	close(fd);
	return err;
}

/* The pinned maps: the records map at the pin dir's top, the rest under realserver/. */
static struct bpf_map *pinned_map(struct realserver_bpf *skel, int i, const struct toa_global *g, char *path, size_t len)
{
	if (i < 0) {
		if (toa_pin_path(g, TOA_PIN_RECORDS, path, len))
			return NULL;
		return skel->maps.records;
	}
	if (sub_path(g, map_names[i], path, len))
		return NULL;
	return bpf_object__find_map_by_name(skel->obj, map_obj_names[i]);
}

#define N_MAPS	((int)(sizeof(map_names) / sizeof(map_names[0])))

/* Before load: keep what is pinned where its shape still fits (toa_reuse_pinned()). */
static int reuse_pins(const struct toa_global *g, struct realserver_bpf *skel)
{
	char path[PATH_MAX];
	struct bpf_map *m;
	int i;

	for (i = -1; i < N_MAPS; i++) {
		m = pinned_map(skel, i, g, path, sizeof(path));
		if (!m) {
			fprintf(stderr, PROG ": the pin path of a map does not fit\n");
			return -ENAMETOOLONG;
		}
		toa_reuse_pinned(m, path);
	}
	return 0;
}

/* After load: pin every map, replacing an old pin whose map was not reused. */
static int pin_maps(const struct toa_global *g, struct realserver_bpf *skel)
{
	char path[PATH_MAX];
	struct bpf_map *m;
	int i, err;

	for (i = -1; i < N_MAPS; i++) {
		m = pinned_map(skel, i, g, path, sizeof(path));
		err = m ? toa_repin(bpf_map__fd(m), path) : -ENAMETOOLONG;
		if (err) {
			fprintf(stderr, PROG ": pinning %s failed: %s\n", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* The object, configured and taking over what is pinned; NULL after saying why. */
static struct realserver_bpf *open_skel(const struct toa_global *g, bool with_iter)
{
	struct realserver_bpf *skel = realserver_bpf__open();

	if (!skel) {
		fprintf(stderr, PROG ": opening the BPF object failed: %s\n", strerror(errno));
		return NULL;
	}
	skel->rodata->accept_mask = env.accept;
	bpf_program__set_autoload(skel->progs.toa_records_iter, with_iter);
	if (reuse_pins(g, skel)) {
		realserver_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* Attaches prog to the cgroup through a pinned link, or swaps it into the link already pinned. */
static int attach_or_update(const struct toa_global *g, struct bpf_program *prog, const char *name, int cgfd)
{
	char path[PATH_MAX];
	struct bpf_link *link;
	int err;

	if (sub_path(g, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	link = access(path, F_OK) ? NULL : bpf_link__open(path);
	if (link) {
		err = bpf_link__update_program(link, prog);
		if (err)
			fprintf(stderr, PROG ": replacing the program in %s failed: %s\n", path, strerror(-err));
		bpf_link__destroy(link);	/* closes our fd; the pin keeps the link */
		return err;
	}
	link = bpf_program__attach_cgroup(prog, cgfd);
	if (!link) {
		err = -errno;
		fprintf(stderr, PROG ": attaching %s to the cgroup failed: %s\n", bpf_program__name(prog), strerror(-err));
		return err;
	}
	err = bpf_link__pin(link, path);
	if (err)
		fprintf(stderr, PROG ": pinning %s failed: %s\n", path, strerror(-err));
	bpf_link__destroy(link);
	return err;
}

/* The records iterator: recreated on every attach (an iterator link cannot be updated). */
static void pin_records_iter(const struct toa_global *g, struct realserver_bpf *skel)
{
	DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info info = {};
	char path[PATH_MAX];
	struct bpf_link *link;

	if (sub_path(g, ITER_PIN, path, sizeof(path)))
		return;
	unlink(path);
	if (!bpf_program__autoload(skel->progs.toa_records_iter))
		return;
	info.map.map_fd = bpf_map__fd(skel->maps.records);
	opts.link_info = &info;
	opts.link_info_len = sizeof(info);
	link = bpf_program__attach_iter(skel->progs.toa_records_iter, &opts);
	if (!link || bpf_link__pin(link, path))
		fprintf(stderr, PROG ": warning: the live-records counter is unavailable: %s\n", strerror(errno));
	bpf_link__destroy(link);
}

static int remove_all(const struct toa_global *g, bool quiet);

static int cmd_attach(const struct toa_global *g)
{
	struct realserver_bpf *skel = NULL;
	struct rs_config cfg = {}, old = {};
	char cgpath[PATH_MAX], dir[PATH_MAX], buf[INET6_ADDRSTRLEN];
	struct bpf_program *progs[L_MAX];
	bool fresh = false;
	__u64 cgid = 0;
	__u32 key = 0;
	int cgfd, err, i, d, ret = 1;

	if (check_kernel())
		return 1;
	/* The pin dir first: under ip netns exec, a missing cgroup2 is only a symptom of the private /sys. */
	if (toa_prepare_pin_dir(g, false))
		return 1;
	warn_own_addresses();
	cgfd = open_cgroup(cgpath, sizeof(cgpath), &cgid);
	if (cgfd < 0)
		return 1;
	if (toa_prepare_pin_dir(g, true) || sub_path(g, NULL, dir, sizeof(dir)))
		goto cleanup;
	fresh = read_config(g, &old) != 0;
	if (!fresh && old.cgroup_id != cgid) {
		fprintf(stderr, PROG ": already attached to cgroup %s under %s; detach first "
			"(or use another --pin-dir)\n", old.cgroup, g->pin_dir);
		goto cleanup;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, PROG ": cannot create '%s': %s\n", dir, strerror(errno));
		goto cleanup;
	}

	/* The iterator needs kernel BTF for its context; without it, status just cannot count records. */
	skel = open_skel(g, access("/sys/kernel/btf/vmlinux", R_OK) == 0);
	if (!skel)
		goto cleanup;
	err = realserver_bpf__load(skel);
	if (err == -EPERM && bpf_program__autoload(skel->progs.toa_records_iter)) {
		/* A kernel locked down for confidentiality refuses tracing programs, the iterator among them. */
		realserver_bpf__destroy(skel);
		skel = open_skel(g, false);
		if (!skel)
			goto cleanup;
		err = realserver_bpf__load(skel);
		if (!err)
			fprintf(stderr, PROG ": warning: the kernel refused the live-records iterator "
				"(lockdown?); status cannot count records\n");
	}
	if (err) {
		fprintf(stderr, PROG ": loading the BPF programs failed: %s (-v shows libbpf's log)\n", strerror(-err));
		goto cleanup;
	}
	if (pin_maps(g, skel))
		goto cleanup;
	/* Records first, so any trusted segment already finds the list complete. */
	err = sync_trust(bpf_map__fd(skel->maps.trust4), bpf_map__fd(skel->maps.trust6));
	if (err)
		goto cleanup;
	cfg.accept = env.accept;
	cfg.cgroup_id = cgid;
	memcpy(cfg.cgroup, cgpath, strlen(cgpath) + 1);	/* length checked in open_cgroup */
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.config), &key, &cfg, BPF_ANY)) {
		fprintf(stderr, PROG ": writing the configuration failed: %s\n", strerror(errno));
		goto cleanup;
	}
	progs[L_SOCKOPS] = skel->progs.toa_sockops;
	progs[L_GETPEERNAME4] = skel->progs.toa_getpeername4;
	progs[L_GETPEERNAME6] = skel->progs.toa_getpeername6;
	for (i = 0; i < L_MAX; i++)
		if (attach_or_update(g, progs[i], link_names[i], cgfd))
			goto cleanup;
	pin_records_iter(g, skel);
	if (apply_records_access(g))
		goto cleanup;

	printf("realserver: %s cgroup %s (pin dir %s)\n", fresh ? "attached to" : "updated on", cgpath, g->pin_dir);
	printf("  accept:");
	for (d = TOA_D_NONE + 1; d < TOA_D_MAX; d++)
		if (env.accept & TOA_BIT(d))
			printf(" %s", toa_dialect_name(d));
	if (!env.accept)
		printf(" none (TOA is counted, never used)");
	printf("\n  trust: ");
	if (env.trust_any)
		printf(" any source");
	else
		for (i = 0; i < env.ntrust; i++)
			printf(" %s/%u", toa_addr_str(env.trust[i].family, env.trust[i].addr, buf, sizeof(buf)),
			       env.trust[i].prefix);
	printf("\n");
	if (env.records_group)
		printf("  records: readable by group %s\n", env.records_group);
	ret = 0;
cleanup:
	realserver_bpf__destroy(skel);
	close(cgfd);
	/* A first attach that failed half way leaves nothing; a failed update keeps what was working. */
	if (ret && fresh)
		remove_all(g, true);
	return ret;
}

/* ---- detach ------------------------------------------------------------- */

/* Unpins everything of this role; returns how many pins it removed, or -errno. */
static int remove_all(const struct toa_global *g, bool quiet)
{
	char path[PATH_MAX];
	unsigned int i;
	int removed = 0, err = 0;

	/* Links first: programs stop running before their maps go. */
	for (i = 0; i < L_MAX; i++)
		if (!sub_path(g, link_names[i], path, sizeof(path)) && !unlink(path))
			removed++;
	if (!sub_path(g, ITER_PIN, path, sizeof(path)) && !unlink(path))
		removed++;
	for (i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++)
		if (!sub_path(g, map_names[i], path, sizeof(path)) && !unlink(path))
			removed++;
	for (i = 0; i < sizeof(old_pins) / sizeof(old_pins[0]); i++)
		if (!sub_path(g, old_pins[i], path, sizeof(path)) && !unlink(path))
			removed++;
	if (!toa_pin_path(g, TOA_PIN_RECORDS, path, sizeof(path)) && !unlink(path))
		removed++;
	if (!sub_path(g, NULL, path, sizeof(path)) && rmdir(path) && errno != ENOENT) {
		err = -errno;
		if (!quiet)
			fprintf(stderr, PROG ": cannot remove '%s': %s\n", path, strerror(errno));
	}
	/* The pin directory itself goes when nothing else (the director) uses it. */
	rmdir(g->pin_dir);
	return err ? err : removed;
}

static int cmd_detach(const struct toa_global *g)
{
	struct rs_config cfg = {};
	char cgpath[PATH_MAX];
	__u64 cgid;
	int n, cgfd;

	if (toa_prepare_pin_dir(g, false))
		return 1;
	if (env.cgroup && !read_config(g, &cfg)) {
		cgfd = open_cgroup(cgpath, sizeof(cgpath), &cgid);
		if (cgfd < 0)
			return 1;
		close(cgfd);
		if (cgid != cfg.cgroup_id) {
			fprintf(stderr, PROG ": attached to cgroup %s, not %s; nothing detached\n", cfg.cgroup, cgpath);
			return 1;
		}
	}
	n = remove_all(g, false);
	if (n < 0)
		return 1;
	if (n)
		printf("realserver: detached (pin dir %s)\n", g->pin_dir);
	else
		printf("realserver: not attached (pin dir %s)\n", g->pin_dir);
	return 0;
}

/* ---- status ------------------------------------------------------------- */

/* Number of sockets with a record, from the pinned iterator; -errno when unavailable. */
static long live_records(const struct toa_global *g)
{
	char path[PATH_MAX], buf[4096];
	long total = 0;
	ssize_t n;
	int fd;

	if (sub_path(g, ITER_PIN, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	close(fd);
	return n < 0 ? -errno : total;
}

/* Prints the trust list as CIDRs, JSON strings or words. */
static void print_trust(int fd4, int fd6, bool json)
{
	struct rs_trust4_key k4, *p4 = NULL;
	struct rs_trust6_key k6, *p6 = NULL;
	char buf[INET6_ADDRSTRLEN];
	const char *sep = "";

	while (!bpf_map_get_next_key(fd4, p4, &k4)) {
		printf(json ? "%s\"%s/%u\"" : "%s%s/%u", sep, toa_addr_str(TOA_FAMILY_V4, k4.addr, buf, sizeof(buf)),
		       k4.prefixlen);
		sep = json ? ", " : " ";
		p4 = &k4;
	}
	while (!bpf_map_get_next_key(fd6, p6, &k6)) {
		printf(json ? "%s\"%s/%u\"" : "%s%s/%u", sep, toa_addr_str(TOA_FAMILY_V6, k6.addr, buf, sizeof(buf)),
		       k6.prefixlen);
		sep = json ? ", " : " ";
		p6 = &k6;
	}
	if (!*sep && !json)
		printf("(empty: no TOA is used)");
}

static int cmd_status(const struct toa_global *g)
{
	int fd4 = -1, fd6 = -1, cfd = -1, ncpu, i, d, ret = 1, err;
	__u64 sums[RS_C_MAX] = {}, *vals = NULL;
	struct rs_config cfg = {};
	bool linked[L_MAX];
	const char *sep;
	long records;

	if (toa_prepare_pin_dir(g, false))
		return 1;
	err = read_config(g, &cfg);
	if (err == -ENOENT) {
		if (env.opts.prometheus)
			toa_prom_realserver(&(struct toa_prom_status){ .role = "realserver" }, NULL);
		else if (env.opts.json) {
			printf("{\"attached\": false, \"pin_dir\": ");
			toa_json_str(g->pin_dir);
			printf("}\n");
		} else {
			printf("realserver: not attached (pin dir %s)\n", g->pin_dir);
		}
		return 0;
	}
	if (err) {
		fprintf(stderr, PROG ": reading the pinned state under %s failed: %s\n", g->pin_dir, strerror(-err));
		return 1;
	}
	fd4 = open_sub(g, "trust4");
	fd6 = open_sub(g, "trust6");
	cfd = open_sub(g, "counters");
	if (fd4 < 0 || fd6 < 0 || cfd < 0) {
		fprintf(stderr, PROG ": pinned maps under %s/%s are missing; run detach, then attach\n",
			g->pin_dir, SUBDIR);
		goto cleanup;
	}
	ncpu = libbpf_num_possible_cpus();
	vals = ncpu > 0 ? calloc(ncpu, sizeof(*vals)) : NULL;
	if (!vals) {
		fprintf(stderr, PROG ": counting CPUs failed\n");
		goto cleanup;
	}
	if (toa_sum_percpu(&role, cfd, RS_C_MAX, vals, ncpu, sums))
		goto cleanup;
	for (i = 0; i < L_MAX; i++) {
		int fd = open_sub(g, link_names[i]);

		linked[i] = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	records = live_records(g);
	if (env.opts.prometheus) {
		struct toa_prom_status ps = { "realserver", linked[0] && linked[1] && linked[2], counter_names, sums,
					      RS_C_MAX };
		struct toa_prom_realserver pr = { cfg.cgroup, toa_map_count(fd4, TRUST_MAX) + toa_map_count(fd6, TRUST_MAX),
						  records };

		toa_prom_realserver(&ps, &pr);
		ret = 0;
		goto cleanup;
	}

	if (env.opts.json) {
		printf("{\"attached\": %s, \"pin_dir\": ", linked[0] && linked[1] && linked[2] ? "true" : "false");
		toa_json_str(g->pin_dir);
		printf(", \"cgroup\": ");
		toa_json_str(cfg.cgroup);
		printf(", \"cgroup_id\": %llu, \"links\": {\"sockops\": %s, \"getpeername4\": %s, \"getpeername6\": %s}",
		       (unsigned long long)cfg.cgroup_id, linked[0] ? "true" : "false",
		       linked[1] ? "true" : "false", linked[2] ? "true" : "false");
		printf(", \"accept\": [");
		for (sep = "", d = TOA_D_NONE + 1; d < TOA_D_MAX; d++)
			if (cfg.accept & TOA_BIT(d)) {
				printf("%s\"%s\"", sep, toa_dialect_name(d));
				sep = ", ";
			}
		printf("], \"trust\": [");
		print_trust(fd4, fd6, true);
		printf("], \"records\": ");
		if (records >= 0)
			printf("%ld", records);
		else
			printf("null");
		printf(", \"counters\": {");
		for (i = 0; i < RS_C_MAX; i++)
			printf("%s\"%s\": %llu", i ? ", " : "", counter_names[i], (unsigned long long)sums[i]);
		printf("}}\n");
	} else {
		printf("realserver: %s cgroup %s (pin dir %s)\n",
		       linked[0] && linked[1] && linked[2] ? "attached to" : "PARTLY attached to", cfg.cgroup, g->pin_dir);
		printf("  accept:  ");
		for (sep = "", d = TOA_D_NONE + 1; d < TOA_D_MAX; d++)
			if (cfg.accept & TOA_BIT(d)) {
				printf("%s%s", sep, toa_dialect_name(d));
				sep = " ";
			}
		if (!cfg.accept)
			printf("none");
		printf("\n  trust:   ");
		print_trust(fd4, fd6, false);
		if (records >= 0)
			printf("\n  records: %ld live\n", records);
		else
			printf("\n  records: unknown (%s)\n", strerror((int)-records));
		for (i = 0; i < RS_C_MAX; i++)
			printf("  %-20s %llu\n", counter_names[i], (unsigned long long)sums[i]);
	}
	ret = 0;
cleanup:
	free(vals);
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	if (cfd >= 0)
		close(cfd);
	return ret;
}

int realserver_main(int argc, char **argv)
{
	struct toa_global g = {};
	const char *cmd;
	int err;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	if (strcmp(cmd, "attach") && strcmp(cmd, "detach") && strcmp(cmd, "status"))
		return usage_error("unknown command '%s' (attach, detach or status)", cmd);
	err = parse_args(argc - 1, argv + 1, cmd);
	if (err)
		return err;
	if (geteuid() != 0) {
		fprintf(stderr, PROG ": must run as root: loading and attaching BPF programs and "
			"reading their pins needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN\n");
		return 1;
	}
	toa_setup_libbpf_log(env.opts.verbose);
	toa_global_init(&g, env.opts.pin_dir);
	if (!strcmp(cmd, "attach"))
		return cmd_attach(&g);
	if (!strcmp(cmd, "detach"))
		return cmd_detach(&g);
	return cmd_status(&g);
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * toa-bpf director: attach, inspect and detach the TOA writer (director.bpf.c)
 * on an LVS FullNAT director's client-facing interface.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <net/if_arp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "toa/toa_wire.h"
#include "cli.h"
#include "tc_hook.h"
#include "prom.h"
#include "director.h"
#include "director.skel.h"

#define PROG "toa-bpf director"

static const char usage[] =
"Usage: toa-bpf director attach --dev IFACE --vip ADDR:PORT [--vip ...] [OPTIONS]\n"
"       toa-bpf director detach [--dev IFACE] [--pin-dir DIR]\n"
"       toa-bpf director status [--json | --format text|json|prometheus] [--pin-dir DIR]\n"
"\n"
"Writes TOA (the client's address and port) into client segments to the VIPs\n"
"of an LVS FullNAT director: a tc program at ingress and egress of the\n"
"client-facing interface, before NAT.\n"
"\n"
"Options:\n"
"  -d, --dev IFACE        client-facing interface (attach; detach checks it)\n"
"  -V, --vip ADDR:PORT    a VIP and port to serve, repeatable; IPv6 as [ADDR]:PORT\n"
"  -D, --dialect NAME     dialect to write, at most one per client family:\n"
"                         IPv4 clients: v4 (default), v4-253, v4-200, cdn\n"
"                         IPv6 clients: v6 (default), v6-ali, cdn6\n"
"  -f, --flows N          per-flow state entries (LRU), %u..%u, default %u\n"
"  -H, --hook KIND        how to attach: tcx (BPF links, Linux 6.6), tc (a clsact\n"
"                         qdisc and filters), or auto (default: tcx if the kernel\n"
"                         has it, else tc)\n"
"  -R, --rs-dev IFACE     also write TOA on the real-server-facing interface's\n"
"                         egress, the client taken from conntrack: for SYNPROXY\n"
"                         (or any engine that builds the real server's handshake\n"
"                         itself). The client side then only strips and clamps,\n"
"                         and keeps no per-SYN state. Needs nf_conntrack (5.18)\n"
"  -s, --strip KIND       also overwrite client options of this kind (3..255) with\n"
"                         NOPs, repeatable; every kind a real server may accept\n"
"                         always is (253, 254, 200, and 28 but the 4-byte User\n"
"                         Timeout option)\n"
"  -p, --pin-dir DIR      bpffs directory for pinned state (default $TOA_PIN_DIR,\n"
"                         else /sys/fs/bpf/toa); the writer's is DIR/director\n"
"  -C, --config FILE      read options from FILE, `key = value` lines (keys: the long\n"
"                         options); detach and status take only its pin-dir\n"
"  -j, --json             status: machine-readable output (shape in director.h)\n"
"  -v, --verbose          show libbpf's log (the verifier's, on a load failure)\n"
"  -h, --help             this text\n"
"\n"
"Attaching again replaces the programs and the VIP set in place (flow state and\n"
"counters are kept). Detach removes the links or filters, the pins, and the\n"
"clsact qdisc if attach created it.\n"
"\n"
"EXAMPLES:\n"
"  toa-bpf director attach --dev eth0 --vip 198.51.100.100:80 --vip '[2001:db8:100::100]:80'\n"
"  toa-bpf director attach --dev eth0 --vip 198.51.100.100:443 --dialect v4-200 --flows 262144\n"
"  toa-bpf director attach --dev eth0 --rs-dev eth1 --vip 198.51.100.100:80   # behind SYNPROXY\n"
"  toa-bpf director status --json\n"
"  TOA_PIN_DIR=/sys/fs/bpf/lab1 toa-bpf director detach\n";

static struct env {
	const char *dev;
	const char *rs_dev;	/* --rs-dev */
	struct toa_endpoint vips[DIRECTOR_VIPS_MAX];
	int nvips;
	int dialect_v4;
	int dialect_v6;
	__u32 flows;
	int hook;		/* enum tc_hook_kind */
	__u8 strip[32];
	bool dialect_seen[2];	/* per client family: IPv4, IPv6 */
	bool hook_seen;
	struct toa_opts opts;	/* --pin-dir, --json, --verbose */
} env = {
	.dialect_v4 = TOA_D_V4,
	.dialect_v6 = TOA_D_V6,
	.flows = DIRECTOR_FLOWS_DEFAULT,
};

static const struct option long_opts[] = {
	{ "dev",	required_argument,	NULL, 'd' },
	{ "vip",	required_argument,	NULL, 'V' },
	{ "dialect",	required_argument,	NULL, 'D' },
	{ "flows",	required_argument,	NULL, 'f' },
	{ "hook",	required_argument,	NULL, 'H' },
	{ "strip",	required_argument,	NULL, 's' },
	{ "rs-dev",	required_argument,	NULL, 'R' },
	{ "pin-dir",	required_argument,	NULL, 'p' },
	{ "json",	no_argument,		NULL, 'j' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "help",	no_argument,		NULL, 'h' },
	{},
};

static const char *const counter_names[DC_MAX] = DIRECTOR_COUNTER_NAMES;

/* Pinned names under <pin dir>/director. */
static const char *const pin_names[] = { "ingress", "egress", "vips", "flows", "counters", "info" };
/* With --rs-dev; its tcx links go under <pin dir>/director/rs. */
static const char *const rs_pin_names[] = { "rs_ingress", "rs_egress", "rsflows" };
#define RS_SUBDIR	"rs"

static void print_usage(FILE *f)
{
	fprintf(f, usage, DIRECTOR_FLOWS_MIN, DIRECTOR_FLOWS_MAX, DIRECTOR_FLOWS_DEFAULT);
}

static const struct toa_role role = { .prog = PROG, .print_usage = print_usage };

#define usage_error(...) toa_usage_error(&role, __VA_ARGS__)

static void strip_set(__u8 *bm, unsigned int kind)
{
	bm[kind >> 3] |= 1 << (kind & 7);
}

static bool strip_has(const __u8 *bm, unsigned int kind)
{
	return bm[kind >> 3] & (1 << (kind & 7));
}

/* The director's own options; toa_parse_opts handles the shared ones. */
static int parse_opt(int opt, char *arg)
{
	unsigned long v;
	char *end;
	int d, fam;

	switch (opt) {
	case 'd':
		if (!*arg || strlen(arg) >= IFNAMSIZ)
			return usage_error("bad interface name '%s'", arg);
		env.dev = arg;
		break;
	case 'R':
		if (!*arg || strlen(arg) >= IFNAMSIZ)
			return usage_error("bad interface name '%s'", arg);
		env.rs_dev = arg;
		break;
	case 'V':
		if (env.nvips >= DIRECTOR_VIPS_MAX)
			return usage_error("too many --vip (at most %d)", DIRECTOR_VIPS_MAX);
		if (toa_parse_endpoint(arg, &env.vips[env.nvips]))
			return usage_error("bad --vip '%s'", arg);
		env.nvips++;
		break;
	case 'D':
		d = toa_parse_dialect(arg);
		if (d < 0)
			return usage_error("unknown dialect '%s' (v4, v6, v6-ali, v4-253, v4-200, cdn, cdn6)",
					   arg);
		fam = toa_dialect_family(d) == TOA_FAMILY_V6;
		if (env.dialect_seen[fam])
			return usage_error("--dialect given twice for IPv%d clients", fam ? 6 : 4);
		env.dialect_seen[fam] = true;
		if (fam)
			env.dialect_v6 = d;
		else
			env.dialect_v4 = d;
		break;
	case 'f':
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || *end || !*arg || arg[0] == '-' ||
		    v < DIRECTOR_FLOWS_MIN || v > DIRECTOR_FLOWS_MAX)
			return usage_error("--flows must be a number from %u to %u, not '%s'",
					   DIRECTOR_FLOWS_MIN, DIRECTOR_FLOWS_MAX, arg);
		env.flows = v;
		break;
	case 'H':
		env.hook = tc_hook_parse(arg);
		if (env.hook < 0)
			return usage_error("unknown --hook '%s' (tcx, tc, auto)", arg);
		env.hook_seen = true;
		break;
	case 's':
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || *end || !*arg || arg[0] == '-' || v < 3 || v > 255)
			return usage_error("--strip takes an option kind from 3 to 255, not '%s'", arg);
		strip_set(env.strip, v);
		break;
	}
	return 0;
}

static int parse_args(int argc, char **argv, const char *cmd)
{
	int err = toa_parse_opts(&role, argc, argv, ":d:V:D:f:H:s:R:p:jvh", long_opts, &env.opts, parse_opt);

	if (err)
		return err;
	if (!strcmp(cmd, "attach")) {
		if (!env.dev)
			return usage_error("attach needs --dev IFACE");
		if (!env.nvips)
			return usage_error("attach needs at least one --vip ADDR:PORT");
		if (env.rs_dev && !strcmp(env.rs_dev, env.dev))
			return usage_error("--rs-dev must be another interface than --dev");
	} else if (env.nvips || env.dialect_seen[0] || env.dialect_seen[1] || env.flows != DIRECTOR_FLOWS_DEFAULT ||
		   env.hook_seen || env.rs_dev) {
		return usage_error("--vip, --dialect, --flows, --hook and --rs-dev belong to attach");
	}
	if (env.opts.json && strcmp(cmd, "status"))
		return usage_error("--json belongs to status");
	return 0;
}

static int pin_path(const struct toa_global *g, const char *name, char *buf, size_t len)
{
	return toa_sub_path(g, DIRECTOR_PIN_SUBDIR, name, buf, len);
}

/* The pinned info map's content; -ENOENT when nothing is attached under this pin dir. */
static int read_info(const struct toa_global *g, struct director_info *info)
{
	__u32 key = 0;
	int fd, err;

	fd = toa_open_pinned(NULL, g, DIRECTOR_PIN_SUBDIR, "info");
	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &key, info) ? -errno : 0;
	close(fd);
	/* State pinned before tcx support has 0 there: it was attached by clsact. */
	if (!err && info->hook != TC_HOOK_TCX)
		info->hook = TC_HOOK_CLSACT;
	return err;
}

/* Explains a load failure in terms of kernel features, newest requirement last. */
static void explain_load_failure(int err)
{
	static const struct {
		enum bpf_func_id id;
		const char *name, *kernel;
	} helpers[] = {
		{ BPF_FUNC_skb_load_bytes, "bpf_skb_load_bytes", "4.5" },
		{ BPF_FUNC_csum_diff, "bpf_csum_diff", "4.6" },
		{ BPF_FUNC_skb_change_tail, "bpf_skb_change_tail", "4.9" },
		{ BPF_FUNC_csum_update, "bpf_csum_update", "4.9" },
		{ BPF_FUNC_skb_adjust_room, "bpf_skb_adjust_room", "4.13" },
	};
	unsigned int i;

	fprintf(stderr, PROG ": loading the BPF programs failed: %s\n", strerror(-err));
	if (err == -EPERM) {
		fprintf(stderr, PROG ": permission denied: loading needs root (CAP_BPF, CAP_NET_ADMIN)\n");
		return;
	}
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) <= 0) {
		fprintf(stderr, PROG ": this kernel has no tc BPF programs (Linux 4.1, CONFIG_NET_CLS_BPF)\n");
		return;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LRU_HASH, NULL) <= 0) {
		fprintf(stderr, PROG ": this kernel has no LRU hash maps (Linux 4.10)\n");
		return;
	}
	for (i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, helpers[i].id, NULL) <= 0) {
			fprintf(stderr, PROG ": this kernel lacks the helper %s (Linux %s)\n",
				helpers[i].name, helpers[i].kernel);
			return;
		}
	}
	fprintf(stderr, PROG ": the verifier rejected the programs; they need bounded loops (Linux 5.3), "
		"global functions (5.6) and __sk_buff.gso_size (5.7); run with -v for the verifier's log\n");
}

#define NPINS		((int)(sizeof(pin_names) / sizeof(pin_names[0])))
#define NEW_SUFFIX	"_new"	/* bpffs refuses dots in names */

/* The object behind pin_names[i]. */
static int pin_fd(struct director_bpf *obj, int i)
{
	switch (i) {
	case 0: return bpf_program__fd(obj->progs.toa_ingress);
	case 1: return bpf_program__fd(obj->progs.toa_egress);
	case 2: return bpf_map__fd(obj->maps.vips);
	case 3: return bpf_map__fd(obj->maps.flows);
	case 4: return bpf_map__fd(obj->maps.toa_counters);
	}
	return bpf_map__fd(obj->maps.info);
}

/*
 * A re-attach failed after it touched the hook: take off what it put where
 * the old attachment was not, and put the old programs back where they were
 * (tcx links are updated in place, clsact filters replaced). The pins were
 * never changed (see cmd_attach).
 */
static void restore_old(const struct director_info *old, const int old_progs[2], int ifindex, int tried,
			int got, bool attached, bool created, const char *dir)
{
	bool old_clsact_here = old->hook == TC_HOOK_CLSACT && old->ifindex == (__u32)ifindex;
	bool c = false;
	int kind = old->hook;

	/* New tcx links were pinned only on success, under the link pins: they are the old ones' unless those were clsact. */
	if (attached && got == TC_HOOK_TCX && old->hook != TC_HOOK_TCX)
		tc_hook_detach(0, dir, false);
	/*
	 * Filters of a clsact attempt (on its failure tc_hook_attach removed the
	 * qdisc it made, not the filters it placed), unless they replaced the old
	 * attachment's own, which the re-attach below replaces back.
	 */
	if (tried != TC_HOOK_TCX && !(attached && got == TC_HOOK_TCX) && !old_clsact_here)
		tc_hook_detach(ifindex, NULL, attached && created);
	if (old_progs[0] < 0 || old_progs[1] < 0) {
		fprintf(stderr, PROG ": the programs attached before are not pinned; cannot put them back\n");
		return;
	}
	if (tc_hook_attach(PROG, old->ifindex, old->dev, old_progs, dir, &kind, &c))
		fprintf(stderr, PROG ": putting the programs attached before back on %s failed\n", old->dev);
	else
		fprintf(stderr, PROG ": the attachment before this one is left as it was\n");
}

/*
 * The programs read an Ethernet header before IP. On a device without one
 * (a tunnel, tun, WireGuard) they would parse nothing and strip nothing:
 * a client's own TOA would pass. Such a device is refused, not served.
 */
static int check_ethernet(const char *dev)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return 0;	/* cannot tell; the ioctl below is only a guard */
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (!ioctl(fd, SIOCGIFHWADDR, &ifr) && ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER &&
	    ifr.ifr_hwaddr.sa_family != ARPHRD_LOOPBACK) {	/* lo's frames carry an Ethernet header too */
		fprintf(stderr, PROG ": '%s' is not an Ethernet device (link type %u): the writer reads "
			"Ethernet frames only; attach it where the clients' Ethernet frames arrive\n",
			dev, ifr.ifr_hwaddr.sa_family);
		err = -EINVAL;
	}
	close(fd);
	return err;
}

/* <pin dir>/director/rs: where the real-server-facing tcx links are pinned. */
static int rs_dir(const struct toa_global *g, char *buf, size_t len)
{
	return pin_path(g, RS_SUBDIR, buf, len);
}

/* Takes the real-server-facing programs of an attachment off and removes their pins. */
static int detach_rs(const struct toa_global *g, const struct director_info *info)
{
	char path[PATH_MAX], name[IF_NAMESIZE];
	unsigned int i;
	int err = 0;

	if (rs_dir(g, path, sizeof(path)))
		return -ENAMETOOLONG;
	if (info->rs_ifindex && if_indextoname(info->rs_ifindex, name) && !strcmp(name, info->rs_dev))
		err = tc_hook_detach(info->rs_ifindex, path, info->rs_hook == TC_HOOK_CLSACT && info->rs_clsact_created);
	else
		tc_hook_detach(0, path, false);
	if (err)
		fprintf(stderr, PROG ": removing the tc programs from %s failed: %s\n", info->rs_dev, strerror(-err));
	rmdir(path);
	for (i = 0; i < sizeof(rs_pin_names) / sizeof(rs_pin_names[0]); i++)
		if (!pin_path(g, rs_pin_names[i], path, sizeof(path)))
			unlink(path);
	return err;
}

/*
 * --rs-dev: pins the real-server-facing programs and their flow map, and puts
 * them on the device (an old attachment's there are replaced in place).
 */
static int attach_rs(const struct toa_global *g, struct director_bpf *obj, const struct director_info *old,
		     bool had_old, struct director_info *info)
{
	int fds[3] = { bpf_program__fd(obj->progs.toa_rs_ingress), bpf_program__fd(obj->progs.toa_rs_egress),
		       bpf_map__fd(obj->maps.rsflows) };
	char path[PATH_MAX];
	int ifindex, err, hook = env.hook, i;
	bool created = false;

	ifindex = if_nametoindex(env.rs_dev);
	if (!ifindex) {
		fprintf(stderr, PROG ": no interface '%s' in this network namespace: %s\n", env.rs_dev, strerror(errno));
		return -ENODEV;
	}
	if (check_ethernet(env.rs_dev))
		return -EINVAL;
	/* Links of an old attachment on another device would be updated there, not moved: take them off first. */
	if (had_old && old->rs_ifindex && old->rs_ifindex != (__u32)ifindex)
		detach_rs(g, old);
	if (rs_dir(g, path, sizeof(path)) || (mkdir(path, 0700) && errno != EEXIST)) {
		fprintf(stderr, PROG ": cannot create '%s': %s\n", path, strerror(errno));
		return -errno;
	}
	err = tc_hook_attach(PROG, ifindex, env.rs_dev, fds, path, &hook, &created);
	if (err)
		return err;
	for (i = 0; i < 3; i++) {
		err = pin_path(g, rs_pin_names[i], path, sizeof(path));
		if (!err)
			err = toa_repin(fds[i], path);
		if (err) {
			fprintf(stderr, PROG ": pinning '%s' failed: %s\n", path, strerror(-err));
			return err;
		}
	}
	info->rs_ifindex = ifindex;
	info->rs_hook = hook;
	info->rs_clsact_created = created || (had_old && old->rs_ifindex == (__u32)ifindex &&
					      old->rs_hook == TC_HOOK_CLSACT && hook == TC_HOOK_CLSACT &&
					      old->rs_clsact_created);
	snprintf(info->rs_dev, sizeof(info->rs_dev), "%s", env.rs_dev);
	return 0;
}

/*
 * The lookup kfunc lives in nf_conntrack: without it loaded the programs
 * cannot load. Its sysctl directory is there exactly when it is (per netns).
 */
static int check_conntrack(void)
{
	struct stat st;

	if (!stat("/proc/sys/net/netfilter/nf_conntrack_max", &st))
		return 0;
	fprintf(stderr, PROG ": --rs-dev needs connection tracking (nf_conntrack), which is not loaded here: "
		"`modprobe nf_conntrack`, or add the SYNPROXY/NAT rules first\n");
	return -ENOENT;
}

static int cmd_attach(const struct toa_global *g)
{
	struct director_info old = {}, info = {};
	struct director_bpf *obj = NULL;
	char path[PATH_MAX], dir[PATH_MAX];
	bool had_old, created = false, attached = false, hooked = false;
	int ifindex, err, i, hook = TC_HOOK_AUTO, old_progs[2] = { -1, -1 };
	__u32 key = 0;
	__u8 one = DIRECTOR_VIP_PORT;

	ifindex = if_nametoindex(env.dev);
	if (!ifindex) {
		fprintf(stderr, PROG ": no interface '%s' in this network namespace: %s\n", env.dev, strerror(errno));
		return 1;
	}
	if (check_ethernet(env.dev))
		return 1;
	err = toa_prepare_pin_dir(g, true);
	if (err)
		return 1;
	err = pin_path(g, NULL, dir, sizeof(dir));
	if (err)
		return 1;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, PROG ": cannot create '%s': %s\n", dir, strerror(errno));
		return 1;
	}
	had_old = !read_info(g, &old);
	/* The programs of the attachment before this one, to put back if this one fails half-way. */
	for (i = 0; had_old && i < 2; i++)
		old_progs[i] = toa_open_pinned(NULL, g, DIRECTOR_PIN_SUBDIR, pin_names[i]);

	obj = director_bpf__open();
	if (!obj) {
		err = -errno;
		fprintf(stderr, PROG ": opening the BPF object failed: %s\n", strerror(errno));
		goto cleanup;
	}
	obj->rodata->dialect_v4 = env.dialect_v4;
	obj->rodata->dialect_v6 = env.dialect_v6;
	obj->rodata->rs_mode = !!env.rs_dev;
	/* The conntrack kfuncs resolve only where nf_conntrack is: load their callers only when asked for. */
	if (env.rs_dev && check_conntrack()) {
		err = -ENOENT;
		goto cleanup;
	}
	bpf_program__set_autoload(obj->progs.toa_rs_ingress, !!env.rs_dev);
	bpf_program__set_autoload(obj->progs.toa_rs_egress, !!env.rs_dev);
	/*
	 * Clients may never choose their address: every kind some real server
	 * may accept is always stripped (kind 28 spares the 4-byte User Timeout
	 * option, see strip_kind()), whatever this director writes.
	 */
	strip_set(env.strip, TOA_KIND_CDN);
	strip_set(env.strip, TOA_KIND_200);
	strip_set(env.strip, TOA_KIND_253);
	strip_set(env.strip, TOA_KIND_254);
	memcpy((void *)obj->rodata->strip_kinds, env.strip, sizeof(env.strip));
	err = bpf_map__set_max_entries(obj->maps.flows, env.flows);
	if (!err)
		err = bpf_map__set_max_entries(obj->maps.rsflows, env.flows);
	if (err) {
		fprintf(stderr, PROG ": setting the flow table size failed: %s\n", strerror(-err));
		goto cleanup;
	}
	/*
	 * Keep flow state and counters across a re-attach when their shape is
	 * unchanged. Not the client side's flows under --rs-dev: that side keeps
	 * none and never looks at them, so old ones would only linger in status.
	 */
	if (had_old) {
		struct bpf_map *keep[] = { obj->maps.toa_counters, obj->maps.flows };
		const char *keep_pins[] = { "counters", "flows" };

		for (i = 0; i < (env.rs_dev ? 1 : 2); i++)
			if (!pin_path(g, keep_pins[i], path, sizeof(path)))
				toa_reuse_pinned(keep[i], path);
	}
	err = director_bpf__load(obj);
	if (err) {
		explain_load_failure(err);
		goto cleanup;
	}
	for (i = 0; i < env.nvips; i++) {
		struct director_vip k = { .family = env.vips[i].family, .port = env.vips[i].port };
		__u8 addr_only = DIRECTOR_VIP_ADDR;

		memcpy(k.addr, env.vips[i].addr, 16);
		err = bpf_map_update_elem(bpf_map__fd(obj->maps.vips), &k, &one, BPF_ANY);
		/* The address alone too (port 0), for packets that carry no port: see director.h. */
		k.port = 0;
		if (!err)
			err = bpf_map_update_elem(bpf_map__fd(obj->maps.vips), &k, &addr_only, BPF_ANY);
		if (err) {
			err = -errno;
			fprintf(stderr, PROG ": filling the VIP map failed: %s\n", strerror(errno));
			goto cleanup;
		}
	}

	info.ifindex = ifindex;
	info.flows_max = env.flows;
	info.dialect_v4 = env.dialect_v4;
	info.dialect_v6 = env.dialect_v6;
	snprintf(info.dev, sizeof(info.dev), "%s", env.dev);
	memcpy(info.strip, env.strip, sizeof(info.strip));
	/*
	 * Everything is pinned under a temporary name first and renamed over the
	 * old pins only once the programs are in the hook: an attach that fails
	 * on the way leaves the pins of the attachment before it as they were.
	 */
	for (i = 0; i < NPINS; i++) {
		err = pin_path(g, pin_names[i], path, sizeof(path));
		if (!err && strlen(path) + sizeof(NEW_SUFFIX) > sizeof(path))
			err = -ENAMETOOLONG;
		if (!err) {
			strcat(path, NEW_SUFFIX);
			err = toa_repin(pin_fd(obj, i), path);
		}
		if (err) {
			fprintf(stderr, PROG ": pinning '%s' failed: %s\n", path, strerror(-err));
			goto cleanup;
		}
	}
	{
		int prog_fds[2] = { bpf_program__fd(obj->progs.toa_ingress), bpf_program__fd(obj->progs.toa_egress) };

		hook = env.hook;
		hooked = true;	/* whatever tc_hook_attach did on the way, cleanup puts the old attachment back */
		err = tc_hook_attach(PROG, ifindex, env.dev, prog_fds, dir, &hook, &created);
		if (err)
			goto cleanup;
	}
	attached = true;
	if (env.rs_dev) {
		err = attach_rs(g, obj, &old, had_old, &info);
		if (err)
			goto cleanup;
	}
	info.clsact_created = created || (had_old && old.ifindex == (__u32)ifindex && old.hook == TC_HOOK_CLSACT &&
					  hook == TC_HOOK_CLSACT && old.clsact_created);
	info.hook = hook;
	if (bpf_map_update_elem(bpf_map__fd(obj->maps.info), &key, &info, BPF_ANY)) {
		err = -errno;
		fprintf(stderr, PROG ": writing the info map failed: %s\n", strerror(errno));
		goto cleanup;
	}
	for (i = 0; i < NPINS; i++) {
		char tmp[PATH_MAX];

		err = pin_path(g, pin_names[i], path, sizeof(path));
		if (!err) {
			snprintf(tmp, sizeof(tmp), "%s" NEW_SUFFIX, path);
			err = rename(tmp, path) ? -errno : 0;
		}
		if (err) {
			fprintf(stderr, PROG ": pinning '%s' failed: %s\n", path, strerror(-err));
			goto cleanup;
		}
	}

	/*
	 * What the old attachment leaves behind goes: its clsact filters (and its
	 * qdisc, if it made it) when it was on another device or we are now on
	 * tcx; its links when we are now on clsact. Old links of a tcx attachment
	 * on another device were replaced by the new pins already.
	 */
	if (had_old && old.hook == TC_HOOK_CLSACT && (old.ifindex != (__u32)ifindex || hook == TC_HOOK_TCX))
		tc_hook_detach(old.ifindex, NULL, old.clsact_created);
	if (had_old && old.hook == TC_HOOK_TCX && hook == TC_HOOK_CLSACT)
		tc_hook_detach(0, dir, false);
	if (had_old && old.rs_ifindex && !env.rs_dev)
		detach_rs(g, &old);
	if (env.opts.verbose)
		fprintf(stderr, PROG ": attached to %s (ifindex %d), %d VIP(s), dialects %s/%s, %u flows\n",
			env.dev, ifindex, env.nvips, toa_dialect_name(env.dialect_v4),
			toa_dialect_name(env.dialect_v6), env.flows);
	err = 0;

cleanup:
	for (i = 0; i < NPINS; i++) {
		char tmp[PATH_MAX];

		if (!pin_path(g, pin_names[i], path, sizeof(path)) &&
		    snprintf(tmp, sizeof(tmp), "%s" NEW_SUFFIX, path) < (int)sizeof(tmp))
			unlink(tmp);
	}
	if (err && had_old && hooked)
		restore_old(&old, old_progs, ifindex, env.hook, hook, attached, created, dir);
	if (err && !had_old) {
		/* A first attach that failed leaves nothing behind. */
		if (attached)
			tc_hook_detach(ifindex, dir, created);
		if (info.rs_ifindex)
			detach_rs(g, &info);
		for (i = 0; i < NPINS; i++)
			if (!pin_path(g, pin_names[i], path, sizeof(path)))
				unlink(path);
		rmdir(dir);
		rmdir(g->pin_dir);
	}
	for (i = 0; i < 2; i++)
		if (old_progs[i] >= 0)
			close(old_progs[i]);
	director_bpf__destroy(obj);
	return err ? 1 : 0;
}

static int cmd_detach(const struct toa_global *g)
{
	struct director_info info = {};
	char path[PATH_MAX], dir[PATH_MAX], name[IF_NAMESIZE];
	unsigned int i;
	int err, ret = 0, ifindex;

	if (toa_prepare_pin_dir(g, false) || pin_path(g, NULL, dir, sizeof(dir)))
		return 1;
	err = read_info(g, &info);
	if (err == -ENOENT) {
		/* Nothing pinned: still take our filters off --dev, in case the pins were lost. */
		if (env.dev) {
			ifindex = if_nametoindex(env.dev);
			if (!ifindex) {
				fprintf(stderr, PROG ": no interface '%s' in this network namespace: %s\n",
					env.dev, strerror(errno));
				return 1;
			}
			err = tc_hook_detach(ifindex, dir, false);
			if (err) {
				fprintf(stderr, PROG ": removing the tc programs from %s failed: %s\n",
					env.dev, strerror(-err));
				return 1;
			}
		}
		if (env.opts.verbose)
			fprintf(stderr, PROG ": nothing attached under %s\n", g->pin_dir);
		return 0;
	}
	if (err) {
		fprintf(stderr, PROG ": reading the pinned state under %s failed: %s\n", g->pin_dir, strerror(-err));
		return 1;
	}
	if (env.dev && strcmp(env.dev, info.dev)) {
		fprintf(stderr, PROG ": the writer pinned under %s is attached to %s, not %s\n",
			g->pin_dir, info.dev, env.dev);
		return 1;
	}
	if (info.rs_ifindex && detach_rs(g, &info))
		ret = 1;
	if (if_indextoname(info.ifindex, name) && !strcmp(name, info.dev)) {
		err = tc_hook_detach(info.ifindex, dir, info.hook == TC_HOOK_CLSACT && info.clsact_created);
		if (err) {
			fprintf(stderr, PROG ": removing the tc programs from %s failed: %s\n", info.dev, strerror(-err));
			ret = 1;
		}
	} else {
		fprintf(stderr, PROG ": %s (ifindex %u) is not in this network namespace (gone?); "
			"removing the pins only\n", info.dev, info.ifindex);
		tc_hook_detach(0, dir, false);
	}
	for (i = 0; i < sizeof(pin_names) / sizeof(pin_names[0]); i++) {
		if (pin_path(g, pin_names[i], path, sizeof(path)))
			continue;
		if (unlink(path) && errno != ENOENT) {
			fprintf(stderr, PROG ": removing '%s' failed: %s\n", path, strerror(errno));
			ret = 1;
		}
	}
	if (!pin_path(g, NULL, path, sizeof(path)) && rmdir(path) && errno != ENOENT) {
		fprintf(stderr, PROG ": removing '%s' failed: %s\n", path, strerror(errno));
		ret = 1;
	}
	/* The pin dir itself goes too when nothing else (the real-server role) lives there. */
	rmdir(g->pin_dir);
	return ret;
}

/* VIP:port pairs in the vips map (its port-0 entries are the VIPs' addresses: see director.h). */
static int count_vips(int fd)
{
	struct director_vip k, *prev = NULL;
	int n = 0, seen = 0;

	while (seen++ < 2 * DIRECTOR_VIPS_MAX && !bpf_map_get_next_key(fd, prev, &k)) {
		n += k.port != 0;
		prev = &k;
	}
	return n;
}

static int cmd_status(const struct toa_global *g)
{
	struct director_info info = {};
	struct director_vip vk, *prev = NULL;
	struct director_flow_key fk, *fprev = NULL;
	__u64 sums[DC_MAX] = {}, *vals = NULL;
	char addr[INET6_ADDRSTRLEN], name[IF_NAMESIZE], dir[PATH_MAX];
	int ncpu, vfd = -1, ffd = -1, cfd = -1, err, ret = 1, i, c, nv = 0;
	bool here, in_ing = false, in_eg = false, rs_ing = false, rs_eg = false;
	int ahead = -1;
	__u32 used = 0, rs_used = 0;

	if (toa_prepare_pin_dir(g, false))
		return 1;
	err = read_info(g, &info);
	if (err == -ENOENT) {
		if (env.opts.prometheus)
			toa_prom_director(&(struct toa_prom_status){ .role = "director" }, NULL);
		else if (env.opts.json) {
			printf("{\"attached\": false, \"pin_dir\": ");
			toa_json_str(g->pin_dir);
			printf("}\n");
		}
		else
			printf("director: not attached (pin dir %s)\n", g->pin_dir);
		return 0;
	}
	if (err) {
		fprintf(stderr, PROG ": reading the pinned state under %s failed: %s\n", g->pin_dir, strerror(-err));
		return 1;
	}
	vfd = toa_open_pinned(&role, g, DIRECTOR_PIN_SUBDIR, "vips");
	ffd = toa_open_pinned(&role, g, DIRECTOR_PIN_SUBDIR, "flows");
	cfd = toa_open_pinned(&role, g, DIRECTOR_PIN_SUBDIR, "counters");
	if (vfd < 0 || ffd < 0 || cfd < 0)
		goto cleanup;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		fprintf(stderr, PROG ": counting CPUs failed: %s\n", strerror(-ncpu));
		goto cleanup;
	}
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		goto cleanup;
	if (toa_sum_percpu(&role, cfd, DC_MAX, vals, ncpu, sums))
		goto cleanup;
	while (used < info.flows_max && !bpf_map_get_next_key(ffd, fprev, &fk)) {
		used++;
		fprev = &fk;
	}
	if (info.rs_ifindex) {
		int rfd = toa_open_pinned(&role, g, DIRECTOR_PIN_SUBDIR, "rsflows");

		if (rfd < 0)
			goto cleanup;
		rs_used = toa_map_count(rfd, info.flows_max);
		close(rfd);
		if (if_indextoname(info.rs_ifindex, name) && !strcmp(name, info.rs_dev) &&
		    !rs_dir(g, dir, sizeof(dir))) {
			rs_ing = tc_hook_present(info.rs_ifindex, info.rs_hook, dir, 0);
			rs_eg = tc_hook_present(info.rs_ifindex, info.rs_hook, dir, 1);
		}
	}
	here = if_indextoname(info.ifindex, name) && !strcmp(name, info.dev);
	if (here) {
		bool ok = !pin_path(g, NULL, dir, sizeof(dir));

		in_ing = ok && tc_hook_present(info.ifindex, info.hook, dir, 0);
		in_eg = ok && tc_hook_present(info.ifindex, info.hook, dir, 1);
		ahead = in_ing ? tc_hook_ingress_ahead(info.ifindex, info.hook, dir) : -1;
	}

	if (env.opts.prometheus) {
		struct toa_prom_status ps = { "director", true, counter_names, sums, DC_MAX };
		struct toa_prom_director pd = { .dev = info.dev, .hook = tc_hook_name(info.hook), .ingress = in_ing,
						.egress = in_eg, .vips = count_vips(vfd), .flows_used = used,
						.flows_max = info.flows_max };

		if (info.rs_ifindex) {
			pd.rs_dev = info.rs_dev;
			pd.rs_hook = tc_hook_name(info.rs_hook);
			pd.rs_ingress = rs_ing;
			pd.rs_egress = rs_eg;
			pd.rs_flows_used = rs_used;
		}

		toa_prom_director(&ps, &pd);
		ret = 0;
		goto cleanup;
	}
	if (env.opts.json) {
		printf("{\"attached\": true, \"pin_dir\": ");
		toa_json_str(g->pin_dir);
		printf(", \"device\": ");
		toa_json_str(info.dev);
		printf(", \"ifindex\": %u, \"hook\": \"%s\", \"clsact_created\": %s, ", info.ifindex,
		       tc_hook_name(info.hook), info.clsact_created ? "true" : "false");
		if (here)
			printf("\"filters\": {\"ingress\": %s, \"egress\": %s}, ",
			       in_ing ? "true" : "false", in_eg ? "true" : "false");
		else
			printf("\"filters\": null, ");
		if (ahead >= 0)
			printf("\"ingress_ahead\": %d, ", ahead);
		else
			printf("\"ingress_ahead\": null, ");
		printf("\"vips\": [");
	} else {
		printf("director: attached to %s (ifindex %u) by %s", info.dev, info.ifindex,
		       info.hook == TC_HOOK_TCX ? "tcx links" : "clsact filters");
		if (here)
			printf(": ingress %s, egress %s", in_ing ? "yes" : "MISSING", in_eg ? "yes" : "MISSING");
		else
			printf(" (not in this network namespace)");
		if (ahead > 0)
			printf("\n  WARNING: %d tcx program(s) run at ingress before the writer: each could "
			       "redirect a VIP-bound packet past the strip (detach and attach%s again puts the writer first)", ahead,
			       info.hook == TC_HOOK_TCX ? "" : " --hook tcx");
		printf("\n  pin dir: %s/%s\n  VIPs:", g->pin_dir, DIRECTOR_PIN_SUBDIR);
	}
	while (!bpf_map_get_next_key(vfd, prev, &vk) && nv < DIRECTOR_VIPS_MAX) {
		prev = &vk;
		if (!vk.port)	/* a VIP's address entry */
			continue;
		toa_addr_str(vk.family, vk.addr, addr, sizeof(addr));
		if (env.opts.json)
			printf(vk.family == TOA_FAMILY_V6 ? "%s\"[%s]:%u\"" : "%s\"%s:%u\"", nv ? ", " : "",
			       addr, ntohs(vk.port));
		else
			printf(vk.family == TOA_FAMILY_V6 ? " [%s]:%u" : " %s:%u", addr, ntohs(vk.port));
		nv++;
	}
	if (env.opts.json) {
		printf("], \"dialects\": {\"ipv4\": \"%s\", \"ipv6\": \"%s\"}, \"strip_kinds\": [",
		       toa_dialect_name(info.dialect_v4), toa_dialect_name(info.dialect_v6));
		for (i = 0, c = 0; i < 256; i++)
			if (strip_has(info.strip, i))
				printf("%s%d", c++ ? ", " : "", i);
		printf("], \"flows\": {\"max\": %u, \"used\": %u}, \"rs\": ", info.flows_max, used);
		if (info.rs_ifindex) {
			printf("{\"device\": ");
			toa_json_str(info.rs_dev);
			printf(", \"ifindex\": %u, \"hook\": \"%s\", \"filters\": {\"ingress\": %s, \"egress\": %s}, "
			       "\"flows\": {\"max\": %u, \"used\": %u}}", info.rs_ifindex, tc_hook_name(info.rs_hook),
			       rs_ing ? "true" : "false", rs_eg ? "true" : "false", info.flows_max, rs_used);
		} else {
			printf("null");
		}
		printf(", \"counters\": {");
		for (i = 0; i < DC_MAX; i++)
			printf("%s\"%s\": %llu", i ? ", " : "", counter_names[i], (unsigned long long)sums[i]);
		printf("}}\n");
	} else {
		printf("\n  dialects: IPv4 clients %s, IPv6 clients %s\n  stripped kinds:",
		       toa_dialect_name(info.dialect_v4), toa_dialect_name(info.dialect_v6));
		for (i = 0; i < 256; i++)
			if (strip_has(info.strip, i))
				printf(" %d", i);
		printf("\n  flows: %u of %u in use\n", used, info.flows_max);
		if (info.rs_ifindex)
			printf("  real-server side: %s (ifindex %u) by %s: ingress %s, egress %s; flows: %u of %u in use\n",
			       info.rs_dev, info.rs_ifindex, info.rs_hook == TC_HOOK_TCX ? "tcx links" : "clsact filters",
			       rs_ing ? "yes" : "MISSING", rs_eg ? "yes" : "MISSING", rs_used, info.flows_max);
		printf("  counters:\n");
		for (i = 0; i < DC_MAX; i++)
			printf("    %-16s %llu\n", counter_names[i], (unsigned long long)sums[i]);
	}
	ret = 0;
cleanup:
	free(vals);
	if (vfd >= 0)
		close(vfd);
	if (ffd >= 0)
		close(ffd);
	if (cfd >= 0)
		close(cfd);
	return ret;
}

int director_main(int argc, char **argv)
{
	struct toa_global g = {};
	const char *cmd;
	int err;

	if (argc < 2) {
		print_usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		print_usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "attach") && strcmp(cmd, "detach") && strcmp(cmd, "status"))
		return usage_error("unknown command '%s' (attach, detach, status)", cmd);
	err = parse_args(argc - 1, argv + 1, cmd);
	if (err)
		return err;
	toa_global_init(&g, env.opts.pin_dir);
	g.verbose = env.opts.verbose;
	g.json = env.opts.json;
	toa_setup_libbpf_log(env.opts.verbose);
	if (geteuid() != 0) {
		fprintf(stderr, PROG ": %s needs root (bpffs, BPF maps and tc filters): %s\n", cmd, strerror(EPERM));
		return 1;
	}
	if (!strcmp(cmd, "attach"))
		return cmd_attach(&g);
	if (!strcmp(cmd, "detach"))
		return cmd_detach(&g);
	return cmd_status(&g);
}

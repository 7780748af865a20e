// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * toa-bpf doctor: when an app shows the load balancer's address instead of
 * its client's, checks each link of the chain in order and names the first
 * broken one with its fix. On a real server (--port or --pid): kernel,
 * bpffs, attached, the app inside the attached cgroup, segments arriving,
 * TOA on them, their source trusted, their dialect accepted, records made,
 * getpeername() rewritten. On a director (--vip): kernel, bpffs, attached,
 * the VIP configured, the programs on the hook, segments written, MSS clamped.
 * The last links are judged over a short window (--wait) of live traffic.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "toa/toa_wire.h"
#include "toa/toa_record.h"
#include "cli.h"
#include "tc_hook.h"
#include "director.h"
#include "realserver.h"
#include "doctor.h"

#define PROG		"toa-bpf doctor"
#define WAIT_DEFAULT	5000
#define MAX_CHECKS	12

static const char usage[] =
"Usage: toa-bpf doctor (--port PORT | --pid PID) [--wait MS] [--json] [--pin-dir DIR]   (real server)\n"
"       toa-bpf doctor --vip ADDR:PORT [--wait MS] [--json] [--pin-dir DIR]            (director)\n"
"\n"
"When an application shows the load balancer's address, checks each link of the\n"
"chain in order and names the first broken one, with its fix. The last links are\n"
"judged on live traffic: keep clients connecting through the VIP while it runs.\n"
"\n"
"Real server: kernel, bpffs, attached, the app's cgroup inside the attached one,\n"
"segments arriving for its port, TOA on them, their source trusted, their dialect\n"
"accepted, records made, getpeername() rewritten.\n"
"Director: kernel, bpffs, attached, the VIP configured, the programs on the hook,\n"
"segments written, MSS clamped.\n"
"\n"
"Options:\n"
"  -P, --port PORT        the app's listening TCP port (real server)\n"
"  -i, --pid PID          the app's process (real server)\n"
"  -V, --vip ADDR:PORT    a VIP (director); IPv6 as [ADDR]:PORT\n"
"  -w, --wait MS          how long to watch live traffic, 100..60000 (default %u)\n"
"  -p, --pin-dir DIR      bpffs directory for pinned state (default $TOA_PIN_DIR,\n"
"                         else /sys/fs/bpf/toa)\n"
"  -j, --json             machine-readable output\n"
"  -h, --help             this text\n"
"\n"
"Exit status: 0 when every link works, 1 when one is broken, 2 on bad usage.\n"
"\n"
"EXAMPLES:\n"
"  toa-bpf doctor --port 80\n"
"  toa-bpf doctor --pid $(pidof nginx | cut -d' ' -f1) --json\n"
"  toa-bpf doctor --vip 198.51.100.100:80\n";

enum state { OK, FAIL, SKIPPED };

struct check {
	const char *name;
	enum state state;
	char detail[320];
	char fix[640];
};

static struct env {
	unsigned int port;
	int pid;
	bool have_vip;
	struct toa_endpoint vip;
	unsigned int wait_ms;
	struct toa_opts opts;
} env = { .wait_ms = WAIT_DEFAULT };

static struct check checks[MAX_CHECKS];
static int nchecks;
static bool broken;

static const struct option long_opts[] = {
	{ "port",	required_argument,	NULL, 'P' },
	{ "pid",	required_argument,	NULL, 'i' },
	{ "vip",	required_argument,	NULL, 'V' },
	{ "wait",	required_argument,	NULL, 'w' },
	{ "pin-dir",	required_argument,	NULL, 'p' },
	{ "json",	no_argument,		NULL, 'j' },
	{ "help",	no_argument,		NULL, 'h' },
	{},
};

static void print_usage(FILE *f)
{
	fprintf(f, usage, WAIT_DEFAULT);
}

static const struct toa_role role = { .prog = PROG, .print_usage = print_usage };

static int parse_num(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || !*s || *end || *s == '-' || *out < min || *out > max ? -EINVAL : 0;
}

static int parse_opt(int opt, char *arg)
{
	unsigned long v;

	switch (opt) {
	case 'P':
		if (parse_num(arg, 1, 65535, &v))
			return toa_usage_error(&role, "--port must be a number from 1 to 65535, not '%s'", arg);
		env.port = v;
		break;
	case 'i':
		if (parse_num(arg, 1, INT32_MAX, &v))
			return toa_usage_error(&role, "--pid must be a process id, not '%s'", arg);
		env.pid = v;
		break;
	case 'V':
		if (toa_parse_endpoint(arg, &env.vip))
			return toa_usage_error(&role, "bad --vip '%s'", arg);
		env.have_vip = true;
		break;
	case 'w':
		if (parse_num(arg, 100, 60000, &v))
			return toa_usage_error(&role, "--wait takes milliseconds from 100 to 60000, not '%s'", arg);
		env.wait_ms = v;
		break;
	}
	return 0;
}

/* Adds a check's result; after the first failure, the rest are not judged (they depend on it). */
static struct check *add(const char *name)
{
	struct check *c = &checks[nchecks++];

	c->name = name;
	c->state = broken ? SKIPPED : OK;
	return c;
}

static bool pending(void)
{
	return !broken;
}

__attribute__((format(printf, 3, 4)))
static void fail(struct check *c, const char *fix, const char *fmt, ...)
{
	va_list ap;

	c->state = FAIL;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	snprintf(c->fix, sizeof(c->fix), "%s", fix);
	broken = true;
}

__attribute__((format(printf, 2, 3)))
static void ok(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

/* ---- shared links ------------------------------------------------------- */

static void check_bpffs(const struct toa_global *g)
{
	struct check *c = add("bpffs");
	char dir[PATH_MAX], *slash;
	struct statfs st;

	if (!pending())
		return;
	snprintf(dir, sizeof(dir), "%s", g->pin_dir);
	while (statfs(dir, &st) && (slash = strrchr(dir, '/')) && slash != dir)
		*slash = '\0';
	if (st.f_type != BPF_FS_MAGIC)
		fail(c, "mount the host's bpffs: mount -t bpf bpf /sys/fs/bpf (in a container: a hostPath volume)",
		     "%s is not on a bpf filesystem", g->pin_dir);
	else
		ok(c, "%s is on bpffs", g->pin_dir);
}

static int pinned(const struct toa_global *g, const char *sub, const char *name)
{
	return toa_open_pinned(NULL, g, sub, name);
}

/* Sums of a pinned per-CPU counter array, into sums[n]; 0 or -errno. */
static int read_counters(const struct toa_global *g, const char *sub, __u64 *sums, __u32 n)
{
	int fd = pinned(g, sub, "counters"), ncpu = libbpf_num_possible_cpus(), err;
	__u64 *vals;

	if (fd < 0)
		return fd;
	vals = ncpu > 0 ? calloc(ncpu, sizeof(*vals)) : NULL;
	memset(sums, 0, n * sizeof(*sums));
	err = vals ? toa_sum_percpu(&role, fd, n, vals, ncpu, sums) : -ENOMEM;
	free(vals);
	close(fd);
	return err;
}

static const char *addr_str(__u8 family, const __u8 *addr, char *buf, size_t len)
{
	return toa_addr_str(family, addr, buf, len);
}

/* ---- real server -------------------------------------------------------- */

/* Where cgroup2 is mounted here; "" when it is not. */
static void cgroup2_root(char *buf, size_t len)
{
	char line[PATH_MAX + 256], mnt[PATH_MAX], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");

	buf[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %4095s %63s", mnt, type) == 2 && !strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", mnt);
			break;
		}
	if (f)
		fclose(f);
}

/* Whether addr is in the pinned trust list (an LPM lookup, as the programs do). */
static bool trusted(int fd4, int fd6, const struct sniff_source *s)
{
	struct rs_trust4_key k4 = { .prefixlen = 32 };
	struct rs_trust6_key k6 = { .prefixlen = 128 };
	__u8 v;

	if (s->family == TOA_FAMILY_V4) {
		memcpy(k4.addr, s->addr, 4);
		return !bpf_map_lookup_elem(fd4, &k4, &v);
	}
	memcpy(k6.addr, s->addr, 16);
	return !bpf_map_lookup_elem(fd6, &k6, &v);
}

static void dialect_list(__u32 mask, char *buf, size_t len)
{
	size_t n = 0;
	int d;

	buf[0] = '\0';
	for (d = TOA_D_NONE + 1; d < TOA_D_MAX && n < len; d++)
		if (mask & TOA_BIT(d))
			n += snprintf(buf + n, len - n, "%s%s", n ? " " : "", toa_dialect_name(d));
	if (!n)
		snprintf(buf, len, "none");
}

/* Whether cgroup path a ("/x/y") is rel or below it; "" and "/" are the root. */
static bool inside(const char *a, const char *rel)
{
	size_t n = strlen(rel);

	if (!n || !strcmp(rel, "/"))
		return true;
	return !strncmp(a, rel, n) && (a[n] == '/' || a[n] == '\0');
}

static void doctor_realserver(const struct toa_global *g)
{
	struct rs_config cfg = {};
	__u64 before[RS_C_MAX], after[RS_C_MAX], d[RS_C_MAX];
	char cgroot[PATH_MAX], app_cg[PATH_MAX], comm[64], addr[INET6_ADDRSTRLEN], list[128], fix[640];
	const char *attached_rel = "";
	struct sniff sn;
	struct check *c;
	__u32 key = 0;
	int fd, fd4 = -1, fd6 = -1, i, n, err;

	c = add("kernel");
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL) <= 0 ||
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCK_OPS, NULL) <= 0 ||
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, NULL) <= 0)
		fail(c, "the eBPF path needs Linux 5.10 or later with BPF; on an older kernel use toa.ko",
		     "this kernel lacks socket storage, sockops or cgroup sock_addr programs (or BPF is refused to root)");
	else
		ok(c, "socket storage, sockops and cgroup sock_addr programs");
	check_bpffs(g);

	c = add("attached");
	if (pending()) {
		fd = pinned(g, "realserver", "config");
		err = fd < 0 ? fd : bpf_map_lookup_elem(fd, &key, &cfg) ? -errno : 0;
		if (fd >= 0)
			close(fd);
		for (i = 0, n = 0; !err && i < 3; i++) {
			static const char *const links[] = { "link_sockops", "link_getpeername4", "link_getpeername6" };
			int lfd = pinned(g, "realserver", links[i]);

			if (lfd >= 0) {
				n++;
				close(lfd);
			}
		}
		if (err)
			fail(c, "attach it: toa-bpf realserver attach --trust LIP... (or systemctl start toa-realserver)",
			     "nothing is attached under %s", g->pin_dir);
		else if (n < 3)
			fail(c, "re-attach: toa-bpf realserver attach ... (attach replaces what is missing)",
			     "only %d of the 3 programs are linked under %s", n, g->pin_dir);
		else
			ok(c, "on cgroup %s", cfg.cgroup);
	}

	c = add("app");
	if (pending()) {
		if (!env.pid)
			env.pid = doctor_pid_of_port(env.port);
		else if (!env.port)
			env.port = doctor_port_of_pid(env.pid);
		if (!env.pid)
			fail(c, "start the app, or give its port or pid", "no process listens on TCP port %u", env.port);
		else if (!env.port)
			fail(c, "give the app's port with --port", "pid %d listens on no TCP port", env.pid);
		else {
			doctor_comm(env.pid, comm, sizeof(comm));
			ok(c, "pid %d (%s) listening on port %u", env.pid, comm, env.port);
		}
	}

	c = add("cgroup");
	if (pending()) {
		cgroup2_root(cgroot, sizeof(cgroot));
		n = strlen(cgroot);
		if (n && !strncmp(cfg.cgroup, cgroot, n))
			attached_rel = cfg.cgroup + n;
		if (doctor_cgroup_of(env.pid, app_cg, sizeof(app_cg))) {
			fail(c, "run the app on cgroup v2", "pid %d has no cgroup v2 membership", env.pid);
		} else if (!inside(app_cg, attached_rel)) {
			snprintf(fix, sizeof(fix), "run the app inside %.120s (echo PID > %.120s/cgroup.procs), or "
				 "attach to a cgroup holding it: toa-bpf realserver attach --cgroup %.120s%.120s ...",
				 cfg.cgroup, cfg.cgroup, cgroot, app_cg);
			fail(c, fix, "pid %d is in cgroup %s, outside the attached %s", env.pid, app_cg,
			     *attached_rel ? attached_rel : "/");
		} else {
			ok(c, "pid %d is in %s, inside the attached %s", env.pid, app_cg, *attached_rel ? attached_rel : "/");
		}
	}

	/* The live window: counters around a look at the wire. */
	memset(&sn, 0, sizeof(sn));
	memset(d, 0, sizeof(d));
	if (pending()) {
		fd4 = pinned(g, "realserver", "trust4");
		fd6 = pinned(g, "realserver", "trust6");
		err = read_counters(g, "realserver", before, RS_C_MAX);
		if (!err)
			err = doctor_sniff(env.port, env.wait_ms, &sn);
		/* The stack handles a segment after the tap saw it, the app its request later still. */
		usleep(200 * 1000);
		if (!err)
			err = read_counters(g, "realserver", after, RS_C_MAX);
		for (i = 0; !err && i < RS_C_MAX; i++)
			d[i] = after[i] - before[i];
	}

	c = add("segments");
	if (pending()) {
		if (err)
			fail(c, "run as root in the real server's network namespace",
			     "reading the counters or the wire failed: %s", strerror(-err));
		else if (!sn.segments)
			fail(c, "send traffic through the director's VIP while the doctor runs (--wait), and check "
				"the route from the director to this server",
			     "no segments arrived for port %u in %u ms", env.port, env.wait_ms);
		else
			ok(c, "%u segments for port %u from %d source(s) in the window", sn.segments, env.port, sn.nsrc);
	}

	c = add("toa");
	if (pending()) {
		for (i = 0; i < sn.nsrc && !sn.src[i].toa; i++)
			;
		if (i == sn.nsrc)
			fail(c, "on the director: toa-bpf doctor --vip VIP:PORT (is the writer attached for this VIP?)",
			     "the segments from %s%s carry no TOA: the director is not writing it",
			     addr_str(sn.src[0].family, sn.src[0].addr, addr, sizeof(addr)),
			     sn.nsrc > 1 ? " and others" : "");
		else
			ok(c, "TOA on %u segments from %s", sn.src[i].toa,
			   addr_str(sn.src[i].family, sn.src[i].addr, addr, sizeof(addr)));
	}

	c = add("trusted");
	if (pending()) {
		const struct sniff_source *untrusted = NULL, *good = NULL;

		for (i = 0; i < sn.nsrc; i++) {
			if (!sn.src[i].toa)
				continue;
			if (trusted(fd4, fd6, &sn.src[i]))
				good = good ? good : &sn.src[i];
			else
				untrusted = untrusted ? untrusted : &sn.src[i];
		}
		if (!good) {
			addr_str(untrusted->family, untrusted->addr, addr, sizeof(addr));
			snprintf(fix, sizeof(fix), "if %s is your director's LIP, trust it: toa-bpf realserver attach "
				 "--trust %s/%u (with the rest of the list)", addr, addr,
				 untrusted->family == TOA_FAMILY_V4 ? 32 : 128);
			fail(c, fix, "TOA comes from %s, which is not in the trust list", addr);
		} else {
			ok(c, "%s is trusted", addr_str(good->family, good->addr, addr, sizeof(addr)));
		}
	}

	c = add("dialect");
	if (pending()) {
		__u32 seen = 0;

		for (i = 0; i < sn.nsrc; i++)
			if (sn.src[i].toa && trusted(fd4, fd6, &sn.src[i]))
				seen |= sn.src[i].dialects;
		dialect_list(cfg.accept, list, sizeof(list));
		if (!(seen & cfg.accept)) {
			char got[128];

			dialect_list(seen, got, sizeof(got));
			snprintf(fix, sizeof(fix), "accept it: toa-bpf realserver attach --accept %s (with the "
				 "others you need), or have the director write one of: %s", got, list);
			fail(c, fix, "TOA arrives in dialect %s, not accepted here (accepted: %s)", got, list);
		} else {
			ok(c, "accepted (%s)", list);
		}
	}

	c = add("records");
	if (pending()) {
		if (!d[RS_C_STATUS + TOA_OK])
			fail(c, "see toa-bpf realserver status: malformed_* counts options that are never trusted, "
				"storage_fail and no_parser resource limits",
			     "no record was made in the window (malformed %llu, storage_fail %llu, no_parser %llu)",
			     (unsigned long long)(d[RS_C_STATUS + TOA_ERR_LENGTH] + d[RS_C_STATUS + TOA_ERR_TRUNCATED] +
						  d[RS_C_STATUS + TOA_ERR_SHORT] + d[RS_C_STATUS + TOA_ERR_AFTER_EOL] +
						  d[RS_C_STATUS + TOA_ERR_MULTIPLE] + d[RS_C_STATUS + TOA_ERR_VERSION]),
			     (unsigned long long)d[RS_C_STORAGE_FAIL], (unsigned long long)d[RS_C_NO_PARSER]);
		else
			ok(c, "%llu records made in the window", (unsigned long long)d[RS_C_STATUS + TOA_OK]);
	}

	c = add("getpeername");
	if (pending()) {
		if (!d[RS_C_REWRITTEN4] && !d[RS_C_REWRITTEN6] && !d[RS_C_NAT64])
			fail(c, "the app must read the peer with getpeername() (accept() does) on connections "
				"accepted after attach",
			     "records were made but no getpeername() was rewritten in the window");
		else
			ok(c, "%llu IPv4 and %llu IPv6 sockets rewritten in the window",
			   (unsigned long long)d[RS_C_REWRITTEN4], (unsigned long long)d[RS_C_REWRITTEN6]);
	}
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
}

/* ---- director ----------------------------------------------------------- */

static void doctor_director(const struct toa_global *g)
{
	struct director_info info = {};
	struct director_vip vk = {};
	__u64 before[DC_MAX], after[DC_MAX], d[DC_MAX];
	char addr[INET6_ADDRSTRLEN], dir[PATH_MAX], fix[640], vipstr[INET6_ADDRSTRLEN + 8];
	struct check *c;
	__u32 key = 0;
	__u8 one;
	int fd, err, i;

	addr_str(env.vip.family, env.vip.addr, addr, sizeof(addr));
	snprintf(vipstr, sizeof(vipstr), env.vip.family == TOA_FAMILY_V6 ? "[%s]:%u" : "%s:%u", addr,
		 ntohs(env.vip.port));

	c = add("kernel");
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) <= 0)
		fail(c, "the writer needs tc BPF programs (Linux 5.7 or later) and root",
		     "this kernel has no tc BPF programs, or refuses BPF to this process");
	else
		ok(c, "tc BPF programs");
	check_bpffs(g);

	c = add("attached");
	if (pending()) {
		fd = pinned(g, DIRECTOR_PIN_SUBDIR, "info");
		err = fd < 0 ? fd : bpf_map_lookup_elem(fd, &key, &info) ? -errno : 0;
		if (fd >= 0)
			close(fd);
		if (err) {
			snprintf(fix, sizeof(fix), "attach it: toa-bpf director attach --dev IFACE --vip %s "
				 "(or systemctl start toa-director)", vipstr);
			fail(c, fix, "no writer is attached under %s", g->pin_dir);
		} else {
			if (info.hook != TC_HOOK_TCX)
				info.hook = TC_HOOK_CLSACT;
			ok(c, "on %s by %s", info.dev, tc_hook_name(info.hook));
		}
	}

	c = add("vip");
	if (pending()) {
		vk.family = env.vip.family;
		vk.port = env.vip.port;
		memcpy(vk.addr, env.vip.addr, 16);
		fd = pinned(g, DIRECTOR_PIN_SUBDIR, "vips");
		if (fd < 0 || bpf_map_lookup_elem(fd, &vk, &one)) {
			snprintf(fix, sizeof(fix), "add it: toa-bpf director attach --dev %s --vip %s plus every "
				 "other VIP (attach replaces the set; or add it to /etc/toa/director.conf and "
				 "systemctl reload toa-director)", info.dev, vipstr);
			fail(c, fix, "%s is not one of the writer's VIPs", vipstr);
		} else {
			ok(c, "%s is configured", vipstr);
		}
		if (fd >= 0)
			close(fd);
	}

	c = add("hook");
	if (pending()) {
		int ifindex = if_nametoindex(info.dev), ahead;
		bool in = false, out = false;

		if (ifindex && (__u32)ifindex == info.ifindex && !toa_sub_path(g, DIRECTOR_PIN_SUBDIR, NULL, dir, sizeof(dir))) {
			in = tc_hook_present(ifindex, info.hook, dir, 0);
			out = tc_hook_present(ifindex, info.hook, dir, 1);
		}
		if (!ifindex || (__u32)ifindex != info.ifindex)
			fail(c, "run the doctor in the director's network namespace, or re-attach to the device",
			     "%s (ifindex %u) is not in this network namespace", info.dev, info.ifindex);
		else if (!in || !out) {
			snprintf(fix, sizeof(fix), "re-attach: toa-bpf director attach --dev %s ... (something "
				 "removed the %s)", info.dev, info.hook == TC_HOOK_TCX ? "tcx links" : "tc filters");
			fail(c, fix, "the writer's programs are missing from %s: ingress %s, egress %s", info.dev,
			     in ? "yes" : "no", out ? "yes" : "no");
		} else if ((ahead = tc_hook_ingress_ahead(ifindex, info.hook, dir)) > 0) {
			snprintf(fix, sizeof(fix), "find them (bpftool prog, tc filter show dev %s ingress) and "
				 "attach the writer again (toa-bpf director detach, then attach%s: it goes first)", info.dev,
				 info.hook == TC_HOOK_TCX ? "" : " --hook tcx, Linux 6.6+");
			fail(c, fix, "%d tcx program(s) run at ingress of %s before the writer: each could "
			     "redirect a VIP-bound packet past the strip", ahead, info.dev);
		} else if (ahead < 0) {
			fail(c, "run the doctor as root (bpftool net show lists the device's programs)",
			     "the order of the ingress programs on %s could not be read: %s", info.dev, strerror(-ahead));
		} else {
			ok(c, "ingress and egress programs on %s, %s", info.dev, info.hook == TC_HOOK_TCX ?
			   "the writer first at ingress" : "no tcx program ahead of the writer's clsact filter");
		}
	}

	memset(d, 0, sizeof(d));
	if (pending()) {
		if (read_counters(g, DIRECTOR_PIN_SUBDIR, before, DC_MAX))
			fail(add("written"), "re-attach", "the writer's counters cannot be read");
		else {
			usleep(env.wait_ms * 1000);
			read_counters(g, DIRECTOR_PIN_SUBDIR, after, DC_MAX);
			for (i = 0; i < DC_MAX; i++)
				d[i] = after[i] - before[i];
		}
	}

	c = add("written");
	if (pending()) {
		__u64 written = d[DC_WRITTEN_V4] + d[DC_WRITTEN_V6];

		if (written)
			ok(c, "TOA written into %llu segments in the window", (unsigned long long)written);
		else if (d[DC_NO_ROOM] || d[DC_GSO])
			fail(c, "GSO segments: turn off GRO/LRO on the client-facing device (ethtool -K DEV gro off lro "
				"off); no room: clients that fill the TCP header with options",
			     "segments went out without TOA: no room %llu, GSO %llu",
			     (unsigned long long)d[DC_NO_ROOM], (unsigned long long)d[DC_GSO]);
		else
			fail(c, "connect to the VIP while the doctor runs (--wait); check that client traffic for the "
				"VIP arrives on the attached device",
			     "no segment to a VIP was written in %u ms (new flows %llu, not for a VIP %llu)",
			     env.wait_ms, (unsigned long long)d[DC_FLOW_NEW], (unsigned long long)d[DC_NOT_VIP]);
	}

	c = add("mss");
	if (pending()) {
		if (!d[DC_MSS_CLAMPED])
			fail(c, "the egress program must see the servers' SYN-ACKs: route replies back through the "
				"attached device",
			     "no SYN-ACK had its MSS lowered in the window");
		else
			ok(c, "%llu MSS options lowered in the window", (unsigned long long)d[DC_MSS_CLAMPED]);
	}
}

/* ---- output ------------------------------------------------------------- */

static const struct check *first_broken(void)
{
	int i;

	for (i = 0; i < nchecks; i++)
		if (checks[i].state == FAIL)
			return &checks[i];
	return NULL;
}

static void print_text(const char *what)
{
	static const char *const states[] = { "ok", "FAIL", "-" };
	const struct check *b = first_broken();
	int i;

	printf("toa-bpf doctor: %s\n", what);
	for (i = 0; i < nchecks; i++) {
		printf("  %-4s  %-12s %s\n", states[checks[i].state], checks[i].name,
		       checks[i].state == SKIPPED ? "(not checked)" : checks[i].detail);
		if (checks[i].state == FAIL)
			printf("        fix: %s\n", checks[i].fix);
	}
	if (b)
		printf("diagnosis: %s: %s\n", b->name, b->detail);
	else
		printf("diagnosis: every link works\n");
}

static void print_json(const char *role)
{
	static const char *const states[] = { "ok", "fail", "skipped" };
	const struct check *b = first_broken();
	int i;

	printf("{\"role\": \"%s\", \"ok\": %s, \"broken\": ", role, b ? "false" : "true");
	if (b)
		toa_json_str(b->name);
	else
		printf("null");
	printf(", \"diagnosis\": ");
	toa_json_str(b ? b->detail : "every link works");
	printf(", \"fix\": ");
	if (b)
		toa_json_str(b->fix);
	else
		printf("null");
	printf(", \"checks\": [");
	for (i = 0; i < nchecks; i++) {
		printf("%s{\"name\": \"%s\", \"status\": \"%s\", \"detail\": ", i ? ", " : "", checks[i].name,
		       states[checks[i].state]);
		toa_json_str(checks[i].state == SKIPPED ? "" : checks[i].detail);
		printf("}");
	}
	printf("]}\n");
}

int doctor_main(int argc, char **argv)
{
	struct toa_global g = {};
	char what[128];
	int err;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		print_usage(stdout);
		return 0;
	}
	/* toa_parse_opts wants the command in argv[0]: the doctor has none, "doctor" stands in. */
	err = toa_parse_opts(&role, argc, argv, ":P:i:V:w:p:jh", long_opts, &env.opts, parse_opt);
	if (err)
		return err;
	if (env.have_vip == (env.port || env.pid))
		return toa_usage_error(&role, "give --port or --pid (on a real server), or --vip (on a director)");
	if (geteuid() != 0) {
		fprintf(stderr, PROG ": needs root (pinned maps, BPF probes, the wire): %s\n", strerror(EPERM));
		return 1;
	}
	toa_global_init(&g, env.opts.pin_dir);
	toa_setup_libbpf_log(false);
	toa_libbpf_mute(true);	/* probes that fail are answers here */
	if (env.have_vip) {
		doctor_director(&g);
		snprintf(what, sizeof(what), "director");
	} else {
		doctor_realserver(&g);
		snprintf(what, sizeof(what), "real server");
	}
	if (env.opts.json)
		print_json(env.have_vip ? "director" : "realserver");
	else
		print_text(what);
	return first_broken() ? 1 : 0;
}

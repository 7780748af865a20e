// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What both roles of toa-bpf share: options, parsing addresses, the pin directory, status output, libbpf's log. */
#include <errno.h>
#include <grp.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "toa/toa_wire.h"
#include "toa/toa_record.h"
#include "cli.h"
#include "hostns.h"
#include "config.h"

static const char *const dialect_names[TOA_D_MAX] = {
	[TOA_D_NONE]	= "none",
	[TOA_D_V4]	= "v4",
	[TOA_D_V6]	= "v6",
	[TOA_D_V6_ALI]	= "v6-ali",
	[TOA_D_V4_253]	= "v4-253",
	[TOA_D_V4_200]	= "v4-200",
	[TOA_D_CDN]	= "cdn",
	[TOA_D_CDN6]	= "cdn6",
};

int toa_usage_error(const struct toa_role *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", r->prog);
	if (toa_config_where())
		fprintf(stderr, "%s: ", toa_config_where());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", r->prog);
	return 2;
}

static struct toa_opts *config_opts;
static int (*config_role_opt)(int opt, char *arg);

/* A configuration file's value, handled as the same option on the command line. */
static int config_set(int opt, char *arg)
{
	if (opt == 'p') {
		config_opts->pin_dir = arg;
		return 0;
	}
	return config_role_opt(opt, arg);
}

/*
 * Takes `--NAME VALUE` or `--NAME=VALUE` (or `-SHORT VALUE`) out of argv,
 * for the options every role has that its own option table does not list.
 * *value is NULL when absent; returns 0, or 2 after a usage error.
 */
static int take_option(const struct toa_role *r, int *argc, char **argv, const char *name, const char *shortname,
		       const char **value)
{
	size_t len = strlen(name);
	int i, n, j;

	*value = NULL;
	for (i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, len) && argv[i][2 + len] == '=') {
			n = 1;
			*value = argv[i] + 3 + len;
		} else if ((!strncmp(argv[i], "--", 2) && !strcmp(argv[i] + 2, name)) ||
			   (shortname && !strcmp(argv[i], shortname))) {
			if (i + 1 >= *argc)
				return toa_usage_error(r, "option '%s' needs a value", argv[i]);
			n = 2;
			*value = argv[i + 1];
		} else {
			continue;
		}
		for (j = i; j + n <= *argc; j++)
			argv[j] = argv[j + n];
		*argc -= n;
		return 0;
	}
	return 0;
}

/*
 * --config FILE is applied first, so options on the command line add to it
 * or override it; --format text|json|prometheus belongs to status.
 */
static int take_shared(const struct toa_role *r, int *argc, char **argv, const struct option *longopts,
		       struct toa_opts *o, int (*role_opt)(int opt, char *arg))
{
	const char *file, *format;
	int err;

	err = take_option(r, argc, argv, "format", NULL, &format);
	if (!err)
		err = take_option(r, argc, argv, "config", "-C", &file);
	if (err)
		return err;
	if (format) {
		if (strcmp(argv[0], "status"))
			return toa_usage_error(r, "--format belongs to status");
		if (!strcmp(format, "json"))
			o->json = true;
		else if (!strcmp(format, "prometheus"))
			o->prometheus = true;
		else if (strcmp(format, "text"))
			return toa_usage_error(r, "unknown --format '%s' (text, json, prometheus)", format);
	}
	if (!file)
		return 0;
	config_opts = o;
	config_role_opt = role_opt;
	return toa_config_read(r, file, longopts, !strcmp(argv[0], "attach"), config_set);
}

int toa_parse_opts(const struct toa_role *r, int argc, char **argv, const char *shortopts,
		   const struct option *longopts, struct toa_opts *o, int (*role_opt)(int opt, char *arg))
{
	int opt, err;

	err = take_shared(r, &argc, argv, longopts, o, role_opt);
	if (err)
		return err;

	/* Both roles parse from a fresh state, and report errors themselves (the leading ':'). */
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->pin_dir = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			r->print_usage(stdout);
			exit(0);
		case ':':
			return toa_usage_error(r, "option '%s' needs a value", argv[optind - 1]);
		case '?':
			return toa_usage_error(r, "unknown option '%s'", argv[optind - 1]);
		default:
			err = role_opt(opt, optarg);
			if (err)
				return err;
		}
	}
	if (optind < argc)
		return toa_usage_error(r, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Parses a bare address (no brackets, no port) of either family. */
static int parse_addr(const char *s, __u8 *family, __u8 *addr)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = TOA_FAMILY_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = TOA_FAMILY_V6;
		return 0;
	}
	return -EINVAL;
}

/* Decimal number in [min, max], nothing else: no sign, no spaces, no trailing junk. */
static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int toa_parse_endpoint(const char *s, struct toa_endpoint *ep)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *hs = s;
	unsigned long port;
	size_t hlen;

	memset(ep, 0, sizeof(*ep));
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':') {
			fprintf(stderr, "toa-bpf: bad endpoint '%s': an IPv6 endpoint is written [ADDR]:PORT\n", s);
			return -EINVAL;
		}
		hs = s + 1;
		hlen = close - hs;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			fprintf(stderr, "toa-bpf: bad endpoint '%s': expected ADDR:PORT (IPv6: [ADDR]:PORT)\n", s);
			return -EINVAL;
		}
		hlen = colon - s;
		if (memchr(s, ':', hlen)) {
			fprintf(stderr, "toa-bpf: bad endpoint '%s': an IPv6 endpoint is written [ADDR]:PORT\n", s);
			return -EINVAL;
		}
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		fprintf(stderr, "toa-bpf: bad endpoint '%s': missing or overlong address\n", s);
		return -EINVAL;
	}
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	if (parse_addr(host, &ep->family, ep->addr) ||
	    (*s == '[') != (ep->family == TOA_FAMILY_V6)) {
		fprintf(stderr, "toa-bpf: bad endpoint '%s': '%s' is not an %s address\n", s, host,
			*s == '[' ? "IPv6" : "IPv4");
		return -EINVAL;
	}
	if (parse_uint(colon + 1, 1, 65535, &port)) {
		fprintf(stderr, "toa-bpf: bad endpoint '%s': port must be a number from 1 to 65535\n", s);
		return -EINVAL;
	}
	ep->port = htons((__u16)port);
	return 0;
}

int toa_parse_cidr(const char *s, struct toa_cidr *c)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix, max;
	unsigned int i;

	memset(c, 0, sizeof(*c));
	if (hlen == 0 || hlen >= sizeof(host)) {
		fprintf(stderr, "toa-bpf: bad CIDR '%s': missing or overlong address\n", s);
		return -EINVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (parse_addr(host, &c->family, c->addr)) {
		fprintf(stderr, "toa-bpf: bad CIDR '%s': '%s' is not an IPv4 or IPv6 address\n", s, host);
		return -EINVAL;
	}
	max = c->family == TOA_FAMILY_V4 ? 32 : 128;
	prefix = max;
	if (slash && parse_uint(slash + 1, 0, max, &prefix)) {
		fprintf(stderr, "toa-bpf: bad CIDR '%s': prefix length must be 0 to %lu\n", s, max);
		return -EINVAL;
	}
	c->prefix = (__u8)prefix;
	/* Host bits cleared, so lookups and status output are canonical. */
	for (i = 0; i < 16; i++) {
		unsigned int bit = i * 8;

		if (bit >= prefix)
			c->addr[i] = 0;
		else if (bit + 8 > prefix)
			c->addr[i] &= (__u8)(0xff << (8 - (prefix - bit)));
	}
	return 0;
}

int toa_parse_dialect(const char *s)
{
	int d;

	for (d = TOA_D_NONE + 1; d < TOA_D_MAX; d++)
		if (!strcmp(s, dialect_names[d]))
			return d;
	return -EINVAL;
}

const char *toa_dialect_name(int dialect)
{
	if (dialect < 0 || dialect >= TOA_D_MAX)
		return "unknown";
	return dialect_names[dialect];
}

const char *toa_addr_str(__u8 family, const __u8 *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == TOA_FAMILY_V6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

void toa_global_init(struct toa_global *g, const char *flag_pin_dir)
{
	const char *env = getenv(TOA_PIN_DIR_ENV);

	if (flag_pin_dir && *flag_pin_dir)
		g->pin_dir = flag_pin_dir;
	else if (env && *env)
		g->pin_dir = env;
	else
		g->pin_dir = TOA_PIN_DIR_DEFAULT;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* The nearest existing ancestor of path (or path itself) into buf. */
static int existing_ancestor(const char *path, char *buf, size_t len)
{
	struct stat st;
	char *slash;

	if (snprintf(buf, len, "%s", path) >= (int)len)
		return -ENAMETOOLONG;
	while (stat(buf, &st)) {
		slash = strrchr(buf, '/');
		if (!slash)
			return -ENOENT;
		if (slash == buf) {
			buf[1] = '\0';
			break;
		}
		*slash = '\0';
	}
	return 0;
}

/* mkdir -p, for the part of the path below a bpffs mount. */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int toa_prepare_pin_dir(const struct toa_global *g, bool create)
{
	static const char std[] = "/sys/fs/bpf";
	char anc[PATH_MAX];
	int err;

	if (g->pin_dir[0] != '/') {
		fprintf(stderr, "toa-bpf: pin directory '%s' must be an absolute path\n", g->pin_dir);
		return -EINVAL;
	}
	err = existing_ancestor(g->pin_dir, anc, sizeof(anc));
	if (err) {
		fprintf(stderr, "toa-bpf: pin directory '%s': %s\n", g->pin_dir, strerror(-err));
		return err;
	}
	if (!is_bpffs(anc)) {
		/* Only the standard place is ours to mount; anything else is the caller's setup. */
		bool under_std = !strncmp(g->pin_dir, std, sizeof(std) - 1) &&
				 (g->pin_dir[sizeof(std) - 1] == '/' || !g->pin_dir[sizeof(std) - 1]);

		if (!under_std || strcmp(anc, std)) {
			fprintf(stderr, "toa-bpf: pin directory '%s' is not on a bpf filesystem "
				"(mount one: mount -t bpf bpf %s)\n", g->pin_dir, under_std ? std : anc);
			return -ENOTSUP;
		}
		/* A bpffs mounted outside the host's mount namespace dies with it: refuse, never a silent no-op. */
		if (toa_refuse_private_bpffs(g->pin_dir, std))
			return -EPERM;
		if (mount("bpf", std, "bpf", 0, "mode=0700")) {
			err = -errno;
			fprintf(stderr, "toa-bpf: bpffs is not mounted at %s and mounting it failed: %s\n",
				std, strerror(errno));
			return err;
		}
	} else if (!toa_bpffs_is_hosts(anc)) {
		return -EPERM;
	}
	if (!create)
		return 0;
	err = mkdir_p(g->pin_dir);
	if (err)
		fprintf(stderr, "toa-bpf: cannot create pin directory '%s': %s\n", g->pin_dir, strerror(-err));
	return err;
}

int toa_pin_path(const struct toa_global *g, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", g->pin_dir, name);

	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "toa-bpf: path '%s/%s' is too long\n", g->pin_dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

int toa_sub_path(const struct toa_global *g, const char *sub, const char *name, char *buf, size_t len)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "%s%s%s", sub, name ? "/" : "", name ? name : "");
	return toa_pin_path(g, rel, buf, len);
}

int toa_open_pinned(const struct toa_role *r, const struct toa_global *g, const char *sub, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (toa_sub_path(g, sub, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = -errno;
		if (r)
			fprintf(stderr, "%s: opening '%s' failed: %s\n", r->prog, path, strerror(-fd));
	}
	return fd;
}

void toa_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

int toa_sum_percpu(const struct toa_role *r, int fd, __u32 n, __u64 *vals, int ncpu, __u64 *sums)
{
	__u32 key;
	int c;

	for (key = 0; key < n; key++) {
		if (bpf_map_lookup_elem(fd, &key, vals)) {
			int err = -errno;

			fprintf(stderr, "%s: reading counter %u failed: %s\n", r->prog, key, strerror(-err));
			return err;
		}
		for (c = 0; c < ncpu; c++)
			sums[key] += vals[c];
	}
	return 0;
}

static bool libbpf_verbose, libbpf_muted;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if ((level != LIBBPF_WARN || libbpf_muted) && !libbpf_verbose)
		return 0;
	/* The verifier's log can run to thousands of lines: only with -v. */
	if (!libbpf_verbose && strstr(fmt, "PROG LOAD LOG"))
		return 0;
	return vfprintf(stderr, fmt, args);
}

void toa_setup_libbpf_log(bool verbose)
{
	libbpf_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

void toa_libbpf_mute(bool mute)
{
	libbpf_muted = mute;
}

__u32 toa_map_count(int fd, __u32 max)
{
	__u8 key[64], next[64];
	__u32 n = 0;

	while (n < max && !bpf_map_get_next_key(fd, n ? key : NULL, next)) {
		memcpy(key, next, sizeof(key));
		n++;
	}
	return n;
}

int toa_repin(int fd, const char *path)
{
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return bpf_obj_pin(fd, path) ? -errno : 0;
}

bool toa_reuse_pinned(struct bpf_map *map, const char *path)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi);
	bool same;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return false;
	same = !bpf_obj_get_info_by_fd(fd, &mi, &len) && mi.type == bpf_map__type(map) &&
	       mi.key_size == bpf_map__key_size(map) && mi.value_size == bpf_map__value_size(map) &&
	       mi.max_entries == bpf_map__max_entries(map) && mi.map_flags == bpf_map__map_flags(map) &&
	       !bpf_map__reuse_fd(map, fd);
	close(fd);
	return same;
}

long toa_group_id(const char *name)
{
	struct group *gr;
	char *end;
	long gid = -1;
	FILE *f;

	if (!*name)
		return -1;
	errno = 0;
	gid = strtol(name, &end, 10);
	if (!*end && !errno && gid >= 0 && gid < (long)UINT32_MAX)
		return gid;
	gid = -1;
	f = fopen("/etc/group", "re");
	if (!f)
		return -1;
	while ((gr = fgetgrent(f)))
		if (!strcmp(gr->gr_name, name)) {
			gid = gr->gr_gid;
			break;
		}
	fclose(f);
	return gid;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Module parameters: the trust list and accepted dialects, parsed once at
 * load and read-only afterwards, so the hot paths read them without locks.
 */
#include "toa.h"

#include <linux/inet.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/string.h>

static char *trust;
module_param(trust, charp, 0444);
MODULE_PARM_DESC(trust, "Trusted sources of TOA (the directors' LIPs): CIDR[,CIDR...], e.g. 192.0.2.0/24,2001:db8:200::/64");

static bool trust_any;
module_param(trust_any, bool, 0444);
MODULE_PARM_DESC(trust_any, "Trust TOA from any source (only where nothing but the director can reach this host)");

static char *accept;
module_param(accept, charp, 0444);
MODULE_PARM_DESC(accept, "Accepted dialects: v4,v6,v6-ali,v4-253,v4-200,cdn,cdn6 (default v4,v6,v6-ali)");

static unsigned int scan_segments = 4;
module_param(scan_segments, uint, 0444);
MODULE_PARM_DESC(scan_segments, "Segments after the handshake still checked for TOA when the handshake lacked it (0-64, default 4)");

static unsigned int max_records = 1 << 20;
module_param(max_records, uint, 0444);
MODULE_PARM_DESC(max_records, "Most sockets with a record at once (default 1048576)");

struct toa_config toa_cfg;

static const char *const dialect_names[TOA_D_MAX] = {
	[TOA_D_V4] = "v4", [TOA_D_V6] = "v6", [TOA_D_V6_ALI] = "v6-ali",
	[TOA_D_V4_253] = "v4-253", [TOA_D_V4_200] = "v4-200",
	[TOA_D_CDN] = "cdn", [TOA_D_CDN6] = "cdn6",
};

static int parse_accept(const char *s, u32 *mask)
{
	char buf[128], *p = buf, *tok;
	int d;

	if (strscpy(buf, s, sizeof(buf)) < 0)
		return -E2BIG;
	*mask = 0;
	while ((tok = strsep(&p, ",")) != NULL) {
		tok = strim(tok);
		if (!*tok)
			continue;
		for (d = 1; d < TOA_D_MAX; d++)
			if (!strcmp(tok, dialect_names[d]))
				break;
		if (d == TOA_D_MAX) {
			pr_err("accept: unknown dialect \"%s\" (known: v4 v6 v6-ali v4-253 v4-200 cdn cdn6)\n", tok);
			return -EINVAL;
		}
		*mask |= TOA_BIT(d);
	}
	if (!*mask) {
		pr_err("accept: no dialect given\n");
		return -EINVAL;
	}
	return 0;
}

static int parse_prefix(char *s, struct toa_prefix *p)
{
	char *slash = strchr(s, '/');
	const char *end;
	unsigned int plen, max;

	if (slash)
		*slash = '\0';
	memset(p, 0, sizeof(*p));
	if (in4_pton(s, -1, p->addr, -1, &end) && !*end) {
		p->family = TOA_FAMILY_V4;
		max = 32;
	} else if (in6_pton(s, -1, p->addr, -1, &end) && !*end) {
		p->family = TOA_FAMILY_V6;
		max = 128;
	} else {
		return -EINVAL;
	}
	plen = max;
	if (slash && (kstrtouint(slash + 1, 10, &plen) || plen > max))
		return -EINVAL;
	p->plen = plen;
	return 0;
}

static int parse_trust(const char *s)
{
	char buf[1024], *p = buf, *tok, orig[64];

	if (strscpy(buf, s, sizeof(buf)) < 0) {
		pr_err("trust: list too long\n");
		return -E2BIG;
	}
	while ((tok = strsep(&p, ",")) != NULL) {
		tok = strim(tok);
		if (!*tok)
			continue;
		if (toa_cfg.ntrust == TOA_TRUST_MAX) {
			pr_err("trust: more than %d prefixes\n", TOA_TRUST_MAX);
			return -E2BIG;
		}
		strscpy(orig, tok, sizeof(orig));
		if (parse_prefix(tok, &toa_cfg.trust[toa_cfg.ntrust])) {
			pr_err("trust: \"%s\" is not an IPv4 or IPv6 CIDR (e.g. 192.0.2.0/24, 2001:db8:200::/64)\n", orig);
			return -EINVAL;
		}
		toa_cfg.ntrust++;
	}
	return 0;
}

/* Validates and stores the parameters; refuses to load without a trust decision. */
int toa_params_init(void)
{
	int err;

	memset(&toa_cfg, 0, sizeof(toa_cfg));
	toa_cfg.accept = TOA_ACCEPT_DEFAULT;
	if (accept) {
		err = parse_accept(accept, &toa_cfg.accept);
		if (err)
			return err;
	}
	if (trust) {
		err = parse_trust(trust);
		if (err)
			return err;
	}
	if (trust_any && toa_cfg.ntrust) {
		pr_err("refusing to load: give either trust=CIDR,... or trust_any=1, not both\n");
		return -EINVAL;
	}
	if (!trust_any && !toa_cfg.ntrust) {
		pr_err("refusing to load: no trust decision; pass trust=CIDR[,CIDR...] (the directors' LIPs, e.g. trust=192.0.2.0/24,2001:db8:200::/64) or trust_any=1\n");
		return -EINVAL;
	}
	toa_cfg.trust_any = trust_any;
	if (scan_segments > 64) {
		pr_err("scan_segments=%u: at most 64\n", scan_segments);
		return -EINVAL;
	}
	toa_cfg.scan_segments = scan_segments;
	if (!max_records) {
		pr_err("max_records must be at least 1\n");
		return -EINVAL;
	}
	toa_cfg.max_records = max_records;
	return 0;
}

static bool prefix_has(const struct toa_prefix *p, const u8 *addr)
{
	unsigned int full = p->plen / 8, rest = p->plen % 8;

	if (memcmp(p->addr, addr, full))
		return false;
	return !rest || !((p->addr[full] ^ addr[full]) & (0xff00 >> rest));
}

/* Whether TOA from this source (the segment's IP source) may be believed. */
bool toa_trusted(u8 family, const u8 *addr)
{
	unsigned int i;

	if (toa_cfg.trust_any)
		return true;
	for (i = 0; i < toa_cfg.ntrust; i++)
		if (toa_cfg.trust[i].family == family && prefix_has(&toa_cfg.trust[i], addr))
			return true;
	return false;
}

void toa_params_show(struct seq_file *m)
{
	unsigned int i;
	int d;

	seq_puts(m, "accept");
	for (d = 1; d < TOA_D_MAX; d++)
		if (toa_cfg.accept & TOA_BIT(d))
			seq_printf(m, " %s", dialect_names[d]);
	seq_puts(m, "\ntrust");
	if (toa_cfg.trust_any)
		seq_puts(m, " any");
	for (i = 0; i < toa_cfg.ntrust; i++) {
		if (toa_cfg.trust[i].family == TOA_FAMILY_V4)
			seq_printf(m, " %pI4/%u", toa_cfg.trust[i].addr, toa_cfg.trust[i].plen);
		else
			seq_printf(m, " %pI6c/%u", toa_cfg.trust[i].addr, toa_cfg.trust[i].plen);
	}
	seq_printf(m, "\nscan_segments %u\nmax_records %u\n", toa_cfg.scan_segments, toa_cfg.max_records);
}

const char *toa_dialect_name(int d)
{
	return d > 0 && d < TOA_D_MAX ? dialect_names[d] : "none";
}

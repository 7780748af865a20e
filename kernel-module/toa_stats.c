// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/net/toa_stats in every network namespace: one "name value" line per
 * counter (per-CPU counters, summed), then the live gauges, the settings and
 * the probes' missed hits. The counters are global: the module is too.
 */
#include "toa.h"

#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

DEFINE_PER_CPU(u64 [TOA_C_MAX], toa_counters);
DEFINE_PER_CPU(u64 [TOA_D_MAX], toa_dialects);

static const char *const names[TOA_C_MAX] = {
	[TOA_C_HANDSHAKE] = "handshake",
	[TOA_C_UNTRUSTED] = "untrusted",
	[TOA_C_FOUND_HANDSHAKE] = "found_handshake",
	[TOA_C_FOUND_DATA] = "found_data",
	[TOA_C_LOOKING] = "looking",
	[TOA_C_ABSENT] = "absent",
	[TOA_C_ERR_LENGTH] = "err_length",
	[TOA_C_ERR_TRUNCATED] = "err_truncated",
	[TOA_C_ERR_SHORT] = "err_short",
	[TOA_C_ERR_AFTER_EOL] = "err_after_eol",
	[TOA_C_ERR_MULTIPLE] = "err_multiple",
	[TOA_C_ERR_VERSION] = "err_version",
	[TOA_C_ERR_PORT] = "err_port",
	[TOA_C_ERR_ADDRESS] = "err_address",
	[TOA_C_BAD_HEADER] = "bad_header",
	[TOA_C_NOMEM] = "nomem",
	[TOA_C_FULL] = "full",
	[TOA_C_STALE] = "stale",
	[TOA_C_FREED] = "freed",
	[TOA_C_GETNAME_V4] = "getpeername_v4",
	[TOA_C_GETNAME_V6] = "getpeername_v6",
	[TOA_C_GETNAME_MAPPED] = "getpeername_mapped",
	[TOA_C_NAT64] = "nat64",
	[TOA_C_SOCKOPT_OK] = "sockopt_ok",
	[TOA_C_SOCKOPT_NONE] = "sockopt_enoent",
};

static int show(struct seq_file *m, void *v)
{
	int c, d, cpu;
	u64 sum;

	for (c = 0; c < TOA_C_MAX; c++) {
		sum = 0;
		for_each_possible_cpu(cpu)
			sum += per_cpu(toa_counters, cpu)[c];
		seq_printf(m, "%s %llu\n", names[c], sum);
	}
	for (d = 1; d < TOA_D_MAX; d++) {
		sum = 0;
		for_each_possible_cpu(cpu)
			sum += per_cpu(toa_dialects, cpu)[d];
		seq_printf(m, "dialect_%s %llu\n", toa_dialect_name(d), sum);
	}
	seq_printf(m, "records %d\nrecords_looking %d\n", atomic_read(&toa_nrecords), atomic_read(&toa_nlooking));
	toa_hooks_show(m);
	toa_params_show(m);
	return 0;
}

static int __net_init net_init(struct net *net)
{
	return proc_create_net_single("toa_stats", 0444, net->proc_net, show, NULL) ? 0 : -ENOMEM;
}

static void __net_exit net_exit(struct net *net)
{
	remove_proc_entry("toa_stats", net->proc_net);
}

static struct pernet_operations net_ops = {
	.init = net_init,
	.exit = net_exit,
};

int toa_stats_init(void)
{
	return register_pernet_subsys(&net_ops);
}

void toa_stats_exit(void)
{
	unregister_pernet_subsys(&net_ops);
}

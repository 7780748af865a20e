// SPDX-License-Identifier: GPL-2.0-only
/*
 * toa.ko: lets applications behind an LVS FullNAT director see their real
 * clients. The director puts the client's address and port into a TCP
 * option (TOA) of the segments that open the connection; this module reads
 * it and makes getpeername()/accept() return the client, through ftrace
 * (kprobes before Linux 6.1): no patched kernel, no writes to read-only
 * memory, nothing stored in the socket. The same record is available through
 * getsockopt(SOL_IP/SOL_IPV6, TOA_SO_RECORD); counters in /proc/net/toa_stats.
 *
 * Load it with a trust decision (the directors' LIPs, or any):
 *   insmod toa.ko trust=192.0.2.0/24,2001:db8:200::/64
 *   modprobe toa trust_any=1 accept=v4,v6,v6-ali
 * Unload any time with `rmmod toa`: open connections keep working (they show
 * the LIP again), new ones are untouched.
 */
#include "toa.h"

#include <linux/module.h>

static int __init toa_init(void)
{
	int err;

	BUILD_BUG_ON(sizeof(struct toa_record) != 44);
	err = toa_params_init();
	if (err)
		return err;
	err = toa_table_init();
	if (err)
		return err;
	err = toa_stats_init();
	if (err)
		goto out_table;
	/* From here on segments and sockets reach the module. */
	err = toa_hooks_init();
	if (err)
		goto out_stats;
	/*
	 * Last: a getsockopt caller holds a reference to the module, but a
	 * load that fails frees the module regardless; nothing after this
	 * can fail.
	 */
	err = toa_sockopt_init();
	if (err)
		goto out_hooks;
	pr_info("loaded\n");
	return 0;

out_hooks:
	toa_hooks_exit();
out_stats:
	toa_stats_exit();
out_table:
	toa_table_exit();
	return err;
}

static void __exit toa_exit(void)
{
	/* Hooks first: once they are gone (and their handlers have finished) no one can reach a record. */
	toa_hooks_exit();
	toa_sockopt_exit();
	toa_stats_exit();
	toa_table_exit();
	pr_info("unloaded\n");
}

module_init(toa_init);
module_exit(toa_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("TOA: real client addresses behind an LVS FullNAT director, via ftrace (kprobes before 6.1)");
MODULE_VERSION("1.0.0");

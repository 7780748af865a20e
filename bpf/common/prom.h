/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `status --format prometheus`: the Prometheus text format (version 0.0.4),
 * for node_exporter's textfile collector. Counters are toa_<role>_..._total
 * with a label for the reason or outcome, never one name per reason; a
 * counter name a role gains later lands in toa_<role>_events_total{event=}.
 */
#ifndef TOA_PROM_H
#define TOA_PROM_H

#include <stdbool.h>
#include <linux/types.h>

/* What status knows of a role, for its metrics. */
struct toa_prom_status {
	const char *role;		/* "director", "realserver" or "module" */
	bool attached;			/* the role's toa_<role>_attached gauge */
	const char *const *names;	/* counter names, in the role's order */
	const __u64 *sums;		/* their values */
	int n;
};

/* Director only: the hook and the tables. */
struct toa_prom_director {
	const char *dev, *hook;		/* attached: device, "tcx" or "tc" */
	bool ingress, egress;		/* the programs found on the hook */
	unsigned int vips, flows_used, flows_max;
	/* The real-server-facing side (--rs-dev), or rs_dev NULL when there is none. */
	const char *rs_dev, *rs_hook;
	bool rs_ingress, rs_egress;
	unsigned int rs_flows_used;
};

/* Real server only: the tables. */
struct toa_prom_realserver {
	const char *cgroup;
	unsigned int trusted;		/* prefixes in the trust list */
	long records;			/* live records, < 0 when unknown */
};

void toa_prom_director(const struct toa_prom_status *s, const struct toa_prom_director *d);
void toa_prom_realserver(const struct toa_prom_status *s, const struct toa_prom_realserver *rs);
/* toa.ko's /proc/net/toa_stats counters; settings and gauges are told apart by name. */
void toa_prom_module(const struct toa_prom_status *s, const char *const *gauge_names, const __u64 *gauges, int ngauges);

#endif /* TOA_PROM_H */

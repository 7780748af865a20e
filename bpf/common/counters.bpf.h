/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A role's outcome counters, for its BPF programs: one per-CPU __u64 per
 * enum value (the loader sums the CPUs), so counting never contends.
 * Define TOA_COUNTERS_MAX (how many) and include after <bpf/bpf_helpers.h>:
 * this declares the map "toa_counters" and toa_count()/toa_add()
 * (prefixed: they share the namespace of the program that includes them).
 */
#ifndef TOA_COUNTERS_BPF_H
#define TOA_COUNTERS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TOA_COUNTERS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} toa_counters SEC(".maps");

static __always_inline void toa_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&toa_counters, &idx);

	if (v)
		*v += n;
}

static __always_inline void toa_count(__u32 idx)
{
	toa_add(idx, 1);
}

#endif /* TOA_COUNTERS_BPF_H */

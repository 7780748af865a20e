// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `status --format prometheus`: metric names, labels and help text for each role (see prom.h). */
#include <stdio.h>
#include <string.h>

#include "prom.h"

/* A counter family: toa_<role>_<name>_total{<label>="..."}; label NULL for a single series. */
struct family {
	const char *name, *label, *help;
};

/* Which family a role's counter feeds, and its label value. */
struct feed {
	const char *counter;
	int family;
	const char *value;
};

static void head(const char *role, const char *name, const char *type, const char *help)
{
	printf("# HELP toa_%s_%s %s\n# TYPE toa_%s_%s %s\n", role, name, help, role, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			printf("\\%c", *v);
		else if (*v == '\n')
			printf("\\n");
		else
			putchar(*v);
	}
}

static void gauge(const char *role, const char *name, const char *help, unsigned long long v)
{
	head(role, name, "gauge", help);
	printf("toa_%s_%s %llu\n", role, name, v);
}

static const struct feed *find_feed(const struct feed *feeds, int nfeeds, const char *counter)
{
	int i;

	for (i = 0; i < nfeeds; i++)
		if (!strcmp(feeds[i].counter, counter))
			return &feeds[i];
	return NULL;
}

/*
 * Every family with its samples, in the families' order; a counter no feed
 * names goes to the last family, which must be labelled "event".
 */
static void counters(const struct toa_prom_status *s, const struct family *fams, int nfams,
		     const struct feed *feeds, int nfeeds)
{
	const struct feed *f;
	int fam, i;

	for (fam = 0; fam < nfams; fam++) {
		char name[96];

		snprintf(name, sizeof(name), "%s_total", fams[fam].name);
		head(s->role, name, "counter", fams[fam].help);
		for (i = 0; i < s->n; i++) {
			f = find_feed(feeds, nfeeds, s->names[i]);
			if ((f ? f->family : nfams - 1) != fam)
				continue;
			printf("toa_%s_%s", s->role, name);
			if (fams[fam].label) {
				printf("{%s=\"", fams[fam].label);
				label_value(f ? f->value : s->names[i]);
				printf("\"}");
			}
			printf(" %llu\n", (unsigned long long)s->sums[i]);
		}
	}
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void hook_present(const char *side, const char *dev, const char *hook, bool ingress, bool egress)
{
	static const char *const dirs[] = { "ingress", "egress" };
	const bool on[] = { ingress, egress };

	for (int i = 0; i < 2; i++) {
		printf("toa_director_hook_present{side=\"%s\",device=\"", side);
		label_value(dev);
		printf("\",hook=\"%s\",direction=\"%s\"} %d\n", hook, dirs[i], on[i]);
	}
}

void toa_prom_director(const struct toa_prom_status *s, const struct toa_prom_director *d)
{
	static const struct family fams[] = {
		{ "toa_written", "family", "Client segments TOA was written into, by client family." },
		{ "toa_written_path", "path", "Of the written: header moved (fast) or payload moved toward the tail (moved)." },
		{ "mss_clamped", NULL, "SYN and SYN-ACK segments whose MSS was lowered to leave room for TOA." },
		{ "forged_stripped", NULL, "Client-supplied options of a TOA kind overwritten with NOPs." },
		{ "not_written", "reason", "Segments due a TOA that went on without it, by reason." },
		{ "passed", "reason", "Packets the writer leaves alone, by reason." },
		{ "flows", "event", "Flow-state events: new (SYN-ACK seen), done (server data acked), closed (FIN or RST)." },
		{ "events", "event", "Other counters of the writer, by name." },
	};
	static const struct feed feeds[] = {
		{ "written_v4", 0, "ipv4" }, { "written_v6", 0, "ipv6" },
		{ "written_fast", 1, "fast" }, { "written_moved", 1, "moved" },
		{ "mss_clamped", 2, NULL }, { "forged_stripped", 3, NULL },
		{ "no_room", 4, "no_room" }, { "gso", 4, "gso" }, { "helper_err", 4, "helper_error" },
		{ "not_tcp", 5, "not_tcp" }, { "not_vip", 5, "not_vip" }, { "no_flow", 5, "no_flow" },
		{ "flow_new", 6, "new" }, { "flow_done", 6, "done" }, { "flow_closed", 6, "closed" },
	};

	gauge(s->role, "attached", "1 when the TOA writer is attached (pinned) under this pin directory.", s->attached);
	if (!s->attached)
		return;
	head(s->role, "hook_present", "gauge", "1 when the writer's program is on the device's hook, by side and direction "
					      "(side rs: the real-server-facing device, --rs-dev).");
	hook_present("client", d->dev, d->hook, d->ingress, d->egress);
	if (d->rs_dev)
		hook_present("rs", d->rs_dev, d->rs_hook, d->rs_ingress, d->rs_egress);
	gauge(s->role, "vips", "VIP:port pairs served.", d->vips);
	/* Not "flows": OpenMetrics would read it as the flows_total counter's family. */
	gauge(s->role, "flows_used", "Flow-state entries in use (client side).", d->flows_used);
	if (d->rs_dev)
		gauge(s->role, "rs_flows_used", "Flow-state entries in use on the real-server-facing side (connections SYNPROXY opened).",
		      d->rs_flows_used);
	gauge(s->role, "flows_max", "Flow-state entries available (LRU), per side.", d->flows_max);
	counters(s, fams, N(fams), feeds, N(feeds));
}

void toa_prom_realserver(const struct toa_prom_status *s, const struct toa_prom_realserver *rs)
{
	static const struct family fams[] = {
		{ "segments", NULL, "Segments from trusted sources whose TCP options were read." },
		{ "segment_results", "result", "What reading a segment's options found: found, absent, or malformed_* (never trusted)." },
		{ "connections", "event", "Connections by event: from outside the trust list (untrusted; untrusted_toa: "
					  "with a TOA, ignored), record taken after the handshake (late), stopped looking "
					  "(gave_up), IPv6 client on an IPv4 socket (nat64)." },
		{ "getpeername_rewritten", "family", "Sockets whose getpeername() returns the client, by socket family." },
		{ "errors", "reason", "Segments or connections left without a record by a resource limit." },
		{ "events", "event", "Other counters of the real server, by name." },
	};
	static const struct feed feeds[] = {
		{ "segments", 0, NULL },
		{ "found", 1, "found" }, { "absent", 1, "absent" },
		{ "malformed_length", 1, "malformed_length" }, { "malformed_truncated", 1, "malformed_truncated" },
		{ "malformed_short", 1, "malformed_short" }, { "malformed_after_eol", 1, "malformed_after_eol" },
		{ "malformed_multiple", 1, "malformed_multiple" }, { "malformed_version", 1, "malformed_version" },
		{ "untrusted", 2, "untrusted" }, { "untrusted_toa", 2, "untrusted_toa" }, { "late", 2, "late" },
		{ "gave_up", 2, "gave_up" }, { "nat64", 2, "nat64" },
		{ "rewritten4", 3, "ipv4" }, { "rewritten6", 3, "ipv6" },
		{ "storage_fail", 4, "storage_fail" }, { "no_parser", 4, "no_parser" },
	};

	gauge(s->role, "attached", "1 when the real-server programs are attached (pinned) under this pin directory.",
	      s->attached);
	if (!s->attached)
		return;
	gauge(s->role, "trusted_prefixes", "Prefixes in the trust list.", rs->trusted);
	if (rs->records >= 0)
		gauge(s->role, "records", "Sockets holding a client record now.", (unsigned long long)rs->records);
	counters(s, fams, N(fams), feeds, N(feeds));
}

void toa_prom_module(const struct toa_prom_status *s, const char *const *gauge_names, const __u64 *gauges,
		     int ngauges)
{
	static const struct family fams[] = {
		{ "dialect", "dialect", "Records made, by the dialect TOA came in." },
		{ "probe_missed", "probe", "Hits a kprobe missed (the kernel ran the probed function without the handler)." },
		{ "events", "event", "toa.ko's counters (/proc/net/toa_stats), by name." },
	};
	/* Filled per call: the dialect_ and missed_ prefixes name the family, the rest is the label. */
	struct feed feeds[64];
	int i, nfeeds = 0;

	for (i = 0; i < s->n && nfeeds < N(feeds); i++) {
		if (!strncmp(s->names[i], "dialect_", 8))
			feeds[nfeeds++] = (struct feed){ s->names[i], 0, s->names[i] + 8 };
		else if (!strncmp(s->names[i], "missed_", 7))
			feeds[nfeeds++] = (struct feed){ s->names[i], 1, s->names[i] + 7 };
	}
	gauge(s->role, "loaded", "1 when toa.ko's /proc/net/toa_stats is there.", s->attached);
	if (!s->attached)
		return;
	for (i = 0; i < ngauges; i++) {
		char help[128];

		snprintf(help, sizeof(help), "toa.ko's %s (/proc/net/toa_stats).", gauge_names[i]);
		gauge(s->role, gauge_names[i], help, (unsigned long long)gauges[i]);
	}
	counters(s, fams, N(fams), feeds, nfeeds);
}

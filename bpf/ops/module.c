// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * toa-bpf module status: toa.ko's counters (/proc/net/toa_stats) as text,
 * JSON or Prometheus metrics, so one tool feeds the textfile collector for
 * either real-server path. The file is read generically: every "name N"
 * line is a counter unless its name is a known gauge or setting; other
 * lines (accept, trust) are settings.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "cli.h"
#include "prom.h"

#define PROG		"toa-bpf module"
#define STATS_FILE	"/proc/net/toa_stats"
#define MAX_LINES	128
#define NAME_LEN	64

static const char usage[] =
"Usage: toa-bpf module status [--json | --format text|json|prometheus] [--stats FILE]\n"
"\n"
"Shows toa.ko's counters, gauges and settings from /proc/net/toa_stats (of this\n"
"network namespace; the counters are the module's, global).\n"
"\n"
"Options:\n"
"  -s, --stats FILE       read FILE instead of /proc/net/toa_stats\n"
"  -j, --json             machine-readable output\n"
"      --format FMT       text (default), json, or prometheus (for node_exporter's\n"
"                         textfile collector)\n"
"  -h, --help             this text\n"
"\n"
"EXAMPLES:\n"
"  toa-bpf module status --format prometheus > /var/lib/prometheus/node-exporter/toa.prom\n";

/* Numeric lines that are not counters: live gauges and the module's settings. */
static const char *const gauge_names[] = { "records", "records_looking", "scan_segments", "max_records" };

struct stats {
	char names[MAX_LINES][NAME_LEN], gnames[MAX_LINES][NAME_LEN];
	const char *name_ptrs[MAX_LINES], *gname_ptrs[MAX_LINES];
	__u64 values[MAX_LINES], gauges[MAX_LINES];
	char settings[MAX_LINES][512];
	int n, ngauges, nsettings;
};

static struct stats st;

static bool is_gauge(const char *name)
{
	unsigned int i;

	for (i = 0; i < sizeof(gauge_names) / sizeof(gauge_names[0]); i++)
		if (!strcmp(name, gauge_names[i]))
			return true;
	return false;
}

/* Metric-safe: [a-z0-9_], anything else becomes '_'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			*s = '_';
}

/* 0, -ENOENT when the module is not loaded, or -errno. */
static int read_stats(const char *file)
{
	char line[512], name[NAME_LEN], rest[8];
	unsigned long long v;
	FILE *f = fopen(file, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && st.n < MAX_LINES && st.ngauges < MAX_LINES) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%63s %llu %7s", name, &v, rest) == 2 && strspn(line, " ") == 0) {
			sanitize(name);
			if (is_gauge(name)) {
				snprintf(st.gnames[st.ngauges], NAME_LEN, "%s", name);
				st.gname_ptrs[st.ngauges] = st.gnames[st.ngauges];
				st.gauges[st.ngauges++] = v;
			} else {
				snprintf(st.names[st.n], NAME_LEN, "%s", name);
				st.name_ptrs[st.n] = st.names[st.n];
				st.values[st.n++] = v;
			}
		} else if (*line && st.nsettings < MAX_LINES) {
			snprintf(st.settings[st.nsettings++], sizeof(st.settings[0]), "%s", line);
		}
	}
	fclose(f);
	return 0;
}

static void print_json(void)
{
	int i;

	printf("{\"loaded\": true, \"counters\": {");
	for (i = 0; i < st.n; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", st.names[i], (unsigned long long)st.values[i]);
	printf("}, \"gauges\": {");
	for (i = 0; i < st.ngauges; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", st.gnames[i], (unsigned long long)st.gauges[i]);
	printf("}, \"settings\": {");
	for (i = 0; i < st.nsettings; i++) {
		char *sp = strchr(st.settings[i], ' ');
		const char *val = sp ? sp + 1 : "";

		if (sp)
			*sp = '\0';
		printf("%s", i ? ", " : "");
		toa_json_str(st.settings[i]);
		printf(": ");
		toa_json_str(val);
	}
	printf("}}\n");
}

int module_main(int argc, char **argv)
{
	const char *file = STATS_FILE, *format = "text";
	int i, err;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "status")) {
		fprintf(stderr, PROG ": unknown command '%s' (status)\n", argv[1]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if ((!strcmp(argv[i], "--stats") || !strcmp(argv[i], "-s")) && i + 1 < argc)
			file = argv[++i];
		else if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
		else if (!strncmp(argv[i], "--format=", 9))
			format = argv[i] + 9;
		else if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			format = "json";
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		} else {
			fprintf(stderr, PROG ": unknown or incomplete option '%s'\nTry '" PROG " --help'.\n", argv[i]);
			return 2;
		}
	}
	if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "prometheus")) {
		fprintf(stderr, PROG ": unknown --format '%s' (text, json, prometheus)\n", format);
		return 2;
	}
	err = read_stats(file);
	if (err && err != -ENOENT) {
		fprintf(stderr, PROG ": reading %s failed: %s\n", file, strerror(-err));
		return 1;
	}
	if (!strcmp(format, "prometheus")) {
		struct toa_prom_status s = { "module", !err, st.name_ptrs, st.values, st.n };

		toa_prom_module(&s, st.gname_ptrs, st.gauges, st.ngauges);
	} else if (err) {
		if (!strcmp(format, "json"))
			printf("{\"loaded\": false}\n");
		else
			printf("module: toa.ko is not loaded (no %s)\n", file);
	} else if (!strcmp(format, "json")) {
		print_json();
	} else {
		printf("module: toa.ko loaded\n");
		for (i = 0; i < st.nsettings; i++)
			printf("  %s\n", st.settings[i]);
		for (i = 0; i < st.ngauges; i++)
			printf("  %-20s %llu\n", st.gnames[i], (unsigned long long)st.gauges[i]);
		for (i = 0; i < st.n; i++)
			printf("  %-20s %llu\n", st.names[i], (unsigned long long)st.values[i]);
	}
	return 0;
}

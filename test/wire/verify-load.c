// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * verify-load: loads every program of a BPF object through the kernel's
 * verifier (nothing is attached or pinned; closing frees it all) and prints
 * one JSON line per program with the verifier's processed-instruction count.
 * Exit status 1 when a program is refused, 2 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#define LOG_SIZE (1 << 20)

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	char *log;
	const char *p;
	int err, n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: verify-load OBJECT.bpf.o\n");
		return 2;
	}
	libbpf_set_print(quiet);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "verify-load: cannot open %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	log = calloc(1, LOG_SIZE);
	if (!log)
		return 2;
	/* One program per load so each gets its own log; stats only (level 4). */
	bpf_object__for_each_program(prog, obj) {
		bpf_program__set_log_buf(prog, log + (size_t)n * (LOG_SIZE / 8), LOG_SIZE / 8);
		bpf_program__set_log_level(prog, 4);
		if (++n == 8)
			break;
	}
	err = bpf_object__load(obj);
	n = 0;
	bpf_object__for_each_program(prog, obj) {
		p = strstr(log + (size_t)n * (LOG_SIZE / 8), "processed ");
		printf("{\"program\":\"%s\",\"loaded\":%s,\"insns\":%ld}\n", bpf_program__name(prog),
		       bpf_program__fd(prog) >= 0 ? "true" : "false", p ? strtol(p + 10, NULL, 10) : -1L);
		if (++n == 8)
			break;
	}
	if (err)
		fprintf(stderr, "verify-load: %s: load failed: %s\n", argv[1], strerror(-err));
	bpf_object__close(obj);
	free(log);
	return err ? 1 : 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * toa-check: runs include/toa/toa_wire.h's parser and encoder on cases read
 * from stdin, one JSON result per line on stdout, so the vector and
 * differential tests (test/unit/wire-c.test.ts) can drive the C code.
 *
 *   <accept-mask-hex> <options-hex|->          parse; "-" is an empty area
 *   E <dialect-id> <port> <address-hex(32)>    encode; prints {"hex":"..."}
 *
 * `toa-check --table` prints the dialect table and the record layout as the
 * headers define them, for the test that the TypeScript mirror agrees.
 *
 * Built with -DTOA_CHECK_BPF it is toa-check-bpf: `toa-check-bpf OBJECT`
 * parses through the BPF build of the same header instead, program
 * toa_vector of header-check.bpf.o run in the kernel with BPF_PROG_TEST_RUN.
 * Bad input: a message on stderr and exit status 2.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "toa/toa_wire.h"
#include "toa/toa_record.h"

#ifdef TOA_CHECK_BPF
#include <errno.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define TOA_VEC_IN	14
#define TOA_VEC_OUT	(TOA_VEC_IN + 2 + TOA_OPT_MAX)
#define TOA_VEC_SIZE	(TOA_VEC_OUT + (int)sizeof(struct toa_addr))

static int vector_fd = -1;

/* toa_parse() as the kernel runs the BPF build of it. */
static int parse_in_kernel(const __u8 *opts, __u32 len, __u32 accept, struct toa_addr *out)
{
	__u8 pkt[TOA_VEC_SIZE] = { 0 }, back[TOA_VEC_SIZE + 64];
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .data_out = back, .data_size_out = sizeof(back), .repeat = 1);

	if (accept > 0xff || len > 0xff) {
		fprintf(stderr, "toa-check-bpf: mask and length must fit a byte\n");
		exit(2);
	}
	pkt[TOA_VEC_IN] = (__u8)accept;
	pkt[TOA_VEC_IN + 1] = (__u8)len;
	memcpy(pkt + TOA_VEC_IN + 2, opts, len < TOA_OPT_MAX ? len : TOA_OPT_MAX);
	if (bpf_prog_test_run_opts(vector_fd, &run)) {
		fprintf(stderr, "toa-check-bpf: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
		exit(1);
	}
	if (run.data_size_out < TOA_VEC_SIZE || run.retval >= TOA_STATUS_MAX)
		return 100 + (int)run.retval;
	memcpy(out, back + TOA_VEC_OUT, sizeof(*out));
	return (int)run.retval;
}
#define toa_parse parse_in_kernel

static void load_vector_program(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;

	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "toa-check-bpf: cannot load %s: %s\n", path, strerror(errno));
		exit(1);
	}
	prog = bpf_object__find_program_by_name(obj, "toa_vector");
	vector_fd = prog ? bpf_program__fd(prog) : -1;
	if (vector_fd < 0) {
		fprintf(stderr, "toa-check-bpf: %s has no program toa_vector\n", path);
		exit(1);
	}
	/* The object stays open until exit: the kernel frees it with the process. */
}
#endif

static const char *const dialect_names[TOA_D_MAX] = {
	[TOA_D_NONE] = "none", [TOA_D_V4] = "v4", [TOA_D_V6] = "v6",
	[TOA_D_V6_ALI] = "v6-ali", [TOA_D_V4_253] = "v4-253", [TOA_D_V4_200] = "v4-200",
	[TOA_D_CDN] = "cdn", [TOA_D_CDN6] = "cdn6",
};

static const char *const status_names[TOA_STATUS_MAX] = {
	[TOA_OK] = "ok", [TOA_ABSENT] = "absent", [TOA_ERR_LENGTH] = "length",
	[TOA_ERR_TRUNCATED] = "truncated", [TOA_ERR_SHORT] = "short",
	[TOA_ERR_AFTER_EOL] = "after_eol", [TOA_ERR_MULTIPLE] = "multiple",
	[TOA_ERR_VERSION] = "version", [TOA_ERR_PORT] = "port", [TOA_ERR_ADDRESS] = "address",
};

static unsigned long lineno;

static void die(const char *what, const char *text)
{
	fprintf(stderr, "toa-check: line %lu: %s: '%s'\n", lineno, what, text);
	exit(2);
}

/* Hex digits (no separators) into out; returns the byte count, or -1. */
static int unhex(const char *s, unsigned char *out, size_t cap)
{
	size_t n = strlen(s), i;

	if (n % 2 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned int b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -1;
		out[i] = (unsigned char)b;
	}
	return (int)(n / 2);
}

/* Address text as inet_ntop writes it: the form Node, the C tools and wire.ts share. */
static void format_addr(int family, const __u8 *a, char *out)
{
	inet_ntop(family == TOA_FAMILY_V4 ? AF_INET : AF_INET6, a, out, INET6_ADDRSTRLEN);
}

static void do_parse(const char *mask_s, const char *hex_s)
{
	unsigned char opts[TOA_OPTBUF];
	struct toa_addr out;
	char *end, text[64];
	unsigned long mask = strtoul(mask_s, &end, 16);
	int len = 0, st;

	if (*end || !*mask_s || mask > 0xffffffffUL)
		die("accept mask is not 32-bit hex", mask_s);
	if (strcmp(hex_s, "-")) {
		/* A parser never sees more than 40 bytes; longer input only checks the refusal. */
		len = unhex(hex_s, opts, sizeof(opts));
		if (len < 0)
			die("options are not hex (at most 64 bytes)", hex_s);
	}
	memset(&out, 0xaa, sizeof(out));
	st = toa_parse(opts, (__u32)len, (__u32)mask, &out);
	if (st < 0 || st >= TOA_STATUS_MAX) {
		printf("{\"status\":\"bad-%d\"}\n", st);
		return;
	}
	if (st != TOA_OK) {
		printf("{\"status\":\"%s\"}\n", status_names[st]);
		return;
	}
	format_addr(out.family, out.addr, text);
	printf("{\"status\":\"ok\",\"dialect\":\"%s\",\"family\":%u,\"address\":\"%s\",\"port\":%u}\n",
	       out.dialect < TOA_D_MAX ? dialect_names[out.dialect] : "bad", out.family, text, ntohs(out.port));
}

static void do_encode(const char *d_s, const char *port_s, const char *addr_s)
{
	unsigned char addr[16], out[TOA_LEN_V6];
	char *end1, *end2;
	long d = strtol(d_s, &end1, 10), port = strtol(port_s, &end2, 10);
	__u32 n, i;

	if (*end1 || d < 0 || d >= 256)
		die("dialect is not a number", d_s);
	if (*end2 || port < 0 || port > 65535)
		die("port is not 0..65535", port_s);
	if (unhex(addr_s, addr, sizeof(addr)) != 16)
		die("address is not 16 bytes of hex", addr_s);
	n = toa_encode((int)d, htons((__u16)port), addr, out);
	printf("{\"hex\":\"");
	for (i = 0; i < n; i++)
		printf("%02x", out[i]);
	printf("\"}\n");
}

static void print_table(void)
{
	int d, s;

	printf("{\"dialects\":[");
	for (d = 1; d < TOA_D_MAX; d++)
		printf("%s{\"name\":\"%s\",\"id\":%d,\"kind\":%u,\"length\":%u,\"family\":%u,\"port\":%s,\"default\":%s}",
		       d > 1 ? "," : "", dialect_names[d], d, toa_dialect_kind(d), toa_dialect_len(d),
		       toa_dialect_family(d), d == TOA_D_CDN || d == TOA_D_CDN6 ? "false" : "true",
		       TOA_ACCEPT_DEFAULT & TOA_BIT(d) ? "true" : "false");
	printf("],\"statuses\":[");
	for (s = 0; s < TOA_STATUS_MAX; s++)
		printf("%s\"%s\"", s ? "," : "", status_names[s]);
	printf("],\"acceptDefault\":%u,\"acceptAll\":%u,\"optMax\":%u,", TOA_ACCEPT_DEFAULT, TOA_ACCEPT_ALL, TOA_OPT_MAX);
	printf("\"record\":{\"size\":%zu,\"version\":%u,\"nat64\":%u,\"rewritten\":%u,"
	       "\"offsets\":{\"version\":%zu,\"family\":%zu,\"dialect\":%zu,\"peerFamily\":%zu,\"port\":%zu,"
	       "\"peerPort\":%zu,\"addr\":%zu,\"peerAddr\":%zu,\"flags\":%zu}}}\n",
	       sizeof(struct toa_record), TOA_RECORD_VERSION, TOA_REC_NAT64, TOA_REC_REWRITTEN,
	       offsetof(struct toa_record, version), offsetof(struct toa_record, family),
	       offsetof(struct toa_record, dialect), offsetof(struct toa_record, peer_family),
	       offsetof(struct toa_record, port), offsetof(struct toa_record, peer_port),
	       offsetof(struct toa_record, addr), offsetof(struct toa_record, peer_addr),
	       offsetof(struct toa_record, flags));
}

int main(int argc, char **argv)
{
	char line[512], *tok[5];
	int n;

	if (argc == 2 && !strcmp(argv[1], "--table")) {
		print_table();
		return 0;
	}
#ifdef TOA_CHECK_BPF
	if (argc != 2) {
		fprintf(stderr, "usage: toa-check-bpf OBJECT.bpf.o < cases\n");
		return 2;
	}
	load_vector_program(argv[1]);
#else
	if (argc != 1) {
		fprintf(stderr, "usage: toa-check [--table] < cases\n");
		return 2;
	}
#endif
	while (fgets(line, sizeof(line), stdin)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(stdin))
			die("line too long", "");
		for (n = 0, tok[0] = strtok(line, " \t\r\n"); tok[n]; tok[n] = strtok(NULL, " \t\r\n"))
			if (++n == 5)
				die("too many fields", tok[4]);
		if (n == 0)
			continue;
		if (!strcmp(tok[0], "E") && n == 4)
			do_encode(tok[1], tok[2], tok[3]);
		else if (n == 2 || n == 1)
			do_parse(tok[0], n == 2 ? tok[1] : "-");
		else
			die("expected '<mask> <hex>' or 'E <dialect> <port> <addr-hex>'", tok[0]);
		fflush(stdout);
	}
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * toa-testrun: runs a pinned tc program once on a packet you give it
 * (BPF_PROG_TEST_RUN), so tests can check what it did to packets the lab's
 * veths never produce: a CHECKSUM_COMPLETE skb, whose skb->csum the kernel
 * then verifies against the packet (EBADMSG when the program left it wrong).
 *
 *   toa-testrun [--complete] PINNED_PROG FRAME_HEX
 *
 * FRAME_HEX is an Ethernet frame in hex. Prints one JSON object:
 *   {"retval": N, "frame": "HEX"}      the program's verdict and the frame after it
 *   {"error": "EBADMSG", "errno": 74}  the run failed (with --complete: skb->csum wrong)
 * Exit 0 when the run happened (whatever its outcome), 1 on a system error, 2 on usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#ifndef BPF_F_TEST_SKB_CHECKSUM_COMPLETE
#define BPF_F_TEST_SKB_CHECKSUM_COMPLETE	(1U << 2)	/* Linux 6.11 */
#endif

#define FRAME_MAX	65536

static unsigned char in[FRAME_MAX], out[FRAME_MAX + 256];

static int unhex(const char *s, unsigned char *buf, size_t max)
{
	size_t n = 0;
	unsigned int v;

	while (s[0] && s[1]) {
		if (n >= max || sscanf(s, "%2x", &v) != 1)
			return -1;
		buf[n++] = v;
		s += 2;
	}
	return *s ? -1 : (int)n;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int complete = 0, fd, len, err, i = 1;

	if (argc > 1 && !strcmp(argv[1], "--complete")) {
		complete = 1;
		i++;
	}
	if (argc - i != 2) {
		fprintf(stderr, "Usage: toa-testrun [--complete] PINNED_PROG FRAME_HEX\n");
		return 2;
	}
	len = unhex(argv[i + 1], in, sizeof(in));
	if (len < 14) {
		fprintf(stderr, "toa-testrun: FRAME_HEX must be an Ethernet frame in hex\n");
		return 2;
	}
	fd = bpf_obj_get(argv[i]);
	if (fd < 0) {
		fprintf(stderr, "toa-testrun: opening %s: %s\n", argv[i], strerror(errno));
		return 1;
	}
	opts.data_in = in;
	opts.data_size_in = len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.repeat = 1;
	opts.flags = complete ? BPF_F_TEST_SKB_CHECKSUM_COMPLETE : 0;
	err = bpf_prog_test_run_opts(fd, &opts);
	close(fd);
	if (err) {
		err = errno;
		printf("{\"error\": \"%s\", \"errno\": %d}\n", err == EBADMSG ? "EBADMSG" : strerror(err), err);
		return 0;
	}
	printf("{\"retval\": %d, \"frame\": \"", (int)opts.retval);
	for (unsigned int j = 0; j < opts.data_size_out; j++)
		printf("%02x", out[j]);
	printf("\"}\n");
	return 0;
}

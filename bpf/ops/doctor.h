/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* toa-bpf doctor: what its parts share (the app's process, the wire window). */
#ifndef TOA_DOCTOR_H
#define TOA_DOCTOR_H

#include <stdbool.h>
#include <linux/types.h>

/* ---- the app (doctor_app.c) ---- */

/* The first process with a TCP socket listening on port, in any network namespace; 0 when none. */
int doctor_pid_of_port(unsigned int port);
/* The first TCP port pid listens on (in its network namespace); 0 when none. */
unsigned int doctor_port_of_pid(int pid);
/* pid's cgroup v2 path as seen here ("/a/b"), into buf; -errno. */
int doctor_cgroup_of(int pid, char *buf, size_t len);
/* The process's name (comm), into buf. */
void doctor_comm(int pid, char *buf, size_t len);

/* ---- the wire (doctor_sniff.c) ---- */

#define SNIFF_SOURCES	16

/* What arrived for a port during the window, per source address. */
struct sniff_source {
	__u8	family;			/* TOA_FAMILY_V4 / V6 */
	__u8	addr[16];
	__u32	segments;		/* non-SYN segments to the port */
	__u32	toa;			/* ... carrying a TOA option */
	__u32	dialects;		/* TOA_BIT() of the dialects seen */
};

struct sniff {
	struct sniff_source src[SNIFF_SOURCES];
	int nsrc;
	__u32 segments;
};

/*
 * Watches segments arriving for TCP port (any interface of this network
 * namespace) for ms milliseconds. 0, or -errno.
 */
int doctor_sniff(unsigned int port, unsigned int ms, struct sniff *out);

#endif /* TOA_DOCTOR_H */

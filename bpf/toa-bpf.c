// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * toa-bpf: attach, inspect and detach the TOA eBPF programs.
 *
 *   toa-bpf director   attach|detach|status ...   (LVS FullNAT director: write TOA)
 *   toa-bpf realserver attach|detach|status ...   (real server: read TOA)
 *   toa-bpf module status ...                     (real server: toa.ko's counters)
 *   toa-bpf doctor --port N | --pid P | --vip V   (why an app sees the balancer)
 */
#include <stdio.h>
#include <string.h>

/* Weak: the Makefile builds only the roles whose folders exist. */
int director_main(int argc, char **argv) __attribute__((weak));
int realserver_main(int argc, char **argv) __attribute__((weak));
int module_main(int argc, char **argv) __attribute__((weak));
int doctor_main(int argc, char **argv) __attribute__((weak));

static int no_role(const char *role)
{
	fprintf(stderr, "toa-bpf: this build has no %s role\n", role);
	return 1;
}

static const char usage[] =
"Usage: toa-bpf ROLE COMMAND [OPTIONS]\n"
"\n"
"Roles:\n"
"  director    insert TOA into client segments on an LVS FullNAT director\n"
"  realserver  give applications the client address carried in TOA\n"
"  module      toa.ko's counters (status only)\n"
"  doctor      why an application sees the load balancer, not its client\n"
"\n"
"Commands: attach, detach, status. `toa-bpf ROLE --help` lists each role's options.\n"
"State is pinned under /sys/fs/bpf/toa (--pin-dir DIR or TOA_PIN_DIR for another).\n";

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "director"))
		return director_main ? director_main(argc - 1, argv + 1) : no_role("director");
	if (!strcmp(argv[1], "realserver"))
		return realserver_main ? realserver_main(argc - 1, argv + 1) : no_role("realserver");
	if (!strcmp(argv[1], "doctor"))
		return doctor_main ? doctor_main(argc - 1, argv + 1) : no_role("doctor");
	if (!strcmp(argv[1], "module"))
		return module_main ? module_main(argc - 1, argv + 1) : no_role("module");
	fprintf(stderr, "toa-bpf: unknown role '%s' (expected director or realserver)\n\n%s", argv[1], usage);
	return 2;
}

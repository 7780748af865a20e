// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* toa-bpf doctor: finding the app by port or PID, and its cgroup, from /proc. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "doctor.h"

#define MAX_INODES	64

/* Socket inodes listening on port (0: any) in /proc/PID/net/tcp and tcp6; the port of the first into *first. */
static int listening(int pid, unsigned int port, unsigned long *inodes, int max, unsigned int *first)
{
	static const char *const files[] = { "tcp", "tcp6" };
	char path[64], line[512];
	unsigned int lport, state, i;
	unsigned long ino;
	int n = 0;

	for (i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		/* "sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode" */
		while (fgets(line, sizeof(line), f) && n < max) {
			if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*u %*u %lu",
				   &lport, &state, &ino) != 3)
				continue;
			if (state != 0x0A || (port && lport != port))	/* TCP_LISTEN */
				continue;
			if (!n && first)
				*first = lport;
			inodes[n++] = ino;
		}
		fclose(f);
	}
	return n;
}

/* Whether pid holds a socket with one of the inodes. */
static bool holds(int pid, const unsigned long *inodes, int n)
{
	char path[64], link[64];
	struct dirent *de;
	unsigned long ino;
	bool found = false;
	DIR *d;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char fdpath[320];
		ssize_t len;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		for (i = 0; i < n && !found; i++)
			found = inodes[i] == ino;
	}
	closedir(d);
	return found;
}

static ino_t netns_of(int pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) ? 0 : st.st_ino;
}

int doctor_pid_of_port(unsigned int port)
{
	unsigned long inodes[MAX_INODES];
	ino_t seen[256];
	int nseen = 0, n, i, pid, found = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	/*
	 * This network namespace first (the app's, when the doctor runs beside
	 * it), then each other one (an app in a container): its listeners, then
	 * a process of that namespace holding one.
	 */
	seen[nseen++] = netns_of(getpid());
	n = listening(getpid(), port, inodes, MAX_INODES, NULL);
	while (n && !found && (de = readdir(d))) {
		pid = atoi(de->d_name);
		if (pid > 0 && netns_of(pid) == seen[0] && holds(pid, inodes, n))
			found = pid;
	}
	rewinddir(d);
	while (!found && (de = readdir(d))) {
		DIR *d2;
		struct dirent *de2;
		ino_t ns;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		ns = netns_of(pid);
		if (!ns)
			continue;
		for (i = 0; i < nseen && seen[i] != ns; i++)
			;
		if (i < nseen)
			continue;
		if (nseen < 256)
			seen[nseen++] = ns;
		n = listening(pid, port, inodes, MAX_INODES, NULL);
		if (!n)
			continue;
		d2 = opendir("/proc");
		while (d2 && !found && (de2 = readdir(d2))) {
			int p = atoi(de2->d_name);

			if (p > 0 && netns_of(p) == ns && holds(p, inodes, n))
				found = p;
		}
		if (d2)
			closedir(d2);
	}
	closedir(d);
	return found;
}

unsigned int doctor_port_of_pid(int pid)
{
	unsigned long inodes[MAX_INODES];
	unsigned int first = 0;
	char path[64], line[512];
	unsigned int lport, state;
	unsigned long ino;
	int n = listening(pid, 0, inodes, MAX_INODES, &first), i;
	static const char *const files[] = { "tcp", "tcp6" };

	if (!n)
		return 0;
	/* The namespace's listeners include other processes': the first one this pid holds. */
	for (i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*u %*u %lu",
				   &lport, &state, &ino) == 3 && state == 0x0A && holds(pid, &ino, 1)) {
				fclose(f);
				return lport;
			}
		}
		fclose(f);
	}
	return 0;
}

int doctor_cgroup_of(int pid, char *buf, size_t len)
{
	char path[64], line[PATH_MAX + 64];
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;	/* the cgroup v2 line; v1 hierarchies have their own ids */
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "%s", line + 3);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

void doctor_comm(int pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, len, f))
		snprintf(buf, len, "?");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

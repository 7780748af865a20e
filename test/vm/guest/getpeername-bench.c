// SPDX-License-Identifier: GPL-2.0-only
/*
 * getpeername-bench: accepts connections on a dual-stack port; for each one
 * times COUNT getpeername() calls and answers with one JSON line
 * {"ns":per-call,"meanNs":per-call,"ctlNs":per-call,"peer":"addr","port":N,"acceptPeer":"addr","acceptPort":N}
 * (the last two: what accept() itself returned), then closes. The calls run
 * in 20 batches: "ns" is the fastest batch's time per call (an emulated guest
 * on a busy host loses whole time slices, which only ever add time), "meanNs"
 * all of them. With toa.ko loaded and a TOA connection the calls take its
 * rewritten path. "ctlNs" is the control: each batch is followed by as many
 * getpeername() calls on a Unix socket pair (the same system call, a getname
 * toa.ko never hooks), fastest batch too: on the host's clock the emulated
 * guest's speed drifts, the control with it, so measures taken apart can be
 * brought to one speed (on the instruction clock both stay put).
 *
 *   getpeername-bench -p PORT [-n COUNT] [-c CONNECTIONS]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 20

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ns taken by n getpeername() calls on fd; exits on an error. */
static double time_calls(int fd, int n, const char *what)
{
	struct sockaddr_storage addr;
	socklen_t len;
	double t0 = now_ns();
	int i;

	for (i = 0; i < n; i++) {
		len = sizeof(addr);
		if (getpeername(fd, (struct sockaddr *)&addr, &len)) {
			perror(what);
			exit(1);
		}
	}
	return now_ns() - t0;
}

int main(int argc, char **argv)
{
	int port = 0, count = 100000, conns = 1, ch, one = 1, zero = 0, fd, c, per, pair[2];
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 }, peer, acc;
	socklen_t len;
	char text[INET6_ADDRSTRLEN], atext[INET6_ADDRSTRLEN], line[384];
	double t, best, total, ctlBest;
	int b;

	while ((ch = getopt(argc, argv, "p:n:c:")) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		case 'c': conns = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: getpeername-bench -p PORT [-n COUNT] [-c CONNECTIONS]\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535 || count <= 0 || conns <= 0) {
		fprintf(stderr, "getpeername-bench: -p 1..65535, -n and -c positive\n");
		return 2;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair)) {
		perror("getpeername-bench: socketpair");
		return 1;
	}
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	a.sin6_port = htons(port);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64)) {
		perror("getpeername-bench: listen");
		return 1;
	}
	per = count / BATCHES + 1;
	printf("listening\n");
	fflush(stdout);
	while (conns--) {
		len = sizeof(acc);
		c = accept(fd, (struct sockaddr *)&acc, &len);
		if (c < 0) {
			perror("getpeername-bench: accept");
			return 1;
		}
		best = 0;
		total = 0;
		ctlBest = 0;
		for (b = 0; b < BATCHES; b++) {
			t = time_calls(c, per, "getpeername-bench: getpeername");
			total += t;
			if (!b || t < best)
				best = t;
			t = time_calls(pair[0], per, "getpeername-bench: getpeername (control)");
			if (!b || t < ctlBest)
				ctlBest = t;
		}
		/* The address the timed calls returned, for the caller to check. */
		len = sizeof(peer);
		if (getpeername(c, (struct sockaddr *)&peer, &len)) {
			perror("getpeername-bench: getpeername");
			return 1;
		}
		inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof(text));
		inet_ntop(AF_INET6, &acc.sin6_addr, atext, sizeof(atext));
		snprintf(line, sizeof(line),
			 "{\"ns\":%.1f,\"meanNs\":%.1f,\"ctlNs\":%.1f,\"peer\":\"%s\",\"port\":%u,\"acceptPeer\":\"%s\",\"acceptPort\":%u}\n",
			 best / per, total / (BATCHES * per), ctlBest / per,
			 text, ntohs(peer.sin6_port),
			 atext, ntohs(acc.sin6_port));
		if (write(c, line, strlen(line)) < 0)
			perror("getpeername-bench: write");
		close(c);
	}
	return 0;
}

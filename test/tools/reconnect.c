// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * reconnect: an accepted socket that disconnects (connect(AF_UNSPEC)) and
 * connects elsewhere, for the test that its old TOA record does not follow it.
 *
 *   reconnect PORT RECORDS_PIN
 *
 * Listens on [::]:PORT (dual-stack) and on 127.0.0.1:PORT+1. Prints
 * "listening PORT" when ready. Accepts one connection on PORT, answers its
 * request with an HTTP response whose body is {"before": PEER} (what
 * getpeername() says), closes its side and waits for the client's FIN. Then
 * it disconnects that same socket, connects it to 127.0.0.1:PORT+1 and prints
 * one JSON line: {"before": PEER, "after": PEER, "record": BOOL}, where
 * record says whether the socket-storage map pinned at RECORDS_PIN still has
 * an entry for the socket. Exit 0, or 1 with a message on a system error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>

static void die(const char *what)
{
	fprintf(stderr, "reconnect: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* getpeername() as "ADDR PORT" text in a JSON string. */
static void peer(int fd, char *out, size_t len)
{
	struct sockaddr_in6 sa;
	socklen_t sl = sizeof(sa);
	char a[INET6_ADDRSTRLEN];

	if (getpeername(fd, (struct sockaddr *)&sa, &sl))
		die("getpeername");
	inet_ntop(AF_INET6, &sa.sin6_addr, a, sizeof(a));
	snprintf(out, len, "\"%s %u\"", a, ntohs(sa.sin6_port));
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in lo4 = { .sin_family = AF_INET };
	struct sockaddr_in6 to = { .sin6_family = AF_INET6 };
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	char buf[4096], before[128], after[128], resp[512];
	int l6, l4, c, mfd, one = 1, zero = 0, n, port, value[16];

	if (argc != 3 || (port = atoi(argv[1])) <= 0 || port > 65534) {
		fprintf(stderr, "usage: reconnect PORT RECORDS_PIN\n");
		return 2;
	}
	l6 = socket(AF_INET6, SOCK_STREAM, 0);
	l4 = socket(AF_INET, SOCK_STREAM, 0);
	if (l6 < 0 || l4 < 0)
		die("socket");
	setsockopt(l6, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	any6.sin6_port = htons(port);
	lo4.sin_port = htons(port + 1);
	lo4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l6, (struct sockaddr *)&any6, sizeof(any6)) || listen(l6, 4) ||
	    bind(l4, (struct sockaddr *)&lo4, sizeof(lo4)) || listen(l4, 4))
		die("listen");
	printf("listening %d\n", port);
	fflush(stdout);

	c = accept(l6, NULL, NULL);
	if (c < 0)
		die("accept");
	if (read(c, buf, sizeof(buf)) < 0)
		die("read");
	peer(c, before, sizeof(before));
	n = snprintf(resp, sizeof(resp), "{\"before\": %s}", before);
	n = snprintf(buf, sizeof(buf), "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s", n, resp);
	if (write(c, buf, n) != n || shutdown(c, SHUT_WR))
		die("answer");
	while ((n = read(c, buf, sizeof(buf))) > 0)
		;

	/* The same socket, now somebody else's connection. */
	if (connect(c, &unspec, sizeof(unspec)))
		die("connect(AF_UNSPEC)");
	to.sin6_port = htons(port + 1);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &to.sin6_addr);
	if (connect(c, (struct sockaddr *)&to, sizeof(to)))
		die("connect");
	peer(c, after, sizeof(after));
	mfd = bpf_obj_get(argv[2]);
	if (mfd < 0)
		die("bpf_obj_get");
	printf("{\"before\": %s, \"after\": %s, \"record\": %s}\n", before, after,
	       bpf_map_lookup_elem(mfd, &c, value) ? "false" : "true");
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The smallest HTTP server that still calls accept() for every connection:
 * the baseline the benchmarks measure connection rates against, so that the
 * cost of TOA is not hidden under an application's own.
 *
 *   accept-loop PORT [getpeername]
 *
 * Listens on [::]:PORT, dual stack, and prints "listening PORT". With
 * "getpeername" it also asks for each connection's peer once, as servers
 * that log their client do (the VM bench measures toa.ko on that call).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char reply[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

int main(int argc, char **argv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	int one = 1, zero = 0, fd, ask;
	char buf[4096];
	long port;

	if (argc < 2 || argc > 3 || (port = strtol(argv[1], NULL, 10)) <= 0 || port > 65535 ||
	    (argc == 3 && strcmp(argv[2], "getpeername"))) {
		fprintf(stderr, "usage: accept-loop PORT [getpeername]\n");
		return 2;
	}
	ask = argc == 3;
	sa.sin6_port = htons((unsigned short)port);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		fprintf(stderr, "accept-loop: cannot listen on port %ld: %s\n", port, strerror(errno));
		return 1;
	}
	printf("listening %ld\n", port);
	fflush(stdout);
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int c = accept(fd, (struct sockaddr *)&peer, &plen);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "accept-loop: accept: %s\n", strerror(errno));
			return 1;
		}
		plen = sizeof(peer);
		if (ask && getpeername(c, (struct sockaddr *)&peer, &plen) < 0) {
			close(c);
			continue;
		}
		/* One request per connection: read until the header ends, answer, close. */
		for (size_t got = 0;;) {
			ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);

			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = 0;
			if (strstr(buf, "\r\n\r\n") || got == sizeof(buf) - 1) {
				if (write(c, reply, sizeof(reply) - 1) < 0)
					break;
				break;
			}
		}
		close(c);
	}
}

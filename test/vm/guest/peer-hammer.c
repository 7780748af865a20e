// SPDX-License-Identifier: GPL-2.0-only
/*
 * peer-hammer: keep-alive connections that call getpeername() over and over
 * while other connections come and go, for the module's load test.
 *
 * Server (in the real server): accepts connections on a dual-stack port; a
 * thread per connection calls getpeername() in short bursts until SIGUSR1,
 * comparing each answer with what accept() returned (the client) and with
 * -L (the LIP, what a connection shows once the module is unloaded); then it
 * answers one JSON line and closes:
 *   {"peer":"addr","port":N,"calls":N,"client":N,"lip":N,"wrong":N}
 * "wrong" counts answers that were neither: another connection's client.
 *   peer-hammer -s -p PORT -L LIP_ADDR     (prints "listening", then "accepted N" per connection)
 *
 * Answer (in the real server, for the short connections): speaks first on
 * each connection with what it sees, then closes:
 *   {"remoteAddress":"addr","remotePort":N,"record":"hex of toa.ko's record"|null}
 *   peer-hammer -a -p PORT
 *
 * Client: opens COUNT connections to ADDR:PORT, sends one line on each, and
 * prints for each "local ADDR PORT got LINE" once the server answers.
 *   peer-hammer -c ADDR -p PORT -n COUNT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <toa/toa_record.h>

static volatile sig_atomic_t stop;
static struct in6_addr lip;

static void on_usr1(int sig)
{
	(void)sig;
	stop = 1;
}

static void *hammer(void *arg)
{
	int c = (int)(long)arg, i;
	struct sockaddr_in6 acc, peer;
	socklen_t len = sizeof(acc);
	unsigned long calls = 0, same = 0, lips = 0, wrong = 0;
	char text[INET6_ADDRSTRLEN], line[256], buf[64];

	if (getpeername(c, (struct sockaddr *)&acc, &len) || read(c, buf, sizeof(buf)) <= 0) {
		close(c);
		return NULL;
	}
	while (!stop) {
		/* Bursts and pauses: the other connections of the test need the CPUs too. */
		for (i = 0; i < 20; i++) {
			len = sizeof(peer);
			if (getpeername(c, (struct sockaddr *)&peer, &len))
				break;
			calls++;
			if (!memcmp(&peer.sin6_addr, &acc.sin6_addr, 16) && peer.sin6_port == acc.sin6_port)
				same++;
			else if (!memcmp(&peer.sin6_addr, &lip, 16))
				lips++;
			else
				wrong++;
		}
		usleep(5000);
	}
	inet_ntop(AF_INET6, &acc.sin6_addr, text, sizeof(text));
	snprintf(line, sizeof(line), "{\"peer\":\"%s\",\"port\":%u,\"calls\":%lu,\"client\":%lu,\"lip\":%lu,\"wrong\":%lu}\n",
		 text, ntohs(acc.sin6_port), calls, same, lips, wrong);
	if (write(c, line, strlen(line)) < 0)
		perror("peer-hammer: write");
	close(c);
	return NULL;
}

/* One short connection: what getpeername() and toa.ko's record say, then close. */
static void *answer(void *arg)
{
	int c = (int)(long)arg;
	struct sockaddr_in6 peer;
	struct toa_record rec;
	socklen_t len = sizeof(peer), rlen = sizeof(rec);
	char text[INET6_ADDRSTRLEN], hex[2 * sizeof(rec) + 3] = "null", line[384];
	size_t i;

	if (getpeername(c, (struct sockaddr *)&peer, &len)) {
		close(c);
		return NULL;
	}
	if (!getsockopt(c, SOL_IPV6, TOA_SO_RECORD, &rec, &rlen)) {
		hex[0] = '"';
		for (i = 0; i < sizeof(rec); i++)
			sprintf(hex + 1 + 2 * i, "%02x", ((unsigned char *)&rec)[i]);
		strcat(hex, "\"");
	}
	inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof(text));
	snprintf(line, sizeof(line), "{\"remoteAddress\":\"%s\",\"remotePort\":%u,\"record\":%s}\n", text,
		 ntohs(peer.sin6_port), hex);
	if (write(c, line, strlen(line)) < 0)
		perror("peer-hammer: write");
	close(c);
	return NULL;
}

static int server(int port, const char *lip_text)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int one = 1, zero = 0, fd, c, n = 0;
	/* Thousands of short connections at once: a small stack per thread. */
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	char mapped[64];
	pthread_t t;

	snprintf(mapped, sizeof(mapped), strchr(lip_text, ':') ? "%s" : "::ffff:%s", lip_text);
	if (*lip_text && inet_pton(AF_INET6, mapped, &lip) != 1) {
		fprintf(stderr, "peer-hammer: -L %s is not an address\n", lip_text);
		return 2;
	}
	signal(SIGUSR1, on_usr1);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024)) {
		perror("peer-hammer: listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		c = accept(fd, NULL, NULL);
		if (c < 0) {
			perror("peer-hammer: accept");
			return 1;
		}
		if (pthread_create(&t, &attr, *lip_text ? hammer : answer, (void *)(long)c)) {
			perror("peer-hammer: thread");
			return 1;
		}
		pthread_detach(t);
		if (*lip_text)
			printf("accepted %d\n", ++n);
	}
}

static int client(const char *addr, int port, int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) }, local;
	int *fds = calloc(count, sizeof(int)), i, fail = 0;
	char line[512], text[INET_ADDRSTRLEN];
	socklen_t len;
	ssize_t got;

	if (!fds || inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "peer-hammer: -c wants an IPv4 address\n");
		return 2;
	}
	for (i = 0; i < count; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)) || write(fds[i], "go\n", 3) != 3) {
			perror("peer-hammer: connect");
			return 1;
		}
	}
	printf("connected %d\n", count);
	fflush(stdout);
	for (i = 0; i < count; i++) {
		len = sizeof(local);
		getsockname(fds[i], (struct sockaddr *)&local, &len);
		inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text));
		got = read(fds[i], line, sizeof(line) - 1);
		if (got <= 0) {
			fprintf(stderr, "peer-hammer: no answer on connection %d\n", i);
			fail = 1;
			continue;
		}
		line[got] = 0;
		line[strcspn(line, "\n")] = 0;
		printf("local %s %u got %s\n", text, ntohs(local.sin_port), line);
		close(fds[i]);
	}
	return fail;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *lip_text = NULL;
	int ch, port = 0, count = 1, srv = 0;

	while ((ch = getopt(argc, argv, "sac:p:n:L:")) != -1) {
		switch (ch) {
		case 's': srv = 1; break;
		case 'a': srv = 1; lip_text = ""; break;
		case 'c': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		case 'L': lip_text = optarg; break;
		default: goto usage;
		}
	}
	if (port <= 0 || port > 65535 || count <= 0 || (srv ? !lip_text : !addr))
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	return srv ? server(port, lip_text) : client(addr, port, count);
usage:
	fprintf(stderr, "usage: peer-hammer -s -p PORT -L LIP | peer-hammer -a -p PORT | peer-hammer -c ADDR -p PORT [-n COUNT]\n");
	return 2;
}

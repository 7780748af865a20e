// SPDX-License-Identifier: GPL-2.0-only
/*
 * toa-send: one TCP connection made by hand over a raw socket, so tests can
 * put any TCP options (a TOA a director would write, a forged or malformed
 * one) into the handshake-completing ACK and/or the first data segment.
 *
 *   toa-send -s SRC -d DST -p PORT [-l LPORT] [-o HEX] [-w ack|data|both]
 *            [-O HEX] [-r REQUEST] [-t TIMEOUT_MS] [-n COUNT [-P PROCS]]
 *
 * -o is the raw options bytes in hex (e.g. fe08 0050 c6336400 for a v4 TOA),
 * padded with NOPs to a multiple of 4. -O gives the first data segment other
 * options than the ACK's (with -w ack: the ACK gets -o, the data segment -O). The kernel of the sending host would
 * answer the server's SYN-ACK with a RST (it knows no such socket): the
 * caller drops outgoing RSTs that lack mark 0x544f (this tool's own carry it).
 * Prints what the server sent back; exit 1 on failure with a message.
 *
 * With -n COUNT (IPv4 only) it makes COUNT connections one after another from
 * local ports LPORT.., each carrying a v4 TOA for its own made-up client
 * 198.51.100.(20 + i % 200):(1024 + i), and prints per connection a line
 * "want ADDR PORT got BODY" (the body's line breaks removed) for the caller
 * to compare: a test of cross-talk between many connections. -P spreads them
 * over that many processes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARK 0x544f

struct conn {
	int fd, v6;
	struct sockaddr_storage src, dst;
	uint16_t sport, dport;
	uint32_t snd_nxt, rcv_nxt;
};

static void die(const char *what)
{
	fprintf(stderr, "toa-send: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint32_t sum16(const void *p, size_t n, uint32_t s)
{
	const uint8_t *b = p;

	for (; n > 1; n -= 2, b += 2)
		s += (uint32_t)b[0] << 8 | b[1];
	if (n)
		s += (uint32_t)b[0] << 8;
	return s;
}

static uint16_t tcp_csum(const struct conn *c, const uint8_t *seg, size_t len)
{
	uint32_t s = 0;
	uint8_t tail[8] = { 0 };

	if (c->v6) {
		s = sum16(&((struct sockaddr_in6 *)&c->src)->sin6_addr, 16, s);
		s = sum16(&((struct sockaddr_in6 *)&c->dst)->sin6_addr, 16, s);
		tail[2] = len >> 8, tail[3] = len, tail[7] = IPPROTO_TCP;
		s = sum16(tail, 8, s);
	} else {
		s = sum16(&((struct sockaddr_in *)&c->src)->sin_addr, 4, s);
		s = sum16(&((struct sockaddr_in *)&c->dst)->sin_addr, 4, s);
		tail[1] = IPPROTO_TCP, tail[2] = len >> 8, tail[3] = len;
		s = sum16(tail, 4, s);
	}
	s = sum16(seg, len, s);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons(~s & 0xffff);
}

static void send_seg(struct conn *c, uint8_t flags, const uint8_t *opt, size_t optlen,
		     const void *data, size_t dlen)
{
	uint8_t seg[1500] = { 0 };
	struct tcphdr *th = (struct tcphdr *)seg;
	size_t hl = sizeof(*th) + optlen, len = hl + dlen;

	th->source = htons(c->sport);
	th->dest = htons(c->dport);
	th->seq = htonl(c->snd_nxt);
	th->ack_seq = htonl(c->rcv_nxt);
	th->doff = hl / 4;
	((uint8_t *)th)[13] = flags;
	th->window = htons(65535);
	memcpy(seg + sizeof(*th), opt, optlen);
	memcpy(seg + hl, data, dlen);
	th->check = tcp_csum(c, seg, len);
	if (sendto(c->fd, seg, len, 0, (struct sockaddr *)&c->dst,
		   c->v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0)
		die("sendto");
	c->snd_nxt += dlen + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
}

/* Next segment of this connection; NULL on timeout. */
static const struct tcphdr *recv_seg(struct conn *c, uint8_t *buf, size_t size, int ms, size_t *dlen)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	while (poll(&p, 1, ms) > 0) {
		ssize_t n = recv(c->fd, buf, size, 0);
		size_t ihl = 0;
		const struct tcphdr *th;

		if (n < 0)
			die("recv");
		if (!c->v6)	/* IPv4 raw sockets deliver the IP header too */
			ihl = (buf[0] & 0xf) * 4;
		if ((size_t)n < ihl + sizeof(*th))
			continue;
		th = (const struct tcphdr *)(buf + ihl);
		if (ntohs(th->source) != c->dport || ntohs(th->dest) != c->sport)
			continue;
		*dlen = n - ihl - th->doff * 4;
		return th;
	}
	return NULL;
}

static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		return 1;
	}
	fprintf(stderr, "toa-send: \"%s\" is not an IPv4 or IPv6 address\n", s);
	exit(2);
}

static size_t parse_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	unsigned int b;

	for (; *s; ) {
		if (*s == ' ' || *s == ':') {
			s++;
			continue;
		}
		if (n == max || sscanf(s, "%2x", &b) != 1 || !s[1]) {
			fprintf(stderr, "toa-send: bad or too long option hex near \"%s\"\n", s);
			exit(2);
		}
		out[n++] = b;
		s += 2;
	}
	while (n % 4)
		out[n++] = 1;	/* NOP */
	if (n > 40) {
		fprintf(stderr, "toa-send: options longer than 40 bytes\n");
		exit(2);
	}
	return n;
}

struct opts {
	const char *where, *req;
	int timeout;
	const uint8_t *dopt;	/* -O: the data segment's options, else NULL */
	size_t doptlen;
};

/* One connection from c->sport; the answer goes to out. Returns 0 or 1 with a message. */
static int one_conn(struct conn *c, const uint8_t *opt, size_t optlen, const struct opts *o, FILE *out)
{
	uint8_t buf[65536], mss[4] = { 2, 4, 0x05, 0x78 };	/* MSS 1400 */
	const struct tcphdr *th;
	struct timespec ts;
	size_t dlen;
	int fin = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->snd_nxt = (uint32_t)ts.tv_nsec * 2654435761u;
	c->rcv_nxt = 0;
	send_seg(c, TH_SYN, mss, sizeof(mss), NULL, 0);
	for (;;) {
		th = recv_seg(c, buf, sizeof(buf), o->timeout, &dlen);
		if (!th) {
			fprintf(stderr, "toa-send: no SYN-ACK within %d ms (port %u)\n", o->timeout, c->sport);
			return 1;
		}
		if (th->syn && th->ack)
			break;
		if (th->rst) {
			fprintf(stderr, "toa-send: connection refused (RST)\n");
			return 1;
		}
	}
	c->rcv_nxt = ntohl(th->seq) + 1;
	if (strcmp(o->where, "data"))
		send_seg(c, TH_ACK, opt, optlen, NULL, 0);
	else
		send_seg(c, TH_ACK, NULL, 0, NULL, 0);
	if (*o->req && o->dopt)	/* -r '' for servers that speak first */
		send_seg(c, TH_ACK | TH_PUSH, o->dopt, o->doptlen, o->req, strlen(o->req));
	else if (*o->req)
		send_seg(c, TH_ACK | TH_PUSH, strcmp(o->where, "ack") ? opt : NULL, strcmp(o->where, "ack") ? optlen : 0,
			 o->req, strlen(o->req));

	/* Collect the answer in order until the server's FIN. */
	while (!fin && (th = recv_seg(c, buf, sizeof(buf), o->timeout, &dlen))) {
		const uint8_t *data = (const uint8_t *)th + th->doff * 4;

		if (th->rst) {
			fprintf(stderr, "toa-send: reset by the server\n");
			return 1;
		}
		if (ntohl(th->seq) != c->rcv_nxt)
			continue;	/* out of order or repeated: the server will send it again */
		fwrite(data, 1, dlen, out);
		c->rcv_nxt += dlen;
		if (th->fin) {
			c->rcv_nxt++;
			fin = 1;
		}
		send_seg(c, TH_ACK, NULL, 0, NULL, 0);
	}
	send_seg(c, TH_RST | TH_ACK, NULL, 0, NULL, 0);
	if (!fin) {
		fprintf(stderr, "toa-send: the server did not finish within %d ms (port %u)\n", o->timeout, c->sport);
		return 1;
	}
	return 0;
}

/* -n: many connections, each with its own v4 TOA client; this process takes every procs-th from first. */
static int many(struct conn *c, int first, int n, int procs, const struct opts *o)
{
	static char body[65536];
	uint8_t opt[8] = { 254, 8 };
	uint16_t base = c->sport;
	int i;

	for (i = first; i < n; i += procs) {
		FILE *mem = fmemopen(body, sizeof(body) - 1, "w");
		uint16_t port = 1024 + i;
		char *p;
		long len;

		opt[2] = port >> 8, opt[3] = port;
		opt[4] = 198, opt[5] = 51, opt[6] = 100, opt[7] = 20 + i % 200;
		c->sport = base + i;
		if (!mem)
			die("fmemopen");
		if (one_conn(c, opt, sizeof(opt), o, mem)) {
			fclose(mem);
			return 1;
		}
		len = ftell(mem);
		fclose(mem);
		body[len] = 0;
		for (p = body; *p; p++)
			if (*p == '\r' || *p == '\n')
				*p = ' ';
		printf("want ::ffff:198.51.100.%d %u got %s\n", 20 + i % 200, port, body);
	}
	return 0;
}

static int open_raw(struct conn *c)
{
	int mark = MARK;

	c->fd = socket(c->v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_TCP);
	if (c->fd < 0)
		die("raw socket (needs root)");
	if (setsockopt(c->fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		die("SO_MARK");
	if (bind(c->fd, (struct sockaddr *)&c->src, c->v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0)
		die("bind to -s");
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { "ack", "GET / HTTP/1.0\r\nHost: toa\r\n\r\n", 5000, NULL, 0 };
	const char *src = NULL, *dst = NULL;
	uint8_t opt[64], dopt[64];
	size_t optlen = 0;
	struct conn c = { 0 };
	int ch, n = 0, procs = 1;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	c.sport = 40000 + (getpid() ^ ts.tv_nsec) % 1000;
	while ((ch = getopt(argc, argv, "s:d:p:l:o:O:w:r:t:n:P:")) != -1) {
		switch (ch) {
		case 's': src = optarg; break;
		case 'd': dst = optarg; break;
		case 'p': c.dport = atoi(optarg); break;
		case 'l': c.sport = atoi(optarg); break;
		case 'o': optlen = parse_hex(optarg, opt, sizeof(opt) - 4); break;
		case 'O': o.doptlen = parse_hex(optarg, dopt, sizeof(dopt) - 4); o.dopt = dopt; break;
		case 'w': o.where = optarg; break;
		case 'r': o.req = optarg; break;
		case 't': o.timeout = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'P': procs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: toa-send -s SRC -d DST -p PORT [-l LPORT] [-o HEX] [-w ack|data|both] [-O HEX] [-r REQUEST] [-t MS] [-n COUNT [-P PROCS]]\n");
			return 2;
		}
	}
	if (!src || !dst || !c.dport || (strcmp(o.where, "ack") && strcmp(o.where, "data") && strcmp(o.where, "both"))) {
		fprintf(stderr, "toa-send: -s, -d and -p are required; -w is ack, data or both\n");
		return 2;
	}
	c.v6 = parse_addr(src, &c.src);
	if (parse_addr(dst, &c.dst) != c.v6) {
		fprintf(stderr, "toa-send: -s and -d must be the same family\n");
		return 2;
	}
	if (n < 0 || procs < 1 || procs > 64 || (n && (c.v6 || c.sport + n > 65536))) {
		fprintf(stderr, "toa-send: -n wants IPv4, -P 1..64 and local ports -l .. -l+n-1 within 65535\n");
		return 2;
	}
	if (n) {
		int k, status, fail = 0;

		setvbuf(stdout, NULL, _IOLBF, 0);	/* whole lines: the processes share stdout */
		/* A raw socket per process: a shared one would hand each segment to just one of them. */
		for (k = 1; k < procs; k++)
			if (fork() == 0)
				return open_raw(&c) || many(&c, k, n, procs, &o);
		fail = open_raw(&c) || many(&c, 0, n, procs, &o);
		while (wait(&status) > 0)
			fail |= !WIFEXITED(status) || WEXITSTATUS(status);
		return fail;
	}
	return open_raw(&c) || one_conn(&c, opt, optlen, &o, stdout);
}

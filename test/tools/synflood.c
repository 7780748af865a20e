// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * synflood: a bounded spoofed SYN flood for the lab, over a raw socket.
 *
 *   synflood --dst ADDR --port N --src ADDR [--src ADDR...] [--count N] [--seconds S]
 *
 * Sends SYNs (MSS, SACK permitted, Timestamps, Window scale: what Linux
 * sends, so SYNPROXY treats them as it would a real client's) from the
 * given source addresses in turn, with random source ports and sequence
 * numbers, as fast as one core allows, until --count SYNs (default
 * 1000000) or --seconds (default 5) run out, whichever comes first. Never
 * unbounded: both limits are capped (10^8 SYNs, 60 s). All sources and the
 * destination must be one family.
 *
 * Prints one JSON line: {"sent": N, "seconds": S, "rate": SYNs per second}.
 * Needs CAP_NET_RAW in the sending network namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SRC		256
#define BATCH		64
#define OPT_LEN		20

struct pseudo6 {
	struct in6_addr src, dst;
	uint32_t len;
	uint8_t zero[3], nh;
};

static uint32_t sum16(const void *p, size_t n, uint32_t s)
{
	const uint8_t *b = p;

	for (; n > 1; n -= 2, b += 2)
		s += (b[0] << 8) | b[1];
	if (n)
		s += b[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons(~s & 0xffff);
}

static uint64_t xs = 88172645463325252ull;

static uint32_t rnd(void)
{
	xs ^= xs << 13;
	xs ^= xs >> 7;
	xs ^= xs << 17;
	return xs >> 16;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: synflood --dst ADDR --port N --src ADDR [--src ADDR...] [--count N] [--seconds S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dst", required_argument, NULL, 'd' }, { "port", required_argument, NULL, 'p' },
		{ "src", required_argument, NULL, 's' }, { "count", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' }, {},
	};
	struct in6_addr src6[MAX_SRC], dst6;
	struct in_addr src4[MAX_SRC], dst4;
	int nsrc = 0, family = 0, fam, port = 0, fd, c, i;
	unsigned long long count = 1000000, sent = 0;
	double seconds = 5, start, elapsed;
	const char *dst = NULL;
	static uint8_t pkts[BATCH][sizeof(struct ip6_hdr) + sizeof(struct tcphdr) + OPT_LEN];
	struct sockaddr_in6 to6[BATCH];
	struct sockaddr_in to4[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dst = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 's':
			if (nsrc >= MAX_SRC)
				usage();
			fam = strchr(optarg, ':') ? AF_INET6 : AF_INET;
			if ((family && fam != family) ||
			    inet_pton(fam, optarg, fam == AF_INET6 ? (void *)&src6[nsrc] : (void *)&src4[nsrc]) != 1) {
				fprintf(stderr, "synflood: bad --src '%s' (one family for all)\n", optarg);
				return 2;
			}
			family = fam;
			nsrc++;
			break;
		case 'c': count = strtoull(optarg, NULL, 10); break;
		case 't': seconds = atof(optarg); break;
		default: usage();
		}
	}
	if (!dst || !nsrc || port <= 0 || port > 65535 || !count || count > 100000000ull || seconds <= 0 || seconds > 60)
		usage();
	if (inet_pton(family, dst, family == AF_INET6 ? (void *)&dst6 : (void *)&dst4) != 1) {
		fprintf(stderr, "synflood: bad --dst '%s' (the sources' family)\n", dst);
		return 2;
	}
	/* IPPROTO_RAW: we write the IP header too (IPv6 included, on Linux). */
	fd = socket(family, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		fprintf(stderr, "synflood: raw socket: %s\n", strerror(errno));
		return 1;
	}
	xs ^= (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	memset(msgs, 0, sizeof(msgs));
	start = now();
	while (sent < count && (elapsed = now() - start) < seconds) {
		int n = count - sent < BATCH ? (int)(count - sent) : BATCH, s;

		for (i = 0; i < n; i++) {
			uint8_t *p = pkts[i], *o;
			size_t ipl = family == AF_INET6 ? sizeof(struct ip6_hdr) : sizeof(struct ip);
			struct tcphdr *th = (struct tcphdr *)(p + ipl);
			uint32_t ts = rnd(), sum;
			int k = (sent + i) % nsrc;

			memset(p, 0, sizeof(pkts[i]));
			th->source = htons(1024 + rnd() % 64000);
			th->dest = htons(port);
			th->seq = htonl(rnd() << 16 ^ rnd());
			th->doff = (sizeof(*th) + OPT_LEN) / 4;
			th->syn = 1;
			th->window = htons(64240);
			o = (uint8_t *)(th + 1);
			/* MSS 1460, SACK permitted, Timestamps, NOP, Window scale 7 */
			memcpy(o, "\x02\x04\x05\xb4\x04\x02\x08\x0a", 8);
			memcpy(o + 8, &ts, 4);
			memcpy(o + 16, "\x01\x03\x03\x07", 4);
			if (family == AF_INET6) {
				struct ip6_hdr *ip6 = (struct ip6_hdr *)p;
				struct pseudo6 ph = { .src = src6[k], .dst = dst6, .len = htonl(sizeof(*th) + OPT_LEN), .nh = IPPROTO_TCP };

				ip6->ip6_flow = htonl(6u << 28);
				ip6->ip6_plen = htons(sizeof(*th) + OPT_LEN);
				ip6->ip6_nxt = IPPROTO_TCP;
				ip6->ip6_hlim = 64;
				ip6->ip6_src = src6[k];
				ip6->ip6_dst = dst6;
				sum = sum16(&ph, sizeof(ph), 0);
				to6[i] = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_addr = dst6 };
				msgs[i].msg_hdr.msg_name = &to6[i];
				msgs[i].msg_hdr.msg_namelen = sizeof(to6[i]);
			} else {
				struct ip *ip = (struct ip *)p;
				uint8_t ph[12];

				ip->ip_v = 4;
				ip->ip_hl = 5;
				ip->ip_len = htons(ipl + sizeof(*th) + OPT_LEN);
				ip->ip_ttl = 64;
				ip->ip_p = IPPROTO_TCP;
				ip->ip_src = src4[k];
				ip->ip_dst = dst4;	/* the kernel fills id and the header sum */
				memcpy(ph, &src4[k], 4);
				memcpy(ph + 4, &dst4, 4);
				ph[8] = 0;
				ph[9] = IPPROTO_TCP;
				ph[10] = 0;
				ph[11] = sizeof(*th) + OPT_LEN;
				sum = sum16(ph, sizeof(ph), 0);
				to4[i] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = dst4 };
				msgs[i].msg_hdr.msg_name = &to4[i];
				msgs[i].msg_hdr.msg_namelen = sizeof(to4[i]);
			}
			th->check = fold(sum16(th, sizeof(*th) + OPT_LEN, sum));
			iov[i].iov_base = p;
			iov[i].iov_len = ipl + sizeof(*th) + OPT_LEN;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		s = sendmmsg(fd, msgs, n, 0);
		if (s < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				usleep(100);
				continue;
			}
			fprintf(stderr, "synflood: sendmmsg: %s\n", strerror(errno));
			return 1;
		}
		sent += s;
	}
	elapsed = now() - start;
	printf("{\"sent\": %llu, \"seconds\": %.3f, \"rate\": %.0f}\n", sent, elapsed, sent / elapsed);
	close(fd);
	return 0;
}

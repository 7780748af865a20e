// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * toa-bpf doctor: a short look at the wire. Which sources send segments to
 * the app's port, and which TOA dialects they carry, tell "the director is
 * not writing" from "its LIP is not trusted" from "its dialect is not
 * accepted", which the real server's counters cannot (an option of a
 * dialect not accepted is not TOA to the parser).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "toa/toa_wire.h"
#include "doctor.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* TOA_BIT() of the TOA dialects among a segment's options (every dialect counted, accepted or not). */
static __u32 toa_dialects(const __u8 *opt, unsigned int len)
{
	unsigned int i = 0;
	__u32 bits = 0;
	int d;

	while (i < len) {
		if (opt[i] == 0)
			break;
		if (opt[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len)
			break;
		d = toa_dialect_of(opt[i], opt[i + 1], ~0u);
		if (d > TOA_D_NONE)
			bits |= TOA_BIT(d);
		i += opt[i + 1];
	}
	return bits;
}

static void account(struct sniff *s, __u8 family, const void *addr, __u32 dialects)
{
	struct sniff_source *src = NULL;
	int i;

	for (i = 0; i < s->nsrc; i++)
		if (s->src[i].family == family && !memcmp(s->src[i].addr, addr, family == TOA_FAMILY_V4 ? 4 : 16))
			src = &s->src[i];
	if (!src) {
		if (s->nsrc == SNIFF_SOURCES)
			return;
		src = &s->src[s->nsrc++];
		memset(src, 0, sizeof(*src));
		src->family = family;
		memcpy(src->addr, addr, family == TOA_FAMILY_V4 ? 4 : 16);
	}
	s->segments++;
	src->segments++;
	if (dialects) {
		src->toa++;
		src->dialects |= dialects;
	}
}

/* One IPv4 or IPv6 packet (no extension headers: the director writes none). */
static void segment(struct sniff *s, const __u8 *p, unsigned int len, unsigned int port)
{
	const struct tcphdr *th;
	unsigned int off;
	__u8 family;
	const void *src;

	if (len >= sizeof(struct iphdr) && (p[0] >> 4) == 4) {
		const struct iphdr *ip = (const void *)p;

		if (ip->protocol != IPPROTO_TCP || (ntohs(ip->frag_off) & 0x3fff))
			return;
		off = ip->ihl * 4;
		family = TOA_FAMILY_V4;
		src = &ip->saddr;
	} else if (len >= sizeof(struct ip6_hdr) && (p[0] >> 4) == 6) {
		const struct ip6_hdr *ip6 = (const void *)p;

		if (ip6->ip6_nxt != IPPROTO_TCP)
			return;
		off = sizeof(*ip6);
		family = TOA_FAMILY_V6;
		src = &ip6->ip6_src;
	} else {
		return;
	}
	if (len < off + sizeof(*th))
		return;
	th = (const void *)(p + off);
	if (ntohs(th->dest) != port || th->syn || th->doff * 4 < sizeof(*th) || len < off + th->doff * 4)
		return;
	account(s, family, src, toa_dialects(p + off + sizeof(*th), th->doff * 4 - sizeof(*th)));
}

int doctor_sniff(unsigned int port, unsigned int ms, struct sniff *out)
{
	__u8 buf[2048];
	struct sockaddr_ll from;
	socklen_t fl;
	long end = now_ms() + ms, left;
	int fd, err = 0;

	memset(out, 0, sizeof(*out));
	/* Cooked (SOCK_DGRAM): packets start at the network header on every link type. */
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	while ((left = end - now_ms()) > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, left) <= 0)
			continue;
		fl = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		segment(out, buf, n, port);
	}
	close(fd);
	return err;
}

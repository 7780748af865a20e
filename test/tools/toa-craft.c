// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * toa-craft: a TCP client whose segments carry TCP option bytes you choose,
 * for testing TOA readers and writers with real packets (including shapes no
 * well-behaved stack would send: malformed TOA, several TOA, IPv6 TOA on IPv4).
 *
 *   toa-craft [OPTIONS] ADDR PORT
 *
 * It does the handshake itself over a raw socket, sends one request (default
 * an HTTP/1.0 GET), prints the response bytes on stdout and closes with FIN.
 * The local kernel knows nothing of this connection and would answer the
 * SYN-ACK with a RST, so toa-craft installs a one-rule nftables table for its
 * own source port (table inet toa_craft_PID) and deletes it on exit.
 *
 * Options:
 *   --src ADDR         source address (default: the route's choice for ADDR)
 *   --sport N          source port (default: random in 20000..32767)
 *   --syn-opts HEX     options of the SYN (default 020405b4: MSS 1460; "" for none)
 *   --ack-opts HEX     options of the ACK that completes the handshake
 *   --data-opts HEX    options of the first data segment (and its retransmissions)
 *   --no-ack           send no bare ACK: the first data segment completes the handshake
 *   --lead N           before the request, N segments of "\r\n" without options (HTTP
 *                      servers skip empty lines before a request line), each sent once:
 *                      the request and its --data-opts come as data segment N + 1
 *   --path PATH        GET this path (default /)
 *   --request TEXT     send TEXT instead of the GET (\r \n \t \\ escapes)
 *   --timeout MS       give up after MS milliseconds (default 5000)
 *   --no-rst-filter    do not install the nftables rule (the caller drops the RSTs)
 *   -v, --verbose      log every segment on stderr
 *
 * HEX is option bytes in hex, whitespace or colons allowed ("fe08 1f90 c6336401").
 * Up to 40 bytes; when not a multiple of 4 it is padded with NOPs in FRONT, so the
 * bytes keep their meaning at the end of the header (a truncated option stays truncated).
 *
 * Exit: 0 when the server answered and closed, 1 on RST, timeout or a system
 * error, 2 on a usage error. Needs root (raw sockets, nftables), in the sending
 * namespace.
 *
 * Example (TOA v4 for 198.51.100.10:40000 on the handshake ACK):
 *   toa-craft --ack-opts fe089c40c633640a 192.0.2.10 80
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OPT_MAX		40
#define RESP_MAX	(4 << 20)

struct opts {
	uint8_t b[OPT_MAX];
	int len;
};

static struct {
	int family;
	union { struct sockaddr_in v4; struct sockaddr_in6 v6; } dst, src;
	uint8_t daddr[16], saddr[16];
	uint16_t dport, sport;
	struct opts syn, ack, data;
	bool no_ack, rst_filter, verbose;
	int lead;
	const char *request, *path;
	char *req_buf;
	int timeout_ms;
} cfg = { .rst_filter = true, .timeout_ms = 5000, .path = "/",
	  .syn = { .b = { 2, 4, 0x05, 0xb4 }, .len = 4 } };

static char nft_table[64];
static volatile sig_atomic_t nft_installed;

static __attribute__((noreturn, format(printf, 1, 2))) void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "toa-craft: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: toa-craft [--src ADDR] [--sport N] [--syn-opts HEX] [--ack-opts HEX] "
		"[--data-opts HEX] [--no-ack] [--lead N] [--path PATH | --request TEXT] [--timeout MS] [-v] ADDR PORT\n");
	exit(2);
}

static void vlog(const char *fmt, ...)
{
	va_list ap;

	if (!cfg.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ---- option bytes -------------------------------------------------------- */

static void parse_hex(const char *name, const char *s, struct opts *o)
{
	uint8_t raw[OPT_MAX];
	int n = 0, hi = -1, pad;

	for (; *s; s++) {
		int v;

		if (*s == ' ' || *s == ':' || *s == '\t' || *s == '\n')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			v = (*s | 0x20) - 'a' + 10;
		else
			die_usage("%s: '%c' is not a hex digit", name, *s);
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == OPT_MAX)
			die_usage("%s: more than %d bytes (a TCP header holds at most 40 option bytes)", name, OPT_MAX);
		raw[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		die_usage("%s: odd number of hex digits", name);
	pad = (4 - n % 4) % 4;
	if (n + pad > OPT_MAX)
		die_usage("%s: %d bytes need %d NOPs of padding, which do not fit in 40", name, n, pad);
	memset(o->b, 1, pad);	/* NOPs in front keep the given bytes at the header's end */
	memcpy(o->b + pad, raw, n);
	o->len = n + pad;
}

/* "\r\n" and friends in --request, so a shell argument can hold a whole request. */
static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *p = out;

	if (!out)
		exit(1);
	for (; *s; s++) {
		if (*s != '\\' || !s[1]) {
			*p++ = *s;
			continue;
		}
		s++;
		*p++ = *s == 'r' ? '\r' : *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
	}
	*p = '\0';
	return out;
}

/* ---- nftables: keep the local kernel from resetting our connection -------- */

static int run_nft(const char *script)
{
	int fds[2], status;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execlp("nft", "nft", "-f", "-", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	if (write(fds[1], script, strlen(script)) < 0)
		status = -1;
	close(fds[1]);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void nft_remove(void)
{
	char script[128];

	if (!nft_installed)
		return;
	nft_installed = 0;
	snprintf(script, sizeof(script), "delete table inet %s\n", nft_table);
	run_nft(script);
}

static void on_signal(int sig)
{
	nft_remove();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void nft_install(void)
{
	char script[512];

	snprintf(nft_table, sizeof(nft_table), "toa_craft_%d", (int)getpid());
	snprintf(script, sizeof(script),
		 "table inet %s {\n"
		 "  chain out {\n"
		 "    type filter hook output priority 0;\n"
		 "    tcp sport %u tcp flags & rst == rst drop\n"
		 "  }\n"
		 "}\n", nft_table, cfg.sport);
	if (run_nft(script)) {
		fprintf(stderr, "toa-craft: installing the nftables rule that drops the kernel's RSTs failed "
			"(is nft installed, are we root?)\n");
		exit(1);
	}
	nft_installed = 1;
	atexit(nft_remove);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
}

/* ---- segments ------------------------------------------------------------- */

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t tcp_csum(const uint8_t *seg, size_t len)
{
	int alen = cfg.family == AF_INET ? 4 : 16;
	uint8_t tail[8] = { 0 };
	uint32_t sum = 0;

	sum = csum_add(sum, cfg.saddr, alen);
	sum = csum_add(sum, cfg.daddr, alen);
	if (cfg.family == AF_INET) {
		tail[1] = IPPROTO_TCP;
		tail[2] = len >> 8;
		tail[3] = len & 0xff;
		sum = csum_add(sum, tail, 4);
	} else {
		tail[2] = len >> 8;
		tail[3] = len & 0xff;
		tail[7] = IPPROTO_TCP;
		sum = csum_add(sum, tail, 8);
	}
	sum = csum_add(sum, seg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static void hexdump(const uint8_t *p, int n)
{
	int i;

	for (i = 0; i < n; i++)
		vlog("%02x", p[i]);
}

static void send_seg(int fd, uint8_t flags, uint32_t seq, uint32_t ack, const struct opts *o,
		     const void *payload, size_t plen)
{
	uint8_t seg[20 + OPT_MAX + 1400];
	int olen = o ? o->len : 0;
	size_t len = 20 + olen + plen;
	uint16_t sum;

	memset(seg, 0, 20);
	put16(seg, cfg.sport);
	put16(seg + 2, cfg.dport);
	put32(seg + 4, seq);
	put32(seg + 8, ack);
	seg[12] = (uint8_t)((20 + olen) / 4) << 4;
	seg[13] = flags;
	put16(seg + 14, 65535);
	if (olen)
		memcpy(seg + 20, o->b, olen);
	if (plen)
		memcpy(seg + 20 + olen, payload, plen);
	sum = tcp_csum(seg, len);
	put16(seg + 16, sum);
	if (sendto(fd, seg, len, 0, (struct sockaddr *)&cfg.dst,
		   cfg.family == AF_INET ? sizeof(cfg.dst.v4) : sizeof(cfg.dst.v6)) < 0) {
		fprintf(stderr, "toa-craft: sending a segment failed: %s\n", strerror(errno));
		exit(1);
	}
	vlog("-> flags=%02x seq=%u ack=%u len=%zu opts=", flags, seq, ack, plen);
	if (olen)
		hexdump(o->b, olen);
	vlog("\n");
}

struct seg {
	uint8_t flags;
	uint32_t seq, ack;
	const uint8_t *payload;
	size_t plen;
};

/* Waits for a segment of our connection until deadline (ms since epoch); 0, or -1 on timeout. */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int recv_seg(int fd, long long until, uint8_t *buf, size_t size, struct seg *s)
{
	for (;;) {
		union { struct sockaddr_in v4; struct sockaddr_in6 v6; } from;
		socklen_t flen = sizeof(from);
		long long left = until - now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		const uint8_t *th;
		ssize_t n;
		size_t off = 0, hl;

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recvfrom(fd, buf, size, 0, (struct sockaddr *)&from, &flen);
		if (n <= 0)
			continue;
		if (cfg.family == AF_INET) {
			/* IPv4 raw sockets deliver the IP header too. */
			if (n < 20 || memcmp(buf + 12, cfg.daddr, 4) || memcmp(buf + 16, cfg.saddr, 4))
				continue;
			off = (buf[0] & 0x0f) * 4;
		} else if (memcmp(&from.v6.sin6_addr, cfg.daddr, 16)) {
			continue;
		}
		if ((size_t)n < off + 20)
			continue;
		th = buf + off;
		if (get16(th) != cfg.dport || get16(th + 2) != cfg.sport)
			continue;
		hl = (th[12] >> 4) * 4;
		if (hl < 20 || (size_t)n < off + hl)
			continue;
		s->flags = th[13];
		s->seq = get32(th + 4);
		s->ack = get32(th + 8);
		s->payload = th + hl;
		s->plen = n - off - hl;
		vlog("<- flags=%02x seq=%u ack=%u len=%zu\n", s->flags, s->seq, s->ack, s->plen);
		return 0;
	}
}

/* ---- setup ---------------------------------------------------------------- */

static void resolve(const char *addr, const char *port)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);

	if (!*port || *end || p < 1 || p > 65535)
		die_usage("bad port '%s'", port);
	cfg.dport = (uint16_t)p;
	if (inet_pton(AF_INET, addr, cfg.daddr) == 1) {
		cfg.family = AF_INET;
		cfg.dst.v4.sin_family = AF_INET;
		memcpy(&cfg.dst.v4.sin_addr, cfg.daddr, 4);
	} else if (inet_pton(AF_INET6, addr, cfg.daddr) == 1) {
		cfg.family = AF_INET6;
		cfg.dst.v6.sin6_family = AF_INET6;
		memcpy(&cfg.dst.v6.sin6_addr, cfg.daddr, 16);
	} else {
		die_usage("'%s' is not an IPv4 or IPv6 address", addr);
	}
}

static void pick_source(const char *src)
{
	socklen_t len = sizeof(cfg.src);
	int fd;

	if (src) {
		if (inet_pton(cfg.family, src, cfg.saddr) != 1)
			die_usage("--src '%s' is not an %s address like the destination", src,
				  cfg.family == AF_INET ? "IPv4" : "IPv6");
	} else {
		/* A connected UDP socket tells which source the route would use. */
		fd = socket(cfg.family, SOCK_DGRAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&cfg.dst,
				      cfg.family == AF_INET ? sizeof(cfg.dst.v4) : sizeof(cfg.dst.v6)) ||
		    getsockname(fd, (struct sockaddr *)&cfg.src, &len)) {
			fprintf(stderr, "toa-craft: no route to the destination: %s\n", strerror(errno));
			exit(1);
		}
		close(fd);
		if (cfg.family == AF_INET)
			memcpy(cfg.saddr, &cfg.src.v4.sin_addr, 4);
		else
			memcpy(cfg.saddr, &cfg.src.v6.sin6_addr, 16);
	}
	memset(&cfg.src, 0, sizeof(cfg.src));
	if (cfg.family == AF_INET) {
		cfg.src.v4.sin_family = AF_INET;
		memcpy(&cfg.src.v4.sin_addr, cfg.saddr, 4);
	} else {
		cfg.src.v6.sin6_family = AF_INET6;
		memcpy(&cfg.src.v6.sin6_addr, cfg.saddr, 16);
	}
}

static int open_raw(void)
{
	int fd = socket(cfg.family, SOCK_RAW, IPPROTO_TCP);

	if (fd < 0) {
		fprintf(stderr, "toa-craft: raw socket: %s (needs root / CAP_NET_RAW)\n", strerror(errno));
		exit(1);
	}
	/* Bound to the source: the kernel then uses it, and we only see segments sent to it. */
	if (bind(fd, (struct sockaddr *)&cfg.src, cfg.family == AF_INET ? sizeof(cfg.src.v4) : sizeof(cfg.src.v6))) {
		fprintf(stderr, "toa-craft: binding the raw socket to the source address failed: %s\n",
			strerror(errno));
		exit(1);
	}
	return fd;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "src", required_argument, NULL, 's' },
		{ "sport", required_argument, NULL, 'P' },
		{ "syn-opts", required_argument, NULL, 'S' },
		{ "ack-opts", required_argument, NULL, 'A' },
		{ "data-opts", required_argument, NULL, 'D' },
		{ "no-ack", no_argument, NULL, 'n' },
		{ "lead", required_argument, NULL, 'L' },
		{ "path", required_argument, NULL, 'p' },
		{ "request", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-rst-filter", no_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *src = NULL;
	bool ack_given = false;
	unsigned long v;
	char *end;
	int o;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":vh", lo, NULL)) != -1) {
		switch (o) {
		case 's': src = optarg; break;
		case 'P':
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v < 1 || v > 65535)
				die_usage("bad --sport '%s'", optarg);
			cfg.sport = (uint16_t)v;
			break;
		case 'S': parse_hex("--syn-opts", optarg, &cfg.syn); break;
		case 'A': parse_hex("--ack-opts", optarg, &cfg.ack); ack_given = true; break;
		case 'D': parse_hex("--data-opts", optarg, &cfg.data); break;
		case 'n': cfg.no_ack = true; break;
		case 'L':
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 1000)
				die_usage("bad --lead '%s' (0..1000 segments)", optarg);
			cfg.lead = (int)v;
			break;
		case 'p': cfg.path = optarg; break;
		case 'r': cfg.request = optarg; break;
		case 't':
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v < 1 || v > 600000)
				die_usage("bad --timeout '%s' (1..600000 ms)", optarg);
			cfg.timeout_ms = (int)v;
			break;
		case 'R': cfg.rst_filter = false; break;
		case 'v': cfg.verbose = true; break;
		case 'h':
			printf("toa-craft [--src ADDR] [--sport N] [--syn-opts HEX] [--ack-opts HEX] [--data-opts HEX]\n"
			       "          [--no-ack] [--lead N] [--path PATH | --request TEXT] [--timeout MS] [--no-rst-filter] [-v]\n"
			       "          ADDR PORT\n(see the comment at the top of test/tools/toa-craft.c)\n");
			exit(0);
		case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
		default: die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		die_usage("expected ADDR PORT");
	if (ack_given && cfg.no_ack)
		die_usage("--ack-opts and --no-ack exclude each other");
	resolve(argv[optind], argv[optind + 1]);
	pick_source(src);
	if (!cfg.sport) {
		uint16_t r = 0;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint16_t)(getpid() ^ time(NULL));
		cfg.sport = 20000 + r % 12768;	/* below the kernel's ephemeral range */
	}
	if (cfg.request) {
		cfg.req_buf = unescape(cfg.request);
	} else {
		char host[INET6_ADDRSTRLEN + 2], a[INET6_ADDRSTRLEN];

		inet_ntop(cfg.family, cfg.daddr, a, sizeof(a));
		snprintf(host, sizeof(host), cfg.family == AF_INET6 ? "[%s]" : "%s", a);
		if (asprintf(&cfg.req_buf, "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", cfg.path, host) < 0)
			exit(1);
	}
	if (strlen(cfg.req_buf) > 1200)
		die_usage("the request must fit one segment (at most 1200 bytes)");
}

/* ---- the connection ------------------------------------------------------ */

int main(int argc, char **argv)
{
	static uint8_t buf[65536 + 128];
	uint32_t iss, snd_nxt, rcv_nxt = 0;
	size_t qlen, rlen = 0;
	long long deadline, resend;
	bool established = false, data_acked = false, got_fin = false;
	char *resp;
	struct seg s;
	int fd, tries;

	parse_args(argc, argv);
	if (cfg.rst_filter)
		nft_install();
	fd = open_raw();
	resp = malloc(RESP_MAX);
	if (!resp)
		return 1;
	if (getrandom(&iss, sizeof(iss), 0) != sizeof(iss))
		iss = (uint32_t)time(NULL);
	qlen = strlen(cfg.req_buf);
	deadline = now_ms() + cfg.timeout_ms;

	/* SYN, retransmitted each second, until the SYN-ACK. */
	for (tries = 0; !established; tries++) {
		send_seg(fd, F_SYN, iss, 0, &cfg.syn, NULL, 0);
		resend = now_ms() + 1000;
		while (!established) {
			if (recv_seg(fd, resend < deadline ? resend : deadline, buf, sizeof(buf), &s))
				break;
			if (s.flags & F_RST) {
				fprintf(stderr, "toa-craft: connection refused (RST to the SYN)\n");
				return 1;
			}
			if ((s.flags & (F_SYN | F_ACK)) == (F_SYN | F_ACK) && s.ack == iss + 1) {
				rcv_nxt = s.seq + 1;
				established = true;
			}
		}
		if (!established && now_ms() >= deadline) {
			fprintf(stderr, "toa-craft: no SYN-ACK within %d ms\n", cfg.timeout_ms);
			return 1;
		}
	}
	snd_nxt = iss + 1;
	if (!cfg.no_ack)
		send_seg(fd, F_ACK, snd_nxt, rcv_nxt, &cfg.ack, NULL, 0);

	/* Empty lines, one a segment, sent once (a veth does not lose them). */
	for (tries = 0; tries < cfg.lead; tries++, snd_nxt += 2)
		send_seg(fd, F_ACK | F_PSH, snd_nxt, rcv_nxt, NULL, "\r\n", 2);
	/* The request, retransmitted each second until acknowledged; then read to FIN. */
	send_seg(fd, F_ACK | F_PSH, snd_nxt, rcv_nxt, &cfg.data, cfg.req_buf, qlen);
	resend = now_ms() + 1000;
	while (!got_fin) {
		if (recv_seg(fd, resend < deadline ? resend : deadline, buf, sizeof(buf), &s)) {
			if (now_ms() >= deadline) {
				fprintf(stderr, "toa-craft: timed out after %d ms (%zu response bytes so far)\n",
					cfg.timeout_ms, rlen);
				fwrite(resp, 1, rlen, stdout);
				return 1;
			}
			if (!data_acked)
				send_seg(fd, F_ACK | F_PSH, snd_nxt, rcv_nxt, &cfg.data, cfg.req_buf, qlen);
			resend = now_ms() + 1000;
			continue;
		}
		if (s.flags & F_RST) {
			fprintf(stderr, "toa-craft: connection reset by the server (%zu response bytes)\n", rlen);
			fwrite(resp, 1, rlen, stdout);
			return 1;
		}
		if (s.flags & F_SYN) {
			/* The server repeats its SYN-ACK: our handshake did not complete yet; the request does it. */
			if (!data_acked)
				send_seg(fd, F_ACK | F_PSH, snd_nxt, rcv_nxt, &cfg.data, cfg.req_buf, qlen);
			continue;
		}
		if ((s.flags & F_ACK) && (int32_t)(s.ack - (snd_nxt + (uint32_t)qlen)) >= 0)
			data_acked = true;
		if (s.seq == rcv_nxt) {
			if (s.plen) {
				if (rlen + s.plen > RESP_MAX) {
					fprintf(stderr, "toa-craft: response larger than %d bytes\n", RESP_MAX);
					return 1;
				}
				memcpy(resp + rlen, s.payload, s.plen);
				rlen += s.plen;
				rcv_nxt += (uint32_t)s.plen;
			}
			if (s.flags & F_FIN) {
				rcv_nxt++;
				got_fin = true;
			}
		}
		if (s.plen || (s.flags & F_FIN))
			send_seg(fd, F_ACK, snd_nxt + (uint32_t)qlen, rcv_nxt, NULL, NULL, 0);
	}
	snd_nxt += (uint32_t)qlen;
	/* Our FIN; its ACK is waited for briefly so the server's side closes cleanly. */
	send_seg(fd, F_FIN | F_ACK, snd_nxt, rcv_nxt, NULL, NULL, 0);
	resend = now_ms() + 1000;
	while (!recv_seg(fd, resend < deadline ? resend : deadline, buf, sizeof(buf), &s))
		if ((s.flags & F_ACK) && s.ack == snd_nxt + 1)
			break;
	fwrite(resp, 1, rlen, stdout);
	fflush(stdout);
	close(fd);
	return 0;
}

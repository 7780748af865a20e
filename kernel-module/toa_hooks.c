// SPDX-License-Identifier: GPL-2.0-only
/*
 * What toa.ko does where it meets the TCP stack; toa_ftrace.c or
 * toa_kprobe.c calls these from the kernel's functions:
 *
 *   tcp_child_process(parent, child, skb)  toa_on_child: the segment that
 *        completes the handshake (also a SYN-cookie ACK) and the child
 *        socket it made, still locked: trust check, parse, record
 *   tcp_parse_options(net, skb, opt_rx, estab, foc)  toa_on_options (toa.h,
 *        inline), then toa_options_looking: a segment of an established
 *        socket whose options are more than a timestamp (every TOA-carrying
 *        one), for records still looking
 *   inet_getname / inet6_getname  toa_on_getname (toa_getname.h, inline),
 *        after the kernel filled the sockaddr (a kernel buffer, copied to
 *        the user afterwards; also the path of accept()'s peer address):
 *        put the client in
 *   inet_sock_destruct(sk)  toa_on_destruct (toa.h, inline): the socket
 *        dies, its record too
 *
 * They never sleep, never write into a socket, and fail open: anything
 * unexpected leaves the connection as the kernel made it and is counted.
 */
#include "toa.h"

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/kprobes.h>
#include <linux/slab.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <net/ipv6.h>

/* The options of a TCP header in skb's linear data; <0 when the header is not usable. */
static int parse_th(const struct sk_buff *skb, const struct tcphdr *th, struct toa_addr *a)
{
	unsigned int hl = th->doff * 4;

	if ((const u8 *)th < skb->head || hl < sizeof(*th) ||
	    (const u8 *)th + hl > skb_tail_pointer(skb)) {
		toa_count(TOA_C_BAD_HEADER);
		return -1;
	}
	if (hl == sizeof(*th))
		return TOA_ABSENT;
	return toa_parse((const u8 *)(th + 1), hl - sizeof(*th), toa_cfg.accept, a);
}
NOKPROBE_SYMBOL(parse_th);

/* A malformed option: counted by reason, never trusted (the search goes on, as on the eBPF path). */
static bool malformed(int status)
{
	if (status < TOA_ERR_LENGTH || status >= TOA_STATUS_MAX)
		return false;
	toa_count(TOA_C_ERR_LENGTH + status - TOA_ERR_LENGTH);
	return true;
}
NOKPROBE_SYMBOL(malformed);

/* Completes a record from a decoded option: whether getpeername() can show it. */
static void fill(struct toa_entry *e, const struct toa_addr *a, const struct sock *sk)
{
	struct toa_record *r = &e->rec;

	r->family = a->family;
	r->dialect = a->dialect;
	r->port = a->port;
	memcpy(r->addr, a->addr, sizeof(r->addr));
	if (sk->sk_family == AF_INET && a->family == TOA_FAMILY_V6) {
		r->flags = TOA_REC_NAT64;
		toa_count(TOA_C_NAT64);
	} else {
		r->flags = TOA_REC_REWRITTEN;
	}
	this_cpu_inc(toa_dialects[a->dialect]);
}
NOKPROBE_SYMBOL(fill);

/* No record for this child; one left under its address (a missed destruction, kprobes only) goes. */
static void no_record(struct sock *child)
{
	if (atomic_read(&toa_nrecords))
		toa_remove_sk(child, TOA_C_STALE);
}
NOKPROBE_SYMBOL(no_record);

void toa_on_child(struct sock *child, const struct sk_buff *skb)
{
	struct toa_entry *e;
	struct toa_addr a;
	u8 family, addr[16] = {};
	int st;

	if (skb->protocol == htons(ETH_P_IP)) {
		family = TOA_FAMILY_V4;
		memcpy(addr, &ip_hdr(skb)->saddr, 4);
	} else if (skb->protocol == htons(ETH_P_IPV6)) {
		family = TOA_FAMILY_V6;
		memcpy(addr, &ipv6_hdr(skb)->saddr, 16);
	} else {
		return;
	}
	toa_count(TOA_C_HANDSHAKE);
	if (!toa_trusted(family, addr)) {
		toa_count(TOA_C_UNTRUSTED);
		no_record(child);
		return;
	}
	st = parse_th(skb, tcp_hdr(skb), &a);
	if (st != TOA_OK) {
		malformed(st);
		if (!toa_cfg.scan_segments) {
			if (st == TOA_ABSENT)
				toa_count(TOA_C_ABSENT);
			no_record(child);
			return;
		}
	}
	e = kzalloc(sizeof(*e), GFP_ATOMIC);
	if (!e) {
		toa_count(TOA_C_NOMEM);
		return;
	}
	e->sk = child;
	e->num = ntohs(tcp_hdr(skb)->dest);
	/* tcp_child_process() counts the handshake segment right after this entry, as tcp_segs_in() does. */
	e->segs_in = tcp_sk(child)->segs_in + max_t(u16, 1, skb_shinfo(skb)->gso_segs);
	e->rec.version = TOA_RECORD_VERSION;
	e->rec.peer_family = family;
	e->rec.peer_port = tcp_hdr(skb)->source;
	e->dport = e->rec.peer_port;
	memcpy(e->rec.peer_addr, addr, sizeof(e->rec.peer_addr));
	if (st == TOA_OK) {
		fill(e, &a, child);
		e->state = TOA_S_FOUND;
	} else {
		e->state = TOA_S_LOOKING;
		atomic_inc(&toa_nlooking);
	}
	if (toa_insert(e)) {
		if (e->state == TOA_S_LOOKING)
			atomic_dec(&toa_nlooking);
		kfree(e);
		return;
	}
	toa_count(e->state == TOA_S_FOUND ? TOA_C_FOUND_HANDSHAKE : TOA_C_LOOKING);
}
NOKPROBE_SYMBOL(toa_on_child);

/*
 * tcp_fast_parse_options() passes estab=1 and the established socket's own
 * rx_opt, so the socket is the tcp_sock around it. Any other caller's
 * pointer names no socket with a record: the lookup, keyed by pointer and
 * done before anything is read through it, finds nothing.
 */
void toa_options_looking(const struct sk_buff *skb, struct tcp_options_received *opt_rx)
{
	struct sock *sk;
	struct toa_entry *e;
	struct toa_addr a;
	u32 delta;
	int st;

	sk = (struct sock *)container_of(opt_rx, struct tcp_sock, rx_opt);
	rcu_read_lock();
	e = toa_lookup(sk);
	/* Under the socket's lock: segments of one socket never race here. */
	if (!e || READ_ONCE(e->state) != TOA_S_LOOKING)
		goto out;
	/*
	 * The handshake's own segment comes here too (tcp_rcv_state_process()
	 * parses it in tcp_child_process()), at delta 0: it was read already.
	 * Then only the first scan_segments segments (segs_in counts them all,
	 * the fast path's too).
	 */
	delta = tcp_sk(sk)->segs_in - e->segs_in;
	if (!delta)
		goto out;
	if (delta > toa_cfg.scan_segments) {
		WRITE_ONCE(e->state, TOA_S_DONE);
		atomic_dec(&toa_nlooking);
		toa_count(TOA_C_ABSENT);
		goto out;
	}
	st = parse_th(skb, tcp_hdr(skb), &a);
	if (st == TOA_OK) {
		fill(e, &a, sk);
		smp_store_release(&e->state, TOA_S_FOUND);
		atomic_dec(&toa_nlooking);
		toa_count(TOA_C_FOUND_DATA);
	} else {
		malformed(st);
	}
out:
	rcu_read_unlock();
}
NOKPROBE_SYMBOL(toa_options_looking);

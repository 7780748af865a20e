/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The rewrite of getpeername()/accept()'s address, inline in the getname
 * hooks (toa_ftrace.c, toa_kprobe.c): it runs inside every such call while
 * records exist, and under emulation and with return thunks each call and
 * return it saves counts more than the work itself.
 */
#ifndef TOA_GETNAME_H
#define TOA_GETNAME_H

#include "toa.h"

#include <linux/in.h>
#include <linux/in6.h>

static __always_inline void toa_rewrite4(struct sockaddr_in *sin, const struct toa_record *r)
{
	if (sin->sin_family != AF_INET || r->family != TOA_FAMILY_V4)
		return;
	/* cdn dialects carry no port: the connection's own stays. */
	if (r->port)
		sin->sin_port = r->port;
	memcpy(&sin->sin_addr, r->addr, 4);
	toa_count(TOA_C_GETNAME_V4);
}

static __always_inline void toa_rewrite6(struct sockaddr_in6 *sin6, const struct toa_record *r)
{
	if (r->port)
		sin6->sin6_port = r->port;
	if (r->family == TOA_FAMILY_V4) {
		__be32 a4;

		/*
		 * An IPv4 client on a dual-stack socket: ::ffff:a.b.c.d, as the
		 * kernel writes it, in word stores (a memset() of 10 bytes is
		 * a rep stos, slow to start on hardware and a loop under emulation).
		 */
		memcpy(&a4, r->addr, 4);
		ipv6_addr_set_v4mapped(a4, &sin6->sin6_addr);
		toa_count(TOA_C_GETNAME_MAPPED);
	} else {
		memcpy(&sin6->sin6_addr, r->addr, 16);
		toa_count(TOA_C_GETNAME_V6);
	}
	sin6->sin6_flowinfo = 0;
	sin6->sin6_scope_id = 0;
}

/*
 * After inet_getname/inet6_getname filled uaddr with the peer (the caller
 * checked peer != 0 and success). The socket is held by the caller, so its
 * record cannot be freed under us. The RCU reader is the sched flavour (a
 * preempt count, inline, where rcu_read_lock() is a call under
 * PREEMPT_RCU): since Linux 4.20 the grace periods that free the records
 * wait for it too.
 */
static __always_inline void toa_on_getname(struct socket *sock, struct sockaddr *uaddr)
{
	const struct toa_entry *e;
	struct sock *sk = sock->sk;

	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return;
	rcu_read_lock_sched_notrace();
	e = toa_lookup(sk);
	if (!e || smp_load_acquire(&e->state) != TOA_S_FOUND || !(e->rec.flags & TOA_REC_REWRITTEN))
		goto out;
	if (!toa_entry_matches(e, sk)) {
		toa_count(TOA_C_STALE);
		goto out;
	}
	if (uaddr->sa_family == AF_INET)
		toa_rewrite4((struct sockaddr_in *)uaddr, &e->rec);
	else if (uaddr->sa_family == AF_INET6)
		toa_rewrite6((struct sockaddr_in6 *)uaddr, &e->rec);
out:
	rcu_read_unlock_sched_notrace();
}

#endif /* TOA_GETNAME_H */

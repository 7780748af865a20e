// SPDX-License-Identifier: GPL-2.0-only
/*
 * Where toa.ko meets the TCP stack, through kprobes, kretprobes and ftrace:
 *
 *   tcp_v4/v6_syn_recv_sock  (kretprobe) the segment completing the handshake
 *                            and the child socket it created: make a record
 *   tcp_rcv_established      (kprobe) the next few segments, only while some
 *                            record still waits for its option
 *   inet_getname/inet6_getname (kretprobe) getpeername() and accept(): put
 *                            the client into the sockaddr the kernel just
 *                            filled (a kernel buffer, copied out afterwards)
 *   inet_sock_destruct      (ftrace, else kprobe) the socket dies: drop its record
 *
 * Handlers never sleep, never write into a socket, and fail open: anything
 * unexpected leaves the connection as the kernel made it and is counted.
 */
#include "toa.h"

#include <linux/ftrace.h>
#include <linux/kprobes.h>
#include <linux/version.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <net/ipv6.h>

#define ARG(regs, n) regs_get_kernel_argument(regs, n)

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

static void count_status(int status)
{
	if (status >= TOA_ERR_LENGTH && status < TOA_STATUS_MAX)
		toa_count(TOA_C_ERR_LENGTH + status - TOA_ERR_LENGTH);
}
NOKPROBE_SYMBOL(count_status);

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

/* ---- handshake: tcp_v4_syn_recv_sock / tcp_v6_syn_recv_sock ---- */

struct syn_data {
	int status;
	struct toa_addr a;
	u8 peer_family;
	__be16 peer_port;
	__be16 local_port;
	u8 peer_addr[16];
};

/*
 * Entry: the skb is the segment completing the handshake. Decide here
 * whether the new socket needs a record; the return handler (armed only
 * then) gets the child.
 */
static int syn_entry(struct kretprobe_instance *ri, struct pt_regs *regs, __be16 proto)
{
	struct sk_buff *skb = (struct sk_buff *)ARG(regs, 1);
	struct syn_data *d = (struct syn_data *)ri->data;

	/* tcp_v6_syn_recv_sock passes IPv4 segments of dual-stack sockets to the v4 one. */
	if (skb->protocol != proto)
		return 1;
	toa_count(TOA_C_HANDSHAKE);
	memset(d->peer_addr, 0, sizeof(d->peer_addr));
	if (proto == htons(ETH_P_IP)) {
		d->peer_family = TOA_FAMILY_V4;
		memcpy(d->peer_addr, &ip_hdr(skb)->saddr, 4);
	} else {
		d->peer_family = TOA_FAMILY_V6;
		memcpy(d->peer_addr, &ipv6_hdr(skb)->saddr, 16);
	}
	if (!toa_trusted(d->peer_family, d->peer_addr)) {
		toa_count(TOA_C_UNTRUSTED);
		return 1;
	}
	d->peer_port = tcp_hdr(skb)->source;
	d->local_port = tcp_hdr(skb)->dest;
	d->status = parse_th(skb, tcp_hdr(skb), &d->a);
	if (d->status == TOA_OK || (d->status == TOA_ABSENT && toa_cfg.scan_segments))
		return 0;
	/* Malformed (never trusted, no more looking), or absent with nothing more to look at. */
	if (d->status == TOA_ABSENT)
		toa_count(TOA_C_ABSENT);
	else
		count_status(d->status);
	/* No record for this child; the return handler still clears a stale one under its address. */
	d->status = -1;
	return atomic_read(&toa_nrecords) ? 0 : 1;
}
NOKPROBE_SYMBOL(syn_entry);

static int syn4_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return syn_entry(ri, regs, htons(ETH_P_IP));
}
NOKPROBE_SYMBOL(syn4_entry);

static int syn6_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return syn_entry(ri, regs, htons(ETH_P_IPV6));
}
NOKPROBE_SYMBOL(syn6_entry);

/* Return: the child exists (still locked by the stack, so no segment of it runs concurrently). */
static int syn_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct sock *child = (struct sock *)regs_return_value(regs);
	struct syn_data *d = (struct syn_data *)ri->data;
	struct toa_entry *e;

	if (!child)
		return 0;
	if (d->status < 0) {
		toa_remove_sk(child, TOA_C_STALE);
		return 0;
	}
	e = kzalloc(sizeof(*e), GFP_ATOMIC);
	if (!e) {
		toa_count(TOA_C_NOMEM);
		return 0;
	}
	e->sk = child;
	e->local_port = ntohs(d->local_port);
	e->rec.version = TOA_RECORD_VERSION;
	e->rec.peer_family = d->peer_family;
	e->rec.peer_port = d->peer_port;
	memcpy(e->rec.peer_addr, d->peer_addr, sizeof(e->rec.peer_addr));
	if (d->status == TOA_OK) {
		fill(e, &d->a, child);
		e->state = TOA_S_FOUND;
	} else {
		e->state = TOA_S_LOOKING;
		e->left = toa_cfg.scan_segments;
		atomic_inc(&toa_nlooking);
	}
	if (toa_insert(e)) {
		if (e->state == TOA_S_LOOKING)
			atomic_dec(&toa_nlooking);
		kfree(e);
		return 0;
	}
	toa_count(e->state == TOA_S_FOUND ? TOA_C_FOUND_HANDSHAKE : TOA_C_LOOKING);
	return 0;
}
NOKPROBE_SYMBOL(syn_return);

/* ---- later segments: tcp_rcv_established(sk, skb) ---- */

static int est_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct sock *sk;
	struct sk_buff *skb;
	struct toa_entry *e;
	struct toa_addr a;
	int st;

	/* The fast path: one read when no socket is waiting for its option. */
	if (likely(!atomic_read(&toa_nlooking)))
		return 0;
	sk = (struct sock *)ARG(regs, 0);
	skb = (struct sk_buff *)ARG(regs, 1);
	e = toa_lookup(sk);
	/* Under the socket's lock: segments of one socket never race here. */
	if (!e || READ_ONCE(e->state) != TOA_S_LOOKING)
		return 0;
	st = parse_th(skb, (const struct tcphdr *)skb->data, &a);
	if (st == TOA_OK) {
		fill(e, &a, sk);
		smp_store_release(&e->state, TOA_S_FOUND);
		atomic_dec(&toa_nlooking);
		toa_count(TOA_C_FOUND_DATA);
	} else if (st == TOA_ABSENT && --e->left) {
		return 0;
	} else {
		WRITE_ONCE(e->state, TOA_S_DONE);
		atomic_dec(&toa_nlooking);
		if (st == TOA_ABSENT)
			toa_count(TOA_C_ABSENT);
		else
			count_status(st);
	}
	return 0;
}
NOKPROBE_SYMBOL(est_pre);

/* ---- getpeername() / accept(): inet_getname / inet6_getname ---- */

struct getname_data {
	const struct toa_entry *e;
	void *uaddr;
};

/*
 * Entry: arm the return handler only for a socket with a usable record. The
 * record cannot go away before the return: the caller holds the socket, and
 * records die only with their socket (or after every probe is gone).
 */
static int getname_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct socket *sock = (struct socket *)ARG(regs, 0);
	struct getname_data *d = (struct getname_data *)ri->data;
	const struct toa_entry *e;
	struct sock *sk;

	if (!ARG(regs, 2) || likely(!atomic_read(&toa_nrecords)))
		return 1;
	sk = sock->sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return 1;
	e = toa_lookup(sk);
	if (!e || smp_load_acquire(&e->state) != TOA_S_FOUND || !(e->rec.flags & TOA_REC_REWRITTEN))
		return 1;
	if (!toa_entry_matches(e, sk)) {
		toa_count(TOA_C_STALE);
		return 1;
	}
	d->e = e;
	d->uaddr = (void *)ARG(regs, 1);
	return 0;
}
NOKPROBE_SYMBOL(getname_entry);

static int getname4_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct getname_data *d = (struct getname_data *)ri->data;
	struct sockaddr_in *sin = d->uaddr;
	const struct toa_record *r = &d->e->rec;

	if ((long)regs_return_value(regs) < 0 || sin->sin_family != AF_INET || r->family != TOA_FAMILY_V4)
		return 0;
	/* cdn dialects carry no port: the connection's own stays. */
	if (r->port)
		sin->sin_port = r->port;
	memcpy(&sin->sin_addr, r->addr, 4);
	toa_count(TOA_C_GETNAME_V4);
	return 0;
}
NOKPROBE_SYMBOL(getname4_return);

static int getname6_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct getname_data *d = (struct getname_data *)ri->data;
	struct sockaddr_in6 *sin6 = d->uaddr;
	const struct toa_record *r = &d->e->rec;

	if ((long)regs_return_value(regs) < 0 || sin6->sin6_family != AF_INET6)
		return 0;
	if (r->port)
		sin6->sin6_port = r->port;
	if (r->family == TOA_FAMILY_V4) {
		/* An IPv4 client on a dual-stack socket: ::ffff:a.b.c.d, as the kernel writes it. */
		memset(&sin6->sin6_addr, 0, 10);
		sin6->sin6_addr.s6_addr16[5] = htons(0xffff);
		memcpy(&sin6->sin6_addr.s6_addr[12], r->addr, 4);
		toa_count(TOA_C_GETNAME_MAPPED);
	} else {
		memcpy(&sin6->sin6_addr, r->addr, 16);
		toa_count(TOA_C_GETNAME_V6);
	}
	sin6->sin6_flowinfo = 0;
	sin6->sin6_scope_id = 0;
	return 0;
}
NOKPROBE_SYMBOL(getname6_return);

/*
 * ---- the socket dies: inet_sock_destruct(sk), reached by IPv4 and IPv6 sockets alike ----
 *
 * Through ftrace where the kernel has it: the kprobe framework drops a hit
 * that comes while any kprobe handler runs on the CPU (a softirq freeing a
 * socket during a getpeername() probe), which would leave a record behind;
 * ftrace only refuses recursion within one context, which cannot happen here.
 */
#if IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_REGS) && defined(TOA_HAVE_FTRACE_FREE_FILTER)
#define TOA_DESTRUCT_FTRACE 1

#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 11, 0)
static void notrace destruct_ftrace(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	struct pt_regs *regs = ftrace_get_regs(fregs);
#define TOA_FTRACE_FLAGS (FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_RECURSION)
#else
static void notrace destruct_ftrace(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *op, struct pt_regs *regs)
{
#define TOA_FTRACE_FLAGS FTRACE_OPS_FL_SAVE_REGS
#endif
	if (regs && atomic_read(&toa_nrecords))
		toa_remove_sk((const struct sock *)ARG(regs, 0), TOA_C_FREED);
}

static struct ftrace_ops destruct_ops = {
	.func = destruct_ftrace,
	.flags = TOA_FTRACE_FLAGS,
};

static char destruct_fn[] = "inet_sock_destruct";

static int destruct_register(void)
{
	int err = ftrace_set_filter(&destruct_ops, destruct_fn, strlen(destruct_fn), 0);

	if (!err)
		err = register_ftrace_function(&destruct_ops);
	if (err) {
		ftrace_free_filter(&destruct_ops);
		pr_err("cannot trace %s: error %d\n", destruct_fn, err);
	}
	return err;
}

static void destruct_unregister(void)
{
	unregister_ftrace_function(&destruct_ops);
	ftrace_free_filter(&destruct_ops);
}
#else
static int destruct_pre(struct kprobe *p, struct pt_regs *regs)
{
	if (atomic_read(&toa_nrecords))
		toa_remove_sk((const struct sock *)ARG(regs, 0), TOA_C_FREED);
	return 0;
}
NOKPROBE_SYMBOL(destruct_pre);
#endif

/* ---- registration ---- */

static struct kretprobe syn4_probe = {
	.kp.symbol_name = "tcp_v4_syn_recv_sock",
	.entry_handler = syn4_entry,
	.handler = syn_return,
	.data_size = sizeof(struct syn_data),
};

static struct kretprobe syn6_probe = {
	.kp.symbol_name = "tcp_v6_syn_recv_sock",
	.entry_handler = syn6_entry,
	.handler = syn_return,
	.data_size = sizeof(struct syn_data),
};

static struct kretprobe getname4_probe = {
	.kp.symbol_name = "inet_getname",
	.entry_handler = getname_entry,
	.handler = getname4_return,
	.data_size = sizeof(struct getname_data),
};

static struct kretprobe getname6_probe = {
	.kp.symbol_name = "inet6_getname",
	.entry_handler = getname_entry,
	.handler = getname6_return,
	.data_size = sizeof(struct getname_data),
};

static struct kprobe est_probe = {
	.symbol_name = "tcp_rcv_established",
	.pre_handler = est_pre,
};

#ifndef TOA_DESTRUCT_FTRACE
static struct kprobe destruct_probe = {
	.symbol_name = "inet_sock_destruct",
	.pre_handler = destruct_pre,
};
#endif

struct hook {
	struct kretprobe *rp;
	struct kprobe *kp;
	bool ipv6;		/* optional: IPv6 may be missing from the kernel */
	bool registered;
};

/* Destruction first, data segments before handshakes: no record is ever made that cannot be dropped. */
static struct hook hooks[] = {
#ifndef TOA_DESTRUCT_FTRACE
	{ .kp = &destruct_probe },
#endif
	{ .kp = &est_probe },
	{ .rp = &getname4_probe },
	{ .rp = &getname6_probe, .ipv6 = true },
	{ .rp = &syn4_probe },
	{ .rp = &syn6_probe, .ipv6 = true },
};

static const char *hook_name(const struct hook *h)
{
	return h->rp ? h->rp->kp.symbol_name : h->kp->symbol_name;
}

static void unregister_all(void)
{
	int i;

	for (i = ARRAY_SIZE(hooks) - 1; i >= 0; i--) {
		if (!hooks[i].registered)
			continue;
		if (hooks[i].rp)
			unregister_kretprobe(hooks[i].rp);
		else
			unregister_kprobe(hooks[i].kp);
		hooks[i].registered = false;
	}
}

int toa_hooks_init(void)
{
	unsigned int cpus = num_possible_cpus();
	unsigned int i;
	int err;

	/* In flight at once: softirq handshakes a few per CPU; getname may sleep on the socket lock. */
	syn4_probe.maxactive = syn6_probe.maxactive = min(8 * cpus + 16, 4096u);
	getname4_probe.maxactive = getname6_probe.maxactive = min(1024 + 16 * cpus, 4096u);
#ifdef TOA_DESTRUCT_FTRACE
	err = destruct_register();
	if (err)
		return err;
#endif
	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		struct hook *h = &hooks[i];

		err = h->rp ? register_kretprobe(h->rp) : register_kprobe(h->kp);
		if (err && h->ipv6 && err != -ENOMEM) {
			/* IPv6 compiled out, or a module not loaded yet: IPv4 still works. */
			pr_warn("IPv6 not hooked (%s: error %d); IPv6 sockets keep the LIP\n", hook_name(h), err);
			continue;
		}
		if (err) {
			pr_err("cannot hook %s: error %d\n", hook_name(h), err);
			unregister_all();
#ifdef TOA_DESTRUCT_FTRACE
			destruct_unregister();
#endif
			return err;
		}
		h->registered = true;
	}
	return 0;
}

static unsigned long missed(const struct hook *h)
{
	return h->rp ? h->rp->nmissed + h->rp->kp.nmissed : h->kp->nmissed;
}

void toa_hooks_exit(void)
{
	unsigned int i;

	unregister_all();
#ifdef TOA_DESTRUCT_FTRACE
	/* Last: records must keep being dropped while the other hooks may still make them. */
	destruct_unregister();
#endif
	for (i = 0; i < ARRAY_SIZE(hooks); i++)
		if (missed(&hooks[i]))
			pr_warn("%s: %lu probe hits missed\n", hook_name(&hooks[i]), missed(&hooks[i]));
}

void toa_hooks_show(struct seq_file *m)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hooks); i++)
		seq_printf(m, "missed_%s %lu\n", hook_name(&hooks[i]), missed(&hooks[i]));
}

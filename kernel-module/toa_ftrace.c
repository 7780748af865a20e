// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hooking through ftrace (Linux 6.1 on): the cheap way in, and one that never
 * drops a hit. A kprobe is skipped whenever another kprobe handler runs on
 * the CPU (a softirq during a getpeername() probe); ftrace only refuses true
 * recursion, which these handlers cannot cause.
 *
 *   tcp_child_process, tcp_parse_options, inet_sock_destruct: a handler on
 *        entry that reads the arguments
 *   inet_getname, inet6_getname: the handler sends the call to a wrapper
 *        (FTRACE_OPS_FL_IPMODIFY, as livepatch does) that calls the kernel's
 *        function, then puts the client into the sockaddr it filled. The
 *        wrapper's own call comes back through the handler, which lets it
 *        pass. Only while records exist: otherwise the call goes straight on.
 *
 * Every ops is FTRACE_OPS_FL_PERMANENT: while toa.ko is loaded, nobody can
 * switch function tracing off under it (sysctl kernel.ftrace_enabled).
 */
#include "toa.h"

#ifdef TOA_FTRACE
#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <net/inet_common.h>
#include <net/ipv6.h>

/* Linux 6.1 names the ftrace_regs accessors differently from 6.12. */
#ifdef ftrace_regs_get_argument
#define FARG(fregs, n)		ftrace_regs_get_argument(fregs, n)
#else
#define FARG(fregs, n)		regs_get_kernel_argument(&(fregs)->regs, n)
#endif
#ifdef ftrace_regs_set_instruction_pointer
#define FSET_IP(fregs, ip)	ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define FSET_IP(fregs, ip)	ftrace_instruction_pointer_set(fregs, ip)
#endif

#define TOA_OPS_FLAGS		(FTRACE_OPS_FL_PERMANENT)
#define TOA_OPS_FLAGS_REDIRECT	(FTRACE_OPS_FL_PERMANENT | FTRACE_OPS_FL_IPMODIFY)

/* Calls sent to a wrapper that have not left it: module text must outlive them. */
static DEFINE_PER_CPU(long, in_wrapper);

static void notrace child_handler(unsigned long ip, unsigned long parent_ip,
				  struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	toa_on_child((struct sock *)FARG(fregs, 1), (const struct sk_buff *)FARG(fregs, 2));
}

static void notrace options_handler(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	toa_on_options((const struct sk_buff *)FARG(fregs, 1),
		       (struct tcp_options_received *)FARG(fregs, 2), (int)FARG(fregs, 3));
}

static void notrace destruct_handler(unsigned long ip, unsigned long parent_ip,
				     struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	toa_on_destruct((const struct sock *)FARG(fregs, 0));
}

static int toa_inet_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	int rc = inet_getname(sock, uaddr, peer);

	if (rc >= 0)
		toa_on_getname(sock, uaddr);
	this_cpu_dec(in_wrapper);
	return rc;
}

#if IS_ENABLED(CONFIG_IPV6)
static int toa_inet6_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	int rc = inet6_getname(sock, uaddr, peer);

	if (rc >= 0)
		toa_on_getname(sock, uaddr);
	this_cpu_dec(in_wrapper);
	return rc;
}
#endif

/*
 * getpeername() and accept() (peer != 0) on any socket while records exist;
 * the wrapper's own call to the kernel's function comes from this module
 * and goes on untouched.
 */
static __always_inline void redirect(unsigned long parent_ip, struct ftrace_regs *fregs, void *wrapper)
{
	if (likely(!atomic_read(&toa_nrecords)) || !FARG(fregs, 2) || within_module(parent_ip, THIS_MODULE))
		return;
	this_cpu_inc(in_wrapper);
	FSET_IP(fregs, (unsigned long)wrapper);
}

static void notrace getname_handler(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	redirect(parent_ip, fregs, toa_inet_getname);
}

#if IS_ENABLED(CONFIG_IPV6)
static void notrace getname6_handler(unsigned long ip, unsigned long parent_ip,
				     struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	redirect(parent_ip, fregs, toa_inet6_getname);
}
#endif

struct hook {
	const char *fn;
	struct ftrace_ops ops;
	bool registered;
};

#define HOOK(name, handler, fl) { .fn = name, .ops = { .func = handler, .flags = fl } }

/* Destruction first, then later segments, then getname, handshakes last: no record is made that cannot be dropped. */
static struct hook hooks[] = {
	HOOK("inet_sock_destruct", destruct_handler, TOA_OPS_FLAGS),
	HOOK("tcp_parse_options", options_handler, TOA_OPS_FLAGS),
	HOOK("inet_getname", getname_handler, TOA_OPS_FLAGS_REDIRECT),
#if IS_ENABLED(CONFIG_IPV6)
	HOOK("inet6_getname", getname6_handler, TOA_OPS_FLAGS_REDIRECT),
#endif
	HOOK("tcp_child_process", child_handler, TOA_OPS_FLAGS),
};

static void unregister_all(void)
{
	int i;

	for (i = ARRAY_SIZE(hooks) - 1; i >= 0; i--) {
		if (hooks[i].registered)
			unregister_ftrace_function(&hooks[i].ops);
		hooks[i].registered = false;
		ftrace_free_filter(&hooks[i].ops);
	}
}

int toa_hooks_init(void)
{
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		struct hook *h = &hooks[i];
		/* ftrace_set_filter() wants a writable buffer. */
		char fn[32];

		strscpy(fn, h->fn, sizeof(fn));
		err = ftrace_set_filter(&h->ops, fn, strlen(fn), 0);
		if (!err)
			err = register_ftrace_function(&h->ops);
		if (err) {
			pr_err("cannot hook %s through ftrace: error %d%s\n", h->fn, err,
			       err == -EBUSY ? " (another module, a livepatch or a kprobe owns it)" : "");
			unregister_all();
			return err;
		}
		h->registered = true;
	}
	return 0;
}

static long wrappers_busy(void)
{
	long n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += READ_ONCE(per_cpu(in_wrapper, cpu));
	return n;
}

void toa_hooks_exit(void)
{
	unregister_all();
	/*
	 * Nothing enters a wrapper any more; a call inside one (asleep on a
	 * socket lock, say) must leave it before the module text goes. Counts
	 * only fall now, so a sum of 0 is final; the RCU-tasks grace period
	 * then covers the few instructions after the decrement.
	 */
	while (wrappers_busy() > 0)
		msleep(1);
	synchronize_rcu_tasks();
}

void toa_hooks_show(struct seq_file *m)
{
	seq_puts(m, "hooks ftrace\n");
}
#endif /* TOA_FTRACE */

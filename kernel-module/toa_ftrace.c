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
 *        (FTRACE_OPS_FL_IPMODIFY, as livepatch does) that runs the kernel's
 *        function, then puts the client into the sockaddr it filled. Only
 *        while records exist: otherwise the call goes straight on.
 *
 * Every ops is FTRACE_OPS_FL_PERMANENT: while toa.ko is loaded, nobody can
 * switch function tracing off under it (sysctl kernel.ftrace_enabled).
 *
 * What a hit costs, cut where it could be (the VM bench measures it):
 *   - No FTRACE_OPS_FL_RECURSION (the flag asks ftrace for its recursion
 *     guard): the trampoline calls the handler itself. None of these
 *     handlers can reach a hooked function again, and the guard would drop
 *     a hit that nests in another tracer's callback.
 *   - On x86-64 without IBT the wrapper enters the kernel's function just
 *     past its ftrace call (where the handler was called from, + the call's
 *     size), as the kernel's BPF trampolines call the original: one pass
 *     through the trampoline per getpeername() instead of two. With IBT
 *     (an indirect jump must land on an ENDBR) and on other architectures
 *     the wrapper calls the function by name and the handler lets its own
 *     call pass.
 *   - Cheaper still, where the kernel has it: no handler at all for the
 *     getname functions, but an ftrace direct call (toa_direct.c). This
 *     file's getname ops are then not registered.
 */
#include "toa.h"
#include "toa_getname.h"

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
#define TOA_OPS_FLAGS_REDIRECT	(TOA_OPS_FLAGS | FTRACE_OPS_FL_IPMODIFY)

DEFINE_PER_CPU(long, toa_in_wrapper);

typedef int (*getname_fn)(struct socket *sock, struct sockaddr *uaddr, int peer);

/*
 * Where the wrapper enters a getname function: past its ftrace call (set by
 * the first redirect, from the address ftrace gives the handler; the same
 * for every call), or 0 to call it by name.
 */
static unsigned long inet_body, inet6_body;

#ifdef CONFIG_X86_64
#include <asm/cpufeature.h>
static bool skip_hook(void)
{
	return !cpu_feature_enabled(X86_FEATURE_IBT);
}
#else
static bool skip_hook(void)
{
	return false;
}
#endif
static bool toa_skip_hook __read_mostly;

/* The path of hosts with IBT, on any host: so that it can be tested where the CPU has no IBT. */
static bool getname_reentry;
module_param(getname_reentry, bool, 0444);
MODULE_PARM_DESC(getname_reentry,
		 "The getname wrapper calls the kernel's function by name, through the hook again, as where IBT is on (for tests; default 0)");

/* The ops path of hosts where the direct call is taken (a BPF fentry program on inet_getname), on any host. */
static bool getname_direct = true;
module_param(getname_direct, bool, 0444);
MODULE_PARM_DESC(getname_direct,
		 "getpeername() through an ftrace direct call where the kernel has it (default 1; 0 for tests of the other path)");

/* The getname functions go through toa_direct.c, not through this file's ops. */
static bool toa_direct __read_mostly;

static __always_inline int call_getname(unsigned long *body, getname_fn byname,
					struct socket *sock, struct sockaddr *uaddr, int peer)
{
	unsigned long fn = READ_ONCE(*body);

	return fn ? ((getname_fn)fn)(sock, uaddr, peer) : byname(sock, uaddr, peer);
}

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
	int rc = call_getname(&inet_body, inet_getname, sock, uaddr, peer);

	if (rc >= 0)
		toa_on_getname(sock, uaddr);
	this_cpu_dec(toa_in_wrapper);
	return rc;
}

#if IS_ENABLED(CONFIG_IPV6)
static int toa_inet6_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	int rc = call_getname(&inet6_body, inet6_getname, sock, uaddr, peer);

	if (rc >= 0)
		toa_on_getname(sock, uaddr);
	this_cpu_dec(toa_in_wrapper);
	return rc;
}
#endif

/*
 * getpeername() and accept() (peer != 0) on any socket while records exist.
 * A wrapper that calls the function by name comes back here, from this
 * module, and goes on untouched.
 */
static __always_inline void redirect(unsigned long ip, unsigned long parent_ip, struct ftrace_regs *fregs,
				     void *wrapper, unsigned long *body)
{
	if (likely(!atomic_read(&toa_nrecords)) || !FARG(fregs, 2))
		return;
	if (toa_skip_hook) {
		/* Set before this task enters the wrapper, which therefore never calls by name. */
		if (unlikely(!READ_ONCE(*body)))
			WRITE_ONCE(*body, ip + MCOUNT_INSN_SIZE);
	} else if (within_module(parent_ip, THIS_MODULE)) {
		return;
	}
	this_cpu_inc(toa_in_wrapper);
	FSET_IP(fregs, (unsigned long)wrapper);
}

static void notrace getname_handler(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	redirect(ip, parent_ip, fregs, toa_inet_getname, &inet_body);
}

#if IS_ENABLED(CONFIG_IPV6)
static void notrace getname6_handler(unsigned long ip, unsigned long parent_ip,
				     struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	redirect(ip, parent_ip, fregs, toa_inet6_getname, &inet6_body);
}
#endif

struct hook {
	const char *fn;
	struct ftrace_ops ops;
	bool registered;
	bool getname;
};

#define HOOK(name, handler, fl) { .fn = name, .ops = { .func = handler, .flags = fl } }
#define GETNAME_HOOK(name, handler) \
	{ .fn = name, .ops = { .func = handler, .flags = TOA_OPS_FLAGS_REDIRECT }, .getname = true }

/* Destruction first, then later segments, then getname, handshakes last: no record is made that cannot be dropped. */
static struct hook hooks[] = {
	HOOK("inet_sock_destruct", destruct_handler, TOA_OPS_FLAGS),
	HOOK("tcp_parse_options", options_handler, TOA_OPS_FLAGS),
	GETNAME_HOOK("inet_getname", getname_handler),
#if IS_ENABLED(CONFIG_IPV6)
	GETNAME_HOOK("inet6_getname", getname6_handler),
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
#ifdef TOA_FTRACE_DIRECT
	toa_direct_exit();
#endif
}

/* The direct call where it can be had, which the one-pass path's conditions allow; else the ops. */
static void choose_getname_path(void)
{
	toa_skip_hook = skip_hook() && !getname_reentry;
#ifdef TOA_FTRACE_DIRECT
	if (toa_skip_hook && getname_direct) {
		int err = toa_direct_init();

		if (!err)
			toa_direct = true;
		else
			pr_info("getpeername through ftrace ops: the direct call is not available (error %d%s)\n", err,
				err == -EBUSY ? ", another direct caller such as a BPF fentry program holds it" : "");
	}
#endif
}

int toa_hooks_init(void)
{
	unsigned int i;
	int err;

	/* First: without records the getname paths do nothing, and handshakes come last anyway. */
	choose_getname_path();
	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		struct hook *h = &hooks[i];
		/* ftrace_set_filter() wants a writable buffer. */
		char fn[32];

		if (h->getname && toa_direct)
			continue;

		strscpy(fn, h->fn, sizeof(fn));
		err = ftrace_set_filter(&h->ops, fn, strlen(fn), 0);
		if (!err)
			err = register_ftrace_function(&h->ops);
		if (err) {
			pr_err("cannot hook %s through ftrace: error %d%s\n", h->fn, err,
			       err == -EBUSY ? " (another module, a livepatch or a kprobe owns it)" : "");
			/* The direct wrapper runs without records: calls may be inside it already. */
			toa_hooks_exit();
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
		n += READ_ONCE(per_cpu(toa_in_wrapper, cpu));
	return n;
}

void toa_hooks_exit(void)
{
	unregister_all();
	/*
	 * The direct path counts itself inside the wrapper: a task between the
	 * ftrace call and that count cannot sleep, so once every task has
	 * slept or left (RCU tasks) every call in flight is counted.
	 */
	if (toa_direct)
		synchronize_rcu_tasks();
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
	/*
	 * ftrace trampoline passes per redirected getpeername()/accept(), or
	 * "direct" (none: ftrace's call goes to toa_direct.c); a word, as it is
	 * a fact of the host, not a count.
	 */
	seq_printf(m, "getname_passes %s\n", toa_direct ? "direct" : toa_skip_hook ? "one" : "two");
}
#endif /* TOA_FTRACE */

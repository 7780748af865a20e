// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hooking through kprobes, for kernels before 6.1 (no ftrace with arguments,
 * or no ftrace_free_filter() for a module): kprobes on entry and kretprobes
 * around inet_getname/inet6_getname. A kprobe is skipped when it fires while
 * another kprobe handler runs on the CPU; such hits are counted
 * (missed_<function> in /proc/net/toa_stats and in the log at unload), and
 * a record whose socket's destruction was missed is replaced or ignored
 * (toa_entry_matches()), never shown for another connection.
 */
#include "toa.h"
#include "toa_getname.h"

#ifndef TOA_FTRACE
#include <linux/kprobes.h>
#include <linux/seq_file.h>

#define ARG(regs, n) regs_get_kernel_argument(regs, n)

static int child_pre(struct kprobe *p, struct pt_regs *regs)
{
	toa_on_child((struct sock *)ARG(regs, 1), (const struct sk_buff *)ARG(regs, 2));
	return 0;
}
NOKPROBE_SYMBOL(child_pre);

static int options_pre(struct kprobe *p, struct pt_regs *regs)
{
	toa_on_options((const struct sk_buff *)ARG(regs, 1), (struct tcp_options_received *)ARG(regs, 2), (int)ARG(regs, 3));
	return 0;
}
NOKPROBE_SYMBOL(options_pre);

static int destruct_pre(struct kprobe *p, struct pt_regs *regs)
{
	toa_on_destruct((const struct sock *)ARG(regs, 0));
	return 0;
}
NOKPROBE_SYMBOL(destruct_pre);

struct getname_data {
	struct socket *sock;
	struct sockaddr *uaddr;
};

/* Arms the return handler for getpeername() and accept() (peer != 0) while records exist. */
static int getname_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct getname_data *d = (struct getname_data *)ri->data;

	if (!ARG(regs, 2) || likely(!atomic_read(&toa_nrecords)))
		return 1;
	d->sock = (struct socket *)ARG(regs, 0);
	d->uaddr = (struct sockaddr *)ARG(regs, 1);
	return 0;
}
NOKPROBE_SYMBOL(getname_entry);

static int getname_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct getname_data *d = (struct getname_data *)ri->data;

	if ((long)regs_return_value(regs) >= 0)
		toa_on_getname(d->sock, d->uaddr);
	return 0;
}
NOKPROBE_SYMBOL(getname_return);

static struct kprobe child_probe = { .symbol_name = "tcp_child_process", .pre_handler = child_pre };
static struct kprobe options_probe = { .symbol_name = "tcp_parse_options", .pre_handler = options_pre };
static struct kprobe destruct_probe = { .symbol_name = "inet_sock_destruct", .pre_handler = destruct_pre };

static struct kretprobe getname4_probe = {
	.kp.symbol_name = "inet_getname",
	.entry_handler = getname_entry,
	.handler = getname_return,
	.data_size = sizeof(struct getname_data),
};

static struct kretprobe getname6_probe = {
	.kp.symbol_name = "inet6_getname",
	.entry_handler = getname_entry,
	.handler = getname_return,
	.data_size = sizeof(struct getname_data),
};

struct hook {
	struct kretprobe *rp;
	struct kprobe *kp;
	bool ipv6;		/* optional: IPv6 may be missing from the kernel */
	bool registered;
};

/* Destruction first, handshakes last: no record is ever made that cannot be dropped. */
static struct hook hooks[] = {
	{ .kp = &destruct_probe },
	{ .kp = &options_probe },
	{ .rp = &getname4_probe },
	{ .rp = &getname6_probe, .ipv6 = true },
	{ .kp = &child_probe },
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
	unsigned int i;
	int err;

	/* In flight at once: getname may sleep on the socket lock. */
	getname4_probe.maxactive = getname6_probe.maxactive = min(1024 + 16 * num_possible_cpus(), 4096u);
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
	for (i = 0; i < ARRAY_SIZE(hooks); i++)
		if (missed(&hooks[i]))
			pr_warn("%s: %lu probe hits missed\n", hook_name(&hooks[i]), missed(&hooks[i]));
}

void toa_hooks_show(struct seq_file *m)
{
	unsigned int i;

	seq_puts(m, "hooks kprobe\n");
	for (i = 0; i < ARRAY_SIZE(hooks); i++)
		seq_printf(m, "missed_%s %lu\n", hook_name(&hooks[i]), missed(&hooks[i]));
}
#endif /* !TOA_FTRACE */

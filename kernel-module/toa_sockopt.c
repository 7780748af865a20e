// SPDX-License-Identifier: GPL-2.0-only
/*
 * getsockopt(fd, SOL_IP or SOL_IPV6, TOA_SO_RECORD, &rec, &len): the
 * socket's struct toa_record, the same bytes the eBPF path keeps in its
 * socket-storage map. Registered in netfilter's sockopt table, as
 * SO_ORIGINAL_DST is, so no syscall or protocol hook is needed.
 */
#include "toa.h"

#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/uaccess.h>

static int toa_get(struct sock *sk, int optval, void __user *user, int *len)
{
	const struct toa_entry *e;
	struct toa_record rec;
	bool found = false;

	if (*len < (int)sizeof(rec))
		return -EINVAL;
	rcu_read_lock();
	e = sk->sk_protocol == IPPROTO_TCP ? toa_lookup(sk) : NULL;
	if (e && smp_load_acquire(&e->state) == TOA_S_FOUND && toa_entry_matches(e, sk)) {
		rec = e->rec;
		found = true;
	}
	rcu_read_unlock();
	if (!found) {
		toa_count(TOA_C_SOCKOPT_NONE);
		return -ENOENT;
	}
	if (copy_to_user(user, &rec, sizeof(rec)))
		return -EFAULT;
	*len = sizeof(rec);
	toa_count(TOA_C_SOCKOPT_OK);
	return 0;
}

static struct nf_sockopt_ops ops4 = {
	.pf = PF_INET,
	.get_optmin = TOA_SO_RECORD,
	.get_optmax = TOA_SO_RECORD + 1,
	.get = toa_get,
	.owner = THIS_MODULE,
};

static struct nf_sockopt_ops ops6 = {
	.pf = PF_INET6,
	.get_optmin = TOA_SO_RECORD,
	.get_optmax = TOA_SO_RECORD + 1,
	.get = toa_get,
	.owner = THIS_MODULE,
};

int toa_sockopt_init(void)
{
	int err = nf_register_sockopt(&ops4);

	if (err) {
		pr_err("cannot register getsockopt %#x for IPv4: error %d\n", TOA_SO_RECORD, err);
		return err;
	}
	err = nf_register_sockopt(&ops6);
	if (err) {
		pr_err("cannot register getsockopt %#x for IPv6: error %d\n", TOA_SO_RECORD, err);
		nf_unregister_sockopt(&ops4);
	}
	return err;
}

void toa_sockopt_exit(void)
{
	nf_unregister_sockopt(&ops6);
	nf_unregister_sockopt(&ops4);
}

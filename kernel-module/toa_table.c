// SPDX-License-Identifier: GPL-2.0-only
/*
 * The records: an RCU hash table keyed by the struct sock pointer. Nothing
 * is stored in the socket itself (sk_user_data and sk_destruct belong to
 * others), so unloading the module leaves no pointer into it behind: a
 * record is removed when its socket is destructed (toa_hooks.c) or when the
 * module goes away, and freed after an RCU grace period.
 */
#include "toa.h"

#include <linux/slab.h>

static struct rhashtable table;

atomic_t toa_nrecords = ATOMIC_INIT(0);
atomic_t toa_nlooking = ATOMIC_INIT(0);

static const struct rhashtable_params params = {
	.head_offset = offsetof(struct toa_entry, node),
	.key_offset = offsetof(struct toa_entry, sk),
	.key_len = sizeof(const struct sock *),
	.automatic_shrinking = true,
};

int toa_table_init(void)
{
	return rhashtable_init(&table, &params);
}

static void free_entry(void *ptr, void *arg)
{
	kfree(ptr);
}

/* Only after every hook is unregistered: nobody can look up any more. */
void toa_table_exit(void)
{
	rhashtable_free_and_destroy(&table, free_entry, NULL);
	/* Entries removed before are freed through kfree_rcu: let those finish too. */
	rcu_barrier();
}

/* Caller holds rcu_read_lock() or runs with preemption disabled (a probe handler). */
struct toa_entry *toa_lookup(const struct sock *sk)
{
	return rhashtable_lookup_fast(&table, &sk, params);
}

/*
 * Adds a record for a new socket. A record already under the same pointer
 * belongs to a socket whose destruction we missed (a probe can be missed
 * when it fires inside another probe): replace it.
 */
int toa_insert(struct toa_entry *e)
{
	struct toa_entry *old;
	int err;

	if (atomic_inc_return(&toa_nrecords) > toa_cfg.max_records) {
		atomic_dec(&toa_nrecords);
		toa_count(TOA_C_FULL);
		return -ENOSPC;
	}
	for (;;) {
		err = rhashtable_lookup_insert_fast(&table, &e->node, params);
		if (err != -EEXIST)
			break;
		rcu_read_lock();
		old = rhashtable_lookup_fast(&table, &e->sk, params);
		if (old && !rhashtable_remove_fast(&table, &old->node, params)) {
			if (old->state == TOA_S_LOOKING)
				atomic_dec(&toa_nlooking);
			atomic_dec(&toa_nrecords);
			toa_count(TOA_C_STALE);
			kfree_rcu(old, rcu);
		}
		rcu_read_unlock();
	}
	if (err) {
		atomic_dec(&toa_nrecords);
		toa_count(TOA_C_NOMEM);
	}
	return err;
}

/* Drops the record under this socket pointer, if any, counting it as why. */
void toa_remove_sk(const struct sock *sk, enum toa_counter why)
{
	struct toa_entry *e;

	rcu_read_lock();
	e = rhashtable_lookup_fast(&table, &sk, params);
	if (e && !rhashtable_remove_fast(&table, &e->node, params)) {
		if (e->state == TOA_S_LOOKING) {
			/* Still looking when the socket went: no TOA came. */
			atomic_dec(&toa_nlooking);
			toa_count(TOA_C_ABSENT);
		}
		atomic_dec(&toa_nrecords);
		toa_count(why);
		kfree_rcu(e, rcu);
	}
	rcu_read_unlock();
}

/*
 * A record is used only if its socket still has the ports and peer it was
 * made for. A socket's destruction can go unseen (a kprobe hit is missed
 * when it fires inside another probe's handler); the record it leaves is
 * replaced or dropped when a new child socket takes the same address
 * (toa_hooks.c), and until then this check keeps it from naming anyone's
 * client on another socket.
 */
bool toa_entry_matches(const struct toa_entry *e, const struct sock *sk)
{
	const struct toa_record *r = &e->rec;

	if (r->peer_port != sk->sk_dport || e->local_port != sk->sk_num)
		return false;
	if (r->peer_family == TOA_FAMILY_V4)
		return !memcmp(r->peer_addr, &sk->sk_daddr, 4);
#if IS_ENABLED(CONFIG_IPV6)
	return sk->sk_family == AF_INET6 && !memcmp(r->peer_addr, &sk->sk_v6_daddr, 16);
#else
	return false;
#endif
}

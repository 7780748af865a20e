// SPDX-License-Identifier: GPL-2.0-only
/*
 * The records: a hash table keyed by the struct sock pointer, read under
 * RCU. Nothing is stored in the socket itself (sk_user_data and sk_destruct
 * belong to others), so unloading the module leaves no pointer into it
 * behind: a record is removed when its socket is destructed (toa_hooks.c)
 * or when the module goes away, and freed after an RCU grace period.
 *
 * The bucket array is sized once, at load, from max_records (a quarter as
 * many buckets, from 1024 to 1048576): nothing resizes it while connections
 * come and go by the thousand, and a lookup is a multiply, one load of the
 * bucket and a walk of a chain that stays short, which getpeername() pays
 * on every call while records exist. Writers take one of a fixed set of
 * spinlocks chosen by bucket, with interrupts off: before Linux 6.1 they
 * run inside kprobe handlers, which may have them off already.
 */
#include "toa.h"

#include <linux/log2.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#define TOA_MIN_BUCKETS		1024
#define TOA_MAX_BUCKETS		(1U << 20)
#define TOA_LOCKS		256	/* a power of two, at most TOA_MIN_BUCKETS */

struct hlist_head *toa_buckets __read_mostly;
unsigned int toa_hash_shift __read_mostly;
u64 toa_hash_seed __read_mostly;

static unsigned int nbuckets;
static spinlock_t locks[TOA_LOCKS];

atomic_t toa_nrecords = ATOMIC_INIT(0);
atomic_t toa_nlooking = ATOMIC_INIT(0);

int toa_table_init(void)
{
	unsigned int i;

	nbuckets = clamp_t(unsigned int, roundup_pow_of_two(max(toa_cfg.max_records / 4, 1U)),
			   TOA_MIN_BUCKETS, TOA_MAX_BUCKETS);
	toa_buckets = kvcalloc(nbuckets, sizeof(*toa_buckets), GFP_KERNEL);
	if (!toa_buckets)
		return -ENOMEM;
	toa_hash_shift = 64 - ilog2(nbuckets);
	/* Socket addresses are not chosen by clients, but where they fall should not be known either. */
	toa_hash_seed = get_random_u64();
	for (i = 0; i < TOA_LOCKS; i++)
		spin_lock_init(&locks[i]);
	return 0;
}

/* Only after every hook is unregistered: nobody can look up any more. */
void toa_table_exit(void)
{
	struct hlist_node *tmp;
	struct toa_entry *e;
	unsigned int i;

	for (i = 0; i < nbuckets; i++)
		hlist_for_each_entry_safe(e, tmp, &toa_buckets[i], node)
			kfree(e);
	/* Entries removed before wait in kfree_rcu() batches, which kfree() the plain kmalloc()ed records. */
	rcu_barrier();
	kvfree(toa_buckets);
	toa_buckets = NULL;
}

static spinlock_t *bucket_lock(const struct hlist_head *head)
{
	return &locks[(head - toa_buckets) & (TOA_LOCKS - 1)];
}

/* The entry under sk in head; the caller holds the bucket's lock. */
static struct toa_entry *find_locked(struct hlist_head *head, const struct sock *sk)
{
	struct toa_entry *e;

	hlist_for_each_entry(e, head, node)
		if (e->sk == sk)
			return e;
	return NULL;
}

/* Accounts for e, which the caller has unlinked (bucket lock held), and frees it after a grace period. */
static void drop_locked(struct toa_entry *e, enum toa_counter why)
{
	if (e->state == TOA_S_LOOKING)
		atomic_dec(&toa_nlooking);
	atomic_dec(&toa_nrecords);
	toa_count(why);
	kfree_rcu(e, rcu);
}

/*
 * Adds a record for a new socket. A record already under the same pointer
 * belongs to a socket whose destruction we missed (a probe can be missed
 * when it fires inside another probe): it is replaced, in place, so that
 * readers see the old record or the new one, never none.
 */
int toa_insert(struct toa_entry *e)
{
	struct hlist_head *head = toa_bucket(e->sk);
	spinlock_t *lock = bucket_lock(head);
	struct toa_entry *old;
	unsigned long flags;

	if (atomic_inc_return(&toa_nrecords) > toa_cfg.max_records) {
		atomic_dec(&toa_nrecords);
		toa_count(TOA_C_FULL);
		return -ENOSPC;
	}
	spin_lock_irqsave(lock, flags);
	old = find_locked(head, e->sk);
	if (old) {
		hlist_replace_rcu(&old->node, &e->node);
		drop_locked(old, TOA_C_STALE);
	} else {
		hlist_add_head_rcu(&e->node, head);
	}
	spin_unlock_irqrestore(lock, flags);
	return 0;
}

/* Drops the record under this socket pointer, if any, counting it as why. */
void toa_remove_sk(const struct sock *sk, enum toa_counter why)
{
	struct hlist_head *head = toa_bucket(sk);
	unsigned long flags;
	spinlock_t *lock;
	struct toa_entry *e;
	bool present;

	/* Most sockets have no record: find that out without the lock. */
	rcu_read_lock();
	present = toa_lookup(sk);
	rcu_read_unlock();
	if (!present)
		return;
	lock = bucket_lock(head);
	spin_lock_irqsave(lock, flags);
	e = find_locked(head, sk);
	if (e) {
		/* Still looking when the socket went: no TOA came. */
		if (e->state == TOA_S_LOOKING)
			toa_count(TOA_C_ABSENT);
		hlist_del_rcu(&e->node);
		drop_locked(e, why);
	}
	spin_unlock_irqrestore(lock, flags);
}

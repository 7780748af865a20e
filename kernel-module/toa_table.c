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

struct rhashtable toa_table;

atomic_t toa_nrecords = ATOMIC_INIT(0);
atomic_t toa_nlooking = ATOMIC_INIT(0);

int toa_table_init(void)
{
	return rhashtable_init(&toa_table, &toa_table_params);
}

static void free_entry(void *ptr, void *arg)
{
	kfree(ptr);
}

/* Only after every hook is unregistered: nobody can look up any more. */
void toa_table_exit(void)
{
	rhashtable_free_and_destroy(&toa_table, free_entry, NULL);
	/* Entries removed before are freed through kfree_rcu: let those finish too. */
	rcu_barrier();
}

/*
 * Adds a record for a new socket. A record already under the same pointer
 * belongs to a socket whose destruction we missed (a probe can be missed
 * when it fires inside another probe): replace it. This runs in softirq, so
 * the replacing is tried a bounded number of times: a table that keeps
 * answering "exists" (a bug, or a race we did not foresee) costs this socket
 * its record, counted, never the CPU.
 */
#define TOA_INSERT_TRIES 4

int toa_insert(struct toa_entry *e)
{
	struct toa_entry *old;
	int err, tries;

	if (atomic_inc_return(&toa_nrecords) > toa_cfg.max_records) {
		atomic_dec(&toa_nrecords);
		toa_count(TOA_C_FULL);
		return -ENOSPC;
	}
	for (tries = 0; tries < TOA_INSERT_TRIES; tries++) {
		err = rhashtable_lookup_insert_fast(&toa_table, &e->node, toa_table_params);
		if (err != -EEXIST)
			break;
		rcu_read_lock();
		old = rhashtable_lookup(&toa_table, &e->sk, toa_table_params);
		if (old && !rhashtable_remove_fast(&toa_table, &old->node, toa_table_params)) {
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
		toa_count(err == -EEXIST ? TOA_C_INSERT_BUSY : TOA_C_NOMEM);
	}
	return err;
}

/* Drops the record under this socket pointer, if any, counting it as why. */
void toa_remove_sk(const struct sock *sk, enum toa_counter why)
{
	struct toa_entry *e;

	rcu_read_lock();
	e = rhashtable_lookup(&toa_table, &sk, toa_table_params);
	if (e && !rhashtable_remove_fast(&toa_table, &e->node, toa_table_params)) {
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

// SPDX-License-Identifier: GPL-2.0-only
/*
 * getpeername()/accept() through an ftrace direct call, where it can be had
 * (x86-64 with IBT off, a kernel that exports the direct-call API): the
 * ftrace call at the entry of inet_getname and inet6_getname goes straight
 * to a trampoline of two instructions instead of through ftrace's generic
 * one, which saves and restores a whole pt_regs and walks the ops list on
 * every call. The BPF trampolines of fentry/fexit programs enter the kernel
 * the same way.
 *
 * The trampoline pops the address the ftrace call pushed, the function's
 * body just past that call, and jumps to the wrapper with it as a fourth
 * argument (the getname functions take three; %rcx is free at their
 * entry). The wrapper runs the body, then puts the client in, and returns to
 * the function's caller: one trampoline and one wrapper serve both
 * functions. Nothing of the kernel's text is written but the ftrace call
 * site, by ftrace.
 *
 * Where ftrace shares the site with other tracers it calls them first, then
 * returns into the trampoline with the same stack. Where IBT is on, the
 * wrapper's fallback, an indirect call into a body without ENDBR, would
 * trap: those hosts keep toa_ftrace.c's ops path, as do hosts where another
 * direct caller (a BPF fentry program, say) holds a getname function.
 */
#include "toa.h"
#include "toa_getname.h"

#ifdef TOA_FTRACE_DIRECT
#include <linux/ftrace.h>
#include <linux/objtool.h>
#include <net/inet_common.h>
#include <net/ipv6.h>
#include <asm/ibt.h>

typedef int (*getname_fn)(struct socket *sock, struct sockaddr *uaddr, int peer);

/* Where a getname function's body starts: past its ENDBR (a kernel built with IBT) and its ftrace call. */
#define BODY_OFFSET	(ENDBR_INSN_SIZE + MCOUNT_INSN_SIZE)
#define BODY(fn)	((unsigned long)(fn) + (BODY_OFFSET))

/*
 * The bodies as functions of their own, so that the compiler calls them
 * directly: told the address as a value equal to the argument, it merges
 * the calls back into the indirect one. Each is a jump to the body behind
 * 16 bytes of padding: a kernel that tracks call depth (retbleed=stuff)
 * redirects a module's direct calls at load into accounting it writes
 * before the callee, where the middle of inet_getname has none.
 */
#define BODY_STUB(name, fn)						\
"	.skip		16, 0x90\n"					\
"	.type		" name ", @function\n"				\
name ":\n"								\
"	jmp		" fn " + " __stringify(BODY_OFFSET) "\n"	\
"	.size		" name ", .-" name "\n"

asm(
"	.pushsection	.text, \"ax\", @progbits\n"
BODY_STUB("toa_inet_body", "inet_getname")
#if IS_ENABLED(CONFIG_IPV6)
BODY_STUB("toa_inet6_body", "inet6_getname")
#endif
"	.popsection\n"
);
int toa_inet_body(struct socket *sock, struct sockaddr *uaddr, int peer);
int toa_inet6_body(struct socket *sock, struct sockaddr *uaddr, int peer);

int notrace toa_getname_direct(struct socket *sock, struct sockaddr *uaddr, int peer, unsigned long body);

/* ENDBR only for objtool's sake: the ftrace call is a direct call, and so is the way back from ftrace's trampoline. */
asm(
"	.pushsection	.text, \"ax\", @progbits\n"
"	.type		toa_direct_tramp, @function\n"
"	.globl		toa_direct_tramp\n"
"toa_direct_tramp:\n"
	ASM_ENDBR
"	popq		%rcx\n"
"	jmp		toa_getname_direct\n"
"	.size		toa_direct_tramp, .-toa_direct_tramp\n"
"	.popsection\n"
);

extern void toa_direct_tramp(void);
/* It leaves with one word fewer on the stack than it found, on purpose. */
STACK_FRAME_NON_STANDARD(toa_direct_tramp);

/* Called by the trampoline in place of inet_getname/inet6_getname, with their body. */
int notrace toa_getname_direct(struct socket *sock, struct sockaddr *uaddr, int peer, unsigned long body)
{
	int rc;

	this_cpu_inc(toa_in_wrapper);
	/*
	 * A direct call where the body is where this build expects it: an
	 * indirect one is a retpoline under the mitigations distributions
	 * enable. Any other address (a kernel laid out otherwise) still works.
	 */
	if (likely(body == BODY(inet_getname)))
		rc = toa_inet_body(sock, uaddr, peer);
#if IS_ENABLED(CONFIG_IPV6)
	else if (body == BODY(inet6_getname))
		rc = toa_inet6_body(sock, uaddr, peer);
#endif
	else
		rc = ((getname_fn)body)(sock, uaddr, peer);
	if (rc >= 0 && peer && atomic_read(&toa_nrecords))
		toa_on_getname(sock, uaddr);
	this_cpu_dec(toa_in_wrapper);
	return rc;
}

#ifdef TOA_HAVE_FTRACE_DIRECT_MULTI
/* Linux 6.1 to 6.4 call the ops form of the API _multi. */
#define direct_register(ops, addr)	register_ftrace_direct_multi(ops, addr)
#define direct_unregister(ops, addr)	unregister_ftrace_direct_multi(ops, addr)
#else
#define direct_register(ops, addr)	register_ftrace_direct(ops, addr)
#define direct_unregister(ops, addr)	unregister_ftrace_direct(ops, addr, false)
#endif

static struct ftrace_ops direct_ops;
static bool direct_registered;

int toa_direct_init(void)
{
	int err;

	err = ftrace_set_filter_ip(&direct_ops, (unsigned long)inet_getname, 0, 0);
#if IS_ENABLED(CONFIG_IPV6)
	if (!err)
		err = ftrace_set_filter_ip(&direct_ops, (unsigned long)inet6_getname, 0, 0);
#endif
	if (!err)
		err = direct_register(&direct_ops, (unsigned long)toa_direct_tramp);
	if (err) {
		ftrace_free_filter(&direct_ops);
		return err;
	}
	direct_registered = true;
	return 0;
}

/* The caller then waits for the calls inside the wrapper (toa_ftrace.c). */
void toa_direct_exit(void)
{
	if (!direct_registered)
		return;
	direct_unregister(&direct_ops, (unsigned long)toa_direct_tramp);
	ftrace_free_filter(&direct_ops);
	direct_registered = false;
}
#endif /* TOA_FTRACE_DIRECT */

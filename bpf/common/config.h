/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `--config FILE`: a role's long options as `key = value` lines, for the
 * systemd units and /etc/toa/. '#' starts a comment; a repeatable option
 * takes several values separated by spaces, or several lines; an option
 * without a value takes yes/no. Errors name the file and the line.
 */
#ifndef TOA_CONFIG_H
#define TOA_CONFIG_H

#include <stdbool.h>

struct option;
struct toa_role;
struct toa_opts;

/*
 * Reads FILE and hands each value to set(opt, arg) as if given as
 * --key arg on the command line, where opt is the key's long option value.
 * With all_keys false (detach, status), only pin-dir is taken; the rest of
 * an attach configuration is skipped. Keys help, json, verbose and config
 * are not allowed. Returns 0, or 2 after a usage error naming FILE:LINE.
 */
int toa_config_read(const struct toa_role *r, const char *file, const struct option *longopts, bool all_keys,
		    int (*set)(int opt, char *arg));

/* "FILE:LINE" while a configuration line is applied, else NULL: usage errors lead with it. */
const char *toa_config_where(void);

#endif /* TOA_CONFIG_H */

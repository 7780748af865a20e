// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `--config FILE`: a role's long options as `key = value` lines (see config.h). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

#define LINE_MAX_LEN	4096

static char where[LINE_MAX_LEN];
static bool in_file;

const char *toa_config_where(void)
{
	return in_file ? where : NULL;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static const struct option *find_key(const struct option *longopts, const char *key)
{
	static const char *const refused[] = { "help", "json", "verbose", "config" };
	unsigned int i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (!strcmp(key, refused[i]))
			return NULL;
	for (; longopts->name; longopts++)
		if (!strcmp(key, longopts->name))
			return longopts;
	return NULL;
}

/* The keys a configuration may hold, for the "unknown key" message. */
static void list_keys(const struct option *longopts, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (; longopts->name && n < len; longopts++)
		if (find_key(longopts, longopts->name))
			n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "", longopts->name);
}

/* Applies one `key = value` line; 0, or a usage error's exit code. */
static int apply(const struct toa_role *r, const struct option *longopts, bool all_keys, char *line,
		 int (*set)(int opt, char *arg))
{
	const struct option *o;
	char *eq = strchr(line, '='), *key, *val, *word, *save = NULL, keys[512];
	int err;

	if (!eq)
		return toa_usage_error(r, "expected 'key = value', not '%s'", line);
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	o = find_key(longopts, key);
	if (!o) {
		list_keys(longopts, keys, sizeof(keys));
		return toa_usage_error(r, "unknown key '%s' (%s)", key, keys);
	}
	if (!all_keys && strcmp(key, "pin-dir"))
		return 0;
	if (!*val)
		return toa_usage_error(r, "'%s' needs a value", key);
	if (o->has_arg == no_argument) {
		if (!strcmp(val, "no") || !strcmp(val, "false"))
			return 0;
		if (strcmp(val, "yes") && strcmp(val, "true"))
			return toa_usage_error(r, "'%s' takes yes or no, not '%s'", key, val);
		return set(o->val, NULL);
	}
	/* Values outlive the file: the roles keep pointers to them (--dev, --pin-dir). */
	for (word = strtok_r(val, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
		char *copy = strdup(word);

		if (!copy)
			return toa_usage_error(r, "out of memory");
		err = set(o->val, copy);
		if (err)
			return err;
	}
	return 0;
}

int toa_config_read(const struct toa_role *r, const char *file, const struct option *longopts, bool all_keys,
		    int (*set)(int opt, char *arg))
{
	char line[LINE_MAX_LEN], *s, *hash;
	unsigned int lineno = 0;
	int err = 0;
	FILE *f = fopen(file, "r");

	if (!f)
		return toa_usage_error(r, "cannot read configuration '%s': %s", file, strerror(errno));
	in_file = true;
	while (!err && fgets(line, sizeof(line), f)) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", file, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			err = toa_usage_error(r, "line longer than %d bytes", LINE_MAX_LEN - 2);
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		s = trim(line);
		if (*s)
			err = apply(r, longopts, all_keys, s, set);
	}
	if (!err && ferror(f))
		err = toa_usage_error(r, "reading failed: %s", strerror(errno));
	in_file = false;
	fclose(f);
	return err;
}

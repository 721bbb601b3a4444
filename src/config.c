/* SPDX-License-Identifier: MIT */
/*
 * The configuration table and its one parser, shared by the key file and
 * the command line.
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "clock_list.h"
#include "config_table.h"
#include "control_parse.h"

#define CONFIG_MAX_BYTES ((size_t)64 * 1024)

static const struct config_key *config_lookup(const char *name)
{
	const struct key_table *t = config_key_table();

	for (size_t i = 0; i < t->n; i++) {
		if (!strcmp(t->k[i].name, name)) {
			return &t->k[i];
		}
	}
	return NULL;
}

/* @k's index in the table, origin[] and cli_set. */
static size_t key_index(const struct config_key *k)
{
	return (size_t)(k - config_key_table()->k);
}

/* Where key @k's value lives. */
static void *field(struct config *c, const struct config_key *k)
{
	int kind = config_key_table()->kind[key_index(k)];
	char *base = kind < 0 ? (char *)c : c->source[kind];

	return base + k->offset;
}

const char *config_origin_of(const struct config *c, const struct config_key *k)
{
	const char *o = c->origin[key_index(k)];

	return o ? o : k->name;
}

/* The index of @v among the '|'-separated @choices, or -1. */
static int choice_index(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;
	int i = 0;

	while (n && p) {
		if (!strncmp(p, v, n) && (p[n] == '|' || !p[n])) {
			return i;
		}
		p = strchr(p, '|');
		if (p) {
			p++;
		}
		i++;
	}
	return -1;
}

/*
 * The one value parser. @origin names where @value came from, key included
 * ("FILE:LINE: key", "--key"), for error messages. For list keys, @append
 * adds to the list instead of replacing it.
 */
static int config_apply(struct config *c, const struct config_key *k,
			const char *value, bool append, const char *origin,
			GError **err)
{
	size_t idx = key_index(k);
	void *f = field(c, k);

	if (!*value) {
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s: empty value", origin);
		return -EINVAL;
	}
	switch (k->type) {
	case CONFIG_UINT: {
		guint64 v;
		char *end = NULL;

		errno = 0;
		v = g_ascii_strtoull(value, &end, 10);
		if (!g_ascii_isdigit(value[0]) || *end || errno || v < k->min ||
		    v > k->max) {
			g_set_error(
				err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				"%s: \"%s\" is not a whole number from "
				"%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
				origin, value, k->min, k->max);
			return -EINVAL;
		}
		*(uint64_t *)f = v;
		break;
	}
	case CONFIG_ENUM:
	case CONFIG_ONOFF: {
		int i = choice_index(k->choices, value);

		if (i < 0) {
			char **v = g_strsplit(k->choices, "|", -1);
			char *list = g_strjoinv(", ", v);

			g_set_error(err, G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "%s: \"%s\" is not one of %s", origin,
				    value, list);
			g_free(list);
			g_strfreev(v);
			return -EINVAL;
		}
		if (k->type == CONFIG_ENUM) {
			*(int *)f = i;
		} else {
			*(bool *)f = !strcmp(value, "on");
		}
		break;
	}
	case CONFIG_SOURCES:
		/* not in the table config_keys() gives */
		g_assert_not_reached();
	case CONFIG_STRING:
	case CONFIG_PATH:
		g_free(*(char **)f);
		*(char **)f = g_strdup(value);
		break;
	case CONFIG_PATH_LIST: {
		char ***list = f;
		GStrvBuilder *b = g_strv_builder_new();

		if (append) {
			g_strv_builder_addv(b, (const char **)*list);
		}
		g_strv_builder_add(b, value);
		g_strfreev(*list);
		*list = g_strv_builder_end(b);
		g_strv_builder_unref(b);
		break;
	}
	}
	g_free(c->origin[idx]);
	c->origin[idx] = g_strdup(origin);
	return 0;
}

struct config *config_new(void)
{
	const struct key_table *t = config_key_table();
	struct config *c = g_new0(struct config, 1);
	size_t i;

	c->source = g_new0(void *, t->n_kinds);
	for (i = 0; i < t->n_kinds; i++) {
		c->source[i] = g_malloc0(t->kinds[i]->settings_size);
	}
	for (i = 0; i < t->n; i++) {
		const struct config_key *k = &t->k[i];

		if (k->type == CONFIG_PATH_LIST) {
			*(char ***)field(c, k) = g_new0(char *, 1);
		}
		if (k->def) {
			/* The built-in defaults are valid by construction. */
			int r = config_apply(c, k, k->def, false, k->name,
					     NULL);

			g_assert(r == 0);
		}
	}
	return c;
}

void config_free(struct config *c)
{
	const struct key_table *t = config_key_table();
	size_t i;

	if (!c) {
		return;
	}
	for (i = 0; i < t->n; i++) {
		const struct config_key *k = &t->k[i];

		if (k->type == CONFIG_PATH_LIST) {
			g_strfreev(*(char ***)field(c, k));
		} else if (k->type == CONFIG_STRING || k->type == CONFIG_PATH) {
			g_free(*(char **)field(c, k));
		}
		g_free(c->origin[i]);
	}
	for (i = 0; i < t->n_kinds; i++) {
		g_free(c->source[i]);
	}
	g_free(c->source);
	g_free(c);
}

int config_set(struct config *c, const char *key, const char *value,
	       GError **err)
{
	const struct config_key *k = config_lookup(key);
	char *origin;
	uint64_t bit;
	int r;

	if (!k) {
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
			    "unknown option --%s", key);
		return -EINVAL;
	}
	bit = (uint64_t)1 << (key_index(k));
	origin = g_strdup_printf("--%s", key);
	r = config_apply(c, k, value, (c->cli_set & bit) != 0, origin, err);
	g_free(origin);
	if (r == 0) {
		c->cli_set |= bit;
	}
	return r;
}

const char *config_origin(const struct config *c, const char *key)
{
	const struct config_key *k = config_lookup(key);

	return k ? config_origin_of(c, k) : key;
}

bool config_from_cli(const struct config *c, const char *key)
{
	const struct config_key *k = config_lookup(key);

	return k && (c->cli_set & ((uint64_t)1 << (key_index(k))));
}

/* Whether key @k has the same value in @a and @b. */
static bool same_value(const struct config *a, const struct config *b,
		       const struct config_key *k)
{
	const void *fa = field((struct config *)a, k);
	const void *fb = field((struct config *)b, k);

	switch (k->type) {
	case CONFIG_UINT:
		return *(const uint64_t *)fa == *(const uint64_t *)fb;
	case CONFIG_ENUM:
		return *(const int *)fa == *(const int *)fb;
	case CONFIG_ONOFF:
		return *(const bool *)fa == *(const bool *)fb;
	case CONFIG_STRING:
	case CONFIG_PATH:
		return g_strcmp0(*(char *const *)fa, *(char *const *)fb) == 0;
	case CONFIG_PATH_LIST:
		return g_strv_equal((const char *const *)*(char **const *)fa,
				    (const char *const *)*(char **const *)fb);
	case CONFIG_SOURCES:
		break;
	}
	return true;
}

char *config_changed_keys(const struct config *a, const struct config *b,
			  const char *const *skip)
{
	const struct key_table *t = config_key_table();
	GString *out = g_string_new(NULL);

	for (size_t i = 0; i < t->n; i++) {
		const struct config_key *k = &t->k[i];

		if ((skip && g_strv_contains(skip, k->name)) ||
		    same_value(a, b, k)) {
			continue;
		}
		g_string_append_printf(out, "%s%s", out->len ? ", " : "",
				       k->name);
	}
	return g_string_free(out, out->len == 0);
}

/*
 * A first pass over the raw text, because GKeyFile reports neither line
 * numbers nor, for some mistakes, the key: check the line syntax, the
 * section and key names, and note each key's line in @lines (0: unset),
 * indexed like config_table_.
 */
static int config_scan(const char *path, const char *text, size_t *lines,
		       GError **err)
{
	const struct config_key *k;
	char **v = g_strsplit(text, "\n", -1);
	bool in_group = false;
	int r = 0;
	size_t i;

	for (i = 0; v[i]; i++) {
		char *l = g_strstrip(v[i]);
		char *eq;

		if (!*l || *l == '#') {
			continue;
		}
		if (*l == '[') {
			size_t n = strlen(l);

			if (n < 3 || l[n - 1] != ']') {
				g_set_error(err, G_KEY_FILE_ERROR,
					    G_KEY_FILE_ERROR_PARSE,
					    "%s:%zu: malformed section "
					    "header \"%s\"",
					    path, i + 1, l);
				r = -EINVAL;
				break;
			}
			l[n - 1] = 0;
			if (strcmp(l + 1, CONFIG_GROUP) != 0) {
				g_set_error(err, G_KEY_FILE_ERROR,
					    G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
					    "%s:%zu: unknown section [%s] "
					    "(the only one is [%s])",
					    path, i + 1, l + 1, CONFIG_GROUP);
				r = -EINVAL;
				break;
			}
			in_group = true;
			continue;
		}
		eq = strchr(l, '=');
		if (!eq || eq == l) {
			g_set_error(err, G_KEY_FILE_ERROR,
				    G_KEY_FILE_ERROR_PARSE,
				    "%s:%zu: expected key=value, [section] "
				    "or # comment, got \"%s\"",
				    path, i + 1, l);
			r = -EINVAL;
			break;
		}
		*eq = 0;
		g_strchomp(l);
		if (!in_group) {
			g_set_error(err, G_KEY_FILE_ERROR,
				    G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
				    "%s:%zu: key \"%s\" before the [%s] "
				    "section header",
				    path, i + 1, l, CONFIG_GROUP);
			r = -EINVAL;
			break;
		}
		k = config_lookup(l);
		if (!k) {
			g_set_error(err, G_KEY_FILE_ERROR,
				    G_KEY_FILE_ERROR_KEY_NOT_FOUND,
				    "%s:%zu: unknown key \"%s\"", path, i + 1,
				    l);
			r = -EINVAL;
			break;
		}
		if (lines[key_index(k)]) {
			g_set_error(err, G_KEY_FILE_ERROR,
				    G_KEY_FILE_ERROR_INVALID_VALUE,
				    "%s:%zu: %s: already set on line %zu (a "
				    "list is a;b;c on one line)",
				    path, i + 1, l, lines[key_index(k)]);
			r = -EINVAL;
			break;
		}
		lines[key_index(k)] = i + 1;
	}
	g_strfreev(v);
	return r;
}

static int config_load_key(struct config *c, GKeyFile *kf,
			   const struct config_key *k, const char *origin,
			   GError **err)
{
	GError *e = NULL;
	int r = 0;

	if (k->type == CONFIG_PATH_LIST) {
		char **list = g_key_file_get_string_list(kf, CONFIG_GROUP,
							 k->name, NULL, &e);
		char ***dst = field(c, k);
		size_t i;

		if (!list) {
			/* "key=" is an empty list */
			if (g_error_matches(e, G_KEY_FILE_ERROR,
					    G_KEY_FILE_ERROR_INVALID_VALUE)) {
				g_clear_error(&e);
				list = g_new0(char *, 1);
			} else {
				goto bad;
			}
		}
		g_strfreev(*dst);
		*dst = g_new0(char *, 1);
		for (i = 0; list[i] && r == 0; i++) {
			r = config_apply(c, k, list[i], true, origin, err);
		}
		g_strfreev(list);
		return r;
	} else {
		char *v = g_key_file_get_string(kf, CONFIG_GROUP, k->name, &e);

		if (!v) {
			goto bad;
		}
		r = config_apply(c, k, v, false, origin, err);
		g_free(v);
		return r;
	}
bad:
	g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		    "%s: %s", origin, e->message);
	g_error_free(e);
	return -EINVAL;
}

/*
 * The whole of a small text file, NUL-terminated, its length in *@len.
 * NULL with *@e = errno and @err set on failure.
 */
static char *read_text(const char *path, gsize *len, int *e, GError **err)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	*e = 0;
	if (!f) {
		*e = errno ? errno : EIO;
		g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(*e),
			    "cannot read config file %s: %s", path,
			    g_strerror(*e));
		return NULL;
	}
	buf = g_malloc(CONFIG_MAX_BYTES + 1);
	n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		*e = errno ? errno : EIO;
	} else if (n > CONFIG_MAX_BYTES) {
		*e = EFBIG;
	}
	fclose(f);
	if (*e) {
		g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(*e),
			    "cannot read config file %s: %s", path,
			    *e == EFBIG ? "larger than 64 KiB"
					: g_strerror(*e));
		g_free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

int config_load_file(struct config *c, const char *path, GError **err)
{
	size_t lines[CONFIG_MAX_KEYS] = { 0 };
	GKeyFile *kf = NULL;
	char **keys = NULL;
	char *text = NULL;
	GError *e = NULL;
	gsize len = 0, i;
	int r;

	text = read_text(path, &len, &r, err);
	if (!text) {
		return -r;
	}
	if (strlen(text) != len || !g_utf8_validate(text, (gssize)len, NULL)) {
		g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE,
			    "%s: not a UTF-8 text file", path);
		r = -EINVAL;
		goto out;
	}
	r = config_scan(path, text, lines, err);
	if (r) {
		goto out;
	}
	kf = g_key_file_new();
	if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &e)) {
		g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE,
			    "%s: %s", path, e->message);
		g_error_free(e);
		r = -EINVAL;
		goto out;
	}
	keys = g_key_file_get_keys(kf, CONFIG_GROUP, NULL, NULL);
	for (i = 0; keys && keys[i]; i++) {
		const struct config_key *k = config_lookup(keys[i]);
		char *origin;

		/* config_scan() let only known keys through */
		g_assert(k);
		origin = g_strdup_printf("%s:%zu: %s", path,
					 lines[key_index(k)], keys[i]);
		r = config_load_key(c, kf, k, origin, err);
		g_free(origin);
		if (r) {
			goto out;
		}
	}
out:
	g_strfreev(keys);
	if (kf) {
		g_key_file_unref(kf);
	}
	g_free(text);
	return r;
}

int config_finish(struct config *c, GError **err)
{
	const struct config_key *k = config_lookup("clocks");
	char msg[160];

	c->smear_id = c->smear == CONFIG_SMEAR_UTC_SLS
			      ? VIRTIO_RTC_SMEAR_UTC_SLS
			      : VIRTIO_RTC_SMEAR_NOON_LINEAR;
	if (rtcdev_config_parse(&c->vrtc, c->clocks, c->smear_id, err)) {
		g_prefix_error(err, "%s: ", config_origin_of(c, k));
		return -EINVAL;
	}
	if (config_check_sources(c, err)) {
		return -EINVAL;
	}
	c->metrics_sa_len = 0;
	if (c->metrics_address &&
	    control_parse_address(c->metrics_address, &c->metrics_sa,
				  &c->metrics_sa_len, msg, sizeof(msg))) {
		k = config_lookup("metrics-address");
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s: %s", config_origin_of(c, k), msg);
		return -EINVAL;
	}
	c->vrtc.alarm = c->alarm;
	k = config_lookup("alarm-clocks");
	if (rtcdev_config_set_alarm_clocks(&c->vrtc, c->alarm_clocks, err)) {
		g_prefix_error(err, "%s: ", config_origin_of(c, k));
		return -EINVAL;
	}
	return 0;
}

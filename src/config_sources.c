// SPDX-License-Identifier: MIT
/*
 * The time sources in the configuration: each registered kind's keys
 * checked (its own limit, its own combinations), and the list of
 * sources the discipline opens, in registry order.
 */
#include <errno.h>

#include "config.h"
#include "config_table.h"
#include "discipline.h"

/* The most sources of kind @i: its own bound, or what the others leave. */
static unsigned int kind_limit(const struct key_table *t, size_t i)
{
	unsigned int others = 0;

	if (t->kinds[i]->max_sources) {
		return t->kinds[i]->max_sources;
	}
	for (size_t j = 0; j < t->n_kinds; j++) {
		if (j != i) {
			others += t->kinds[j]->max_sources;
		}
	}
	/* the registry's own bounds leave room: a build mistake if not */
	g_assert(others < DISCIPLINE_MAX_SOURCES);
	return DISCIPLINE_MAX_SOURCES - others;
}

/*
 * The time sources: each kind within its limit and its own keys
 * consistent; and one source at least, or the fallback (the last kind,
 * on by default) was turned off with nothing else configured.
 */
int config_check_sources(const struct config *c, GError **err)
{
	const struct key_table *t = config_key_table();
	const char *origin[CONFIG_MAX_KEYS] = { NULL };
	unsigned int total = 0;
	size_t i, m;
	int r;

	for (i = 0; i < t->n_kinds; i++) {
		const struct source_kind *kind = t->kinds[i];
		unsigned int n = kind->count(c->source[i]);

		for (m = 0; m < kind->n_keys; m++) {
			origin[m] = config_origin_of(c, &t->k[t->first[i] + m]);
		}
		if (n > kind_limit(t, i)) {
			g_set_error(err, G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "%s: at most %u %s",
				    kind->n_keys ? origin[0] : kind->name,
				    kind_limit(t, i), kind->plural);
			return -EINVAL;
		}
		r = kind->check ? kind->check(c->source[i], origin, err) : 0;
		if (r < 0) {
			return r;
		}
		total += n;
	}
	if (total == 0) {
		GString *others = g_string_new(NULL);

		for (i = 0; i + 1 < t->n_kinds; i++) {
			g_string_append_printf(others, "%s%s", i ? ", " : "",
					       t->kinds[i]->name);
		}
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s: off, and no other time source (%s) is "
			    "configured",
			    config_origin_of(c, &t->k[t->first[i]]),
			    others->str);
		g_string_free(others, TRUE);
		return -EINVAL;
	}
	return 0;
}

int config_check_sources_host(const struct config *c, GError **err)
{
	const struct key_table *t = config_key_table();
	const char *origin[CONFIG_MAX_KEYS] = { NULL };

	for (size_t i = 0; i < t->n_kinds; i++) {
		const struct source_kind *kind = t->kinds[i];
		int r;

		if (!kind->check_host) {
			continue;
		}
		for (size_t m = 0; m < kind->n_keys; m++) {
			origin[m] = config_origin_of(c, &t->k[t->first[i] + m]);
		}
		r = kind->check_host(c->source[i], origin, err);
		if (r < 0) {
			return r;
		}
	}
	return 0;
}

const void *config_source(const struct config *c,
			  const struct source_kind *kind)
{
	const struct key_table *t = config_key_table();

	for (size_t i = 0; i < t->n_kinds; i++) {
		if (t->kinds[i] == kind) {
			return c->source[i];
		}
	}
	return NULL;
}

int config_sources(const struct config *c, const struct source_conf *base,
		   unsigned int max, struct source_conf *conf,
		   const struct source_ops **ops, GError **err)
{
	const struct key_table *t = config_key_table();
	unsigned int n = 0;

	for (size_t i = 0; i < t->n_kinds; i++) {
		unsigned int count = t->kinds[i]->count(c->source[i]);

		for (unsigned int j = 0; j < count; j++) {
			if (n == max) {
				g_set_error(err, G_OPTION_ERROR,
					    G_OPTION_ERROR_BAD_VALUE,
					    "%s: too many time sources (at "
					    "most %u)",
					    t->kinds[i]->name, max);
				return -E2BIG;
			}
			conf[n] = *base;
			conf[n].settings = c->source[i];
			conf[n].index = j;
			ops[n] = t->kinds[i]->ops;
			n++;
		}
	}
	return (int)n;
}

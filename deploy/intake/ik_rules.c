/* ik_rules.c — fake-intake's failure rules: parsed from --fail specs and
 * /_intake/fail, matched against each request's path. Contract: ik_server.h. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ik_server.h"

/* Parses one "--fail" spec or control JSON into a rule; returns an error text or NULL. */
const char *ik_rule_check(struct rule *r)
{
	if (!r->path[0])
		return "a rule needs a path (or *)";
	if (r->status && (r->status < 100 || r->status > 599))
		return "status must be 100..599";
	if (r->delay_ms < 0 || r->delay_ms > 600000)
		return "delay_ms must be 0..600000";
	if (!r->status && !r->delay_ms && !r->reset)
		return "a rule needs status, delay_ms or reset";
	if (r->count == 0 || r->count < -1)
		return "count must be positive (omit it for always)";
	return NULL;
}

int ik_parse_long(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

const char *ik_rule_from_spec(const char *spec, struct rule *r)
{
	memset(r, 0, sizeof(*r));
	r->count = -1;
	char buf[2048];
	if (strlen(spec) >= sizeof(buf))
		return "spec too long";
	strcpy(buf, spec);
	char *save = NULL;
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return "expected key=value";
		*eq = '\0';
		const char *k = kv, *v = eq + 1;
		long n = 0;
		if (strcmp(k, "path") == 0) {
			if (strlen(v) >= sizeof(r->path))
				return "path too long";
			strcpy(r->path, v);
		} else if (ik_parse_long(v, &n) < 0) {
			return "expected a number";
		} else if (strcmp(k, "status") == 0) {
			r->status = (int)(n > INT_MAX || n < 0 ? -1 : n);
		} else if (strcmp(k, "count") == 0) {
			r->count = n;
		} else if (strcmp(k, "delay_ms") == 0) {
			r->delay_ms = n;
		} else if (strcmp(k, "reset") == 0) {
			r->reset = n != 0;
		} else {
			return "unknown key (path, status, count, delay_ms, reset)";
		}
	}
	return ik_rule_check(r);
}

const char *ik_rule_add(struct server *s, const struct rule *r)
{
	if (s->nrules == IK_MAX_RULES)
		return "too many rules";
	s->rules[s->nrules++] = *r;
	return NULL;
}

/* Applies the first matching rule for each kind of failure, spending one
 * count of every rule that contributed. */
void ik_rules_apply(struct server *s, const char *path, int *status, long *delay_ms, int *reset)
{
	*status = 0;
	*delay_ms = 0;
	*reset = 0;
	for (size_t i = 0; i < s->nrules;) {
		struct rule *r = &s->rules[i];
		int used = 0;
		if (strcmp(r->path, "*") == 0 || strcmp(r->path, path) == 0) {
			if (r->status && !*status) {
				*status = r->status;
				used = 1;
			}
			if (r->delay_ms && !*delay_ms) {
				*delay_ms = r->delay_ms;
				used = 1;
			}
			if (r->reset && !*reset) {
				*reset = 1;
				used = 1;
			}
		}
		if (used && r->count > 0 && --r->count == 0) {
			memmove(r, r + 1, (s->nrules - i - 1) * sizeof(*r));
			s->nrules--;
			continue;
		}
		i++;
	}
}

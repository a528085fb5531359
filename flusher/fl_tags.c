/* fl_tags.c — see fl_tags.h. */
#include "fl_tags.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tags.h"
#include "utf8.h"

struct kv {
    const char *k, *v;
    size_t kl, vl;
    bool lower; /* copy v lower-cased */
};

struct set {
    struct kv t[FL_TAGS_MAX];
    size_t n;
};

/* Later values replace earlier ones of the same key (DD_TAGS comes last). */
static void put(struct set *s, const char *k, size_t kl, const char *v, size_t vl, bool lower)
{
    if (!v || vl == 0)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i].kl == kl && !memcmp(s->t[i].k, k, kl)) {
            s->t[i] = (struct kv){k, v, kl, vl, lower};
            return;
        }
    if (s->n < FL_TAGS_MAX)
        s->t[s->n++] = (struct kv){k, v, kl, vl, lower};
}

static void puts_(struct set *s, const char *k, const char *v, bool lower)
{
    if (v)
        put(s, k, strlen(k), v, strlen(v), lower);
}

static int kv_cmp(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    size_t m = x->kl < y->kl ? x->kl : y->kl;
    int c = memcmp(x->k, y->k, m);
    return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

const char *fl_tags_partition(const char *region)
{
    if (region && !strncmp(region, "cn-", 3))
        return "aws-cn";
    if (region && !strncmp(region, "us-gov-", 7))
        return "aws-us-gov";
    return "aws";
}

static const char *nz(const char *s)
{
    return s && s[0] ? s : NULL;
}

int fl_tags_build(const struct fl_tags_src *src, struct fl_tags *out)
{
    struct set s = {.n = 0};
    char resource[512], arn[1024], mem[16];
    const char *name = nz(src->fn_name), *region = nz(src->region),
               *account = nz(src->account_id), *q = nz(src->qualifier);
    bool versioned = q && strcmp(q, "$LATEST") != 0;

    out->n = 0;
    out->joined[0] = '\0';
    puts_(&s, "functionname", name, false);
    puts_(&s, "region", region, false);
    puts_(&s, "account_id", account, false);
    puts_(&s, "aws_account", account, false);
    if (name) {
        if (versioned) {
            int w = snprintf(resource, sizeof resource, "%s:%s", name, q);
            if (w < 0 || (size_t)w >= sizeof resource)
                return -1;
            puts_(&s, "resource", resource, false);
            puts_(&s, "executedversion", q, false);
        } else {
            puts_(&s, "resource", name, false);
        }
    }
    if (name && region && account) {
        int w = snprintf(arn, sizeof arn, "arn:%s:lambda:%s:%s:function:%s",
                         fl_tags_partition(region), region, account, name);
        if (w < 0 || (size_t)w >= sizeof arn)
            return -1;
        puts_(&s, "function_arn", arn, true);
    }
    if (src->memory_mb) {
        snprintf(mem, sizeof mem, "%u", (unsigned)src->memory_mb);
        puts_(&s, "memorysize", mem, false);
    }
    puts_(&s, "runtime", nz(src->runtime), false);
    puts_(&s, "architecture", nz(src->architecture), false);
    puts_(&s, "init_type", nz(src->init_type), false);
    puts_(&s, "dd_extension_version", FL_EXTENSION_VERSION, false);
    puts_(&s, "env", nz(src->env), false);
    puts_(&s, "version", nz(src->version), false);
    puts_(&s, "service", nz(src->service), true);
    struct tag_item it;
    for (const char *c = src->dd_tags ? src->dd_tags : ""; tags_next(&c, &it);)
        put(&s, it.key, it.key_len, it.value, it.value_len, false);
    qsort(s.t, s.n, sizeof s.t[0], kv_cmp);

    size_t at = 0, jt = 0;
    for (size_t i = 0; i < s.n; i++) {
        const struct kv *t = &s.t[i];
        size_t len = t->kl + 1 + t->vl;
        if (at + len + 1 > sizeof out->store || jt + len + 2 > sizeof out->joined) {
            out->n = 0;
            out->joined[0] = '\0';
            return -1;
        }
        char *d = out->store + at;
        memcpy(d, t->k, t->kl);
        d[t->kl] = ':';
        for (size_t j = 0; j < t->vl; j++)
            d[t->kl + 1 + j] = t->lower ? (char)tolower((unsigned char)t->v[j]) : t->v[j];
        d[len] = '\0';
        if (len > MET_TAG_MAX || !utf8_text_ok(d, len) || strchr(d, ','))
            continue; /* a tag the intake would refuse or split */
        out->tags[out->n++] = (struct met_str){d, len};
        at += len + 1;
        if (jt)
            out->joined[jt++] = ',';
        memcpy(out->joined + jt, d, len);
        jt += len;
        out->joined[jt] = '\0';
    }
    return 0;
}

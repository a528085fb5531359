/* intake_retry.c — see intake_int.h. What is sent (a payload: URL,
 * headers with the key, the body compressed once) and where it waits when
 * its attempts are used up (the retry buffer, bounded, oldest out first). */
#include "intake_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <zstd.h>

#include "intake_proxy.h"

void fl_payload_free(struct payload *p)
{
    if (p == NULL)
        return;
    free(p->url);
    curl_slist_free_all(p->hdrs);
    free(p->body);
    free(p);
}

size_t fl_payload_cost(const struct payload *p)
{
    return p->len + strlen(p->url) + 64;
}

static bool header_ok(const char *h)
{
    size_t n = strnlen(h, FL_INTAKE_HEADER_MAX);
    if (n == 0 || n >= FL_INTAKE_HEADER_MAX)
        return false;
    const char *colon = strchr(h, ':');
    if (colon == NULL || colon == h)
        return false;
    for (const char *p = h; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return false;
    for (const char *p = h; p < colon; p++)
        if (*p == ' ' || *p == '\t')
            return false;
    return true;
}

bool fl_payload_append_hdr(struct curl_slist **l, const char *fmt, ...)
{
    char line[FL_INTAKE_HEADER_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof line)
        return false;
    struct curl_slist *n = curl_slist_append(*l, line);
    if (n == NULL)
        return false;
    *l = n;
    return true;
}

struct payload *fl_payload_build(struct fl_intake *in, const struct fl_post *r, bool get, char *err,
                                 size_t errlen)
{
    if (r->url == NULL || strnlen(r->url, URL_MAX) >= URL_MAX ||
        (strncmp(r->url, "https://", 8) != 0 && strncmp(r->url, "http://", 7) != 0)) {
        errbuf_set(err, errlen, "post: URL missing, too long or not http(s)");
        return NULL;
    }
    if (!get && (r->len > FL_INTAKE_BODY_MAX || (r->len > 0 && r->body == NULL))) {
        errbuf_set(err, errlen, "post: body over %u bytes or missing", FL_INTAKE_BODY_MAX);
        return NULL;
    }
    if (r->content_type && (strnlen(r->content_type, 128) >= 128 || strpbrk(r->content_type, "\r\n"))) {
        errbuf_set(err, errlen, "post: bad content type");
        return NULL;
    }
    size_t nh = 0;
    if (r->headers)
        for (; r->headers[nh]; nh++)
            if (nh >= FL_INTAKE_HEADERS_MAX || !header_ok(r->headers[nh])) {
                errbuf_set(err, errlen, "post: more than %u extra headers, or a malformed one",
                        FL_INTAKE_HEADERS_MAX);
                return NULL;
            }

    if (in->api_key[0] == '\0') {
        errbuf_set(err, errlen, "post: the API key is not known yet");
        return NULL;
    }
    struct payload *p = calloc(1, sizeof *p);
    if (p == NULL)
        goto oom;
    p->url = strdup(r->url);
    p->tag = r->tag;
    p->get = get;
    p->proxied = fl_proxy_applies(r->url, in->proxy, in->no_proxy);
    if (p->url == NULL)
        goto oom;
    bool ok = fl_payload_append_hdr(&p->hdrs, "DD-API-KEY: %s", in->api_key);
    /* no 100-continue round trip before the body */
    ok = ok && fl_payload_append_hdr(&p->hdrs, "Expect:");
    if (r->content_type && !get)
        ok = ok && fl_payload_append_hdr(&p->hdrs, "Content-Type: %s", r->content_type);
    for (size_t i = 0; ok && i < nh; i++)
        ok = fl_payload_append_hdr(&p->hdrs, "%s", r->headers[i]);
    if (!get && r->compress) {
        size_t cap = ZSTD_compressBound(r->len);
        p->body = malloc(cap ? cap : 1);
        if (p->body == NULL)
            goto oom;
        size_t z = ZSTD_compress(p->body, cap, r->body, r->len, in->zstd_level);
        if (ZSTD_isError(z)) {
            errbuf_set(err, errlen, "post: zstd: %s", ZSTD_getErrorName(z));
            fl_payload_free(p);
            return NULL;
        }
        p->len = z;
        ok = ok && fl_payload_append_hdr(&p->hdrs, "Content-Encoding: zstd");
    } else if (!get) {
        p->body = malloc(r->len ? r->len : 1);
        if (p->body == NULL)
            goto oom;
        if (r->len)
            memcpy(p->body, r->body, r->len);
        p->len = r->len;
    }
    if (!ok)
        goto oom;
    return p;
oom:
    fl_payload_free(p);
    errbuf_set(err, errlen, "post: out of memory");
    return NULL;
}

bool fl_retry_keep(struct fl_intake *in, struct payload *p, struct flush *fl)
{
    size_t cost = fl_payload_cost(p);
    if (cost > in->retry_cap) {
        in->st.dropped++;
        in->st.dropped_bytes += p->len;
        return false;
    }
    while (in->kept_head && in->st.kept_bytes + cost > in->retry_cap) {
        struct payload *old = in->kept_head;
        in->kept_head = old->next;
        if (in->kept_head == NULL)
            in->kept_tail = NULL;
        in->st.kept--;
        in->st.kept_bytes -= fl_payload_cost(old);
        in->st.dropped++;
        in->st.dropped_bytes += old->len;
        struct fl_post_result r = {.tag = old->tag, .outcome = FL_DROPPED};
        snprintf(r.error, sizeof r.error, "retry buffer full (%zu bytes): oldest payload dropped",
                 in->retry_cap);
        fl_payload_free(old);
        if (fl)
            fl_intake_report(fl, &r);
    }
    p->next = NULL;
    if (in->kept_tail)
        in->kept_tail->next = p;
    else
        in->kept_head = p;
    in->kept_tail = p;
    in->st.kept++;
    in->st.kept_bytes += cost;
    return true;
}

void fl_retry_free(struct fl_intake *in)
{
    while (in->kept_head) {
        struct payload *p = in->kept_head;
        in->kept_head = p->next;
        fl_payload_free(p);
    }
}

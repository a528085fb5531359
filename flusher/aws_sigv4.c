/* aws_sigv4.c — see aws_sigv4.h. Follows AWS's "Create a signed AWS API
 * request" steps: canonical request, string to sign, derived key, signature. */
#include "aws_sigv4.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "errbuf.h"

#define NAME_MAX_LEN 64u
#define VALUE_MAX_LEN 4096u

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data ? data : (const void *)"", len, md);
    to_hex(md, sizeof md, hex);
}

void sigv4_amz_date(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y%m%dT%H%M%SZ", &tm);
}

static bool hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int olen = 0;
    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen) != NULL &&
           olen == 32;
}

/* A growing string with a hard cap; any overflow sticks. */
struct sbuf {
    char *p;
    size_t cap, len;
    bool over;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->over || b->len + n + 1 > b->cap) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_put(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

/* Header value as signed: surrounding blanks removed, inner runs of blanks
 * folded into one space. */
static void sb_put_trimmed(struct sbuf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    bool blank = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            blank = true;
            continue;
        }
        if (blank)
            sb_putn(b, " ", 1);
        blank = false;
        sb_putn(b, v, 1);
    }
}

struct lhdr {
    char name[NAME_MAX_LEN];
    const char *value;
    size_t order; /* input position: repeated names keep their order */
};

static int lhdr_cmp(const void *a, const void *b)
{
    const struct lhdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

int sigv4_sign(const struct sigv4_request *r, const struct sigv4_scope *s, struct sigv4_result *out,
               char *err, size_t errlen)
{
    if (!r || !s || !out || !r->method || !r->path || !s->access_key_id || !s->secret_access_key ||
        !s->region || !s->service || !s->amz_date) {
        errbuf_set(err, errlen, "sigv4: missing input");
        return -1;
    }
    if (strlen(s->amz_date) != SIGV4_DATE_LEN || s->amz_date[8] != 'T' || s->amz_date[15] != 'Z') {
        errbuf_set(err, errlen, "sigv4: X-Amz-Date is not YYYYMMDDTHHMMSSZ");
        return -1;
    }
    if (r->nheaders == 0 || r->nheaders > SIGV4_HEADERS_MAX || (r->nheaders && !r->headers)) {
        errbuf_set(err, errlen, "sigv4: 1..%u headers to sign", SIGV4_HEADERS_MAX);
        return -1;
    }
    if (strlen(s->region) > 32 || strlen(s->service) > 32 || strlen(s->access_key_id) > 128 ||
        strlen(s->secret_access_key) > 128 || strpbrk(s->region, "/\n") || strpbrk(s->service, "/\n")) {
        errbuf_set(err, errlen, "sigv4: region, service or credentials malformed");
        return -1;
    }
    struct lhdr h[SIGV4_HEADERS_MAX];
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *n = r->headers[i].name, *v = r->headers[i].value;
        size_t nl = n ? strlen(n) : 0;
        if (nl == 0 || nl >= NAME_MAX_LEN || v == NULL || strlen(v) > VALUE_MAX_LEN) {
            errbuf_set(err, errlen, "sigv4: header %zu missing or too long", i);
            return -1;
        }
        for (size_t k = 0; k < nl; k++) {
            unsigned char c = (unsigned char)n[k];
            if (c <= 0x20 || c >= 0x7f || c == ':' || c == ';') {
                errbuf_set(err, errlen, "sigv4: header name %zu malformed", i);
                return -1;
            }
            h[i].name[k] = (char)tolower(c);
        }
        h[i].name[nl] = '\0';
        for (const char *q = v; *q; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t') {
                errbuf_set(err, errlen, "sigv4: header value %zu holds a control character", i);
                return -1;
            }
        h[i].value = v;
        h[i].order = i;
    }
    qsort(h, r->nheaders, sizeof h[0], lhdr_cmp);

    /* canonical headers and the signed-header list */
    char chdrs[SIGV4_CREQ_MAX];
    struct sbuf ch = {chdrs, sizeof chdrs, 0, false};
    struct sbuf sh = {out->signed_headers, sizeof out->signed_headers, 0, false};
    chdrs[0] = out->signed_headers[0] = '\0';
    for (size_t i = 0; i < r->nheaders; i++) {
        bool repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        if (repeat) {
            sb_put(&ch, ",");
        } else {
            if (i > 0) {
                sb_put(&ch, "\n");
                sb_put(&sh, ";");
            }
            sb_put(&ch, h[i].name);
            sb_put(&ch, ":");
            sb_put(&sh, h[i].name);
        }
        sb_put_trimmed(&ch, h[i].value);
    }
    sb_put(&ch, "\n");

    char body_hash[65];
    sigv4_sha256_hex(r->body, r->body_len, body_hash);
    struct sbuf cr = {out->creq, sizeof out->creq, 0, false};
    out->creq[0] = '\0';
    sb_put(&cr, r->method);
    sb_put(&cr, "\n");
    sb_put(&cr, r->path[0] ? r->path : "/");
    sb_put(&cr, "\n");
    sb_put(&cr, r->query ? r->query : "");
    sb_put(&cr, "\n");
    sb_put(&cr, chdrs);
    sb_put(&cr, "\n");
    sb_put(&cr, out->signed_headers);
    sb_put(&cr, "\n");
    sb_put(&cr, body_hash);
    if (ch.over || sh.over || cr.over) {
        errbuf_set(err, errlen, "sigv4: canonical request over %u bytes", SIGV4_CREQ_MAX);
        return -1;
    }

    char date[9];
    memcpy(date, s->amz_date, 8);
    date[8] = '\0';
    char creq_hash[65];
    sigv4_sha256_hex(out->creq, cr.len, creq_hash);
    int w = snprintf(out->string_to_sign, sizeof out->string_to_sign,
                     "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", s->amz_date, date, s->region,
                     s->service, creq_hash);
    if (w < 0 || (size_t)w >= sizeof out->string_to_sign) {
        errbuf_set(err, errlen, "sigv4: string to sign too long");
        return -1;
    }

    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
    char k0[4 + 129];
    snprintf(k0, sizeof k0, "AWS4%s", s->secret_access_key);
    unsigned char kd[32], kr[32], ks[32], kk[32], sig[32];
    bool ok = hmac(k0, strlen(k0), date, kd) && hmac(kd, 32, s->region, kr) && hmac(kr, 32, s->service, ks) &&
              hmac(ks, 32, "aws4_request", kk) && hmac(kk, 32, out->string_to_sign, sig);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(kd, sizeof kd);
    OPENSSL_cleanse(kr, sizeof kr);
    OPENSSL_cleanse(ks, sizeof ks);
    OPENSSL_cleanse(kk, sizeof kk);
    if (!ok) {
        errbuf_set(err, errlen, "sigv4: HMAC failed");
        return -1;
    }
    to_hex(sig, sizeof sig, out->signature);
    w = snprintf(out->authorization, sizeof out->authorization,
                 "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                 s->access_key_id, date, s->region, s->service, out->signed_headers, out->signature);
    if (w < 0 || (size_t)w >= sizeof out->authorization) {
        errbuf_set(err, errlen, "sigv4: Authorization header too long");
        return -1;
    }
    return 0;
}

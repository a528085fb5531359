/* fuzz_logs.c — libFuzzer target: the log batcher fed by the telemetry
 * parser (as lifecycle -> supervisor -> flusher would), every payload
 * checked to be valid JSON within the limits, then acked. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "logs.h"
#include "telemetry.h"

struct feed {
    struct fl_logs *b;
    uint64_t seq;
    struct lc_tele_linectx lines;
};

static int feed_record(const struct lc_tele_record *rec, void *arg)
{
    struct feed *f = arg;
    struct fl_logs_record r = {.seq = ++f->seq};
    if (rec->kind == LC_TELE_PLATFORM) {
        struct ft_platform m = rec->u.platform;
        lc_tele_pair(&f->lines, &m);
        fl_logs_add_platform(f->b, r.seq, &m);
        return 0;
    }
    const struct lc_tele_log *l = &rec->u.log;
    r.time_ms = l->time_ms;
    r.source = l->source;
    r.request_id = l->request_id;
    r.message = l->message;
    r.message_len = l->message_len;
    fl_logs_add(f->b, &r);
    return 0;
}

static void drain(struct fl_logs *b, const struct fl_logs_limits *lim, int round)
{
    struct fl_logs_payload p;
    while (fl_logs_take_payload(b, &p) == 1) {
        json_error_t err;
        json_t *arr = json_loadb(p.body, p.len, JSON_ALLOW_NUL, &err);
        if (!json_is_array(arr) || json_array_size(arr) != p.entries ||
            p.entries > lim->max_entries || p.len > lim->max_payload)
            __builtin_trap();
        json_decref(arr);
        /* Requeue once to exercise it, then deliver. */
        fl_logs_payload_done(b, &p, round == 0 ? FL_LOGS_REQUEUE : FL_LOGS_SENT);
        round = 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fl_logs_limits lim;
    fl_logs_limits_default(&lim);
    lim.max_entries = 7;
    lim.max_payload = 4096;
    lim.max_entry = 1024;
    lim.max_pending = 16384;
    struct fl_logs_ctx ctx = {.arn = "arn:aws:lambda:eu-west-1:1:function:F",
                              .service = "Svc", .tags = "env:x"};
    struct feed f = {.b = fl_logs_new(&ctx, &lim)};
    if (!f.b)
        return 0;
    struct lc_tele_limits tl;
    lc_tele_limits_default(&tl);
    tl.max_message = 2048;
    lc_telemetry_parse((const char *)data, size, &tl, feed_record, &f, NULL);
    drain(f.b, &lim, 0);
    fl_logs_release_held(f.b);
    drain(f.b, &lim, 1);
    if (fl_logs_ackable(f.b) != f.seq)
        __builtin_trap();
    fl_logs_free(f.b);
    return 0;
}

/* test_key_pending.c — the pipeline while the API key is being resolved
 * (fl_pipe_opts.key_pending): frames are taken, FT_FLUSH waits, nothing is
 * acked; a resolved key runs the waiting flush with everything received; a
 * failed one turns the pipe idle (all acked, flushes answered, nothing sent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "fl_pipe.h"
#include "frame.h"

static unsigned nflush_calls;
static size_t posts_in_last_call;
static bool last_has_logs;
static fl_post_done_fn last_each;
static fl_flush_done_fn last_done;
static void *last_arg;
static uint64_t last_tags[16];

static int fake_flush(void *sender, const struct fl_post *posts, size_t n, uint64_t deadline_us, unsigned flags,
                      fl_post_done_fn each, fl_flush_done_fn done, void *arg)
{
    (void)sender;
    (void)deadline_us;
    (void)flags;
    nflush_calls++;
    posts_in_last_call = n;
    last_has_logs = false;
    for (size_t i = 0; i < n && i < 16; i++) {
        last_tags[i] = posts[i].tag;
        if (strstr(posts[i].url, "/api/v2/logs") && memmem(posts[i].body, posts[i].len, "before key", 10))
            last_has_logs = true;
    }
    last_each = each;
    last_done = done;
    last_arg = arg;
    return 0;
}

static uint64_t last_ack;
static unsigned nflushed, nflushed_ok;

static void emit(struct frame_buf *fb, void *arg)
{
    (void)arg;
    assert_false(fb->err);
    frame_set_seq(fb->p, 1);
    struct frame f;
    char err[128];
    assert_int_equal(frame_decode(fb->p + FRAME_HDR_LEN, fb->len - FRAME_HDR_LEN, &f, err, sizeof err), 0);
    if (f.type == FT_ACK)
        last_ack = f.u.ack.upto;
    if (f.type == FT_FLUSHED) {
        nflushed++;
        nflushed_ok += f.u.flushed.ok;
    }
    frame_free(&f);
    frame_buf_free(fb);
}

static uint64_t in_seq;

static void feed(struct fl_pipe *p, struct frame_buf *fb)
{
    assert_false(fb->err);
    frame_set_seq(fb->p, ++in_seq);
    struct frame f;
    char err[128];
    assert_int_equal(frame_decode(fb->p + FRAME_HDR_LEN, fb->len - FRAME_HDR_LEN, &f, err, sizeof err), 0);
    fl_pipe_frame(p, &f);
    frame_free(&f);
    frame_buf_free(fb);
}

static void feed_log(struct fl_pipe *p, const char *msg)
{
    struct frame_buf fb = {0};
    const struct ft_log_record rec = {.time_ms = 1700000000000, .source = LOG_SRC_FUNCTION,
                                      .request_id = "req-1", .message = msg, .message_len = strlen(msg)};
    frame_encode_logs(&fb, &(struct ft_logs){.records = &rec, .n_records = 1});
    feed(p, &fb);
}

static void feed_flush(struct fl_pipe *p, uint64_t id)
{
    struct frame_buf fb = {0};
    frame_encode_flush(&fb, &(struct ft_flush){.flush_id = id, .budget_ms = 60000});
    feed(p, &fb);
}

static struct cfg C;
static int sender_dummy;

static struct fl_pipe *new_pipe(void)
{
    memset(&C, 0, sizeof C);
    snprintf(C.site, sizeof C.site, "datadoghq.com");
    snprintf(C.fn_name, sizeof C.fn_name, "fn");
    C.logs_enabled = true;
    C.enhanced_metrics = true;
    C.key_source = CFG_KEY_SECRET_ARN;
    struct fl_pipe_opts o = {.cfg = &C, .sender = &sender_dummy, .flush = fake_flush, .emit = emit,
                             .architecture = "x86_64", .key_pending = true};
    nflush_calls = 0;
    last_ack = 0;
    nflushed = nflushed_ok = 0;
    in_seq = 0;
    struct fl_pipe *p = fl_pipe_new(&o);
    assert_non_null(p);
    return p;
}

static void held_then_sent(void **st)
{
    (void)st;
    struct fl_pipe *p = new_pipe();
    for (int i = 0; i < 100; i++) /* more than the idle ack stride */
        feed_log(p, "before key");
    feed_flush(p, 1);
    assert_int_equal(nflush_calls, 0); /* waits for the key */
    assert_int_equal(nflushed, 0);
    assert_int_equal(last_ack, 0); /* nothing acked: the supervisor keeps it all */
    fl_pipe_key_ready(p, true);
    assert_int_equal(nflush_calls, 1);
    assert_true(last_has_logs);
    /* the intake delivers: now the data is acked and the flush answered */
    for (size_t i = 0; i < posts_in_last_call; i++) {
        struct fl_post_result r = {.tag = last_tags[i], .outcome = FL_OK};
        last_each(&r, last_arg);
    }
    struct fl_flush_summary s = {.posted = (unsigned)posts_in_last_call, .ok = (unsigned)posts_in_last_call};
    last_done(&s, last_arg);
    assert_int_equal(last_ack, 100); /* the last data frame */
    assert_int_equal(nflushed, 1);
    assert_int_equal(nflushed_ok, 1);
    fl_pipe_key_ready(p, true); /* a second call changes nothing */
    assert_int_equal(nflush_calls, 1);
    fl_pipe_free(p);
}

static void failed_goes_idle(void **st)
{
    (void)st;
    struct fl_pipe *p = new_pipe();
    feed_log(p, "before key");
    feed_log(p, "before key");
    feed_flush(p, 9);
    assert_int_equal(last_ack, 0);
    fl_pipe_key_ready(p, false);
    assert_int_equal(nflush_calls, 0); /* idle: nothing is sent */
    assert_int_equal(last_ack, 2);     /* everything received is done with */
    assert_int_equal(nflushed, 1);
    assert_int_equal(nflushed_ok, 1);
    feed_log(p, "after");
    feed_flush(p, 10);
    assert_int_equal(nflush_calls, 0);
    assert_int_equal(last_ack, 4);
    assert_int_equal(nflushed, 2);
    fl_pipe_free(p);
}

/* an invocation's end does not wait forever: the waiting flush is answered
 * "not done", nothing acked; the data goes with the first flush after the key */
static void wait_over_keeps_data(void **st)
{
    (void)st;
    struct fl_pipe *p = new_pipe();
    feed_log(p, "before key");
    feed_flush(p, 1);
    assert_int_equal(fl_pipe_key_wait_over(p, 60000000u, 0), 0); /* not waited long enough */
    assert_int_equal(nflushed, 0);
    assert_int_equal(fl_pipe_key_wait_over(p, 0, 0), 1);
    assert_int_equal(nflushed, 1);
    assert_int_equal(nflushed_ok, 0);
    assert_int_equal(last_ack, 0);
    assert_int_equal(nflush_calls, 0);
    fl_pipe_key_ready(p, true); /* nothing waits now: no flush yet */
    assert_int_equal(nflush_calls, 0);
    feed_flush(p, 2);
    assert_int_equal(nflush_calls, 1);
    assert_true(last_has_logs);
    fl_pipe_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(held_then_sent),
        cmocka_unit_test(failed_goes_idle),
        cmocka_unit_test(wait_over_keeps_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_refusal.c — common/refusal.c: per-reason counts, the first of each
 * reason logged once with an escaped, cut example, the summary, and the
 * counts sent to the supervisor as FT_REFUSED deltas over a real peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "frame.h"
#include "log.h"
#include "peer.h"
#include "refusal.h"

static char captured[8192];

static void sink(const char *line, size_t len, void *arg)
{
    (void)arg;
    size_t have = strlen(captured);
    if (have + len < sizeof captured) {
        memcpy(captured + have, line, len);
        captured[have + len] = '\0';
    }
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_names(void **st)
{
    (void)st;
    for (unsigned r = 0; r < REF_N; r++) {
        assert_non_null(refusal_name(r));
        assert_non_null(refusal_words(r));
        for (unsigned q = 0; q < r; q++)
            assert_string_not_equal(refusal_name(r), refusal_name(q));
    }
    assert_null(refusal_name(REF_N));
    /* numbers cross processes: the first ones never move */
    assert_string_equal(refusal_name(REF_DSD_TOO_LARGE), "dogstatsd_datagram_too_large");
    assert_int_equal(REF_DSD_TOO_LARGE, 0);
}

static void test_log_once(void **st)
{
    (void)st;
    refusal_reset();
    captured[0] = '\0';
    log_set_sink(sink, NULL);
    log_set_level(LOG_INFO);
    char example[300];
    memset(example, 'a', sizeof example);
    memcpy(example, "bad\"line\n\x01", 10);
    refusal_note(REF_DSD_MALFORMED, 1, example, sizeof example);
    refusal_note(REF_DSD_MALFORMED, 5, "another", 7);
    refusal_note(REF_TELE_OVER_LIMIT, 3, NULL, 0);
    refusal_note(REF_TELE_OVER_LIMIT, 0, "nothing", 7); /* zero: no count, no line */
    assert_int_equal(refusal_count(REF_DSD_MALFORMED), 6);
    assert_int_equal(refusal_count(REF_TELE_OVER_LIMIT), 3);
    assert_int_equal(count_of(captured, "[dogstatsd_malformed]"), 1);
    assert_int_equal(count_of(captured, "[telemetry_records_over_limit]"), 1);
    assert_int_equal(count_of(captured, "WARN"), 2);
    /* escaped (one line), cut, with the full length */
    assert_non_null(strstr(captured, "e.g. \"bad\\\"line\\x0a\\x01aaaa"));
    assert_non_null(strstr(captured, "aaaa\"... (300 bytes)"));
    assert_null(strstr(captured, "another"));
    assert_int_equal(count_of(captured, "\n"), 2);
    char sum[256];
    refusal_summary(sum, sizeof sum);
    assert_string_equal(sum, "dogstatsd_malformed 6, telemetry_records_over_limit 3");
    refusal_reset();
    refusal_summary(sum, sizeof sum);
    assert_string_equal(sum, "none");
    log_set_sink(NULL, NULL);
}

struct got {
    uint64_t count[REF_N];
    int frames;
};

static void on_frame(struct peer *p, const struct frame *f, void *arg)
{
    (void)p;
    struct got *g = arg;
    if (f == NULL || f->type != FT_REFUSED)
        return;
    g->frames++;
    if (f->u.refused.reason < REF_N)
        g->count[f->u.refused.reason] += f->u.refused.count;
}

static void spin(struct event_base *b)
{
    for (int i = 0; i < 5; i++)
        event_base_loop(b, EVLOOP_NONBLOCK);
}

static void test_send_deltas(void **st)
{
    (void)st;
    refusal_reset();
    log_set_level(LOG_ERROR); /* the first-of-reason lines are tested above */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct event_base *b = event_base_new();
    struct got g = {0};
    struct peer *child = peer_new(b, sv[0], "child", FRAME_DIR_S2F, 1 << 20, NULL, NULL);
    struct peer *sup = peer_new(b, sv[1], "sup", FRAME_DIR_F2S | FRAME_DIR_L2S, 1 << 20, on_frame, &g);
    assert_non_null(child);
    assert_non_null(sup);
    assert_int_equal(refusal_send(child), 0); /* nothing yet */
    refusal_note(REF_DSD_EVENT, 2, "_e{", 3);
    refusal_note(REF_TELE_ILL_TYPED, 1, "x", 1);
    assert_int_equal(refusal_send(child), 2);
    assert_int_equal(refusal_send(child), 0); /* all sent */
    refusal_note(REF_DSD_EVENT, 3, "_e{", 3);
    assert_int_equal(refusal_send(child), 1);
    spin(b);
    assert_int_equal(g.frames, 3);
    assert_int_equal(g.count[REF_DSD_EVENT], 5);
    assert_int_equal(g.count[REF_TELE_ILL_TYPED], 1);
    peer_free(child);
    peer_free(sup);
    event_base_free(b);
    refusal_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_log_once),
        cmocka_unit_test(test_send_deltas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* sup_spool.c — see sup_spool.h. A FIFO: frames are sent in arrival order
 * and acknowledged in seq order, so releasing from the head suffices. */
#include "sup_spool.h"

#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"

struct sup_spool_entry {
    struct sup_spool_entry *next;
    uint64_t seq; /* seq on the current flusher link, 0 = not sent on it */
    bool enh_done; /* a flusher delivered its enhanced metrics (FT_ACK enh_upto) */
    bool enh_marked; /* ... and its bytes say so (enh_done set in the frame) */
    size_t len;
    uint8_t bytes[];
};

void sup_spool_init(struct sup_spool *s, size_t max_bytes)
{
    memset(s, 0, sizeof *s);
    s->max_bytes = max_bytes;
    s->high = max_bytes;
    s->low = max_bytes;
}

void sup_spool_set_limits(struct sup_spool *s, size_t window, size_t high, size_t low)
{
    s->window = window;
    s->high = high < s->max_bytes ? high : s->max_bytes;
    s->low = low < s->high ? low : s->high;
}

void sup_spool_set_adaptive(struct sup_spool *s, bool on)
{
    s->adaptive = on;
}

/* Frames outstanding, and none acknowledged for SUP_SPOOL_STALL_US since
 * the later of the last ack and the moment frames became outstanding. */
static bool stalled(const struct sup_spool *s)
{
    if (s->intake_failing)
        return true;
    if (s->unacked == 0 || s->t_outstanding_us == 0)
        return false;
    uint64_t since = s->t_last_ack_us > s->t_outstanding_us ? s->t_last_ack_us : s->t_outstanding_us;
    return s->now_us > since + SUP_SPOOL_STALL_US;
}

void sup_spool_clock(struct sup_spool *s, uint64_t now_us)
{
    s->now_us = now_us;
    if (s->unacked == 0)
        s->t_outstanding_us = 0;
    else if (s->t_outstanding_us == 0)
        s->t_outstanding_us = now_us;
    if (s->acked_total != s->acked_seen) {
        s->acked_seen = s->acked_total;
        s->t_last_ack_us = now_us;
    }
}

void sup_spool_flushed(struct sup_spool *s, uint64_t ms, uint64_t sent, uint64_t failed)
{
    /* a flush that sent nothing and failed: the intake is not taking data */
    if (sent > 0)
        s->intake_failing = false;
    else if (failed > 0)
        s->intake_failing = true;
    /* the acks of a flush precede its FT_FLUSHED: what it delivered */
    size_t bytes = s->acked_bytes;
    s->acked_bytes = 0;
    if (bytes < SUP_SPOOL_RATE_MIN_BYTES)
        return; /* too little to tell a rate (and latency would dominate) */
    double r = (double)bytes * 1000.0 / (double)(ms ? ms : 1);
    s->rate_bps = s->rate_bps > 0 ? 0.5 * s->rate_bps + 0.5 * r : r;
    if (!s->adaptive)
        return;
    double h = s->rate_bps * SUP_SPOOL_DRAIN_MS / 1000.0;
    size_t high = h < SUP_SPOOL_HIGH_MIN ? SUP_SPOOL_HIGH_MIN : h > SUP_SPOOL_HIGH_MAX ? SUP_SPOOL_HIGH_MAX : (size_t)h;
    sup_spool_set_limits(s, s->window, high, high / 2);
}

int sup_spool_pressure(struct sup_spool *s)
{
    if (!s->full && s->bytes >= s->high && !stalled(s)) {
        s->full = true;
        s->pressure_on++;
        return 1;
    }
    if (s->full && (s->bytes <= s->low || stalled(s))) {
        s->full = false;
        return -1;
    }
    return 0;
}

static void drop_head(struct sup_spool *s)
{
    struct sup_spool_entry *e = s->head;
    s->head = e->next;
    if (s->head == NULL)
        s->tail = NULL;
    s->bytes -= e->len;
    if (e->seq)
        s->unacked -= e->len;
    s->frames--;
    free(e);
}

void sup_spool_clear(struct sup_spool *s)
{
    while (s->head)
        drop_head(s);
}

int sup_spool_add(struct sup_spool *s, const uint8_t *frame, size_t len)
{
    if (len > s->max_bytes)
        return -1;
    while (s->head && s->bytes + len > s->max_bytes) {
        drop_head(s);
        s->dropped++;
    }
    struct sup_spool_entry *e = malloc(sizeof *e + len);
    if (e == NULL)
        return -1;
    e->next = NULL;
    e->seq = 0;
    e->enh_done = e->enh_marked = false;
    e->len = len;
    memcpy(e->bytes, frame, len);
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    s->bytes += len;
    s->frames++;
    return 0;
}

bool sup_spool_pump(struct sup_spool *s, struct peer *flusher)
{
    if (flusher == NULL)
        return false;
    for (struct sup_spool_entry *e = s->head; e; e = e->next) {
        if (e->seq)
            continue;
        if (s->window && s->unacked > 0 && s->unacked + e->len > s->window) {
            s->window_waits++;
            return true;
        }
        uint64_t seq = peer_send(flusher, e->bytes, e->len);
        if (seq == 0)
            return false;
        e->seq = seq;
        s->unacked += e->len;
    }
    return false;
}

/* The entry's frame again, with enh_done set, in place of its bytes: a
 * replayed FT_PLATFORM or FT_INVOCATION whose enhanced metrics a flusher
 * delivered. Other types carry no enhanced metric and stay as they are.
 * Returns the entry to keep (the same one when nothing changed or on
 * failure: then the frame is replayed as it was, and may count twice). */
static struct sup_spool_entry *mark_enh_done(struct sup_spool *s, struct sup_spool_entry *e)
{
    e->enh_marked = true;
    uint32_t type = frame_bytes_type(e->bytes, e->len);
    if (type != FT_PLATFORM && type != FT_INVOCATION)
        return e;
    uint8_t *copy = malloc(e->len);
    if (copy == NULL)
        return e;
    memcpy(copy, e->bytes, e->len);
    frame_set_seq(copy, 1); /* spooled bytes may not be stamped yet; decode wants seq > 0 */
    struct frame f;
    char err[128];
    struct frame_buf fb = {0};
    struct sup_spool_entry *n = NULL;
    if (frame_decode(copy + FRAME_HDR_LEN, e->len - FRAME_HDR_LEN, &f, err, sizeof err) != 0) {
        log_warn("spool: a replayed frame could not be marked (%s): its enhanced metrics may count twice", err);
        free(copy);
        return e;
    }
    if (type == FT_PLATFORM)
        f.u.platform.enh_done = f.u.platform.has_enh_done = true;
    else
        f.u.invocation.enh_done = f.u.invocation.has_enh_done = true;
    if (frame_encode(&fb, &f) == 0 && !fb.err && (n = malloc(sizeof *n + fb.len)) != NULL) {
        *n = *e;
        n->len = fb.len;
        memcpy(n->bytes, fb.p, fb.len);
        s->bytes = s->bytes - e->len + fb.len;
    }
    frame_buf_free(&fb);
    frame_free(&f);
    free(copy);
    return n ? n : e;
}

void sup_spool_unsend(struct sup_spool *s)
{
    struct sup_spool_entry *prev = NULL;
    for (struct sup_spool_entry *e = s->head; e; prev = e, e = e->next) {
        e->seq = 0;
        if (e->enh_done && !e->enh_marked) {
            struct sup_spool_entry *n = mark_enh_done(s, e);
            if (n != e) {
                if (prev)
                    prev->next = n;
                else
                    s->head = n;
                if (s->tail == e)
                    s->tail = n;
                free(e);
                e = n;
            }
        }
    }
    s->unacked = 0;
}

void sup_spool_ack_enh(struct sup_spool *s, uint64_t enh_upto)
{
    for (struct sup_spool_entry *e = s->head; e && e->seq != 0 && e->seq <= enh_upto; e = e->next)
        e->enh_done = true;
}

void sup_spool_ack(struct sup_spool *s, uint64_t upto)
{
    while (s->head && s->head->seq != 0 && s->head->seq <= upto) {
        s->acked_bytes += s->head->len;
        s->acked_total += s->head->len;
        drop_head(s);
        s->delivered++;
    }
}

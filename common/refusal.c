/* refusal.c — the per-process tally of refused input (refusal.h). */
#include "refusal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "peer.h"

static const char *const names[REF_N] = {
#define REFUSAL(C, name, words) [REF_##C] = name,
#include "refusals.def"
#undef REFUSAL
};
static const char *const words_of[REF_N] = {
#define REFUSAL(C, name, words) [REF_##C] = words,
#include "refusals.def"
#undef REFUSAL
};

static uint64_t counts[REF_N], sent[REF_N];
static bool logged[REF_N];

const char *refusal_name(unsigned r)
{
    return r < REF_N ? names[r] : NULL;
}

const char *refusal_words(unsigned r)
{
    return r < REF_N ? words_of[r] : NULL;
}

void refusal_note(enum refusal r, uint64_t n, const char *example, size_t len)
{
    if ((unsigned)r >= REF_N || n == 0)
        return;
    counts[r] = counts[r] + n < counts[r] ? UINT64_MAX : counts[r] + n;
    if (logged[r])
        return;
    logged[r] = true;
    /* printable ASCII only: whatever was sent, the log line stays one line */
    char ex[REFUSAL_EXAMPLE_MAX * 4 + 8];
    size_t o = 0;
    size_t cut = len > REFUSAL_EXAMPLE_MAX ? REFUSAL_EXAMPLE_MAX : len;
    for (size_t i = 0; example && i < cut; i++) {
        unsigned char c = (unsigned char)example[i];
        if (c == '\\' || c == '"') {
            ex[o++] = '\\';
            ex[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            ex[o++] = (char)c;
        } else {
            o += (size_t)snprintf(ex + o, sizeof ex - o, "\\x%02x", c);
        }
    }
    ex[o] = '\0';
    if (example == NULL)
        log_warn("refused: %s [%s]; logged once, later ones are counted only", words_of[r], names[r]);
    else
        log_warn("refused: %s [%s], e.g. \"%s\"%s (%zu bytes); logged once, later ones are counted only",
                 words_of[r], names[r], ex, len > cut ? "..." : "", len);
}

uint64_t refusal_count(enum refusal r)
{
    return (unsigned)r < REF_N ? counts[r] : 0;
}

unsigned refusal_send(struct peer *p)
{
    unsigned n = 0;
    if (p == NULL)
        return 0;
    for (unsigned r = 0; r < REF_N; r++) {
        if (counts[r] == sent[r])
            continue;
        struct frame_buf fb = {0};
        uint64_t delta = counts[r] - sent[r];
        frame_encode_refused(&fb, &(struct ft_refused){.reason = r, .count = delta});
        if (peer_send_buf(p, &fb) != 0) {
            sent[r] = counts[r];
            n++;
        }
        frame_buf_free(&fb);
    }
    return n;
}

void refusal_summary(char *buf, size_t len)
{
    if (len == 0)
        return;
    size_t o = 0;
    buf[0] = '\0';
    for (unsigned r = 0; r < REF_N && o < len; r++)
        if (counts[r])
            o += (size_t)snprintf(buf + o, len - o, "%s%s %llu", o ? ", " : "", names[r],
                                  (unsigned long long)counts[r]);
    if (o == 0)
        snprintf(buf, len, "none");
}

void refusal_reset(void)
{
    memset(counts, 0, sizeof counts);
    memset(sent, 0, sizeof sent);
    memset(logged, 0, sizeof logged);
}

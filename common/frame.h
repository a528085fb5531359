/* frame.h — the frames of frames.def as C: one struct per frame, its
 * encoder (msgpack-c's packer) and decoder (msgpack-c, after the bounded
 * walk of mpwalk.h), the validation table and the names used in logs.
 * frames.def documents every frame and the wire format; this header only
 * generates from it. */
#ifndef FORKCAP_FRAME_H
#define FORKCAP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_VERSION 1u
#define FRAME_HDR_LEN 4u
#define FRAME_MAX (2u * 1024u * 1024u) /* payload bytes, after the prefix */

/* Decoding limits beyond FRAME_MAX: nesting depth, total values, body keys. */
#define FRAME_DEPTH_MAX 8u
#define FRAME_NODES_MAX 262144u
#define FRAME_BODY_KEYS_MAX 64u
#define FRAME_ERR_MAX 128u

/* Fixed offsets in a finished frame (prefix included): the header is
 * [len:4][0x94][version fixint][0xcc type][0xcf seq:8][body map]. */
#define FRAME_OFF_TYPE 7u
#define FRAME_OFF_SEQ 9u
#define FRAME_OFF_BODY 17u

/* Directions a frame type may travel (frame_type_dirs). */
#define FRAME_DIR_L2S 0x1u
#define FRAME_DIR_S2L 0x2u
#define FRAME_DIR_S2F 0x4u
#define FRAME_DIR_F2S 0x8u

enum frame_type {
#define FRAME(NAME, name, num, dirs, FIELDS) FT_##NAME = num,
#include "frames.def"
#undef FRAME
};

enum platform_event {
#define PLATFORM_EVENT(NAME, str) PE_##NAME,
#include "frames.def"
#undef PLATFORM_EVENT
    PE_COUNT
};

enum log_source {
#define LOG_SOURCE(NAME, num, str) LOG_SRC_##NAME = num,
#include "frames.def"
#undef LOG_SOURCE
};
#define LOG_SRC_MAX LOG_SRC_PLATFORM

/* One FT_LOGS record. message is NUL-terminated after decoding and may
 * hold NUL bytes before message_len; request_id NULL = nil. */
struct ft_log_record {
    int64_t time_ms;
    enum log_source source;
    const char *request_id;
    const char *message;
    size_t message_len;
};

/* ---- one struct per frame ----------------------------------------------- */
#define FT_DECL_STR(n) const char *n;
#define FT_DECL_UINT(n) uint64_t n;
#define FT_DECL_INT(n) int64_t n;
#define FT_DECL_FLOAT(n) double n;
#define FT_DECL_BOOL(n) bool n;
#define FT_DECL_EVENT(n) enum platform_event n;
#define FT_DECL_LOGRECS(n) const struct ft_log_record *n; uint32_t n_##n;
#define FT_DECL_BIN(n) const uint8_t *n; size_t n##_len;
#define FT_HAS_R(T, n)
#define FT_HAS_O(T, n) FT_HASO_##T(n)
#define FT_HASO_STR(n)
#define FT_HASO_UINT(n) bool has_##n;
#define FT_HASO_INT(n) bool has_##n;
#define FT_HASO_FLOAT(n) bool has_##n;
#define FT_HASO_BOOL(n) bool has_##n;
#define FT_HASO_EVENT(n) bool has_##n;
#define FT_HASO_LOGRECS(n)
#define FT_HASO_BIN(n)
#define FIELD(n, T, Q) FT_DECL_##T(n) FT_HAS_##Q(T, n)
/* reserved_: C has no empty struct (FT_GO has no field); never on the wire */
#define FRAME(NAME, name, num, dirs, FIELDS) struct ft_##name { FIELDS char reserved_; };
#include "frames.def"
#undef FRAME
#undef FIELD

struct msgpack_zone;

/* A decoded, validated frame; u.<name> is the member for `type`. Owns its
 * storage (strings, records): frame_free() it. */
struct frame {
    uint32_t version;
    uint32_t type;
    uint64_t seq;
    union {
#define FRAME(NAME, name, num, dirs, FIELDS) struct ft_##name name;
#include "frames.def"
#undef FRAME
    } u;
    struct msgpack_zone *zone;
};

/* A frame being sent: prefix included, built by frame_encode_*(). Errors
 * (allocation, payload over FRAME_MAX) are sticky. */
struct frame_buf {
    uint8_t *p;
    size_t len, cap;
    bool err;
};

/* ---- encode / decode ------------------------------------------------------
 * frame_encode_<name>: replace fb's content with the finished frame (seq 0,
 * stamped by the sender: frame_set_seq / peer_send). 0, or -1 when the
 * frame is unusable (out of memory, over FRAME_MAX, a field out of range).
 * frame_decode_<name>: frame_decode, and the frame must be of that type.
 * frame_equal_<name>: same fields present with the same values. */
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    int frame_encode_##name(struct frame_buf *fb, const struct ft_##name *m);                      \
    int frame_decode_##name(const uint8_t *payload, size_t len, struct frame *out, char *err,      \
                            size_t errlen);                                                        \
    bool frame_equal_##name(const struct ft_##name *a, const struct ft_##name *b);
#include "frames.def"
#undef FRAME

/* Encode a decoded frame again (same type and fields), e.g. to spool it. */
int frame_encode(struct frame_buf *fb, const struct frame *f);

/* Decode one payload (the bytes after the prefix): the bounded walk, then
 * msgpack-c, then the shape, version, type, seq > 0 and every listed
 * field's type and presence. Returns 0, or -1 with a reason in err
 * (NUL-terminated, at most errlen bytes); `out` is then empty. */
int frame_decode(const uint8_t *payload, size_t len, struct frame *out, char *err, size_t errlen);
void frame_free(struct frame *f);

/* Frame-size prefix: returns the payload length, or 0 when it is 0 or
 * larger than FRAME_MAX (a protocol error). */
uint32_t frame_hdr_len(const uint8_t hdr[FRAME_HDR_LEN]);

/* Which directions (FRAME_DIR_*) a type may travel; 0 = unknown type. */
unsigned frame_type_dirs(uint32_t type);
/* "INVOKE", ...; "UNKNOWN" for a number no frame has. */
const char *frame_type_name(uint32_t type);

/* The type of a finished frame (frame_encode_* output, prefix included);
 * 0 when the bytes are not one. */
uint32_t frame_bytes_type(const uint8_t *frame, size_t len);
/* Write seq into finished frame bytes (prefix included). */
void frame_set_seq(uint8_t *frame, uint64_t seq);
void frame_buf_free(struct frame_buf *fb);

/* Lambda's name of a platform event ("runtimeDone"); "unknown" if out of range. */
const char *frame_event_name(enum platform_event e);
/* The event named s (len bytes, without "platform."); false if none. */
bool frame_event_from(const char *s, size_t len, enum platform_event *out);
const char *frame_source_name(enum log_source s);

#endif

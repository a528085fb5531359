/* frame.h — encode and decode the frames of frame_types.h: a bounded msgpack
 * reader (never allocates from a declared count) and a small msgpack writer. */
#ifndef FORKCAP_FRAME_H
#define FORKCAP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame_types.h"

/* Decoding limits beyond FRAME_MAX: nesting depth and total values. */
#define FRAME_DEPTH_MAX 8u
#define FRAME_NODES_MAX 262144u
#define FRAME_ERR_MAX 128u

/* Directions a frame type may travel (frame_type_dirs). */
#define FRAME_DIR_L2S 0x1u
#define FRAME_DIR_S2L 0x2u
#define FRAME_DIR_S2F 0x4u
#define FRAME_DIR_F2S 0x8u

enum fv_kind { FV_NIL, FV_BOOL, FV_UINT, FV_INT, FV_FLOAT, FV_STR, FV_BIN, FV_ARRAY, FV_MAP };

/* One decoded value. Values are stored in pre-order; a container's children
 * follow it and `end` is the index just past its subtree, so the sibling of
 * nodes[i] is nodes[nodes[i].end]. Integers >= 0 are FV_UINT, < 0 FV_INT. */
struct fv {
    uint8_t kind;
    uint32_t n;   /* STR/BIN: bytes; ARRAY: elements; MAP: pairs */
    uint32_t end;
    union {
        bool b;
        uint64_t u;
        int64_t i;
        double f;
        const char *s; /* STR/BIN: NUL-terminated copy, n bytes before the NUL */
    } v;
};

/* A decoded, validated frame. Owns its storage: frame_free() it. */
struct frame {
    uint32_t version;
    uint32_t type;
    uint64_t seq;
    struct fv *nodes;
    uint32_t nnodes;
    uint32_t body; /* index of the body map in nodes */
    char *arena;   /* string copies */
};

/* Frame-size prefix: returns the payload length, or 0 when it is 0 or
 * larger than FRAME_MAX (a protocol error). */
uint32_t frame_hdr_len(const uint8_t hdr[FRAME_HDR_LEN]);

/* Decode one payload (the bytes after the prefix). Checks the msgpack
 * shape, the version, the type, every listed field's kind and presence
 * (frame_types.h). Returns 0, or -1 with a reason in err (NUL-terminated,
 * at most errlen bytes); `out` is then empty. */
int frame_decode(const uint8_t *payload, size_t len, struct frame *out, char *err, size_t errlen);
void frame_free(struct frame *f);

/* Which directions (FRAME_DIR_*) a type may travel; 0 = unknown type. */
unsigned frame_type_dirs(uint32_t type);
const char *frame_type_name(uint32_t type);

/* Typed access to body fields; false when absent or of another kind.
 * get_int accepts any integer that fits int64; get_float any number. */
const struct fv *frame_get(const struct frame *f, const char *key);
bool frame_get_str(const struct frame *f, const char *key, const char **s, size_t *len);
bool frame_get_bin(const struct frame *f, const char *key, const uint8_t **b, size_t *len);
bool frame_get_uint(const struct frame *f, const char *key, uint64_t *out);
bool frame_get_int(const struct frame *f, const char *key, int64_t *out);
bool frame_get_float(const struct frame *f, const char *key, double *out);
bool frame_get_bool(const struct frame *f, const char *key, bool *out);
/* An array field: its first element (or NULL when empty) and its count. */
const struct fv *frame_get_array(const struct frame *f, const char *key, uint32_t *count);
/* The value after v at the same level (call only count-1 times). */
const struct fv *frame_next(const struct frame *f, const struct fv *v);
/* First element of an array value (NULL when empty). */
const struct fv *frame_first(const struct frame *f, const struct fv *arr);
bool fv_int(const struct fv *v, int64_t *out);
bool fv_float(const struct fv *v, double *out);

/* ---- writer ------------------------------------------------------------
 * A frame is built in place with its length prefix; seq is written last by
 * the sender (frame_set_seq) at a fixed offset. Errors (allocation, size
 * over FRAME_MAX) are sticky and reported by frame_finish. */
struct frame_buf {
    uint8_t *p;
    size_t len, cap;
    bool err;
    uint32_t map_n; /* body fields so far */
};

void frame_begin(struct frame_buf *fb, enum frame_type type);
/* Body fields (key + value). */
void frame_put_str(struct frame_buf *fb, const char *key, const char *s);
void frame_put_strn(struct frame_buf *fb, const char *key, const char *s, size_t len);
void frame_put_bin(struct frame_buf *fb, const char *key, const void *b, size_t len);
void frame_put_uint(struct frame_buf *fb, const char *key, uint64_t v);
void frame_put_int(struct frame_buf *fb, const char *key, int64_t v);
void frame_put_float(struct frame_buf *fb, const char *key, double v);
void frame_put_bool(struct frame_buf *fb, const char *key, bool v);
/* A key whose value the frame_val_* calls below write. */
void frame_put_key(struct frame_buf *fb, const char *key);
/* Bare values, for array elements. Arrays: remember the offset returned by
 * begin, write the elements, then end with their count. */
void frame_val_str(struct frame_buf *fb, const char *s, size_t len);
void frame_val_uint(struct frame_buf *fb, uint64_t v);
void frame_val_int(struct frame_buf *fb, int64_t v);
void frame_val_float(struct frame_buf *fb, double v);
void frame_val_bool(struct frame_buf *fb, bool v);
void frame_val_nil(struct frame_buf *fb);
size_t frame_val_array_begin(struct frame_buf *fb);
void frame_val_array_end(struct frame_buf *fb, size_t at, uint32_t count);
/* Patch the prefix and field count. Returns 0, or -1 when the frame is
 * unusable (allocation failed or payload over FRAME_MAX). */
int frame_finish(struct frame_buf *fb);
void frame_buf_free(struct frame_buf *fb);
/* Bytes of a finished frame, prefix included. */
static inline const uint8_t *frame_bytes(const struct frame_buf *fb) { return fb->p; }
static inline size_t frame_size(const struct frame_buf *fb) { return fb->len; }

/* Write seq into finished frame bytes (prefix included). */
void frame_set_seq(uint8_t *frame, uint64_t seq);
/* Re-encode a decoded frame (same type and body) for forwarding. */
int frame_reencode(const struct frame *f, struct frame_buf *out);

#endif

/* frame_types.h — every frame forkcap's processes exchange: its number, its
 * direction and the exact fields of its body. The one place this is written.
 *
 * Wire: a 4-byte big-endian length N (1 <= N <= FRAME_MAX), then N bytes
 * holding exactly one msgpack array [version, type, seq, body]:
 *   version  uint, == FRAME_VERSION
 *   type     uint, one of enum frame_type below
 *   seq      uint64, per-sender, per-link, strictly increasing from 1; a
 *            restarted child is a new link (seq starts again at 1 both
 *            ways). A receiver treats a seq that does not increase as a
 *            protocol error. The supervisor re-stamps spooled data frames
 *            when it replays them to a new flusher.
 *   body     map, string keys; the fields listed per type. Unknown keys are
 *            ignored (forward compatible); a listed field of the wrong
 *            msgpack type, or a missing required (R) field, is a protocol
 *            error. (O) marks an optional field.
 * Strings are msgpack str (raw bytes, not NUL-terminated on the wire).
 * Times named t_*_us are CLOCK_MONOTONIC microseconds (one clock for all
 * three processes); *_ms named deadline/time are Unix epoch milliseconds.
 *
 * Links: L = lifecycle, S = supervisor, F = flusher.
 */
#ifndef FORKCAP_FRAME_TYPES_H
#define FORKCAP_FRAME_TYPES_H

#define FRAME_VERSION 1u
#define FRAME_HDR_LEN 4u
#define FRAME_MAX (2u * 1024u * 1024u) /* payload bytes, after the prefix */

enum frame_type {
    /* ---- L -> S: lifecycle events ---------------------------------- */
    FT_REGISTERED = 1,
    /* R ext_id str, R fn_name str, R fn_version str, O account_id str,
     * R t_start_us uint (child start), R t_register_us uint (200 received) */
    FT_SUBSCRIBED = 2,
    /* R status int (HTTP status; 202 = not supported here; -1 = not sent),
     * R t_subscribe_us uint */
    FT_NEXT_WAIT = 3,
    /* R t_us uint: the lifecycle is about to block in /next. The first one
     * after REGISTERED marks the end of the extension's init. */
    FT_INVOKE = 4,
    /* R request_id str, R deadline_ms int, R arn str, O trace str */
    FT_SHUTDOWN = 5,
    /* R reason str (as sent, any case), R deadline_ms int */
    FT_FATAL = 6,
    /* R error str: the platform refused us for good (register 4xx/5xx,
     * identifier rejected); the supervisor falls back to idle handling.
     * O status int (HTTP status): a 5xx answer to register means "exit
     * promptly" (Lambda's rule), so the supervisor exits; otherwise it
     * stays alive (exiting before SHUTDOWN is Extension.Crash). */

    /* ---- L -> S -> F: telemetry data (spooled by S until F acks) ------ */
    FT_PLATFORM = 7,
    /* One platform.* record that matters to scheduling or metrics.
     * R event str ("runtimeDone", "report", "initReport", "start",
     *   "initStart", "initRuntimeDone", "logsDropped", ...),
     * R time_ms int, O request_id str, O status str, O error_type str,
     * O duration_ms float, O billed_ms int, O memory_mb int,
     * O max_memory_mb int, O init_ms float, O produced_bytes int,
     * O version str, O runtime_version str, O phase str,
     * O overhead_ms float (report's extensionOverhead span),
     * O dropped_records int, O dropped_bytes int */
    FT_LOGS = 8,
    /* R records array of [time_ms int, source uint, request_id str|nil,
     *   message str]; source: 0 function, 1 extension, 2 platform line.
     * At most FRAME_MAX in total; the sender splits larger batches. */

    /* ---- S -> L --------------------------------------------------- */
    FT_GO = 16,
    /* (empty body) call /next now. */

    /* ---- S -> F --------------------------------------------------- */
    FT_CONTEXT = 32,
    /* Identity for tags; sent on every change and replayed to a new flusher.
     * R fn_name str, R fn_version str, O account_id str, O arn str,
     * O request_id str (current invocation), O cold_start bool */
    FT_FLUSH = 33,
    /* R flush_id uint, R budget_ms uint (deliver what is pending within),
     * O final bool (SHUTDOWN: last flush before exit) */

    /* ---- F -> S --------------------------------------------------- */
    FT_READY = 48,
    /* R t_start_us uint, R t_tls_us uint (TLS client built, CA store
     * loaded), R t_ready_us uint (receivers up), O tls_ok bool */
    FT_ACK = 49,
    /* R upto uint64: every data frame S sent with seq <= upto (on this
     * link) has been delivered to the intake or dropped-and-counted; S may
     * release it. Frames not acknowledged when a flusher dies are replayed,
     * in order, to the next one. */
    FT_FLUSHED = 50,
    /* R flush_id uint, R ok bool, O sent uint (requests), O failed uint,
     * O dropped uint (payloads given up), O ms uint (time taken),
     * O unreachable bool (failed without any HTTP answer: connect, TLS or
     * time-out; the supervisor's circuit breaker opens on it) */
};

#endif

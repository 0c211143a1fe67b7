/* ws_session.h: one server-side WebSocket endpoint (RFC 6455): bytes in, events out; messages in, bytes out. */
#ifndef WS_SESSION_H
#define WS_SESSION_H

#include "ws.h"
#include "ws_deflate.h"
#include "ws_frame.h"

typedef struct ws_session_t ws_session_t;

/** Where a session stands in the closing handshake (RFC 6455 §7). */
typedef enum {
    WS_STATE_OPEN,      /* data flows both ways */
    WS_STATE_CLOSING,   /* we sent a close frame and wait for the peer's */
    WS_STATE_CLOSED     /* both close frames exchanged, or the session failed:
                         * read nothing more, flush output, close TCP */
} ws_state_e;

/** What the session calls; every callback runs inside ws_session_feed()
 *  or one of the send functions, on the caller's thread. */
typedef struct ws_session_callbacks_t {
    /**
     * A whole data message arrived. Text is valid UTF-8. @a data stays
     * valid until the callback returns and is followed by a '\0' that is
     * not counted in @a len. A status other than APR_SUCCESS stops the
     * feed and is returned by ws_session_feed().
     */
    apr_status_t (*on_message)(void *baton, ws_opcode_e op,
                               const char *data, apr_size_t len);
    /** A pong arrived (may be NULL). */
    void (*on_pong)(void *baton, const char *data, apr_size_t len);
    /**
     * Bytes to send: one frame, as its header and its payload. Neither
     * stays valid after the call returns, so the callee copies them.
     * A status other than APR_SUCCESS is returned by the function that
     * wanted to send.
     */
    apr_status_t (*on_send)(void *baton, const char *hdr, apr_size_t hlen,
                            const char *payload, apr_size_t plen);
    /** A frame's header arrived, before any check (may be NULL; for
     *  tracing). */
    void (*on_frame)(void *baton, const ws_frame_hdr_t *hdr);
} ws_session_callbacks_t;

/**
 * Create a server-side session.
 * @param psession the new session
 * @param p        pool for the session's life; message buffers come from
 *                 a subpool that is cleared after each message
 * @param limits   copied; NULL means no limits
 * @param cb       callbacks, must outlive the session
 * @param baton    passed to every callback
 */
apr_status_t ws_session_create(ws_session_t **psession, apr_pool_t *p,
                               const ws_limits_t *limits,
                               const ws_session_callbacks_t *cb, void *baton);

/**
 * Use permessage-deflate (RFC 7692) as negotiated in @a params; call it
 * before the first feed. Messages whose first frame has RSV1 set are
 * inflated as their payload arrives, and limits and UTF-8 validation apply
 * to the inflated bytes (a message inflating past max_message fails with
 * 1009 as soon as it does). ws_session_send() compresses messages (it may
 * send very short ones uncompressed, as §6 allows). The zlib streams are
 * allocated from the session's pool when first needed and ended with it.
 * @return APR_SUCCESS, APR_EINVAL for parameters out of range (windows
 *         of WS_DEFLATE_WBITS_MIN..WS_DEFLATE_WBITS_MAX bits, but at
 *         least WS_DEFLATE_OUR_WBITS_MIN for ours: zlib cannot compress
 *         with a 256-byte window, so ws_deflate_negotiate() never agrees
 *         to it)
 */
apr_status_t ws_session_set_deflate(ws_session_t *session,
                                    const ws_deflate_params_t *params);

/**
 * Feed bytes received from the client, split anywhere.
 * Pings are answered with pongs, a peer's close is answered with a close
 * echoing its code, and protocol violations fail the session with the
 * close code RFC 6455 names (a close frame is sent).
 * @return APR_SUCCESS  all consumed, the session is open for more;
 *         APR_EOF      the session is closed (close handshake done): stop
 *                      reading, flush output, close the connection;
 *         WS_EPROTO, WS_EBADUTF8, WS_ETOOBIG  the peer broke the protocol
 *                      or a limit; the close frame is sent and the state is
 *                      CLOSED; ws_session_close_code()/_reason() say why;
 *         APR_ENOMEM  a message buffer could not be had (1011 sent);
 *         any status a callback returned (the rest of @a data is dropped;
 *         treat it as fatal).
 *         Bytes after the one that closed or failed the session are ignored.
 */
apr_status_t ws_session_feed(ws_session_t *session, const char *data,
                             apr_size_t len);

/**
 * Send one whole message (one frame, FIN set) of @a op TEXT or BINARY.
 * The caller vouches that text is UTF-8.
 * @return APR_SUCCESS, WS_ECLOSED once a close frame was sent, APR_EINVAL
 *         for another opcode, or what on_send returned.
 */
apr_status_t ws_session_send(ws_session_t *session, ws_opcode_e op,
                             const char *data, apr_size_t len);

/**
 * Send a ping with up to WS_MAX_CTRL_PAYLOAD bytes of payload.
 * @return APR_SUCCESS, WS_ECLOSED, APR_EINVAL if too long, or on_send's.
 */
apr_status_t ws_session_ping(ws_session_t *session, const char *data,
                             apr_size_t len);

/**
 * Start the closing handshake: send a close frame with @a code (0 sends
 * none: an empty payload) and @a reason (truncated to fit 123 bytes at a
 * UTF-8 character boundary). The state becomes CLOSING, or CLOSED if the
 * peer's close had already arrived.
 * @return APR_SUCCESS, WS_ECLOSED if a close frame was already sent,
 *         APR_EINVAL for a code a peer would reject (1005 sends an empty
 *         close), or on_send's status.
 */
apr_status_t ws_session_close(ws_session_t *session, int code,
                              const char *reason);

/**
 * Take message buffers from subpools of @a parent instead of the session's
 * pool, from now on (call it between messages). For an owner of many
 * sessions on one thread: a pool of that thread's keeps the memory of
 * message buffers for all of them. @a parent must outlive the session and
 * be used by that thread only.
 */
void ws_session_set_buffer_pool(ws_session_t *session, apr_pool_t *parent);

/**
 * Give back the memory kept for receiving messages (an 8 KiB pool block
 * at least), unless a message is half received; the next message takes
 * it again. For an owner with many idle sessions: call it when input has
 * run dry.
 */
void ws_session_trim(ws_session_t *session);

/**
 * Payload bytes of data frames taken in so far, counted after inflating:
 * the work the session did for its peer, for an owner that shares its
 * thread fairly among many sessions.
 */
apr_uint64_t ws_session_decoded(const ws_session_t *session);

/** The session's state. */
ws_state_e ws_session_state(const ws_session_t *session);

/**
 * Why the session closed: the code of the peer's close frame (1005 when it
 * had none), or the code we failed it with; 0 while open.
 */
int ws_session_close_code(const ws_session_t *session);

/**
 * The peer's close reason (UTF-8, may be empty), or a static text saying
 * which rule the peer broke when we failed the session; "" while open.
 */
const char *ws_session_close_reason(const ws_session_t *session);

/** Did the peer send its close frame first (1) or did we (0)? */
int ws_session_peer_closed_first(const ws_session_t *session);

#endif /* WS_SESSION_H */

/* ws_session_int.h: the session's private state and the functions its files (ws_session*.c) share. */
#ifndef WS_SESSION_INT_H
#define WS_SESSION_INT_H

#include "ws_session.h"
#include "ws_frame.h"
#include "ws_utf8.h"

/* A close frame's payload starts with a 2-byte code (RFC 6455 §5.5.1). */
#define WS_CLOSE_CODE_LEN     2
#define WS_CLOSE_REASON_MAX   (WS_MAX_CTRL_PAYLOAD - WS_CLOSE_CODE_LEN)

/* Payload taken a piece at a time on the stack: unmasked before it is
 * inflated, or validated and dropped after our close. */
#define WS_SCRATCH_LEN        512

/* Static reasons sent in our close frame when the peer breaks a rule. */
#define WS_WHY_UNMASKED       "client frame not masked"
#define WS_WHY_RSV            "reserved bit set"
#define WS_WHY_OPCODE         "reserved opcode"
#define WS_WHY_LENGTH         "bad payload length encoding"
#define WS_WHY_CTRL_FRAG      "fragmented control frame"
#define WS_WHY_CTRL_LONG      "control frame too long"
#define WS_WHY_CONT           "continuation without a message"
#define WS_WHY_INTERLEAVED    "new message inside a fragmented one"
#define WS_WHY_CLOSE_LEN      "close frame with 1-byte payload"
#define WS_WHY_CLOSE_CODE     "invalid close code"
#define WS_WHY_CLOSE_UTF8     "close reason is not UTF-8"
#define WS_WHY_TEXT_UTF8      "text is not UTF-8"
#define WS_WHY_FRAME_BIG      "frame too big"
#define WS_WHY_MSG_BIG        "message too big"
#define WS_WHY_NOMEM          "out of memory"
#define WS_WHY_RSV1_CTRL      "compressed control frame"
#define WS_WHY_RSV1_CONT      "RSV1 set on a continuation frame"
#define WS_WHY_INFLATE        "invalid compressed data"

/* One buffer of a message being received. */
typedef struct ws_chunk_t ws_chunk_t;
struct ws_chunk_t {
    ws_chunk_t *next;
    char *data;             /* cap + 1 bytes: room for the final '\0' */
    apr_size_t len;         /* bytes written */
    apr_size_t cap;         /* bytes that fit */
};

struct ws_session_t {
    apr_pool_t *pool;
    apr_pool_t *msg_parent;     /* where msg_pool is made */
    apr_pool_t *msg_pool;       /* message buffers; cleared per message,
                                 * made when first needed, destroyed by
                                 * ws_session_trim() */
    ws_limits_t limits;
    const ws_session_callbacks_t *cb;
    void *baton;

    ws_state_e state;
    apr_status_t closed_rv;     /* what feed returns once CLOSED */
    int close_sent;             /* our close frame went out */
    int close_received;         /* the peer's close frame arrived */
    int peer_closed_first;
    int close_code;
    const char *close_reason;

    ws_frame_parser_t fp;       /* the frame being received */

    /* The data message being received, from its first frame's header to
     * its last frame's payload. */
    int imsg_active;
    ws_opcode_e imsg_op;
    apr_uint64_t imsg_len;      /* payload announced by its frames so far */
    ws_utf8_t imsg_utf8;
    int imsg_alloced;           /* msg_pool holds something */
    ws_chunk_t imsg_first;      /* a single-frame message needs only this */
    ws_chunk_t *imsg_tail;      /* last buffer, NULL if none */
    ws_chunk_t *imsg_cur;       /* buffer being written */

    /* The control frame being received: RFC 6455 §5.4 lets control frames
     * arrive between the frames of a message, so they get their own small
     * buffer and never touch the message's. */
    char ictrl[WS_MAX_CTRL_PAYLOAD + 1];
    apr_size_t ictrl_len;

    /* permessage-deflate (RFC 7692), if ws_session_set_deflate() was
     * called. */
    ws_deflate_t *deflate;
    apr_pool_t *send_pool;      /* compressed output; cleared per send */
    int imsg_compressed;        /* the message's first frame had RSV1 */
    apr_uint64_t decoded;       /* data payload taken in, after inflating */
};

/* ws_session_msg.c: the buffers of the message being received. */
apr_status_t ws_session_msg_pool_cleanup(void *data);
void ws_session_msg_reset(ws_session_t *session);
void *ws_session_msg_alloc(ws_session_t *session, apr_size_t size);
apr_status_t ws_session_msg_reserve_frame(ws_session_t *session);
apr_status_t ws_session_msg_grow(ws_session_t *session, apr_uint64_t room);
apr_status_t ws_session_msg_extend(ws_session_t *session);
apr_status_t ws_session_msg_deliver(ws_session_t *session);

/* ws_session_send.c: frames out. */
apr_status_t ws_session_send_frame(ws_session_t *session, ws_opcode_e op,
                                   const char *payload, apr_size_t plen);

/* ws_session_close.c: the closing handshake, and failing the session. */
apr_status_t ws_session_close_send(ws_session_t *session, int code,
                                   const char *reason, apr_size_t rlen);
apr_status_t ws_session_close_received(ws_session_t *session);
apr_status_t ws_session_fail(ws_session_t *session, apr_status_t rv,
                             int code, const char *why);
apr_status_t ws_session_fail_proto(ws_session_t *session, const char *why);
apr_status_t ws_session_fail_too_big(ws_session_t *session,
                                     const char *why);
apr_status_t ws_session_fail_utf8(ws_session_t *session, const char *why);
apr_status_t ws_session_fail_nomem(ws_session_t *session);

#endif /* WS_SESSION_INT_H */

/* ws_session.c: RFC 6455 server endpoint: messages, control, close. */
#include <string.h>

#include <apr_pools.h>

#include "ws_session.h"
#include "ws_frame.h"
#include "ws_utf8.h"

/* A close frame's payload starts with a 2-byte code (RFC 6455 §5.5.1). */
#define WS_CLOSE_CODE_LEN     2
#define WS_CLOSE_REASON_MAX   (WS_MAX_CTRL_PAYLOAD - WS_CLOSE_CODE_LEN)

/* Smallest buffer for a fragmented message, and the unit its buffers are
 * rounded up to. A message of many tiny frames then costs a few large
 * allocations, not one per frame. The fuzz build lowers it so that its
 * small inputs reach messages spanning several buffers. */
#ifndef WS_MSG_CHUNK_MIN
#define WS_MSG_CHUNK_MIN      4096
#endif

/* What a buffer's allocation needs besides its capacity (our chunk
 * header, the '\0', the pool's node header), estimated generously. */
#define WS_MSG_CHUNK_SLACK    (WS_MSG_CHUNK_MIN / 32)
/* Frames up to this long are reserved whole when their header arrives;
 * longer ones as their payload does (doubling), so that a header alone
 * never costs the length it announces. */
#define WS_MSG_EAGER          (64 * 1024)

/* Where payload goes that is validated but not kept (after our close). */
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
    char peer_reason[WS_CLOSE_REASON_MAX + 1];

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

    char scratch[WS_SCRATCH_LEN];
};

/* The message pool may live under another parent than the session's pool
 * (ws_session_set_buffer_pool()), so the session's end destroys it. */
static apr_status_t msg_pool_cleanup(void *data)
{
    ws_session_t *session = data;

    if (session->msg_pool) {
        apr_pool_destroy(session->msg_pool);
        session->msg_pool = NULL;
    }
    return APR_SUCCESS;
}

void ws_session_set_buffer_pool(ws_session_t *session, apr_pool_t *parent)
{
    msg_pool_cleanup(session);
    session->imsg_alloced = 0;
    session->msg_parent = parent;
}

apr_status_t ws_session_create(ws_session_t **psession, apr_pool_t *p,
                               const ws_limits_t *limits,
                               const ws_session_callbacks_t *cb, void *baton)
{
    ws_session_t *session;

    *psession = NULL;
    if (!cb || !cb->on_message || !cb->on_send) {
        return APR_EINVAL;
    }
    session = apr_pcalloc(p, sizeof(*session));
    session->pool = session->msg_parent = p;
    /* Before p's subpools go, as msg_pool may be one of them. */
    apr_pool_pre_cleanup_register(p, session, msg_pool_cleanup);
    if (limits) {
        session->limits = *limits;
    }
    session->cb = cb;
    session->baton = baton;
    session->state = WS_STATE_OPEN;
    session->close_reason = "";
    ws_frame_parser_init(&session->fp);
    *psession = session;
    return APR_SUCCESS;
}

/* Forget the message being received and give its memory back. */
static void msg_reset(ws_session_t *session)
{
    session->imsg_active = 0;
    session->imsg_len = 0;
    memset(&session->imsg_first, 0, sizeof(session->imsg_first));
    session->imsg_tail = NULL;
    session->imsg_cur = NULL;
    session->imsg_compressed = 0;
    if (session->imsg_alloced) {
        apr_pool_clear(session->msg_pool);
        session->imsg_alloced = 0;
    }
}

/* Send one unmasked frame (RFC 6455 §5.1: a server never masks) with the
 * RSV bits @a rsv. */
static apr_status_t send_frame_rsv(ws_session_t *session, unsigned int rsv,
                                   ws_opcode_e op, const char *payload,
                                   apr_size_t plen)
{
    ws_frame_hdr_t hdr;
    char buf[WS_MAX_HDR_LEN];
    apr_size_t hlen;

    memset(&hdr, 0, sizeof(hdr));
    hdr.fin = 1;
    hdr.rsv = rsv;
    hdr.opcode = op;
    hdr.payload_len = plen;
    hlen = ws_frame_write_hdr(buf, &hdr);
    return session->cb->on_send(session->baton, buf, hlen, payload, plen);
}

static apr_status_t send_frame(ws_session_t *session, ws_opcode_e op,
                               const char *payload, apr_size_t plen)
{
    return send_frame_rsv(session, 0, op, payload, plen);
}

/* Send our close frame: @a code 0 sends an empty payload. This is the
 * last frame we send (RFC 6455 §5.5.1), so mark it before the callback
 * runs, in case the callback tries to send. */
static apr_status_t send_close(ws_session_t *session, int code,
                               const char *reason, apr_size_t rlen)
{
    char payload[WS_MAX_CTRL_PAYLOAD];
    apr_size_t plen = 0;

    session->close_sent = 1;
    if (code) {
        /* network byte order, RFC 6455 §5.5.1 */
        payload[0] = (char)(unsigned char)(code >> 8);
        payload[1] = (char)(unsigned char)code;
        if (rlen > WS_CLOSE_REASON_MAX) {
            rlen = WS_CLOSE_REASON_MAX;
        }
        if (rlen) {
            memcpy(payload + WS_CLOSE_CODE_LEN, reason, rlen);
        }
        plen = WS_CLOSE_CODE_LEN + rlen;
    }
    return send_frame(session, WS_OP_CLOSE, payload, plen);
}

/*
 * Fail the WebSocket connection (RFC 6455 §7.1.7): send a close frame with
 * @a code unless ours already went out, then read nothing more. Returns
 * @a rv, which every later feed returns too; a failing on_send does not
 * hide the reason the session failed.
 */
static apr_status_t session_fail(ws_session_t *session, apr_status_t rv,
                                 int code, const char *why)
{
    session->close_code = code;
    session->close_reason = why;
    if (!session->close_sent) {
        (void)send_close(session, code, why, strlen(why));
    }
    session->state = WS_STATE_CLOSED;
    session->closed_rv = rv;
    msg_reset(session);
    return rv;
}

static apr_status_t fail_proto(ws_session_t *session, const char *why)
{
    return session_fail(session, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR, why);
}

static apr_status_t fail_too_big(ws_session_t *session, const char *why)
{
    return session_fail(session, WS_ETOOBIG, WS_CLOSE_TOO_BIG, why);
}

/* Memory for the message being received, or NULL. */
static void *msg_alloc(ws_session_t *session, apr_size_t size)
{
    if (!session->msg_pool) {
        if (apr_pool_create(&session->msg_pool, session->msg_parent)
            != APR_SUCCESS) {
            session->msg_pool = NULL;
            return NULL;
        }
        apr_pool_tag(session->msg_pool, "ws_msg");
    }
    session->imsg_alloced = 1;
    return apr_palloc(session->msg_pool, size);
}

/* Allocate a buffer of @a cap bytes plus the '\0' that delivery adds. */
static ws_chunk_t *chunk_alloc(ws_session_t *session, apr_size_t cap)
{
    ws_chunk_t *chunk;

    chunk = msg_alloc(session, sizeof(*chunk) + cap + 1);
    if (!chunk) {
        return NULL;
    }
    chunk->next = NULL;
    chunk->data = (char *)(chunk + 1);
    chunk->len = 0;
    chunk->cap = cap;
    return chunk;
}

/*
 * Make room for @a len more payload bytes of the current message.
 *
 * A single-frame message gets exactly its size (plus the '\0'). A
 * fragmented one fills the free space of its last buffer and then adds
 * one buffer for the rest of the frame, rounded up to a multiple of
 * WS_MSG_CHUNK_MIN (pool memory comes in 4 KiB units, so what rounding
 * would waste becomes room for the next fragments), but never beyond
 * max_message. Every buffer but the last is therefore full, and the
 * message is copied once, on delivery, if it spans several buffers: O(n)
 * copying, and about twice its size in memory at worst (the buffers, the
 * copy, and at most one unit of slack).
 */
static apr_status_t msg_reserve(ws_session_t *session, apr_uint64_t len,
                                int whole)
{
    ws_chunk_t *chunk;
    apr_uint64_t have, cap, room;

    have = session->imsg_tail
           ? session->imsg_tail->cap - session->imsg_tail->len : 0;
    if (len <= have) {
        return APR_SUCCESS;
    }
    cap = len - have;
    if (!whole) {
        cap = (cap + WS_MSG_CHUNK_SLACK + WS_MSG_CHUNK_MIN - 1)
              / WS_MSG_CHUNK_MIN * WS_MSG_CHUNK_MIN - WS_MSG_CHUNK_SLACK;
        if (session->limits.max_message) {
            /* The limit check passed, so this is at least len - have. */
            room = session->limits.max_message - session->imsg_len - have;
            if (cap > room) {
                cap = room;
            }
        }
    }
    /* The whole message has to fit in memory in one piece on delivery. */
    if (session->imsg_len + len >= APR_SIZE_MAX - sizeof(*chunk)
        || cap >= APR_SIZE_MAX - sizeof(*chunk)) {
        return fail_too_big(session, WS_WHY_MSG_BIG);
    }
    if (!session->imsg_tail) {
        /* The first buffer lives in the session: a single-frame message
         * costs exactly one allocation of its size plus one. */
        chunk = &session->imsg_first;
        chunk->data = msg_alloc(session, (apr_size_t)cap + 1);
        if (!chunk->data) {
            return session_fail(session, APR_ENOMEM,
                                WS_CLOSE_INTERNAL_ERROR, WS_WHY_NOMEM);
        }
        chunk->next = NULL;
        chunk->len = 0;
        chunk->cap = (apr_size_t)cap;
        session->imsg_cur = chunk;
    }
    else {
        chunk = chunk_alloc(session, (apr_size_t)cap);
        if (!chunk) {
            return session_fail(session, APR_ENOMEM,
                                WS_CLOSE_INTERNAL_ERROR, WS_WHY_NOMEM);
        }
        session->imsg_tail->next = chunk;
    }
    session->imsg_tail = chunk;
    return APR_SUCCESS;
}

/*
 * Inflate the input the inflater was given into the message's buffers
 * (or, after our close frame, into a sink that only counts and checks).
 * max_message bounds the inflated size: buffers never grow past it, and
 * once it is reached a one-byte probe tells whether more would follow, so
 * a small input that inflates hugely fails with 1009 having allocated at
 * most max_message. Text is validated as it is inflated (RFC 6455 §8.1).
 */
static apr_status_t inflate_drain(ws_session_t *session)
{
    apr_uint64_t max = session->limits.max_message;
    char sink[WS_SCRATCH_LEN];
    char probe[1];

    for (;;) {
        ws_chunk_t *chunk = NULL;
        apr_uint64_t room = max ? max - session->imsg_len : APR_UINT64_MAX;
        char *out;
        apr_size_t out_len, produced;
        apr_status_t rv;

        if (room == 0) {
            out = probe;
            out_len = sizeof(probe);
        }
        else if (session->state == WS_STATE_OPEN) {
            chunk = session->imsg_tail;
            if (!chunk || chunk->len == chunk->cap) {
                /* Grow geometrically: few buffers, one copy on delivery,
                 * and the last one at most as big as all before it. */
                apr_uint64_t want = session->imsg_len > WS_MSG_CHUNK_MIN
                                    ? session->imsg_len : WS_MSG_CHUNK_MIN;

                if (want > room) {
                    want = room;
                }
                rv = msg_reserve(session, want, 0);
                if (rv != APR_SUCCESS) {
                    return rv;
                }
                chunk = session->imsg_tail;
            }
            out = chunk->data + chunk->len;
            out_len = chunk->cap - chunk->len;
        }
        else {
            out = sink;
            out_len = sizeof(sink);
            if (out_len > room) {
                out_len = (apr_size_t)room;
            }
        }
        rv = ws_deflate_inflate(session->deflate, out, out_len, &produced);
        /* What was inflated before an error is judged first, so that
         * the outcome does not depend on how the input was split. */
        if (produced) {
            if (out == probe) {
                return fail_too_big(session, WS_WHY_MSG_BIG);
            }
            if (session->imsg_op == WS_OP_TEXT
                && ws_utf8_feed(&session->imsg_utf8, out, produced, NULL)
                   != APR_SUCCESS) {
                return session_fail(session, WS_EBADUTF8,
                                    WS_CLOSE_BAD_DATA, WS_WHY_TEXT_UTF8);
            }
            if (chunk) {
                chunk->len += produced;
            }
            session->imsg_len += produced;
            session->decoded += produced;
        }
        if (rv == APR_EAGAIN) {
            return APR_SUCCESS;
        }
        if (rv == APR_ENOMEM) {
            return session_fail(session, APR_ENOMEM,
                                WS_CLOSE_INTERNAL_ERROR, WS_WHY_NOMEM);
        }
        if (rv != APR_SUCCESS) {
            /* RFC 7692 §8: not a valid DEFLATE stream; that is the
             * extension's framing broken, not bad text. */
            return fail_proto(session, WS_WHY_INFLATE);
        }
    }
}

/* Inflate @a n bytes of the current compressed message. */
static apr_status_t inflate_bytes(ws_session_t *session, const char *in,
                                  apr_size_t n)
{
    apr_status_t rv = ws_deflate_inflate_input(session->deflate, in, n);

    if (rv == APR_EAGAIN) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return fail_proto(session, WS_WHY_INFLATE);
    }
    return inflate_drain(session);
}

/* Read and inflate payload bytes of a compressed message's frame, a
 * scratch buffer at a time: the compressed message is never buffered. */
static apr_status_t inflate_payload(ws_session_t *session, const char *data,
                                    apr_size_t len, apr_size_t *pused)
{
    apr_size_t used = 0;

    while (used < len && ws_frame_payload_left(&session->fp) > 0) {
        apr_size_t room = len - used, n;
        apr_status_t rv;

        if (room > sizeof(session->scratch)) {
            room = sizeof(session->scratch);
        }
        n = ws_frame_read_payload(&session->fp, session->scratch,
                                  data + used, room);
        used += n;
        rv = inflate_bytes(session, session->scratch, n);
        if (rv != APR_SUCCESS) {
            *pused = used;
            return rv;
        }
    }
    *pused = used;
    return APR_SUCCESS;
}

/* ws_deflate_inflate_end() takes the window's copy from the message's
 * memory, which is given back with the message. */
static void *inflate_alloc(void *baton, apr_size_t size)
{
    return msg_alloc(baton, size);
}

/* The compressed message's last frame arrived: inflate the tail RFC 7692
 * §7.2.2 appends, and prepare the inflater for the next message. */
static apr_status_t inflate_finish(ws_session_t *session)
{
    apr_status_t rv = ws_deflate_inflate_last(session->deflate);

    if (rv == APR_SUCCESS) {
        rv = inflate_drain(session);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (ws_deflate_inflate_end(session->deflate, inflate_alloc, session)
        != APR_SUCCESS) {
        return session_fail(session, APR_ENOMEM, WS_CLOSE_INTERNAL_ERROR,
                            WS_WHY_NOMEM);
    }
    return APR_SUCCESS;
}

/* Check a data frame's header against the message state and the limits,
 * and prepare to receive its payload. */
static apr_status_t data_frame_start(ws_session_t *session)
{
    const ws_frame_hdr_t *hdr = &session->fp.hdr;
    apr_uint64_t before;
    int compressed;

    /* RFC 6455 §5.4: a message is a frame with a data opcode followed by
     * CONT frames up to one with FIN; messages do not interleave. */
    if (hdr->opcode == WS_OP_CONT) {
        if (!session->imsg_active) {
            return fail_proto(session, WS_WHY_CONT);
        }
        before = session->imsg_len;
    }
    else {
        if (session->imsg_active) {
            return fail_proto(session, WS_WHY_INTERLEAVED);
        }
        before = 0;
    }
    /* RFC 7692 §6.1: RSV1 on a message's first frame says it is
     * compressed; its limits apply to the inflated bytes, as they come. */
    compressed = hdr->opcode == WS_OP_CONT ? session->imsg_compressed
                                           : (hdr->rsv & WS_FRAME_RSV1) != 0;
    if (compressed) {
        if (hdr->opcode != WS_OP_CONT) {
            if (ws_deflate_inflate_start(session->deflate) != APR_SUCCESS) {
                return session_fail(session, APR_ENOMEM,
                                    WS_CLOSE_INTERNAL_ERROR, WS_WHY_NOMEM);
            }
            session->imsg_active = 1;
            session->imsg_compressed = 1;
            session->imsg_op = (ws_opcode_e)hdr->opcode;
            session->imsg_len = 0;
            ws_utf8_init(&session->imsg_utf8);
        }
        return APR_SUCCESS;
    }
    /* Judge the limits on the announced length, before any payload is
     * buffered (RFC 6455 §10.4). Without max_message the running total
     * of a long message could wrap around; that is too big as well. */
    if (before + hdr->payload_len < before
        || (session->limits.max_message
            && before + hdr->payload_len > session->limits.max_message)) {
        return fail_too_big(session, WS_WHY_MSG_BIG);
    }
    if (hdr->opcode != WS_OP_CONT) {
        session->imsg_active = 1;
        session->imsg_op = (ws_opcode_e)hdr->opcode;
        session->imsg_len = 0;
        ws_utf8_init(&session->imsg_utf8);
    }
    /* After our close frame, data is still checked but no longer kept. */
    if (session->state == WS_STATE_OPEN && hdr->payload_len > 0) {
        int eager = hdr->payload_len <= WS_MSG_EAGER;
        apr_status_t rv;

        rv = msg_reserve(session, eager ? hdr->payload_len : WS_MSG_EAGER,
                         eager && hdr->fin && hdr->opcode != WS_OP_CONT);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    session->imsg_len += hdr->payload_len;
    return APR_SUCCESS;
}

/* A frame header is complete: apply the frame-level rules. */
static apr_status_t frame_start(ws_session_t *session)
{
    const ws_frame_hdr_t *hdr = &session->fp.hdr;

    if (session->cb->on_frame) {
        session->cb->on_frame(session->baton, hdr);
    }
    /* RFC 6455 §5.1: a server MUST close the connection when it receives
     * an unmasked frame. */
    if (!hdr->masked) {
        return fail_proto(session, WS_WHY_UNMASKED);
    }
    /* RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defines them;
     * permessage-deflate defines RSV1 (RFC 7692 §6). */
    if (hdr->rsv & ~(session->deflate ? WS_FRAME_RSV1 : 0U)) {
        return fail_proto(session, WS_WHY_RSV);
    }
    switch (hdr->opcode) {
    case WS_OP_CONT:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        break;
    default:
        /* RFC 6455 §5.2: 0x3-0x7 and 0xB-0xF are reserved; an unknown
         * opcode MUST fail the connection. */
        return fail_proto(session, WS_WHY_OPCODE);
    }
    /* RFC 7692 §6.1: RSV1 marks a compressed message on its first frame
     * only; control frames are never compressed. */
    if (hdr->rsv & WS_FRAME_RSV1) {
        if (WS_FRAME_IS_CONTROL(hdr->opcode)) {
            return fail_proto(session, WS_WHY_RSV1_CTRL);
        }
        if (hdr->opcode == WS_OP_CONT) {
            return fail_proto(session, WS_WHY_RSV1_CONT);
        }
    }
    if (WS_FRAME_IS_CONTROL(hdr->opcode)) {
        /* RFC 6455 §5.5: control frames have at most 125 bytes of
         * payload and MUST NOT be fragmented. */
        if (!hdr->fin) {
            return fail_proto(session, WS_WHY_CTRL_FRAG);
        }
        if (hdr->payload_len > WS_MAX_CTRL_PAYLOAD) {
            return fail_proto(session, WS_WHY_CTRL_LONG);
        }
    }
    if (session->limits.max_frame
        && hdr->payload_len > session->limits.max_frame) {
        return fail_too_big(session, WS_WHY_FRAME_BIG);
    }
    if (WS_FRAME_IS_CONTROL(hdr->opcode)) {
        session->ictrl_len = 0;
        return APR_SUCCESS;
    }
    return data_frame_start(session);
}

/* The frame being received has filled what was reserved for it (a long
 * frame, see WS_MSG_EAGER): add a buffer as large as what the message
 * holds so far, but no larger than what the frame still announces. */
static apr_status_t msg_extend(ws_session_t *session)
{
    apr_uint64_t left = ws_frame_payload_left(&session->fp);
    apr_uint64_t want = session->imsg_len - left;
    ws_chunk_t *chunk;

    if (want > left) {
        want = left;
    }
    chunk = chunk_alloc(session, (apr_size_t)want);
    if (!chunk) {
        return session_fail(session, APR_ENOMEM, WS_CLOSE_INTERNAL_ERROR,
                            WS_WHY_NOMEM);
    }
    session->imsg_tail->next = chunk;
    session->imsg_tail = chunk;
    return APR_SUCCESS;
}

/* Read payload bytes of the current frame; *pused says how many of @a len
 * were used, up to and including an invalid byte that failed the session. */
static apr_status_t frame_payload(ws_session_t *session, const char *data,
                                  apr_size_t len, apr_size_t *pused)
{
    apr_size_t used = 0;

    if (WS_FRAME_IS_CONTROL(session->fp.hdr.opcode)) {
        used = ws_frame_read_payload(&session->fp,
                                     session->ictrl + session->ictrl_len,
                                     data, len);
        session->ictrl_len += used;
        *pused = used;
        return APR_SUCCESS;
    }
    if (session->imsg_compressed) {
        return inflate_payload(session, data, len, pused);
    }

    while (used < len && ws_frame_payload_left(&session->fp) > 0) {
        char *dst;
        apr_size_t room, n;
        ws_chunk_t *chunk = NULL;

        if (session->state == WS_STATE_OPEN) {
            chunk = session->imsg_cur;
            if (chunk->len == chunk->cap) {
                if (!chunk->next) {
                    apr_status_t rv = msg_extend(session);

                    if (rv != APR_SUCCESS) {
                        *pused = used;
                        return rv;
                    }
                }
                chunk = session->imsg_cur = chunk->next;
            }
            dst = chunk->data + chunk->len;
            room = chunk->cap - chunk->len;
        }
        else {
            dst = session->scratch;
            room = sizeof(session->scratch);
        }
        if (room > len - used) {
            room = len - used;
        }
        n = ws_frame_read_payload(&session->fp, dst, data + used, room);
        if (session->imsg_op == WS_OP_TEXT) {
            apr_size_t valid;

            /* RFC 6455 §8.1: fail as soon as invalid UTF-8 is seen, not
             * at the end of the message. */
            if (ws_utf8_feed(&session->imsg_utf8, dst, n, &valid)
                != APR_SUCCESS) {
                *pused = used + valid + 1;
                return session_fail(session, WS_EBADUTF8,
                                    WS_CLOSE_BAD_DATA, WS_WHY_TEXT_UTF8);
            }
        }
        if (chunk) {
            chunk->len += n;
        }
        session->decoded += n;
        used += n;
    }
    *pused = used;
    return APR_SUCCESS;
}

/* Hand a complete message to on_message and free it. */
static apr_status_t msg_deliver(ws_session_t *session)
{
    const ws_chunk_t *chunk;
    apr_size_t len = (apr_size_t)session->imsg_len;
    const char *data;
    char *buf;
    apr_status_t rv;

    if (len == 0) {
        data = "";
    }
    else if (!session->imsg_first.next) {
        session->imsg_first.data[len] = '\0';
        data = session->imsg_first.data;
    }
    else {
        buf = msg_alloc(session, len + 1);
        if (!buf) {
            return session_fail(session, APR_ENOMEM,
                                WS_CLOSE_INTERNAL_ERROR, WS_WHY_NOMEM);
        }
        len = 0;
        for (chunk = &session->imsg_first; chunk; chunk = chunk->next) {
            memcpy(buf + len, chunk->data, chunk->len);
            len += chunk->len;
        }
        buf[len] = '\0';
        data = buf;
    }
    rv = session->cb->on_message(session->baton, session->imsg_op, data,
                                 len);
    msg_reset(session);
    return rv;
}

/* The peer's close frame arrived (RFC 6455 §5.5.1, §7.1.5). */
static apr_status_t close_received(ws_session_t *session)
{
    const unsigned char *p = (const unsigned char *)session->ictrl;
    apr_size_t rlen = 0;
    apr_status_t rv = APR_SUCCESS;
    int code = WS_CLOSE_NO_STATUS;

    if (session->ictrl_len == 1) {
        /* A body, if any, starts with a 2-byte code. */
        return fail_proto(session, WS_WHY_CLOSE_LEN);
    }
    if (session->ictrl_len >= WS_CLOSE_CODE_LEN) {
        code = (p[0] << 8) | p[1];
        if (!ws_close_code_is_valid(code)) {
            return fail_proto(session, WS_WHY_CLOSE_CODE);
        }
        rlen = session->ictrl_len - WS_CLOSE_CODE_LEN;
        if (ws_utf8_validate(session->ictrl + WS_CLOSE_CODE_LEN, rlen)
            != APR_SUCCESS) {
            return session_fail(session, WS_EBADUTF8, WS_CLOSE_BAD_DATA,
                                WS_WHY_CLOSE_UTF8);
        }
        memcpy(session->peer_reason, session->ictrl + WS_CLOSE_CODE_LEN,
               rlen);
    }
    session->peer_reason[rlen] = '\0';
    session->close_received = 1;
    session->close_code = code;
    session->close_reason = session->peer_reason;
    if (!session->close_sent) {
        /* RFC 6455 §5.5.1: reply with a close frame, typically echoing
         * the status code received; none if the peer sent none. */
        session->peer_closed_first = 1;
        rv = send_close(session,
                        code == WS_CLOSE_NO_STATUS ? 0 : code, NULL, 0);
    }
    session->state = WS_STATE_CLOSED;
    session->closed_rv = APR_EOF;
    msg_reset(session);
    return rv != APR_SUCCESS ? rv : APR_EOF;
}

/* All of the current frame's payload has arrived. */
static apr_status_t frame_end(ws_session_t *session)
{
    const ws_frame_hdr_t *hdr = &session->fp.hdr;

    switch (hdr->opcode) {
    case WS_OP_PING:
        /* RFC 6455 §5.5.2/§5.5.3: answer with a pong carrying the same
         * payload, unless we already sent our close frame. */
        if (session->state == WS_STATE_OPEN) {
            return send_frame(session, WS_OP_PONG, session->ictrl,
                              session->ictrl_len);
        }
        return APR_SUCCESS;

    case WS_OP_PONG:
        if (session->cb->on_pong) {
            session->ictrl[session->ictrl_len] = '\0';
            session->cb->on_pong(session->baton, session->ictrl,
                                 session->ictrl_len);
        }
        return APR_SUCCESS;

    case WS_OP_CLOSE:
        return close_received(session);

    default:
        break;
    }

    if (!hdr->fin) {
        return APR_SUCCESS;
    }
    if (session->imsg_compressed) {
        apr_status_t rv = inflate_finish(session);

        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    /* RFC 6455 §8.1: a text message ending inside a character is as
     * invalid as any other bad UTF-8. */
    if (session->imsg_op == WS_OP_TEXT
        && !ws_utf8_complete(&session->imsg_utf8)) {
        return session_fail(session, WS_EBADUTF8, WS_CLOSE_BAD_DATA,
                            WS_WHY_TEXT_UTF8);
    }
    if (session->state != WS_STATE_OPEN) {
        msg_reset(session);
        return APR_SUCCESS;
    }
    return msg_deliver(session);
}

apr_status_t ws_session_feed(ws_session_t *session, const char *data,
                             apr_size_t len)
{
    apr_status_t rv;
    apr_size_t n;

    while (len > 0 && session->state != WS_STATE_CLOSED) {
        if (ws_frame_payload_left(&session->fp) == 0) {
            rv = ws_frame_parse_hdr(&session->fp, data, len, &n);
            data += n;
            len -= n;
            if (rv == APR_EAGAIN) {
                break;
            }
            if (rv != APR_SUCCESS) {
                return fail_proto(session, WS_WHY_LENGTH);
            }
            rv = frame_start(session);
        }
        else {
            rv = frame_payload(session, data, len, &n);
            data += n;
            len -= n;
        }
        /* A frame ends with its header when it has no payload. */
        if (rv == APR_SUCCESS && ws_frame_payload_left(&session->fp) == 0) {
            rv = frame_end(session);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (session->state == WS_STATE_CLOSED) {
        return session->closed_rv;
    }
    return APR_SUCCESS;
}

apr_status_t ws_session_set_deflate(ws_session_t *session,
                                    const ws_deflate_params_t *params)
{
    ws_deflate_t *deflate;
    apr_status_t rv;

    rv = ws_deflate_create(&deflate, session->pool, params);
    if (rv == APR_SUCCESS) {
        session->deflate = deflate;
    }
    return rv;
}

/* Send a message compressed (RFC 7692 §7.2.1) as one frame with RSV1 set
 * (§6). The output lives in send_pool, which is cleared afterwards. */
static apr_status_t send_compressed(ws_session_t *session, ws_opcode_e op,
                                    const char *data, apr_size_t len)
{
    const char *out;
    apr_size_t out_len;
    apr_status_t rv;

    if (!session->send_pool) {
        rv = apr_pool_create(&session->send_pool, session->pool);
        if (rv != APR_SUCCESS) {
            session->send_pool = NULL;
            return rv;
        }
        apr_pool_tag(session->send_pool, "ws_send");
    }
    rv = ws_deflate_compress(session->deflate, &out, &out_len,
                             session->send_pool, data, len);
    if (rv == APR_SUCCESS) {
        rv = send_frame_rsv(session, WS_FRAME_RSV1, op, out, out_len);
    }
    apr_pool_clear(session->send_pool);
    return rv;
}

apr_status_t ws_session_send(ws_session_t *session, ws_opcode_e op,
                             const char *data, apr_size_t len)
{
    if (op != WS_OP_TEXT && op != WS_OP_BINARY) {
        return APR_EINVAL;
    }
    if (session->close_sent) {
        return WS_ECLOSED;
    }
    if (session->deflate && ws_deflate_is_worth(len)) {
        return send_compressed(session, op, data, len);
    }
    return send_frame(session, op, data, len);
}

apr_status_t ws_session_ping(ws_session_t *session, const char *data,
                             apr_size_t len)
{
    if (session->close_sent) {
        return WS_ECLOSED;
    }
    if (len > WS_MAX_CTRL_PAYLOAD) {
        return APR_EINVAL;
    }
    return send_frame(session, WS_OP_PING, data, len);
}

apr_status_t ws_session_close(ws_session_t *session, int code,
                              const char *reason)
{
    apr_size_t rlen = 0;
    apr_status_t rv;

    if (session->close_sent) {
        return WS_ECLOSED;
    }
    /* 1005 means "no code" (RFC 6455 §7.4.1), so it sends none; other
     * codes must be ones a peer would accept. */
    if (code == WS_CLOSE_NO_STATUS) {
        code = 0;
    }
    if (code && !ws_close_code_is_valid(code)) {
        return APR_EINVAL;
    }
    if (code && reason) {
        rlen = ws_utf8_truncate(reason, strlen(reason), WS_CLOSE_REASON_MAX);
    }
    rv = send_close(session, code, reason, rlen);
    /* RFC 6455 §7.1.2: we now wait for the peer's close, unless it came
     * first, in which case the handshake is complete. */
    session->state = session->close_received ? WS_STATE_CLOSED
                                             : WS_STATE_CLOSING;
    return rv;
}

void ws_session_trim(ws_session_t *session)
{
    if (!session->imsg_active) {
        msg_pool_cleanup(session);
        session->imsg_alloced = 0;
    }
}

apr_uint64_t ws_session_decoded(const ws_session_t *session)
{
    return session->decoded;
}

ws_state_e ws_session_state(const ws_session_t *session)
{
    return session->state;
}

int ws_session_close_code(const ws_session_t *session)
{
    return session->close_code;
}

const char *ws_session_close_reason(const ws_session_t *session)
{
    return session->close_reason;
}

int ws_session_peer_closed_first(const ws_session_t *session)
{
    return session->peer_closed_first;
}

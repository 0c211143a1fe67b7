/* ws_session_recv.c: bytes in: frames checked against RFC 6455 and the limits, messages reassembled, inflated and validated, control frames answered. */
#include "ws_session_int.h"

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
                rv = ws_session_msg_grow(session, room);
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
                return ws_session_fail_too_big(session, WS_WHY_MSG_BIG);
            }
            if (session->imsg_op == WS_OP_TEXT
                && ws_utf8_feed(&session->imsg_utf8, out, produced, NULL)
                   != APR_SUCCESS) {
                return ws_session_fail_utf8(session, WS_WHY_TEXT_UTF8);
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
            return ws_session_fail_nomem(session);
        }
        if (rv != APR_SUCCESS) {
            /* RFC 7692 §8: not a valid DEFLATE stream; that is the
             * extension's framing broken, not bad text. */
            return ws_session_fail_proto(session, WS_WHY_INFLATE);
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
        return ws_session_fail_proto(session, WS_WHY_INFLATE);
    }
    return inflate_drain(session);
}

/* Read and inflate payload bytes of a compressed message's frame, a
 * scratch buffer at a time: the compressed message is never buffered. */
static apr_status_t inflate_payload(ws_session_t *session, const char *data,
                                    apr_size_t len, apr_size_t *pused)
{
    char unmasked[WS_SCRATCH_LEN];
    apr_size_t used = 0;

    while (used < len && ws_frame_payload_left(&session->fp) > 0) {
        apr_size_t room = len - used, n;
        apr_status_t rv;

        if (room > sizeof(unmasked)) {
            room = sizeof(unmasked);
        }
        n = ws_frame_read_payload(&session->fp, unmasked, data + used, room);
        used += n;
        rv = inflate_bytes(session, unmasked, n);
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
    return ws_session_msg_alloc(baton, size);
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
        return ws_session_fail_nomem(session);
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
            return ws_session_fail_proto(session, WS_WHY_CONT);
        }
        before = session->imsg_len;
    }
    else {
        if (session->imsg_active) {
            return ws_session_fail_proto(session, WS_WHY_INTERLEAVED);
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
                return ws_session_fail_nomem(session);
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
        return ws_session_fail_too_big(session, WS_WHY_MSG_BIG);
    }
    if (hdr->opcode != WS_OP_CONT) {
        session->imsg_active = 1;
        session->imsg_op = (ws_opcode_e)hdr->opcode;
        session->imsg_len = 0;
        ws_utf8_init(&session->imsg_utf8);
    }
    /* After our close frame, data is still checked but no longer kept. */
    if (session->state == WS_STATE_OPEN && hdr->payload_len > 0) {
        apr_status_t rv = ws_session_msg_reserve_frame(session);

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
        return ws_session_fail_proto(session, WS_WHY_UNMASKED);
    }
    /* RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defines them;
     * permessage-deflate defines RSV1 (RFC 7692 §6). */
    if (hdr->rsv & ~(session->deflate ? WS_FRAME_RSV1 : 0U)) {
        return ws_session_fail_proto(session, WS_WHY_RSV);
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
        return ws_session_fail_proto(session, WS_WHY_OPCODE);
    }
    /* RFC 7692 §6.1: RSV1 marks a compressed message on its first frame
     * only; control frames are never compressed. */
    if (hdr->rsv & WS_FRAME_RSV1) {
        if (WS_FRAME_IS_CONTROL(hdr->opcode)) {
            return ws_session_fail_proto(session, WS_WHY_RSV1_CTRL);
        }
        if (hdr->opcode == WS_OP_CONT) {
            return ws_session_fail_proto(session, WS_WHY_RSV1_CONT);
        }
    }
    if (WS_FRAME_IS_CONTROL(hdr->opcode)) {
        /* RFC 6455 §5.5: control frames have at most 125 bytes of
         * payload and MUST NOT be fragmented. */
        if (!hdr->fin) {
            return ws_session_fail_proto(session, WS_WHY_CTRL_FRAG);
        }
        if (hdr->payload_len > WS_MAX_CTRL_PAYLOAD) {
            return ws_session_fail_proto(session, WS_WHY_CTRL_LONG);
        }
    }
    if (session->limits.max_frame
        && hdr->payload_len > session->limits.max_frame) {
        return ws_session_fail_too_big(session, WS_WHY_FRAME_BIG);
    }
    if (WS_FRAME_IS_CONTROL(hdr->opcode)) {
        session->ictrl_len = 0;
        return APR_SUCCESS;
    }
    return data_frame_start(session);
}

/* Read payload bytes of the current frame; *pused says how many of @a len
 * were used, up to and including an invalid byte that failed the session. */
static apr_status_t frame_payload(ws_session_t *session, const char *data,
                                  apr_size_t len, apr_size_t *pused)
{
    char sink[WS_SCRATCH_LEN];          /* after our close: checked, dropped */
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
                    apr_status_t rv = ws_session_msg_extend(session);

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
            dst = sink;
            room = sizeof(sink);
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
                return ws_session_fail_utf8(session, WS_WHY_TEXT_UTF8);
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

/* All of the current frame's payload has arrived. */
static apr_status_t frame_end(ws_session_t *session)
{
    const ws_frame_hdr_t *hdr = &session->fp.hdr;

    switch (hdr->opcode) {
    case WS_OP_PING:
        /* RFC 6455 §5.5.2/§5.5.3: answer with a pong carrying the same
         * payload, unless we already sent our close frame. */
        if (session->state == WS_STATE_OPEN) {
            return ws_session_send_frame(session, WS_OP_PONG, session->ictrl,
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
        return ws_session_close_received(session);

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
        return ws_session_fail_utf8(session, WS_WHY_TEXT_UTF8);
    }
    if (session->state != WS_STATE_OPEN) {
        ws_session_msg_reset(session);
        return APR_SUCCESS;
    }
    return ws_session_msg_deliver(session);
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
                return ws_session_fail_proto(session, WS_WHY_LENGTH);
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

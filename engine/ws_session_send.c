/* ws_session_send.c: messages and pings out, as unmasked frames (compressed when permessage-deflate is on). */
#include <string.h>

#include <apr_pools.h>

#include "ws_session_int.h"

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

apr_status_t ws_session_send_frame(ws_session_t *session, ws_opcode_e op,
                                   const char *payload, apr_size_t plen)
{
    return send_frame_rsv(session, 0, op, payload, plen);
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
    return ws_session_send_frame(session, op, data, len);
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
    return ws_session_send_frame(session, WS_OP_PING, data, len);
}

/* ws_session_close.c: the closing handshake (RFC 6455 §7): our close frame, the peer's, and failing the session. */
#include <string.h>

#include "ws_session_int.h"

/* Send our close frame: @a code 0 sends an empty payload. This is the
 * last frame we send (RFC 6455 §5.5.1), so mark it before the callback
 * runs, in case the callback tries to send. */
apr_status_t ws_session_close_send(ws_session_t *session, int code,
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
    return ws_session_send_frame(session, WS_OP_CLOSE, payload, plen);
}

/*
 * Fail the WebSocket connection (RFC 6455 §7.1.7): send a close frame with
 * @a code unless ours already went out, then read nothing more. Returns
 * @a rv, which every later feed returns too; a failing on_send does not
 * hide the reason the session failed.
 */
apr_status_t ws_session_fail(ws_session_t *session, apr_status_t rv,
                             int code, const char *why)
{
    session->close_code = code;
    session->close_reason = why;
    if (!session->close_sent) {
        (void)ws_session_close_send(session, code, why, strlen(why));
    }
    session->state = WS_STATE_CLOSED;
    session->closed_rv = rv;
    ws_session_msg_reset(session);
    return rv;
}

/* The failures the engine knows, each with its status and close code. */
apr_status_t ws_session_fail_proto(ws_session_t *session, const char *why)
{
    return ws_session_fail(session, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, why);
}

apr_status_t ws_session_fail_too_big(ws_session_t *session, const char *why)
{
    return ws_session_fail(session, WS_ETOOBIG, WEBSOCKET_CLOSE_TOO_BIG, why);
}

apr_status_t ws_session_fail_utf8(ws_session_t *session, const char *why)
{
    return ws_session_fail(session, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA,
                           why);
}

apr_status_t ws_session_fail_nomem(ws_session_t *session)
{
    return ws_session_fail(session, APR_ENOMEM, WEBSOCKET_CLOSE_INTERNAL,
                           WS_WHY_NOMEM);
}

/* The peer's close frame arrived (RFC 6455 §5.5.1, §7.1.5). */
apr_status_t ws_session_close_received(ws_session_t *session)
{
    const unsigned char *p = (const unsigned char *)session->ictrl;
    apr_size_t rlen = 0;
    apr_status_t rv = APR_SUCCESS;
    int code = WEBSOCKET_CLOSE_NO_STATUS;

    if (session->ictrl_len == 1) {
        /* A body, if any, starts with a 2-byte code. */
        return ws_session_fail_proto(session, WS_WHY_CLOSE_LEN);
    }
    if (session->ictrl_len >= WS_CLOSE_CODE_LEN) {
        code = (p[0] << 8) | p[1];
        if (!ws_close_code_is_valid(code)) {
            return ws_session_fail_proto(session, WS_WHY_CLOSE_CODE);
        }
        rlen = session->ictrl_len - WS_CLOSE_CODE_LEN;
        if (ws_utf8_validate(session->ictrl + WS_CLOSE_CODE_LEN, rlen)
            != APR_SUCCESS) {
            return ws_session_fail_utf8(session, WS_WHY_CLOSE_UTF8);
        }
    }
    /* No frame follows a close: the reason stays where it came. */
    session->ictrl[session->ictrl_len] = '\0';
    session->close_received = 1;
    session->close_code = code;
    session->close_reason = session->ictrl + session->ictrl_len - rlen;
    if (!session->close_sent) {
        /* RFC 6455 §5.5.1: reply with a close frame, typically echoing
         * the status code received; none if the peer sent none. */
        session->peer_closed_first = 1;
        rv = ws_session_close_send(session,
                                   code == WEBSOCKET_CLOSE_NO_STATUS ? 0 : code,
                                   NULL, 0);
    }
    session->state = WS_STATE_CLOSED;
    session->closed_rv = APR_EOF;
    ws_session_msg_reset(session);
    return rv != APR_SUCCESS ? rv : APR_EOF;
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
    if (code == WEBSOCKET_CLOSE_NO_STATUS) {
        code = 0;
    }
    if (code && !ws_close_code_is_valid(code)) {
        return APR_EINVAL;
    }
    if (code && reason) {
        rlen = ws_utf8_truncate(reason, strlen(reason), WS_CLOSE_REASON_MAX);
    }
    rv = ws_session_close_send(session, code, reason, rlen);
    /* RFC 6455 §7.1.2: we now wait for the peer's close, unless it came
     * first, in which case the handshake is complete. */
    session->state = session->close_received ? WS_STATE_CLOSED
                                             : WS_STATE_CLOSING;
    return rv;
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

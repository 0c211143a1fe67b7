/* ws_session.c: RFC 6455 server endpoint: creating a session and reading its state (it receives, sends and closes in ws_session_*.c). */
#include "ws_session_int.h"

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
    apr_pool_pre_cleanup_register(p, session, ws_session_msg_pool_cleanup);
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

apr_uint64_t ws_session_decoded(const ws_session_t *session)
{
    return session->decoded;
}

ws_state_e ws_session_state(const ws_session_t *session)
{
    return session->state;
}

/* mod_websocket_pubsub.c: the pubsub handler: subscribers of the location's channels get every message published to them, verbatim. */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_websocket.h"

/*
 *   <LocationMatch "^/sub/(?<channel>[A-Za-z0-9_.-]+)$">
 *       WebSocketHandler pubsub
 *       WebSocketChannel %{env:MATCH_CHANNEL}
 *       WebSocketChannelPublish On      # clients may publish too
 *   </LocationMatch>
 *
 * Text stays text and binary stays binary; publishers are
 * `SetHandler websocket-publish` locations, other modules and, through
 * WebSocketBroker, other servers and the broker's own clients.
 */

APLOG_USE_MODULE(websocket_pubsub);

static APR_OPTIONAL_FN_TYPE(websocket_publish) *pubsub_publish;

static apr_status_t pubsub_open(websocket_conn_t *wc)
{
    apr_status_t rv;
    int i;

    if (!wc->channels->nelts) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, wc->r, WEBSOCKET_LOGNO(00032)
                      "pubsub at %s without WebSocketChannel: nothing to "
                      "subscribe to", wc->r->uri);
        return APR_EINVAL;
    }
    for (i = 0; i < wc->channels->nelts; ++i) {
        rv = websocket_join(wc, APR_ARRAY_IDX(wc->channels, i, const char *));
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static void pubsub_message(websocket_conn_t *wc, websocket_type_e type,
                           const char *data, apr_size_t len)
{
    websocket_publisher from;
    int i;

    if (!wc->may_publish || !pubsub_publish) {
        websocket_close(wc, WEBSOCKET_CLOSE_POLICY,
                        "publishing is off here");
        return;
    }
    from.user = wc->r->user;
    from.ws_id = wc->id;
    for (i = 0; i < wc->channels->nelts; ++i) {
        pubsub_publish(APR_ARRAY_IDX(wc->channels, i, const char *), type,
                       data, len, &from, NULL);
    }
}

static const websocket_handler pubsub_handler = {
    NULL,                       /* handshake: accept, no subprotocol */
    pubsub_open,
    pubsub_message,
    NULL,                       /* close: channels are left by the core */
    NULL                        /* writable */
};

static void pubsub_retrieve(void)
{
    pubsub_publish = APR_RETRIEVE_OPTIONAL_FN(websocket_publish);
}

static void pubsub_register_hooks(apr_pool_t *p)
{
    ap_hook_optional_fn_retrieve(pubsub_retrieve, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    ap_register_provider(p, WEBSOCKET_PROVIDER_GROUP, "pubsub",
                         WEBSOCKET_PROVIDER_VERSION, &pubsub_handler);
}

WEBSOCKET_HANDLER_MODULE(websocket_pubsub, pubsub_register_hooks);

/* mod_websocket_echo.c: the "echo" WebSocket handler: every message goes back exactly as it came. */
#include <httpd.h>
#include <http_config.h>

#include "mod_websocket.h"

static void echo_message(websocket_conn_t *wc, websocket_type_e type,
                         const char *data, apr_size_t len)
{
    websocket_send(wc, type, data, len);
}

static const websocket_handler echo_handler = {
    NULL,                       /* handshake: accept, no subprotocol */
    NULL,                       /* open */
    echo_message,               /* message */
    NULL                        /* close */
};

static void echo_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, WEBSOCKET_PROVIDER_GROUP, "echo",
                         WEBSOCKET_PROVIDER_VERSION, &echo_handler);
}

WEBSOCKET_HANDLER_MODULE(websocket_echo, echo_register_hooks);

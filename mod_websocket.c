/* mod_websocket.c: the module record: WebSocket upgrades where WebSocketHandler is set, after httpd's access control. */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mws_private.h"
#include "mws_channel.h"
#include "mws_config.h"
#include "mws_handshake.h"
#include "mws_conn.h"
#include "mws_blocking.h"
#include "mws_async.h"
#include "mws_publish.h"
#include "mws_status.h"

/* Mark upgrade requests for our handler. Fixups run after every access
 * check (Require, auth, SSLRequire, per-dir rewrites), and after
 * SetHandler's own fixup (REALLY_FIRST), so `WebSocketHandler` wins only
 * for requests that ask for a WebSocket; the others are served as if this
 * module were not there. */
static int mws_hook_fixups(request_rec *r)
{
    const mws_dir_conf *conf;
    const char *upgrade;

    if (r->main) {
        return DECLINED;
    }
    conf = mws_config_get(r);
    if (!conf || !conf->handler) {
        return DECLINED;
    }
    upgrade = apr_table_get(r->headers_in, "Upgrade");
    if (upgrade && ap_find_token(r->pool, upgrade, "websocket")) {
        r->handler = MWS_HANDLER;
    }
    return DECLINED;
}

static int mws_hook_handler(request_rec *r)
{
    const mws_dir_conf *conf;
    mws_handshake hs;
    mws_runner_e runner;
    mws_conn *wc;
    apr_status_t rv;
    int status;

    if (!r->handler || strcmp(r->handler, MWS_HANDLER)) {
        return DECLINED;
    }
    conf = mws_config_get(r);
    if (!conf || !conf->handler) {
        /* SetHandler websocket (or an .htaccess's) without a handler to
         * run: nothing may reach the takeover. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, WSLOGNO(00026)
                      "handler '" MWS_HANDLER "' set for %s without "
                      "WebSocketHandler: use WebSocketHandler alone",
                      r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    status = mws_handshake_check(r, conf, &hs);
    if (status != OK) {
        return status;
    }
    runner = r->connection->master ? MWS_RUNNER_HTTP2
             : mws_async_can_adopt(r->connection) ? MWS_RUNNER_ASYNC
             : MWS_RUNNER_BLOCKING;
    rv = mws_conn_create(&wc, r, conf, &hs, runner);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, WSLOGNO(00013)
                      "cannot set up the WebSocket");
        r->connection->keepalive = AP_CONN_CLOSE;
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (mws_conn_open(wc) != APR_SUCCESS) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    mws_handshake_accept(r, &hs);
    mws_conn_take_over(wc, &hs);
    if (runner == MWS_RUNNER_ASYNC) {
        /* The MPM lets go of the connection (its worker is free again), and
         * an I/O thread takes it in the suspend_connection hook. */
        mws_async_prepare(wc, r->connection);
        return SUSPENDED;
    }
    return mws_blocking_run(wc, r->connection);
}

static int mws_hook_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp)
{
    mws_config_reset_globals();
    return OK;
}

static void mws_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(mws_hook_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    mws_conn_register_hooks(p);
    mws_blocking_register_hooks(p);
    mws_async_register_hooks(p);
    mws_status_register_hooks(p);
    mws_channel_register_hooks(p);
    mws_publish_register_hooks(p);
    ap_hook_fixups(mws_hook_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(mws_hook_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA websocket_module = {
    STANDARD20_MODULE_STUFF,
    mws_config_create_dir,      /* create per-directory config */
    mws_config_merge_dir,       /* merge per-directory config */
    NULL,                       /* create per-server config */
    NULL,                       /* merge per-server config */
    mws_config_cmds,            /* directives */
    mws_register_hooks          /* register hooks */
};

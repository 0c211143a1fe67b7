/* mws_publish.c: the HTTP publisher: SetHandler websocket-publish turns a POST or PUT body into a message to the location's channels. */
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "ws_utf8.h"
#include "mws_private.h"
#include "mws_channel.h"
#include "mws_config.h"
#include "mws_publish.h"

/* How long a publish waits for the broker to confirm it before it is
 * answered anyway ("confirmed": false). */
#define MWS_PUBLISH_BARRIER_TIMEOUT apr_time_from_sec(5)

/* Text, as browsers and the broker's clients label it: text/... and JSON;
 * anything else (or no type) is binary. */
static int is_text(const char *type)
{
    return type && (!strncasecmp(type, "text/", 5)
                    || !strncasecmp(type, "application/json", 16));
}

/* The request body, whole, up to @a max bytes (chunked or not). */
static int read_body(request_rec *r, apr_off_t max, char **pdata,
                     apr_size_t *plen)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, ba);
    apr_bucket_brigade *in = apr_brigade_create(r->pool, ba);
    apr_off_t len = 0;
    int seen_eos = 0;
    apr_status_t rv;

    while (!seen_eos) {
        apr_bucket *b;

        rv = ap_get_brigade(r->input_filters, in, AP_MODE_READBYTES,
                            APR_BLOCK_READ, HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        for (b = APR_BRIGADE_FIRST(in); b != APR_BRIGADE_SENTINEL(in);
             b = APR_BUCKET_NEXT(b)) {
            seen_eos |= APR_BUCKET_IS_EOS(b);
        }
        /* Keep what came, in this request's pool, and read on. */
        if (ap_save_brigade(NULL, &bb, &in, r->pool) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_brigade_cleanup(in);
        apr_brigade_length(bb, 1, &len);
        if (len > max) {
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }
    *plen = (apr_size_t)len;
    *pdata = apr_palloc(r->pool, *plen + 1);
    rv = apr_brigade_flatten(bb, *pdata, plen);
    (*pdata)[*plen] = '\0';
    return rv == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static int mws_publish_handler(request_rec *r)
{
    const mws_dir_conf *conf;
    const apr_array_header_t *names;
    const char *why = NULL, *clen;
    int confirmed = 0;
    apr_status_t rv;
    websocket_publisher from;
    websocket_type_e type;
    apr_size_t len = 0, delivered = 0, n;
    char *data = NULL;
    int status, i;

    if (!r->handler || strcmp(r->handler, MWS_PUBLISH_HANDLER)) {
        return DECLINED;
    }
    ap_allow_methods(r, REPLACE_ALLOW, "POST", "PUT", NULL);
    if (r->method_number != M_POST && r->method_number != M_PUT) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    conf = mws_config_get(r);
    if (!mws_config_has_channels(conf)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, WSLOGNO(00029)
                      "SetHandler " MWS_PUBLISH_HANDLER " at %s without "
                      "WebSocketChannel: nowhere to publish", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!(names = mws_config_channels(r, conf, &why))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00030)
                      "publish refused: %s", why);
        return HTTP_BAD_REQUEST;
    }
    if ((clen = apr_table_get(r->headers_in, "Content-Length"))
        && apr_atoi64(clen) > mws_config_max_message(conf)) {
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    status = read_body(r, mws_config_max_message(conf), &data, &len);
    if (status != OK) {
        return status;
    }
    type = is_text(apr_table_get(r->headers_in, "Content-Type"))
           ? WEBSOCKET_TEXT : WEBSOCKET_BINARY;
    if (type == WEBSOCKET_TEXT && ws_utf8_validate(data, len) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00031)
                      "publish refused: a text body that is not UTF-8");
        return HTTP_BAD_REQUEST;
    }
    from.user = r->user;
    from.ws_id = 0;
    for (i = 0; i < names->nelts; ++i) {
        rv = mws_channel_publish(APR_ARRAY_IDX(names, i, const char *), type,
                                 data, len, &from, &n);
        if (rv == APR_ENOSPC) {
            /* The broker does not keep up: the client may try again. */
            apr_table_setn(r->err_headers_out, "Retry-After", "1");
            return HTTP_SERVICE_UNAVAILABLE;
        }
        if (rv != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        delivered += n;
    }
    if (mws_channel_has_bus()) {
        /* Answered once the broker has routed it: what this client
         * publishes next comes after it, for every member. */
        confirmed = mws_channel_barrier(MWS_PUBLISH_BARRIER_TIMEOUT)
                    == APR_SUCCESS;
    }
    ap_set_content_type(r, "application/json");
    ap_rprintf(r, "{\"channels\": %d, \"delivered\": %" APR_SIZE_T_FMT
               ", \"broker\": %s, \"confirmed\": %s}\n", names->nelts,
               delivered, mws_channel_has_bus() ? "true" : "false",
               confirmed ? "true" : "false");
    return OK;
}

void mws_publish_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(mws_publish_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

/* mws_handshake.c: the opening handshake, RFC 6455 §4.2: request checks, Origin policy, subprotocol, the 101. */
#include <apr_base64.h>
#include <apr_lib.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_protocol.h>
#include <http_log.h>

#include "ws.h"
#include "mws_private.h"
#include "mws_handshake.h"

/* A Sec-WebSocket-Key is the base64 of 16 bytes (RFC 6455 §4.1 item 7):
 * 22 characters of the alphabet and "==". */
#define MWS_KEY_LEN 24

static int key_is_valid(const char *key)
{
    int i;

    if (!key || strlen(key) != MWS_KEY_LEN
        || key[22] != '=' || key[23] != '=') {
        return 0;
    }
    for (i = 0; i < 22; ++i) {
        if (!apr_isalnum(key[i]) && key[i] != '+' && key[i] != '/') {
            return 0;
        }
    }
    return 1;
}

/* Split Sec-WebSocket-Protocol (httpd joins repeated lines with ", ")
 * into its tokens; 0 if a token is malformed. */
static int parse_protocols(apr_pool_t *p, const char *value,
                           apr_array_header_t **pprotocols)
{
    apr_array_header_t *list = apr_array_make(p, 4, sizeof(const char *));

    while (value && *value) {
        const char *start;

        while (*value == ' ' || *value == '\t' || *value == ',') {
            ++value;
        }
        if (!*value) {
            break;
        }
        for (start = value; ws_is_tchar((unsigned char)*value); ++value)
            ;
        if (value == start) {
            return 0;
        }
        APR_ARRAY_PUSH(list, const char *) = apr_pstrmemdup(p, start,
                                                            value - start);
        while (*value == ' ' || *value == '\t') {
            ++value;
        }
        if (*value && *value != ',') {
            return 0;
        }
    }
    *pprotocols = list;
    return 1;
}

/* The origin of a page of this server at @a hostport, under the scheme
 * of this connection. */
static const char *origin_at(request_rec *r, const char *hostport)
{
    return mws_config_origin_normalise(r->pool,
                                       apr_pstrcat(r->pool, ap_http_scheme(r),
                                                   "://", hostport, NULL));
}

/* A page of this very server: as the client reached us (the Host header;
 * :authority on HTTP/2), or under the vhost's ServerName on the port it
 * serves (a client may have reached it by address). */
static int same_origin(request_rec *r, const char *origin)
{
    const char *host = apr_table_get(r->headers_in, "Host");
    const char *own;
    apr_port_t port = r->server->port ? r->server->port
                                      : r->connection->local_addr->port;

    if (host && (own = origin_at(r, host)) && !strcmp(origin, own)) {
        return 1;
    }
    own = origin_at(r, apr_psprintf(r->pool, "%s:%u",
                                    r->server->server_hostname,
                                    (unsigned)port));
    return own && !strcmp(origin, own);
}

/* RFC 6455 §10.2: the Origin header protects browsers' users from
 * cross-site WebSocket hijacking; clients that are not browsers send none. */
static int origin_allowed(request_rec *r, const mws_dir_conf *conf)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *norm;
    mws_origin_check_e check = mws_config_origin_check(conf);

    if (!origin || check == MWS_ORIGIN_OFF) {
        return 1;
    }
    norm = mws_config_origin_normalise(r->pool, origin);
    if (!norm) {
        return 0;       /* "null" and anything malformed */
    }
    if (same_origin(r, norm)) {
        return 1;
    }
    return check == MWS_ORIGIN_TRUSTED && mws_config_origin_trusted(conf, norm);
}

static int refuse(request_rec *r, int status, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00002)
                  "WebSocket handshake refused with %d: %s", status, why);
    return status;
}

int mws_handshake_check(request_rec *r, const mws_dir_conf *conf,
                        mws_handshake *hs)
{
    const char *version, *key, *value, **pprotocol = &hs->protocol;
    apr_array_header_t *protocols;
    int status, i;

    memset(hs, 0, sizeof(*hs));
    /* The 101 carries what the handler's handshake and open callbacks set
     * in r->headers_out, and nothing set before them. */
    apr_table_clear(r->headers_out);
    if (r->method_number != M_GET || r->header_only) {
        return refuse(r, HTTP_BAD_REQUEST, "the method is not GET");
    }
    /* HTTP/2 streams arrive here as GET with proto_num 2000 once mod_http2
     * has rewritten the extended CONNECT (RFC 8441 §5). */
    if (r->proto_num < HTTP_VERSION(1, 1)) {
        return refuse(r, HTTP_BAD_REQUEST, "HTTP/1.1 or later is required");
    }
    if (r->proto_num < HTTP_VERSION(2, 0)
        && (apr_table_get(r->headers_in, "Transfer-Encoding")
            || ((value = apr_table_get(r->headers_in, "Content-Length"))
                && strcmp(value, "0")))) {
        return refuse(r, HTTP_BAD_REQUEST, "the request has a body");
    }
    value = apr_table_get(r->headers_in, "Connection");
    if (!value || !ap_find_token(r->pool, value, "upgrade")) {
        return refuse(r, HTTP_BAD_REQUEST, "Connection lacks 'Upgrade'");
    }
    version = apr_table_get(r->headers_in, "Sec-WebSocket-Version");
    if (!version || strcmp(version, "13")) {
        /* RFC 6455 §4.4: name the version we speak. */
        apr_table_setn(r->err_headers_out, "Sec-WebSocket-Version", "13");
        if (!version) {
            return refuse(r, HTTP_BAD_REQUEST, "no Sec-WebSocket-Version");
        }
        return refuse(r, HTTP_UPGRADE_REQUIRED,
                      apr_psprintf(r->pool, "Sec-WebSocket-Version %s is "
                                   "not 13", version));
    }
    key = apr_table_get(r->headers_in, "Sec-WebSocket-Key");
    if (!key_is_valid(key)) {
        return refuse(r, HTTP_BAD_REQUEST,
                      "Sec-WebSocket-Key is not the base64 of 16 bytes");
    }
    if (!origin_allowed(r, conf)) {
        return refuse(r, HTTP_FORBIDDEN,
                      apr_psprintf(r->pool, "Origin %s is not allowed here",
                                   apr_table_get(r->headers_in, "Origin")));
    }
    if (!(hs->channels = mws_config_channels(r, conf, &value))) {
        /* Most often the URL's part that names it: the client's fault. */
        return refuse(r, HTTP_BAD_REQUEST, value);
    }
    hs->may_publish = mws_config_channel_publish(conf);
    if (!parse_protocols(r->pool,
                         apr_table_get(r->headers_in, "Sec-WebSocket-Protocol"),
                         &protocols)) {
        return refuse(r, HTTP_BAD_REQUEST,
                      "Sec-WebSocket-Protocol is not a list of tokens");
    }

    if (conf->handler->handshake) {
        status = conf->handler->handshake(r, protocols, pprotocol);
        if (status != OK) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00003)
                          "WebSocket handshake refused by handler %s "
                          "with %d", conf->handler_name, status);
            return status;
        }
        if (*pprotocol) {
            /* RFC 6455 §4.2.2: the server may only pick what was offered. */
            for (i = 0; i < protocols->nelts; ++i) {
                if (!strcmp(*pprotocol,
                            APR_ARRAY_IDX(protocols, i, const char *))) {
                    break;
                }
            }
            if (i == protocols->nelts) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, WSLOGNO(00004)
                              "handler %s chose subprotocol '%s', which the "
                              "client did not offer", conf->handler_name,
                              *pprotocol);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    if (mws_config_deflate(conf)) {
        ws_deflate_policy_t policy;

        policy.server_max_window_bits = mws_config_deflate_window_bits(conf);
        policy.server_no_context_takeover = 0;
        /* RFC 7692 §5: without an acceptable offer we go on uncompressed. */
        if (ws_deflate_negotiate(&hs->deflate, &hs->extensions, r->pool,
                                 apr_table_get(r->headers_in,
                                               "Sec-WebSocket-Extensions"),
                                 &policy) != APR_SUCCESS) {
            hs->extensions = NULL;
        }
    }
    return OK;
}

/* Header lines: their length, and their copy at @a at if set. */
typedef struct {
    apr_size_t len;
    char *at;
} head_writer;

static int head_line(void *baton, const char *name, const char *value)
{
    head_writer *w = baton;
    apr_size_t nl = strlen(name), vl = strlen(value);

    if (w->at) {
        memcpy(w->at, name, nl);
        memcpy(w->at + nl, ": ", 2);
        memcpy(w->at + nl + 2, value, vl);
        memcpy(w->at + nl + 2 + vl, CRLF, 2);
        w->at += nl + vl + 4;
    }
    w->len += nl + vl + 4;
    return 1;
}

/* The 101 of HTTP/1.1, written in one piece from the request's pool:
 * ap_send_interim_response() would build it in an 8 KB bucket buffer, a
 * block of the connection's memory that a short WebSocket maps and
 * unmaps again (Debian's APR gives each block its own mapping). */
static void send_101(request_rec *r)
{
    static const char status[] = AP_SERVER_PROTOCOL " 101 Switching Protocols"
                                 CRLF;
    conn_rec *c = r->connection;
    apr_bucket_brigade *bb;
    head_writer size = { 0, NULL }, out = { 0, NULL };
    apr_size_t len;
    char *head;

    apr_table_do(head_line, &size, r->headers_out, NULL);
    len = sizeof(status) - 1 + size.len + 2;
    head = apr_palloc(r->pool, len);
    memcpy(head, status, sizeof(status) - 1);
    out.at = head + sizeof(status) - 1;
    apr_table_do(head_line, &out, r->headers_out, NULL);
    memcpy(out.at, CRLF, 2);

    bb = apr_brigade_create(r->pool, c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_transient_create(head, len,
                                                            c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(c->bucket_alloc));
    ap_pass_brigade(c->output_filters, bb);
    apr_brigade_destroy(bb);
}

void mws_handshake_accept(request_rec *r, const mws_handshake *hs)
{
    const char *key = apr_table_get(r->headers_in, "Sec-WebSocket-Key");
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    char *accept;
    apr_sha1_ctx_t sha1;

    /* RFC 6455 §4.2.2 item 5.4: base64(SHA-1(key + GUID)). */
    apr_sha1_init(&sha1);
    apr_sha1_update(&sha1, key, strlen(key));
    apr_sha1_update(&sha1, WS_GUID, sizeof(WS_GUID) - 1);
    apr_sha1_final(digest, &sha1);
    accept = apr_palloc(r->pool, apr_base64_encode_len(sizeof(digest)));
    apr_base64_encode_binary(accept, digest, sizeof(digest));

    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = NULL;
    /* Ours replace any of the same name the handler set: what the 101
     * agrees on is what the engine runs. */
    apr_table_unset(r->headers_out, "Sec-WebSocket-Protocol");
    apr_table_unset(r->headers_out, "Sec-WebSocket-Extensions");
    apr_table_setn(r->headers_out, "Upgrade", "websocket");
    apr_table_setn(r->headers_out, "Connection", "Upgrade");
    apr_table_setn(r->headers_out, "Sec-WebSocket-Accept", accept);
    if (hs->protocol) {
        apr_table_setn(r->headers_out, "Sec-WebSocket-Protocol",
                       hs->protocol);
    }
    if (hs->extensions) {
        apr_table_setn(r->headers_out, "Sec-WebSocket-Extensions",
                       hs->extensions);
    }
    /* Straight to the connection's filters: no content filter, no
     * chunking; on HTTP/2, mod_http2 turns it into the 200 of RFC 8441. */
    if (r->connection->master) {
        ap_send_interim_response(r, 1);
    }
    else {
        send_101(r);
        apr_table_clear(r->headers_out);
    }
}

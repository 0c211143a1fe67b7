/* mod_websocket.h: the API for WebSocket handler modules (providers of mod_websocket). */
#ifndef MOD_WEBSOCKET_H
#define MOD_WEBSOCKET_H

#include <httpd.h>
#include <ap_provider.h>
#include <apr_optional.h>
#include <apr_tables.h>

/* The close codes, WEBSOCKET_CLOSE_* (RFC 6455 §7.4.1). */
#include "mod_websocket_close.h"

/*
 * A handler is an ordinary httpd module. In its register_hooks it calls
 *
 *   ap_register_provider(p, WEBSOCKET_PROVIDER_GROUP, "echo",
 *                        WEBSOCKET_PROVIDER_VERSION, &my_handler);
 *
 * and `WebSocketHandler echo` in a <Location> selects it.
 *
 * Threads: every callback but open runs on the thread that owns the
 * connection, and none may block. websocket_send(), websocket_ping() and websocket_close()
 * may be called from any thread: they queue the frame and wake the owner,
 * never waiting for the write. A websocket_conn_t stays valid until the
 * handler's close callback has returned; a handler that sends from other
 * threads keeps its own list of open connections under its own lock,
 * removes the connection in its close callback under that lock, and sends
 * while holding it.
 */

#define WEBSOCKET_PROVIDER_GROUP   "websocket"
#define WEBSOCKET_PROVIDER_VERSION "2"

/**
 * A numbered log tag ("WS" and five digits), used as httpd's APLOGNO():
 *   ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WEBSOCKET_LOGNO(00014)
 *                "cannot start the timer thread");
 * Every log call at DEBUG or above gets one, and each call site its own.
 * Handlers shipped with mod_websocket take theirs from the core's series
 * (tools/lognos/next-number), so tags are unique across the modules.
 */
#define WEBSOCKET_LOGNO(n) "WS" #n ": "

/**
 * The module record of a handler module without directives of its own:
 * WEBSOCKET_HANDLER_MODULE(websocket_echo, echo_register_hooks) declares
 * websocket_echo_module, whose register_hooks registers its provider (a
 * module that logs says APLOG_USE_MODULE(websocket_echo) before).
 */
#define WEBSOCKET_HANDLER_MODULE(name, register_hooks)  \
    module AP_MODULE_DECLARE_DATA name##_module = {     \
        STANDARD20_MODULE_STUFF,                        \
        NULL, NULL, NULL, NULL, NULL,                   \
        register_hooks                                  \
    }

/** Kinds of data message (the RFC 6455 opcodes). */
typedef enum {
    WEBSOCKET_TEXT   = 1,
    WEBSOCKET_BINARY = 2
} websocket_type_e;


typedef struct websocket_conn websocket_conn_t;

/** The calls a handler makes on a connection; reach them through the
 *  websocket_*() functions below. */
typedef struct websocket_conn_ops {
    apr_status_t (*send)(websocket_conn_t *wc, websocket_type_e type,
                         const void *data, apr_size_t len);
    apr_status_t (*ping)(websocket_conn_t *wc, const void *data,
                         apr_size_t len);
    apr_status_t (*close)(websocket_conn_t *wc, int code,
                          const char *reason);
    apr_status_t (*join)(websocket_conn_t *wc, const char *channel);
    apr_status_t (*leave)(websocket_conn_t *wc, const char *channel);
} websocket_conn_ops;

/** One WebSocket. Handlers see only these members. */
struct websocket_conn {
    const websocket_conn_ops *ops;
    /** Unique among this server's WebSockets since it started. */
    apr_uint64_t id;
    /** The upgrade request (owner thread only); r->user is the
     *  authenticated user, if any. */
    request_rec *r;
    /** Lives as long as the connection (owner thread only). */
    apr_pool_t *pool;
    /** The subprotocol chosen at the handshake, or NULL. */
    const char *protocol;
    /** The handler's own per-connection data. */
    void *data;
    /** The channels WebSocketChannel names for this request (const char *,
     *  evaluated and checked at the handshake; may be empty), and whether
     *  WebSocketChannelPublish lets the client publish to them. The
     *  handler decides what to do with them (see the pubsub handler). */
    const apr_array_header_t *channels;
    int may_publish;
};

/** A handler: set the callbacks you need, leave the others NULL. */
typedef struct websocket_handler {
    /**
     * The client asks to upgrade @a r. @a protocols lists the subprotocols
     * it offered (const char *, in its order; may be empty). Pick one by
     * setting *@a pprotocol to one of them, or leave it NULL. Headers it
     * sets in r->headers_out go out with the 101 (as open's do).
     * @return OK to accept, or the HTTP status to refuse with.
     * NULL accepts every handshake without a subprotocol.
     */
    int (*handshake)(request_rec *r, const apr_array_header_t *protocols,
                     const char **pprotocol);
    /** The handshake is accepted and the 101 about to go out (on the
     *  request's thread): @a wc is live, what it joins is joined before
     *  the client learns it is connected, and what it sends follows the
     *  101. A status other than APR_SUCCESS answers the request 500
     *  instead, and the handler hears nothing more of it: no message, no
     *  close (undo in open whatever it did before failing; channels it
     *  joined are left). Headers it sets in wc->r->headers_out go out
     *  with the 101, except Upgrade, Connection and Sec-WebSocket-*, which
     *  are mod_websocket's (on HTTP/2 they go with the 200 of RFC 8441). */
    apr_status_t (*open)(websocket_conn_t *wc);
    /** One whole message; @a data (followed by a '\0' not counted in
     *  @a len) is valid until the callback returns. Text is valid UTF-8. */
    void (*message)(websocket_conn_t *wc, websocket_type_e type,
                    const char *data, apr_size_t len);
    /** The WebSocket closed with @a code (1006 when the TCP connection was
     *  lost without a close frame) and @a reason (never NULL). Called once,
     *  and only if open succeeded (or is NULL); @a wc is invalid after it
     *  returns. */
    void (*close)(websocket_conn_t *wc, int code, const char *reason);
    /** A send to @a wc was refused with APR_ENOSPC (WebSocketSlowConsumer
     *  drop) and its pending output has since fallen below the allowance:
     *  a handler that bridges a flow may go on. Owner thread; may be NULL. */
    void (*writable)(websocket_conn_t *wc);
} websocket_handler;

/**
 * Send one message. Any thread. A handler answering in its own callback
 * writes at once (a message of any size); every other send is queued for
 * the connection's thread and bounded by its WebSocketMaxPendingOutput.
 * @return APR_SUCCESS (queued), APR_EOF once the WebSocket is closing,
 *         APR_ENOSPC when the message was refused: it alone is larger than
 *         WebSocketMaxPendingOutput (dropped for this WebSocket, which
 *         stays open), or the client does not keep up (twice that much
 *         pending): dropped and, under WebSocketSlowConsumer close, the
 *         WebSocket closes (1008).
 */
static APR_INLINE apr_status_t websocket_send(websocket_conn_t *wc,
                                              websocket_type_e type,
                                              const void *data,
                                              apr_size_t len)
{
    return wc->ops->send(wc, type, data, len);
}

/** Send a ping (at most 125 bytes of payload). Any thread.
 *  @return as websocket_send(), or APR_EINVAL if too long. */
static APR_INLINE apr_status_t websocket_ping(websocket_conn_t *wc,
                                              const void *data,
                                              apr_size_t len)
{
    return wc->ops->ping(wc, data, len);
}

/** Start the closing handshake with @a code (1000-1003, 1007-1014 or
 *  3000-4999) and @a reason (may be NULL; cut to 123 bytes). Any thread.
 *  @return APR_SUCCESS, APR_EOF if already closing, APR_EINVAL for
 *  another code. */
static APR_INLINE apr_status_t websocket_close(websocket_conn_t *wc, int code,
                                               const char *reason)
{
    return wc->ops->close(wc, code, reason);
}

/* ---- Channels ----------------------------------------------------------
 *
 * A channel is a name; a publish reaches every member of the channel once,
 * in each publisher's order: the members in this child at once, and, with
 * WebSocketBroker, the members in every other child and server on the same
 * broker. Members that join after a publish do not get it. A publish is
 * one shared, immutable message, not a copy per member; each member's
 * WebSocketMaxPendingOutput and WebSocketSlowConsumer apply to it.
 */

/** Channel names: 1 to WEBSOCKET_CHANNEL_MAX bytes of [A-Za-z0-9_.:-]. */
#define WEBSOCKET_CHANNEL_MAX 200

/** Is @a name a valid channel name? */
static APR_INLINE int websocket_channel_name_ok(const char *name)
{
    apr_size_t n = 0;

    for (; name && name[n]; ++n) {
        char ch = name[n];

        if (n == WEBSOCKET_CHANNEL_MAX
            || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                 || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'
                 || ch == ':' || ch == '-')) {
            return 0;
        }
    }
    return n > 0;
}

/**
 * Make @a wc a member of @a channel (owner thread: in a callback). A
 * WebSocket leaves its channels when it closes.
 * @return APR_SUCCESS (also if it was a member already), APR_EINVAL for a
 *         bad name, APR_EOF once the WebSocket is closing.
 */
static APR_INLINE apr_status_t websocket_join(websocket_conn_t *wc,
                                              const char *channel)
{
    return wc->ops->join(wc, channel);
}

/** Leave @a channel (owner thread). @return APR_SUCCESS, or APR_NOTFOUND
 *  if @a wc was not a member. */
static APR_INLINE apr_status_t websocket_leave(websocket_conn_t *wc,
                                               const char *channel)
{
    return wc->ops->leave(wc, channel);
}

/** Who published a message (for the broker's headers; may be NULL). */
typedef struct websocket_publisher {
    const char *user;       /* the authenticated user, or NULL */
    apr_uint64_t ws_id;     /* the publishing WebSocket's id, or 0 */
} websocket_publisher;

/**
 * Publish one message to @a channel, from any thread and any context (a
 * WebSocket's callback, a request handler, a thread of your own). Never
 * waits for a member or for the broker.
 * @param pdelivered if not NULL, the members of this child it was queued
 *                   for
 * @return APR_SUCCESS, APR_EINVAL for a bad name or type, APR_ENOMEM.
 * Retrieve it with APR_RETRIEVE_OPTIONAL_FN(websocket_publish) once the
 * modules are loaded (e.g. in a post_config or optional_fn_retrieve hook).
 */
APR_DECLARE_OPTIONAL_FN(apr_status_t, websocket_publish,
                        (const char *channel, websocket_type_e type,
                         const void *data, apr_size_t len,
                         const websocket_publisher *from,
                         apr_size_t *pdelivered));

#endif /* MOD_WEBSOCKET_H */

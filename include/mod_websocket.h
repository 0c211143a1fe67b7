/* mod_websocket.h: the API for WebSocket handler modules (providers of mod_websocket). */
#ifndef MOD_WEBSOCKET_H
#define MOD_WEBSOCKET_H

#include <httpd.h>
#include <ap_provider.h>
#include <apr_tables.h>

/*
 * A handler is an ordinary httpd module. In its register_hooks it calls
 *
 *   ap_register_provider(p, WEBSOCKET_PROVIDER_GROUP, "echo",
 *                        WEBSOCKET_PROVIDER_VERSION, &my_handler);
 *
 * and `WebSocketHandler echo` in a <Location> selects it.
 *
 * Threads: every callback runs on the thread that owns the connection and
 * must not block. websocket_send(), websocket_ping() and websocket_close()
 * may be called from any thread: they queue the frame and wake the owner,
 * never waiting for the write. A websocket_conn_t stays valid until the
 * handler's close callback has returned; a handler that sends from other
 * threads keeps its own list of open connections under its own lock,
 * removes the connection in its close callback under that lock, and sends
 * while holding it.
 */

#define WEBSOCKET_PROVIDER_GROUP   "websocket"
#define WEBSOCKET_PROVIDER_VERSION "1"

/** Kinds of data message (the RFC 6455 opcodes). */
typedef enum {
    WEBSOCKET_TEXT   = 1,
    WEBSOCKET_BINARY = 2
} websocket_type_e;

/* Close codes a handler uses most (RFC 6455 §7.4.1). */
#define WEBSOCKET_CLOSE_NORMAL      1000
#define WEBSOCKET_CLOSE_GOING_AWAY  1001
#define WEBSOCKET_CLOSE_PROTOCOL    1002
#define WEBSOCKET_CLOSE_UNSUPPORTED 1003
#define WEBSOCKET_CLOSE_NO_STATUS   1005
#define WEBSOCKET_CLOSE_ABNORMAL    1006
#define WEBSOCKET_CLOSE_BAD_DATA    1007
#define WEBSOCKET_CLOSE_POLICY      1008
#define WEBSOCKET_CLOSE_TOO_BIG     1009
#define WEBSOCKET_CLOSE_INTERNAL    1011

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
};

/** A handler: set the callbacks you need, leave the others NULL. */
typedef struct websocket_handler {
    /**
     * The client asks to upgrade @a r. @a protocols lists the subprotocols
     * it offered (const char *, in its order; may be empty). Pick one by
     * setting *@a pprotocol to one of them, or leave it NULL.
     * @return OK to accept, or the HTTP status to refuse with.
     * NULL accepts every handshake without a subprotocol.
     */
    int (*handshake)(request_rec *r, const apr_array_header_t *protocols,
                     const char **pprotocol);
    /** The 101 went out; @a wc is live. A status other than APR_SUCCESS
     *  closes the WebSocket with 1011, and the handler hears nothing more
     *  of it: no message, no close (undo in open whatever it did before
     *  failing). */
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

#endif /* MOD_WEBSOCKET_H */

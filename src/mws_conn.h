/* mws_conn.h: one WebSocket after the 101: the non-blocking pump between the connection's filters and the engine. */
#ifndef MWS_CONN_H
#define MWS_CONN_H

#include <httpd.h>
#include <apr_poll.h>

#include "mod_websocket.h"
#include "mws_channel.h"
#include "mws_config.h"
#include "mws_handshake.h"
#include "mws_msg.h"
#include "mws_outq.h"

/** Who runs a WebSocket (mws_async.c, mws_blocking.c); mod_status counts
 *  them open by it. */
typedef enum {
    MWS_RUNNER_ASYNC,       /* an I/O thread of the event MPM's child */
    MWS_RUNNER_BLOCKING,    /* its request thread (worker, prefork) */
    MWS_RUNNER_HTTP2,       /* an HTTP/2 stream's worker thread */
    MWS_RUNNER_COUNT
} mws_runner_e;

/**
 * Set up a WebSocket for @a r, whose handshake was accepted but not yet
 * answered: the engine, the send queue and the handler's connection.
 * @param conf the request's configuration, looked up once by the caller
 *             (its handler runs the WebSocket); the connection keeps it
 * @param hs what the 101 will agree on (subprotocol, permessage-deflate)
 * @param runner who will run it (counted in mws_status while it runs)
 */
apr_status_t mws_conn_create(mws_conn **pwc, request_rec *r,
                             const mws_dir_conf *conf,
                             const mws_handshake *hs, mws_runner_e runner);

/**
 * Run the handler's open callback, before the 101 goes out: what it joins
 * is joined when the client learns that it is connected, and what it sends
 * follows the 101. On failure (logged), answer the request with an error.
 */
apr_status_t mws_conn_open(mws_conn *wc);

/**
 * Take the connection over after the 101: point the request's filters at
 * the connection's, drop the filters that would hold or time out frames.
 */
void mws_conn_take_over(mws_conn *wc, const mws_handshake *hs);

/**
 * Queue the shared @a msg for @a wc (any thread; a channel's publish) in
 * its queue @a outq (mws_conn_outq(), which the caller may keep at hand),
 * under the same bound and policy as websocket_send(); on APR_SUCCESS
 * the queue owns one of the caller's references to it.
 */
apr_status_t mws_conn_deliver(mws_conn *wc, mws_outq *outq, mws_msg *msg);

/** The queue other threads push to; its waker belongs to the runner. */
mws_outq *mws_conn_outq(mws_conn *wc);

/* The buffer of a thread that reads its WebSockets' sockets itself: one
 * read takes what a busy client sent since the last. */
#define MWS_DIRECT_READ_SIZE (64 * 1024)

/**
 * Take message buffers from subpools of @a buffers, write frames into
 * buckets of @a list and, given @a read_buf (MWS_DIRECT_READ_SIZE bytes:
 * only for a connection whose filters are plain, mws_conn_filters_plain()),
 * read its socket into it and write the socket directly: memory of the
 * thread that owns the connection from now on (call it before its first
 * pump there). Buffers that every message needs then come from that
 * thread's cache, not from the system or the connection.
 */
void mws_conn_use_thread_memory(mws_conn *wc, apr_pool_t *buffers,
                                apr_bucket_alloc_t *list, char *read_buf);

/** Do @a c's filters only read and write the socket (the core's) and
 *  count what passes (mod_logio's)? Then, once they hold nothing more, its
 *  WebSocket may read and write the socket itself
 *  (mws_conn_use_thread_memory()). */
int mws_conn_filters_plain(conn_rec *c);

/** Hooks: the optional functions the connection uses (mod_logio's). */
void mws_conn_register_hooks(apr_pool_t *p);

/** The upgrade request, alive until the WebSocket is logged. */
request_rec *mws_conn_request(mws_conn *wc);

/**
 * One round of the pump: read the client until EAGAIN or the round's
 * budget is spent and feed the engine (which runs the handler's
 * callbacks), run the timers (idle, ping), send what other threads
 * queued, and write without blocking. Call it when the connection's
 * descriptor is ready, when its queue's waker fired, and at the deadline;
 * an extra call is harmless.
 * @param readable   the connection's descriptor was reported readable (or
 *                   may be: when unsure, 1); otherwise the round reads
 *                   only if the last one left input in the filters
 * @param preqevents what to poll the connection for next (APR_POLLIN,
 *                   APR_POLLOUT, both or none)
 * @param pdeadline  when to run the next round at the latest (0: no
 *                   deadline)
 * @return APR_SUCCESS to go on, APR_EAGAIN to go on with another round
 *         as soon as the runner's other connections had theirs (input is
 *         left that no poll would report), APR_EOF when the WebSocket is
 *         over and mws_conn_finish() is due.
 */
apr_status_t mws_conn_pump(mws_conn *wc, int readable,
                           apr_int16_t *preqevents, apr_time_t *pdeadline);

/**
 * Finish the WebSocket: tell the handler (close callback, exactly once),
 * record what the access log shows (status 101, bytes), log the close.
 * If output was left unsent, the connection is marked aborted so that
 * closing it does not wait to flush.
 */
void mws_conn_finish(mws_conn *wc);

/**
 * Begin the closing handshake from the glue (owner thread): send a close
 * frame and wait at most @a timeout for the client's. On a WebSocket
 * already closing, only shortens the wait.
 */
void mws_conn_close(mws_conn *wc, int code, const char *reason,
                    apr_interval_time_t timeout);

/**
 * Say goodbye as the child stops (graceful restart or stop,
 * MaxConnectionsPerChild): close with 1001 "server stopping" and wait
 * briefly for the client's close frame, or not at all if @a now (the
 * child exits at once). Both runners use it (owner thread).
 */
void mws_conn_say_goodbye(mws_conn *wc, int now);

#endif /* MWS_CONN_H */

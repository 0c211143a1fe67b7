/* mws_blocking.h: the blocking runner: the request's own thread pumps the WebSocket (worker, prefork, HTTP/2 streams). */
#ifndef MWS_BLOCKING_H
#define MWS_BLOCKING_H

#include "mws_conn.h"

/**
 * Run the pump of @a wc in the calling (request) thread until the
 * WebSocket is over, waiting in a wakeable pollset on the connection's
 * descriptor (the socket, or what ap_get_pollfd_from_conn() gives) and on
 * the wakeups of threads that send to it. Works on every MPM; used where
 * the async runner (mws_async.h) cannot take the connection.
 * @return the handler status for httpd (OK)
 */
int mws_blocking_run(mws_conn *wc, conn_rec *c);

/** When the child stops (graceful restart or stop, MaxConnectionsPerChild),
 *  its WebSockets are closed with 1001 so that it can exit. */
void mws_blocking_register_hooks(apr_pool_t *p);

#endif /* MWS_BLOCKING_H */

/* mws_async.h: the async runner: per-child I/O threads own suspended WebSockets under the event MPM, so an idle one costs no thread. */
#ifndef MWS_ASYNC_H
#define MWS_ASYNC_H

#include "mws_conn.h"

/**
 * Can @a c leave its request thread? Only under the event MPM (which knows
 * suspended connections), and only for a connection of its own: not an
 * HTTP/2 stream (c->master) nor one whose input filters need the
 * synchronous loop.
 */
int mws_async_can_adopt(conn_rec *c);

/**
 * Promise @a wc to one of the child's I/O threads; the handler then returns
 * SUSPENDED, and the suspend_connection hook hands the connection over
 * once the MPM is done with it.
 */
void mws_async_prepare(mws_conn *wc, conn_rec *c);

void mws_async_register_hooks(apr_pool_t *p);

#endif /* MWS_ASYNC_H */

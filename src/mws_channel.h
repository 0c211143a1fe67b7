/* mws_channel.h: the child's channels: their members, publishing to them, and the bus that carries them to other children and servers. */
#ifndef MWS_CHANNEL_H
#define MWS_CHANNEL_H

#include <httpd.h>

#include "mod_websocket.h"
#include "mod_websocket_bus.h"
#include "mws_msg.h"

typedef struct mws_conn mws_conn;
typedef struct mws_member mws_member;

/** One WebSocket's memberships; lives in the connection (owner thread). */
typedef struct mws_channel_set {
    mws_member *first;          /* joined */
    mws_member *spare;          /* left, for the next join */
} mws_channel_set;

/** Make @a wc, whose memberships @a set holds, a member of @a name
 *  (owner thread). @return as websocket_join(). */
apr_status_t mws_channel_join(mws_channel_set *set, mws_conn *wc,
                              apr_pool_t *p, const char *name);

/** @return as websocket_leave(). */
apr_status_t mws_channel_leave(mws_channel_set *set, const char *name);

/** Leave every channel (the WebSocket is closing): after it returns no
 *  publish reaches @a set's connection. */
void mws_channel_leave_all(mws_channel_set *set);

/**
 * Publish to the members of @a name: through the bus while it is
 * connected (every member everywhere, this child's included), to this
 * child's members otherwise. The websocket_publish optional function.
 * @param pdelivered the members it is for: of this server with the bus
 *        (other children's counts come from shared memory: about
 *        2,000 channels each at most), of this child without
 * @return APR_SUCCESS, APR_EINVAL, APR_ENOMEM, or APR_ENOSPC when the bus
 *         dropped it (its outgoing queue is full)
 */
apr_status_t mws_channel_publish(const char *name, websocket_type_e type,
                                 const void *data, apr_size_t len,
                                 const websocket_publisher *from,
                                 apr_size_t *pdelivered);

/** Is a bus configured (WebSocketBroker) and running in this child? */
int mws_channel_has_bus(void);

/** Wait until the broker has done what this child queued so far (its
 *  bindings, its publishes): see websocket_bus_provider.barrier.
 *  @return WEBSOCKET_BUS_DOWN without a bus. */
apr_status_t mws_channel_barrier(apr_interval_time_t timeout);

void mws_channel_register_hooks(apr_pool_t *p);

/* The bus directives (server config). */
const char *mws_channel_set_broker(cmd_parms *cmd, void *dummy,
                                   const char *url);
const char *mws_channel_set_exchange(cmd_parms *cmd, void *dummy,
                                     const char *name);

#endif /* MWS_CHANNEL_H */

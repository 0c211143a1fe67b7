/* mod_websocket_bus.h: the API for message-bus modules (providers of mod_websocket's channels across children and servers). */
#ifndef MOD_WEBSOCKET_BUS_H
#define MOD_WEBSOCKET_BUS_H

#include <errno.h>

#include <httpd.h>
#include <ap_provider.h>

#include "mod_websocket.h"

/*
 * A bus carries channel messages between the children of one server and
 * between servers. It is an ordinary httpd module that registers
 *
 *   ap_register_provider(p, WEBSOCKET_BUS_GROUP, "amqp",
 *                        WEBSOCKET_BUS_VERSION, &my_bus);
 *
 * and `WebSocketBroker amqp://...` (the URL's scheme without a trailing
 * "s") selects it. While the bus is connected, every publish makes the
 * round trip through the broker, the publishing child's own members
 * included: the bus delivers all that it receives back through
 * websocket_bus_core.deliver, so each member gets a message once, and
 * every member gets messages in the one order the broker routed them.
 * While it is not, mod_websocket delivers to the publishing child's
 * members itself.
 *
 * Threads: subscribe, unsubscribe and publish are called from any thread,
 * often with a channel's lock held: they must queue and return, never
 * wait for the network. Only barrier waits. The bus runs its own
 * thread(s).
 */

#define WEBSOCKET_BUS_GROUP   "websocket_bus"

/* The status of a bus call while the broker is not connected (APR has no
 * APR_ENOTCONN). */
#define WEBSOCKET_BUS_DOWN    APR_FROM_OS_ERROR(ENOTCONN)
#define WEBSOCKET_BUS_VERSION "1"

/** One message on the bus. */
typedef struct websocket_bus_msg {
    const char *channel;
    websocket_type_e type;
    const char *data;
    apr_size_t len;
    const char *user;           /* the publisher's authenticated user, or NULL */
    apr_uint64_t ws_id;         /* the publishing WebSocket, or 0 */
} websocket_bus_msg;

/** What a bus reports to mod_status (summed over the children). */
typedef enum {
    WEBSOCKET_BUS_PUBLISHED,    /* messages handed to the broker */
    WEBSOCKET_BUS_CONSUMED,     /* messages from the broker delivered here */
    WEBSOCKET_BUS_DROPPED,      /* messages lost: queue full, broker down */
    WEBSOCKET_BUS_RECONNECTS    /* connections made after the first */
} websocket_bus_counter_e;

/** What mod_websocket offers a bus (valid for the child's life). */
typedef struct websocket_bus_core {
    /** This child's unique id, to stamp on what it publishes (for the
     *  broker's other clients; what comes back is delivered all the
     *  same). */
    const char *origin;
    /** This server's name (ServerName of the main server). */
    const char *server_name;
    /** Deliver a message that came from the bus to this child's members of
     *  its channel (any thread). */
    void (*deliver)(const websocket_bus_msg *msg);
    /** Call @a fn for every channel with members in this child (to
     *  subscribe again after a reconnect); any thread. */
    void (*each_channel)(void (*fn)(void *baton, const char *channel),
                         void *baton);
    /** Count @a n events of @a what. */
    void (*count)(websocket_bus_counter_e what, apr_uint64_t n);
    /** The connection to the broker is up (1) or down (0; since now). */
    void (*connected)(int up);
} websocket_bus_core;

typedef struct websocket_bus websocket_bus;

/** A bus provider. */
typedef struct websocket_bus_provider {
    /**
     * Check a WebSocketBroker URL at configuration time.
     * @return NULL, or what is wrong with it (never the password).
     */
    const char *(*check)(apr_pool_t *p, const char *url);
    /**
     * Start in a child (child_init): connect on its own thread, with the
     * exchange (WebSocketBrokerExchange) as the place to publish to. Stop,
     * closing the connection cleanly, when @a pchild is cleaned up.
     */
    apr_status_t (*start)(websocket_bus **pbus, apr_pool_t *pchild,
                          server_rec *s, const char *url,
                          const char *exchange,
                          const websocket_bus_core *core);
    /** The child's first member of @a channel joined: receive it. */
    void (*subscribe)(websocket_bus *bus, const char *channel);
    /** Its last member left. */
    void (*unsubscribe)(websocket_bus *bus, const char *channel);
    /**
     * Publish @a msg to every member of its channel, this child's included
     * (copy what you keep).
     * @return APR_SUCCESS (queued), WEBSOCKET_BUS_DOWN while the broker is not
     *         connected (nothing queued: mod_websocket delivers to this
     *         child's members itself), APR_ENOSPC when the outgoing queue
     *         is full (dropped; count it).
     */
    apr_status_t (*publish)(websocket_bus *bus, const websocket_bus_msg *msg);
    /**
     * Wait until the broker has done all that this child queued before
     * the call: bindings in place, publishes routed (confirmed). A
     * subscriber that is told it is subscribed, and an HTTP publisher that
     * is told its message went out, can count on it (the next publish
     * comes after, for every member). Called from request threads only.
     * @return APR_SUCCESS, APR_TIMEUP after @a timeout, WEBSOCKET_BUS_DOWN if the
     *         broker is (or went) down meanwhile.
     */
    apr_status_t (*barrier)(websocket_bus *bus, apr_interval_time_t timeout);
} websocket_bus_provider;

#endif /* MOD_WEBSOCKET_BUS_H */

/* mws_status.h: server-wide WebSocket counters in shared memory, and their section of mod_status's page. */
#ifndef MWS_STATUS_H
#define MWS_STATUS_H

#include <httpd.h>

#include "mod_websocket_bus.h"
#include "mws_conn.h"

/** Hooks: the shared memory (post_config), each child's slot
 *  (child_init) and the section of /server-status. */
void mws_status_register_hooks(apr_pool_t *p);

/* Counters; any thread, lock-free, no-ops before a child has its slot. */
void mws_status_open(mws_runner_e runner);
void mws_status_close(mws_runner_e runner, int code);
/** Messages, and bytes of frames, from and to clients since the last
 *  call for that WebSocket. */
void mws_status_traffic(apr_uint64_t msgs_in, apr_uint64_t msgs_out,
                        apr_uint64_t bytes_in, apr_uint64_t bytes_out);
/** A message dropped for a slow consumer (WebSocketSlowConsumer drop). */
void mws_status_dropped(void);
/** A slow consumer closed (WebSocketSlowConsumer close). */
void mws_status_slow_closed(void);
/** The bus's counters and state (websocket_bus_core's count and
 *  connected). */
void mws_status_bus_count(websocket_bus_counter_e what, apr_uint64_t n);
void mws_status_bus_connected(int up);

/* How many members channels have in each child, so that a publisher can
 * say how many members of the whole server a message is for. A child's
 * registry keeps its count of a channel (@a key, a hash of its name, never
 * 0) at a place of its own choosing among MWS_STATUS_MEMBER_PLACES. */
#define MWS_STATUS_MEMBER_PLACES 2048

/** This child's count of @a key at @a place; key 0 frees the place. */
void mws_status_members_set(apr_size_t place, apr_uint64_t key,
                            apr_size_t count);
/** The counts of @a key at places [first, first + count) of the other
 *  live children whose bus is connected: 0 without shared memory. */
apr_size_t mws_status_members_elsewhere(apr_size_t first, apr_size_t count,
                                        apr_uint64_t key);

#endif /* MWS_STATUS_H */

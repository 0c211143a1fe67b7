/* mws_status.h: server-wide WebSocket counters in shared memory, and their section of mod_status's page. */
#ifndef MWS_STATUS_H
#define MWS_STATUS_H

#include <httpd.h>

/** Who runs a WebSocket (what mod_status shows them open by). */
typedef enum {
    MWS_RUNNER_ASYNC,       /* an I/O thread of the event MPM's child */
    MWS_RUNNER_BLOCKING,    /* its request thread (worker, prefork) */
    MWS_RUNNER_HTTP2,       /* an HTTP/2 stream's worker thread */
    MWS_RUNNER_COUNT
} mws_runner_e;

/** Hooks: the shared memory (post_config), each child's slot
 *  (child_init) and the section of /server-status. */
void mws_status_register_hooks(apr_pool_t *p);

/* Counters; any thread, lock-free, no-ops before a child has its slot. */
void mws_status_open(mws_runner_e runner);
void mws_status_close(mws_runner_e runner, int code);
void mws_status_message_in(void);
void mws_status_message_out(void);
/** Bytes of frames read from or written to the client. */
void mws_status_bytes_in(apr_size_t len);
void mws_status_bytes_out(apr_size_t len);
/** A message dropped for a slow consumer (WebSocketSlowConsumer drop). */
void mws_status_dropped(void);
/** A slow consumer closed (WebSocketSlowConsumer close). */
void mws_status_slow_closed(void);

#endif /* MWS_STATUS_H */

/* mod_websocket_increment.c: the "increment" handler: libwebsockets' dumb-increment-protocol, pushed from a timer thread. */
#include <apr_ring.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_websocket.h"

APLOG_USE_MODULE(websocket_increment);

#define INCREMENT_PROTOCOL "dumb-increment-protocol"
#define INCREMENT_PERIOD apr_time_from_msec(50)

/* One counting WebSocket, linked into the child's list while open. */
typedef struct increment_conn {
    APR_RING_ENTRY(increment_conn) link;
    websocket_conn_t *wc;
    unsigned int count;
} increment_conn;

APR_RING_HEAD(increment_list, increment_conn);

/* The child's timer: one thread ticks every WebSocket. The lock guards
 * the list and the counters, and is held while sending, which never
 * blocks: that is what keeps a closing WebSocket from being used. */
static struct {
    apr_thread_mutex_t *lock;
    struct increment_list conns;
    apr_thread_t *thread;
    volatile int stopping;
} timer;

static void *APR_THREAD_FUNC increment_tick(apr_thread_t *thread, void *baton)
{
    apr_time_t next = apr_time_now() + INCREMENT_PERIOD;
    increment_conn *ic;
    char buf[16];
    int len;

    while (!timer.stopping) {
        apr_time_t now = apr_time_now();

        if (now < next) {
            apr_sleep(next - now);
            continue;
        }
        next += INCREMENT_PERIOD;
        if (next < now) {
            next = now + INCREMENT_PERIOD;   /* we fell behind: skip ticks */
        }
        apr_thread_mutex_lock(timer.lock);
        for (ic = APR_RING_FIRST(&timer.conns);
             ic != APR_RING_SENTINEL(&timer.conns, increment_conn, link);
             ic = APR_RING_NEXT(ic, link)) {
            len = apr_snprintf(buf, sizeof(buf), "%u", ic->count);
            /* A full queue means a slow client: it misses this tick. */
            if (websocket_send(ic->wc, WEBSOCKET_TEXT, buf, len)
                == APR_SUCCESS) {
                ++ic->count;
            }
        }
        apr_thread_mutex_unlock(timer.lock);
    }
    return NULL;
}

static apr_status_t increment_stop(void *data)
{
    apr_status_t rv;

    if (timer.thread) {
        timer.stopping = 1;
        apr_thread_join(&rv, timer.thread);
        timer.thread = NULL;
    }
    return APR_SUCCESS;
}

static void increment_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    APR_RING_INIT(&timer.conns, increment_conn, link);
    timer.stopping = 0;
    rv = apr_thread_mutex_create(&timer.lock, APR_THREAD_MUTEX_DEFAULT,
                                 pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_create(&timer.thread, NULL, increment_tick, NULL,
                               pchild);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     WEBSOCKET_LOGNO(00014)
                     "cannot start the increment timer thread");
        return;
    }
    apr_pool_pre_cleanup_register(pchild, NULL, increment_stop);
}

static int increment_handshake(request_rec *r,
                               const apr_array_header_t *protocols,
                               const char **pprotocol)
{
    int i;

    for (i = 0; i < protocols->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(protocols, i, const char *);
        if (!strcmp(name, INCREMENT_PROTOCOL)) {
            *pprotocol = name;
        }
    }
    return OK;
}

static apr_status_t increment_open(websocket_conn_t *wc)
{
    increment_conn *ic = apr_pcalloc(wc->pool, sizeof(*ic));

    if (!timer.thread) {
        return APR_EGENERAL;
    }
    ic->wc = wc;
    wc->data = ic;
    apr_thread_mutex_lock(timer.lock);
    APR_RING_INSERT_TAIL(&timer.conns, ic, increment_conn, link);
    apr_thread_mutex_unlock(timer.lock);
    return APR_SUCCESS;
}

static void increment_message(websocket_conn_t *wc, websocket_type_e type,
                              const char *data, apr_size_t len)
{
    increment_conn *ic = wc->data;

    if (len == 6 && !memcmp(data, "reset\n", 6)) {
        apr_thread_mutex_lock(timer.lock);
        ic->count = 0;
        apr_thread_mutex_unlock(timer.lock);
    }
    else if (len == 8 && !memcmp(data, "closeme\n", 8)) {
        websocket_close(wc, WEBSOCKET_CLOSE_GOING_AWAY, "seeya");
    }
}

static void increment_close(websocket_conn_t *wc, int code,
                            const char *reason)
{
    increment_conn *ic = wc->data;

    apr_thread_mutex_lock(timer.lock);
    APR_RING_REMOVE(ic, link);
    apr_thread_mutex_unlock(timer.lock);
}

static const websocket_handler increment_handler = {
    increment_handshake,
    increment_open,
    increment_message,
    increment_close
};

static void increment_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, WEBSOCKET_PROVIDER_GROUP, "increment",
                         WEBSOCKET_PROVIDER_VERSION, &increment_handler);
    ap_hook_child_init(increment_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}

WEBSOCKET_HANDLER_MODULE(websocket_increment, increment_register_hooks);

/* mws_blocking.c: the blocking runner: one request thread pumps one WebSocket, woken by its socket, by senders, or by the child stopping. */
#include <apr_poll.h>
#include <apr_ring.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <ap_mpm.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <mpm_common.h>

#include "ws.h"
#include "mws_private.h"
#include "mws_blocking.h"

/* A running WebSocket, known to the child so that it can be woken when
 * the child stops. */
typedef struct mws_blocking_entry {
    APR_RING_ENTRY(mws_blocking_entry) link;
    apr_pollset_t *pollset;
} mws_blocking_entry;

APR_RING_HEAD(mws_blocking_list, mws_blocking_entry);

/* Prefork tells a child to stop with a signal alone, which interrupts the
 * poll but is missed when it comes just before it: look this often. */
#define MWS_STOP_CHECK_INTERVAL apr_time_from_sec(1)

static struct {
    apr_thread_mutex_t *lock;       /* NULL when the MPM is not threaded */
    struct mws_blocking_list running;
} runners;

static void runner_wake(void *baton)
{
    apr_pollset_wakeup(baton);
}

/* Graceful restart and stop wait for every request to end, and ours only
 * end when the WebSocket does: without this, old children would wait for
 * their WebSockets forever. */
static int child_is_stopping(void)
{
    int state;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
           && state == AP_MPMQ_STOPPING;
}

static void runner_enter(mws_blocking_entry *entry)
{
    if (runners.lock) {
        apr_thread_mutex_lock(runners.lock);
        APR_RING_INSERT_TAIL(&runners.running, entry, mws_blocking_entry, link);
        apr_thread_mutex_unlock(runners.lock);
    }
}

static void runner_leave(mws_blocking_entry *entry)
{
    if (runners.lock) {
        apr_thread_mutex_lock(runners.lock);
        APR_RING_REMOVE(entry, link);
        apr_thread_mutex_unlock(runners.lock);
    }
}

int mws_blocking_run(mws_conn *wc, conn_rec *c)
{
    apr_pool_t *p;
    mws_blocking_entry entry;
    apr_pollfd_t pfd;
    const apr_pollfd_t *signalled;
    apr_int16_t events, polled = 0;
    apr_time_t deadline;
    apr_interval_time_t timeout;
    apr_int32_t n;
    apr_status_t rv;

    apr_pool_create(&p, c->pool);
    apr_pool_tag(p, "mws_blocking");
    memset(&pfd, 0, sizeof(pfd));
    rv = apr_pollset_create(&entry.pollset, 1, p, APR_POLLSET_WAKEABLE);
    if (rv == APR_SUCCESS) {
        rv = ap_get_pollfd_from_conn(c, &pfd, NULL);
    }
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, WSLOGNO(00011)
                      "cannot poll the connection of a WebSocket");
        mws_conn_close(wc, WEBSOCKET_CLOSE_INTERNAL, "", 0);
        mws_conn_finish(wc);
        apr_pool_destroy(p);
        return OK;
    }
    pfd.p = p;
    mws_outq_set_waker(mws_conn_outq(wc), runner_wake, entry.pollset);
    runner_enter(&entry);

    for (;;) {
        if (child_is_stopping()) {
            mws_conn_say_goodbye(wc, 0);
        }
        rv = mws_conn_pump(wc, 1, &events, &deadline);
        if (rv == APR_EOF) {
            break;
        }
        if (events != polled) {
            if (polled) {
                apr_pollset_remove(entry.pollset, &pfd);
            }
            pfd.reqevents = events;
            if (events) {
                apr_pollset_add(entry.pollset, &pfd);
            }
            polled = events;
        }
        timeout = runners.lock ? -1 : MWS_STOP_CHECK_INTERVAL;
        if (rv == APR_EAGAIN) {
            /* Only look for wakeups and timers before the next round. */
            timeout = 0;
        }
        else if (deadline && (timeout < 0
                              || deadline - apr_time_now() < timeout)) {
            /* Whole milliseconds, rounded up: epoll rounds down, and a
             * deadline less than one away would spin until it is due. */
            timeout = deadline - apr_time_now();
            timeout = timeout > 0 ? (timeout + 999) / 1000 * 1000 : 0;
        }
        rv = apr_pollset_poll(entry.pollset, timeout, &n, &signalled);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)
            && !APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, WSLOGNO(00012)
                          "polling a WebSocket failed");
            break;
        }
    }
    runner_leave(&entry);
    /* After the handler's close callback no sender uses the waker. */
    mws_conn_finish(wc);
    apr_pool_destroy(p);
    return OK;
}

/* Runs in the child's main or listener thread (event, worker) once the
 * MPM state is STOPPING: wake every runner so it sees it. Prefork has no
 * lock here (it runs this hook from a signal handler, if at all); its
 * runner sees the state within MWS_STOP_CHECK_INTERVAL. */
static void mws_blocking_hook_child_stopping(apr_pool_t *pchild, int graceful)
{
    mws_blocking_entry *entry;

    if (!runners.lock) {
        return;
    }
    apr_thread_mutex_lock(runners.lock);
    for (entry = APR_RING_FIRST(&runners.running);
         entry != APR_RING_SENTINEL(&runners.running, mws_blocking_entry, link);
         entry = APR_RING_NEXT(entry, link)) {
        apr_pollset_wakeup(entry->pollset);
    }
    apr_thread_mutex_unlock(runners.lock);
}

static void mws_blocking_hook_child_init(apr_pool_t *pchild, server_rec *s)
{
    int threaded = AP_MPMQ_NOT_SUPPORTED;

    APR_RING_INIT(&runners.running, mws_blocking_entry, link);
    runners.lock = NULL;
    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    if (threaded != AP_MPMQ_NOT_SUPPORTED
        && apr_thread_mutex_create(&runners.lock, APR_THREAD_MUTEX_DEFAULT,
                                   pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, WSLOGNO(00015)
                     "cannot create the WebSocket runners' lock: "
                     "graceful restarts will wait for open WebSockets");
        runners.lock = NULL;
    }
}

void mws_blocking_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(mws_blocking_hook_child_init, NULL, NULL,
                       APR_HOOK_MIDDLE);
    ap_hook_child_stopping(mws_blocking_hook_child_stopping, NULL, NULL,
                           APR_HOOK_MIDDLE);
}

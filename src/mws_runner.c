/* mws_runner.c: the blocking runner: one request thread pumps one WebSocket, woken by its socket or by senders. */
#include <apr_poll.h>
#include <httpd.h>
#include <http_core.h>
#include <http_log.h>

#include "mws_private.h"
#include "mws_runner.h"

static void runner_wake(void *baton)
{
    apr_pollset_wakeup(baton);
}

int mws_runner_block(mws_conn *wc, conn_rec *c)
{
    apr_pool_t *p;
    apr_pollset_t *pollset;
    apr_pollfd_t pfd;
    const apr_pollfd_t *signalled;
    apr_int16_t events, polled = 0;
    apr_interval_time_t timeout;
    apr_int32_t n;
    apr_status_t rv;

    apr_pool_create(&p, c->pool);
    apr_pool_tag(p, "mws_runner");
    memset(&pfd, 0, sizeof(pfd));
    rv = apr_pollset_create(&pollset, 1, p, APR_POLLSET_WAKEABLE);
    if (rv == APR_SUCCESS) {
        rv = ap_get_pollfd_from_conn(c, &pfd, NULL);
    }
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, WSLOGNO(00011)
                      "cannot poll the connection of a WebSocket");
        mws_conn_close(wc, 1011, "");
        mws_conn_finish(wc);
        apr_pool_destroy(p);
        return OK;
    }
    pfd.p = p;
    mws_outq_set_waker(mws_conn_outq(wc), runner_wake, pollset);

    while (mws_conn_pump(wc, &events, &timeout) == APR_SUCCESS) {
        if (events != polled) {
            if (polled) {
                apr_pollset_remove(pollset, &pfd);
            }
            pfd.reqevents = events;
            if (events) {
                apr_pollset_add(pollset, &pfd);
            }
            polled = events;
        }
        rv = apr_pollset_poll(pollset, timeout, &n, &signalled);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)
            && !APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, WSLOGNO(00012)
                          "polling a WebSocket failed");
            break;
        }
    }
    /* After the handler's close callback no sender uses the waker. */
    mws_conn_finish(wc);
    apr_pool_destroy(p);
    return OK;
}

/* mws_async.c: the async runner: per-child I/O threads own suspended WebSockets under the event MPM, so an idle one costs no thread. */
#include <apr_allocator.h>
#include <apr_atomic.h>
#include <apr_poll.h>
#include <apr_ring.h>
#include <apr_skiplist.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <ap_mpm.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <http_request.h>
#include <mpm_common.h>
#include <util_cfgtree.h>
#include <util_filter.h>

#include "ws.h"
#include "mws_private.h"
#include "mws_config.h"
#include "mws_async.h"

/* A closed connection's pool (the MPM's ptrans) is destroyed this long
 * after its close: never in the loop turn that adopted it, as the worker
 * that suspended it may still be on its way out of the MPM, and late
 * enough for the client to see our FIN before the descriptor goes. */
#define MWS_ASYNC_REAP_DELAY apr_time_from_msec(100)
/* Connections per child below which the event MPM's admission limit is
 * worth a warning. */
#define MWS_ASYNC_LOW_CAP 1000
/* Free memory a connection's allocator keeps (blocks are 8 KiB and up);
 * returning blocks to the system costs a TLB shootdown on every core. */
#define MWS_ASYNC_CONN_MAX_FREE (16 * 1024)
/* ... and until it reads its socket itself (mws_conn.c), a WebSocket
 * that will: the one read buffer its reads take in turn. */
#define MWS_ASYNC_PLAIN_CONN_MAX_FREE (8 * 1024)
/* Free memory the I/O thread keeps for the message buffers of all its
 * connections. */
#define MWS_ASYNC_BUFFERS_MAX_FREE (32 * 1024 * 1024)
/* Events one poll returns at most; more wait for the next turn. */
#define MWS_ASYNC_POLL_BATCH 1024

/* How far a thread got in saying goodbye to its connections as the child
 * stops: each phase says it once more, with a shorter wait. */
typedef enum {
    IO_STOP_NONE,                       /* the child runs */
    IO_STOP_GRACEFUL,                   /* 1001 sent; answers awaited */
    IO_STOP_NOW                         /* 1001 sent; the child exits */
} io_stop_phase_e;

/* The sections whose directives are not global (find_directive()). */
#define MWS_VHOST_SECTION "<VirtualHost"

typedef struct mws_async_thread mws_async_thread;
typedef struct mws_async_conn mws_async_conn;

/* One WebSocket owned by an I/O thread, allocated from its c->pool. */
struct mws_async_conn {
    APR_RING_ENTRY(mws_async_conn) link;   /* io->conns, then io->graveyard */
    APR_RING_ENTRY(mws_async_conn) wlink;  /* io->woken (under io->lock),
                                            * then the thread's batch */
    APR_RING_ENTRY(mws_async_conn) alink;  /* io->again */
    mws_async_thread *io;
    mws_conn *wc;
    conn_rec *c;
    apr_pollfd_t pfd;                   /* reqevents 0: not in the pollset */
    apr_time_t timer_at;                /* in io->timers at this time, or 0 */
    apr_time_t adopted_at;              /* 0 until the thread adopts it */
    apr_time_t closed_at;
    apr_uint32_t woken;                 /* on io->woken or in the thread's
                                         * batch (atomic: set under
                                         * io->lock, cleared by the
                                         * thread as it runs it) */
    int again;                          /* on io->again: the thread's */
    int closed;                         /* the thread's */
    int plain;                          /* may read and write its socket
                                         * itself (mws_conn_filters_plain) */
};

APR_RING_HEAD(mws_async_list, mws_async_conn);

struct mws_async_thread {
    apr_thread_t *thread;
    apr_pool_t *buffers;                /* the thread's: message buffers */
    apr_bucket_alloc_t *bucket_alloc;   /* the thread's: outgoing frames */
    char *read_buf;                     /* the thread's: direct reads */
    apr_pollset_t *pollset;
    apr_thread_mutex_t *lock;
    /* under lock */
    struct mws_async_list woken;           /* new, or with queued sends */
    int signalled;                      /* a wakeup is pending */
    int stopping;                       /* the child is stopping */
    int quit;                           /* the child is exiting: now */
    /* the thread's own */
    struct mws_async_list conns;
    struct mws_async_list batch;           /* taken from woken, being run */
    struct mws_async_list again;           /* spent their round's budget */
    struct mws_async_list graveyard;       /* closed, oldest first */
    apr_skiplist *timers;               /* mws_async_conn by timer_at */
    io_stop_phase_e stop_phase;         /* what conns were told */
    apr_uint32_t count;                 /* atomic: conns owned */
};

static struct {
    mws_async_thread *threads;
    int n;                              /* 0: not the event MPM */
} ios;

/* ---- hand-over from other threads ------------------------------------- */

/* Put @a ioc on its thread's woken list and make sure the thread looks:
 * called with the connection's queue locked (mws_outq's waker), or by the
 * suspend_connection hook. */
static void io_wake(void *baton)
{
    mws_async_conn *ioc = baton;
    mws_async_thread *io = ioc->io;

    apr_thread_mutex_lock(io->lock);
    if (!apr_atomic_read32(&ioc->woken)) {
        apr_atomic_set32(&ioc->woken, 1);
        APR_RING_INSERT_TAIL(&io->woken, ioc, mws_async_conn, wlink);
    }
    if (!io->signalled) {
        io->signalled = 1;
        apr_pollset_wakeup(io->pollset);
    }
    apr_thread_mutex_unlock(io->lock);
}

/* Move every connection woken so far to the thread's batch, in one go: a
 * publish wakes thousands, and senders should not wait for the lock once
 * per connection the thread runs. None: the thread polls next, and the
 * next wakeup must interrupt it; until then, senders (and the child
 * stopping) need not wake the thread again: it learns the child's state
 * here, each time. */
static int io_take_woken(mws_async_thread *io, int *pstopping, int *pquit)
{
    int any;

    apr_thread_mutex_lock(io->lock);
    *pstopping = io->stopping;
    *pquit = io->quit;
    any = !APR_RING_EMPTY(&io->woken, mws_async_conn, wlink);
    if (any) {
        APR_RING_CONCAT(&io->batch, &io->woken, mws_async_conn, wlink);
    }
    else {
        io->signalled = 0;
    }
    apr_thread_mutex_unlock(io->lock);
    return any;
}

int mws_async_can_adopt(conn_rec *c)
{
    return ios.n && c->cs && !c->master && !c->clogging_input_filters
           && !c->aborted;
}

void mws_async_prepare(mws_conn *wc, conn_rec *c)
{
    mws_async_conn *ioc = apr_pcalloc(c->pool, sizeof(*ioc));
    mws_async_thread *io = &ios.threads[0];
    int i;

    /* The least busy thread. */
    for (i = 1; i < ios.n; ++i) {
        if (apr_atomic_read32(&ios.threads[i].count)
            < apr_atomic_read32(&io->count)) {
            io = &ios.threads[i];
        }
    }
    /* The MPM gave this connection an allocator of its own, which keeps
     * the blocks it freed: an idle WebSocket should not keep the buffers of
     * its busiest moment, and one that will read its socket itself keeps
     * just the core's read buffer until then (then none: mws_conn.c). */
    ioc->plain = mws_conn_filters_plain(c);
    apr_allocator_max_free_set(apr_pool_allocator_get(c->pool),
                               ioc->plain ? MWS_ASYNC_PLAIN_CONN_MAX_FREE
                               : MWS_ASYNC_CONN_MAX_FREE);
    ioc->io = io;
    ioc->wc = wc;
    ioc->c = c;
    ap_get_pollfd_from_conn(c, &ioc->pfd, NULL);
    ioc->pfd.reqevents = 0;
    ioc->pfd.client_data = ioc;
    APR_RING_ELEM_INIT(ioc, link);
    APR_RING_ELEM_INIT(ioc, wlink);
    APR_RING_ELEM_INIT(ioc, alink);
    mws_outq_set_waker(mws_conn_outq(wc), io_wake, ioc);
    ap_set_module_config(c->conn_config, &websocket_module, ioc);
}

/* The MPM is done with the connection (suspended_count counts it): only
 * now may another thread own it. */
static void mws_async_hook_suspend_connection(conn_rec *c, request_rec *r)
{
    mws_async_conn *ioc = ap_get_module_config(c->conn_config,
                                            &websocket_module);

    if (!ioc) {
        return;
    }
    ap_set_module_config(c->conn_config, &websocket_module, NULL);
    /* The worker clears it too on its way out; nothing of ours reads it. */
    c->sbh = NULL;
    io_wake(ioc);
}

/* ---- the I/O thread ----------------------------------------------------- */

static int io_timer_cmp(void *a, void *b)
{
    const mws_async_conn *x = a, *y = b;

    if (x->timer_at != y->timer_at) {
        return x->timer_at < y->timer_at ? -1 : 1;
    }
    return x == y ? 0 : (x < y ? -1 : 1);
}

/* Timers are lazy: a later deadline leaves the earlier entry in place (it
 * fires, the pump finds nothing due and says when to come back), so busy
 * connections do not reshuffle the skiplist on every message. */
static void io_set_timer(mws_async_thread *io, mws_async_conn *ioc,
                         apr_time_t deadline)
{
    if (!deadline || (ioc->timer_at && ioc->timer_at <= deadline)) {
        return;
    }
    if (ioc->timer_at) {
        apr_skiplist_remove_compare(io->timers, ioc, NULL, io_timer_cmp);
    }
    ioc->timer_at = deadline;
    apr_skiplist_insert(io->timers, ioc);
}

static apr_status_t io_poll_for(mws_async_thread *io, mws_async_conn *ioc,
                                apr_int16_t events)
{
    apr_status_t rv = APR_SUCCESS;

    if (events == ioc->pfd.reqevents) {
        return APR_SUCCESS;
    }
    if (ioc->pfd.reqevents) {
        apr_pollset_remove(io->pollset, &ioc->pfd);
    }
    ioc->pfd.reqevents = events;
    if (events && (rv = apr_pollset_add(io->pollset, &ioc->pfd))
                  != APR_SUCCESS) {
        ioc->pfd.reqevents = 0;
    }
    return rv;
}

/* End the request as httpd would have, had the handler not suspended it:
 * the EOR bucket logs it (one access-log line per WebSocket) and frees
 * r->pool once the core has written what precedes it; then the lingering
 * close sends what the filters hold (TLS close_notify) and our FIN, as far
 * as the socket takes them without waiting.
 * Not ap_process_request_after_handler(): it would change c->cs->state,
 * which must stay SUSPENDED until c->pool is destroyed. */
static void io_end_request(mws_async_conn *ioc)
{
    conn_rec *c = ioc->c;
    apr_bucket_brigade *bb = apr_brigade_create(c->pool, c->bucket_alloc);

    /* The core waits for a full socket as long as its timeout says: a
     * client that stopped reading must not hold the thread for Timeout
     * over a TLS close_notify or the lingering close's flush. */
    apr_socket_timeout_set(ap_get_conn_socket(c), 0);
    APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_eor_create(
                                    c->bucket_alloc,
                                    mws_conn_request(ioc->wc)));
    ap_pass_brigade(c->output_filters, bb);
    ap_start_lingering_close(c);
}

static void io_close(mws_async_thread *io, mws_async_conn *ioc)
{
    ioc->closed = 1;
    io_poll_for(io, ioc, 0);
    if (ioc->timer_at) {
        apr_skiplist_remove_compare(io->timers, ioc, NULL, io_timer_cmp);
        ioc->timer_at = 0;
    }
    /* After this no sender wakes us for it (mws_outq_shut()). */
    mws_conn_finish(ioc->wc);
    apr_thread_mutex_lock(io->lock);
    if (apr_atomic_read32(&ioc->woken)) {
        /* (from io->woken, or from the batch the thread is running) */
        APR_RING_REMOVE(ioc, wlink);
        apr_atomic_set32(&ioc->woken, 0);
    }
    apr_thread_mutex_unlock(io->lock);
    if (ioc->again) {
        APR_RING_REMOVE(ioc, alink);
        ioc->again = 0;
    }
    io_end_request(ioc);

    APR_RING_REMOVE(ioc, link);
    ioc->closed_at = apr_time_now();
    APR_RING_INSERT_TAIL(&io->graveyard, ioc, mws_async_conn, link);
    apr_atomic_dec32(&io->count);
}

/* One round of a connection's pump, and what it wants next. */
static void io_run(mws_async_thread *io, mws_async_conn *ioc, int readable)
{
    apr_int16_t events;
    apr_time_t deadline;
    apr_status_t rv;

    if (ioc->closed) {
        return;
    }
    rv = mws_conn_pump(ioc->wc, readable, &events, &deadline);
    if (rv == APR_EOF) {
        io_close(io, ioc);
        return;
    }
    if (rv == APR_EAGAIN && !ioc->again) {
        /* To the back of the line: every other connection with work
         * has its round first. */
        ioc->again = 1;
        APR_RING_INSERT_TAIL(&io->again, ioc, mws_async_conn, alink);
    }
    if ((rv = io_poll_for(io, ioc, events)) != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, ioc->c, WSLOGNO(00019)
                      "cannot poll a WebSocket's connection: closing it");
        mws_conn_close(ioc->wc, WEBSOCKET_CLOSE_INTERNAL, "", 0);
        io_close(io, ioc);
        return;
    }
    io_set_timer(io, ioc, deadline);
}

/* Goodbye, and a round to send it: a child that exits now does not wait
 * for the answers. */
static void io_say_goodbye(mws_async_thread *io, mws_async_conn *ioc,
                           int quit)
{
    mws_conn_say_goodbye(ioc->wc, quit);
    io_run(io, ioc, 0);
}

static void io_adopt(mws_async_thread *io, mws_async_conn *ioc, int stopping,
                     int quit)
{
    ioc->adopted_at = apr_time_now();
    /* Filters that care (mod_ssl's, mod_http2's) see who runs them now. */
    ioc->c->current_thread = io->thread;
    /* Message buffers and outgoing frames come and go with every message:
     * the thread's own allocator keeps their memory for all its
     * connections (buckets are freed where they are written: here). */
    mws_conn_use_thread_memory(ioc->wc, io->buffers, io->bucket_alloc,
                               ioc->plain ? io->read_buf : NULL);
    APR_RING_INSERT_TAIL(&io->conns, ioc, mws_async_conn, link);
    apr_atomic_inc32(&io->count);
    /* (the client may have sent frames right behind its handshake) */
    io_run(io, ioc, 1);
    if (stopping) {
        io_say_goodbye(io, ioc, quit);
    }
}

static void io_run_timers(mws_async_thread *io)
{
    apr_time_t now = apr_time_now();
    mws_async_conn *ioc;

    while ((ioc = apr_skiplist_peek(io->timers)) && ioc->timer_at <= now) {
        apr_skiplist_pop(io->timers, NULL);
        ioc->timer_at = 0;
        io_run(io, ioc, 0);
    }
}

/* Run once more each connection that spent its budget before this turn
 * (those that spend it again go back to the end). */
static void io_run_again(mws_async_thread *io)
{
    mws_async_conn *ioc, *last;

    if (APR_RING_EMPTY(&io->again, mws_async_conn, alink)) {
        return;
    }
    last = APR_RING_LAST(&io->again);
    do {
        ioc = APR_RING_FIRST(&io->again);
        APR_RING_REMOVE(ioc, alink);
        ioc->again = 0;
        io_run(io, ioc, 1);
    } while (ioc != last);
}

/* When io_reap() will destroy @a ioc's pool. */
static apr_time_t io_reap_at(const mws_async_conn *ioc, int quit)
{
    return (quit ? ioc->adopted_at : ioc->closed_at) + MWS_ASYNC_REAP_DELAY;
}

/* Destroy the pools of connections closed long enough ago: this closes
 * the socket and tells the MPM, which counts the connection until then.
 * When the child exits, the only wait left is the one for the worker that
 * suspended the connection, which touches it after the suspend hook. */
static void io_reap(mws_async_thread *io, int quit)
{
    apr_time_t now = apr_time_now();
    mws_async_conn *ioc, *next;

    for (ioc = APR_RING_FIRST(&io->graveyard);
         ioc != APR_RING_SENTINEL(&io->graveyard, mws_async_conn, link);
         ioc = next) {
        next = APR_RING_NEXT(ioc, link);
        if (now < io_reap_at(ioc, quit)) {
            if (!quit) {
                break;
            }
            continue;
        }
        APR_RING_REMOVE(ioc, link);
        apr_pool_destroy(ioc->c->pool);
    }
}

static apr_interval_time_t io_poll_timeout(mws_async_thread *io, int quit)
{
    mws_async_conn *ioc;
    apr_time_t next = 0, now;

    if (!APR_RING_EMPTY(&io->again, mws_async_conn, alink)) {
        return 0;
    }
    if ((ioc = apr_skiplist_peek(io->timers))) {
        next = ioc->timer_at;
    }
    for (ioc = APR_RING_FIRST(&io->graveyard);
         ioc != APR_RING_SENTINEL(&io->graveyard, mws_async_conn, link);
         ioc = APR_RING_NEXT(ioc, link)) {
        if (!next || io_reap_at(ioc, quit) < next) {
            next = io_reap_at(ioc, quit);
        }
        if (!quit) {
            break;      /* the oldest closed goes first */
        }
    }
    if (!next) {
        return -1;
    }
    now = apr_time_now();
    return next > now ? next - now : 0;
}

static void *APR_THREAD_FUNC io_main(apr_thread_t *thread, void *baton)
{
    mws_async_thread *io = baton;
    const apr_pollfd_t *ready;
    mws_async_conn *ioc;
    apr_int32_t n, i;
    int stopping, quit;
    io_stop_phase_e phase;
    apr_status_t rv;

    for (;;) {
        while (io_take_woken(io, &stopping, &quit)) {
            do {
                /* Off the batch before its round: a push from now on
                 * wakes it again. */
                ioc = APR_RING_FIRST(&io->batch);
                APR_RING_REMOVE(ioc, wlink);
                apr_atomic_set32(&ioc->woken, 0);
                if (!ioc->adopted_at) {
                    io_adopt(io, ioc, stopping, quit);
                }
                else {
                    io_run(io, ioc, 0);
                }
            } while (!APR_RING_EMPTY(&io->batch, mws_async_conn, wlink));
        }
        phase = !stopping ? IO_STOP_NONE
                : quit ? IO_STOP_NOW : IO_STOP_GRACEFUL;
        if (io->stop_phase < phase) {
            mws_async_conn *next;

            io->stop_phase = phase;
            for (ioc = APR_RING_FIRST(&io->conns);
                 ioc != APR_RING_SENTINEL(&io->conns, mws_async_conn, link);
                 ioc = next) {
                next = APR_RING_NEXT(ioc, link);
                io_say_goodbye(io, ioc, quit);
            }
        }
        io_run_timers(io);
        io_reap(io, quit);
        if (quit && APR_RING_EMPTY(&io->conns, mws_async_conn, link)
            && APR_RING_EMPTY(&io->graveyard, mws_async_conn, link)) {
            break;
        }

        rv = apr_pollset_poll(io->pollset, io_poll_timeout(io, quit), &n,
                              &ready);
        if (rv == APR_SUCCESS) {
            for (i = 0; i < n; ++i) {
                io_run(io, ready[i].client_data,
                       (ready[i].rtnevents & (APR_POLLIN | APR_POLLHUP
                                              | APR_POLLERR)) != 0);
            }
        }
        else if (!APR_STATUS_IS_EINTR(rv) && !APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, ap_server_conf,
                         WSLOGNO(00020) "polling WebSockets failed");
            apr_sleep(apr_time_from_msec(10));
        }
        io_run_again(io);
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* ---- the MPM's limits ------------------------------------------------- */

/* The last value of a global directive, wherever sections put it. */
static const char *find_directive(const ap_directive_t *d, const char *name)
{
    const char *found = NULL, *inner;

    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, name)) {
            found = d->args;
        }
        else if (d->first_child && d->directive[0] == '<'
                 && strncasecmp(d->directive, MWS_VHOST_SECTION,
                                sizeof(MWS_VHOST_SECTION) - 1)
                 && (inner = find_directive(d->first_child, name))) {
            found = inner;
        }
    }
    return found;
}

/* The event MPM stops accepting in a child once its connections reach
 * about ThreadsPerChild + idle workers x AsyncRequestWorkerFactor, and each
 * suspended WebSocket is one of them: the defaults (2) cap a child at a
 * few dozen WebSockets, far below what its I/O threads can hold. */
static int mws_async_hook_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                   apr_pool_t *ptemp, server_rec *s)
{
    int async = 0, threads = 0;
    double factor = 2.0;            /* the event MPM's default */
    const char *arg;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        || ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) != APR_SUCCESS || !async
        || ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) {
        return OK;
    }
    if ((arg = find_directive(ap_conftree, "AsyncRequestWorkerFactor"))) {
        factor = atof(arg);
    }
    if (threads * (1.0 + factor) < MWS_ASYNC_LOW_CAP) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, WSLOGNO(00022)
                     "the event MPM takes about %d connections per child "
                     "(ThreadsPerChild %d x (1 + AsyncRequestWorkerFactor "
                     "%g)) and every open WebSocket is one: for many "
                     "WebSockets raise AsyncRequestWorkerFactor (to %d for "
                     "%d per child)", (int)(threads * (1.0 + factor)),
                     threads, factor, MWS_ASYNC_LOW_CAP / threads,
                     MWS_ASYNC_LOW_CAP);
    }
    if (ap_max_requests_per_child) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, WSLOGNO(00023)
                     "MaxConnectionsPerChild %d: a child is replaced after "
                     "that many connections and its open WebSockets are "
                     "closed with 1001; set it to 0 on a WebSocket server",
                     ap_max_requests_per_child);
    }
    return OK;
}

/* ---- the child's life --------------------------------------------------- */

static void io_signal_all(int quit)
{
    int i;

    for (i = 0; i < ios.n; ++i) {
        mws_async_thread *io = &ios.threads[i];

        apr_thread_mutex_lock(io->lock);
        io->stopping = 1;
        io->quit |= quit;
        if (!io->signalled) {
            io->signalled = 1;
            apr_pollset_wakeup(io->pollset);
        }
        apr_thread_mutex_unlock(io->lock);
    }
}

/* Graceful restart and stop wait for every connection, and suspended ones
 * only end when we end them: say goodbye to all, so old children exit.
 * Runs in the child's main thread or its listener (event MPM). */
static void mws_async_hook_child_stopping(apr_pool_t *pchild, int graceful)
{
    io_signal_all(!graceful);
}

/* Before pchild's subpools (our threads' pools) go: end every WebSocket
 * now and join the threads. */
static apr_status_t io_child_exit(void *data)
{
    apr_status_t rv;
    int i;

    io_signal_all(1);
    for (i = 0; i < ios.n; ++i) {
        if (ios.threads[i].thread) {
            apr_thread_join(&rv, ios.threads[i].thread);
        }
    }
    ios.n = 0;
    return APR_SUCCESS;
}

static apr_status_t io_create(mws_async_thread *io, apr_pool_t *pchild)
{
    apr_allocator_t *allocator;
    apr_pool_t *p;
    apr_status_t rv;

    if ((rv = apr_pool_create(&p, pchild)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(p, "mws_async_thread");
    /* An allocator of the thread's own: no lock, and a cache sized for
     * the thread rather than for one connection. */
    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        return rv;
    }
    apr_allocator_max_free_set(allocator, MWS_ASYNC_BUFFERS_MAX_FREE);
    if ((rv = apr_pool_create_ex(&io->buffers, p, NULL, allocator))
        != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return rv;
    }
    apr_allocator_owner_set(allocator, io->buffers);
    apr_pool_tag(io->buffers, "mws_async_buffers");
    io->bucket_alloc = apr_bucket_alloc_create(io->buffers);
    io->read_buf = apr_palloc(p, MWS_DIRECT_READ_SIZE);
    APR_RING_INIT(&io->woken, mws_async_conn, wlink);
    APR_RING_INIT(&io->batch, mws_async_conn, wlink);
    APR_RING_INIT(&io->conns, mws_async_conn, link);
    APR_RING_INIT(&io->again, mws_async_conn, alink);
    APR_RING_INIT(&io->graveyard, mws_async_conn, link);
    if ((rv = apr_thread_mutex_create(&io->lock, APR_THREAD_MUTEX_DEFAULT,
                                      p)) != APR_SUCCESS
        || (rv = apr_pollset_create(&io->pollset, MWS_ASYNC_POLL_BATCH, p,
                                    APR_POLLSET_WAKEABLE
                                    | APR_POLLSET_NOCOPY)) != APR_SUCCESS
        || (rv = apr_skiplist_init(&io->timers, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_skiplist_set_compare(io->timers, io_timer_cmp, io_timer_cmp);
    return apr_thread_create(&io->thread, NULL, io_main, io, p);
}

static void mws_async_hook_child_init(apr_pool_t *pchild, server_rec *s)
{
    int async = 0, i;
    apr_status_t rv;

    ios.n = 0;
    if (ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) != APR_SUCCESS || !async) {
        return;
    }
    ios.threads = apr_pcalloc(pchild, mws_config_io_threads()
                                      * sizeof(*ios.threads));
    apr_pool_pre_cleanup_register(pchild, NULL, io_child_exit);
    for (i = 0; i < mws_config_io_threads(); ++i) {
        if ((rv = io_create(&ios.threads[i], pchild)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WSLOGNO(00021)
                         "cannot start a WebSocket I/O thread: WebSockets "
                         "will hold a request thread each");
            break;
        }
        ios.n = i + 1;
    }
}

void mws_async_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(mws_async_hook_post_config, NULL, NULL,
                        APR_HOOK_MIDDLE);
    ap_hook_child_init(mws_async_hook_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_suspend_connection(mws_async_hook_suspend_connection, NULL, NULL,
                               APR_HOOK_MIDDLE);
    ap_hook_child_stopping(mws_async_hook_child_stopping, NULL, NULL,
                           APR_HOOK_MIDDLE);
}

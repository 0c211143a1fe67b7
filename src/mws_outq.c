/* mws_outq.c: the cross-thread send queue: copy under a small lock, wake the owner, never wait for the write. */
#include <stdlib.h>

#include <apr_allocator.h>
#include <apr_atomic.h>
#include <apr_thread_mutex.h>

#include "mws_outq.h"

/* Pending output (queued plus the owner's backlog) may reach this many
 * times the limit: the owner stops reading its client at the limit, and
 * other threads' messages may arrive in bursts before it runs again. */
#define MWS_OUTQ_BURST 2

/* The owner keeps up to this many items of references it sent, for the
 * senders' next pushes: a member that lags a few runs behind still reuses
 * them. */
#define MWS_OUTQ_SPARES 2

/* Senders copy into one pool while the owner sends from the other. Both
 * are unmanaged pools with their own allocators, made on the first push
 * after a take and destroyed once sent, so an idle WebSocket keeps no
 * queue memory, and senders (under the lock) and the owner (unlocked)
 * never share allocator state. */
struct mws_outq {
    apr_thread_mutex_t *lock;
    apr_pool_t *filling;        /* senders allocate here, under lock */
    apr_pool_t *taken;          /* the owner's: holds the last take */
    mws_outq_item *head, **tail;
    mws_outq_item *run;         /* the last item, if shared messages may
                                 * still join it */
    mws_outq_item *taken_items; /* the last take, for their references */
    mws_outq_item *spare;       /* items for references, for senders */
    mws_outq_item *owner_spare; /* the owner's, for the next take */
    int owner_spares;
    apr_size_t queued;          /* bytes of the items, headers included */
    apr_size_t limit;
    apr_uint32_t backlog;       /* the owner's unsent bytes (atomic) */
    apr_size_t dropped;
    int drop;
    int overflow;               /* a push was refused (close mode) */
    int woken;                  /* a wakeup is on its way */
    int closing;                /* a CLOSE item was queued */
    apr_uint32_t refused;       /* a push was refused since asked (atomic) */
    int shut;
    mws_outq_wake_fn *wake;
    void *baton;
};

static void outq_free_items(mws_outq_item *items)
{
    mws_outq_item *next;

    for (; items; items = next) {
        next = items->next;
        free(items);
    }
}

/* Give back the references of shared messages in @a items; the owner
 * keeps some of their items for the senders (mws_outq_take() hands them
 * over), so that a member of a busy channel costs no malloc and free per
 * run, which would cross threads. */
static void outq_unref(mws_outq *q, mws_outq_item *items)
{
    mws_outq_item *next;
    apr_size_t i;

    for (; items; items = next) {
        next = items->next;
        if (items->kind == MWS_OUTQ_SHARED) {
            for (i = 0; i < items->len; ++i) {
                mws_msg_unref(items->u.msgs[i]);
            }
            if (q->owner_spares < MWS_OUTQ_SPARES) {
                items->next = q->owner_spare;
                q->owner_spare = items;
                ++q->owner_spares;
            }
            else {
                free(items);
            }
        }
    }
}

static apr_status_t outq_cleanup(void *baton)
{
    mws_outq *q = baton;

    outq_unref(q, q->head);
    outq_unref(q, q->taken_items);
    outq_free_items(q->spare);
    outq_free_items(q->owner_spare);
    if (q->filling) {
        apr_pool_destroy(q->filling);
    }
    if (q->taken) {
        apr_pool_destroy(q->taken);
    }
    return APR_SUCCESS;
}

apr_status_t mws_outq_create(mws_outq **pq, apr_pool_t *p, apr_size_t limit,
                             int drop)
{
    mws_outq *q = apr_pcalloc(p, sizeof(*q));
    apr_status_t rv;

    rv = apr_thread_mutex_create(&q->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    q->tail = &q->head;
    q->limit = limit;
    q->drop = drop;
    apr_pool_cleanup_register(p, q, outq_cleanup, apr_pool_cleanup_null);
    *pq = q;
    return APR_SUCCESS;
}

void mws_outq_set_waker(mws_outq *q, mws_outq_wake_fn *wake, void *baton)
{
    q->wake = wake;
    q->baton = baton;
}

void mws_outq_prefetch(const mws_outq *q)
{
    MWS_PREFETCH(q->lock);
}

void mws_outq_set_backlog(mws_outq *q, apr_size_t bytes)
{
    apr_atomic_set32(&q->backlog, bytes > APR_UINT32_MAX ? APR_UINT32_MAX
                                                         : (apr_uint32_t)bytes);
}

/* How much a push of @a size bytes (item header included) would leave
 * pending: queued here plus the owner's backlog. Under the lock. */
static apr_size_t outq_pending(mws_outq *q, apr_size_t size)
{
    return q->queued + apr_atomic_read32(&q->backlog) + size;
}

/* May a push of @a len bytes (@a size with its item) be queued? Counts
 * what is refused; *pwake says that the owner must hear of it. Under the
 * lock. */
static apr_status_t outq_admit(mws_outq *q, mws_outq_kind_e kind,
                               apr_size_t len, apr_size_t size, int *pwake)
{
    if (q->shut || q->closing) {
        return APR_EOF;
    }
    if (kind == MWS_OUTQ_CLOSE) {
        return APR_SUCCESS;
    }
    if (len > q->limit) {
        /* More than the connection's whole allowance: never held for
         * it, whether or not its client reads. */
        ++q->dropped;
        return APR_ENOSPC;
    }
    if (outq_pending(q, size) > MWS_OUTQ_BURST * q->limit) {
        /* The client has not taken what it was sent, or more came in
         * than the owner could write since it last ran: a slow
         * consumer. */
        apr_atomic_set32(&q->refused, 1);
        if (q->drop) {
            ++q->dropped;
        }
        else if (!q->overflow) {
            q->overflow = 1;
            *pwake = 1;
        }
        return APR_ENOSPC;
    }
    return APR_SUCCESS;
}

/* A run of references is a small fixed item, one per member of a publish
 * at most: from the heap, so that a fan-out maps and unmaps no pool block
 * per member (Debian's APR allocates blocks with mmap). Under the lock. */
static mws_outq_item *outq_run_alloc(mws_outq *q)
{
    mws_outq_item *item = q->spare;

    if (item) {
        q->spare = item->next;
        return item;
    }
    return malloc(sizeof(*item));
}

/* A copy's item: from the pool senders fill. Under the lock. */
static mws_outq_item *outq_copy_alloc(mws_outq *q, apr_size_t size)
{
    if (!q->filling
        && apr_pool_create_unmanaged_ex(&q->filling, NULL, NULL)
           != APR_SUCCESS) {
        q->filling = NULL;
        return NULL;
    }
    return apr_palloc(q->filling, size);
}

/* Queue @a msg in the run of shared messages at the tail, or in a new one.
 * Under the lock. */
static apr_status_t outq_add_shared(mws_outq *q, mws_msg *msg)
{
    mws_outq_item *item = q->run;

    if (!item || item->len == MWS_OUTQ_RUN) {
        if (!(item = outq_run_alloc(q))) {
            return APR_ENOMEM;
        }
        item->next = NULL;
        item->kind = MWS_OUTQ_SHARED;
        item->len = 0;
        *q->tail = item;
        q->tail = &item->next;
        q->run = item;
    }
    item->u.msgs[item->len++] = msg;
    return APR_SUCCESS;
}

/* Queue a copy of @a data in an item of its own. Under the lock. */
static apr_status_t outq_add_copy(mws_outq *q, mws_outq_kind_e kind,
                                  int code, const void *data, apr_size_t len)
{
    mws_outq_item *item = outq_copy_alloc(q, MWS_OUTQ_MSG_COST + len + 1);

    if (!item) {
        return APR_ENOMEM;
    }
    item->next = NULL;
    item->kind = kind;
    item->code = code;
    item->len = len;
    if (len) {
        memcpy(item->u.data, data, len);
    }
    item->u.data[len] = '\0';
    *q->tail = item;
    q->tail = &item->next;
    q->run = NULL;
    return APR_SUCCESS;
}

/* Queue @a len bytes: a copy of @a data, or a reference to @a msg. */
static apr_status_t outq_push(mws_outq *q, mws_outq_kind_e kind, int code,
                              const void *data, apr_size_t len, mws_msg *msg)
{
    apr_status_t rv;
    int wake = 0;

    apr_thread_mutex_lock(q->lock);
    rv = outq_admit(q, kind, len, MWS_OUTQ_MSG_COST + len, &wake);
    if (rv == APR_SUCCESS) {
        rv = msg ? outq_add_shared(q, msg)
                 : outq_add_copy(q, kind, code, data, len);
    }
    if (rv == APR_SUCCESS) {
        q->queued += MWS_OUTQ_MSG_COST + len;
        if (kind == MWS_OUTQ_CLOSE) {
            /* Nothing goes after a close frame. */
            q->closing = 1;
        }
        wake = 1;
    }
    /* Woken under the lock, so that no wakeup can follow mws_outq_shut()
     * and reach an owner that has forgotten this connection. */
    if (wake && !q->woken && q->wake) {
        q->woken = 1;
        q->wake(q->baton);
    }
    apr_thread_mutex_unlock(q->lock);
    return rv;
}

apr_status_t mws_outq_push(mws_outq *q, mws_outq_kind_e kind, int code,
                           const void *data, apr_size_t len)
{
    return outq_push(q, kind, code, data, len, NULL);
}

apr_status_t mws_outq_push_msg(mws_outq *q, mws_msg *msg)
{
    return outq_push(q, MWS_OUTQ_SHARED, 0, NULL, msg->len, msg);
}

mws_outq_item *mws_outq_take(mws_outq *q, int *poverflow)
{
    mws_outq_item *items;

    apr_thread_mutex_lock(q->lock);
    items = q->taken_items = q->head;
    q->head = q->run = NULL;
    q->tail = &q->head;
    /* Until the owner says what it could write, what it takes is its
     * backlog. */
    mws_outq_set_backlog(q, apr_atomic_read32(&q->backlog) + q->queued);
    q->queued = 0;
    q->woken = 0;
    *poverflow = q->overflow;
    q->overflow = 0;
    q->taken = q->filling;
    q->filling = NULL;
    if (!q->spare) {
        q->spare = q->owner_spare;
        q->owner_spare = NULL;
        q->owner_spares = 0;
    }
    apr_thread_mutex_unlock(q->lock);
    return items;
}

void mws_outq_release(mws_outq *q)
{
    outq_unref(q, q->taken_items);
    q->taken_items = NULL;
    if (q->taken) {
        apr_pool_destroy(q->taken);
        q->taken = NULL;
    }
}

apr_size_t mws_outq_shut(mws_outq *q)
{
    apr_size_t dropped;

    apr_thread_mutex_lock(q->lock);
    q->shut = 1;
    dropped = q->dropped;
    apr_thread_mutex_unlock(q->lock);
    return dropped;
}

int mws_outq_refused(mws_outq *q)
{
    return apr_atomic_xchg32(&q->refused, 0) != 0;
}

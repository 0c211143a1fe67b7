/* mws_outq.c: the cross-thread send queue: copy under a small lock, wake the owner, never wait for the write. */
#include <apr_allocator.h>
#include <apr_thread_mutex.h>

#include "mws_outq.h"

/* Senders copy into one pool while the owner drains the other: the two
 * swap in mws_outq_take(). Each pool has its own allocator, so the one
 * being filled (under the lock) and the one being cleared (by the owner,
 * unlocked) never share allocator state. */
struct mws_outq {
    apr_thread_mutex_t *lock;
    apr_pool_t *filling;        /* senders allocate here, under lock */
    apr_pool_t *draining;       /* the owner's, holds the last take */
    mws_outq_item *head, **tail;
    apr_size_t queued, limit;
    int woken;                  /* a wakeup is on its way */
    int shut;
    mws_outq_wake_fn *wake;
    void *baton;
};

static apr_status_t outq_pool_create(apr_pool_t **pp, apr_pool_t *parent)
{
    apr_allocator_t *allocator;
    apr_status_t rv;

    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        return rv;
    }
    /* Give memory back after a burst instead of keeping the peak. */
    apr_allocator_max_free_set(allocator, 64 * 1024);
    rv = apr_pool_create_ex(pp, parent, NULL, allocator);
    if (rv != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return rv;
    }
    apr_allocator_owner_set(allocator, *pp);
    apr_pool_tag(*pp, "mws_outq");
    return APR_SUCCESS;
}

apr_status_t mws_outq_create(mws_outq **pq, apr_pool_t *p, apr_size_t limit)
{
    mws_outq *q = apr_pcalloc(p, sizeof(*q));
    apr_status_t rv;

    if ((rv = apr_thread_mutex_create(&q->lock, APR_THREAD_MUTEX_DEFAULT,
                                      p)) != APR_SUCCESS
        || (rv = outq_pool_create(&q->filling, p)) != APR_SUCCESS
        || (rv = outq_pool_create(&q->draining, p)) != APR_SUCCESS) {
        return rv;
    }
    q->tail = &q->head;
    q->limit = limit;
    *pq = q;
    return APR_SUCCESS;
}

void mws_outq_set_waker(mws_outq *q, mws_outq_wake_fn *wake, void *baton)
{
    q->wake = wake;
    q->baton = baton;
}

apr_status_t mws_outq_push(mws_outq *q, mws_outq_kind_e kind, int code,
                           const void *data, apr_size_t len)
{
    mws_outq_item *item;
    int wake = 0;
    apr_status_t rv = APR_SUCCESS;

    apr_thread_mutex_lock(q->lock);
    if (q->shut) {
        rv = APR_EOF;
    }
    else if (len > q->limit - q->queued) {
        rv = APR_ENOSPC;
    }
    else if (!(item = apr_palloc(q->filling, sizeof(*item) + len))) {
        rv = APR_ENOMEM;
    }
    else {
        item->next = NULL;
        item->kind = kind;
        item->code = code;
        item->len = len;
        if (len) {
            memcpy(item->data, data, len);
        }
        item->data[len] = '\0';
        *q->tail = item;
        q->tail = &item->next;
        q->queued += len;
        wake = !q->woken;
        q->woken = 1;
    }
    apr_thread_mutex_unlock(q->lock);

    if (wake && q->wake) {
        q->wake(q->baton);
    }
    return rv;
}

mws_outq_item *mws_outq_take(mws_outq *q)
{
    mws_outq_item *items;
    apr_pool_t *drained = q->draining;

    /* The previous take has been written: its memory can go. */
    apr_pool_clear(drained);

    apr_thread_mutex_lock(q->lock);
    items = q->head;
    q->head = NULL;
    q->tail = &q->head;
    q->queued = 0;
    q->woken = 0;
    q->draining = q->filling;
    q->filling = drained;
    apr_thread_mutex_unlock(q->lock);
    return items;
}

void mws_outq_shut(mws_outq *q)
{
    apr_thread_mutex_lock(q->lock);
    q->shut = 1;
    apr_thread_mutex_unlock(q->lock);
}

/* mws_outq.h: the cross-thread send queue of one WebSocket: the only state other threads touch. */
#ifndef MWS_OUTQ_H
#define MWS_OUTQ_H

#include <apr_pools.h>

typedef enum {
    MWS_OUTQ_TEXT = 1,      /* the values of websocket_type_e */
    MWS_OUTQ_BINARY = 2,
    MWS_OUTQ_PING,
    MWS_OUTQ_CLOSE
} mws_outq_kind_e;

typedef struct mws_outq_item {
    struct mws_outq_item *next;
    mws_outq_kind_e kind;
    int code;               /* MWS_OUTQ_CLOSE */
    apr_size_t len;
    char data[1];           /* len bytes, then '\0' */
} mws_outq_item;

typedef struct mws_outq mws_outq;

/** Wakes the thread that owns the connection; called with no lock held. */
typedef void mws_outq_wake_fn(void *baton);

/**
 * Create the queue of one connection (owner thread).
 * @param limit  most bytes queued at once; pushes past it fail
 */
apr_status_t mws_outq_create(mws_outq **pq, apr_pool_t *p, apr_size_t limit);

/** Set who is woken by a push (owner thread, before any other thread can
 *  push); NULL wakes nobody. */
void mws_outq_set_waker(mws_outq *q, mws_outq_wake_fn *wake, void *baton);

/**
 * Queue a copy of @a data (any thread) and wake the owner, unless a wakeup
 * is already on its way.
 * @return APR_SUCCESS, APR_EOF after mws_outq_shut(), APR_ENOSPC over the
 *         limit, or an allocation failure.
 */
apr_status_t mws_outq_push(mws_outq *q, mws_outq_kind_e kind, int code,
                           const void *data, apr_size_t len);

/**
 * Take everything queued so far, oldest first (owner thread). The items
 * stay valid until the next call of mws_outq_take(); NULL if none.
 */
mws_outq_item *mws_outq_take(mws_outq *q);

/** Refuse every later push with APR_EOF (owner thread). */
void mws_outq_shut(mws_outq *q);

#endif /* MWS_OUTQ_H */

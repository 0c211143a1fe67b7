/* mws_outq.h: the cross-thread send queue of one WebSocket: the only state other threads touch. */
#ifndef MWS_OUTQ_H
#define MWS_OUTQ_H

#include <apr_pools.h>

#include "mws_msg.h"

typedef enum {
    MWS_OUTQ_TEXT = 1,      /* the values of websocket_type_e */
    MWS_OUTQ_BINARY = 2,
    MWS_OUTQ_PING,
    MWS_OUTQ_CLOSE,
    MWS_OUTQ_SHARED         /* shared messages, each of its own type */
} mws_outq_kind_e;

/* Shared messages queued back to back share one item, up to this many:
 * the owner reads their references from one array, not from an item each
 * that another thread wrote. */
#define MWS_OUTQ_RUN 24

typedef struct mws_outq_item {
    struct mws_outq_item *next;
    mws_outq_kind_e kind;
    int code;               /* MWS_OUTQ_CLOSE */
    apr_size_t len;         /* bytes of data; MWS_OUTQ_SHARED: messages */
    union {
        char data[1];       /* a copy: len bytes, then '\0' */
        mws_msg *msgs[MWS_OUTQ_RUN];    /* MWS_OUTQ_SHARED: references */
    } u;
} mws_outq_item;

/* What a queued message counts against the bound besides its own bytes:
 * an item's head. */
#define MWS_OUTQ_MSG_COST APR_OFFSETOF(mws_outq_item, u)

typedef struct mws_outq mws_outq;

/** Wakes the thread that owns the connection; called under the queue's
 *  lock, so it must not call back into the queue. */
typedef void mws_outq_wake_fn(void *baton);

/**
 * Create the queue of one connection (owner thread). It holds no memory
 * while it is empty.
 * @param limit  the connection's allowance (WebSocketMaxPendingOutput): a
 *               message larger is refused, and pending output (queued
 *               here plus the owner's backlog) may reach twice it, so that
 *               a burst from other threads before the owner runs again
 *               does not make a client that reads look slow
 * @param drop   pushes refused for a slow consumer are dropped (1) or
 *               mark the queue overflowed, which the owner learns from
 *               mws_outq_take() (0)
 */
apr_status_t mws_outq_create(mws_outq **pq, apr_pool_t *p, apr_size_t limit,
                             int drop);

/** Set who is woken by a push (owner thread, before any other thread can
 *  push); NULL wakes nobody. */
void mws_outq_set_waker(mws_outq *q, mws_outq_wake_fn *wake, void *baton);

/* Ask the CPU for the memory at @a p before it is needed (a hint). */
#if defined(__GNUC__)
#define MWS_PREFETCH(p) __builtin_prefetch(p)
#else
#define MWS_PREFETCH(p) ((void)(p))
#endif

/** Ask for the memory a push to @a q touches besides @a q itself (any
 *  thread): a publisher does so for the members it is about to push to. */
void mws_outq_prefetch(const mws_outq *q);

/** Tell pushers how many bytes the owner holds unsent (owner thread). */
void mws_outq_set_backlog(mws_outq *q, apr_size_t bytes);

/**
 * Queue a copy of @a data (any thread) and wake the owner, unless a wakeup
 * is already on its way. Every item counts against the bound, its header
 * included; nothing is queued after a CLOSE.
 * @return APR_SUCCESS, APR_EOF after mws_outq_shut() or a CLOSE,
 *         APR_ENOSPC for a message larger than the limit (dropped) or
 *         while the pending output is at its bound (a slow consumer: as
 *         @a drop says), or an allocation failure.
 */
apr_status_t mws_outq_push(mws_outq *q, mws_outq_kind_e kind, int code,
                           const void *data, apr_size_t len);

/**
 * Queue the shared @a msg (any thread), as mws_outq_push() queues a copy:
 * the same bound counts its whole length. On APR_SUCCESS the queue owns
 * one of the caller's references (mws_msg_ref_n() takes them for many
 * queues at once); otherwise the caller keeps it.
 */
apr_status_t mws_outq_push_msg(mws_outq *q, mws_msg *msg);

/**
 * Take everything queued so far, oldest first (owner thread); NULL if
 * none. The items stay valid until mws_outq_release().
 * @param poverflow set to 1 if a push was refused since the last take and
 *                  the queue is not in drop mode: the owner should close
 */
mws_outq_item *mws_outq_take(mws_outq *q, int *poverflow);

/** Free what the last mws_outq_take() returned, references to shared
 *  messages included (owner thread). */
void mws_outq_release(mws_outq *q);

/** Refuse every later push with APR_EOF (owner thread); after it returns
 *  no push wakes the owner any more. @return the pushes dropped (too
 *  large, or under drop mode). */
apr_size_t mws_outq_shut(mws_outq *q);

/** Has a push been refused for a slow consumer since the owner last
 *  asked (owner thread)? For the handler's writable callback. */
int mws_outq_refused(mws_outq *q);

#endif /* MWS_OUTQ_H */

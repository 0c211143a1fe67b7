/* mws_msg.c: one published message, shared by every member it goes to: reference-counted, immutable, and a bucket that sends it without a copy. */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>

#include "mws_msg.h"

/* A message outlives the pool of whoever published it and is freed by
 * whichever thread drops the last reference: it lives on the heap, not in
 * a pool (an unmanaged pool per message would cost a mapped block each). */
mws_msg *mws_msg_create(websocket_type_e type, const void *data,
                        apr_size_t len)
{
    mws_msg *msg = malloc(sizeof(*msg) + len);

    if (!msg) {
        return NULL;
    }
    apr_atomic_set32(&msg->refs, 1);
    msg->type = type;
    msg->len = len;
    if (len) {
        memcpy(msg->data, data, len);
    }
    msg->data[len] = '\0';
    return msg;
}

void mws_msg_ref(mws_msg *msg)
{
    apr_atomic_inc32(&msg->refs);
}

void mws_msg_unref(mws_msg *msg)
{
    if (!apr_atomic_dec32(&msg->refs)) {
        free(msg);
    }
}

/* ---- the bucket ---------------------------------------------------------
 * Its splits and copies share one apr_bucket_refcount (one thread's: the
 * connection's), whose last reference gives back the message's. */

typedef struct {
    apr_bucket_refcount refcount;
    mws_msg *msg;
} mws_msg_bucket;

static apr_status_t msg_bucket_read(apr_bucket *b, const char **str,
                                    apr_size_t *len, apr_read_type_e block)
{
    mws_msg_bucket *mb = b->data;

    *str = mb->msg->data + b->start;
    *len = b->length;
    return APR_SUCCESS;
}

static void msg_bucket_destroy(void *data)
{
    mws_msg_bucket *mb = data;

    if (apr_bucket_shared_destroy(mb)) {
        mws_msg_unref(mb->msg);
        apr_bucket_free(mb);
    }
}

/* The bytes do not depend on any pool: nothing to set aside. */
static apr_status_t msg_bucket_setaside(apr_bucket *b, apr_pool_t *p)
{
    return APR_SUCCESS;
}

static const apr_bucket_type_t mws_msg_bucket_type = {
    "WEBSOCKET_MSG", 5, APR_BUCKET_DATA,
    msg_bucket_destroy,
    msg_bucket_read,
    msg_bucket_setaside,
    apr_bucket_shared_split,
    apr_bucket_shared_copy
};

apr_bucket *mws_msg_bucket_create(mws_msg *msg, apr_bucket_alloc_t *list)
{
    apr_bucket *b = apr_bucket_alloc(sizeof(*b), list);
    mws_msg_bucket *mb = apr_bucket_alloc(sizeof(*mb), list);

    APR_BUCKET_INIT(b);
    b->free = apr_bucket_free;
    b->list = list;
    mws_msg_ref(msg);
    mb->msg = msg;
    b = apr_bucket_shared_make(b, mb, 0, msg->len);
    b->type = &mws_msg_bucket_type;
    return b;
}

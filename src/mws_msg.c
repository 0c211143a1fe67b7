/* mws_msg.c: one published message, shared by every member it goes to: reference-counted, immutable, and a bucket that sends it without a copy. */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>

#include "mws_msg.h"

/* A message outlives the pool of whoever published it and is freed by
 * whichever thread drops the last reference: it lives on the heap, not in
 * a pool (an unmanaged pool per message would cost a mapped block each). */
mws_msg *mws_msg_create(int type, const void *data,
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

void mws_msg_ref_n(mws_msg *msg, apr_uint32_t n)
{
    apr_atomic_add32(&msg->refs, n);
}

void mws_msg_unref_n(mws_msg *msg, apr_uint32_t n)
{
    apr_atomic_sub32(&msg->refs, n);
}

void mws_msg_unref(mws_msg *msg)
{
    if (!apr_atomic_dec32(&msg->refs)) {
        free(msg);
    }
}

/* ---- the bucket ---------------------------------------------------------
 * Every bucket of a message (splits and copies too) holds a reference of
 * its own: the filters may destroy them on different threads (mod_http2's
 * beams), so they share nothing but the message's atomic count. */

static apr_status_t msg_bucket_read(apr_bucket *b, const char **str,
                                    apr_size_t *len, apr_read_type_e block)
{
    const mws_msg *msg = b->data;

    *str = msg->data + b->start;
    *len = b->length;
    return APR_SUCCESS;
}

static void msg_bucket_destroy(void *data)
{
    mws_msg_unref(data);
}

/* The bytes do not depend on any pool: nothing to set aside. */
static apr_status_t msg_bucket_setaside(apr_bucket *b, apr_pool_t *p)
{
    return APR_SUCCESS;
}

static apr_status_t msg_bucket_split(apr_bucket *b, apr_size_t point)
{
    apr_status_t rv = apr_bucket_simple_split(b, point);

    if (rv == APR_SUCCESS) {
        mws_msg_ref(b->data);
    }
    return rv;
}

static apr_status_t msg_bucket_copy(apr_bucket *b, apr_bucket **pcopy)
{
    apr_status_t rv = apr_bucket_simple_copy(b, pcopy);

    if (rv == APR_SUCCESS) {
        mws_msg_ref(b->data);
    }
    return rv;
}

static const apr_bucket_type_t mws_msg_bucket_type = {
    "WEBSOCKET_MSG", 5, APR_BUCKET_DATA,
    msg_bucket_destroy,
    msg_bucket_read,
    msg_bucket_setaside,
    msg_bucket_split,
    msg_bucket_copy
};

apr_bucket *mws_msg_bucket_create(mws_msg *msg, apr_bucket_alloc_t *list)
{
    apr_bucket *b = apr_bucket_alloc(sizeof(*b), list);

    APR_BUCKET_INIT(b);
    b->free = apr_bucket_free;
    b->list = list;
    b->type = &mws_msg_bucket_type;
    b->start = 0;
    b->length = msg->len;
    b->data = msg;
    mws_msg_ref(msg);
    return b;
}

/* mws_msg.h: one published message, shared by every member it goes to: reference-counted, immutable, and a bucket that sends it without a copy. */
#ifndef MWS_MSG_H
#define MWS_MSG_H

#include <apr_buckets.h>

typedef struct mws_msg {
    apr_uint32_t refs;          /* atomic */
    int type;                   /* websocket_type_e */
    apr_size_t len;
    char data[1];               /* len bytes, then '\0' */
} mws_msg;

/** A message holding a copy of @a data, with one reference; NULL if no
 *  memory. */
mws_msg *mws_msg_create(int type, const void *data,
                        apr_size_t len);

/** Take another reference (any thread). */
void mws_msg_ref(mws_msg *msg);

/** Take @a n more references at once (any thread): a publisher takes one
 *  per member before it queues the message for them, so that the queues
 *  do not all touch the count while the members' threads drop theirs. */
void mws_msg_ref_n(mws_msg *msg, apr_uint32_t n);

/** Drop a reference (any thread); the last one frees the message. */
void mws_msg_unref(mws_msg *msg);

/** Drop @a n references that are not the last (the caller keeps one). */
void mws_msg_unref_n(mws_msg *msg, apr_uint32_t n);

/**
 * A bucket of @a msg's bytes holding a reference of its own (as its
 * splits and copies do, each): the frames of many WebSockets carry one
 * message, whatever their filters set aside and wherever they free it.
 */
apr_bucket *mws_msg_bucket_create(mws_msg *msg, apr_bucket_alloc_t *list);

#endif /* MWS_MSG_H */

/* mws_h2.h: the output of a WebSocket on an HTTP/2 stream: mod_http2 is handed only what it takes without blocking. */
#ifndef MWS_H2_H
#define MWS_H2_H

#include <httpd.h>

typedef struct mws_h2_out mws_h2_out;

/**
 * Set up the output of the secondary connection @a c of an HTTP/2 stream
 * (c->master set), from c->pool. What mod_http2 still holds of it when
 * c->pool goes is accounted for on whatever thread frees it.
 * @param id the WebSocket's, for the log
 * @return APR_SUCCESS or APR_ENOMEM
 */
apr_status_t mws_h2_out_create(mws_h2_out **pout, conn_rec *c,
                               apr_uint64_t id);

/**
 * Whether mod_http2 still holds a chunk passed earlier that the stream has
 * not taken (a pass now could block up to the server's Timeout). Looking
 * costs an empty pass down c's filters, which never blocks.
 * @param pbusy set to 1 while the last chunk waits in the stream's buffer
 * @return APR_SUCCESS, or the filters' error: the stream is gone
 */
apr_status_t mws_h2_out_busy(mws_h2_out *out, int *pbusy);

/**
 * Pass the data buckets of @a bb (a chunk; emptied) down c's filters as one
 * bucket, which mod_http2 takes without blocking when not busy.
 * @return APR_SUCCESS, an allocation failure, or the filters' error
 */
apr_status_t mws_h2_out_pass(mws_h2_out *out, apr_bucket_brigade *bb);

/** While busy, when to look again: soon after a pass or some progress,
 *  less and less often while the stream takes nothing. */
apr_time_t mws_h2_out_next_check(mws_h2_out *out);

#endif /* MWS_H2_H */

/* mws_h2.c: the output of a WebSocket on an HTTP/2 stream: one chunk at a time in mod_http2's buffer, so that a client that stops reading holds up no timer. */
#include <stdlib.h>
#include <apr_atomic.h>
#include <apr_buckets.h>
#include <httpd.h>
#include <http_log.h>
#include <util_filter.h>

#include "mws_private.h"
#include "mws_h2.h"

/*
 * A stream's output goes from its worker to the HTTP/2 connection's thread
 * through a bucket beam (modules/http2/h2_bucket_beam.c). The stream's last
 * filter, H2_C2_NET_OUT (h2_c2_filter_out() in h2_c2.c), calls
 * h2_beam_send() with APR_BLOCK_READ, which waits in wait_not_full() up to
 * H2StreamTimeout or the server's Timeout while the beam holds
 * H2StreamMaxMemSize of data: as it does once the client stops reading and
 * the stream's window is shut. No API tells a module how full the beam is,
 * but h2_beam_send() gives two things to build on:
 * - a beam that holds no data takes the next data bucket whatever its size
 *   (append_bucket() refuses a bucket only when no space is left);
 * - a heap bucket stays in the beam as it was passed until the connection's
 *   side has taken its bytes (h2_beam_receive() copies them and moves the
 *   bucket to buckets_consumed); the next h2_beam_send() frees it on our
 *   thread (purge_consumed_buckets()), or aborting or destroying the beam
 *   does, on the thread that does that.
 * So each chunk goes as one heap bucket whose free function says it was
 * taken, and the next chunk waits until it was. An empty brigade passed
 * down frees what was taken and never waits. Should a filter on the way
 * copy the bucket, its buffer is freed before the pass returns: the beam
 * cannot be followed then, and chunks go as they come (logged once).
 */

/* Looking again while the stream takes nothing: from 1 ms (what the poll
 * resolves) to 50 ms, the most a client that reads again waits for more. */
#define MWS_H2_CHECK_MIN apr_time_from_msec(1)
#define MWS_H2_CHECK_MAX apr_time_from_msec(50)

/* The connection's reference and one per chunk mod_http2 holds. Chunks may
 * be freed on another thread after c->pool is gone, so the ledger is
 * malloc'd and goes with the last reference. */
typedef struct {
    apr_uint32_t refs;
} mws_h2_ledger;

/* In front of each chunk's bytes: whom its free function tells. */
typedef struct {
    mws_h2_ledger *ledger;
} mws_h2_chunk;

#define MWS_H2_CHUNK_HDR APR_ALIGN_DEFAULT(sizeof(mws_h2_chunk))

struct mws_h2_out {
    conn_rec *c;
    apr_uint64_t id;                /* the WebSocket's, for the log */
    mws_h2_ledger *ledger;
    apr_bucket_brigade *bb;         /* what goes down: a chunk or nothing */
    apr_interval_time_t wait;       /* from one look to the next */
    apr_time_t next_check;
    unsigned int untracked : 1;     /* a filter copies chunks */
};

static void ledger_release(mws_h2_ledger *ledger)
{
    if (!apr_atomic_dec32(&ledger->refs)) {
        free(ledger);
    }
}

/* The free function of a chunk's bucket: mod_http2 is done with it. */
static void chunk_free(void *data)
{
    mws_h2_ledger *ledger = ((mws_h2_chunk *)data)->ledger;

    free(data);
    ledger_release(ledger);
}

static apr_status_t out_cleanup(void *baton)
{
    ledger_release(((mws_h2_out *)baton)->ledger);
    return APR_SUCCESS;
}

apr_status_t mws_h2_out_create(mws_h2_out **pout, conn_rec *c,
                               apr_uint64_t id)
{
    mws_h2_out *out = apr_pcalloc(c->pool, sizeof(*out));

    out->ledger = malloc(sizeof(*out->ledger));
    if (!out->ledger) {
        return APR_ENOMEM;
    }
    apr_atomic_set32(&out->ledger->refs, 1);
    out->c = c;
    out->id = id;
    out->bb = apr_brigade_create(c->pool, c->bucket_alloc);
    out->wait = MWS_H2_CHECK_MIN;
    apr_pool_cleanup_register(c->pool, out, out_cleanup,
                              apr_pool_cleanup_null);
    *pout = out;
    return APR_SUCCESS;
}

static int chunks_held(mws_h2_out *out)
{
    return apr_atomic_read32(&out->ledger->refs) > 1 && !out->untracked;
}

apr_status_t mws_h2_out_busy(mws_h2_out *out, int *pbusy)
{
    apr_status_t rv = APR_SUCCESS;

    if (chunks_held(out)) {
        rv = ap_pass_brigade(out->c->output_filters, out->bb);
        apr_brigade_cleanup(out->bb);
    }
    *pbusy = chunks_held(out);
    if (*pbusy) {
        out->next_check = apr_time_now() + out->wait;
        out->wait = out->wait * 2 < MWS_H2_CHECK_MAX ? out->wait * 2
                                                     : MWS_H2_CHECK_MAX;
    }
    return rv;
}

apr_status_t mws_h2_out_pass(mws_h2_out *out, apr_bucket_brigade *bb)
{
    mws_h2_chunk *chunk;
    apr_bucket *b;
    apr_off_t len;
    apr_size_t n;
    apr_status_t rv;

    rv = apr_brigade_length(bb, 1, &len);
    if (rv != APR_SUCCESS || len <= 0) {
        apr_brigade_cleanup(bb);
        return rv;
    }
    n = (apr_size_t)len;
    chunk = malloc(MWS_H2_CHUNK_HDR + n);
    if (!chunk) {
        return APR_ENOMEM;
    }
    rv = apr_brigade_flatten(bb, (char *)chunk + MWS_H2_CHUNK_HDR, &n);
    apr_brigade_cleanup(bb);
    if (rv != APR_SUCCESS) {
        free(chunk);
        return rv;
    }
    chunk->ledger = out->ledger;
    apr_atomic_inc32(&out->ledger->refs);
    b = apr_bucket_heap_create((const char *)chunk, MWS_H2_CHUNK_HDR + n,
                               chunk_free, out->c->bucket_alloc);
    /* The bucket's bytes are the chunk's, after the header. */
    b->start = MWS_H2_CHUNK_HDR;
    b->length = n;
    APR_BRIGADE_INSERT_TAIL(out->bb, b);
    rv = ap_pass_brigade(out->c->output_filters, out->bb);
    apr_brigade_cleanup(out->bb);
    if (rv == APR_SUCCESS && !out->untracked
        && apr_atomic_read32(&out->ledger->refs) == 1) {
        /* Freed before the pass returned: no beam keeps it. */
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, out->c, WSLOGNO(00033)
                      MWS_CONN_FMT "the HTTP/2 stream's output filters "
                      "copy what they are passed: a client that stops "
                      "reading can hold this WebSocket up to Timeout",
                      out->id);
        out->untracked = 1;
    }
    out->wait = MWS_H2_CHECK_MIN;
    return rv;
}

apr_time_t mws_h2_out_next_check(mws_h2_out *out)
{
    return out->next_check;
}

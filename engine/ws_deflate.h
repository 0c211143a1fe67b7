/* ws_deflate.h: permessage-deflate (RFC 7692): the offer/answer of its parameters, and inflating and deflating messages. */
#ifndef WS_DEFLATE_H
#define WS_DEFLATE_H

#include "ws.h"

/* The LZ77 window sizes RFC 7692 §7.1.2 allows, as powers of two. Plain
 * numbers, so that APR_STRINGIFY() can put them in messages. */
#define WS_DEFLATE_WBITS_MIN       8
#define WS_DEFLATE_WBITS_MAX       15

/* zlib cannot compress raw deflate with a 256-byte window (it refuses
 * windowBits -8), so the smallest window we can promise, and compress
 * with, is 512 bytes. */
#define WS_DEFLATE_OUR_WBITS_MIN   9

/** The parameters both sides agreed on (RFC 7692 §7.1). */
typedef struct ws_deflate_params_t {
    int server_no_context_takeover;   /* we reset our compressor per message */
    int client_no_context_takeover;   /* the client resets its compressor */
    int server_max_window_bits;       /* our LZ77 window: at least
                                       * WS_DEFLATE_OUR_WBITS_MIN */
    int client_max_window_bits;       /* the client's window:
                                       * WS_DEFLATE_WBITS_MIN.._MAX */
} ws_deflate_params_t;

/** What this server is willing to do (from configuration). */
typedef struct ws_deflate_policy_t {
    int server_max_window_bits;       /* the most we use (up to
                                       * WS_DEFLATE_WBITS_MAX) */
    int server_no_context_takeover;   /* always reset (saves memory) */
} ws_deflate_policy_t;

/**
 * Choose the first acceptable permessage-deflate offer in the value of the
 * client's Sec-WebSocket-Extensions header(s) (RFC 7692 §5, §7.1): offers
 * with unknown, repeated or invalid parameters are declined, and other
 * extensions are ignored.
 * @param pparams    the agreed parameters
 * @param presponse  the extension to put in the 101's
 *                   Sec-WebSocket-Extensions, allocated from @a p
 * @param offers     the header value (several headers joined by ", "), or
 *                   NULL
 * @return APR_SUCCESS (accepted), APR_NOTFOUND (nothing acceptable: go on
 *         without compression)
 */
apr_status_t ws_deflate_negotiate(ws_deflate_params_t *pparams,
                                  const char **presponse, apr_pool_t *p,
                                  const char *offers,
                                  const ws_deflate_policy_t *policy);

/**
 * A session's compression state: the agreed parameters and its two zlib
 * streams, each created when first needed from the pool given to
 * ws_deflate_create() (an idle connection costs no zlib memory), and
 * ended with it.
 */
typedef struct ws_deflate_t ws_deflate_t;

/** Memory for ws_deflate_inflate_end(): @a size bytes that need to live
 *  only until it returns, or NULL. */
typedef void *ws_deflate_alloc_fn(void *baton, apr_size_t size);

/**
 * Create the compression state for the parameters agreed on.
 * @param pdeflate  the new state
 * @param p         pool for the state and zlib's memory
 * @param params    copied
 * @return APR_SUCCESS, APR_EINVAL for parameters out of range (windows of
 *         WS_DEFLATE_WBITS_MIN..WS_DEFLATE_WBITS_MAX bits, but at least
 *         WS_DEFLATE_OUR_WBITS_MIN for ours)
 */
apr_status_t ws_deflate_create(ws_deflate_t **pdeflate, apr_pool_t *p,
                               const ws_deflate_params_t *params);

/**
 * Is a message of @a len bytes worth compressing? Very short ones are
 * not, and go uncompressed, as RFC 7692 §6 allows per message.
 */
int ws_deflate_is_worth(apr_size_t len);

/**
 * Compress a message as RFC 7692 §7.2.1 says: deflate it, flush to a byte
 * boundary, and drop the 4 bytes 00 00 ff ff that end the flush. The
 * result is sent as one frame with RSV1 set (§6).
 * @param pout, plen  the compressed payload, allocated from @a p
 * @return APR_SUCCESS, APR_ENOMEM (no compressor could be had),
 *         APR_EGENERAL (zlib failed)
 */
apr_status_t ws_deflate_compress(ws_deflate_t *d, const char **pout,
                                 apr_size_t *plen, apr_pool_t *p,
                                 const char *data, apr_size_t len);

/*
 * Inflating a message whose first frame has RSV1 set (RFC 7692 §6.1):
 * ws_deflate_inflate_start(); then for each piece of its frames' payload
 * ws_deflate_inflate_input() and ws_deflate_inflate() until that returns
 * APR_EAGAIN; after its last frame ws_deflate_inflate_last(), drained the
 * same way, and ws_deflate_inflate_end().
 */

/**
 * Start inflating a message; the inflater is created on the first one.
 * @return APR_SUCCESS, APR_ENOMEM
 */
apr_status_t ws_deflate_inflate_start(ws_deflate_t *d);

/**
 * Give the inflater payload bytes of the message (at most zlib's uInt).
 * They must stay valid until ws_deflate_inflate() returns APR_EAGAIN.
 * @return APR_SUCCESS (inflate them), APR_EAGAIN (nothing to inflate:
 *         the padding after a block with BFINAL that RFC 7692 §7.2.3.4
 *         allows), WS_EPROTO (other bytes after that block)
 */
apr_status_t ws_deflate_inflate_input(ws_deflate_t *d, const char *in,
                                      apr_size_t len);

/**
 * The message's last frame has arrived: give the inflater the 4 bytes
 * 00 00 ff ff that RFC 7692 §7.2.2 appends.
 * @return APR_SUCCESS (inflate them), APR_EAGAIN (nothing to inflate:
 *         the message had no compressed bytes, or its stream had ended)
 */
apr_status_t ws_deflate_inflate_last(ws_deflate_t *d);

/**
 * Inflate into @a out what the input given so far yields.
 * @param pproduced  the bytes written to @a out, also when an error is
 *                   returned: judge them first, so that the outcome does
 *                   not depend on how the input was split
 * @return APR_SUCCESS (call again: more may follow), APR_EAGAIN (the
 *         input is used up and nothing is held back), WS_EPROTO (not a
 *         valid DEFLATE stream, RFC 7692 §8, or bytes after its end),
 *         APR_ENOMEM
 */
apr_status_t ws_deflate_inflate(ws_deflate_t *d, char *out,
                                apr_size_t outlen, apr_size_t *pproduced);

/**
 * The message is inflated: prepare for the next one, which the client
 * compresses afresh (client_no_context_takeover) or with this message's
 * window as its context (§7.1.1.2).
 * @param alloc  called for a window's copy when the stream must be
 *               restarted (a block with BFINAL ended it, §7.2.3.4)
 * @return APR_SUCCESS, APR_ENOMEM
 */
apr_status_t ws_deflate_inflate_end(ws_deflate_t *d,
                                    ws_deflate_alloc_fn *alloc, void *baton);

#endif /* WS_DEFLATE_H */

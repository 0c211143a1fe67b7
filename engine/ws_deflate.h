/* ws_deflate.h: permessage-deflate (RFC 7692): the offer/answer of its parameters and the session's zlib streams. */
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

#endif /* WS_DEFLATE_H */

/* mws_handshake.h: the opening handshake, RFC 6455 §4.2: request_rec in, 101 or 400/403/426 out. */
#ifndef MWS_HANDSHAKE_H
#define MWS_HANDSHAKE_H

#include <httpd.h>

#include "ws_deflate.h"
#include "mws_config.h"

/** What an accepted handshake agreed on. */
typedef struct mws_handshake {
    const char *protocol;           /* the subprotocol, or NULL */
    const char *extensions;         /* our Sec-WebSocket-Extensions, or NULL */
    ws_deflate_params_t deflate;    /* permessage-deflate, if extensions */
    const apr_array_header_t *channels; /* WebSocketChannel's, evaluated */
    int may_publish;                /* WebSocketChannelPublish */
} mws_handshake;

/**
 * Check that @a r is a WebSocket opening handshake this location accepts,
 * let the handler choose a subprotocol or refuse, and negotiate
 * permessage-deflate where it is on.
 * @param hs what was agreed, on OK
 * @return OK, or the HTTP status to answer with (the reason is logged)
 */
int mws_handshake_check(request_rec *r, const mws_dir_conf *conf,
                        mws_handshake *hs);

/** Send the 101 Switching Protocols for an accepted handshake, with the
 *  headers the handler set in r->headers_out since mws_handshake_check()
 *  began. */
void mws_handshake_accept(request_rec *r, const mws_handshake *hs);

#endif /* MWS_HANDSHAKE_H */

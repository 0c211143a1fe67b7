/* mws_handshake.h: the opening handshake, RFC 6455 §4.2: request_rec in, 101 or 400/403/426 out. */
#ifndef MWS_HANDSHAKE_H
#define MWS_HANDSHAKE_H

#include <httpd.h>

#include "mws_config.h"

/**
 * Check that @a r is a WebSocket opening handshake this location accepts,
 * and let the handler choose a subprotocol or refuse.
 * @param pprotocol the chosen subprotocol, or NULL
 * @return OK, or the HTTP status to answer with (the reason is logged)
 */
int mws_handshake_check(request_rec *r, const mws_dir_conf *conf,
                        const char **pprotocol);

/** Send the 101 Switching Protocols for an accepted handshake. */
void mws_handshake_accept(request_rec *r, const char *protocol);

#endif /* MWS_HANDSHAKE_H */

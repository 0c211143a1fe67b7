/* mod_websocket_close.h: the WebSocket close codes, for handler modules and the engine alike (it includes nothing). */
#ifndef MOD_WEBSOCKET_CLOSE_H
#define MOD_WEBSOCKET_CLOSE_H

/*
 * Close codes, RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number
 * Registry". mod_websocket.h includes this header; the sans-I/O engine
 * includes it alone, as it must not see httpd's headers, so that each
 * code has one name everywhere.
 */
#define WEBSOCKET_CLOSE_NORMAL      1000
#define WEBSOCKET_CLOSE_GOING_AWAY  1001
#define WEBSOCKET_CLOSE_PROTOCOL    1002
#define WEBSOCKET_CLOSE_UNSUPPORTED 1003
#define WEBSOCKET_CLOSE_NO_STATUS   1005    /* never on the wire */
#define WEBSOCKET_CLOSE_ABNORMAL    1006    /* never on the wire */
#define WEBSOCKET_CLOSE_BAD_DATA    1007
#define WEBSOCKET_CLOSE_POLICY      1008
#define WEBSOCKET_CLOSE_TOO_BIG     1009
#define WEBSOCKET_CLOSE_EXTENSION   1010
#define WEBSOCKET_CLOSE_INTERNAL    1011
#define WEBSOCKET_CLOSE_TRY_AGAIN   1013    /* try again later */

#endif /* MOD_WEBSOCKET_CLOSE_H */

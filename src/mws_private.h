/* mws_private.h: what every glue file shares: the module record, log tags, limits. */
#ifndef MWS_PRIVATE_H
#define MWS_PRIVATE_H

#include <httpd.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA websocket_module;
APLOG_USE_MODULE(websocket);

/* Our own log tags ("WS" and five digits), used like APLOGNO(); take the
 * next one from tools/lognos/next-number. */
#define WSLOGNO(n) "WS" #n ": "

/* Prefix of every log line about one WebSocket: its id and peer. */
#define MWS_CONN_FMT "ws(%" APR_UINT64_T_FMT ") "

/* The handler name httpd's handler hook sees for our requests. */
#define MWS_HANDLER "websocket"

#endif /* MWS_PRIVATE_H */

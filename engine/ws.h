/* ws.h: RFC 6455 constants, status codes and limits shared by the engine (APR and the public close codes only). */
#ifndef WS_H
#define WS_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_pools.h>

/* The close codes, WEBSOCKET_CLOSE_*: the names handler modules use too. */
#include "mod_websocket_close.h"

/* Opcodes, RFC 6455 §5.2 and §11.8. */
typedef enum {
    WS_OP_CONT   = 0x0,
    WS_OP_TEXT   = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE  = 0x8,
    WS_OP_PING   = 0x9,
    WS_OP_PONG   = 0xA
} ws_opcode_e;

/* Largest payload of a control frame, RFC 6455 §5.5. */
#define WS_MAX_CTRL_PAYLOAD 125

/* Longest frame header a server writes or a client sends (2 + 8 + 4). */
#define WS_MAX_HDR_LEN 14

/* The GUID that Sec-WebSocket-Accept hashes with the key, RFC 6455 §1.3. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* The engine's own status codes. */
#define WS_ESTART    (APR_OS_START_USERERR + 6455 * 10)
#define WS_EPROTO    (WS_ESTART + 1)   /* peer broke the protocol: 1002 sent */
#define WS_EBADUTF8  (WS_ESTART + 2)   /* invalid UTF-8 in text: 1007 sent */
#define WS_ETOOBIG   (WS_ESTART + 3)   /* over a configured limit: 1009 sent */
#define WS_ECLOSED   (WS_ESTART + 4)   /* sending after our close frame */

/** Limits of one session; 0 means "no limit". */
typedef struct ws_limits_t {
    apr_uint64_t max_message;    /* reassembled message payload, bytes */
    apr_uint64_t max_frame;      /* one frame's payload, bytes */
} ws_limits_t;

/**
 * Is @a code valid in a close frame received from the peer (RFC 6455 §7.4)?
 * 1000-1003, 1007-1014 and 3000-4999 are; everything else is not.
 */
int ws_close_code_is_valid(int code);

/**
 * Is @a c (an unsigned char's value) a tchar of RFC 7230 §3.2.6, a byte a
 * token may hold? RFC 6455 uses tokens for subprotocols (§4.1) and for
 * extension names, parameters and values (§9.1).
 */
int ws_is_tchar(int c);

#endif /* WS_H */

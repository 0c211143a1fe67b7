/* ws.c: the small RFC predicates ws.h declares, shared by the engine and the glue. */
#include <string.h>

#include "ws.h"

/* Ranges of close codes a peer may send (RFC 6455 §7.4.1, §7.4.2 and the
 * IANA "WebSocket Close Code Number Registry"): 1004 is reserved,
 * 1005/1006/1015 never go on the wire, 1016-2999 are unassigned, 3000-3999
 * are registered by libraries and 4000-4999 are private. */
#define WS_CLOSE_CODE_MIN1    1000
#define WS_CLOSE_CODE_MAX1    1003
#define WS_CLOSE_CODE_MIN2    1007
#define WS_CLOSE_CODE_MAX2    1014
#define WS_CLOSE_CODE_MIN3    3000
#define WS_CLOSE_CODE_MAX3    4999

/* The delimiters of RFC 7230 §3.2.6, which no token contains. */
#define WS_TOKEN_DELIMITERS   "\"(),/:;<=>?@[\\]{}"

int ws_close_code_is_valid(int code)
{
    return (code >= WS_CLOSE_CODE_MIN1 && code <= WS_CLOSE_CODE_MAX1)
           || (code >= WS_CLOSE_CODE_MIN2 && code <= WS_CLOSE_CODE_MAX2)
           || (code >= WS_CLOSE_CODE_MIN3 && code <= WS_CLOSE_CODE_MAX3);
}

int ws_is_tchar(int c)
{
    return c >= 0x21 && c <= 0x7e && !strchr(WS_TOKEN_DELIMITERS, c);
}

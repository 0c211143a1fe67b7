/* ws_deflate.c: permessage-deflate (RFC 7692): parse the client's offers and answer the first acceptable one. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "ws_deflate.h"

/* The extension's registered name, RFC 7692 §5 and §9. */
#define WS_DEFLATE_NAME            "permessage-deflate"

/* Its parameters, RFC 7692 §7.1. */
#define WS_DEFLATE_SERVER_NCT      "server_no_context_takeover"
#define WS_DEFLATE_CLIENT_NCT      "client_no_context_takeover"
#define WS_DEFLATE_SERVER_MWB      "server_max_window_bits"
#define WS_DEFLATE_CLIENT_MWB      "client_max_window_bits"

/* Longest parameter value we look at: a window size has two digits, so
 * anything longer is invalid anyway. */
#define WS_DEFLATE_VALUE_MAX       8

/* Bits of ws_deflate_offer_t.seen, to decline repeated parameters
 * (RFC 7692 §7: "MUST decline ... if ... has multiple parameters with the
 * same name"). */
#define WS_DEFLATE_SEEN_SNCT       0x01
#define WS_DEFLATE_SEEN_CNCT       0x02
#define WS_DEFLATE_SEEN_SMWB       0x04
#define WS_DEFLATE_SEEN_CMWB       0x08

/* One permessage-deflate offer as the client wrote it. */
typedef struct ws_deflate_offer_t {
    int is_deflate;              /* the extension is permessage-deflate */
    int valid;                   /* no unknown, repeated or bad parameter */
    unsigned int seen;           /* WS_DEFLATE_SEEN_* */
    int server_mwb;              /* 0: not offered */
    int client_mwb;              /* 0: not offered, -1: without value */
} ws_deflate_offer_t;

/* A cursor over the header value. */
typedef struct ws_deflate_lex_t {
    const char *s;
} ws_deflate_lex_t;

/* OWS, RFC 7230 §3.2.3. */
static void deflate_skip_ows(ws_deflate_lex_t *lx)
{
    while (*lx->s == ' ' || *lx->s == '\t') {
        ++lx->s;
    }
}

/* Read a token into @a buf (truncated to @a size - 1 bytes, which then
 * never matches anything we know); returns 0 if there is none. */
static int deflate_token(ws_deflate_lex_t *lx, char *buf, apr_size_t size)
{
    apr_size_t n = 0;
    const char *start = lx->s;

    while (ws_is_tchar((unsigned char)*lx->s)) {
        if (n + 1 < size) {
            buf[n++] = *lx->s;
        }
        ++lx->s;
    }
    buf[n] = '\0';
    return lx->s != start;
}

/* Read a quoted-string (RFC 7230 §3.2.6) and unescape it into @a buf;
 * RFC 6455 §9.1 wants the result to be a token. Returns 0 on bad syntax,
 * -1 if the content is not a token, 1 otherwise. */
static int deflate_quoted(ws_deflate_lex_t *lx, char *buf, apr_size_t size)
{
    apr_size_t n = 0;
    int is_token = 1;

    ++lx->s;                                 /* the opening DQUOTE */
    for (;;) {
        int c = (unsigned char)*lx->s;

        if (c == '\0') {
            return 0;
        }
        ++lx->s;
        if (c == '"') {
            break;
        }
        if (c == '\\') {
            c = (unsigned char)*lx->s;
            if (c == '\0') {
                return 0;
            }
            ++lx->s;
        }
        if (!ws_is_tchar(c)) {
            is_token = 0;
        }
        if (n + 1 < size) {
            buf[n++] = (char)c;
        }
    }
    buf[n] = '\0';
    return (is_token && n > 0) ? 1 : -1;
}

/* A window size: "8".."15", decimal without leading zeros (RFC 7692
 * §7.1.2.1, §7.1.2.2); 0 if @a v is anything else. */
static int deflate_wbits(const char *v)
{
    int bits = 0;

    if (v[0] < '1' || v[0] > '9') {
        return 0;
    }
    for (; *v; ++v) {
        if (!apr_isdigit(*v) || bits > WS_DEFLATE_WBITS_MAX) {
            return 0;
        }
        bits = bits * 10 + (*v - '0');
    }
    if (bits < WS_DEFLATE_WBITS_MIN || bits > WS_DEFLATE_WBITS_MAX) {
        return 0;
    }
    return bits;
}

/* Mark parameter @a bit seen; a second time makes the offer invalid. */
static int deflate_once(ws_deflate_offer_t *o, unsigned int bit)
{
    if (o->seen & bit) {
        o->valid = 0;
        return 0;
    }
    o->seen |= bit;
    return 1;
}

/* Apply one parameter of a permessage-deflate offer (RFC 7692 §7.1). */
static void deflate_param(ws_deflate_offer_t *o, const char *name,
                          const char *value)
{
    if (!strcasecmp(name, WS_DEFLATE_SERVER_NCT)) {
        if (deflate_once(o, WS_DEFLATE_SEEN_SNCT) && value) {
            o->valid = 0;
        }
    }
    else if (!strcasecmp(name, WS_DEFLATE_CLIENT_NCT)) {
        if (deflate_once(o, WS_DEFLATE_SEEN_CNCT) && value) {
            o->valid = 0;
        }
    }
    else if (!strcasecmp(name, WS_DEFLATE_SERVER_MWB)) {
        /* §7.1.2.1: it always has a value. */
        if (deflate_once(o, WS_DEFLATE_SEEN_SMWB)) {
            o->server_mwb = value ? deflate_wbits(value) : 0;
            if (!o->server_mwb) {
                o->valid = 0;
            }
        }
    }
    else if (!strcasecmp(name, WS_DEFLATE_CLIENT_MWB)) {
        /* §7.1.2.2: the value is optional. */
        if (deflate_once(o, WS_DEFLATE_SEEN_CMWB)) {
            o->client_mwb = value ? deflate_wbits(value) : -1;
            if (!o->client_mwb) {
                o->valid = 0;
            }
        }
    }
    else {
        /* §7: an unknown parameter declines the offer. */
        o->valid = 0;
    }
}

/*
 * Parse one extension, `name *( OWS ";" OWS param [ OWS "=" OWS value ] )`
 * (RFC 6455 §9.1), up to the "," that ends it or the end of the value.
 * Returns 0 on a syntax error: the rest of the header cannot be trusted to
 * be split where the client meant it.
 */
static int deflate_extension(ws_deflate_lex_t *lx, ws_deflate_offer_t *o)
{
    char name[sizeof(WS_DEFLATE_CLIENT_NCT) + 1];
    char pname[sizeof(WS_DEFLATE_CLIENT_NCT) + 1];
    char value[WS_DEFLATE_VALUE_MAX + 1];

    memset(o, 0, sizeof(*o));
    o->valid = 1;
    deflate_skip_ows(lx);
    if (!deflate_token(lx, name, sizeof(name))) {
        return 0;
    }
    o->is_deflate = !strcasecmp(name, WS_DEFLATE_NAME);
    for (;;) {
        int has_value = 0;

        deflate_skip_ows(lx);
        if (*lx->s == '\0' || *lx->s == ',') {
            return 1;
        }
        if (*lx->s != ';') {
            return 0;
        }
        ++lx->s;
        deflate_skip_ows(lx);
        if (!deflate_token(lx, pname, sizeof(pname))) {
            return 0;
        }
        deflate_skip_ows(lx);
        if (*lx->s == '=') {
            ++lx->s;
            deflate_skip_ows(lx);
            if (*lx->s == '"') {
                int rv = deflate_quoted(lx, value, sizeof(value));

                if (rv == 0) {
                    return 0;
                }
                if (rv < 0) {
                    o->valid = 0;
                }
            }
            else if (!deflate_token(lx, value, sizeof(value))) {
                return 0;
            }
            has_value = 1;
        }
        if (o->is_deflate) {
            deflate_param(o, pname, has_value ? value : NULL);
        }
    }
}

apr_status_t ws_deflate_negotiate(ws_deflate_params_t *pparams,
                                  const char **presponse, apr_pool_t *p,
                                  const char *offers,
                                  const ws_deflate_policy_t *policy)
{
    ws_deflate_lex_t lx;
    ws_deflate_offer_t o;
    int our_max;

    memset(pparams, 0, sizeof(*pparams));
    *presponse = NULL;
    if (!offers) {
        return APR_NOTFOUND;
    }
    our_max = policy->server_max_window_bits;
    if (our_max > WS_DEFLATE_WBITS_MAX) {
        our_max = WS_DEFLATE_WBITS_MAX;
    }
    if (our_max < WS_DEFLATE_OUR_WBITS_MIN) {
        our_max = WS_DEFLATE_OUR_WBITS_MIN;
    }
    lx.s = offers;
    for (;;) {
        /* Empty list elements are allowed (RFC 7230 §7). */
        deflate_skip_ows(&lx);
        while (*lx.s == ',') {
            ++lx.s;
            deflate_skip_ows(&lx);
        }
        if (*lx.s == '\0' || !deflate_extension(&lx, &o)) {
            return APR_NOTFOUND;
        }
        /* §7.1.2.1: a window we cannot use makes the offer unacceptable;
         * later offers are the client's fallbacks (§5.1). */
        if (o.is_deflate && o.valid
            && (!o.server_mwb || o.server_mwb >= WS_DEFLATE_OUR_WBITS_MIN)) {
            break;
        }
    }

    pparams->server_no_context_takeover =
        (o.seen & WS_DEFLATE_SEEN_SNCT) || policy->server_no_context_takeover;
    pparams->client_no_context_takeover = !!(o.seen & WS_DEFLATE_SEEN_CNCT);
    pparams->server_max_window_bits = WS_DEFLATE_WBITS_MAX;
    if (o.server_mwb || our_max < WS_DEFLATE_WBITS_MAX) {
        /* §7.1.2.1: we may use less than the client allows, and tell it
         * so even when it did not ask. */
        pparams->server_max_window_bits =
            o.server_mwb && o.server_mwb < our_max ? o.server_mwb : our_max;
    }
    /* §7.1.2.2: with a value the client limits its own window; without
     * one it only says it understands the parameter. Never send it
     * unoffered. */
    pparams->client_max_window_bits =
        o.client_mwb > 0 ? o.client_mwb : WS_DEFLATE_WBITS_MAX;

    *presponse = apr_pstrcat(p, WS_DEFLATE_NAME,
        pparams->server_no_context_takeover
            ? "; " WS_DEFLATE_SERVER_NCT : "",
        pparams->server_max_window_bits < WS_DEFLATE_WBITS_MAX
            || o.server_mwb
            ? apr_psprintf(p, "; " WS_DEFLATE_SERVER_MWB "=%d",
                           pparams->server_max_window_bits) : "",
        pparams->client_no_context_takeover
            ? "; " WS_DEFLATE_CLIENT_NCT : "",
        o.client_mwb > 0
            ? apr_psprintf(p, "; " WS_DEFLATE_CLIENT_MWB "=%d",
                           o.client_mwb) : "",
        NULL);
    return APR_SUCCESS;
}

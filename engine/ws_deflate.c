/* ws_deflate.c: permessage-deflate (RFC 7692): answer the client's offers, inflate and deflate messages. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include <zlib.h>

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

/* RFC 7692 §7.2.1: a compressed message is a DEFLATE stream flushed to a
 * byte boundary with its final empty stored block's 4 bytes removed; the
 * receiver appends them again before inflating (§7.2.2). */
#define WS_DEFLATE_TAIL       "\x00\x00\xff\xff"
#define WS_DEFLATE_TAIL_LEN   4

/* We inflate with the largest window whatever the client agreed to: any
 * window up to 15 bits decodes, and a client that chose a smaller one
 * costs us nothing more than the 32 KiB window. */
#define WS_INFLATE_WBITS      WS_DEFLATE_WBITS_MAX

/* Messages shorter than this are sent uncompressed (RSV1 clear, which
 * RFC 7692 §6 allows per message): deflate would save a few bytes at best
 * and costs a call into zlib each time. */
#define WS_DEFLATE_MIN_LEN    32

/* zlib's default level, and a smaller hash table and literal buffer than
 * its default memLevel 8: with a 15-bit window the compressor then needs
 * about 150 KiB instead of about 262 KiB per connection, for a ratio a
 * few percent worse on text. */
#define WS_DEFLATE_LEVEL      Z_DEFAULT_COMPRESSION
#define WS_DEFLATE_MEM_LEVEL  5

/* Room beyond deflateBound() for what a Z_SYNC_FLUSH adds (an empty stored
 * block: 3 bits, padding, 4 bytes) and bits pending from the last message
 * when the context is kept. */
#define WS_DEFLATE_FLUSH_SLACK 16

/* The most zlib takes in one call (its counters are 32-bit). */
#define WS_ZLIB_MAX_CHUNK     ((apr_size_t)0x40000000)

/* The session's compression state: the agreed parameters, the zlib
 * streams, created when first needed, and where the message being
 * inflated stands. */
struct ws_deflate_t {
    apr_pool_t *pool;           /* zlib's memory */
    ws_deflate_params_t params;
    z_stream *inflater;
    z_stream *deflater;
    int zdata;                  /* the message had compressed bytes */
    int zend;                   /* its DEFLATE stream ended (BFINAL) */
    apr_size_t zpad;            /* bytes the client sent after that */
    int is_tail;                /* the input is WS_DEFLATE_TAIL */
};

apr_status_t ws_deflate_create(ws_deflate_t **pdeflate, apr_pool_t *p,
                               const ws_deflate_params_t *params)
{
    ws_deflate_t *d;

    *pdeflate = NULL;
    if (params->server_max_window_bits < WS_DEFLATE_OUR_WBITS_MIN
        || params->server_max_window_bits > WS_DEFLATE_WBITS_MAX
        || params->client_max_window_bits < WS_DEFLATE_WBITS_MIN
        || params->client_max_window_bits > WS_DEFLATE_WBITS_MAX) {
        return APR_EINVAL;
    }
    d = apr_pcalloc(p, sizeof(*d));
    d->pool = p;
    d->params = *params;
    *pdeflate = d;
    return APR_SUCCESS;
}

/* zlib's memory comes from the session's pool: zlib allocates only when a
 * stream is created (and inflate's window on first use), never per
 * message, so the pool stays bounded and frees it all with the session. */
static voidpf deflate_zalloc(voidpf opaque, uInt items, uInt size)
{
    ws_deflate_t *d = opaque;

    if (size && items > APR_SIZE_MAX / size) {
        return Z_NULL;
    }
    return apr_palloc(d->pool, (apr_size_t)items * size);
}

static void deflate_zfree(voidpf opaque, voidpf address)
{
    /* The pool frees it. */
    (void)opaque;
    (void)address;
}

static z_stream *deflate_zstream(ws_deflate_t *d)
{
    z_stream *z = apr_pcalloc(d->pool, sizeof(*z));

    z->zalloc = deflate_zalloc;
    z->zfree = deflate_zfree;
    z->opaque = d;
    return z;
}

int ws_deflate_is_worth(apr_size_t len)
{
    return len >= WS_DEFLATE_MIN_LEN;
}

/* The compressor, created on the first compressed send, with the window
 * we agreed to (RFC 7692 §7.1.2.1). */
static apr_status_t deflater_get(ws_deflate_t *d)
{
    z_stream *z;

    if (d->deflater) {
        return APR_SUCCESS;
    }
    z = deflate_zstream(d);
    if (deflateInit2(z, WS_DEFLATE_LEVEL, Z_DEFLATED,
                     -d->params.server_max_window_bits,
                     WS_DEFLATE_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
        return APR_ENOMEM;
    }
    d->deflater = z;
    return APR_SUCCESS;
}

apr_status_t ws_deflate_compress(ws_deflate_t *d, const char **pout,
                                 apr_size_t *plen, apr_pool_t *p,
                                 const char *data, apr_size_t len)
{
    z_stream *z;
    char *out;
    apr_size_t cap, out_len = 0, left = len;
    apr_status_t rv;

    rv = deflater_get(d);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    z = d->deflater;
    cap = (apr_size_t)deflateBound(z, (uLong)len) + WS_DEFLATE_FLUSH_SLACK;
    out = apr_palloc(p, cap);
    z->next_in = (Bytef *)data;
    z->avail_in = 0;
    for (;;) {
        apr_size_t room;
        int flush;

        if (z->avail_in == 0 && left > 0) {
            apr_size_t n = left < WS_ZLIB_MAX_CHUNK ? left
                                                    : WS_ZLIB_MAX_CHUNK;

            z->avail_in = (uInt)n;
            left -= n;
        }
        if (out_len == cap) {
            /* Only a message bigger than zlib's counters gets here. */
            char *bigger = apr_palloc(p, cap * 2);

            memcpy(bigger, out, out_len);
            out = bigger;
            cap *= 2;
        }
        room = cap - out_len;
        if (room > WS_ZLIB_MAX_CHUNK) {
            room = WS_ZLIB_MAX_CHUNK;
        }
        z->next_out = (Bytef *)out + out_len;
        z->avail_out = (uInt)room;
        flush = left == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        if (deflate(z, flush) == Z_STREAM_ERROR) {
            return APR_EGENERAL;
        }
        out_len += room - z->avail_out;
        /* zlib: the flush is complete when it returns with output space
         * left over. */
        if (flush == Z_SYNC_FLUSH && z->avail_in == 0 && z->avail_out > 0) {
            break;
        }
    }
    if (out_len < WS_DEFLATE_TAIL_LEN
        || memcmp(out + out_len - WS_DEFLATE_TAIL_LEN, WS_DEFLATE_TAIL,
                  WS_DEFLATE_TAIL_LEN) != 0) {
        return APR_EGENERAL;
    }
    if (d->params.server_no_context_takeover) {
        /* RFC 7692 §7.1.1.1: the client resets its inflater for each of
         * our messages, so we must not refer back into earlier ones. */
        deflateReset(z);
    }
    *pout = out;
    *plen = out_len - WS_DEFLATE_TAIL_LEN;
    return APR_SUCCESS;
}

apr_status_t ws_deflate_inflate_start(ws_deflate_t *d)
{
    d->zdata = 0;
    d->zend = 0;
    d->zpad = 0;
    if (!d->inflater) {
        /* Created on the first compressed message: an idle connection
         * costs no zlib memory. Raw DEFLATE, RFC 7692 §7.2.2. */
        z_stream *z = deflate_zstream(d);

        if (inflateInit2(z, -WS_INFLATE_WBITS) != Z_OK) {
            return APR_ENOMEM;
        }
        d->inflater = z;
    }
    return APR_SUCCESS;
}

/*
 * Bytes after a block with BFINAL set. RFC 7692 §7.2.3.4 ends such a
 * message with one 0x00 (the start of the empty stored block that our
 * appended tail completes); a sender may also omit it. Anything else
 * would be a second DEFLATE stream inside one message, which no sender
 * needs, and restarting the inflater for each would let a peer make us
 * copy the 32 KiB window for every few bytes it sends.
 */
static apr_status_t inflate_after_end(ws_deflate_t *d, const char *in,
                                      apr_size_t n)
{
    apr_size_t i;

    if (d->is_tail) {
        return APR_EAGAIN;
    }
    for (i = 0; i < n; ++i) {
        if (in[i] != 0 || ++d->zpad > 1) {
            return WS_EPROTO;
        }
    }
    return APR_EAGAIN;
}

/* Give zlib @a n bytes of input (at most a frame's scratch buffer). */
static apr_status_t inflate_input(ws_deflate_t *d, const char *in,
                                  apr_size_t n, int is_tail)
{
    d->is_tail = is_tail;
    if (d->zend) {
        return inflate_after_end(d, in, n);
    }
    d->inflater->next_in = (Bytef *)in;
    d->inflater->avail_in = (uInt)n;
    return APR_SUCCESS;
}

apr_status_t ws_deflate_inflate_input(ws_deflate_t *d, const char *in,
                                      apr_size_t len)
{
    d->zdata = 1;
    return inflate_input(d, in, len, 0);
}

apr_status_t ws_deflate_inflate_last(ws_deflate_t *d)
{
    /* An empty payload is an empty message (a sender flushing twice gets
     * nothing from zlib); the tail alone would leave the inflater inside
     * a stored block and break the next message. */
    if (!d->zdata) {
        return APR_EAGAIN;
    }
    return inflate_input(d, WS_DEFLATE_TAIL, WS_DEFLATE_TAIL_LEN, 1);
}

apr_status_t ws_deflate_inflate(ws_deflate_t *d, char *out,
                                apr_size_t outlen, apr_size_t *pproduced)
{
    z_stream *z = d->inflater;
    int zrv;

    *pproduced = 0;
    if (d->zend) {
        return APR_EAGAIN;
    }
    if (outlen > WS_ZLIB_MAX_CHUNK) {
        outlen = WS_ZLIB_MAX_CHUNK;
    }
    z->next_out = (Bytef *)out;
    z->avail_out = (uInt)outlen;
    zrv = inflate(z, Z_NO_FLUSH);
    *pproduced = outlen - z->avail_out;
    if (zrv == Z_MEM_ERROR) {
        return APR_ENOMEM;
    }
    if (zrv != Z_OK && zrv != Z_STREAM_END && zrv != Z_BUF_ERROR) {
        /* RFC 7692 §8: not a valid DEFLATE stream. */
        return WS_EPROTO;
    }
    if (zrv == Z_STREAM_END) {
        d->zend = 1;
        return inflate_after_end(d, (const char *)z->next_in, z->avail_in);
    }
    /* Done when the input is used up and zlib had room to spare, so that
     * it holds no more output back; or when it can make no progress at
     * all. */
    if ((z->avail_in == 0 && z->avail_out > 0) || zrv == Z_BUF_ERROR) {
        return APR_EAGAIN;
    }
    return APR_SUCCESS;
}

apr_status_t ws_deflate_inflate_end(ws_deflate_t *d,
                                    ws_deflate_alloc_fn *alloc, void *baton)
{
    z_stream *z = d->inflater;

    if (!d->zdata) {
        return APR_SUCCESS;
    }
    if (d->params.client_no_context_takeover) {
        /* RFC 7692 §7.1.1.2: the client starts each message afresh. */
        inflateReset(z);
    }
    else if (d->zend) {
        /* A BFINAL block ended the stream, but the next message may
         * still refer back into this one's window (§7.2.3.4): restart
         * the stream with the window as its dictionary. At most once per
         * message, so at most one window's copy per message. */
        uInt wlen = 1U << WS_INFLATE_WBITS;
        Bytef *window = alloc(baton, wlen);

        if (!window || inflateGetDictionary(z, window, &wlen) != Z_OK
            || inflateReset(z) != Z_OK
            || (wlen && inflateSetDictionary(z, window, wlen) != Z_OK)) {
            return APR_ENOMEM;
        }
    }
    d->zend = 0;
    d->zpad = 0;
    return APR_SUCCESS;
}

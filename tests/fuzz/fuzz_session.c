/* fuzz_session.c: libFuzzer harness over ws_session_feed() and the send API. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include <zlib.h>

#include "ref_utf8.h"
#include "ws_session.h"

/*
 * Input format (so that the fuzzer can steer splits and API calls):
 *
 *   byte 0       variant: limits and callback behaviour (FZ_* below)
 *   byte 1       only with FZ_DEFLATE: the permessage-deflate params and
 *                whether on_pong is NULL (FZ_PMD_* below)
 *   then records of  [len][action][len bytes]:
 *                the len bytes are fed in one ws_session_feed() call,
 *                then the action byte may call send/ping/close.
 *   A truncated last record feeds whatever bytes remain.
 *
 * Invariants checked (abort() on violation, which libFuzzer reports):
 *   - every frame we send is a well-formed unmasked server frame, and
 *     nothing is sent after our close frame or once the state is CLOSED;
 *   - delivered messages are TEXT/BINARY, NUL-terminated, within
 *     max_message, never delivered after our close frame, and text is
 *     valid UTF-8 by an independent decoder;
 *   - after WS_EPROTO/WS_EBADUTF8/WS_ETOOBIG/APR_EOF the state is CLOSED,
 *     the close code matches the status, and later feeds return the same
 *     status with no output at all;
 *   - in differential mode the result does not depend on how the input
 *     is split (one record per feed, all at once, byte by byte), and when
 *     the session accepted the input, an independent naive model predicts
 *     exactly the messages, pongs and frames sent (fz_model()), inflating
 *     compressed messages with its own zlib stream;
 *   - with deflate, RSV1 is set only on data frames, and every compressed
 *     frame we send inflates (with the agreed context rules) to exactly
 *     the message that was sent.
 */

#define FZ_LIMITS_MASK   0x03   /* which limits, see fz_limits[] */
#define FZ_ECHO          0x04   /* on_message sends the message back */
#define FZ_CLOSE_IN_CB   0x08   /* on_message starts the close handshake */
#define FZ_CB_ERROR      0x10   /* on_message fails on binary messages */
#define FZ_DEFLATE       0x20   /* permessage-deflate; byte 1 says how */
#define FZ_SEND_ERROR    0x40   /* on_send fails now and then */
#define FZ_DIFF          0x80   /* differential mode: no actions */

/* Bits of the params byte that FZ_DEFLATE adds. */
#define FZ_PMD_SNCT      0x01   /* server_no_context_takeover */
#define FZ_PMD_CNCT      0x02   /* client_no_context_takeover */
#define FZ_PMD_SWBITS    0x1C   /* server window: 9 + value % 7 */
#define FZ_PMD_SWBITS_SHIFT 2
#define FZ_PMD_CWBITS    0x60   /* client window: fz_cwbits[value] */
#define FZ_PMD_CWBITS_SHIFT 5
#define FZ_PMD_NO_PONG   0x80   /* on_pong is NULL */

#define FZ_ACT_MASK      0x07
#define FZ_ACT_TEXT      1
#define FZ_ACT_BINARY    2
#define FZ_ACT_PING      3
#define FZ_ACT_CLOSE     4
#define FZ_ACT_TRIM      5      /* ws_session_trim(), as when input dries */
#define FZ_ACT_SHIFT     3

/* Statuses the harness's callbacks inject. */
#define FZ_CB_STATUS     (APR_OS_START_USERERR + 1)
#define FZ_SEND_STATUS   (APR_OS_START_USERERR + 2)
#define FZ_SEND_FAIL_EVERY 5

#define FZ_OUT_MAX       (256 * 1024)

/* The 4 bytes RFC 7692 §7.2.1 strips and §7.2.2 appends again. */
static const unsigned char fz_tail[4] = { 0x00, 0x00, 0xff, 0xff };

static const int fz_cwbits[] = { 8, 10, 12, 15 };

static const ws_limits_t fz_limits[] = {
    { 64 * 1024, 16 * 1024 },
    { 64, 32 },
    { 64 * 1024, 0 },
    { 0, 1024 * 1024 }
};

static const int fz_close_codes[] = {
    0, 1000, 1001, 1002, 1003, 1005, 1007, 1008, 1009, 1010, 1011, 1014,
    3000, 4999, 999, 1004, 1006, 1015, 5000, -1
};

#define FZ_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                    __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

typedef struct fz_run_t {
    ws_session_t *session;
    ws_limits_t limits;
    unsigned int variant;
    int deflate;
    int no_pong_cb;
    ws_deflate_params_t dparams;
    z_stream *check;           /* inflates what we send (FZ_DEFLATE) */
    apr_pool_t *pool;
    const char *expect;        /* the message being sent, if known */
    apr_size_t expect_len;
    int close_out;             /* a close frame was sent */
    unsigned long sends;
    unsigned long messages;
    unsigned long frames;      /* headers seen by on_frame */
    apr_uint64_t out_hash;     /* FNV-1a over everything sent/delivered */
    apr_size_t out_bytes;
} fz_run_t;

static void fz_hash(fz_run_t *run, const void *data, apr_size_t len)
{
    const unsigned char *p = data;
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        run->out_hash ^= p[i];
        run->out_hash *= APR_UINT64_C(0x100000001b3);
    }
    run->out_bytes += len;
}

static int fz_code_ok(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
           || (code >= 3000 && code <= 4999);
}

/* Inflate (raw, window 15) @a len bytes plus the tail into a new buffer
 * from @a p; returns NULL if they are not valid DEFLATE. A stream that
 * ends with a BFINAL block restarts with its window as dictionary. */
static char *fz_inflate(z_stream *z, apr_pool_t *p, const char *in,
                        apr_size_t len, apr_size_t *pout_len)
{
    apr_size_t cap = 4096, out_len = 0;
    char *out = apr_palloc(p, cap + 1);
    int pass, ended = 0;

    /* After a BFINAL block the rest (at most a 0x00 and the tail) is not
     * inflated: the restarted stream begins at the next message. */
    for (pass = 0; pass < 2 && !ended; ++pass) {
        z->next_in = (Bytef *)(pass ? (const char *)fz_tail : in);
        z->avail_in = (uInt)(pass ? sizeof(fz_tail) : len);
        for (;;) {
            int zrv;

            if (out_len == cap) {
                char *bigger = apr_palloc(p, cap * 2 + 1);

                memcpy(bigger, out, out_len);
                out = bigger;
                cap *= 2;
            }
            z->next_out = (Bytef *)out + out_len;
            z->avail_out = (uInt)(cap - out_len);
            zrv = inflate(z, Z_SYNC_FLUSH);
            out_len = cap - z->avail_out;
            if (zrv == Z_STREAM_END) {
                unsigned char dict[1 << 15];
                uInt dlen = sizeof(dict);

                FZ_CHECK(inflateGetDictionary(z, dict, &dlen) == Z_OK);
                FZ_CHECK(inflateReset(z) == Z_OK);
                if (dlen) {
                    FZ_CHECK(inflateSetDictionary(z, dict, dlen) == Z_OK);
                }
                ended = 1;
                break;
            }
            if (zrv != Z_OK && zrv != Z_BUF_ERROR) {
                return NULL;
            }
            if (z->avail_out > 0) {
                break;
            }
        }
    }
    out[out_len] = '\0';
    *pout_len = out_len;
    return out;
}

/* A compressed frame we sent inflates to the message being sent. */
static void fz_check_compressed(fz_run_t *run, const char *payload,
                                apr_size_t plen)
{
    apr_pool_t *p;
    apr_size_t len;
    char *msg;

    FZ_CHECK(apr_pool_create(&p, run->pool) == APR_SUCCESS);
    if (run->dparams.server_no_context_takeover) {
        FZ_CHECK(inflateReset(run->check) == Z_OK);
    }
    msg = fz_inflate(run->check, p, payload, plen, &len);
    FZ_CHECK(msg != NULL);
    if (run->expect) {
        FZ_CHECK(len == run->expect_len
                 && memcmp(msg, run->expect, len) == 0);
    }
    apr_pool_destroy(p);
}

static apr_status_t fz_on_send(void *baton, const char *hdr, apr_size_t hlen,
                               const char *payload, apr_size_t plen)
{
    fz_run_t *run = baton;
    const unsigned char *h = (const unsigned char *)hdr;
    unsigned int op, len7;
    apr_uint64_t len = 0;
    apr_size_t i, want_hlen = 2;

    FZ_CHECK(!run->close_out);
    FZ_CHECK(ws_session_state(run->session) != WS_STATE_CLOSED);
    FZ_CHECK(hlen >= 2 && hlen <= WS_MAX_HDR_LEN);
    FZ_CHECK(plen == 0 || payload != NULL);
    FZ_CHECK((h[0] & 0xB0) == 0x80);        /* FIN, no RSV2/RSV3 */
    FZ_CHECK((h[1] & 0x80) == 0);           /* server frames unmasked */
    op = h[0] & 0x0F;
    if (h[0] & 0x40) {
        /* RSV1: a compressed data message, only with deflate. */
        FZ_CHECK(run->deflate);
        FZ_CHECK(op == WS_OP_TEXT || op == WS_OP_BINARY);
    }
    FZ_CHECK(op == WS_OP_TEXT || op == WS_OP_BINARY || op == WS_OP_CLOSE
             || op == WS_OP_PING || op == WS_OP_PONG);
    len7 = h[1] & 0x7F;
    if (len7 < 126) {
        len = len7;
    }
    else {
        want_hlen += len7 == 126 ? 2 : 8;
        FZ_CHECK(hlen == want_hlen);
        for (i = 2; i < want_hlen; ++i) {
            len = (len << 8) | h[i];
        }
        FZ_CHECK(len7 == 126 ? (len >= 126 && len <= 0xFFFF)
                             : (len > 0xFFFF));
    }
    FZ_CHECK(hlen == want_hlen);
    FZ_CHECK(len == plen);
    if (op >= WS_OP_CLOSE) {
        FZ_CHECK(plen <= WS_MAX_CTRL_PAYLOAD);
    }
    if (op == WS_OP_CLOSE) {
        FZ_CHECK(plen != 1);
        if (plen >= 2) {
            const unsigned char *p = (const unsigned char *)payload;

            FZ_CHECK(fz_code_ok((p[0] << 8) | p[1]));
            FZ_CHECK(ws_test_utf8_ref(p + 2, plen - 2));
        }
        run->close_out = 1;
    }
    if (h[0] & 0x40) {
        fz_check_compressed(run, payload, plen);
    }
    else if (run->expect && (op == WS_OP_TEXT || op == WS_OP_BINARY)) {
        FZ_CHECK(plen == run->expect_len
                 && memcmp(payload, run->expect, plen) == 0);
    }
    fz_hash(run, hdr, hlen);
    fz_hash(run, payload, plen);
    ++run->sends;
    if ((run->variant & FZ_SEND_ERROR)
        && run->sends % FZ_SEND_FAIL_EVERY == 0) {
        return FZ_SEND_STATUS;
    }
    return APR_SUCCESS;
}

static apr_status_t fz_on_message(void *baton, ws_opcode_e op,
                                  const char *data, apr_size_t len)
{
    fz_run_t *run = baton;
    unsigned char tag = (unsigned char)op;

    FZ_CHECK(op == WS_OP_TEXT || op == WS_OP_BINARY);
    FZ_CHECK(data != NULL && data[len] == '\0');
    FZ_CHECK(!run->close_out);
    FZ_CHECK(ws_session_state(run->session) == WS_STATE_OPEN);
    if (run->limits.max_message) {
        FZ_CHECK(len <= run->limits.max_message);
    }
    if (op == WS_OP_TEXT) {
        FZ_CHECK(ws_test_utf8_ref((const unsigned char *)data, len));
    }
    /* a message is never delivered before the frames it came in */
    FZ_CHECK(run->frames > run->messages);
    ++run->messages;
    fz_hash(run, &tag, 1);
    fz_hash(run, data, len);
    if (run->variant & FZ_DIFF) {
        return APR_SUCCESS;
    }
    if (run->variant & FZ_ECHO) {
        apr_status_t rv;

        run->expect = data;
        run->expect_len = len;
        rv = ws_session_send(run->session, op, data, len);
        run->expect = NULL;

        FZ_CHECK(rv == APR_SUCCESS || rv == WS_ECLOSED
                 || rv == FZ_SEND_STATUS);
    }
    if ((run->variant & FZ_CLOSE_IN_CB) && run->messages == 2) {
        apr_status_t rv = ws_session_close(run->session, WEBSOCKET_CLOSE_NORMAL,
                                           "bye");

        FZ_CHECK(rv == APR_SUCCESS || rv == WS_ECLOSED
                 || rv == FZ_SEND_STATUS);
    }
    if ((run->variant & FZ_CB_ERROR) && op == WS_OP_BINARY) {
        return FZ_CB_STATUS;
    }
    return APR_SUCCESS;
}

static void fz_on_pong(void *baton, const char *data, apr_size_t len)
{
    fz_run_t *run = baton;
    unsigned char tag = WS_OP_PONG;

    FZ_CHECK(len <= WS_MAX_CTRL_PAYLOAD && data[len] == '\0');
    fz_hash(run, &tag, 1);
    fz_hash(run, data, len);
}

/* Every header reaches on_frame before any rule is applied to it. */
static void fz_on_frame(void *baton, const ws_frame_hdr_t *hdr)
{
    fz_run_t *run = baton;

    FZ_CHECK(hdr->opcode <= 0xf && (hdr->rsv & ~WS_FRAME_RSV_BITS) == 0);
    run->frames++;
}

/* The close code a failing status must come with. */
static int fz_code_for(apr_status_t rv)
{
    if (rv == WS_EPROTO) {
        return WEBSOCKET_CLOSE_PROTOCOL;
    }
    if (rv == WS_EBADUTF8) {
        return WEBSOCKET_CLOSE_BAD_DATA;
    }
    if (rv == WS_ETOOBIG) {
        return WEBSOCKET_CLOSE_TOO_BIG;
    }
    return 0;
}

/* Check a status returned by feed; returns whether the session is done. */
static int fz_check_feed(fz_run_t *run, apr_status_t rv)
{
    ws_session_t *s = run->session;

    FZ_CHECK(rv == APR_SUCCESS || rv == APR_EOF || rv == WS_EPROTO
             || rv == WS_EBADUTF8 || rv == WS_ETOOBIG || rv == APR_ENOMEM
             || rv == FZ_CB_STATUS || rv == FZ_SEND_STATUS);
    if (rv == WS_EPROTO || rv == WS_EBADUTF8 || rv == WS_ETOOBIG) {
        FZ_CHECK(ws_session_state(s) == WS_STATE_CLOSED);
        FZ_CHECK(ws_session_close_code(s) == fz_code_for(rv));
        FZ_CHECK(ws_session_close_reason(s)[0] != '\0');
    }
    if (rv == APR_EOF) {
        int code = ws_session_close_code(s);

        FZ_CHECK(ws_session_state(s) == WS_STATE_CLOSED);
        FZ_CHECK(code == WEBSOCKET_CLOSE_NO_STATUS || fz_code_ok(code));
        FZ_CHECK(ws_test_utf8_ref((const unsigned char *)
                            ws_session_close_reason(s),
                            strlen(ws_session_close_reason(s))));
    }
    if (ws_session_state(s) == WS_STATE_CLOSED) {
        FZ_CHECK(run->close_out || ws_session_close_code(s) != 0);
        return 1;
    }
    if (ws_session_state(s) == WS_STATE_OPEN) {
        FZ_CHECK(ws_session_close_code(s) == 0);
    }
    return 0;
}

/* Once closed: more input changes nothing and sends nothing. */
static void fz_check_dead(fz_run_t *run, apr_status_t first,
                          const uint8_t *data, size_t size)
{
    unsigned long sends = run->sends, messages = run->messages;
    apr_status_t rv;

    rv = ws_session_feed(run->session, (const char *)data, size);
    if (first == WS_EPROTO || first == WS_EBADUTF8 || first == WS_ETOOBIG
        || first == APR_EOF) {
        FZ_CHECK(rv == first);
    }
    else {
        FZ_CHECK(rv == APR_EOF || rv == WS_EPROTO || rv == WS_EBADUTF8
                 || rv == WS_ETOOBIG || rv == APR_ENOMEM);
    }
    FZ_CHECK(ws_session_send(run->session, WS_OP_TEXT, "x", 1)
             == WS_ECLOSED);
    FZ_CHECK(ws_session_ping(run->session, "", 0) == WS_ECLOSED);
    FZ_CHECK(ws_session_close(run->session, WEBSOCKET_CLOSE_NORMAL, "")
             == WS_ECLOSED);
    FZ_CHECK(run->sends == sends && run->messages == messages);
}

static void fz_action(fz_run_t *run, unsigned int act)
{
    static const char reason[] =
        "r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80 "
        "0123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456\xe2\x82\xac\xe2\x82\xac";
    static const char blob[WS_MAX_CTRL_PAYLOAD + 8] = "ping";
    unsigned int arg = act >> FZ_ACT_SHIFT;
    apr_status_t rv = APR_SUCCESS;
    int was_closing = run->close_out;

    switch (act & FZ_ACT_MASK) {
    case FZ_ACT_TEXT:
        rv = ws_session_send(run->session, WS_OP_TEXT, "caf\xc3\xa9", 5);
        break;
    case FZ_ACT_BINARY:
        run->expect = blob;
        run->expect_len = arg * 4;
        rv = ws_session_send(run->session, WS_OP_BINARY, blob, arg * 4);
        run->expect = NULL;
        break;
    case FZ_ACT_PING:
        rv = ws_session_ping(run->session, blob, arg * 5);
        if (arg * 5 > WS_MAX_CTRL_PAYLOAD && !was_closing) {
            FZ_CHECK(rv == APR_EINVAL);
            return;
        }
        break;
    case FZ_ACT_CLOSE:
        rv = ws_session_close(run->session,
                              fz_close_codes[arg % (sizeof(fz_close_codes)
                                                    / sizeof(int))],
                              (arg & 1) ? reason : NULL);
        if (rv == APR_EINVAL) {
            return;
        }
        if (!was_closing) {
            FZ_CHECK(ws_session_state(run->session) != WS_STATE_OPEN);
        }
        break;
    case FZ_ACT_TRIM:
        ws_session_trim(run->session);
        return;
    default:
        return;
    }
    if (was_closing) {
        FZ_CHECK(rv == WS_ECLOSED);
    }
    else {
        FZ_CHECK(rv == APR_SUCCESS || rv == FZ_SEND_STATUS);
    }
}

static apr_status_t fz_inflate_end(void *data)
{
    inflateEnd(data);
    return APR_SUCCESS;
}

/* A raw inflater (window 15, which decodes any window) ended with @a p. */
static z_stream *fz_inflater(apr_pool_t *p)
{
    z_stream *z = apr_pcalloc(p, sizeof(*z));

    FZ_CHECK(inflateInit2(z, -15) == Z_OK);
    apr_pool_cleanup_register(p, z, fz_inflate_end, apr_pool_cleanup_null);
    return z;
}

static void fz_pmd_params(ws_deflate_params_t *dp, unsigned int pmd)
{
    dp->server_no_context_takeover = (pmd & FZ_PMD_SNCT) != 0;
    dp->client_no_context_takeover = (pmd & FZ_PMD_CNCT) != 0;
    dp->server_max_window_bits =
        9 + (int)((pmd & FZ_PMD_SWBITS) >> FZ_PMD_SWBITS_SHIFT) % 7;
    dp->client_max_window_bits =
        fz_cwbits[(pmd & FZ_PMD_CWBITS) >> FZ_PMD_CWBITS_SHIFT];
}

static void fz_run_init(fz_run_t *run, apr_pool_t *p, unsigned int variant,
                        unsigned int pmd, ws_session_callbacks_t *cb)
{
    memset(run, 0, sizeof(*run));
    run->variant = variant;
    run->pool = p;
    run->limits = fz_limits[variant & FZ_LIMITS_MASK];
    run->out_hash = APR_UINT64_C(0xcbf29ce484222325);
    if (variant & FZ_DEFLATE) {
        run->deflate = 1;
        run->no_pong_cb = (pmd & FZ_PMD_NO_PONG) != 0;
        fz_pmd_params(&run->dparams, pmd);
        run->check = fz_inflater(p);
    }
    cb->on_message = fz_on_message;
    cb->on_pong = run->no_pong_cb ? NULL : fz_on_pong;
    cb->on_send = fz_on_send;
    cb->on_frame = fz_on_frame;
    FZ_CHECK(ws_session_create(&run->session, p, &run->limits, cb, run)
             == APR_SUCCESS);
    if (run->deflate) {
        FZ_CHECK(ws_session_set_deflate(run->session, &run->dparams)
                 == APR_SUCCESS);
    }
    FZ_CHECK(ws_session_state(run->session) == WS_STATE_OPEN);
}

typedef struct fz_result_t {
    apr_status_t rv;           /* first status other than APR_SUCCESS */
    int close_code;
    ws_state_e state;
    apr_uint64_t hash;
    apr_size_t bytes;
} fz_result_t;

static void fz_result(fz_result_t *res, const fz_run_t *run, apr_status_t rv)
{
    res->rv = rv;
    res->close_code = ws_session_close_code(run->session);
    res->state = ws_session_state(run->session);
    res->hash = run->out_hash;
    res->bytes = run->out_bytes;
}

/* Differential mode: feed @a stream in one call or a byte at a time. */
static void fz_replay(apr_pool_t *p, unsigned int variant, unsigned int pmd,
                      const uint8_t *stream, size_t len, int bytewise,
                      fz_result_t *res)
{
    ws_session_callbacks_t cb;
    fz_run_t run;
    apr_status_t rv = APR_SUCCESS;
    size_t i;

    fz_run_init(&run, p, variant, pmd, &cb);
    if (!bytewise) {
        rv = ws_session_feed(run.session, (const char *)stream, len);
        fz_check_feed(&run, rv);
    }
    else {
        for (i = 0; i < len && rv == APR_SUCCESS; ++i) {
            rv = ws_session_feed(run.session, (const char *)stream + i, 1);
            fz_check_feed(&run, rv);
        }
    }
    fz_result(res, &run, rv);
}

/* Hash the frame a server sends: unmasked, FIN, minimal length. */
static void fz_model_send(fz_run_t *m, unsigned int op,
                          const unsigned char *payload, apr_size_t len)
{
    unsigned char hdr[10];
    apr_size_t hlen = 2, i;

    hdr[0] = (unsigned char)(0x80 | op);
    if (len < 126) {
        hdr[1] = (unsigned char)len;
    }
    else if (len <= 0xFFFF) {
        hdr[1] = 126;
        hdr[2] = (unsigned char)(len >> 8);
        hdr[3] = (unsigned char)len;
        hlen = 4;
    }
    else {
        hdr[1] = 127;
        for (i = 0; i < 8; ++i) {
            hdr[2 + i] = (unsigned char)((apr_uint64_t)len >> (56 - 8 * i));
        }
        hlen = 10;
    }
    fz_hash(m, hdr, hlen);
    fz_hash(m, payload, len);
}

/*
 * An independent model of what a conforming server does with a stream the
 * session accepted (no error): parse frames naively, unmask byte by byte,
 * reassemble messages, answer pings, echo the close. It validates
 * nothing, since the session already did; it predicts the exact events,
 * so that a session that mangles payloads while following the rules is
 * caught too (ASan cannot see overflows inside pool memory). Messages
 * whose first frame has RSV1 are inflated with the model's own stream
 * (@a dp NULL: no deflate).
 */
static void fz_model(fz_run_t *m, apr_pool_t *p, const uint8_t *in,
                     size_t len, int pong_cb, const ws_deflate_params_t *dp)
{
    unsigned char *msg = apr_palloc(p, len + 1);
    apr_size_t msg_len = 0, pos = 0;
    unsigned int msg_op = 0;
    int msg_rsv1 = 0;
    z_stream *z = dp ? fz_inflater(p) : NULL;

    while (len - pos >= 2) {
        unsigned int op = in[pos] & 0x0F, fin = in[pos] & 0x80;
        apr_uint64_t plen = in[pos + 1] & 0x7F;
        apr_size_t hlen = 2, i;
        const unsigned char *key;
        unsigned char ctrl[WS_MAX_CTRL_PAYLOAD];
        unsigned char *dst;

        if (plen >= 126) {
            apr_size_t n = plen == 126 ? 2 : 8;

            if (len - pos < 2 + n) {
                return;
            }
            for (plen = 0, i = 0; i < n; ++i) {
                plen = (plen << 8) | in[pos + 2 + i];
            }
            hlen += n;
        }
        if (len - pos < hlen + 4 || len - pos - hlen - 4 < plen) {
            return;                   /* the stream ends inside a frame */
        }
        key = in + pos + hlen;
        pos += hlen + 4;
        dst = (op & 0x08) ? ctrl : msg + msg_len;
        for (i = 0; i < plen; ++i) {
            dst[i] = in[pos + i] ^ key[i % 4];
        }
        pos += (apr_size_t)plen;
        if (op == WS_OP_PING) {
            fz_model_send(m, WS_OP_PONG, ctrl, (apr_size_t)plen);
        }
        else if (op == WS_OP_PONG) {
            if (pong_cb) {
                unsigned char tag = WS_OP_PONG;

                fz_hash(m, &tag, 1);
                fz_hash(m, ctrl, (apr_size_t)plen);
            }
        }
        else if (op == WS_OP_CLOSE) {
            fz_model_send(m, WS_OP_CLOSE, ctrl, plen >= 2 ? 2 : 0);
            return;
        }
        else {
            if (op != WS_OP_CONT) {
                msg_op = op;
                msg_rsv1 = (in[pos - (apr_size_t)plen - hlen - 4] & 0x40)
                           != 0;
            }
            msg_len += (apr_size_t)plen;
            if (fin) {
                unsigned char tag = (unsigned char)msg_op;
                const char *out = (const char *)msg;
                apr_size_t out_len = msg_len;

                if (msg_rsv1 && msg_len == 0) {
                    out_len = 0;       /* an empty payload: no tail */
                }
                else if (msg_rsv1) {
                    out = fz_inflate(z, p, (const char *)msg, msg_len,
                                     &out_len);
                    FZ_CHECK(out != NULL);
                    if (dp->client_no_context_takeover) {
                        FZ_CHECK(inflateReset(z) == Z_OK);
                    }
                }
                fz_hash(m, &tag, 1);
                fz_hash(m, out, out_len);
                msg_len = 0;
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised = 0;
    ws_session_callbacks_t cb;
    apr_pool_t *p;
    fz_run_t run;
    unsigned int variant, pmd = 0;
    apr_status_t rv = APR_SUCCESS;
    uint8_t *stream;
    size_t slen = 0, pos = 1;
    int done = 0;

    if (!initialised) {
        FZ_CHECK(apr_initialize() == APR_SUCCESS);
        atexit(apr_terminate);
        initialised = 1;
    }
    if (size == 0) {
        return 0;
    }
    variant = data[0];
    if ((variant & FZ_DEFLATE) && pos < size) {
        pmd = data[pos++];
    }
    FZ_CHECK(apr_pool_create(&p, NULL) == APR_SUCCESS);
    stream = apr_palloc(p, size);
    fz_run_init(&run, p, variant, pmd, &cb);

    while (pos < size && !done) {
        size_t len = data[pos++];
        unsigned int act = 0;

        if (pos < size) {
            act = data[pos++];
        }
        if (len > size - pos) {
            len = size - pos;
        }
        memcpy(stream + slen, data + pos, len);
        slen += len;
        rv = ws_session_feed(run.session, (const char *)data + pos, len);
        pos += len;
        done = fz_check_feed(&run, rv);
        if (rv != APR_SUCCESS && (variant & FZ_DIFF)) {
            done = 1;
        }
        if (!done && !(variant & FZ_DIFF)) {
            fz_action(&run, act);
            done = ws_session_state(run.session) == WS_STATE_CLOSED;
        }
    }
    if (ws_session_state(run.session) == WS_STATE_CLOSED) {
        fz_check_dead(&run, rv, data, size);
    }

    if (variant & FZ_DIFF) {
        fz_result_t a, b, c;

        fz_result(&a, &run, rv);
        fz_replay(p, variant, pmd, stream, slen, 0, &b);
        fz_replay(p, variant, pmd, stream, slen, 1, &c);
        FZ_CHECK(a.rv == b.rv && a.rv == c.rv);
        FZ_CHECK(a.close_code == b.close_code
                 && a.close_code == c.close_code);
        FZ_CHECK(a.state == b.state && a.state == c.state);
        FZ_CHECK(a.hash == b.hash && a.hash == c.hash);
        FZ_CHECK(a.bytes == b.bytes && a.bytes == c.bytes);
        if (a.rv == APR_SUCCESS || a.rv == APR_EOF) {
            fz_run_t model;

            memset(&model, 0, sizeof(model));
            model.out_hash = APR_UINT64_C(0xcbf29ce484222325);
            fz_model(&model, p, stream, slen, !run.no_pong_cb,
                     run.deflate ? &run.dparams : NULL);
            FZ_CHECK(model.out_bytes == a.bytes);
            FZ_CHECK(model.out_hash == a.hash);
        }
    }
    apr_pool_destroy(p);
    return 0;
}

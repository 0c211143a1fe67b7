/* main.c: runs the Check suites (TAP) of the engine and of the glue's APR-only parts; shared test helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "test_common.h"

apr_pool_t *ws_test_pool;

/* RFC 6455 §5.7: the masking key of the examples. */
const unsigned char ws_test_key[WS_FRAME_MASK_KEY_LEN] = {
    0x37, 0xfa, 0x21, 0x3d
};

void ws_test_setup(void)
{
    ck_assert_int_eq(apr_pool_create(&ws_test_pool, NULL), APR_SUCCESS);
    apr_pool_tag(ws_test_pool, "ws_test");
}

void ws_test_teardown(void)
{
    apr_pool_destroy(ws_test_pool);
    ws_test_pool = NULL;
}

TCase *ws_test_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, ws_test_setup, ws_test_teardown);
    tcase_set_timeout(tc, 120);
    return tc;
}

/* ---- pseudo-random numbers ---- */

void ws_test_rand_seed(ws_test_rand_t *r, apr_uint64_t seed)
{
    r->s = seed * APR_UINT64_C(0x9E3779B97F4A7C15) + 1;
}

apr_uint64_t ws_test_rand_next(ws_test_rand_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * APR_UINT64_C(0x2545F4914F6CDD1D);
}

apr_size_t ws_test_rand_range(ws_test_rand_t *r, apr_size_t lo,
                              apr_size_t hi)
{
    return lo + (apr_size_t)(ws_test_rand_next(r) % (hi - lo + 1));
}

void ws_test_rand_fill(ws_test_rand_t *r, char *buf, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        buf[i] = (char)(ws_test_rand_next(r) >> 56);
    }
}

/* ---- splits ---- */

void ws_test_splitter_init(ws_test_splitter_t *sp, int split)
{
    /* Random splits use pieces of at most 2, 3, 7, 64 and 1000 bytes, so
     * both headers and payloads get cut in many places. */
    static const apr_size_t max_chunk[] = { 0, 1, 2, 3, 7, 64, 1000 };

    sp->split = split;
    ws_test_rand_seed(&sp->rand, (apr_uint64_t)split * 6455);
    sp->max_chunk = max_chunk[split];
}

apr_size_t ws_test_splitter_next(ws_test_splitter_t *sp, apr_size_t left)
{
    apr_size_t n;

    if (sp->split == WS_TEST_SPLIT_WHOLE) {
        return left;
    }
    if (sp->split == WS_TEST_SPLIT_BYTES) {
        return 1;
    }
    n = ws_test_rand_range(&sp->rand, 1, sp->max_chunk);
    return n < left ? n : left;
}

const char *ws_test_split_name(int split)
{
    static const char *names[WS_TEST_NSPLITS] = {
        "whole", "bytes", "random<=2", "random<=3", "random<=7",
        "random<=64", "random<=1000"
    };

    return names[split];
}

/* ---- buffers ---- */

ws_test_buf_t *ws_test_buf_make(void)
{
    ws_test_buf_t *b = apr_pcalloc(ws_test_pool, sizeof(*b));

    b->cap = 64;
    b->data = apr_palloc(ws_test_pool, b->cap);
    return b;
}

void ws_test_buf_add(ws_test_buf_t *b, const void *data, apr_size_t len)
{
    if (b->len + len + 1 > b->cap) {
        apr_size_t cap = b->cap;
        char *n;

        while (b->len + len + 1 > cap) {
            cap *= 2;
        }
        n = apr_palloc(ws_test_pool, cap);
        memcpy(n, b->data, b->len);
        b->data = n;
        b->cap = cap;
    }
    if (len) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
}

void ws_test_buf_add_byte(ws_test_buf_t *b, unsigned int byte)
{
    unsigned char c = (unsigned char)byte;

    ws_test_buf_add(b, &c, 1);
}

/* ---- frame builders ---- */

static void add_be(ws_test_buf_t *b, apr_uint64_t v, int nbytes)
{
    int i;

    for (i = nbytes - 1; i >= 0; --i) {
        ws_test_buf_add_byte(b, (unsigned int)((v >> (8 * i)) & 0xFF));
    }
}

void ws_test_client_frame_ex(ws_test_buf_t *b, int fin, unsigned int rsv,
                             unsigned int op, const void *payload,
                             apr_size_t len, const unsigned char *key,
                             int len_form)
{
    const unsigned char *p = payload;
    unsigned int mask_bit = key ? 0x80 : 0;
    apr_size_t i;

    ws_test_buf_add_byte(b, (fin ? 0x80 : 0) | rsv | op);
    if (len_form == 16 || (len_form == 0 && len >= 126 && len <= 0xFFFF)) {
        ws_test_buf_add_byte(b, mask_bit | 126);
        add_be(b, len, 2);
    }
    else if (len_form == 64 || (len_form == 0 && len > 0xFFFF)) {
        ws_test_buf_add_byte(b, mask_bit | 127);
        add_be(b, len, 8);
    }
    else {
        ws_test_buf_add_byte(b, mask_bit | (unsigned int)len);
    }
    if (key) {
        ws_test_buf_add(b, key, 4);
    }
    for (i = 0; i < len; ++i) {
        ws_test_buf_add_byte(b, key ? (p[i] ^ key[i % 4]) : p[i]);
    }
}

void ws_test_client_frame(ws_test_buf_t *b, int fin, unsigned int op,
                          const void *payload, apr_size_t len)
{
    ws_test_client_frame_ex(b, fin, 0, op, payload, len, ws_test_key, 0);
}

void ws_test_client_close(ws_test_buf_t *b, int code, const void *reason,
                          apr_size_t rlen)
{
    ws_test_buf_t *p = ws_test_buf_make();

    if (code >= 0) {
        add_be(p, (apr_uint64_t)code, 2);
        ws_test_buf_add(p, reason, rlen);
    }
    ws_test_client_frame(b, 1, WS_OP_CLOSE, p->data, p->len);
}

void ws_test_server_frame(ws_test_buf_t *b, unsigned int op,
                          const void *payload, apr_size_t len)
{
    ws_test_client_frame_ex(b, 1, 0, op, payload, len, NULL, 0);
}

void ws_test_server_close(ws_test_buf_t *b, int code, const char *reason)
{
    ws_test_buf_t *p = ws_test_buf_make();

    if (code >= 0) {
        add_be(p, (apr_uint64_t)code, 2);
        if (reason) {
            ws_test_buf_add(p, reason, strlen(reason));
        }
    }
    ws_test_server_frame(b, WS_OP_CLOSE, p->data, p->len);
}


/* ---- running sessions ---- */

typedef struct test_ctx_t {
    ws_test_result_t *r;
    int nsent_at_end;          /* output when feed first ended the session */
    int nmsgs_at_end;
    int npongs_at_end;
} test_ctx_t;

static apr_status_t test_on_message(void *baton, ws_opcode_e op,
                                    const char *data, apr_size_t len)
{
    test_ctx_t *ctx = baton;
    ws_test_msg_t *m;

    /* The API promises a '\0' after the data, not counted in len. */
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(data[len], '\0');
    ck_assert(op == WS_OP_TEXT || op == WS_OP_BINARY);
    ck_assert_int_eq(ws_session_state(ctx->r->session), WS_STATE_OPEN);
    if (op == WS_OP_TEXT) {
        ck_assert(ws_test_utf8_ref((const unsigned char *)data, len));
    }
    m = apr_array_push(ctx->r->msgs);
    m->op = op;
    m->len = len;
    m->data = apr_pmemdup(ws_test_pool, data, len + 1);
    return APR_SUCCESS;
}

static void test_on_pong(void *baton, const char *data, apr_size_t len)
{
    test_ctx_t *ctx = baton;
    ws_test_msg_t *m;

    ck_assert_uint_le(len, WS_MAX_CTRL_PAYLOAD);
    m = apr_array_push(ctx->r->pongs);
    m->op = WS_OP_PONG;
    m->len = len;
    m->data = apr_pmemdup(ws_test_pool, data, len);
}

static apr_status_t test_on_send(void *baton, const char *hdr,
                                 apr_size_t hlen, const char *payload,
                                 apr_size_t plen)
{
    test_ctx_t *ctx = baton;

    /* Nothing may be sent once the session is CLOSED. */
    ck_assert_int_ne(ws_session_state(ctx->r->session), WS_STATE_CLOSED);
    ck_assert_uint_ge(hlen, 2);
    ck_assert_uint_le(hlen, WS_MAX_HDR_LEN);
    /* RFC 6455 §5.1: a server never masks. */
    ck_assert_int_eq((unsigned char)hdr[1] & 0x80, 0);
    ws_test_buf_add(ctx->r->sent, hdr, hlen);
    ws_test_buf_add(ctx->r->sent, payload, plen);
    ctx->r->nsent++;
    return APR_SUCCESS;
}

static int is_final_status(apr_status_t rv)
{
    return rv == APR_EOF || rv == WS_EPROTO || rv == WS_EBADUTF8
           || rv == WS_ETOOBIG;
}

ws_test_result_t *ws_test_feed(const char *in, apr_size_t len,
                               const ws_test_opts_t *opts, int split)
{
    static const ws_test_opts_t no_opts;
    ws_session_callbacks_t *cb;
    ws_test_result_t *r;
    test_ctx_t *ctx;
    ws_test_splitter_t sp;
    apr_size_t pos = 0;

    if (!opts) {
        opts = &no_opts;
    }
    r = apr_pcalloc(ws_test_pool, sizeof(*r));
    r->fail_at = (apr_size_t)-1;
    r->sent = ws_test_buf_make();
    r->msgs = apr_array_make(ws_test_pool, 4, sizeof(ws_test_msg_t));
    r->pongs = apr_array_make(ws_test_pool, 4, sizeof(ws_test_msg_t));
    ctx = apr_pcalloc(ws_test_pool, sizeof(*ctx));
    ctx->r = r;
    cb = apr_pcalloc(ws_test_pool, sizeof(*cb));
    cb->on_message = test_on_message;
    cb->on_pong = opts->no_pong_cb ? NULL : test_on_pong;
    cb->on_send = test_on_send;
    ck_assert_int_eq(ws_session_create(&r->session, ws_test_pool,
                                       opts->limits, cb, ctx),
                     APR_SUCCESS);
    ck_assert_int_eq(ws_session_state(r->session), WS_STATE_OPEN);
    ck_assert_int_eq(ws_session_close_code(r->session), 0);
    ck_assert_str_eq(ws_session_close_reason(r->session), "");
    if (opts->deflate) {
        ck_assert_int_eq(ws_session_set_deflate(r->session, opts->deflate),
                         APR_SUCCESS);
    }
    if (opts->close_first) {
        ck_assert_int_eq(ws_session_close(r->session, opts->close_first,
                                          opts->close_reason),
                         APR_SUCCESS);
        ck_assert_int_eq(ws_session_state(r->session), WS_STATE_CLOSING);
    }

    ws_test_splitter_init(&sp, split);
    r->rv = APR_SUCCESS;
    while (pos < len) {
        apr_size_t n = ws_test_splitter_next(&sp, len - pos);
        apr_status_t rv = ws_session_feed(r->session, in + pos, n);

        if (opts->trim) {
            /* As the glue does whenever input runs dry. */
            ws_session_trim(r->session);
        }
        pos += n;
        if (r->rv != APR_SUCCESS) {
            /* Once ended, every feed says so again. */
            ck_assert_msg(rv == r->rv, "feed after %d returned %d (%s split)",
                          r->rv, rv, ws_test_split_name(split));
            continue;
        }
        if (rv == APR_SUCCESS) {
            continue;
        }
        r->rv = rv;
        r->fail_at = pos - 1;
        ck_assert_msg(is_final_status(rv), "unexpected status %d", rv);
        ck_assert_int_eq(ws_session_state(r->session), WS_STATE_CLOSED);
        ctx->nsent_at_end = r->nsent;
        ctx->nmsgs_at_end = r->msgs->nelts;
        ctx->npongs_at_end = r->pongs->nelts;
        /* The rest of the input at once, and nothing, change nothing. */
        ck_assert_int_eq(ws_session_feed(r->session, in + pos, len - pos),
                         r->rv);
        ck_assert_int_eq(ws_session_feed(r->session, "", 0), r->rv);
    }
    if (r->rv != APR_SUCCESS) {
        /* No output and no event after the byte that ended it. */
        ck_assert_int_eq(r->nsent, ctx->nsent_at_end);
        ck_assert_int_eq(r->msgs->nelts, ctx->nmsgs_at_end);
        ck_assert_int_eq(r->pongs->nelts, ctx->npongs_at_end);
        ck_assert_int_eq(ws_session_send(r->session, WS_OP_TEXT, "x", 1),
                         WS_ECLOSED);
        ck_assert_int_eq(ws_session_ping(r->session, "", 0), WS_ECLOSED);
        ck_assert_int_eq(ws_session_close(r->session, 1000, ""),
                         WS_ECLOSED);
        ck_assert_int_eq(r->nsent, ctx->nsent_at_end);
    }
    r->state = ws_session_state(r->session);
    r->close_code = ws_session_close_code(r->session);
    r->close_reason = apr_pstrdup(ws_test_pool,
                                  ws_session_close_reason(r->session));
    r->peer_closed_first = ws_session_peer_closed_first(r->session);
    if (is_final_status(r->rv)) {
        ck_assert_int_eq(r->state, WS_STATE_CLOSED);
    }
    if (r->state == WS_STATE_OPEN) {
        ck_assert_int_eq(r->close_code, 0);
    }
    return r;
}

static void assert_same_msgs(const apr_array_header_t *a,
                             const apr_array_header_t *b, const char *what,
                             int split)
{
    int i;

    ck_assert_msg(a->nelts == b->nelts, "%s: %d vs %d (%s split)", what,
                  a->nelts, b->nelts, ws_test_split_name(split));
    for (i = 0; i < a->nelts; ++i) {
        const ws_test_msg_t *x = &APR_ARRAY_IDX(a, i, ws_test_msg_t);
        const ws_test_msg_t *y = &APR_ARRAY_IDX(b, i, ws_test_msg_t);

        ck_assert_msg(x->op == y->op && x->len == y->len
                      && memcmp(x->data, y->data, x->len) == 0,
                      "%s %d differs (%s split)", what, i,
                      ws_test_split_name(split));
    }
}

ws_test_result_t *ws_test_run(const char *in, apr_size_t len,
                              const ws_test_opts_t *opts)
{
    ws_test_result_t *whole, *r;
    int split;

    whole = ws_test_feed(in, len, opts, WS_TEST_SPLIT_WHOLE);
    for (split = WS_TEST_SPLIT_BYTES; split < WS_TEST_NSPLITS; ++split) {
        r = ws_test_feed(in, len, opts, split);
        ck_assert_msg(r->rv == whole->rv, "status %d vs %d (%s split)",
                      r->rv, whole->rv, ws_test_split_name(split));
        ck_assert_int_eq(r->state, whole->state);
        ck_assert_int_eq(r->close_code, whole->close_code);
        ck_assert_str_eq(r->close_reason, whole->close_reason);
        ck_assert_int_eq(r->peer_closed_first, whole->peer_closed_first);
        ck_assert_msg(r->sent->len == whole->sent->len
                      && memcmp(r->sent->data, whole->sent->data,
                                r->sent->len) == 0,
                      "output differs (%s split)", ws_test_split_name(split));
        ck_assert_int_eq(r->nsent, whole->nsent);
        assert_same_msgs(r->msgs, whole->msgs, "message", split);
        assert_same_msgs(r->pongs, whole->pongs, "pong", split);
        if (split == WS_TEST_SPLIT_BYTES) {
            whole->fail_at = r->fail_at;
        }
    }
    return whole;
}

ws_test_result_t *ws_test_run_buf(const ws_test_buf_t *in,
                                  const ws_test_opts_t *opts)
{
    return ws_test_run(in->data, in->len, opts);
}

static void dump(const char *what, const char *p, apr_size_t len)
{
    apr_size_t i;

    fprintf(stderr, "# %s (%lu):", what, (unsigned long)len);
    for (i = 0; i < len && i < 64; ++i) {
        fprintf(stderr, " %02x", (unsigned char)p[i]);
    }
    fprintf(stderr, "%s\n", len > 64 ? " ..." : "");
}

void ws_test_assert_sent(const ws_test_result_t *r,
                         const ws_test_buf_t *expect)
{
    if (r->sent->len != expect->len
        || memcmp(r->sent->data, expect->data, expect->len) != 0) {
        dump("sent", r->sent->data, r->sent->len);
        dump("expected", expect->data, expect->len);
        ck_abort_msg("sent bytes differ from the expected ones");
    }
}

void ws_test_assert_failed(const ws_test_result_t *r, apr_status_t rv,
                           int code, int only_close)
{
    const unsigned char *s = (const unsigned char *)r->sent->data;
    ws_test_buf_t *expect = ws_test_buf_make();
    apr_size_t start;

    ck_assert_int_eq(r->rv, rv);
    ck_assert_int_eq(r->state, WS_STATE_CLOSED);
    ck_assert_int_eq(r->close_code, code);
    ck_assert_uint_gt(strlen(r->close_reason), 0);
    ck_assert_int_eq(r->peer_closed_first, 0);
    /* The last frame is our close frame: code plus the static reason. */
    ws_test_server_close(expect, code, r->close_reason);
    ck_assert_uint_ge(r->sent->len, expect->len);
    start = r->sent->len - expect->len;
    if (memcmp(s + start, expect->data, expect->len) != 0) {
        dump("sent", r->sent->data, r->sent->len);
        dump("expected close", expect->data, expect->len);
        ck_abort_msg("last frame is not the expected close frame");
    }
    if (only_close) {
        ck_assert_uint_eq(start, 0);
        ck_assert_int_eq(r->nsent, 1);
    }
}

void ws_test_assert_msg(const ws_test_result_t *r, int i, ws_opcode_e op,
                        const void *data, apr_size_t len)
{
    const ws_test_msg_t *m;

    ck_assert_int_gt(r->msgs->nelts, i);
    m = &APR_ARRAY_IDX(r->msgs, i, ws_test_msg_t);
    ck_assert_int_eq(m->op, op);
    ck_assert_uint_eq(m->len, len);
    ck_assert_mem_eq(m->data, data, len);
}

int main(void)
{
    SRunner *runner;
    int failed;

    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "apr_initialize failed\n");
        return EXIT_FAILURE;
    }
    atexit(apr_terminate);
    runner = srunner_create(test_ws_frame_suite());
    srunner_add_suite(runner, test_ws_utf8_suite());
    srunner_add_suite(runner, test_ws_session_suite());
    srunner_add_suite(runner, test_ws_deflate_suite());
    srunner_add_suite(runner, test_mws_outq_suite());
    srunner_set_tap(runner, "-");
    srunner_run_all(runner, CK_SILENT);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* test_ws_session.c: tests of engine/ws_session.c (RFC 6455 server). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "test_common.h"

/* Length of a masked client frame header for @a len payload bytes. */
static apr_size_t chdr_len(apr_size_t len)
{
    apr_size_t n = 2 + WS_FRAME_MASK_KEY_LEN;

    if (len > 0xFFFF) {
        n += 8;
    }
    else if (len > 125) {
        n += 2;
    }
    return n;
}

static ws_test_result_t *run(const ws_test_buf_t *in)
{
    return ws_test_run_buf(in, NULL);
}

static ws_test_result_t *run_limits(const ws_test_buf_t *in,
                                    apr_uint64_t max_message,
                                    apr_uint64_t max_frame)
{
    ws_limits_t *lim = apr_pcalloc(ws_test_pool, sizeof(*lim));
    ws_test_opts_t opts;

    lim->max_message = max_message;
    lim->max_frame = max_frame;
    memset(&opts, 0, sizeof(opts));
    opts.limits = lim;
    return ws_test_run_buf(in, &opts);
}

/* Nothing sent, nothing failed, still open. */
static void assert_quiet_open(const ws_test_result_t *r)
{
    ck_assert_int_eq(r->rv, APR_SUCCESS);
    ck_assert_int_eq(r->state, WS_STATE_OPEN);
    ck_assert_uint_eq(r->sent->len, 0);
    ck_assert_int_eq(r->close_code, 0);
}

/* A single-frame protocol violation: 1002 when its header completes. */
static void assert_proto_at_hdr(const ws_test_buf_t *in, apr_size_t hlen)
{
    ws_test_result_t *r = run(in);

    ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
    ck_assert_uint_eq(r->msgs->nelts, 0);
    ck_assert_uint_eq(r->fail_at, hlen - 1);
}

/* ---- messages ---- */

/* RFC 6455 §5.7: a single-frame masked text message containing "Hello". */
START_TEST(test_ws_session_rfc6455_5_7_masked_hello)
{
    static const unsigned char hello[] = {
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    };
    ws_test_result_t *r = ws_test_run((const char *)hello, sizeof(hello),
                                      NULL);

    assert_quiet_open(r);
    ck_assert_int_eq(r->msgs->nelts, 1);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, "Hello", 5);
}
END_TEST

/* Every length form and its boundaries: 7, 16 and 64 bits. */
START_TEST(test_ws_session_single_frame_lengths)
{
    static const apr_size_t lens[] = {
        0, 1, 125, 126, 127, 65535, 65536, 70001
    };
    ws_test_rand_t rnd;
    apr_size_t i;

    ws_test_rand_seed(&rnd, 11);
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); ++i) {
        char *payload = apr_palloc(ws_test_pool, lens[i] + 1);
        ws_test_buf_t *in = ws_test_buf_make();
        ws_test_result_t *r;

        ws_test_rand_fill(&rnd, payload, lens[i]);
        ws_test_client_frame(in, 1, WS_OP_BINARY, payload, lens[i]);
        ck_assert_uint_eq(in->len, chdr_len(lens[i]) + lens[i]);
        r = run(in);
        assert_quiet_open(r);
        ck_assert_int_eq(r->msgs->nelts, 1);
        ws_test_assert_msg(r, 0, WS_OP_BINARY, payload, lens[i]);
    }
}
END_TEST

START_TEST(test_ws_session_empty_messages)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    ws_test_client_frame(in, 1, WS_OP_TEXT, "", 0);
    ws_test_client_frame(in, 1, WS_OP_BINARY, "", 0);
    ws_test_client_frame(in, 0, WS_OP_TEXT, "", 0);
    ws_test_client_frame(in, 0, WS_OP_CONT, "", 0);
    ws_test_client_frame(in, 1, WS_OP_CONT, "", 0);
    r = run(in);
    assert_quiet_open(r);
    ck_assert_int_eq(r->msgs->nelts, 3);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, "", 0);
    ws_test_assert_msg(r, 1, WS_OP_BINARY, "", 0);
    ws_test_assert_msg(r, 2, WS_OP_TEXT, "", 0);
}
END_TEST

/* RFC 6455 §5.4: control frames may be injected between fragments. */
START_TEST(test_ws_session_fragmented_with_pings)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_buf_t *expect = ws_test_buf_make();
    ws_test_result_t *r;
    const ws_test_msg_t *pong;

    ws_test_client_frame(in, 0, WS_OP_TEXT, "Hel", 3);
    ws_test_client_frame(in, 1, WS_OP_PING, "p1", 2);
    ws_test_client_frame(in, 0, WS_OP_CONT, "lo w\xc3", 5);
    ws_test_client_frame(in, 1, WS_OP_PONG, "unsolicited", 11);
    ws_test_client_frame(in, 0, WS_OP_CONT, "", 0);
    ws_test_client_frame(in, 1, WS_OP_PING, "", 0);
    ws_test_client_frame(in, 1, WS_OP_CONT, "\xb6rld", 4);
    ws_test_client_frame(in, 0, WS_OP_BINARY, "\x00\xff", 2);
    ws_test_client_frame(in, 1, WS_OP_PING, "p3", 2);
    ws_test_client_frame(in, 1, WS_OP_CONT, "\x80", 1);
    ws_test_client_frame(in, 1, WS_OP_TEXT, "after", 5);
    r = run(in);
    ck_assert_int_eq(r->rv, APR_SUCCESS);
    ck_assert_int_eq(r->msgs->nelts, 3);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, "Hello w\xc3\xb6rld", 12);
    ws_test_assert_msg(r, 1, WS_OP_BINARY, "\x00\xff\x80", 3);
    ws_test_assert_msg(r, 2, WS_OP_TEXT, "after", 5);
    ws_test_server_frame(expect, WS_OP_PONG, "p1", 2);
    ws_test_server_frame(expect, WS_OP_PONG, "", 0);
    ws_test_server_frame(expect, WS_OP_PONG, "p3", 2);
    ws_test_assert_sent(r, expect);
    ck_assert_int_eq(r->pongs->nelts, 1);
    pong = &APR_ARRAY_IDX(r->pongs, 0, ws_test_msg_t);
    ck_assert_uint_eq(pong->len, 11);
    ck_assert_mem_eq(pong->data, "unsolicited", 11);
}
END_TEST

/* Trimming between feeds (the glue does it whenever input runs dry) frees
 * nothing a message still needs, whatever the split: the same messages
 * come out, halfway through a fragmented one included. */
START_TEST(test_ws_session_trim_between_feeds)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_opts_t opts;
    ws_test_result_t *r;
    char big[3000];

    memset(big, 'x', sizeof(big));
    memset(&opts, 0, sizeof(opts));
    opts.trim = 1;
    ws_test_client_frame(in, 0, WS_OP_TEXT, "Hel", 3);
    ws_test_client_frame(in, 1, WS_OP_PING, "p1", 2);
    ws_test_client_frame(in, 0, WS_OP_CONT, big, sizeof(big));
    ws_test_client_frame(in, 1, WS_OP_CONT, "lo", 2);
    ws_test_client_frame(in, 1, WS_OP_BINARY, big, 200);
    ws_test_client_frame(in, 1, WS_OP_TEXT, "after", 5);
    r = ws_test_run_buf(in, &opts);
    ck_assert_int_eq(r->rv, APR_SUCCESS);
    ck_assert_int_eq(r->msgs->nelts, 3);
    ck_assert_uint_eq(APR_ARRAY_IDX(r->msgs, 0, ws_test_msg_t).len,
                      3 + sizeof(big) + 2);
    ck_assert_mem_eq(APR_ARRAY_IDX(r->msgs, 0, ws_test_msg_t).data + 3, big,
                     sizeof(big));
    ws_test_assert_msg(r, 1, WS_OP_BINARY, big, 200);
    ws_test_assert_msg(r, 2, WS_OP_TEXT, "after", 5);
}
END_TEST

/* Many fragments, of many sizes, reassembled in order. */
START_TEST(test_ws_session_fragmented_many)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_buf_t *msg = ws_test_buf_make();
    ws_test_rand_t rnd;
    ws_test_result_t *r;
    int i;

    ws_test_rand_seed(&rnd, 5);
    for (i = 0; i < 300; ++i) {
        apr_size_t n = ws_test_rand_range(&rnd, 0, i % 50 ? 20 : 6000);
        char *frag = apr_palloc(ws_test_pool, n + 1);

        ws_test_rand_fill(&rnd, frag, n);
        ws_test_client_frame(in, i == 299, i ? WS_OP_CONT : WS_OP_BINARY,
                             frag, n);
        ws_test_buf_add(msg, frag, n);
        if (i % 37 == 0) {
            ws_test_client_frame(in, 1, WS_OP_PONG, "x", 1);
        }
    }
    r = run(in);
    assert_quiet_open(r);
    ck_assert_int_eq(r->msgs->nelts, 1);
    ws_test_assert_msg(r, 0, WS_OP_BINARY, msg->data, msg->len);
}
END_TEST

/* ---- frame-level protocol errors (1002) ---- */

/* RFC 6455 §5.1: client frames must be masked. */
START_TEST(test_ws_session_unmasked_frames)
{
    static const unsigned int ops[] = {
        WS_OP_TEXT, WS_OP_BINARY, WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE
    };
    apr_size_t i;

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); ++i) {
        ws_test_buf_t *in = ws_test_buf_make();

        ws_test_client_frame_ex(in, 1, 0, ops[i], "ab", 2, NULL, 0);
        ws_test_client_frame(in, 1, WS_OP_TEXT, "never", 5);
        assert_proto_at_hdr(in, 2);
    }
}
END_TEST

/* RFC 6455 §5.2: RSV1-3 must be 0 without a negotiated extension. */
START_TEST(test_ws_session_rsv_bits)
{
    static const unsigned int rsv[] = {
        WS_FRAME_RSV1, WS_FRAME_RSV2, WS_FRAME_RSV3, WS_FRAME_RSV_BITS
    };
    static const unsigned int ops[] = {
        WS_OP_TEXT, WS_OP_BINARY, WS_OP_PING, WS_OP_CLOSE
    };
    apr_size_t i, j;

    for (i = 0; i < sizeof(rsv) / sizeof(rsv[0]); ++i) {
        for (j = 0; j < sizeof(ops) / sizeof(ops[0]); ++j) {
            ws_test_buf_t *in = ws_test_buf_make();

            ws_test_client_frame_ex(in, 1, rsv[i], ops[j], "ab", 2,
                                    ws_test_key, 0);
            assert_proto_at_hdr(in, 6);
        }
    }
    /* On a continuation frame, after a good first fragment. */
    {
        ws_test_buf_t *in = ws_test_buf_make();
        ws_test_result_t *r;

        ws_test_client_frame(in, 0, WS_OP_TEXT, "a", 1);
        ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_CONT, "b", 1,
                                ws_test_key, 0);
        r = run(in);
        ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
        ck_assert_uint_eq(r->fail_at, 7 + 6 - 1);
    }
}
END_TEST

/* RFC 6455 §5.2: opcodes 3-7 and B-F are reserved. */
START_TEST(test_ws_session_reserved_opcodes)
{
    static const unsigned int ops[] = {
        3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF
    };
    apr_size_t i;

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); ++i) {
        ws_test_buf_t *in = ws_test_buf_make();

        ws_test_client_frame(in, 1, ops[i], "", 0);
        assert_proto_at_hdr(in, 6);
        in = ws_test_buf_make();
        ws_test_client_frame(in, 0, ops[i], "payload", 7);
        assert_proto_at_hdr(in, 6);
    }
}
END_TEST

/* RFC 6455 §5.2: lengths must be minimally encoded, 64-bit MSB clear. */
START_TEST(test_ws_session_nonminimal_length)
{
    ws_test_buf_t *in;
    ws_test_result_t *r;
    static const unsigned char msb[] = {
        0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x01, 0x37, 0xfa, 0x21, 0x3d
    };

    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, 0, WS_OP_TEXT, "abc", 3, ws_test_key, 16);
    /* Found at the last length byte, before the masking key. */
    assert_proto_at_hdr(in, 4);

    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, 0, WS_OP_BINARY, "abc", 3, ws_test_key,
                            64);
    assert_proto_at_hdr(in, 10);

    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, 0, WS_OP_PING, "", 0, ws_test_key, 16);
    assert_proto_at_hdr(in, 4);

    in = ws_test_buf_make();
    ws_test_buf_add(in, msb, sizeof(msb));
    r = run(in);
    ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
    ck_assert_uint_eq(r->fail_at, 9);

    /* 126 in the 16-bit form and 65536 in the 64-bit form are fine. */
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, 0, WS_OP_BINARY, apr_pcalloc(ws_test_pool,
                            65536), 65536, ws_test_key, 64);
    ws_test_client_frame_ex(in, 1, 0, WS_OP_BINARY, apr_pcalloc(ws_test_pool,
                            126), 126, ws_test_key, 16);
    r = run(in);
    assert_quiet_open(r);
    ck_assert_int_eq(r->msgs->nelts, 2);
}
END_TEST

/* RFC 6455 §5.5: control payload at most 125 bytes. */
START_TEST(test_ws_session_control_too_long)
{
    static const unsigned int ops[] = { WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE };
    char payload[126];
    ws_test_buf_t *in, *expect;
    ws_test_result_t *r;
    apr_size_t i;

    memset(payload, 'p', sizeof(payload));
    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); ++i) {
        in = ws_test_buf_make();
        ws_test_client_frame(in, 1, ops[i], payload, 126);
        assert_proto_at_hdr(in, 8);
    }
    /* 125 is fine, and the pong carries all of it. */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_PING, payload, 125);
    r = run(in);
    expect = ws_test_buf_make();
    ws_test_server_frame(expect, WS_OP_PONG, payload, 125);
    ws_test_assert_sent(r, expect);
    ck_assert_int_eq(r->state, WS_STATE_OPEN);
}
END_TEST

/* RFC 6455 §5.5: control frames MUST NOT be fragmented. */
START_TEST(test_ws_session_control_fragmented)
{
    static const unsigned int ops[] = { WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE };
    apr_size_t i;

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); ++i) {
        ws_test_buf_t *in = ws_test_buf_make();

        ws_test_client_frame(in, 0, ops[i], "ab", 2);
        assert_proto_at_hdr(in, 6);
        /* Inside a fragmented message too. */
        in = ws_test_buf_make();
        ws_test_client_frame(in, 0, WS_OP_BINARY, "x", 1);
        ws_test_client_frame(in, 0, ops[i], "", 0);
        {
            ws_test_result_t *r = run(in);

            ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
            ck_assert_uint_eq(r->fail_at, in->len - 1);
        }
    }
}
END_TEST

/* RFC 6455 §5.4: CONT only continues a message in progress. */
START_TEST(test_ws_session_cont_without_start)
{
    ws_test_buf_t *in;
    ws_test_result_t *r;

    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_CONT, "x", 1);
    assert_proto_at_hdr(in, 6);

    in = ws_test_buf_make();
    ws_test_client_frame(in, 0, WS_OP_CONT, "", 0);
    assert_proto_at_hdr(in, 6);

    /* After a complete message, there is nothing to continue. */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 0, WS_OP_TEXT, "a", 1);
    ws_test_client_frame(in, 1, WS_OP_CONT, "b", 1);
    ws_test_client_frame(in, 1, WS_OP_CONT, "c", 1);
    r = run(in);
    ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
    ck_assert_int_eq(r->msgs->nelts, 1);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, "ab", 2);
    ck_assert_uint_eq(r->fail_at, 14 + 6 - 1);
}
END_TEST

/* RFC 6455 §5.4: messages do not interleave. */
START_TEST(test_ws_session_new_message_during_fragmented)
{
    static const unsigned int first[] = { WS_OP_TEXT, WS_OP_BINARY };
    static const unsigned int second[] = { WS_OP_TEXT, WS_OP_BINARY };
    apr_size_t i, j;

    for (i = 0; i < 2; ++i) {
        for (j = 0; j < 2; ++j) {
            ws_test_buf_t *in = ws_test_buf_make();
            ws_test_result_t *r;
            ws_test_buf_t *expect = ws_test_buf_make();

            ws_test_client_frame(in, 0, first[i], "a", 1);
            ws_test_client_frame(in, 1, WS_OP_PING, "", 0);
            ws_test_client_frame(in, 1, second[j], "b", 1);
            r = run(in);
            ck_assert_int_eq(r->rv, WS_EPROTO);
            ck_assert_uint_eq(r->fail_at, 7 + 6 + 6 - 1);
            ck_assert_int_eq(r->msgs->nelts, 0);
            /* The ping before it was answered. */
            ws_test_server_frame(expect, WS_OP_PONG, "", 0);
            ws_test_server_close(expect, WEBSOCKET_CLOSE_PROTOCOL,
                                 r->close_reason);
            ws_test_assert_sent(r, expect);
            ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 0);
        }
    }
}
END_TEST

/* ---- UTF-8 (1007) ---- */

START_TEST(test_ws_session_utf8_valid_text)
{
    static const char text[] =
        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
        " \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf";
    apr_size_t len = sizeof(text) - 1, i;
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    ws_test_client_frame(in, 1, WS_OP_TEXT, text, len);
    /* The same text with every byte in its own fragment. */
    for (i = 0; i < len; ++i) {
        ws_test_client_frame(in, i == len - 1, i ? WS_OP_CONT : WS_OP_TEXT,
                             text + i, 1);
    }
    r = run(in);
    assert_quiet_open(r);
    ck_assert_int_eq(r->msgs->nelts, 2);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, text, len);
    ws_test_assert_msg(r, 1, WS_OP_TEXT, text, len);
}
END_TEST

/* Every class of invalid UTF-8 fails the session with 1007 when the first
 * invalid byte is fed, and nothing is delivered. */
START_TEST(test_ws_session_utf8_invalid_classes)
{
    static const struct {
        const char *s;
        apr_size_t bad;        /* index of the first invalid byte */
    } cases[] = {
        { "\x80", 0 },                         /* lone continuation */
        { "ab\xbf", 2 },
        { "\xc0\xaf", 0 },                     /* overlong 2 */
        { "\xc1\xbf", 0 },
        { "\xe0\x80\xaf", 1 },                 /* overlong 3 */
        { "\xe0\x9f\xbf", 1 },
        { "\xf0\x80\x80\xaf", 1 },             /* overlong 4 */
        { "\xf0\x8f\xbf\xbf", 1 },
        { "\xed\xa0\x80", 1 },                 /* surrogates */
        { "\xed\xbf\xbf", 1 },
        { "\xed\xa0\x80\xed\xb0\x80", 1 },
        { "\xf4\x90\x80\x80", 1 },             /* > U+10FFFF */
        { "\xf5\x80\x80\x80", 0 },
        { "\xf8\x88\x80\x80\x80", 0 },         /* 5 and 6 byte forms */
        { "\xfc\x84\x80\x80\x80\x80", 0 },
        { "\xfe", 0 },
        { "\xff", 0 },
        { "\xc2\x41", 1 },                     /* bad continuation */
        { "\xe1\x80\x41", 2 },
        { "\xf1\x80\x80\x41", 3 },
        { "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited",
          12 }                                 /* Autobahn 6.3.1 */
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        apr_size_t len = strlen(cases[i].s);
        ws_test_buf_t *in = ws_test_buf_make();
        ws_test_result_t *r;

        ws_test_client_frame(in, 1, WS_OP_TEXT, cases[i].s, len);
        ws_test_client_frame(in, 1, WS_OP_PING, "late", 4);
        r = run(in);
        ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
        ck_assert_int_eq(r->msgs->nelts, 0);
        ck_assert_msg(r->fail_at == chdr_len(len) + cases[i].bad,
                      "case %lu failed at %lu", (unsigned long)i,
                      (unsigned long)r->fail_at);
    }
}
END_TEST

/* Fail fast: the invalid byte in the middle of a frame fails the session
 * when it is fed, before the frame (let alone the message) is complete;
 * the bytes after it produce nothing. */
START_TEST(test_ws_session_utf8_fail_fast_mid_frame)
{
    char big[1000];
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    memset(big, 'a', sizeof(big));
    memcpy(big + 5, "\xff", 1);
    ws_test_client_frame(in, 0, WS_OP_TEXT, big, sizeof(big));
    ws_test_client_frame(in, 1, WS_OP_PING, "x", 1);
    r = run(in);
    ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
    ck_assert_uint_eq(r->fail_at, chdr_len(sizeof(big)) + 5);

    /* Only the frame's first bytes arrive: the failure needs no more. */
    r = ws_test_run(in->data, chdr_len(sizeof(big)) + 6, NULL);
    ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
    ck_assert_uint_eq(r->fail_at, chdr_len(sizeof(big)) + 5);
}
END_TEST

/* The validator's state spans fragments, and so does the failure. */
START_TEST(test_ws_session_utf8_invalid_across_fragments)
{
    ws_test_buf_t *in;
    ws_test_result_t *r;
    apr_size_t at;

    /* Autobahn 6.4.1-like: "kosme" + F4 | 90 80 80 "edited". */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 0, WS_OP_TEXT,
                         "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4",
                         12);
    ws_test_client_frame(in, 1, WS_OP_PING, "", 0);
    at = in->len + 6;
    ws_test_client_frame(in, 1, WS_OP_CONT, "\x90\x80\x80" "edited", 9);
    r = run(in);
    ck_assert_int_eq(r->rv, WS_EBADUTF8);
    ck_assert_uint_eq(r->fail_at, at);
    ck_assert_int_eq(r->nsent, 2);          /* pong, then close */
    ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 0);

    /* A surrogate spread over three fragments. */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 0, WS_OP_TEXT, "ok\xed", 3);
    ws_test_client_frame(in, 0, WS_OP_CONT, "", 0);
    at = in->len + 6;
    ws_test_client_frame(in, 0, WS_OP_CONT, "\xa0", 1);
    ws_test_client_frame(in, 1, WS_OP_CONT, "\x80", 1);
    r = run(in);
    ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
    ck_assert_uint_eq(r->fail_at, at);
}
END_TEST

/* A character cut off by the end of the message is invalid (1007), only
 * there: across fragments it is fine. */
START_TEST(test_ws_session_utf8_truncated_at_end)
{
    ws_test_buf_t *in;
    ws_test_result_t *r;

    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_TEXT, "ab\xe2\x82", 4);
    r = run(in);
    ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
    ck_assert_uint_eq(r->fail_at, in->len - 1);

    in = ws_test_buf_make();
    ws_test_client_frame(in, 0, WS_OP_TEXT, "a\xe2", 2);
    ws_test_client_frame(in, 1, WS_OP_CONT, "\x82", 1);
    r = run(in);
    ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
    ck_assert_uint_eq(r->fail_at, in->len - 1);

    /* Ending on an empty final fragment. */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 0, WS_OP_TEXT, "\xf0\x9f", 2);
    ws_test_client_frame(in, 1, WS_OP_CONT, "", 0);
    r = run(in);
    ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
    ck_assert_uint_eq(r->fail_at, in->len - 1);

    in = ws_test_buf_make();
    ws_test_client_frame(in, 0, WS_OP_TEXT, "\xe2", 1);
    ws_test_client_frame(in, 0, WS_OP_CONT, "\x82", 1);
    ws_test_client_frame(in, 1, WS_OP_CONT, "\xac", 1);
    r = run(in);
    assert_quiet_open(r);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, "\xe2\x82\xac", 3);
}
END_TEST

/* Binary messages are not UTF-8 checked. */
START_TEST(test_ws_session_binary_not_utf8_checked)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    ws_test_client_frame(in, 0, WS_OP_BINARY, "\xff\xc0", 2);
    ws_test_client_frame(in, 1, WS_OP_CONT, "\xed\xa0\x80\xe2", 4);
    r = run(in);
    assert_quiet_open(r);
    ws_test_assert_msg(r, 0, WS_OP_BINARY, "\xff\xc0\xed\xa0\x80\xe2", 6);
}
END_TEST

/* ---- closing handshake ---- */

/* RFC 6455 §7.4: every code a peer may send; echoed in our reply. */
START_TEST(test_ws_session_close_valid_codes)
{
    static const int codes[] = {
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
        1014, 3000, 3999, 4000, 4999
    };
    apr_size_t i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); ++i) {
        ws_test_buf_t *in = ws_test_buf_make();
        ws_test_buf_t *expect = ws_test_buf_make();
        ws_test_result_t *r;

        ck_assert(ws_close_code_is_valid(codes[i]));
        ws_test_client_close(in, codes[i], "bye \xe2\x82\xac", 7);
        ws_test_client_frame(in, 1, WS_OP_TEXT, "ignored", 7);
        r = run(in);
        ck_assert_int_eq(r->rv, APR_EOF);
        ck_assert_int_eq(r->state, WS_STATE_CLOSED);
        ck_assert_int_eq(r->close_code, codes[i]);
        ck_assert_str_eq(r->close_reason, "bye \xe2\x82\xac");
        ck_assert_int_eq(r->peer_closed_first, 1);
        ck_assert_int_eq(r->msgs->nelts, 0);
        ck_assert_uint_eq(r->fail_at, chdr_len(9) + 9 - 1);
        ws_test_server_close(expect, codes[i], NULL);
        ws_test_assert_sent(r, expect);
    }
}
END_TEST

/* RFC 6455 §7.4: codes that may never be received fail with 1002. */
START_TEST(test_ws_session_close_invalid_codes)
{
    static const int codes[] = {
        0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
        65535
    };
    apr_size_t i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); ++i) {
        ws_test_buf_t *in = ws_test_buf_make();
        ws_test_result_t *r;

        ck_assert(!ws_close_code_is_valid(codes[i]));
        ws_test_client_close(in, codes[i], "", 0);
        r = run(in);
        ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
        ck_assert_int_eq(r->close_code, WEBSOCKET_CLOSE_PROTOCOL);
    }
    ck_assert(!ws_close_code_is_valid(-1));
    ck_assert(!ws_close_code_is_valid(2999));
    ck_assert(ws_close_code_is_valid(3000));
}
END_TEST

/* An empty close is valid: code 1005 reported, an empty close echoed. */
START_TEST(test_ws_session_close_empty)
{
    static const unsigned char empty_close[] = { 0x88, 0x00 };
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_buf_t *expect = ws_test_buf_make();
    ws_test_result_t *r;

    ws_test_client_close(in, -1, NULL, 0);
    r = run(in);
    ck_assert_int_eq(r->rv, APR_EOF);
    ck_assert_int_eq(r->state, WS_STATE_CLOSED);
    ck_assert_int_eq(r->close_code, WEBSOCKET_CLOSE_NO_STATUS);
    ck_assert_str_eq(r->close_reason, "");
    ck_assert_int_eq(r->peer_closed_first, 1);
    ws_test_buf_add(expect, empty_close, sizeof(empty_close));
    ws_test_assert_sent(r, expect);
}
END_TEST

/* RFC 6455 §5.5.1: a close body starts with a 2-byte code. */
START_TEST(test_ws_session_close_len1)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    ws_test_client_frame(in, 1, WS_OP_CLOSE, "\x03", 1);
    r = run(in);
    ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
    ck_assert_uint_eq(r->fail_at, in->len - 1);
}
END_TEST

/* RFC 6455 §5.5.1: the reason is UTF-8; else 1007. */
START_TEST(test_ws_session_close_reason_utf8)
{
    static const char *bad[] = {
        "\xff", "ok\xc0\xaf", "\xed\xa0\x80", "cut \xe2\x82"
    };
    char reason[123];
    ws_test_buf_t *in, *expect;
    ws_test_result_t *r;
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        in = ws_test_buf_make();
        ws_test_client_close(in, 1000, bad[i], strlen(bad[i]));
        r = run(in);
        ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
    }
    /* The longest reason, in 3-byte characters, is reported whole. */
    for (i = 0; i < sizeof(reason); i += 3) {
        memcpy(reason + i, "\xe2\x82\xac", 3);
    }
    in = ws_test_buf_make();
    ws_test_client_close(in, 4001, reason, sizeof(reason));
    r = run(in);
    ck_assert_int_eq(r->rv, APR_EOF);
    ck_assert_int_eq(r->close_code, 4001);
    ck_assert_uint_eq(strlen(r->close_reason), sizeof(reason));
    ck_assert_mem_eq(r->close_reason, reason, sizeof(reason));
    expect = ws_test_buf_make();
    ws_test_server_close(expect, 4001, NULL);
    ws_test_assert_sent(r, expect);
}
END_TEST

/* A close arriving in the middle of a fragmented message ends it. */
START_TEST(test_ws_session_close_inside_fragmented)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_buf_t *expect = ws_test_buf_make();
    ws_test_result_t *r;

    ws_test_client_frame(in, 0, WS_OP_TEXT, "part", 4);
    ws_test_client_close(in, 1001, "", 0);
    ws_test_client_frame(in, 1, WS_OP_CONT, "rest", 4);
    r = run(in);
    ck_assert_int_eq(r->rv, APR_EOF);
    ck_assert_int_eq(r->msgs->nelts, 0);
    ws_test_server_close(expect, 1001, NULL);
    ws_test_assert_sent(r, expect);
}
END_TEST

/* We close first (RFC 6455 §7.1.2): data is checked but not delivered,
 * pings are not answered, and the peer's close completes the handshake
 * without a reply. */
START_TEST(test_ws_session_server_close_first)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_buf_t *expect = ws_test_buf_make();
    ws_test_opts_t opts;
    ws_test_result_t *r;

    memset(&opts, 0, sizeof(opts));
    opts.close_first = WEBSOCKET_CLOSE_GOING_AWAY;
    opts.close_reason = "shutting down";
    ws_test_client_frame(in, 1, WS_OP_TEXT, "in flight", 9);
    ws_test_client_frame(in, 0, WS_OP_BINARY, "frag", 4);
    ws_test_client_frame(in, 1, WS_OP_PING, "p", 1);
    ws_test_client_frame(in, 1, WS_OP_PONG, "q", 1);
    ws_test_client_frame(in, 1, WS_OP_CONT, "ment", 4);
    ws_test_client_close(in, 1001, "ok", 2);
    r = ws_test_run_buf(in, &opts);
    ck_assert_int_eq(r->rv, APR_EOF);
    ck_assert_int_eq(r->state, WS_STATE_CLOSED);
    ck_assert_int_eq(r->close_code, 1001);
    ck_assert_str_eq(r->close_reason, "ok");
    ck_assert_int_eq(r->peer_closed_first, 0);
    ck_assert_int_eq(r->msgs->nelts, 0);
    ck_assert_int_eq(r->pongs->nelts, 1);
    ws_test_server_close(expect, 1001, "shutting down");
    ws_test_assert_sent(r, expect);
    ck_assert_int_eq(r->nsent, 1);
}
END_TEST

/* While CLOSING, violations still fail the session, but our close frame
 * was already sent, so nothing more goes out. */
START_TEST(test_ws_session_closing_still_validates)
{
    ws_test_buf_t *in, *expect;
    ws_test_opts_t opts;
    ws_test_result_t *r;

    memset(&opts, 0, sizeof(opts));
    opts.close_first = WEBSOCKET_CLOSE_NORMAL;
    expect = ws_test_buf_make();
    ws_test_server_close(expect, WEBSOCKET_CLOSE_NORMAL, NULL);

    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_TEXT, "bad \xff", 5);
    r = ws_test_run_buf(in, &opts);
    ck_assert_int_eq(r->rv, WS_EBADUTF8);
    ck_assert_int_eq(r->state, WS_STATE_CLOSED);
    ck_assert_int_eq(r->close_code, WEBSOCKET_CLOSE_BAD_DATA);
    ck_assert_uint_eq(r->fail_at, in->len - 1);
    ws_test_assert_sent(r, expect);

    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, 0, WS_OP_TEXT, "x", 1, NULL, 0);
    r = ws_test_run_buf(in, &opts);
    ck_assert_int_eq(r->rv, WS_EPROTO);
    ck_assert_int_eq(r->close_code, WEBSOCKET_CLOSE_PROTOCOL);
    ws_test_assert_sent(r, expect);
}
END_TEST

/* ---- ping / pong ---- */

START_TEST(test_ws_session_ping_pong_payload)
{
    static const apr_size_t lens[] = { 0, 1, 2, 3, 4, 5, 64, 124, 125 };
    ws_test_rand_t rnd;
    apr_size_t i;

    ws_test_rand_seed(&rnd, 77);
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); ++i) {
        char payload[WS_MAX_CTRL_PAYLOAD];
        ws_test_buf_t *in = ws_test_buf_make();
        ws_test_buf_t *expect = ws_test_buf_make();
        ws_test_result_t *r;
        const ws_test_msg_t *pong;

        ws_test_rand_fill(&rnd, payload, lens[i]);
        ws_test_client_frame(in, 1, WS_OP_PING, payload, lens[i]);
        ws_test_client_frame(in, 1, WS_OP_PONG, payload, lens[i]);
        r = run(in);
        ws_test_server_frame(expect, WS_OP_PONG, payload, lens[i]);
        ws_test_assert_sent(r, expect);
        ck_assert_int_eq(r->nsent, 1);
        ck_assert_int_eq(r->pongs->nelts, 1);
        pong = &APR_ARRAY_IDX(r->pongs, 0, ws_test_msg_t);
        ck_assert_uint_eq(pong->len, lens[i]);
        ck_assert_mem_eq(pong->data, payload, lens[i]);
    }
}
END_TEST

START_TEST(test_ws_session_pong_without_callback)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_opts_t opts;
    ws_test_result_t *r;

    memset(&opts, 0, sizeof(opts));
    opts.no_pong_cb = 1;
    ws_test_client_frame(in, 1, WS_OP_PONG, "x", 1);
    ws_test_client_frame(in, 1, WS_OP_TEXT, "y", 1);
    r = ws_test_run_buf(in, &opts);
    assert_quiet_open(r);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, "y", 1);
}
END_TEST

/* ---- limits (1009) ---- */

START_TEST(test_ws_session_limit_frame)
{
    char payload[101];
    ws_test_buf_t *in;
    ws_test_result_t *r;

    memset(payload, 'f', sizeof(payload));
    /* Exactly the limit is fine. */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_BINARY, payload, 100);
    r = run_limits(in, 0, 100);
    assert_quiet_open(r);
    ws_test_assert_msg(r, 0, WS_OP_BINARY, payload, 100);

    /* One more fails as soon as the header is parsed. */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_BINARY, payload, 101);
    r = run_limits(in, 0, 100);
    ws_test_assert_failed(r, WS_ETOOBIG, WEBSOCKET_CLOSE_TOO_BIG, 1);
    ck_assert_uint_eq(r->fail_at, chdr_len(101) - 1);
    ck_assert_int_eq(r->msgs->nelts, 0);

    /* A fragment over the frame limit, within the message limit. */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 0, WS_OP_TEXT, payload, 100);
    ws_test_client_frame(in, 1, WS_OP_CONT, payload, 101);
    r = run_limits(in, 1000, 100);
    ws_test_assert_failed(r, WS_ETOOBIG, WEBSOCKET_CLOSE_TOO_BIG, 1);
    ck_assert_uint_eq(r->fail_at, chdr_len(100) + 100 + chdr_len(101) - 1);

    /* Control frames count too. */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_PING, payload, 11);
    r = run_limits(in, 0, 10);
    ws_test_assert_failed(r, WS_ETOOBIG, WEBSOCKET_CLOSE_TOO_BIG, 1);
}
END_TEST

START_TEST(test_ws_session_limit_message)
{
    char payload[101];
    ws_test_buf_t *in;
    ws_test_result_t *r;
    static const unsigned char huge[] = {
        0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x37, 0xfa, 0x21, 0x3d
    };

    memset(payload, 'm', sizeof(payload));
    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_TEXT, payload, 100);
    ws_test_client_frame(in, 0, WS_OP_BINARY, payload, 50);
    ws_test_client_frame(in, 1, WS_OP_PING, "", 0);
    ws_test_client_frame(in, 0, WS_OP_CONT, payload, 0);
    ws_test_client_frame(in, 1, WS_OP_CONT, payload, 50);
    r = run_limits(in, 100, 0);
    ck_assert_int_eq(r->rv, APR_SUCCESS);
    ck_assert_int_eq(r->msgs->nelts, 2);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, payload, 100);
    ws_test_assert_msg(r, 1, WS_OP_BINARY, payload, 100);

    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_TEXT, payload, 101);
    r = run_limits(in, 100, 0);
    ws_test_assert_failed(r, WS_ETOOBIG, WEBSOCKET_CLOSE_TOO_BIG, 1);
    ck_assert_uint_eq(r->fail_at, chdr_len(101) - 1);

    /* The fragment that would pass the limit fails at its header. */
    in = ws_test_buf_make();
    ws_test_client_frame(in, 0, WS_OP_BINARY, payload, 50);
    ws_test_client_frame(in, 1, WS_OP_CONT, payload, 51);
    r = run_limits(in, 100, 0);
    ws_test_assert_failed(r, WS_ETOOBIG, WEBSOCKET_CLOSE_TOO_BIG, 1);
    ck_assert_uint_eq(r->fail_at, chdr_len(50) + 50 + chdr_len(51) - 1);

    /* A header announcing 2^62 bytes fails at once, nothing allocated. */
    in = ws_test_buf_make();
    ws_test_buf_add(in, huge, sizeof(huge));
    r = run_limits(in, 1024 * 1024, 0);
    ws_test_assert_failed(r, WS_ETOOBIG, WEBSOCKET_CLOSE_TOO_BIG, 1);
    ck_assert_uint_eq(r->fail_at, sizeof(huge) - 1);
}
END_TEST

START_TEST(test_ws_session_limit_zero_is_unlimited)
{
    apr_size_t len = 200000;
    char *payload = apr_palloc(ws_test_pool, len);
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    memset(payload, 'u', len);
    ws_test_client_frame(in, 0, WS_OP_BINARY, payload, len / 2);
    ws_test_client_frame(in, 1, WS_OP_CONT, payload, len / 2);
    r = run_limits(in, 0, 0);
    assert_quiet_open(r);
    ws_test_assert_msg(r, 0, WS_OP_BINARY, payload, len);
}
END_TEST

/* ---- the sending side ---- */

typedef struct send_rec_t {
    ws_test_buf_t *out;
    const char *last_payload;
    int calls;
    apr_status_t fail_with;     /* returned by on_send */
    apr_status_t msg_rv;        /* returned by on_message */
    ws_session_t *session;
    int close_in_msg;           /* on_message calls ws_session_close() */
    int msgs;
} send_rec_t;

static apr_status_t rec_on_send(void *baton, const char *hdr,
                                apr_size_t hlen, const char *payload,
                                apr_size_t plen)
{
    send_rec_t *rec = baton;

    ws_test_buf_add(rec->out, hdr, hlen);
    ws_test_buf_add(rec->out, payload, plen);
    rec->last_payload = payload;
    rec->calls++;
    return rec->fail_with;
}

static apr_status_t rec_on_message(void *baton, ws_opcode_e op,
                                   const char *data, apr_size_t len)
{
    send_rec_t *rec = baton;

    (void)op;
    (void)data;
    (void)len;
    rec->msgs++;
    if (rec->close_in_msg) {
        ck_assert_int_eq(ws_session_close(rec->session, WEBSOCKET_CLOSE_NORMAL,
                                          "done"), APR_SUCCESS);
        ck_assert_int_eq(ws_session_state(rec->session), WS_STATE_CLOSING);
    }
    return rec->msg_rv;
}

static const ws_session_callbacks_t rec_cb = {
    rec_on_message, NULL, rec_on_send
};

static ws_session_t *rec_session(send_rec_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->out = ws_test_buf_make();
    ck_assert_int_eq(ws_session_create(&rec->session, ws_test_pool, NULL,
                                       &rec_cb, rec), APR_SUCCESS);
    return rec->session;
}

/* on_frame sees every header as it arrived, the failing one too. */
typedef struct {
    ws_frame_hdr_t hdr[4];
    int n;
} frame_rec_t;

static void frec_on_frame(void *baton, const ws_frame_hdr_t *hdr)
{
    frame_rec_t *rec = baton;

    ck_assert_int_lt(rec->n, 4);
    rec->hdr[rec->n++] = *hdr;
}

static apr_status_t frec_on_message(void *baton, ws_opcode_e op,
                                    const char *data, apr_size_t len)
{
    return APR_SUCCESS;
}

static apr_status_t frec_on_send(void *baton, const char *hdr,
                                 apr_size_t hlen, const char *payload,
                                 apr_size_t plen)
{
    return APR_SUCCESS;
}

static const ws_session_callbacks_t frec_cb = {
    frec_on_message, NULL, frec_on_send, frec_on_frame
};

START_TEST(test_ws_session_on_frame)
{
    frame_rec_t rec = { { { 0 } }, 0 };
    ws_test_buf_t *in = ws_test_buf_make();
    ws_session_t *s;

    ck_assert_int_eq(ws_session_create(&s, ws_test_pool, NULL, &frec_cb,
                                       &rec), APR_SUCCESS);
    ws_test_client_frame(in, 0, WS_OP_TEXT, "ab", 2);
    ws_test_client_frame(in, 1, WS_OP_CONT, "cd", 2);
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_BINARY, "x", 1,
                            ws_test_key, 0);
    ck_assert_int_eq(ws_session_feed(s, (const char *)in->data, in->len),
                     WS_EPROTO);
    ck_assert_int_eq(rec.n, 3);
    ck_assert_uint_eq(rec.hdr[0].opcode, WS_OP_TEXT);
    ck_assert_int_eq(rec.hdr[0].fin, 0);
    ck_assert_int_eq(rec.hdr[0].masked, 1);
    ck_assert_uint_eq(rec.hdr[0].payload_len, 2);
    ck_assert_uint_eq(rec.hdr[1].opcode, WS_OP_CONT);
    ck_assert_int_eq(rec.hdr[1].fin, 1);
    ck_assert_uint_eq(rec.hdr[2].opcode, WS_OP_BINARY);
    ck_assert_uint_eq(rec.hdr[2].rsv, WS_FRAME_RSV1);
}
END_TEST

/* One on_send call per frame; the payload is passed, not copied. */
START_TEST(test_ws_session_send_frames)
{
    static const apr_size_t lens[] = { 0, 5, 125, 126, 65535, 65536 };
    send_rec_t rec;
    ws_session_t *s = rec_session(&rec);
    apr_size_t i;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); ++i) {
        char *payload = apr_pcalloc(ws_test_pool, lens[i] + 1);
        ws_test_buf_t *expect = ws_test_buf_make();

        rec.out = ws_test_buf_make();
        rec.calls = 0;
        ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, payload, lens[i]),
                         APR_SUCCESS);
        ck_assert_int_eq(rec.calls, 1);
        ck_assert_ptr_eq(rec.last_payload, payload);
        ws_test_server_frame(expect, WS_OP_BINARY, payload, lens[i]);
        ck_assert_uint_eq(rec.out->len, expect->len);
        ck_assert_mem_eq(rec.out->data, expect->data, expect->len);
    }
    /* RFC 6455 §5.7 unmasked "Hello" is what a server sends. */
    rec.out = ws_test_buf_make();
    ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, "Hello", 5),
                     APR_SUCCESS);
    ck_assert_mem_eq(rec.out->data, "\x81\x05Hello", 7);
    ck_assert_uint_eq(rec.out->len, 7);

    rec.calls = 0;
    ck_assert_int_eq(ws_session_send(s, WS_OP_PING, "x", 1), APR_EINVAL);
    ck_assert_int_eq(ws_session_send(s, WS_OP_CLOSE, "x", 1), APR_EINVAL);
    ck_assert_int_eq(ws_session_send(s, WS_OP_CONT, "x", 1), APR_EINVAL);
    ck_assert_int_eq(ws_session_send(s, WS_OP_PONG, "x", 1), APR_EINVAL);
    ck_assert_int_eq(rec.calls, 0);
}
END_TEST

START_TEST(test_ws_session_ping_api)
{
    char payload[WS_MAX_CTRL_PAYLOAD + 1];
    send_rec_t rec;
    ws_session_t *s = rec_session(&rec);
    ws_test_buf_t *expect = ws_test_buf_make();

    memset(payload, 'p', sizeof(payload));
    ck_assert_int_eq(ws_session_ping(s, payload, 125), APR_SUCCESS);
    ck_assert_ptr_eq(rec.last_payload, payload);
    ck_assert_int_eq(ws_session_ping(s, payload, 126), APR_EINVAL);
    ck_assert_int_eq(ws_session_ping(s, NULL, 0), APR_SUCCESS);
    ws_test_server_frame(expect, WS_OP_PING, payload, 125);
    ws_test_server_frame(expect, WS_OP_PING, "", 0);
    ck_assert_uint_eq(rec.out->len, expect->len);
    ck_assert_mem_eq(rec.out->data, expect->data, expect->len);
}
END_TEST

START_TEST(test_ws_session_close_api)
{
    send_rec_t rec;
    ws_session_t *s;
    ws_test_buf_t *expect;

    s = rec_session(&rec);
    ck_assert_int_eq(ws_session_close(s, 999, "bad"), APR_EINVAL);
    ck_assert_int_eq(ws_session_close(s, 1006, NULL), APR_EINVAL);
    ck_assert_int_eq(ws_session_state(s), WS_STATE_OPEN);
    ck_assert_int_eq(rec.calls, 0);
    ck_assert_int_eq(ws_session_close(s, 1000, "bye"), APR_SUCCESS);
    ck_assert_int_eq(ws_session_state(s), WS_STATE_CLOSING);
    ck_assert_uint_eq(rec.out->len, 7);
    ck_assert_mem_eq(rec.out->data, "\x88\x05\x03\xe8" "bye", 7);
    ck_assert_int_eq(ws_session_close(s, 1000, "again"), WS_ECLOSED);
    ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, "x", 1), WS_ECLOSED);
    ck_assert_int_eq(ws_session_ping(s, "x", 1), WS_ECLOSED);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_int_eq(ws_session_close_code(s), 0);
    ck_assert_int_eq(ws_session_peer_closed_first(s), 0);

    /* Code 0 (and 1005, "no code") send an empty close. */
    s = rec_session(&rec);
    ck_assert_int_eq(ws_session_close(s, 0, "ignored"), APR_SUCCESS);
    ck_assert_uint_eq(rec.out->len, 2);
    ck_assert_mem_eq(rec.out->data, "\x88\x00", 2);
    s = rec_session(&rec);
    ck_assert_int_eq(ws_session_close(s, WEBSOCKET_CLOSE_NO_STATUS, NULL),
                     APR_SUCCESS);
    ck_assert_mem_eq(rec.out->data, "\x88\x00", 2);

    /* A long reason is cut to 123 bytes at a character boundary. */
    {
        char reason[400];
        apr_size_t i;

        reason[0] = 'a';
        for (i = 1; i + 3 < sizeof(reason); i += 3) {
            memcpy(reason + i, "\xe2\x82\xac", 3);
        }
        reason[i] = '\0';
        s = rec_session(&rec);
        ck_assert_int_eq(ws_session_close(s, 4000, reason), APR_SUCCESS);
        /* 1 + 40 * 3 = 121 bytes fit, a 41st euro would make 124. */
        expect = ws_test_buf_make();
        reason[121] = '\0';
        ws_test_server_close(expect, 4000, reason);
        ck_assert_uint_eq(rec.out->len, 2 + 2 + 121);
        ck_assert_mem_eq(rec.out->data, expect->data, expect->len);
        ck_assert(ws_test_utf8_ref((unsigned char *)rec.out->data + 4, 121));

        memset(reason, 'r', sizeof(reason));
        reason[sizeof(reason) - 1] = '\0';
        s = rec_session(&rec);
        ck_assert_int_eq(ws_session_close(s, 4000, reason), APR_SUCCESS);
        ck_assert_uint_eq(rec.out->len, 2 + WS_MAX_CTRL_PAYLOAD);
    }
}
END_TEST

/* A status from on_message stops the feed and is returned. */
START_TEST(test_ws_session_callback_status)
{
    send_rec_t rec;
    ws_session_t *s = rec_session(&rec);
    ws_test_buf_t *in = ws_test_buf_make();

    rec.msg_rv = APR_EGENERAL;
    ws_test_client_frame(in, 1, WS_OP_TEXT, "a", 1);
    ws_test_client_frame(in, 1, WS_OP_TEXT, "b", 1);
    ck_assert_int_eq(ws_session_feed(s, in->data, in->len), APR_EGENERAL);
    ck_assert_int_eq(rec.msgs, 1);
    ck_assert_int_eq(ws_session_state(s), WS_STATE_OPEN);

    /* A failing on_send is returned by the feed that answered a ping. */
    s = rec_session(&rec);
    rec.fail_with = APR_ENOSPC;
    in = ws_test_buf_make();
    ws_test_client_frame(in, 1, WS_OP_PING, "a", 1);
    ck_assert_int_eq(ws_session_feed(s, in->data, in->len), APR_ENOSPC);
    ck_assert_int_eq(rec.calls, 1);
}
END_TEST

/* on_message may start the closing handshake; later data is dropped and
 * the peer's close then ends the session without a reply. */
START_TEST(test_ws_session_close_from_callback)
{
    send_rec_t rec;
    ws_session_t *s = rec_session(&rec);
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_buf_t *expect = ws_test_buf_make();

    rec.close_in_msg = 1;
    ws_test_client_frame(in, 1, WS_OP_TEXT, "first", 5);
    ws_test_client_frame(in, 1, WS_OP_TEXT, "second", 6);
    ws_test_client_frame(in, 1, WS_OP_PING, "", 0);
    ws_test_client_close(in, 1000, "", 0);
    ck_assert_int_eq(ws_session_feed(s, in->data, in->len), APR_EOF);
    ck_assert_int_eq(rec.msgs, 1);
    ck_assert_int_eq(ws_session_state(s), WS_STATE_CLOSED);
    ck_assert_int_eq(ws_session_close_code(s), 1000);
    ck_assert_int_eq(ws_session_peer_closed_first(s), 0);
    ws_test_server_close(expect, 1000, "done");
    ck_assert_uint_eq(rec.out->len, expect->len);
    ck_assert_mem_eq(rec.out->data, expect->data, expect->len);
    ck_assert_int_eq(ws_session_feed(s, "x", 1), APR_EOF);
}
END_TEST

/* Message memory is given back after each message: equal messages reuse
 * the same buffer instead of growing the pool. */
typedef struct ptr_rec_t {
    const char *ptrs[4];
    int nptrs;
    int msgs;
} ptr_rec_t;

static apr_status_t ptr_on_message(void *baton, ws_opcode_e op,
                                   const char *data, apr_size_t len)
{
    ptr_rec_t *rec = baton;
    int i;

    (void)op;
    (void)len;
    rec->msgs++;
    for (i = 0; i < rec->nptrs; ++i) {
        if (rec->ptrs[i] == data) {
            return APR_SUCCESS;
        }
    }
    ck_assert_int_lt(rec->nptrs, 4);
    rec->ptrs[rec->nptrs++] = data;
    return APR_SUCCESS;
}

static apr_status_t null_on_send(void *baton, const char *hdr,
                                 apr_size_t hlen, const char *payload,
                                 apr_size_t plen)
{
    (void)baton;
    (void)hdr;
    (void)hlen;
    (void)payload;
    (void)plen;
    return APR_SUCCESS;
}

START_TEST(test_ws_session_message_memory_reused)
{
    static const ws_session_callbacks_t cb = {
        ptr_on_message, NULL, null_on_send
    };
    static const apr_size_t sizes[] = { 100, 20000 };
    apr_size_t k;

    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); ++k) {
        char *payload = apr_pcalloc(ws_test_pool, sizes[k]);
        ws_test_buf_t *single = ws_test_buf_make();
        ws_test_buf_t *frag = ws_test_buf_make();
        ws_session_t *s;
        ptr_rec_t rec;
        int i;

        memset(&rec, 0, sizeof(rec));
        ck_assert_int_eq(ws_session_create(&s, ws_test_pool, NULL, &cb,
                                           &rec), APR_SUCCESS);
        ws_test_client_frame(single, 1, WS_OP_BINARY, payload, sizes[k]);
        ws_test_client_frame(frag, 0, WS_OP_BINARY, payload, sizes[k] / 2);
        ws_test_client_frame(frag, 1, WS_OP_CONT, payload, sizes[k] / 2);
        for (i = 0; i < 500; ++i) {
            ck_assert_int_eq(ws_session_feed(s, single->data, single->len),
                             APR_SUCCESS);
            ck_assert_int_eq(ws_session_feed(s, frag->data, frag->len),
                             APR_SUCCESS);
        }
        ck_assert_int_eq(rec.msgs, 1000);
        /* A growing pool would give 1000 different addresses. */
        ck_assert_int_le(rec.nptrs, 2);
    }
}
END_TEST

/* The process's address space in KiB (VmSize), or 0 if unknown. */
static long vm_size_kib(void)
{
    char line[256];
    long kib = 0;
    FILE *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "VmSize:", 7)) {
            kib = atol(line + 7);
        }
    }
    if (f) {
        fclose(f);
    }
    return kib;
}

typedef struct {
    int msgs;
    apr_size_t len;
    unsigned long sum;
} sum_rec_t;

static apr_status_t sum_on_message(void *baton, ws_opcode_e op,
                                   const char *data, apr_size_t len)
{
    sum_rec_t *rec = baton;
    apr_size_t i;

    (void)op;
    rec->msgs++;
    rec->len = len;
    for (i = 0; i < len; ++i) {
        rec->sum = rec->sum * 31 + (unsigned char)data[i];
    }
    return APR_SUCCESS;
}

/* A frame's header alone must not cost the length it announces: 50
 * headers of 16 MiB would otherwise take 800 MiB. The payload, when it
 * comes, is still delivered whole and intact. */
START_TEST(test_ws_session_long_frame_reserved_as_it_arrives)
{
    static const ws_session_callbacks_t cb = {
        sum_on_message, NULL, null_on_send
    };
    enum { N = 50, LEN = 16 * 1024 * 1024 };
    ws_limits_t limits = { LEN, LEN };
    ws_session_t *s[N];
    sum_rec_t rec, want;
    ws_test_buf_t *frame = ws_test_buf_make();
    char *payload = malloc(LEN);
    apr_size_t i, off, hlen;
    long before, after;
    int k;

    ck_assert_ptr_nonnull(payload);
    for (i = 0; i < LEN; ++i) {
        payload[i] = (char)(i * 7 + (i >> 12));
    }
    ws_test_client_frame(frame, 1, WS_OP_BINARY, payload, LEN);
    hlen = frame->len - LEN;
    memset(&rec, 0, sizeof(rec));
    before = vm_size_kib();
    for (k = 0; k < N; ++k) {
        ck_assert_int_eq(ws_session_create(&s[k], ws_test_pool, &limits, &cb,
                                           &rec), APR_SUCCESS);
        ck_assert_int_eq(ws_session_feed(s[k], frame->data, hlen),
                         APR_SUCCESS);
    }
    after = vm_size_kib();
    ck_assert_int_gt(before, 0);
    ck_assert_int_lt(after - before, 64 * 1024);

    /* The rest of one of them, in uneven pieces. */
    for (off = hlen; off < frame->len; off += i) {
        i = frame->len - off < 100003 ? frame->len - off : 100003;
        ck_assert_int_eq(ws_session_feed(s[0], frame->data + off, i),
                         APR_SUCCESS);
    }
    memset(&want, 0, sizeof(want));
    sum_on_message(&want, WS_OP_BINARY, payload, LEN);
    ck_assert_int_eq(rec.msgs, 1);
    ck_assert_uint_eq(rec.len, LEN);
    ck_assert_uint_eq(rec.sum, want.sum);
    ck_assert_uint_eq(ws_session_decoded(s[0]), LEN);
    free(payload);
}
END_TEST

START_TEST(test_ws_session_create_args)
{
    static const ws_session_callbacks_t no_send = {
        rec_on_message, NULL, NULL
    };
    static const ws_session_callbacks_t no_msg = {
        NULL, NULL, rec_on_send
    };
    ws_session_t *s = (ws_session_t *)&s;

    ck_assert_int_eq(ws_session_create(&s, ws_test_pool, NULL, &no_send,
                                       NULL), APR_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(ws_session_create(&s, ws_test_pool, NULL, &no_msg,
                                       NULL), APR_EINVAL);
    ck_assert_int_eq(ws_session_create(&s, ws_test_pool, NULL, NULL, NULL),
                     APR_EINVAL);
}
END_TEST

/* ---- permessage-deflate (RFC 7692) ---- */

/* The 4 bytes a Z_SYNC_FLUSH ends with, which RFC 7692 §7.2.1 strips. */
static const char pmd_tail[4] = { 0x00, 0x00, (char)0xff, (char)0xff };

static ws_deflate_params_t *pmd_params(int snct, int cnct)
{
    ws_deflate_params_t *dp = apr_pcalloc(ws_test_pool, sizeof(*dp));

    dp->server_no_context_takeover = snct;
    dp->client_no_context_takeover = cnct;
    dp->server_max_window_bits = 15;
    dp->client_max_window_bits = 15;
    return dp;
}

static ws_test_result_t *run_pmd(const ws_test_buf_t *in,
                                 const ws_deflate_params_t *dp,
                                 apr_uint64_t max_message)
{
    ws_limits_t *lim = apr_pcalloc(ws_test_pool, sizeof(*lim));
    ws_test_opts_t opts;

    lim->max_message = max_message;
    memset(&opts, 0, sizeof(opts));
    opts.limits = lim;
    opts.deflate = dp;
    return ws_test_run_buf(in, &opts);
}

/* What a client does (RFC 7692 §7.2.1): deflate, sync flush, strip the
 * tail. @a z keeps its context across calls unless reset by the caller. */
static ws_test_buf_t *pmd_compress(z_stream *z, const void *data,
                                   apr_size_t len)
{
    ws_test_buf_t *out = ws_test_buf_make();
    unsigned char buf[4096];

    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)len;
    do {
        z->next_out = buf;
        z->avail_out = sizeof(buf);
        ck_assert_int_ne(deflate(z, Z_SYNC_FLUSH), Z_STREAM_ERROR);
        ws_test_buf_add(out, buf, sizeof(buf) - z->avail_out);
    } while (z->avail_out == 0);
    ck_assert_uint_ge(out->len, 4);
    ck_assert_mem_eq(out->data + out->len - 4, pmd_tail, 4);
    out->len -= 4;
    return out;
}

static void pmd_deflater(z_stream *z, int wbits)
{
    memset(z, 0, sizeof(*z));
    ck_assert_int_eq(deflateInit2(z, Z_BEST_COMPRESSION, Z_DEFLATED, -wbits,
                                  8, Z_DEFAULT_STRATEGY), Z_OK);
}

/* Inflate one message's payload (tail appended) with @a z. */
static ws_test_buf_t *pmd_inflate(z_stream *z, const char *data,
                                  apr_size_t len)
{
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_buf_t *out = ws_test_buf_make();
    unsigned char buf[4096];
    int zrv;

    ws_test_buf_add(in, data, len);
    ws_test_buf_add(in, pmd_tail, 4);
    z->next_in = (Bytef *)in->data;
    z->avail_in = (uInt)in->len;
    do {
        z->next_out = buf;
        z->avail_out = sizeof(buf);
        zrv = inflate(z, Z_SYNC_FLUSH);
        ck_assert_msg(zrv == Z_OK || zrv == Z_BUF_ERROR, "inflate: %d", zrv);
        ws_test_buf_add(out, buf, sizeof(buf) - z->avail_out);
    } while (z->avail_out == 0);
    ck_assert_uint_eq(z->avail_in, 0);
    return out;
}

/* RFC 7692 §7.2.3.1: "Hello" compressed, one frame and two fragments
 * (RSV1 on the first only); §7.2.3.3: the same in a stored block. */
START_TEST(test_ws_session_pmd_rfc7692_hello)
{
    static const char hello[] = {
        (char)0xf2, 0x48, (char)0xcd, (char)0xc9, (char)0xc9, 0x07, 0x00
    };
    static const char stored[] = {
        0x00, 0x05, 0x00, (char)0xfa, (char)0xff, 0x48, 0x65, 0x6c, 0x6c,
        0x6f, 0x00
    };
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, hello,
                            sizeof(hello), ws_test_key, 0);
    ws_test_client_frame_ex(in, 0, WS_FRAME_RSV1, WS_OP_TEXT, hello, 3,
                            ws_test_key, 0);
    ws_test_client_frame(in, 1, WS_OP_PING, "p", 1);
    ws_test_client_frame(in, 1, WS_OP_CONT, hello + 3, 4);
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_BINARY, stored,
                            sizeof(stored), ws_test_key, 0);
    /* An uncompressed message in between is left alone (§6). */
    ws_test_client_frame(in, 1, WS_OP_TEXT, "plain", 5);
    r = run_pmd(in, pmd_params(0, 1), 0);
    ck_assert_int_eq(r->rv, APR_SUCCESS);
    ck_assert_int_eq(r->msgs->nelts, 4);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, "Hello", 5);
    ws_test_assert_msg(r, 1, WS_OP_TEXT, "Hello", 5);
    ws_test_assert_msg(r, 2, WS_OP_BINARY, "Hello", 5);
    ws_test_assert_msg(r, 3, WS_OP_TEXT, "plain", 5);
}
END_TEST

/* RFC 7692 §7.2.3.2: the second "Hello" refers back into the first. */
START_TEST(test_ws_session_pmd_rfc7692_context_takeover)
{
    static const char first[] = {
        (char)0xf2, 0x48, (char)0xcd, (char)0xc9, (char)0xc9, 0x07, 0x00
    };
    static const char second[] = {
        (char)0xf2, 0x00, 0x11, 0x00, 0x01, 0x00
    };
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, first,
                            sizeof(first), ws_test_key, 0);
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, second,
                            sizeof(second), ws_test_key, 0);
    r = run_pmd(in, pmd_params(0, 0), 0);
    assert_quiet_open(r);
    ck_assert_int_eq(r->msgs->nelts, 2);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, "Hello", 5);
    ws_test_assert_msg(r, 1, WS_OP_TEXT, "Hello", 5);

    /* With client_no_context_takeover the back reference is invalid. */
    r = run_pmd(in, pmd_params(0, 1), 0);
    ck_assert_int_eq(r->msgs->nelts, 1);
    ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
}
END_TEST

/* RFC 7692 §7.2.3.4: a BFINAL block and a 0x00; the context survives it.
 * §7.2.3.6: an empty message is a single 0x00. */
START_TEST(test_ws_session_pmd_rfc7692_bfinal_and_empty)
{
    static const char bfinal[] = {
        (char)0xf3, 0x48, (char)0xcd, (char)0xc9, (char)0xc9, 0x07, 0x00,
        0x00
    };
    static const char second[] = {
        (char)0xf2, 0x00, 0x11, 0x00, 0x01, 0x00
    };
    static const char empty[] = { 0x00 };
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, bfinal,
                            sizeof(bfinal), ws_test_key, 0);
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, second,
                            sizeof(second), ws_test_key, 0);
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, bfinal, 7,
                            ws_test_key, 0);
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, empty,
                            sizeof(empty), ws_test_key, 0);
    /* An empty payload too, and the context is still intact after it. */
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_BINARY, "", 0,
                            ws_test_key, 0);
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, second,
                            sizeof(second), ws_test_key, 0);
    r = run_pmd(in, pmd_params(0, 0), 0);
    assert_quiet_open(r);
    ck_assert_int_eq(r->msgs->nelts, 6);
    ws_test_assert_msg(r, 5, WS_OP_TEXT, "Hello", 5);
    ws_test_assert_msg(r, 0, WS_OP_TEXT, "Hello", 5);
    ws_test_assert_msg(r, 1, WS_OP_TEXT, "Hello", 5);
    ws_test_assert_msg(r, 2, WS_OP_TEXT, "Hello", 5);
    ws_test_assert_msg(r, 3, WS_OP_TEXT, "", 0);
    ws_test_assert_msg(r, 4, WS_OP_BINARY, "", 0);

    /* More than the one 0x00 after the final block is a second stream. */
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 0, WS_FRAME_RSV1, WS_OP_TEXT, bfinal,
                            sizeof(bfinal), ws_test_key, 0);
    ws_test_client_frame(in, 1, WS_OP_CONT, empty, 1);
    r = run_pmd(in, pmd_params(0, 0), 0);
    ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
}
END_TEST

/* Messages a real compressor made, whole and fragmented, with and without
 * context takeover, text and binary, up to 1 MiB. */
START_TEST(test_ws_session_pmd_zlib_messages)
{
    static const apr_size_t lens[] = { 0, 1, 100, 5000, 70000, 1 << 20 };
    int cnct;

    for (cnct = 0; cnct <= 1; ++cnct) {
        ws_test_buf_t *in = ws_test_buf_make();
        ws_test_buf_t **msgs;
        ws_test_rand_t rnd;
        ws_test_result_t *r;
        z_stream z;
        apr_size_t i, n = sizeof(lens) / sizeof(lens[0]);

        msgs = apr_pcalloc(ws_test_pool, 2 * n * sizeof(*msgs));
        ws_test_rand_seed(&rnd, 7692 + cnct);
        pmd_deflater(&z, 15);
        for (i = 0; i < 2 * n; ++i) {
            apr_size_t len = lens[i % n], j;
            char *text = apr_palloc(ws_test_pool, len + 1);
            ws_test_buf_t *c;

            /* Repetitive ASCII text, so that later messages refer back. */
            for (j = 0; j < len; ++j) {
                text[j] = "abcdefgh \n"[ws_test_rand_next(&rnd) % 10];
            }
            msgs[i] = ws_test_buf_make();
            ws_test_buf_add(msgs[i], text, len);
            if (len) {
                c = pmd_compress(&z, text, len);
            }
            else {
                /* RFC 7692 §7.2.3.6: zlib makes nothing of an empty
                 * flush, so send what the RFC shows, one 0x00. */
                c = ws_test_buf_make();
                ws_test_buf_add_byte(c, 0x00);
            }
            if (cnct) {
                deflateReset(&z);
            }
            if (i % 2 == 0 || c->len < 3) {
                ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1,
                                        i < n ? WS_OP_TEXT : WS_OP_BINARY,
                                        c->data, c->len, ws_test_key, 0);
            }
            else {
                apr_size_t a = c->len / 3;

                ws_test_client_frame_ex(in, 0, WS_FRAME_RSV1,
                                        i < n ? WS_OP_TEXT : WS_OP_BINARY,
                                        c->data, a, ws_test_key, 0);
                ws_test_client_frame(in, 0, WS_OP_CONT, "", 0);
                ws_test_client_frame(in, 1, WS_OP_PONG, "x", 1);
                ws_test_client_frame(in, 1, WS_OP_CONT, c->data + a,
                                     c->len - a);
            }
        }
        deflateEnd(&z);
        r = run_pmd(in, pmd_params(0, cnct), 0);
        assert_quiet_open(r);
        ck_assert_int_eq(r->msgs->nelts, (int)(2 * n));
        for (i = 0; i < 2 * n; ++i) {
            ws_test_assert_msg(r, (int)i, i < n ? WS_OP_TEXT : WS_OP_BINARY,
                               msgs[i]->data, msgs[i]->len);
        }
    }
}
END_TEST

/* RFC 7692 §6.1: RSV1 only on a data message's first frame, and only
 * when negotiated; RSV2/RSV3 stay reserved. */
START_TEST(test_ws_session_pmd_rsv_rules)
{
    static const char hello[] = {
        (char)0xf2, 0x48, (char)0xcd, (char)0xc9, (char)0xc9, 0x07, 0x00
    };
    static const unsigned int ctrl[] = {
        WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE
    };
    ws_test_buf_t *in;
    ws_test_result_t *r;
    apr_size_t i;

    /* On a continuation frame. */
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 0, WS_FRAME_RSV1, WS_OP_TEXT, hello, 3,
                            ws_test_key, 0);
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_CONT, hello + 3, 4,
                            ws_test_key, 0);
    r = run_pmd(in, pmd_params(0, 0), 0);
    ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
    ck_assert_str_eq(r->close_reason, "RSV1 set on a continuation frame");
    ck_assert_uint_eq(r->fail_at, 9 + 6 - 1);

    /* On control frames, even between fragments. */
    for (i = 0; i < sizeof(ctrl) / sizeof(ctrl[0]); ++i) {
        in = ws_test_buf_make();
        ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, ctrl[i], "", 0,
                                ws_test_key, 0);
        r = run_pmd(in, pmd_params(0, 0), 0);
        ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
        ck_assert_str_eq(r->close_reason, "compressed control frame");
        ck_assert_uint_eq(r->fail_at, 5);
    }
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 0, WS_FRAME_RSV1, WS_OP_TEXT, hello, 3,
                            ws_test_key, 0);
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_PING, "", 0,
                            ws_test_key, 0);
    r = run_pmd(in, pmd_params(0, 0), 0);
    ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);

    /* RSV2 and RSV3 with deflate on. */
    for (i = 0; i < 2; ++i) {
        in = ws_test_buf_make();
        ws_test_client_frame_ex(in, 1,
                                i ? WS_FRAME_RSV3 : WS_FRAME_RSV1
                                                    | WS_FRAME_RSV2,
                                WS_OP_TEXT, hello, sizeof(hello),
                                ws_test_key, 0);
        r = run_pmd(in, pmd_params(0, 0), 0);
        ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
        ck_assert_str_eq(r->close_reason, "reserved bit set");
    }

    /* RSV1 without negotiation. */
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, hello,
                            sizeof(hello), ws_test_key, 0);
    r = run(in);
    ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
    ck_assert_str_eq(r->close_reason, "reserved bit set");
}
END_TEST

/* Data that is not DEFLATE fails with 1002 (not 1007: RFC 7692 §8). */
START_TEST(test_ws_session_pmd_corrupt)
{
    static const char bad_btype[] = { 0x07, 0x00 };       /* BTYPE 11 */
    static const char bad_stored[] = { 0x00, 0x05, 0x00, 0x00, 0x00 };
    static const char far_back[] = { 0x02, 0x02, 0x00 };  /* dist 1, empty */
    static const char *const bad[] = { bad_btype, bad_stored, far_back };
    static const apr_size_t blen[] = { 2, 5, 3 };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        ws_test_buf_t *in = ws_test_buf_make();
        ws_test_result_t *r;

        ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_BINARY, bad[i],
                                blen[i], ws_test_key, 0);
        ws_test_client_frame(in, 1, WS_OP_TEXT, "never", 5);
        r = run_pmd(in, pmd_params(0, 0), 0);
        ws_test_assert_failed(r, WS_EPROTO, WEBSOCKET_CLOSE_PROTOCOL, 1);
        ck_assert_str_eq(r->close_reason, "invalid compressed data");
        ck_assert_int_eq(r->msgs->nelts, 0);
    }
}
END_TEST

/* The process's resident size, from /proc/self/statm. */
static apr_size_t resident_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return (apr_size_t)resident * (apr_size_t)sysconf(_SC_PAGESIZE);
}

/* A zip bomb: a few KiB that inflate to 100 MiB fail with 1009 once
 * max_message is passed, long before the input ends, and the session's
 * memory stays near max_message. */
START_TEST(test_ws_session_pmd_bomb)
{
    apr_size_t big = 100 << 20, max = 64 * 1024, i;
    char *zeros = apr_pcalloc(ws_test_pool, 1 << 20);
    ws_test_buf_t *c = ws_test_buf_make();
    ws_test_buf_t *in;
    ws_test_result_t *r;
    apr_allocator_t *alloc;
    apr_pool_t *p;
    ws_session_t *s;
    send_rec_t rec;
    z_stream z;
    ws_limits_t lim = { 0, 0 };
    apr_size_t before, after;

    lim.max_message = max;
    pmd_deflater(&z, 15);
    for (i = 0; i < big / (1 << 20); ++i) {
        ws_test_buf_t *part = pmd_compress(&z, zeros, 1 << 20);

        ws_test_buf_add(c, part->data, part->len);
        if (i + 1 < big / (1 << 20)) {
            ws_test_buf_add(c, pmd_tail, 4);
        }
    }
    deflateEnd(&z);
    ck_assert_uint_lt(c->len, 200 * 1024);
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_BINARY, c->data,
                            c->len, ws_test_key, 0);
    r = run_pmd(in, pmd_params(0, 0), max);
    ws_test_assert_failed(r, WS_ETOOBIG, WEBSOCKET_CLOSE_TOO_BIG, 1);
    ck_assert_int_eq(r->msgs->nelts, 0);
    /* It failed within the first few hundred input bytes. */
    ck_assert_uint_lt(r->fail_at, 1000);

    /* Exactly max_message inflated is fine. */
    pmd_deflater(&z, 15);
    c = pmd_compress(&z, zeros, max);
    deflateEnd(&z);
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_BINARY, c->data,
                            c->len, ws_test_key, 0);
    r = run_pmd(in, pmd_params(0, 0), max);
    assert_quiet_open(r);
    ws_test_assert_msg(r, 0, WS_OP_BINARY, zeros, max);

    /* Memory: 16 MiB of zeros in one compressed frame. APR's allocator
     * may take memory with mmap, out of malloc's sight, so the resident
     * size is what is compared: a session that inflated it all would
     * grow by 16 MiB, a bounded one by max_message and the inflater. */
    in = ws_test_buf_make();
    pmd_deflater(&z, 15);
    for (i = 0; i < 16; ++i) {
        ws_test_buf_t *part = pmd_compress(&z, zeros, 1 << 20);

        ws_test_buf_add(in, part->data, part->len);
        ws_test_buf_add(in, pmd_tail, 4);
    }
    deflateEnd(&z);
    c = ws_test_buf_make();
    ws_test_client_frame_ex(c, 1, WS_FRAME_RSV1, WS_OP_BINARY, in->data,
                            in->len, ws_test_key, 0);
    before = resident_bytes();
    ck_assert_int_eq(apr_allocator_create(&alloc), APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create_ex(&p, NULL, NULL, alloc), APR_SUCCESS);
    apr_allocator_owner_set(alloc, p);
    memset(&rec, 0, sizeof(rec));
    rec.out = ws_test_buf_make();
    ck_assert_int_eq(ws_session_create(&s, p, &lim, &rec_cb, &rec),
                     APR_SUCCESS);
    ck_assert_int_eq(ws_session_set_deflate(s, pmd_params(0, 0)),
                     APR_SUCCESS);
    ck_assert_int_eq(ws_session_feed(s, c->data, c->len), WS_ETOOBIG);
    ck_assert_int_eq(rec.msgs, 0);
    after = resident_bytes();
    ck_assert_msg(after < before + 4 * 1024 * 1024,
                  "resident size grew by %lu bytes",
                  (unsigned long)(after - before));
    apr_pool_destroy(p);
}
END_TEST

/* Invalid UTF-8 inside compressed text fails with 1007 as soon as it is
 * inflated, before the rest of the message arrives. */
START_TEST(test_ws_session_pmd_utf8_fail_fast)
{
    apr_size_t len = 200000, i;
    char *text = apr_palloc(ws_test_pool, len);
    ws_test_buf_t *c, *in;
    ws_test_result_t *r;
    z_stream z;

    for (i = 0; i < len; ++i) {
        text[i] = (char)('a' + i % 26);
    }
    text[1000] = (char)0xff;
    pmd_deflater(&z, 15);
    c = pmd_compress(&z, text, len);
    deflateEnd(&z);
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, c->data,
                            c->len, ws_test_key, 0);
    r = run_pmd(in, pmd_params(0, 0), 0);
    ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
    ck_assert_int_eq(r->msgs->nelts, 0);
    ck_assert_uint_lt(r->fail_at, in->len - 1);

    /* A character cut at the end of the message, and the same bytes as
     * binary, which are not checked. */
    pmd_deflater(&z, 15);
    c = pmd_compress(&z, "caf\xc3", 4);
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, c->data,
                            c->len, ws_test_key, 0);
    r = run_pmd(in, pmd_params(0, 1), 0);
    ws_test_assert_failed(r, WS_EBADUTF8, WEBSOCKET_CLOSE_BAD_DATA, 1);
    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_BINARY, c->data,
                            c->len, ws_test_key, 0);
    r = run_pmd(in, pmd_params(0, 1), 0);
    assert_quiet_open(r);
    ws_test_assert_msg(r, 0, WS_OP_BINARY, "caf\xc3", 4);
    deflateEnd(&z);
}
END_TEST

/* After our close frame, compressed data is still inflated and checked
 * (RFC 6455 §7.1.4: keep reading until the peer's close). */
START_TEST(test_ws_session_pmd_closing_still_inflates)
{
    static const char hello[] = {
        (char)0xf2, 0x48, (char)0xcd, (char)0xc9, (char)0xc9, 0x07, 0x00
    };
    static const char garbage[] = { 0x07, 0x00 };
    ws_test_opts_t opts;
    ws_test_buf_t *in = ws_test_buf_make();
    ws_test_result_t *r;

    memset(&opts, 0, sizeof(opts));
    opts.deflate = pmd_params(0, 0);
    opts.close_first = WEBSOCKET_CLOSE_NORMAL;
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, hello,
                            sizeof(hello), ws_test_key, 0);
    ws_test_client_close(in, 1000, "", 0);
    r = ws_test_run_buf(in, &opts);
    ck_assert_int_eq(r->rv, APR_EOF);
    ck_assert_int_eq(r->msgs->nelts, 0);

    in = ws_test_buf_make();
    ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, garbage,
                            sizeof(garbage), ws_test_key, 0);
    r = ws_test_run_buf(in, &opts);
    ck_assert_int_eq(r->rv, WS_EPROTO);
}
END_TEST

/* Parse the server frames in @a out and inflate the compressed ones with
 * @a z (reset before each message if @a fresh). Asserts RSV1 exactly on
 * the messages at least @a min long. */
static apr_array_header_t *pmd_decode_sent(const ws_test_buf_t *out,
                                           z_stream *z, int fresh,
                                           apr_size_t min)
{
    apr_array_header_t *msgs = apr_array_make(ws_test_pool, 4,
                                              sizeof(ws_test_buf_t *));
    const unsigned char *p = (const unsigned char *)out->data;
    apr_size_t pos = 0;

    while (pos < out->len) {
        apr_uint64_t len = p[pos + 1] & 0x7f;
        apr_size_t h = 2, i;
        int rsv1 = (p[pos] & WS_FRAME_RSV1) != 0;
        ws_test_buf_t *m;

        ck_assert_int_eq(p[pos] & (WS_FRAME_RSV2 | WS_FRAME_RSV3), 0);
        ck_assert_int_eq(p[pos] & WS_FRAME_FIN, WS_FRAME_FIN);
        if (len >= 126) {
            apr_size_t n = len == 126 ? 2 : 8;

            for (len = 0, i = 0; i < n; ++i) {
                len = (len << 8) | p[pos + 2 + i];
            }
            h += n;
        }
        if (rsv1) {
            if (fresh) {
                ck_assert_int_eq(inflateReset(z), Z_OK);
            }
            m = pmd_inflate(z, out->data + pos + h, (apr_size_t)len);
            ck_assert_uint_ge(m->len, min);
        }
        else {
            m = ws_test_buf_make();
            ws_test_buf_add(m, out->data + pos + h, (apr_size_t)len);
            ck_assert_uint_lt(m->len, min);
        }
        APR_ARRAY_PUSH(msgs, ws_test_buf_t *) = m;
        pos += h + (apr_size_t)len;
    }
    return msgs;
}

/* ws_session_send() compresses (RFC 7692 §7.2.1): what it sends inflates
 * back to the messages, short ones go uncompressed, with and without
 * server_no_context_takeover, up to 1 MiB. */
START_TEST(test_ws_session_pmd_send)
{
    static const apr_size_t lens[] = {
        0, 5, 31, 32, 33, 100, 1000, 70000, 1 << 20, 100, 40
    };
    apr_size_t n = sizeof(lens) / sizeof(lens[0]);
    int snct;

    for (snct = 0; snct <= 1; ++snct) {
        ws_test_buf_t **msgs = apr_pcalloc(ws_test_pool, n * sizeof(*msgs));
        apr_array_header_t *got;
        ws_test_rand_t rnd;
        send_rec_t rec;
        ws_session_t *s = rec_session(&rec);
        apr_size_t i, total = 0, j;
        z_stream z;

        ck_assert_int_eq(ws_session_set_deflate(s, pmd_params(snct, 0)),
                         APR_SUCCESS);
        ws_test_rand_seed(&rnd, 17 + snct);
        for (i = 0; i < n; ++i) {
            char *data = apr_palloc(ws_test_pool, lens[i] + 1);

            /* Words in random order: text that deflates well. */
            for (j = 0; j < lens[i]; ++j) {
                static const char *const words[] = {
                    "websocket ", "deflate ", "apache ", "frame ", "window "
                };
                const char *w = words[ws_test_rand_next(&rnd) % 5];
                apr_size_t k;

                for (k = 0; w[k] && j < lens[i]; ++k, ++j) {
                    data[j] = w[k];
                }
                --j;
            }
            msgs[i] = ws_test_buf_make();
            ws_test_buf_add(msgs[i], data, lens[i]);
            total += lens[i];
            ck_assert_int_eq(ws_session_send(s, i % 2 ? WS_OP_BINARY
                                                      : WS_OP_TEXT,
                                             data, lens[i]), APR_SUCCESS);
        }
        ck_assert_int_eq(rec.calls, (int)n);
        /* Repetitive data compresses well. */
        ck_assert_uint_lt(rec.out->len, total / 2);
        memset(&z, 0, sizeof(z));
        ck_assert_int_eq(inflateInit2(&z, -15), Z_OK);
        got = pmd_decode_sent(rec.out, &z, snct, 32);
        inflateEnd(&z);
        ck_assert_int_eq(got->nelts, (int)n);
        for (i = 0; i < n; ++i) {
            ws_test_buf_t *m = APR_ARRAY_IDX(got, i, ws_test_buf_t *);

            ck_assert_uint_eq(m->len, msgs[i]->len);
            ck_assert_mem_eq(m->data, msgs[i]->data, m->len);
        }
        /* The opcode is kept; control frames are never compressed. */
        ck_assert_int_eq((unsigned char)rec.out->data[0],
                         WS_FRAME_FIN | WS_OP_TEXT);
        rec.out = ws_test_buf_make();
        ck_assert_int_eq(ws_session_ping(s, msgs[8]->data, 100),
                         APR_SUCCESS);
        ck_assert_int_eq((unsigned char)rec.out->data[0],
                         WS_FRAME_FIN | WS_OP_PING);
        ck_assert_int_eq(ws_session_close(s, 1000, msgs[8]->data),
                         APR_SUCCESS);
        ck_assert_int_eq((unsigned char)rec.out->data[102],
                         WS_FRAME_FIN | WS_OP_CLOSE);
    }
}
END_TEST

/* Sending from on_message while a compressed message is delivered: the
 * two directions use separate streams and separate pools. */
static apr_status_t echo_on_message(void *baton, ws_opcode_e op,
                                    const char *data, apr_size_t len)
{
    send_rec_t *rec = baton;

    rec->msgs++;
    return ws_session_send(rec->session, op, data, len);
}

START_TEST(test_ws_session_pmd_echo)
{
    static const ws_session_callbacks_t cb = {
        echo_on_message, NULL, rec_on_send
    };
    char text[300];
    ws_test_buf_t *in = ws_test_buf_make();
    apr_array_header_t *got;
    send_rec_t rec;
    z_stream zc, zs;
    int i;

    memset(&rec, 0, sizeof(rec));
    rec.out = ws_test_buf_make();
    ck_assert_int_eq(ws_session_create(&rec.session, ws_test_pool, NULL,
                                       &cb, &rec), APR_SUCCESS);
    ck_assert_int_eq(ws_session_set_deflate(rec.session, pmd_params(0, 0)),
                     APR_SUCCESS);
    memset(text, 'e', sizeof(text));
    pmd_deflater(&zc, 15);
    for (i = 0; i < 50; ++i) {
        ws_test_buf_t *c;

        text[i] = 'x';
        c = pmd_compress(&zc, text, sizeof(text));
        ws_test_client_frame_ex(in, 1, WS_FRAME_RSV1, WS_OP_TEXT, c->data,
                                c->len, ws_test_key, 0);
    }
    deflateEnd(&zc);
    ck_assert_int_eq(ws_session_feed(rec.session, in->data, in->len),
                     APR_SUCCESS);
    ck_assert_int_eq(rec.msgs, 50);
    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(inflateInit2(&zs, -15), Z_OK);
    got = pmd_decode_sent(rec.out, &zs, 0, 32);
    inflateEnd(&zs);
    ck_assert_int_eq(got->nelts, 50);
    memset(text, 'e', sizeof(text));
    for (i = 0; i < 50; ++i) {
        ws_test_buf_t *m = APR_ARRAY_IDX(got, i, ws_test_buf_t *);

        text[i] = 'x';
        ck_assert_uint_eq(m->len, sizeof(text));
        ck_assert_mem_eq(m->data, text, sizeof(text));
    }
}
END_TEST

START_TEST(test_ws_session_pmd_params)
{
    send_rec_t rec;
    ws_session_t *s = rec_session(&rec);
    ws_deflate_params_t dp = { 0, 0, 15, 15 };

    dp.server_max_window_bits = 8;
    ck_assert_int_eq(ws_session_set_deflate(s, &dp), APR_EINVAL);
    dp.server_max_window_bits = 16;
    ck_assert_int_eq(ws_session_set_deflate(s, &dp), APR_EINVAL);
    dp.server_max_window_bits = 9;
    dp.client_max_window_bits = 7;
    ck_assert_int_eq(ws_session_set_deflate(s, &dp), APR_EINVAL);
    dp.client_max_window_bits = 16;
    ck_assert_int_eq(ws_session_set_deflate(s, &dp), APR_EINVAL);
    /* A 9-bit window: what we send decodes with a 9-bit inflater. */
    dp.client_max_window_bits = 8;
    ck_assert_int_eq(ws_session_set_deflate(s, &dp), APR_SUCCESS);
    {
        char data[5000];
        z_stream z;
        apr_array_header_t *got;
        int i;

        for (i = 0; i < (int)sizeof(data); ++i) {
            data[i] = (char)('a' + (i * 7) % 23);
        }
        ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, data,
                                         sizeof(data)), APR_SUCCESS);
        ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, data,
                                         sizeof(data)), APR_SUCCESS);
        memset(&z, 0, sizeof(z));
        ck_assert_int_eq(inflateInit2(&z, -9), Z_OK);
        got = pmd_decode_sent(rec.out, &z, 0, 32);
        inflateEnd(&z);
        ck_assert_int_eq(got->nelts, 2);
        for (i = 0; i < 2; ++i) {
            ws_test_buf_t *m = APR_ARRAY_IDX(got, i, ws_test_buf_t *);

            ck_assert_uint_eq(m->len, sizeof(data));
            ck_assert_mem_eq(m->data, data, sizeof(data));
        }
    }
}
END_TEST

Suite *test_ws_session_suite(void)
{
    Suite *s = suite_create("ws_session");
    TCase *tc;

    tc = ws_test_tcase("messages");
    tcase_add_test(tc, test_ws_session_rfc6455_5_7_masked_hello);
    tcase_add_test(tc, test_ws_session_single_frame_lengths);
    tcase_add_test(tc, test_ws_session_empty_messages);
    tcase_add_test(tc, test_ws_session_fragmented_with_pings);
    tcase_add_test(tc, test_ws_session_trim_between_feeds);
    tcase_add_test(tc, test_ws_session_fragmented_many);
    tcase_add_test(tc, test_ws_session_message_memory_reused);
    tcase_add_test(tc, test_ws_session_long_frame_reserved_as_it_arrives);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("protocol_errors");
    tcase_add_test(tc, test_ws_session_unmasked_frames);
    tcase_add_test(tc, test_ws_session_rsv_bits);
    tcase_add_test(tc, test_ws_session_reserved_opcodes);
    tcase_add_test(tc, test_ws_session_nonminimal_length);
    tcase_add_test(tc, test_ws_session_control_too_long);
    tcase_add_test(tc, test_ws_session_control_fragmented);
    tcase_add_test(tc, test_ws_session_cont_without_start);
    tcase_add_test(tc, test_ws_session_new_message_during_fragmented);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("utf8");
    tcase_add_test(tc, test_ws_session_utf8_valid_text);
    tcase_add_test(tc, test_ws_session_utf8_invalid_classes);
    tcase_add_test(tc, test_ws_session_utf8_fail_fast_mid_frame);
    tcase_add_test(tc, test_ws_session_utf8_invalid_across_fragments);
    tcase_add_test(tc, test_ws_session_utf8_truncated_at_end);
    tcase_add_test(tc, test_ws_session_binary_not_utf8_checked);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("close");
    tcase_add_test(tc, test_ws_session_close_valid_codes);
    tcase_add_test(tc, test_ws_session_close_invalid_codes);
    tcase_add_test(tc, test_ws_session_close_empty);
    tcase_add_test(tc, test_ws_session_close_len1);
    tcase_add_test(tc, test_ws_session_close_reason_utf8);
    tcase_add_test(tc, test_ws_session_close_inside_fragmented);
    tcase_add_test(tc, test_ws_session_server_close_first);
    tcase_add_test(tc, test_ws_session_closing_still_validates);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("control");
    tcase_add_test(tc, test_ws_session_ping_pong_payload);
    tcase_add_test(tc, test_ws_session_pong_without_callback);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("limits");
    tcase_add_test(tc, test_ws_session_limit_frame);
    tcase_add_test(tc, test_ws_session_limit_message);
    tcase_add_test(tc, test_ws_session_limit_zero_is_unlimited);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("api");
    tcase_add_test(tc, test_ws_session_send_frames);
    tcase_add_test(tc, test_ws_session_ping_api);
    tcase_add_test(tc, test_ws_session_close_api);
    tcase_add_test(tc, test_ws_session_callback_status);
    tcase_add_test(tc, test_ws_session_close_from_callback);
    tcase_add_test(tc, test_ws_session_create_args);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("permessage_deflate");
    tcase_add_test(tc, test_ws_session_pmd_rfc7692_hello);
    tcase_add_test(tc, test_ws_session_pmd_rfc7692_context_takeover);
    tcase_add_test(tc, test_ws_session_pmd_rfc7692_bfinal_and_empty);
    tcase_add_test(tc, test_ws_session_pmd_zlib_messages);
    tcase_add_test(tc, test_ws_session_pmd_rsv_rules);
    tcase_add_test(tc, test_ws_session_pmd_corrupt);
    tcase_add_test(tc, test_ws_session_pmd_bomb);
    tcase_add_test(tc, test_ws_session_pmd_utf8_fail_fast);
    tcase_add_test(tc, test_ws_session_pmd_closing_still_inflates);
    tcase_add_test(tc, test_ws_session_pmd_send);
    tcase_add_test(tc, test_ws_session_pmd_echo);
    tcase_add_test(tc, test_ws_session_pmd_params);
    tcase_add_test(tc, test_ws_session_on_frame);
    suite_add_tcase(s, tc);
    return s;
}

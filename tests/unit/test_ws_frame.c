/* test_ws_frame.c: tests of engine/ws_frame.c (headers, masking). */
#include <string.h>

#include "test_common.h"

/* One frame parsed out of some input. */
typedef struct parsed_t {
    apr_status_t rv;           /* APR_SUCCESS, WS_EPROTO or APR_EAGAIN */
    ws_frame_hdr_t hdr;
    char *payload;             /* unmasked */
    apr_size_t consumed;       /* input bytes used by this frame */
} parsed_t;

/* Parse one frame from @a in, fed in pieces as @a split says. */
static parsed_t parse_one(const void *in, apr_size_t len, int split)
{
    const char *p = in;
    ws_frame_parser_t fp;
    ws_test_splitter_t sp;
    parsed_t res;
    apr_size_t pos = 0, plen = 0;
    int have_hdr = 0;

    memset(&res, 0, sizeof(res));
    res.rv = APR_EAGAIN;
    ws_frame_parser_init(&fp);
    ws_test_splitter_init(&sp, split);
    while (pos < len) {
        apr_size_t n = ws_test_splitter_next(&sp, len - pos);
        apr_size_t used = 0;

        if (!have_hdr) {
            res.rv = ws_frame_parse_hdr(&fp, p + pos, n, &used);
            pos += used;
            if (res.rv == APR_EAGAIN) {
                ck_assert_uint_eq(used, n);
                continue;
            }
            if (res.rv != APR_SUCCESS) {
                break;
            }
            have_hdr = 1;
            res.hdr = fp.hdr;
            ck_assert_uint_eq(ws_frame_payload_left(&fp),
                              res.hdr.payload_len);
            res.payload = apr_palloc(ws_test_pool,
                                     (apr_size_t)res.hdr.payload_len + 1);
            if (res.hdr.payload_len == 0) {
                break;
            }
            continue;
        }
        used = ws_frame_read_payload(&fp, res.payload + plen, p + pos, n);
        plen += used;
        pos += used;
        /* Plain check: a Check assertion per byte would be slow. */
        if (used != n && ws_frame_payload_left(&fp) != 0) {
            ck_abort_msg("short read with payload left");
        }
        if (ws_frame_payload_left(&fp) != res.hdr.payload_len - plen) {
            ck_abort_msg("payload_left out of step");
        }
        if (ws_frame_payload_left(&fp) == 0) {
            break;
        }
    }
    if (have_hdr) {
        ck_assert_uint_eq(plen, res.hdr.payload_len);
        /* Ready for the next header. */
        ck_assert_uint_eq(ws_frame_payload_left(&fp), 0);
        ck_assert_int_eq(fp.istate, WS_FRAME_RECV_HEADER);
    }
    res.consumed = pos;
    return res;
}

/* parse_one() in every split, asserting they agree; returns the whole. */
static parsed_t parse_all(const void *in, apr_size_t len)
{
    parsed_t whole = parse_one(in, len, WS_TEST_SPLIT_WHOLE);
    int split;

    for (split = WS_TEST_SPLIT_BYTES; split < WS_TEST_NSPLITS; ++split) {
        parsed_t r = parse_one(in, len, split);

        ck_assert_msg(r.rv == whole.rv, "%d vs %d (%s split)", r.rv,
                      whole.rv, ws_test_split_name(split));
        ck_assert_uint_eq(r.consumed, whole.consumed);
        if (r.rv == APR_SUCCESS) {
            ck_assert_int_eq(r.hdr.fin, whole.hdr.fin);
            ck_assert_uint_eq(r.hdr.rsv, whole.hdr.rsv);
            ck_assert_uint_eq(r.hdr.opcode, whole.hdr.opcode);
            ck_assert_int_eq(r.hdr.masked, whole.hdr.masked);
            ck_assert_uint_eq(r.hdr.payload_len, whole.hdr.payload_len);
            ck_assert_mem_eq(r.hdr.mask_key, whole.hdr.mask_key, 4);
            ck_assert_mem_eq(r.payload, whole.payload,
                             (apr_size_t)whole.hdr.payload_len);
        }
    }
    return whole;
}

static void assert_hdr(const parsed_t *r, int fin, unsigned int op,
                       int masked, apr_uint64_t len)
{
    ck_assert_int_eq(r->rv, APR_SUCCESS);
    ck_assert_int_eq(r->hdr.fin, fin);
    ck_assert_uint_eq(r->hdr.rsv, 0);
    ck_assert_uint_eq(r->hdr.opcode, op);
    ck_assert_int_eq(r->hdr.masked, masked);
    ck_assert_uint_eq(r->hdr.payload_len, len);
}

/* RFC 6455 §5.7 "Examples". */
START_TEST(test_ws_frame_parse_rfc6455_5_7_examples)
{
    /* A single-frame unmasked text message containing "Hello". */
    static const unsigned char unmasked[] = {
        0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f
    };
    /* A single-frame masked text message containing "Hello". */
    static const unsigned char masked[] = {
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    };
    /* A fragmented unmasked text message: "Hel", then "lo". */
    static const unsigned char frag1[] = { 0x01, 0x03, 0x48, 0x65, 0x6c };
    static const unsigned char frag2[] = { 0x80, 0x02, 0x6c, 0x6f };
    /* Unmasked ping and masked pong, both with body "Hello". */
    static const unsigned char ping[] = {
        0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f
    };
    static const unsigned char pong[] = {
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    };
    /* 256 bytes binary message in a single unmasked frame. */
    static const unsigned char bin256_hdr[] = { 0x82, 0x7E, 0x01, 0x00 };
    /* 64KiB binary message in a single unmasked frame. */
    static const unsigned char bin64k_hdr[] = {
        0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00
    };
    ws_test_buf_t *b;
    parsed_t r;
    char *body;
    apr_size_t i;

    r = parse_all(unmasked, sizeof(unmasked));
    assert_hdr(&r, 1, WS_OP_TEXT, 0, 5);
    ck_assert_mem_eq(r.payload, "Hello", 5);
    ck_assert_uint_eq(r.consumed, sizeof(unmasked));

    r = parse_all(masked, sizeof(masked));
    assert_hdr(&r, 1, WS_OP_TEXT, 1, 5);
    ck_assert_mem_eq(r.hdr.mask_key, ws_test_key, 4);
    ck_assert_mem_eq(r.payload, "Hello", 5);

    r = parse_all(frag1, sizeof(frag1));
    assert_hdr(&r, 0, WS_OP_TEXT, 0, 3);
    ck_assert_mem_eq(r.payload, "Hel", 3);
    r = parse_all(frag2, sizeof(frag2));
    assert_hdr(&r, 1, WS_OP_CONT, 0, 2);
    ck_assert_mem_eq(r.payload, "lo", 2);

    r = parse_all(ping, sizeof(ping));
    assert_hdr(&r, 1, WS_OP_PING, 0, 5);
    ck_assert_mem_eq(r.payload, "Hello", 5);
    r = parse_all(pong, sizeof(pong));
    assert_hdr(&r, 1, WS_OP_PONG, 1, 5);
    ck_assert_mem_eq(r.payload, "Hello", 5);

    body = apr_palloc(ws_test_pool, 65536);
    for (i = 0; i < 65536; ++i) {
        body[i] = (char)(i * 7);
    }
    b = ws_test_buf_make();
    ws_test_buf_add(b, bin256_hdr, sizeof(bin256_hdr));
    ws_test_buf_add(b, body, 256);
    r = parse_all(b->data, b->len);
    assert_hdr(&r, 1, WS_OP_BINARY, 0, 256);
    ck_assert_mem_eq(r.payload, body, 256);

    b = ws_test_buf_make();
    ws_test_buf_add(b, bin64k_hdr, sizeof(bin64k_hdr));
    ws_test_buf_add(b, body, 65536);
    r = parse_all(b->data, b->len);
    assert_hdr(&r, 1, WS_OP_BINARY, 0, 65536);
    ck_assert_mem_eq(r.payload, body, 65536);
    ck_assert_uint_eq(r.consumed, b->len);
}
END_TEST

/* ws_frame_write_hdr() against hand-written bytes, for every length form
 * and its boundaries; then the parser reads each back. */
START_TEST(test_ws_frame_write_hdr_lengths)
{
    static const struct {
        apr_uint64_t len;
        apr_size_t hlen;
        unsigned char bytes[10];
    } cases[] = {
        { 0, 2, { 0x82, 0x00 } },
        { 1, 2, { 0x82, 0x01 } },
        { 125, 2, { 0x82, 0x7D } },
        { 126, 4, { 0x82, 0x7E, 0x00, 0x7E } },
        { 127, 4, { 0x82, 0x7E, 0x00, 0x7F } },
        { 65535, 4, { 0x82, 0x7E, 0xFF, 0xFF } },
        { 65536, 10, { 0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 } },
        { APR_UINT64_C(0x100000000), 10,
          { 0x82, 0x7F, 0, 0, 0, 0x01, 0, 0, 0, 0 } },
        { APR_UINT64_C(0x7FFFFFFFFFFFFFFF), 10,
          { 0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF } }
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        ws_frame_hdr_t hdr;
        char buf[WS_MAX_HDR_LEN];
        apr_size_t n;
        int split;

        memset(&hdr, 0, sizeof(hdr));
        hdr.fin = 1;
        hdr.opcode = WS_OP_BINARY;
        hdr.payload_len = cases[i].len;
        n = ws_frame_write_hdr(buf, &hdr);
        ck_assert_uint_eq(n, cases[i].hlen);
        ck_assert_mem_eq(buf, cases[i].bytes, n);

        /* Masked: the same, plus the mask bit and the key at the end. */
        hdr.masked = 1;
        memcpy(hdr.mask_key, ws_test_key, 4);
        n = ws_frame_write_hdr(buf, &hdr);
        ck_assert_uint_eq(n, cases[i].hlen + 4);
        ck_assert_uint_eq((unsigned char)buf[1],
                          cases[i].bytes[1] | WS_FRAME_MASKED);
        ck_assert_mem_eq(buf + 2, cases[i].bytes + 2, cases[i].hlen - 2);
        ck_assert_mem_eq(buf + cases[i].hlen, ws_test_key, 4);

        /* Only the header: the parser must stop there, in every split. */
        for (split = 0; split < WS_TEST_NSPLITS; ++split) {
            ws_frame_parser_t fp;
            ws_test_splitter_t sp;
            apr_size_t pos = 0, used;
            apr_status_t rv = APR_EAGAIN;

            ws_frame_parser_init(&fp);
            ws_test_splitter_init(&sp, split);
            while (pos < n) {
                apr_size_t k = ws_test_splitter_next(&sp, n - pos);

                rv = ws_frame_parse_hdr(&fp, buf + pos, k, &used);
                ck_assert_uint_eq(used, k);
                pos += k;
                if (pos < n) {
                    ck_assert_int_eq(rv, APR_EAGAIN);
                }
            }
            ck_assert_int_eq(rv, APR_SUCCESS);
            ck_assert_uint_eq(fp.hdr.payload_len, cases[i].len);
            ck_assert_int_eq(fp.hdr.masked, 1);
            ck_assert_mem_eq(fp.hdr.mask_key, ws_test_key, 4);
            ck_assert_uint_eq(ws_frame_payload_left(&fp), cases[i].len);
        }
    }
}
END_TEST

START_TEST(test_ws_frame_write_hdr_fields)
{
    ws_frame_hdr_t hdr;
    char buf[WS_MAX_HDR_LEN];

    memset(&hdr, 0, sizeof(hdr));
    hdr.opcode = WS_OP_TEXT;
    ck_assert_uint_eq(ws_frame_write_hdr(buf, &hdr), 2);
    ck_assert_uint_eq((unsigned char)buf[0], 0x01);

    hdr.fin = 1;
    hdr.rsv = WS_FRAME_RSV1;
    hdr.opcode = WS_OP_CLOSE;
    ck_assert_uint_eq(ws_frame_write_hdr(buf, &hdr), 2);
    ck_assert_uint_eq((unsigned char)buf[0], 0xC8);
    ck_assert_uint_eq((unsigned char)buf[1], 0x00);
}
END_TEST

/* RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the
 * length", and the 64-bit form's most significant bit MUST be 0. */
START_TEST(test_ws_frame_parse_nonminimal_length)
{
    static const struct {
        apr_size_t len;
        unsigned char bytes[10];
        apr_status_t rv;
        apr_uint64_t plen;
    } cases[] = {
        { 4, { 0x82, 0x7E, 0x00, 0x00 }, WS_EPROTO, 0 },
        { 4, { 0x82, 0x7E, 0x00, 0x05 }, WS_EPROTO, 0 },
        { 4, { 0x82, 0x7E, 0x00, 0x7D }, WS_EPROTO, 0 },
        { 4, { 0x82, 0x7E, 0x00, 0x7E }, APR_SUCCESS, 126 },
        { 10, { 0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0 }, WS_EPROTO, 0 },
        { 10, { 0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7D }, WS_EPROTO, 0 },
        { 10, { 0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7E }, WS_EPROTO, 0 },
        { 10, { 0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF }, WS_EPROTO, 0 },
        { 10, { 0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0, 0 }, APR_SUCCESS,
          65536 },
        { 10, { 0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0 }, WS_EPROTO, 0 },
        { 10, { 0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF },
          WS_EPROTO, 0 }
    };
    apr_size_t i;
    int split;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        for (split = 0; split < WS_TEST_NSPLITS; ++split) {
            ws_frame_parser_t fp;
            ws_test_splitter_t sp;
            apr_size_t pos = 0, used;
            apr_status_t rv = APR_EAGAIN;

            ws_frame_parser_init(&fp);
            ws_test_splitter_init(&sp, split);
            while (pos < cases[i].len && rv == APR_EAGAIN) {
                apr_size_t k = ws_test_splitter_next(&sp,
                                                     cases[i].len - pos);

                rv = ws_frame_parse_hdr(&fp, (const char *)cases[i].bytes
                                        + pos, k, &used);
                pos += used;
            }
            ck_assert_msg(rv == cases[i].rv, "case %lu: %d (%s split)",
                          (unsigned long)i, rv, ws_test_split_name(split));
            /* The error is found when the last length byte arrives. */
            ck_assert_uint_eq(pos, cases[i].len);
            if (rv == APR_SUCCESS) {
                ck_assert_uint_eq(fp.hdr.payload_len, cases[i].plen);
                ck_assert_int_eq(fp.hdr.masked, 0);
            }
            else {
                /* A broken parser refuses to go on. */
                ck_assert_int_eq(ws_frame_parse_hdr(&fp, "\x81\x00", 2,
                                                    &used), APR_EINVAL);
                ck_assert_uint_eq(used, 0);
            }
        }
    }
}
END_TEST

/* The frame layer reports every bit as it is; rules are the session's. */
START_TEST(test_ws_frame_parse_bits_and_opcodes)
{
    static const unsigned int rsv[] = {
        0, WS_FRAME_RSV1, WS_FRAME_RSV2, WS_FRAME_RSV3, WS_FRAME_RSV_BITS
    };
    unsigned int op, i, fin;

    for (op = 0; op < 16; ++op) {
        for (i = 0; i < sizeof(rsv) / sizeof(rsv[0]); ++i) {
            for (fin = 0; fin < 2; ++fin) {
                ws_test_buf_t *b = ws_test_buf_make();
                parsed_t r;

                ws_test_client_frame_ex(b, (int)fin, rsv[i], op, "abc", 3,
                                        ws_test_key, 0);
                r = parse_all(b->data, b->len);
                ck_assert_int_eq(r.rv, APR_SUCCESS);
                ck_assert_int_eq(r.hdr.fin, (int)fin);
                ck_assert_uint_eq(r.hdr.rsv, rsv[i]);
                ck_assert_uint_eq(r.hdr.opcode, op);
                ck_assert_int_eq(WS_FRAME_IS_CONTROL(op), op >= 8);
                ck_assert_mem_eq(r.payload, "abc", 3);
            }
        }
    }
}
END_TEST

/* Several frames in one buffer: each parse stops at its frame's end. */
START_TEST(test_ws_frame_parse_back_to_back)
{
    ws_test_buf_t *b = ws_test_buf_make();
    ws_frame_parser_t fp;
    apr_size_t pos = 0, used;
    char out[300];

    ws_test_client_frame(b, 0, WS_OP_TEXT, "ab", 2);
    ws_test_client_frame(b, 1, WS_OP_PING, "", 0);
    ws_test_client_frame(b, 1, WS_OP_CONT, "cd", 2);
    ws_test_client_frame_ex(b, 1, 0, WS_OP_BINARY, "xyz", 3, NULL, 0);

    ws_frame_parser_init(&fp);
    ck_assert_int_eq(ws_frame_parse_hdr(&fp, b->data, b->len, &used),
                     APR_SUCCESS);
    ck_assert_uint_eq(used, 6);
    pos += used;
    /* Payload is read only up to the frame's end. */
    ck_assert_uint_eq(ws_frame_read_payload(&fp, out, b->data + pos,
                                            b->len - pos), 2);
    ck_assert_mem_eq(out, "ab", 2);
    pos += 2;
    ck_assert_int_eq(ws_frame_parse_hdr(&fp, b->data + pos, b->len - pos,
                                        &used), APR_SUCCESS);
    ck_assert_uint_eq(used, 6);
    ck_assert_uint_eq(fp.hdr.opcode, WS_OP_PING);
    /* An empty payload leaves the parser ready for the next header. */
    ck_assert_uint_eq(ws_frame_payload_left(&fp), 0);
    ck_assert_uint_eq(ws_frame_read_payload(&fp, out, b->data, 5), 0);
    pos += used;
    ck_assert_int_eq(ws_frame_parse_hdr(&fp, b->data + pos, b->len - pos,
                                        &used), APR_SUCCESS);
    pos += used;
    /* Header parsing is refused while payload is due. */
    ck_assert_int_eq(ws_frame_parse_hdr(&fp, b->data + pos, b->len - pos,
                                        &used), APR_EINVAL);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(ws_frame_read_payload(&fp, out, b->data + pos, 1), 1);
    ck_assert_uint_eq(ws_frame_read_payload(&fp, out + 1, b->data + pos + 1,
                                            100), 1);
    ck_assert_mem_eq(out, "cd", 2);
    pos += 2;
    ck_assert_int_eq(ws_frame_parse_hdr(&fp, b->data + pos, b->len - pos,
                                        &used), APR_SUCCESS);
    ck_assert_int_eq(fp.hdr.masked, 0);
    pos += used;
    ck_assert_uint_eq(ws_frame_read_payload(&fp, out, b->data + pos,
                                            b->len - pos), 3);
    ck_assert_mem_eq(out, "xyz", 3);
    ck_assert_uint_eq(pos + 3, b->len);
}
END_TEST

static void naive_mask(unsigned char *dst, const unsigned char *src,
                       apr_size_t len, const unsigned char *key,
                       apr_uint64_t offset)
{
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        dst[i] = src[i] ^ key[(offset + i) % 4];
    }
}

/* The word-at-a-time loop must equal the byte loop for every starting
 * offset in the key, every length around the word size, every alignment
 * of source and destination, in place and out of place. */
START_TEST(test_ws_frame_mask_matches_naive)
{
    static const apr_uint64_t offsets[] = {
        0, 1, 2, 3, 4, 5, 7, APR_UINT64_C(0x100000001)
    };
    static const unsigned char key[4] = { 0x01, 0x80, 0xfe, 0x5a };
    char src[64 + 16], dst[64 + 16], inplace[64 + 16];
    unsigned char expect[64 + 16];
    ws_test_rand_t rnd;
    apr_size_t oi, len, salign, dalign;

    ws_test_rand_seed(&rnd, 42);
    ws_test_rand_fill(&rnd, src, sizeof(src));
    for (oi = 0; oi < sizeof(offsets) / sizeof(offsets[0]); ++oi) {
        for (len = 0; len <= 64; ++len) {
            for (salign = 0; salign < 8; ++salign) {
                naive_mask(expect, (unsigned char *)src + salign, len, key,
                           offsets[oi]);
                for (dalign = 0; dalign < 8; ++dalign) {
                    memset(dst, 0xCC, sizeof(dst));
                    ws_frame_mask(dst + dalign, src + salign, len, key,
                                  offsets[oi]);
                    ck_assert_mem_eq(dst + dalign, expect, len);
                    /* Nothing written outside the range. */
                    ck_assert_uint_eq((unsigned char)dst[dalign + len],
                                      0xCC);
                    if (dalign > 0) {
                        ck_assert_uint_eq((unsigned char)dst[dalign - 1],
                                          0xCC);
                    }
                }
                memcpy(inplace, src, sizeof(src));
                ws_frame_mask(inplace + salign, inplace + salign, len, key,
                              offsets[oi]);
                ck_assert_mem_eq(inplace + salign, expect, len);
            }
        }
    }
}
END_TEST

/* A big payload unmasked whole and in random pieces (offset carried). */
START_TEST(test_ws_frame_mask_big_buffer)
{
    apr_size_t len = 1024 * 1024 + 13, pos;
    char *src = apr_palloc(ws_test_pool, len);
    char *dst = apr_palloc(ws_test_pool, len);
    unsigned char *expect = apr_palloc(ws_test_pool, len);
    ws_test_rand_t rnd;

    ws_test_rand_seed(&rnd, 7);
    ws_test_rand_fill(&rnd, src, len);
    naive_mask(expect, (unsigned char *)src, len, ws_test_key, 0);

    ws_frame_mask(dst, src, len, ws_test_key, 0);
    ck_assert_mem_eq(dst, expect, len);

    memset(dst, 0, len);
    for (pos = 0; pos < len;) {
        apr_size_t n = ws_test_rand_range(&rnd, 1, 5000);

        if (n > len - pos) {
            n = len - pos;
        }
        ws_frame_mask(dst + pos, src + pos, n, ws_test_key, pos);
        pos += n;
    }
    ck_assert_mem_eq(dst, expect, len);

    /* Masking twice gives the input back (RFC 6455 §5.3). */
    ws_frame_mask(dst, dst, len, ws_test_key, 0);
    ck_assert_mem_eq(dst, src, len);
}
END_TEST

/* ws_frame_read_payload() with arbitrary pieces, in place too. */
START_TEST(test_ws_frame_read_payload_pieces)
{
    apr_size_t len = 5000, pos, got;
    char *payload = apr_palloc(ws_test_pool, len);
    ws_test_buf_t *b = ws_test_buf_make();
    ws_frame_parser_t fp;
    ws_test_rand_t rnd;
    char *inplace;
    apr_size_t used;
    int split;

    ws_test_rand_seed(&rnd, 99);
    ws_test_rand_fill(&rnd, payload, len);
    ws_test_client_frame(b, 1, WS_OP_BINARY, payload, len);
    for (split = 0; split < WS_TEST_NSPLITS; ++split) {
        parsed_t r = parse_one(b->data, b->len, split);

        ck_assert_int_eq(r.rv, APR_SUCCESS);
        ck_assert_mem_eq(r.payload, payload, len);
    }

    /* In place: the caller may unmask its own buffer. */
    inplace = apr_pmemdup(ws_test_pool, b->data, b->len);
    ws_frame_parser_init(&fp);
    ck_assert_int_eq(ws_frame_parse_hdr(&fp, inplace, b->len, &used),
                     APR_SUCCESS);
    for (pos = used, got = 0; got < len;) {
        apr_size_t n = ws_test_rand_range(&rnd, 1, 300);
        apr_size_t k = ws_frame_read_payload(&fp, inplace + pos,
                                             inplace + pos, n);

        ck_assert_uint_eq(k, n < len - got ? n : len - got);
        pos += k;
        got += k;
    }
    ck_assert_mem_eq(inplace + used, payload, len);
}
END_TEST

Suite *test_ws_frame_suite(void)
{
    Suite *s = suite_create("ws_frame");
    TCase *tc;

    tc = ws_test_tcase("parse");
    tcase_add_test(tc, test_ws_frame_parse_rfc6455_5_7_examples);
    tcase_add_test(tc, test_ws_frame_parse_nonminimal_length);
    tcase_add_test(tc, test_ws_frame_parse_bits_and_opcodes);
    tcase_add_test(tc, test_ws_frame_parse_back_to_back);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("write");
    tcase_add_test(tc, test_ws_frame_write_hdr_lengths);
    tcase_add_test(tc, test_ws_frame_write_hdr_fields);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("mask");
    tcase_add_test(tc, test_ws_frame_mask_matches_naive);
    tcase_add_test(tc, test_ws_frame_mask_big_buffer);
    tcase_add_test(tc, test_ws_frame_read_payload_pieces);
    suite_add_tcase(s, tc);
    return s;
}

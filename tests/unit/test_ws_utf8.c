/* test_ws_utf8.c: tests of engine/ws_utf8.c (incremental UTF-8). */
#include <string.h>

#include "test_common.h"

/* Where a case should fail: an index, or one of these. */
#define OK        (-1)   /* valid and complete */
#define TRUNCATED (-2)   /* no invalid byte, but ends inside a character */

/* Feed @a s in pieces as @a split says; returns the index of the first
 * invalid byte, OK or TRUNCATED. */
static long feed_split(const char *s, apr_size_t len, int split)
{
    ws_test_splitter_t sp;
    ws_utf8_t u;
    apr_size_t pos = 0;

    ws_utf8_init(&u);
    ws_test_splitter_init(&sp, split);
    while (pos < len) {
        apr_size_t n = ws_test_splitter_next(&sp, len - pos);
        apr_size_t valid = 12345;

        if (ws_utf8_feed(&u, s + pos, n, &valid) != APR_SUCCESS) {
            apr_size_t again = 12345;

            ck_assert_uint_lt(valid, n);
            /* Rejection is sticky. */
            ck_assert_int_eq(ws_utf8_feed(&u, "a", 1, &again), WS_EBADUTF8);
            ck_assert_uint_eq(again, 0);
            ck_assert(!ws_utf8_complete(&u));
            return (long)(pos + valid);
        }
        /* Not ck_assert: it costs a system call per passing check, and
         * this runs for every piece of long texts. */
        if (valid != n) {
            ck_abort_msg("valid %lu != %lu", (unsigned long)valid,
                         (unsigned long)n);
        }
        pos += n;
    }
    return ws_utf8_complete(&u) ? OK : TRUNCATED;
}

/* Check a case in every split and with ws_utf8_validate(). */
static void check_case(const char *s, apr_size_t len, long expect,
                       const char *what)
{
    int split;

    for (split = 0; split < WS_TEST_NSPLITS; ++split) {
        long got = feed_split(s, len, split);

        ck_assert_msg(got == expect, "%s: got %ld, expected %ld (%s split)",
                      what, got, expect, ws_test_split_name(split));
    }
    ck_assert_int_eq(ws_utf8_validate(s, len),
                     expect == OK ? APR_SUCCESS : WS_EBADUTF8);
    ck_assert_int_eq(ws_test_utf8_ref((const unsigned char *)s, len),
                     expect == OK);
}

typedef struct utf8_case_t {
    const char *what;
    const char *s;
    long expect;
} utf8_case_t;

static void check_cases(const utf8_case_t *cases, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        check_case(cases[i].s, strlen(cases[i].s), cases[i].expect,
                   cases[i].what);
    }
}

#define KOSME "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"  /* 11 bytes */

START_TEST(test_ws_utf8_valid)
{
    static const utf8_case_t cases[] = {
        { "empty", "", OK },
        { "ascii", "Hello, world! 0123456789 ~\x7f", OK },
        { "kosme (Kuhn 1)", KOSME, OK },
        /* Autobahn 6.2.x */
        { "autobahn 6.2", "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc"
          "\xc3\xa0\xc3\xa1-UTF-8!!", OK },
        /* Kuhn 2.1: first code point of each length */
        { "U+0080", "\xc2\x80", OK },
        { "U+0800", "\xe0\xa0\x80", OK },
        { "U+10000", "\xf0\x90\x80\x80", OK },
        /* Kuhn 2.2: last code point of each length */
        { "U+007F", "\x7f", OK },
        { "U+07FF", "\xdf\xbf", OK },
        { "U+FFFF", "\xef\xbf\xbf", OK },
        { "U+10FFFF", "\xf4\x8f\xbf\xbf", OK },
        /* Kuhn 2.3: other boundaries */
        { "U+D7FF", "\xed\x9f\xbf", OK },
        { "U+E000", "\xee\x80\x80", OK },
        { "U+FFFD", "\xef\xbf\xbd", OK },
        { "U+FFFE", "\xef\xbf\xbe", OK },
        { "U+1000", "\xe1\x80\x80", OK },
        { "U+CFFF", "\xec\xbf\xbf", OK },
        { "U+40000", "\xf1\x80\x80\x80", OK },
        { "U+FFFFF", "\xf3\xbf\xbf\xbf", OK },
        { "U+100000", "\xf4\x80\x80\x80", OK },
        { "BOM", "\xef\xbb\xbf" "abc", OK },
        { "mixed", "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", OK }
    };

    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
    /* U+0000 is valid UTF-8 too. */
    check_case("a\0b", 3, OK, "NUL");
}
END_TEST

/* Markus Kuhn's "UTF-8 decoder capability and stress test" sections 3-5
 * and Autobahn 6.x, each with the index of the first invalid byte. */
START_TEST(test_ws_utf8_invalid_classes)
{
    static const utf8_case_t cases[] = {
        /* 3.1 unexpected continuation bytes */
        { "3.1 80", "\x80", 0 },
        { "3.1 bf", "\xbf", 0 },
        { "3.1 80 bf", "\x80\xbf", 0 },
        { "3.1 after ascii", "ab\x80", 2 },
        { "3.1 after char", "\xc3\xa9\x80", 2 },
        { "3.1 extra cont", "\xe2\x82\xac\xac", 3 },
        /* 3.2 lonely start characters followed by a space */
        { "3.2 c0", "\xc0 ", 0 },
        { "3.2 c2", "\xc2 ", 1 },
        { "3.2 df", "\xdf ", 1 },
        { "3.2 e0", "\xe0 ", 1 },
        { "3.2 ef", "\xef ", 1 },
        { "3.2 f0", "\xf0 ", 1 },
        { "3.2 f4", "\xf4 ", 1 },
        { "3.2 f8", "\xf8 ", 0 },
        { "3.2 fc", "\xfc ", 0 },
        /* 3.3 sequences with the last byte missing, at the end */
        { "3.3 c2", "\xc2", TRUNCATED },
        { "3.3 e0 a0", "\xe0\xa0", TRUNCATED },
        { "3.3 e1", "a\xe1", TRUNCATED },
        { "3.3 f0 90 80", "\xf0\x90\x80", TRUNCATED },
        { "3.3 f4 8f bf", "\xf4\x8f\xbf", TRUNCATED },
        /* ... and followed by something else */
        { "3.3 e1 80 41", "\xe1\x80\x41", 2 },
        { "3.3 f1 80 80 41", "\xf1\x80\x80\x41", 3 },
        /* 3.4 concatenated incomplete sequences */
        { "3.4", "\xc2\xe0\xa0\xf0\x90\x80", 1 },
        /* 3.5 impossible bytes */
        { "3.5 fe", "\xfe", 0 },
        { "3.5 ff", "\xff", 0 },
        { "3.5 fe fe ff ff", "\xfe\xfe\xff\xff", 0 },
        { "f5", "\xf5\x80\x80\x80", 0 },
        { "f7 (>U+10FFFF)", "\xf7\xbf\xbf\xbf", 0 },
        /* 4.1 overlong "/" */
        { "4.1 c0 af", "\xc0\xaf", 0 },
        { "4.1 e0 80 af", "\xe0\x80\xaf", 1 },
        { "4.1 f0 80 80 af", "\xf0\x80\x80\xaf", 1 },
        { "4.1 f8", "\xf8\x80\x80\x80\xaf", 0 },
        { "4.1 fc", "\xfc\x80\x80\x80\x80\xaf", 0 },
        /* 4.2 maximum overlong sequences */
        { "4.2 c1 bf", "\xc1\xbf", 0 },
        { "4.2 e0 9f bf", "\xe0\x9f\xbf", 1 },
        { "4.2 f0 8f bf bf", "\xf0\x8f\xbf\xbf", 1 },
        /* 4.3 overlong NUL */
        { "4.3 c0 80", "\xc0\x80", 0 },
        { "4.3 e0 80 80", "\xe0\x80\x80", 1 },
        { "4.3 f0 80 80 80", "\xf0\x80\x80\x80", 1 },
        /* 5.1 single UTF-16 surrogates */
        { "5.1 U+D800", "\xed\xa0\x80", 1 },
        { "5.1 U+DB7F", "\xed\xad\xbf", 1 },
        { "5.1 U+DB80", "\xed\xae\x80", 1 },
        { "5.1 U+DBFF", "\xed\xaf\xbf", 1 },
        { "5.1 U+DC00", "\xed\xb0\x80", 1 },
        { "5.1 U+DF80", "\xed\xbe\x80", 1 },
        { "5.1 U+DFFF", "\xed\xbf\xbf", 1 },
        /* 5.2 paired surrogates */
        { "5.2 D800 DC00", "\xed\xa0\x80\xed\xb0\x80", 1 },
        { "5.2 DBFF DFFF", "\xed\xaf\xbf\xed\xbf\xbf", 1 },
        /* above U+10FFFF */
        { "U+110000", "\xf4\x90\x80\x80", 1 },
        { "U+13FFFF", "\xf4\xbf\xbf\xbf", 1 },
        /* Autobahn 6.3.1: kosme, a surrogate, "edited" */
        { "autobahn 6.3.1", KOSME "\xed\xa0\x80" "edited", 12 },
        /* Autobahn 6.4.x: fail fast on the byte past U+10FFFF */
        { "autobahn 6.4.1", KOSME "\xf4\x90\x80\x80" "edited", 12 },
        { "autobahn 6.4.2", KOSME "\xf4\x90\x80\x80", 12 },
        { "autobahn 6.4.3", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
          "\xf4\x90", 12 },
        { "autobahn 6.4.4", KOSME "\xf4", TRUNCATED }
    };

    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

/* Kuhn 3.1.9 and 3.2.x in bulk: every continuation byte alone, every
 * lead byte followed by a space. */
START_TEST(test_ws_utf8_invalid_bulk)
{
    unsigned int c;
    char s[2];

    for (c = 0x80; c <= 0xBF; ++c) {
        s[0] = (char)c;
        check_case(s, 1, 0, "lone continuation");
    }
    for (c = 0xC0; c <= 0xFF; ++c) {
        s[0] = (char)c;
        s[1] = ' ';
        check_case(s, 2, (c == 0xC0 || c == 0xC1 || c >= 0xF5) ? 0 : 1,
                   "lead + space");
    }
}
END_TEST

/* The 8-bytes-at-a-time ASCII path must not skip over an invalid byte:
 * put one at every position of ASCII text, and a valid multi-byte
 * character at every position too. */
START_TEST(test_ws_utf8_fast_path_positions)
{
    static const char *bad[] = { "\x80", "\xff", "\xc0", "\xed\xa0" };
    char s[80];
    apr_size_t len, pos, i, blen;

    for (len = 1; len <= 40; ++len) {
        for (pos = 0; pos < len; ++pos) {
            for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
                blen = strlen(bad[i]);
                memset(s, 'a', sizeof(s));
                memcpy(s + pos, bad[i], blen);
                check_case(s, len + blen, (long)(pos + blen - 1), "fast");
            }
            memset(s, 'a', sizeof(s));
            memcpy(s + pos, "\xe2\x82\xac", 3);
            check_case(s, len + 3, OK, "fast valid");
        }
    }
}
END_TEST

/* Every string of one and two bytes, every one of three bytes and a
 * large part of those of four, against an independent decoder. */
START_TEST(test_ws_utf8_exhaustive_vs_reference)
{
    static const unsigned int tails[] = {
        0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xF4,
        0xFF
    };
    unsigned char s[4];
    unsigned int a, b, c, d;
    apr_size_t nt = sizeof(tails) / sizeof(tails[0]), n;
    unsigned long checked = 0, nvalid = 0;

    /* Plain comparisons: a Check assertion per string would cost a
     * system call each (Check records every passing assertion). */
#define SAME(len) \
    do { \
        int ok = ws_utf8_validate((char *)s, (len)) == APR_SUCCESS; \
        if (ok != ws_test_utf8_ref(s, (len))) { \
            ck_abort_msg("mismatch at %02x %02x %02x %02x (len %d)", \
                         s[0], s[1], s[2], s[3], (int)(len)); \
        } \
        ++checked; \
        nvalid += ok; \
    } while (0)

    memset(s, 0, sizeof(s));
    for (a = 0; a < 256; ++a) {
        s[0] = (unsigned char)a;
        SAME(1);
        for (b = 0; b < 256; ++b) {
            s[1] = (unsigned char)b;
            SAME(2);
            for (c = 0; c < 256; ++c) {
                s[2] = (unsigned char)c;
                SAME(3);
            }
        }
    }
    for (a = 0xE0; a < 256; ++a) {
        s[0] = (unsigned char)a;
        for (b = 0; b < 256; ++b) {
            s[1] = (unsigned char)b;
            for (c = 0; c < nt; ++c) {
                s[2] = (unsigned char)tails[c];
                for (d = 0; d < nt; ++d) {
                    s[3] = (unsigned char)tails[d];
                    n = 4;
                    SAME(n);
                }
            }
        }
    }
#undef SAME
    ck_assert_uint_eq(checked, 256UL + 65536 + 16777216 + 32 * 256 * 144);
    /* Sanity of the reference itself: 128 valid 1-byte strings. */
    ck_assert_uint_gt(nvalid, 128);
}
END_TEST

/* Append code point @a cp as UTF-8. */
static apr_size_t encode(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Long random valid text, fed in every split, stays valid; corrupting
 * one byte is caught where the reference says the text breaks. */
START_TEST(test_ws_utf8_random_text)
{
    ws_test_rand_t rnd;
    apr_size_t cap = 40000, len = 0;
    char *s = apr_palloc(ws_test_pool, cap);
    int round;

    ws_test_rand_seed(&rnd, 3);
    while (len + 4 < cap) {
        unsigned long cp;

        switch (ws_test_rand_range(&rnd, 0, 3)) {
        case 0:
            cp = ws_test_rand_range(&rnd, 0, 0x7F);
            break;
        case 1:
            cp = ws_test_rand_range(&rnd, 0x80, 0x7FF);
            break;
        case 2:
            cp = ws_test_rand_range(&rnd, 0x800, 0xFFFF);
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            break;
        default:
            cp = ws_test_rand_range(&rnd, 0x10000, 0x10FFFF);
            break;
        }
        len += encode(s + len, cp);
    }
    check_case(s, len, OK, "random text");

    for (round = 0; round < 200; ++round) {
        char *t = apr_pmemdup(ws_test_pool, s, len);
        apr_size_t at = ws_test_rand_range(&rnd, 0, len - 1);
        ws_utf8_t u;
        apr_size_t valid;
        apr_status_t rv;

        t[at] = (char)ws_test_rand_next(&rnd);
        ws_utf8_init(&u);
        rv = ws_utf8_feed(&u, t, len, &valid);
        ck_assert_int_eq(rv == APR_SUCCESS && ws_utf8_complete(&u),
                         ws_test_utf8_ref((unsigned char *)t, len));
        if (rv != APR_SUCCESS) {
            /* The bytes before the corrupted one are unchanged and were
             * valid, and a character has at most 3 more bytes, so the
             * first invalid byte is at most that far after it. */
            ck_assert_uint_ge(valid, at);
            ck_assert_uint_le(valid, at + 3);
            ck_assert_int_eq(feed_split(t, len, WS_TEST_SPLIT_BYTES),
                             (long)valid);
        }
    }
}
END_TEST

/* The state survives across calls, as it must across frames. */
START_TEST(test_ws_utf8_state_across_calls)
{
    ws_utf8_t u;
    apr_size_t valid;

    ws_utf8_init(&u);
    ck_assert(ws_utf8_complete(&u));
    ck_assert_int_eq(ws_utf8_feed(&u, "\xe2", 1, &valid), APR_SUCCESS);
    ck_assert(!ws_utf8_complete(&u));
    ck_assert_int_eq(ws_utf8_feed(&u, "", 0, &valid), APR_SUCCESS);
    ck_assert_uint_eq(valid, 0);
    ck_assert_int_eq(ws_utf8_feed(&u, "\x82", 1, NULL), APR_SUCCESS);
    ck_assert(!ws_utf8_complete(&u));
    ck_assert_int_eq(ws_utf8_feed(&u, "\xac" "abc", 4, &valid),
                     APR_SUCCESS);
    ck_assert_uint_eq(valid, 4);
    ck_assert(ws_utf8_complete(&u));

    /* A surrogate split over three calls fails at its second byte. */
    ws_utf8_init(&u);
    ck_assert_int_eq(ws_utf8_feed(&u, "ok\xed", 3, &valid), APR_SUCCESS);
    ck_assert_int_eq(ws_utf8_feed(&u, "\xa0\x80", 2, &valid), WS_EBADUTF8);
    ck_assert_uint_eq(valid, 0);
    ck_assert(!ws_utf8_complete(&u));
    ck_assert_int_eq(ws_utf8_feed(&u, "fine", 4, &valid), WS_EBADUTF8);
}
END_TEST

START_TEST(test_ws_utf8_truncate)
{
    /* three 3-byte euro signs */
    static const char euros[] = "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac";
    static const apr_size_t expect[] = { 0, 0, 0, 3, 3, 3, 6, 6, 6, 9, 9 };
    static const char emoji[] = "ab\xf0\x9f\x98\x80";
    apr_size_t max;

    for (max = 0; max <= 10; ++max) {
        ck_assert_uint_eq(ws_utf8_truncate(euros, 9, max), expect[max]);
    }
    ck_assert_uint_eq(ws_utf8_truncate(emoji, 6, 6), 6);
    ck_assert_uint_eq(ws_utf8_truncate(emoji, 6, 5), 2);
    ck_assert_uint_eq(ws_utf8_truncate(emoji, 6, 3), 2);
    ck_assert_uint_eq(ws_utf8_truncate(emoji, 6, 2), 2);
    ck_assert_uint_eq(ws_utf8_truncate("hello", 5, 3), 3);
    ck_assert_uint_eq(ws_utf8_truncate("hello", 5, 100), 5);
    ck_assert_uint_eq(ws_utf8_truncate("", 0, 10), 0);
    /* Invalid input is cut before the character with the bad byte, and
     * a text ending in a cut-off character loses it. */
    ck_assert_uint_eq(ws_utf8_truncate("ab\xff" "cd", 5, 5), 2);
    ck_assert_uint_eq(ws_utf8_truncate("ab\xe2\x82", 4, 10), 2);
    ck_assert_uint_eq(ws_utf8_truncate("a\xed\xa0\x80", 4, 4), 1);
}
END_TEST

Suite *test_ws_utf8_suite(void)
{
    Suite *s = suite_create("ws_utf8");
    TCase *tc;

    tc = ws_test_tcase("classes");
    tcase_add_test(tc, test_ws_utf8_valid);
    tcase_add_test(tc, test_ws_utf8_invalid_classes);
    tcase_add_test(tc, test_ws_utf8_invalid_bulk);
    tcase_add_test(tc, test_ws_utf8_fast_path_positions);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("reference");
    tcase_add_test(tc, test_ws_utf8_exhaustive_vs_reference);
    tcase_add_test(tc, test_ws_utf8_random_text);
    suite_add_tcase(s, tc);

    tc = ws_test_tcase("api");
    tcase_add_test(tc, test_ws_utf8_state_across_calls);
    tcase_add_test(tc, test_ws_utf8_truncate);
    suite_add_tcase(s, tc);
    return s;
}

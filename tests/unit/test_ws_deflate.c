/* test_ws_deflate.c: tests of engine/ws_deflate.c (RFC 7692 negotiation). */
#include <string.h>

#include "test_common.h"

/* One offer and what must come of it. */
typedef struct nego_case_t {
    const char *offers;          /* Sec-WebSocket-Extensions value */
    int policy_wbits;            /* policy: server_max_window_bits */
    int policy_nct;              /* policy: server_no_context_takeover */
    const char *response;        /* NULL: APR_NOTFOUND */
    int snct, cnct, swbits, cwbits;  /* the agreed params if accepted */
} nego_case_t;

static void check_cases(const nego_case_t *cases, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        const nego_case_t *c = &cases[i];
        ws_deflate_policy_t policy;
        ws_deflate_params_t params;
        const char *response = "unset";
        apr_status_t rv;

        policy.server_max_window_bits = c->policy_wbits;
        policy.server_no_context_takeover = c->policy_nct;
        rv = ws_deflate_negotiate(&params, &response, ws_test_pool,
                                  c->offers, &policy);
        if (!c->response) {
            ck_assert_msg(rv == APR_NOTFOUND, "[%s]: accepted as [%s]",
                          c->offers, rv == APR_SUCCESS ? response : "");
            ck_assert_ptr_null(response);
            continue;
        }
        ck_assert_msg(rv == APR_SUCCESS, "[%s]: declined", c->offers);
        ck_assert_msg(strcmp(response, c->response) == 0,
                      "[%s]: answered [%s], expected [%s]", c->offers,
                      response, c->response);
        ck_assert_msg(params.server_no_context_takeover == c->snct
                      && params.client_no_context_takeover == c->cnct
                      && params.server_max_window_bits == c->swbits
                      && params.client_max_window_bits == c->cwbits,
                      "[%s]: params %d %d %d %d", c->offers,
                      params.server_no_context_takeover,
                      params.client_no_context_takeover,
                      params.server_max_window_bits,
                      params.client_max_window_bits);
    }
}

#define PMD "permessage-deflate"
#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 7692 §7.1's offers and the answers a server with the default policy
 * gives them. */
START_TEST(test_ws_deflate_negotiate_rfc7692_examples)
{
    static const nego_case_t cases[] = {
        { PMD, 15, 0, PMD, 0, 0, 15, 15 },
        /* §7.1.2.2: "permessage-deflate; client_max_window_bits" */
        { PMD "; client_max_window_bits", 15, 0, PMD, 0, 0, 15, 15 },
        /* §7.1.3 and §5.2's fallback list: the first is accepted. */
        { PMD "; client_max_window_bits; server_max_window_bits=10, "
          PMD "; client_max_window_bits", 15, 0,
          PMD "; server_max_window_bits=10", 0, 0, 10, 15 },
        { PMD "; server_max_window_bits=10, " PMD, 15, 0,
          PMD "; server_max_window_bits=10", 0, 0, 10, 15 },
        { PMD "; server_no_context_takeover", 15, 0,
          PMD "; server_no_context_takeover", 1, 0, 15, 15 },
        { PMD "; client_no_context_takeover", 15, 0,
          PMD "; client_no_context_takeover", 0, 1, 15, 15 },
        { PMD "; client_max_window_bits=10", 15, 0,
          PMD "; client_max_window_bits=10", 0, 0, 15, 10 },
        { PMD "; client_max_window_bits=8", 15, 0,
          PMD "; client_max_window_bits=8", 0, 0, 15, 8 },
        { PMD "; client_max_window_bits=11; client_no_context_takeover; "
          "server_max_window_bits=12; server_no_context_takeover", 15, 0,
          PMD "; server_no_context_takeover; server_max_window_bits=12; "
          "client_no_context_takeover; client_max_window_bits=11",
          1, 1, 12, 11 },
    };

    check_cases(cases, NCASES(cases));
}
END_TEST

/* The policy: a smaller window is announced even unasked, and a larger
 * request is lowered to it; no context takeover is always offered. */
START_TEST(test_ws_deflate_negotiate_policy)
{
    static const nego_case_t cases[] = {
        { PMD, 10, 0, PMD "; server_max_window_bits=10", 0, 0, 10, 15 },
        { PMD "; server_max_window_bits=12", 10, 0,
          PMD "; server_max_window_bits=10", 0, 0, 10, 15 },
        { PMD "; server_max_window_bits=9", 10, 0,
          PMD "; server_max_window_bits=9", 0, 0, 9, 15 },
        { PMD "; server_max_window_bits=15", 15, 0,
          PMD "; server_max_window_bits=15", 0, 0, 15, 15 },
        { PMD, 15, 1, PMD "; server_no_context_takeover", 1, 0, 15, 15 },
        { PMD "; server_no_context_takeover", 15, 1,
          PMD "; server_no_context_takeover", 1, 0, 15, 15 },
        /* A policy of 8 cannot be honoured by zlib: 9 is used. */
        { PMD, 8, 0, PMD "; server_max_window_bits=9", 0, 0, 9, 15 },
    };

    check_cases(cases, NCASES(cases));
}
END_TEST

/* RFC 7692 §7: offers with unknown, repeated or invalid parameters are
 * declined, and the next offer is considered. */
START_TEST(test_ws_deflate_negotiate_declined)
{
    static const nego_case_t cases[] = {
        { NULL, 15, 0, NULL, 0, 0, 0, 0 },
        { "", 15, 0, NULL, 0, 0, 0, 0 },
        { "  ,  , ", 15, 0, NULL, 0, 0, 0, 0 },
        { "x-webkit-deflate-frame", 15, 0, NULL, 0, 0, 0, 0 },
        { "permessage-deflate-x", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; foo", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; foo=1", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; client_no_context_takeover; client_no_context_takeover",
          15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_no_context_takeover; server_no_context_takeover",
          15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits=10; server_max_window_bits=10",
          15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; client_max_window_bits; client_max_window_bits=9",
          15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits=8", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits=7", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits=16", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits=010", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits=1a", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits=99999999999", 15, 0, NULL,
          0, 0, 0, 0 },
        { PMD "; server_max_window_bits=\"\"", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits=\"1 0\"", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; client_max_window_bits=7", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; client_max_window_bits=16", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; client_max_window_bits=", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_no_context_takeover=1", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; client_no_context_takeover=\"x\"", 15, 0, NULL,
          0, 0, 0, 0 },
        /* Broken syntax ends the parse: what follows is not trusted. */
        { PMD " x", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD ";", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; =1", 15, 0, NULL, 0, 0, 0, 0 },
        { PMD "; server_max_window_bits=\"10", 15, 0, NULL, 0, 0, 0, 0 },
        { "; " PMD, 15, 0, NULL, 0, 0, 0, 0 },
        { "foo; a=\"x, " PMD, 15, 0, NULL, 0, 0, 0, 0 },
        { "foo bar, " PMD, 15, 0, NULL, 0, 0, 0, 0 },
    };

    check_cases(cases, NCASES(cases));
}
END_TEST

/* Several offers: the first acceptable one wins (RFC 7692 §5.1). */
START_TEST(test_ws_deflate_negotiate_first_acceptable)
{
    static const nego_case_t cases[] = {
        { PMD "; server_max_window_bits=8, " PMD, 15, 0, PMD,
          0, 0, 15, 15 },
        { PMD "; foo=1, " PMD "; server_no_context_takeover", 15, 0,
          PMD "; server_no_context_takeover", 1, 0, 15, 15 },
        { PMD "; server_max_window_bits=10; server_max_window_bits=10, "
          PMD, 15, 0, PMD, 0, 0, 15, 15 },
        { PMD "; client_max_window_bits=12, " PMD "; client_max_window_bits",
          15, 0, PMD "; client_max_window_bits=12", 0, 0, 15, 12 },
        { PMD "; server_max_window_bits=16, "
          PMD "; server_max_window_bits=11, " PMD, 15, 0,
          PMD "; server_max_window_bits=11", 0, 0, 11, 15 },
        /* Other extensions before and after, with their own params. */
        { "x-webkit-deflate-frame, " PMD, 15, 0, PMD, 0, 0, 15, 15 },
        { "foo; a=1; b=\"x,y;z\"; c, " PMD "; client_no_context_takeover, "
          "bar", 15, 0, PMD "; client_no_context_takeover", 0, 1, 15, 15 },
        { "foo; server_max_window_bits=8, " PMD, 15, 0, PMD, 0, 0, 15, 15 },
        { PMD ", foo; bar", 15, 0, PMD, 0, 0, 15, 15 },
        /* httpd joins repeated header lines with ", ". */
        { "x-webkit-deflate-frame, " PMD "; client_max_window_bits, "
          PMD, 15, 0, PMD, 0, 0, 15, 15 },
    };

    check_cases(cases, NCASES(cases));
}
END_TEST

/* Quoted values (RFC 6455 §9.1), whitespace and letter case. */
START_TEST(test_ws_deflate_negotiate_syntax)
{
    static const nego_case_t cases[] = {
        { PMD "; server_max_window_bits=\"10\"", 15, 0,
          PMD "; server_max_window_bits=10", 0, 0, 10, 15 },
        { PMD "; client_max_window_bits=\"9\"", 15, 0,
          PMD "; client_max_window_bits=9", 0, 0, 15, 9 },
        { PMD "; server_max_window_bits=\"1\\1\"", 15, 0,
          PMD "; server_max_window_bits=11", 0, 0, 11, 15 },
        { PMD " ;  client_no_context_takeover", 15, 0,
          PMD "; client_no_context_takeover", 0, 1, 15, 15 },
        { " \t" PMD "\t;\tserver_max_window_bits = 12 ;"
          "client_max_window_bits \t, foo", 15, 0,
          PMD "; server_max_window_bits=12", 0, 0, 12, 15 },
        { PMD ";server_no_context_takeover;client_no_context_takeover", 15,
          0, PMD "; server_no_context_takeover; client_no_context_takeover",
          1, 1, 15, 15 },
        { ", ," PMD ",", 15, 0, PMD, 0, 0, 15, 15 },
        { "PerMessage-Deflate; Server_Max_Window_Bits=13", 15, 0,
          PMD "; server_max_window_bits=13", 0, 0, 13, 15 },
        { "PERMESSAGE-DEFLATE; CLIENT_NO_CONTEXT_TAKEOVER", 15, 0,
          PMD "; client_no_context_takeover", 0, 1, 15, 15 },
    };

    check_cases(cases, NCASES(cases));
}
END_TEST

/* Every valid window value, both parameters. */
START_TEST(test_ws_deflate_negotiate_window_values)
{
    int bits;

    for (bits = 8; bits <= 15; ++bits) {
        nego_case_t c[2];
        char *soffer = apr_psprintf(ws_test_pool,
                                    PMD "; server_max_window_bits=%d", bits);
        char *coffer = apr_psprintf(ws_test_pool,
                                    PMD "; client_max_window_bits=%d", bits);

        memset(c, 0, sizeof(c));
        c[0].offers = soffer;
        c[0].policy_wbits = 15;
        c[0].response = bits == 8 ? NULL : soffer;
        c[0].swbits = bits;
        c[0].cwbits = 15;
        c[1].offers = coffer;
        c[1].policy_wbits = 15;
        c[1].response = coffer;
        c[1].swbits = 15;
        c[1].cwbits = bits;
        check_cases(c, 2);
    }
}
END_TEST

Suite *test_ws_deflate_suite(void)
{
    Suite *s = suite_create("ws_deflate");
    TCase *tc;

    tc = ws_test_tcase("negotiate");
    tcase_add_test(tc, test_ws_deflate_negotiate_rfc7692_examples);
    tcase_add_test(tc, test_ws_deflate_negotiate_policy);
    tcase_add_test(tc, test_ws_deflate_negotiate_declined);
    tcase_add_test(tc, test_ws_deflate_negotiate_first_acceptable);
    tcase_add_test(tc, test_ws_deflate_negotiate_syntax);
    tcase_add_test(tc, test_ws_deflate_negotiate_window_values);
    suite_add_tcase(s, tc);
    return s;
}

/* test_common.h: fixtures, frame builders, split-feeding helpers. */
#ifndef WS_TEST_COMMON_H
#define WS_TEST_COMMON_H

#include <check.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "ws.h"
#include "ws_frame.h"
#include "ws_session.h"
#include "ws_utf8.h"
#include "ref_utf8.h"

/* The pool of the running test, created and destroyed by the fixture. */
extern apr_pool_t *ws_test_pool;

void ws_test_setup(void);
void ws_test_teardown(void);

/* Suites, one per engine file. */
Suite *test_ws_frame_suite(void);
Suite *test_ws_utf8_suite(void);
Suite *test_ws_session_suite(void);
Suite *test_ws_deflate_suite(void);
Suite *test_mws_outq_suite(void);

/* A test case with the per-test pool fixture and a generous timeout. */
TCase *ws_test_tcase(const char *name);

/* The masking key of RFC 6455 §5.7's examples. */
extern const unsigned char ws_test_key[WS_FRAME_MASK_KEY_LEN];

/* ---- deterministic pseudo-random numbers (xorshift64*) ---- */

typedef struct ws_test_rand_t {
    apr_uint64_t s;
} ws_test_rand_t;

void ws_test_rand_seed(ws_test_rand_t *r, apr_uint64_t seed);
apr_uint64_t ws_test_rand_next(ws_test_rand_t *r);
/* A number in [lo, hi]. */
apr_size_t ws_test_rand_range(ws_test_rand_t *r, apr_size_t lo,
                              apr_size_t hi);
void ws_test_rand_fill(ws_test_rand_t *r, char *buf, apr_size_t len);

/* ---- ways of splitting input ---- */

/* Split number 0 feeds everything at once, 1 one byte at a time, the
 * others at random (seeded by the split number) points. */
#define WS_TEST_SPLIT_WHOLE  0
#define WS_TEST_SPLIT_BYTES  1
#define WS_TEST_NSPLITS      7

typedef struct ws_test_splitter_t {
    int split;
    ws_test_rand_t rand;
    apr_size_t max_chunk;
} ws_test_splitter_t;

void ws_test_splitter_init(ws_test_splitter_t *sp, int split);
/* Size of the next piece, given @a left bytes remain (> 0). */
apr_size_t ws_test_splitter_next(ws_test_splitter_t *sp, apr_size_t left);
const char *ws_test_split_name(int split);

/* ---- byte buffers ---- */

typedef struct ws_test_buf_t {
    char *data;
    apr_size_t len;
    apr_size_t cap;
} ws_test_buf_t;

ws_test_buf_t *ws_test_buf_make(void);
void ws_test_buf_add(ws_test_buf_t *b, const void *data, apr_size_t len);
void ws_test_buf_add_byte(ws_test_buf_t *b, unsigned int byte);

/* Append a client frame built byte by byte (independently of
 * ws_frame_write_hdr). @a len_form is 0 for the minimal length encoding,
 * 16 or 64 to force that form. A NULL @a key sends the frame unmasked. */
void ws_test_client_frame_ex(ws_test_buf_t *b, int fin, unsigned int rsv,
                             unsigned int op, const void *payload,
                             apr_size_t len, const unsigned char *key,
                             int len_form);
/* A masked client frame with ws_test_key and minimal length. */
void ws_test_client_frame(ws_test_buf_t *b, int fin, unsigned int op,
                          const void *payload, apr_size_t len);
/* A masked close frame; @a code < 0 sends an empty payload. */
void ws_test_client_close(ws_test_buf_t *b, int code, const void *reason,
                          apr_size_t rlen);

/* Append an unmasked server frame (what the session must produce). */
void ws_test_server_frame(ws_test_buf_t *b, unsigned int op,
                          const void *payload, apr_size_t len);
/* @a code < 0 is an empty close frame. */
void ws_test_server_close(ws_test_buf_t *b, int code, const char *reason);

/* ---- an independent UTF-8 check (decodes code points) ---- */

/* ---- running a session over some input ---- */

typedef struct ws_test_msg_t {
    ws_opcode_e op;
    char *data;
    apr_size_t len;
} ws_test_msg_t;

typedef struct ws_test_opts_t {
    const ws_limits_t *limits;   /* NULL: none */
    int close_first;             /* we call ws_session_close() with this
                                  * code before feeding (0: don't) */
    const char *close_reason;
    int no_pong_cb;              /* on_pong NULL */
    const ws_deflate_params_t *deflate; /* ws_session_set_deflate() with
                                  * these before feeding (NULL: don't) */
    int trim;                    /* ws_session_trim() after every feed */
} ws_test_opts_t;

typedef struct ws_test_result_t {
    apr_status_t rv;             /* first status other than APR_SUCCESS */
    apr_size_t fail_at;          /* byte split: index of the byte whose
                                  * feed returned rv; (apr_size_t)-1 */
    ws_state_e state;
    int close_code;
    const char *close_reason;
    int peer_closed_first;
    ws_test_buf_t *sent;         /* all bytes on_send got, concatenated */
    int nsent;                   /* on_send calls */
    apr_array_header_t *msgs;    /* ws_test_msg_t */
    apr_array_header_t *pongs;   /* ws_test_msg_t */
    ws_session_t *session;
} ws_test_result_t;

/*
 * Feed @a in to a new session split as @a split says, then feed more
 * bytes after a status other than APR_SUCCESS to check that they change
 * nothing. Asserts the invariants that hold for every input.
 */
ws_test_result_t *ws_test_feed(const char *in, apr_size_t len,
                               const ws_test_opts_t *opts, int split);

/*
 * Feed @a in whole, one byte at a time and at several random splits,
 * assert that all produce the same result, and return it (with fail_at
 * from the byte-at-a-time run).
 */
ws_test_result_t *ws_test_run(const char *in, apr_size_t len,
                              const ws_test_opts_t *opts);
ws_test_result_t *ws_test_run_buf(const ws_test_buf_t *in,
                                  const ws_test_opts_t *opts);

/* Assert that @a r sent exactly @a expect. */
void ws_test_assert_sent(const ws_test_result_t *r,
                         const ws_test_buf_t *expect);

/*
 * Assert that the session failed with @a rv and close code @a code: state
 * CLOSED, the status, the code, and that the last (and with @a only_close,
 * the only) frame sent is a close frame carrying @a code.
 */
void ws_test_assert_failed(const ws_test_result_t *r, apr_status_t rv,
                           int code, int only_close);

/* Assert message @a i is @a op with payload @a data/@a len. */
void ws_test_assert_msg(const ws_test_result_t *r, int i, ws_opcode_e op,
                        const void *data, apr_size_t len);

#endif /* WS_TEST_COMMON_H */

/* test_mws_outq.c: the send queue (src/mws_outq.c) and shared messages (src/mws_msg.c): bounds, slow consumers, CLOSE, references. */
#include <string.h>

#include <apr_atomic.h>

#include "test_common.h"
#include "mws_outq.h"

#define LIMIT 10000

static int wakes;

static void count_wake(void *baton)
{
    (void)baton;
    ++wakes;
}

static mws_outq *queue(int drop)
{
    mws_outq *q;

    ck_assert_int_eq(mws_outq_create(&q, ws_test_pool, LIMIT, drop),
                     APR_SUCCESS);
    wakes = 0;
    mws_outq_set_waker(q, count_wake, NULL);
    return q;
}

static apr_size_t taken_bytes(mws_outq *q, int *poverflow, int *pcount)
{
    mws_outq_item *item;
    apr_size_t n = 0;

    *pcount = 0;
    for (item = mws_outq_take(q, poverflow); item; item = item->next) {
        n += item->len;
        ++*pcount;
    }
    return n;
}

/* A message larger than the whole allowance is refused, under either
 * policy, without marking the queue overflowed (the member is not slow). */
START_TEST(test_mws_outq_larger_than_allowance)
{
    static char big[LIMIT + 1];
    int drop, overflow, count;

    for (drop = 0; drop < 2; ++drop) {
        mws_outq *q = queue(drop);

        ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_BINARY, 0, big,
                                       sizeof(big)), APR_ENOSPC);
        ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_BINARY, 0, big, LIMIT),
                         APR_SUCCESS);
        taken_bytes(q, &overflow, &count);
        ck_assert_int_eq(overflow, 0);
        ck_assert_int_eq(count, 1);
        mws_outq_release(q);
        ck_assert_uint_eq(mws_outq_shut(q), 1);     /* one drop */
    }
}
END_TEST

/* A burst of up to twice the allowance is held before the owner runs;
 * past it the queue overflows (close) and wakes the owner once more. */
START_TEST(test_mws_outq_burst_then_overflow)
{
    static char msg[3000];
    mws_outq *q = queue(0);
    int i, ok = 0, refused = 0, overflow, count;

    for (i = 0; i < 10; ++i) {
        apr_status_t rv = mws_outq_push(q, MWS_OUTQ_TEXT, 0, msg,
                                        sizeof(msg));
        if (rv == APR_SUCCESS) {
            ++ok;
        }
        else {
            ck_assert_int_eq(rv, APR_ENOSPC);
            ++refused;
        }
    }
    /* 3000 bytes and an item header each: six fit in 2 x 10000 */
    ck_assert_int_eq(ok, 6);
    ck_assert_int_eq(refused, 4);
    ck_assert_int_eq(wakes, 1);         /* one wakeup on its way */
    ck_assert(mws_outq_refused(q));
    ck_assert(!mws_outq_refused(q));    /* cleared once asked */
    ck_assert_uint_eq(taken_bytes(q, &overflow, &count), 6 * sizeof(msg));
    ck_assert_int_eq(overflow, 1);
    mws_outq_release(q);
    ck_assert_uint_eq(mws_outq_shut(q), 0);    /* close: no drops */
}
END_TEST

/* Push @a n copies of a text message, each of which must be queued. */
static void push_text(mws_outq *q, const char *msg, apr_size_t len, int n)
{
    while (n--) {
        ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_TEXT, 0, msg, len),
                         APR_SUCCESS);
    }
}

/* What the owner takes counts as its backlog until it says what it
 * wrote: a client that reads nothing stays at the bound. */
START_TEST(test_mws_outq_backlog_counts)
{
    static char msg[4000];
    mws_outq *q = queue(1);
    int overflow, count;

    push_text(q, msg, sizeof(msg), 2);
    taken_bytes(q, &overflow, &count);
    mws_outq_release(q);
    /* nothing written yet: 8000 of the 20000 are still pending */
    push_text(q, msg, sizeof(msg), 2);
    ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_TEXT, 0, msg, sizeof(msg)),
                     APR_ENOSPC);
    /* the owner wrote everything: room again */
    taken_bytes(q, &overflow, &count);
    mws_outq_release(q);
    mws_outq_set_backlog(q, 0);
    ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_TEXT, 0, msg, sizeof(msg)),
                     APR_SUCCESS);
    ck_assert_uint_eq(mws_outq_shut(q), 1);
}
END_TEST

/* Empty messages cost their item: they cannot pile up without bound. */
START_TEST(test_mws_outq_empty_messages_bounded)
{
    mws_outq *q = queue(1);
    int i, ok = 0;

    for (i = 0; i < 100000; ++i) {
        if (mws_outq_push(q, MWS_OUTQ_BINARY, 0, "", 0) == APR_SUCCESS) {
            ++ok;
        }
    }
    ck_assert_int_gt(ok, 0);
    ck_assert_int_lt(ok, 2 * LIMIT / (int)MWS_OUTQ_MSG_COST + 1);
    mws_outq_shut(q);
}
END_TEST

/* Nothing follows a CLOSE, and after shut nothing is queued. */
START_TEST(test_mws_outq_close_then_nothing)
{
    mws_outq *q = queue(0);
    int overflow, count;

    ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_CLOSE, 1000, "bye", 3),
                     APR_SUCCESS);
    ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_CLOSE, 1001, "", 0), APR_EOF);
    ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_TEXT, 0, "x", 1), APR_EOF);
    taken_bytes(q, &overflow, &count);
    ck_assert_int_eq(count, 1);
    mws_outq_release(q);
    mws_outq_shut(q);
    ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_TEXT, 0, "x", 1), APR_EOF);
}
END_TEST

/* A shared message is referenced, not copied, by each queue; its
 * buckets (splits and copies too) hold references of their own, and the
 * last one frees it. */
START_TEST(test_mws_msg_shared_references)
{
    mws_msg *msg = mws_msg_create(2, "shared bytes", 12);
    mws_outq *a = queue(0), *b = queue(0);
    apr_bucket_alloc_t *ba = apr_bucket_alloc_create(ws_test_pool);
    apr_bucket *bk, *copy;
    const char *data;
    apr_size_t len;
    mws_outq_item *item;
    int overflow;

    ck_assert_ptr_nonnull(msg);
    mws_msg_ref_n(msg, 2);              /* one for each queue */
    ck_assert_int_eq(mws_outq_push_msg(a, msg), APR_SUCCESS);
    ck_assert_int_eq(mws_outq_push_msg(b, msg), APR_SUCCESS);
    ck_assert_uint_eq(apr_atomic_read32(&msg->refs), 3);
    item = mws_outq_take(a, &overflow);
    ck_assert_int_eq(item->kind, MWS_OUTQ_SHARED);
    ck_assert_uint_eq(item->len, 1);
    ck_assert_ptr_eq(item->u.msgs[0], msg);

    bk = mws_msg_bucket_create(msg, ba);
    ck_assert_uint_eq(apr_atomic_read32(&msg->refs), 4);
    ck_assert_int_eq(apr_bucket_split(bk, 6), APR_SUCCESS);
    ck_assert_int_eq(apr_bucket_copy(APR_BUCKET_NEXT(bk), &copy),
                     APR_SUCCESS);
    ck_assert_uint_eq(apr_atomic_read32(&msg->refs), 6);
    ck_assert_int_eq(apr_bucket_read(copy, &data, &len, APR_BLOCK_READ),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, 6);
    ck_assert_mem_eq(data, " bytes", 6);
    ck_assert_int_eq(apr_bucket_setaside(copy, ws_test_pool), APR_SUCCESS);
    apr_bucket_destroy(APR_BUCKET_NEXT(bk));
    apr_bucket_destroy(bk);
    apr_bucket_destroy(copy);
    ck_assert_uint_eq(apr_atomic_read32(&msg->refs), 3);

    mws_outq_release(a);                /* gives back a's reference */
    ck_assert_uint_eq(apr_atomic_read32(&msg->refs), 2);
    mws_outq_shut(b);                   /* b's goes with its pool */
    mws_msg_unref(msg);
    ck_assert_uint_eq(apr_atomic_read32(&msg->refs), 1);
}
END_TEST

/* A member of a busy channel reuses the items its references came in:
 * the owner hands back one it sent at each take, so a steady stream of
 * publishes costs no allocation per message. */
START_TEST(test_mws_outq_reference_items_reused)
{
    mws_msg *msg = mws_msg_create(1, "tick", 4);
    mws_outq *q = queue(0);
    mws_outq_item *first, *second, *item;
    int overflow, i;

    ck_assert_ptr_nonnull(msg);
    mws_msg_ref_n(msg, 4);
    ck_assert_int_eq(mws_outq_push_msg(q, msg), APR_SUCCESS);
    first = mws_outq_take(q, &overflow);
    mws_outq_release(q);
    ck_assert_int_eq(mws_outq_push_msg(q, msg), APR_SUCCESS);
    second = mws_outq_take(q, &overflow);
    ck_assert_ptr_ne(second, first);    /* the first was not back yet */
    mws_outq_release(q);
    for (i = 0; i < 2; ++i) {
        ck_assert_int_eq(mws_outq_push_msg(q, msg), APR_SUCCESS);
        item = mws_outq_take(q, &overflow);
        ck_assert_ptr_eq(item, i ? second : first);
        ck_assert_ptr_eq(item->u.msgs[0], msg);
        ck_assert_ptr_null(item->next);
        mws_outq_release(q);
    }
    ck_assert_uint_eq(apr_atomic_read32(&msg->refs), 1);
    mws_outq_shut(q);
    mws_msg_unref(msg);
}
END_TEST

/* Shared messages queued back to back share an item, MWS_OUTQ_RUN at
 * most; a copy between them starts a new run: the owner gets everything in
 * the order it was pushed. */
START_TEST(test_mws_outq_shared_runs_keep_order)
{
    mws_msg *one = mws_msg_create(1, "one", 3);
    mws_msg *two = mws_msg_create(2, "two", 3);
    mws_outq *q = queue(0);
    mws_outq_item *item;
    int overflow, i;

    ck_assert_ptr_nonnull(one);
    ck_assert_ptr_nonnull(two);
    mws_msg_ref_n(one, MWS_OUTQ_RUN + 1);
    mws_msg_ref_n(two, 1);
    for (i = 0; i < MWS_OUTQ_RUN + 1; ++i) {
        ck_assert_int_eq(mws_outq_push_msg(q, one), APR_SUCCESS);
    }
    ck_assert_int_eq(mws_outq_push(q, MWS_OUTQ_TEXT, 0, "copy", 4),
                     APR_SUCCESS);
    ck_assert_int_eq(mws_outq_push_msg(q, two), APR_SUCCESS);

    item = mws_outq_take(q, &overflow);
    ck_assert_int_eq(item->kind, MWS_OUTQ_SHARED);
    ck_assert_uint_eq(item->len, MWS_OUTQ_RUN);
    for (i = 0; i < MWS_OUTQ_RUN; ++i) {
        ck_assert_ptr_eq(item->u.msgs[i], one);
    }
    item = item->next;
    ck_assert_int_eq(item->kind, MWS_OUTQ_SHARED);
    ck_assert_uint_eq(item->len, 1);
    ck_assert_ptr_eq(item->u.msgs[0], one);
    item = item->next;
    ck_assert_int_eq(item->kind, MWS_OUTQ_TEXT);
    ck_assert_str_eq(item->u.data, "copy");
    item = item->next;
    ck_assert_int_eq(item->kind, MWS_OUTQ_SHARED);
    ck_assert_uint_eq(item->len, 1);
    ck_assert_ptr_eq(item->u.msgs[0], two);
    ck_assert_ptr_null(item->next);
    ck_assert_uint_eq(apr_atomic_read32(&one->refs), MWS_OUTQ_RUN + 2);
    mws_outq_release(q);
    ck_assert_uint_eq(apr_atomic_read32(&one->refs), 1);
    ck_assert_uint_eq(apr_atomic_read32(&two->refs), 1);
    mws_outq_shut(q);
    mws_msg_unref(one);
    mws_msg_unref(two);
}
END_TEST

Suite *test_mws_outq_suite(void)
{
    Suite *s = suite_create("mws_outq");
    TCase *tc = ws_test_tcase("bounds");

    tcase_add_test(tc, test_mws_outq_larger_than_allowance);
    tcase_add_test(tc, test_mws_outq_burst_then_overflow);
    tcase_add_test(tc, test_mws_outq_backlog_counts);
    tcase_add_test(tc, test_mws_outq_empty_messages_bounded);
    tcase_add_test(tc, test_mws_outq_close_then_nothing);
    tcase_add_test(tc, test_mws_msg_shared_references);
    tcase_add_test(tc, test_mws_outq_reference_items_reused);
    tcase_add_test(tc, test_mws_outq_shared_runs_keep_order);
    suite_add_tcase(s, tc);
    return s;
}

/* mod_websocket_test.c: the integration tests' handlers: "test" (refusals, subprotocols, the user, pushes, closes) and "failopen". */
#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_websocket.h"

module AP_MODULE_DECLARE_DATA websocket_test_module;
APLOG_USE_MODULE(websocket_test);

/* A connection's pushers, joined by the close callback: sending never
 * blocks, so they are short-lived and the join is quick. */
typedef struct test_conn {
    apr_array_header_t *pushers;    /* apr_thread_t * */
    apr_pool_t *thread_pool;        /* unmanaged: threads touch it alone */
    const char *key;                /* in the registry by its id */
    apr_uint32_t sent, refused;     /* by pushers (atomic) */
} test_conn;

typedef struct test_push {
    websocket_conn_t *wc;
    int count;
    apr_size_t size;                /* pad messages to this size */
    apr_interval_time_t delay;      /* wait before the first */
    const char *text;               /* send this instead of "push N" */
    int empty;                      /* send empty messages */
} test_push;

/* The open WebSockets of this child, by id, for "tell". */
static struct {
    apr_thread_mutex_t *lock;
    apr_hash_t *conns;
} registry;

static int test_handshake(request_rec *r, const apr_array_header_t *protocols,
                          const char **pprotocol)
{
    static const char *const preferred[] = { "superchat", "chat", NULL };
    const char *refuse;
    int i, j;

    if (r->args && (refuse = ap_strstr_c(r->args, "refuse="))) {
        return atoi(refuse + 7);
    }
    for (j = 0; preferred[j]; ++j) {
        for (i = 0; i < protocols->nelts; ++i) {
            if (!strcmp(APR_ARRAY_IDX(protocols, i, const char *),
                        preferred[j])) {
                *pprotocol = preferred[j];
                return OK;
            }
        }
    }
    return OK;
}

static apr_status_t test_open(websocket_conn_t *wc)
{
    test_conn *tc = apr_pcalloc(wc->pool, sizeof(*tc));

    tc->pushers = apr_array_make(wc->pool, 2, sizeof(apr_thread_t *));
    tc->key = apr_psprintf(wc->pool, "%" APR_UINT64_T_FMT, wc->id);
    wc->data = tc;
    /* Goes out with the 101 (test_100_12). */
    apr_table_setn(wc->r->headers_out, "X-Test-Opened", tc->key);
    apr_thread_mutex_lock(registry.lock);
    apr_hash_set(registry.conns, tc->key, APR_HASH_KEY_STRING, wc);
    apr_thread_mutex_unlock(registry.lock);
    return apr_pool_create_unmanaged_ex(&tc->thread_pool, NULL, NULL);
}

/* Sends until done or the WebSocket closes, counting what was refused
 * (a slow consumer) and going on after it. */
static void *APR_THREAD_FUNC test_pusher(apr_thread_t *thread, void *baton)
{
    test_push *push = baton;
    test_conn *tc = push->wc->data;
    char *buf = malloc(push->size + 32);
    apr_status_t rv;
    apr_size_t len;
    int i;

    if (push->delay) {
        apr_sleep(push->delay);
    }
    for (i = 0; buf && i < push->count; ++i) {
        if (push->empty) {
            rv = websocket_send(push->wc, WEBSOCKET_TEXT, "", 0);
        }
        else if (push->text) {
            rv = websocket_send(push->wc, WEBSOCKET_TEXT, push->text,
                                strlen(push->text));
        }
        else {
            len = apr_snprintf(buf, 32, "push %d", i);
            if (len < push->size) {
                memset(buf + len, '.', push->size - len);
                len = push->size;
            }
            rv = websocket_send(push->wc, WEBSOCKET_TEXT, buf, len);
        }
        if (rv == APR_SUCCESS) {
            apr_atomic_inc32(&tc->sent);
        }
        else if (APR_STATUS_IS_ENOSPC(rv)) {
            apr_atomic_inc32(&tc->refused);
        }
        else {
            break;
        }
    }
    free(buf);
    return NULL;
}

static void start_pusher(websocket_conn_t *wc, test_push *push)
{
    test_conn *tc = wc->data;
    apr_thread_t *thread;

    push->wc = wc;
    if (apr_thread_create(&thread, NULL, test_pusher, push, tc->thread_pool)
        == APR_SUCCESS) {
        APR_ARRAY_PUSH(tc->pushers, apr_thread_t *) = thread;
    }
}

/* Send @a text to the WebSocket @a key of this child, from this one's
 * callback: under the event MPM both may belong to the same I/O thread. */
static const char *tell(const char *key, const char *text)
{
    websocket_conn_t *to;
    const char *reply = "no such WebSocket";

    apr_thread_mutex_lock(registry.lock);
    to = apr_hash_get(registry.conns, key, APR_HASH_KEY_STRING);
    if (to) {
        reply = websocket_send(to, WEBSOCKET_TEXT, text, strlen(text))
                == APR_SUCCESS ? "told" : "refused";
    }
    apr_thread_mutex_unlock(registry.lock);
    return reply;
}

/* The push counters of the WebSocket @a key of this child. The registry's
 * lock keeps it alive: its close callback takes the lock to leave. */
static const char *stats_of(apr_pool_t *p, const char *key)
{
    websocket_conn_t *of;
    const char *reply = "no such WebSocket";

    apr_thread_mutex_lock(registry.lock);
    of = apr_hash_get(registry.conns, key, APR_HASH_KEY_STRING);
    if (of) {
        test_conn *tc = of->data;

        reply = apr_psprintf(p, "sent %u refused %u",
                             apr_atomic_read32(&tc->sent),
                             apr_atomic_read32(&tc->refused));
    }
    apr_thread_mutex_unlock(registry.lock);
    return reply;
}

static void test_message(websocket_conn_t *wc, websocket_type_e type,
                         const char *data, apr_size_t len)
{
    test_conn *tc = wc->data;
    const char *reply;

    if (type == WEBSOCKET_TEXT && !strcmp(data, "user")) {
        reply = wc->r->user ? wc->r->user : "-";
        websocket_send(wc, WEBSOCKET_TEXT, reply, strlen(reply));
    }
    else if (type == WEBSOCKET_TEXT && !strcmp(data, "protocol")) {
        reply = wc->protocol ? wc->protocol : "-";
        websocket_send(wc, WEBSOCKET_TEXT, reply, strlen(reply));
    }
    else if (type == WEBSOCKET_TEXT && !strncmp(data, "push ", 5)) {
        /* "push N [SIZE]": N messages from another thread */
        test_push *push = apr_pcalloc(wc->pool, sizeof(*push));
        char *end;

        push->count = (int)apr_strtoi64(data + 5, &end, 10);
        push->size = *end ? (apr_size_t)apr_atoi64(end) : 0;
        start_pusher(wc, push);
    }
    else if (type == WEBSOCKET_TEXT && !strncmp(data, "empty ", 6)) {
        /* "empty N": N empty messages from another thread */
        test_push *push = apr_pcalloc(wc->pool, sizeof(*push));

        push->count = (int)apr_atoi64(data + 6);
        push->empty = 1;
        start_pusher(wc, push);
    }
    else if (type == WEBSOCKET_TEXT && !strncmp(data, "later ", 6)) {
        /* "later MS TEXT": TEXT from another thread after MS ms */
        test_push *push = apr_pcalloc(wc->pool, sizeof(*push));
        char *end;

        push->count = 1;
        push->delay = apr_time_from_msec(apr_strtoi64(data + 6, &end, 10));
        push->text = apr_pstrdup(wc->pool, *end ? end + 1 : "");
        start_pusher(wc, push);
    }
    else if (type == WEBSOCKET_TEXT && !strcmp(data, "stats")) {
        reply = apr_psprintf(wc->pool, "sent %u refused %u",
                             apr_atomic_read32(&tc->sent),
                             apr_atomic_read32(&tc->refused));
        websocket_send(wc, WEBSOCKET_TEXT, reply, strlen(reply));
    }
    else if (type == WEBSOCKET_TEXT && !strncmp(data, "stats ", 6)) {
        /* "stats ID": the pushes of another WebSocket of this child, for a
         * test whose pushed client does not read */
        reply = stats_of(wc->pool, data + 6);
        websocket_send(wc, WEBSOCKET_TEXT, reply, strlen(reply));
    }
    else if (type == WEBSOCKET_TEXT && !strcmp(data, "id")) {
        websocket_send(wc, WEBSOCKET_TEXT, tc->key, strlen(tc->key));
    }
    else if (type == WEBSOCKET_TEXT && !strncmp(data, "tell ", 5)) {
        /* "tell ID TEXT" */
        const char *sp = ap_strchr_c(data + 5, ' ');
        reply = sp ? tell(apr_pstrmemdup(wc->pool, data + 5,
                                         sp - (data + 5)), sp + 1)
                   : "usage: tell ID TEXT";
        websocket_send(wc, WEBSOCKET_TEXT, reply, strlen(reply));
    }
    else if (type == WEBSOCKET_TEXT && !strncmp(data, "close ", 6)) {
        char *reason;
        int code = (int)apr_strtoi64(data + 6, &reason, 10);
        websocket_close(wc, code, *reason ? reason + 1 : "");
    }
    else {
        websocket_send(wc, type, data, len);
    }
}

static void test_close(websocket_conn_t *wc, int code, const char *reason)
{
    test_conn *tc = wc->data;
    apr_status_t rv;
    int i;

    /* What the handler saw, for tests that check the code. */
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, wc->r,
                  "test handler: close %d", code);
    apr_thread_mutex_lock(registry.lock);
    apr_hash_set(registry.conns, tc->key, APR_HASH_KEY_STRING, NULL);
    apr_thread_mutex_unlock(registry.lock);
    for (i = 0; i < tc->pushers->nelts; ++i) {
        apr_thread_join(&rv, APR_ARRAY_IDX(tc->pushers, i, apr_thread_t *));
    }
    apr_pool_destroy(tc->thread_pool);
}

/* The client caught up after refused sends. */
static void test_writable(websocket_conn_t *wc)
{
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, wc->r->connection,
                  "test handler: writable");
}

static const websocket_handler test_handler = {
    test_handshake,
    test_open,
    test_message,
    test_close,
    test_writable
};

/* "failopen": an open that fails. The rule (issue 9, item 7): close
 * follows only an open that succeeded, and no message reaches a WebSocket
 * whose open failed; a broken rule logs this error, which
 * test_310_abuse.py looks for. */
#define FAILOPEN_BROKEN "failopen handler: called after a failed open: "

static apr_status_t failopen_open(websocket_conn_t *wc)
{
    wc->data = NULL;
    return APR_EGENERAL;
}

static void failopen_message(websocket_conn_t *wc, websocket_type_e type,
                             const char *data, apr_size_t len)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, wc->r, FAILOPEN_BROKEN
                  "message");
}

static void failopen_close(websocket_conn_t *wc, int code, const char *reason)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, wc->r, FAILOPEN_BROKEN
                  "close %d", code);
}

static const websocket_handler failopen_handler = {
    NULL,
    failopen_open,
    failopen_message,
    failopen_close
};

static void test_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_thread_mutex_create(&registry.lock, APR_THREAD_MUTEX_DEFAULT,
                            pchild);
    registry.conns = apr_hash_make(pchild);
}

static void test_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(test_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_provider(p, WEBSOCKET_PROVIDER_GROUP, "test",
                         WEBSOCKET_PROVIDER_VERSION, &test_handler);
    ap_register_provider(p, WEBSOCKET_PROVIDER_GROUP, "failopen",
                         WEBSOCKET_PROVIDER_VERSION, &failopen_handler);
}

module AP_MODULE_DECLARE_DATA websocket_test_module = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* create per-directory config */
    NULL,                       /* merge per-directory config */
    NULL,                       /* create per-server config */
    NULL,                       /* merge per-server config */
    NULL,                       /* directives */
    test_register_hooks         /* register hooks */
};

/* mod_websocket_test.c: a handler for the integration tests: refusals, subprotocols, the user, pushes from another thread, closes. */
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>

#include "mod_websocket.h"

/* A connection's pushers, joined by the close callback: sending never
 * blocks, so they are short-lived and the join is quick. */
typedef struct test_conn {
    apr_array_header_t *pushers;    /* apr_thread_t * */
    apr_pool_t *thread_pool;        /* unmanaged: threads touch it alone */
} test_conn;

typedef struct test_push {
    websocket_conn_t *wc;
    int count;
} test_push;

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
    wc->data = tc;
    return apr_pool_create_unmanaged_ex(&tc->thread_pool, NULL, NULL);
}

static void *APR_THREAD_FUNC test_pusher(apr_thread_t *thread, void *baton)
{
    test_push *push = baton;
    char buf[32];
    int i;

    for (i = 0; i < push->count; ++i) {
        int len = apr_snprintf(buf, sizeof(buf), "push %d", i);
        if (websocket_send(push->wc, WEBSOCKET_TEXT, buf, len)
            != APR_SUCCESS) {
            break;
        }
    }
    return NULL;
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
        test_push *push = apr_pcalloc(wc->pool, sizeof(*push));
        apr_thread_t *thread;

        push->wc = wc;
        push->count = atoi(data + 5);
        if (apr_thread_create(&thread, NULL, test_pusher, push,
                              tc->thread_pool)
            == APR_SUCCESS) {
            APR_ARRAY_PUSH(tc->pushers, apr_thread_t *) = thread;
        }
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

    for (i = 0; i < tc->pushers->nelts; ++i) {
        apr_thread_join(&rv, APR_ARRAY_IDX(tc->pushers, i, apr_thread_t *));
    }
    apr_pool_destroy(tc->thread_pool);
}

static const websocket_handler test_handler = {
    test_handshake,
    test_open,
    test_message,
    test_close
};

static void test_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, WEBSOCKET_PROVIDER_GROUP, "test",
                         WEBSOCKET_PROVIDER_VERSION, &test_handler);
}

AP_DECLARE_MODULE(websocket_test) = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* create per-directory config */
    NULL,                       /* merge per-directory config */
    NULL,                       /* create per-server config */
    NULL,                       /* merge per-server config */
    NULL,                       /* directives */
    test_register_hooks         /* register hooks */
};

/* mws_conn.c: one WebSocket after the 101: takeover, the non-blocking pump, the handler's calls, the close. */
#include <apr_allocator.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <sys/uio.h>
#include <httpd.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "ws_session.h"
#include "mws_private.h"
#include "mws_config.h"
#include "mws_conn.h"
#include "mws_h2.h"
#include "mws_status.h"

static APR_OPTIONAL_FN_TYPE(ap_logio_add_bytes_in) *logio_add_bytes_in;
static APR_OPTIONAL_FN_TYPE(ap_logio_add_bytes_out) *logio_add_bytes_out;

/* Bytes asked of the input filters per read: one socket read's worth
 * (APR_BUCKET_BUFF_SIZE). The core fills larger requests with several
 * socket reads whose buffers are all alive at once. */
#define MWS_READ_SIZE APR_BUCKET_BUFF_SIZE
/* Bytes passed to the output filters at once: below the core's
 * FlushMaxThreshold (64 KiB) even with TLS record overhead, so the core
 * never blocks to flush them; on HTTP/2, what mod_http2 buffers for a
 * stream by default (H2StreamMaxMemSize). */
#define MWS_WRITE_CHUNK (32 * 1024)
/* Buckets written at once when the WebSocket writes its socket itself. */
#define MWS_DIRECT_IOVECS 64
/* A published message smaller than this is copied next to its frame
 * header as it goes out, not referenced: a bucket and an iovec per
 * message cost more than the copy, and a member that lags gets its
 * messages in one buffer, one write. What a member holds stays bounded by
 * its WebSocketMaxPendingOutput either way. */
#define MWS_SHARE_MIN 1024
/* One round's budget: after this many bytes read, payload bytes decoded
 * (inflated ones included) or messages delivered, the connection goes to
 * the back of the line, so that no client, however it compresses or
 * floods, holds its thread's other WebSockets. */
#define MWS_ROUND_READ (256 * 1024)
#define MWS_ROUND_DECODED (1024 * 1024)
#define MWS_ROUND_MESSAGES 64
/* Bytes fed at once to a session that inflates: a DEFLATE stream inflates
 * at most about 1,000 times, so no single feed runs far past the budget. */
#define MWS_FEED_SLICE 1024
/* How long a WebSocket that joins channels in its open waits for the
 * broker to route them here before its 101 goes out anyway. */
#define MWS_JOIN_BARRIER_TIMEOUT apr_time_from_sec(2)
/* How long a stopping child waits for a client's close frame. */
#define MWS_STOP_CLOSE_TIMEOUT apr_time_from_sec(1)

struct mws_conn {
    websocket_conn_t pub;           /* what the handler sees */
    conn_rec *c;
    request_rec *r;
    const mws_dir_conf *conf;       /* r's, looked up once */
    mws_runner_e runner;
    ws_session_t *session;
    mws_outq *outq;
    mws_h2_out *h2;                 /* on an HTTP/2 stream, its output */
    apr_bucket_brigade *bb_in;      /* read, not yet fed to the engine */
    apr_socket_t *direct;           /* read straight from it (read_direct) */
    apr_socket_t *direct_out;       /* write straight to it (write_direct) */
    char *read_buf;                 /* the thread's, for direct reads */
    apr_bucket_brigade *bb_out;     /* frames not yet passed to c's filters */
    apr_bucket_brigade *bb_tmp;     /* made on first use */
    apr_os_thread_t owner;
    apr_off_t max_pending;          /* stop reading at this much unsent */
    apr_interval_time_t idle_timeout, ping_interval, close_timeout;
    apr_time_t started;
    apr_time_t last_rx;             /* bytes last came from the client */
    apr_time_t last_msg;            /* a message last went either way */
    apr_time_t ping_sent;           /* our unanswered ping, or 0 */
    apr_time_t close_deadline;      /* 0 until we send a close frame */
    apr_off_t bytes_in, bytes_out;
    apr_off_t msgs_in, msgs_out;
    apr_off_t reported[4];          /* the four above, as mws_status has them */
    apr_off_t out_len;              /* bytes in bb_out */
    mws_channel_set channels;       /* what it joined */
    const mws_msg *sending;         /* the shared message being framed */
    apr_off_t round_msgs;           /* msgs_in when the round began */
    int slow_drop;                  /* WebSocketSlowConsumer drop */
    int inflates;                   /* permessage-deflate was agreed */
    unsigned int begun : 1;         /* the first round ran */
    unsigned int opened : 1;        /* the handler's open succeeded */
    unsigned int pumping : 1;       /* inside mws_conn_pump() */
    unsigned int want_write : 1;    /* the core holds unsent bytes (on
                                     * HTTP/2: we hold the next chunk) */
    unsigned int read_held : 1;     /* reading stopped at max_pending */
    unsigned int caught_up : 1;     /* the last read found nothing more */
    unsigned int may_direct : 1;    /* its filters are plain: it may read
                                     * and write the socket itself */
    unsigned int lost : 1;          /* the client's TCP side is gone */
    unsigned int timed_out : 1;     /* given up on the client */
    unsigned int upgrade_eos : 1;   /* HTTP/2's "no body" EOS is behind us */
    unsigned int finished : 1;
};

static apr_uint32_t next_id;

/* Message kinds cross three enums by cast: the public API's, the engine's
 * opcodes and the send queue's. They must agree, and the compiler says so
 * (an array of negative size) if they ever do not. */
#define MWS_SAME_VALUE(a, b) ((int)(a) == (int)(b) ? 1 : -1)
typedef char mws_text_kinds_agree[MWS_SAME_VALUE(WEBSOCKET_TEXT, WS_OP_TEXT)
                                  + MWS_SAME_VALUE(WS_OP_TEXT,
                                                   MWS_OUTQ_TEXT) - 1];
typedef char mws_binary_kinds_agree[MWS_SAME_VALUE(WEBSOCKET_BINARY,
                                                   WS_OP_BINARY)
                                    + MWS_SAME_VALUE(WS_OP_BINARY,
                                                     MWS_OUTQ_BINARY) - 1];

/* ---- engine callbacks ------------------------------------------------ */

static apr_status_t conn_on_message(void *baton, ws_opcode_e op,
                                    const char *data, apr_size_t len)
{
    mws_conn *wc = baton;

    ++wc->msgs_in;
    wc->last_msg = apr_time_now();
    ap_log_cerror(APLOG_MARK, APLOG_TRACE3, 0, wc->c,
                  MWS_CONN_FMT "message in: %s, %" APR_SIZE_T_FMT " bytes",
                  wc->pub.id, op == WS_OP_TEXT ? "text" : "binary", len);
    if (wc->opened && wc->conf->handler->message) {
        wc->conf->handler->message(&wc->pub, (websocket_type_e)op, data, len);
    }
    return APR_SUCCESS;
}

/* LogLevel websocket:trace3 shows every frame each way. */
static void conn_on_frame(void *baton, const ws_frame_hdr_t *hdr)
{
    mws_conn *wc = baton;

    ap_log_cerror(APLOG_MARK, APLOG_TRACE3, 0, wc->c,
                  MWS_CONN_FMT "frame in: opcode %u%s%s, rsv %u, %"
                  APR_UINT64_T_FMT " bytes", wc->pub.id, hdr->opcode,
                  hdr->fin ? ", fin" : "", hdr->masked ? ", masked" : "",
                  hdr->rsv >> 4, hdr->payload_len);
}

static apr_status_t conn_on_send(void *baton, const char *hdr,
                                 apr_size_t hlen, const char *payload,
                                 apr_size_t plen)
{
    mws_conn *wc = baton;
    apr_status_t rv;

    if (APLOGctrace3(wc->c)) {
        unsigned char b0 = (unsigned char)hdr[0];

        ap_log_cerror(APLOG_MARK, APLOG_TRACE3, 0, wc->c,
                      MWS_CONN_FMT "frame out: opcode %u%s, rsv %u, %"
                      APR_SIZE_T_FMT " bytes", wc->pub.id, b0 & 0x0fU,
                      (b0 & 0x80) ? ", fin" : "", (b0 >> 4) & 7U, plen);
    }

    /* apr_brigade_write() packs small frames into shared heap buckets, so
     * many small messages become few writes. */
    rv = apr_brigade_write(wc->bb_out, NULL, NULL, hdr, hlen);
    if (rv == APR_SUCCESS && plen >= MWS_SHARE_MIN && wc->sending
        && payload == wc->sending->data) {
        /* A published message goes out as it is (not compressed for this
         * WebSocket): its bytes are shared, not copied. */
        APR_BRIGADE_INSERT_TAIL(wc->bb_out,
                                mws_msg_bucket_create((mws_msg *)wc->sending,
                                                      wc->bb_out->bucket_alloc));
    }
    else if (rv == APR_SUCCESS && plen) {
        rv = apr_brigade_write(wc->bb_out, NULL, NULL, payload, plen);
    }
    wc->out_len += hlen + plen;
    return rv;
}

static const ws_session_callbacks_t conn_callbacks = {
    conn_on_message,
    NULL,
    conn_on_send,
    conn_on_frame
};

/* ---- the handler's calls ---------------------------------------------- */

/* Sends from the thread running this connection's pump (a handler answering
 * in its callback) go straight to the engine; all others, including sends
 * to another connection owned by the same I/O thread, go through the queue,
 * which wakes that connection's pump and applies the slow-consumer policy. */
static int in_own_pump(mws_conn *wc)
{
    return apr_os_thread_equal(apr_os_thread_current(), wc->owner)
           && wc->pumping;
}

static apr_status_t engine_status(apr_status_t rv)
{
    return rv == WS_ECLOSED ? APR_EOF : rv;
}

static apr_status_t conn_send(websocket_conn_t *pub, websocket_type_e type,
                              const void *data, apr_size_t len)
{
    mws_conn *wc = (mws_conn *)pub;
    apr_status_t rv;

    if (type != WEBSOCKET_TEXT && type != WEBSOCKET_BINARY) {
        return APR_EINVAL;
    }
    if (in_own_pump(wc)) {
        ++wc->msgs_out;
        wc->last_msg = apr_time_now();
        return engine_status(ws_session_send(wc->session, (ws_opcode_e)type,
                                             data, len));
    }
    rv = mws_outq_push(wc->outq, (mws_outq_kind_e)type, 0, data, len);
    if (rv == APR_ENOSPC && (wc->slow_drop || (apr_off_t)len > wc->max_pending)) {
        /* Under close, the WebSocket's close is what gets counted. */
        mws_status_dropped();
    }
    return rv;
}

static apr_status_t conn_ping(websocket_conn_t *pub, const void *data,
                              apr_size_t len)
{
    mws_conn *wc = (mws_conn *)pub;

    if (len > WS_MAX_CTRL_PAYLOAD) {
        return APR_EINVAL;
    }
    if (in_own_pump(wc)) {
        return engine_status(ws_session_ping(wc->session, data, len));
    }
    return mws_outq_push(wc->outq, MWS_OUTQ_PING, 0, data, len);
}

static apr_status_t conn_close(websocket_conn_t *pub, int code,
                               const char *reason)
{
    mws_conn *wc = (mws_conn *)pub;

    if (!reason) {
        reason = "";
    }
    if (!ws_close_code_is_valid(code)) {
        return APR_EINVAL;
    }
    if (in_own_pump(wc)) {
        if (ws_session_state(wc->session) != WS_STATE_OPEN) {
            return APR_EOF;
        }
        mws_conn_close(wc, code, reason, wc->close_timeout);
        return APR_SUCCESS;
    }
    return mws_outq_push(wc->outq, MWS_OUTQ_CLOSE, code, reason,
                         strlen(reason));
}

static apr_status_t conn_join(websocket_conn_t *pub, const char *channel)
{
    mws_conn *wc = (mws_conn *)pub;

    if (wc->finished || ws_session_state(wc->session) != WS_STATE_OPEN) {
        return APR_EOF;
    }
    return mws_channel_join(&wc->channels, wc, wc->c->pool, channel);
}

static apr_status_t conn_leave(websocket_conn_t *pub, const char *channel)
{
    return mws_channel_leave(&((mws_conn *)pub)->channels, channel);
}

static const websocket_conn_ops conn_ops = {
    conn_send,
    conn_ping,
    conn_close,
    conn_join,
    conn_leave
};

apr_status_t mws_conn_deliver(mws_conn *wc, mws_outq *outq, mws_msg *msg)
{
    apr_status_t rv = mws_outq_push_msg(outq, msg);

    /* wc is read only for a refusal: a publish to thousands of members
     * touches their queues alone. */
    if (rv == APR_ENOSPC
        && (wc->slow_drop || (apr_off_t)msg->len > wc->max_pending)) {
        mws_status_dropped();
    }
    return rv;
}

/* ---- takeover ----------------------------------------------------------- */

apr_status_t mws_conn_create(mws_conn **pwc, request_rec *r,
                             const mws_dir_conf *conf,
                             const mws_handshake *hs, mws_runner_e runner)
{
    conn_rec *c = r->connection;
    ws_limits_t limits;
    apr_pool_t *pool;
    mws_conn *wc;
    apr_status_t rv;

    /* The connection ends with the WebSocket: its pool is ours, and a
     * subpool would cost an idle WebSocket another 8 KiB block. */
    pool = c->pool;
    wc = apr_pcalloc(pool, sizeof(*wc));
    wc->pub.ops = &conn_ops;
    wc->pub.id = ((apr_uint64_t)getpid() << 32)
                 | apr_atomic_inc32(&next_id);
    wc->pub.r = r;
    wc->pub.pool = pool;
    wc->pub.protocol = hs->protocol;
    wc->pub.channels = hs->channels;
    wc->pub.may_publish = hs->may_publish;
    wc->c = c;
    wc->r = r;
    wc->conf = conf;
    wc->owner = apr_os_thread_current();
    wc->max_pending = mws_config_max_pending(conf);
    wc->slow_drop = mws_config_slow_consumer(conf) == MWS_SLOW_DROP;
    wc->idle_timeout = mws_config_idle_timeout(conf);
    wc->ping_interval = mws_config_ping_interval(conf);
    wc->close_timeout = mws_config_close_timeout(conf);
    wc->started = wc->last_rx = wc->last_msg = apr_time_now();
    wc->bb_in = apr_brigade_create(pool, c->bucket_alloc);
    wc->bb_out = apr_brigade_create(pool, c->bucket_alloc);

    limits.max_message = (apr_uint64_t)mws_config_max_message(conf);
    limits.max_frame = (apr_uint64_t)mws_config_max_frame(conf);
    if ((rv = ws_session_create(&wc->session, pool, &limits,
                                &conn_callbacks, wc)) != APR_SUCCESS
        || ((wc->inflates = hs->extensions != NULL)
            && (rv = ws_session_set_deflate(wc->session, &hs->deflate))
               != APR_SUCCESS)
        || (rv = mws_outq_create(&wc->outq, pool,
                                 (apr_size_t)wc->max_pending,
                                 wc->slow_drop)) != APR_SUCCESS
        || (c->master
            && (rv = mws_h2_out_create(&wc->h2, c, wc->pub.id))
               != APR_SUCCESS)) {
        return rv;
    }
    wc->runner = runner;
    *pwc = wc;
    return APR_SUCCESS;
}

apr_status_t mws_conn_open(mws_conn *wc)
{
    const websocket_handler *handler = wc->conf->handler;

    if (handler->open && handler->open(&wc->pub) != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, wc->c, WSLOGNO(00008)
                      MWS_CONN_FMT "handler %s failed to open", wc->pub.id,
                      wc->conf->handler_name);
        /* What it joined before failing is left. */
        mws_channel_leave_all(&wc->channels);
        return APR_EGENERAL;
    }
    wc->opened = 1;
    if (wc->channels.first && mws_channel_has_bus()) {
        /* Told that it is connected, the client may expect what is
         * published next: the broker routes its channels here first. */
        mws_channel_barrier(MWS_JOIN_BARRIER_TIMEOUT);
    }
    return APR_SUCCESS;
}

void mws_conn_take_over(mws_conn *wc, const mws_handshake *hs)
{
    conn_rec *c = wc->c;
    request_rec *r = wc->r;

    /* Frames go to and come from the connection's filters only: request
     * filters (HTTP_IN, DEFLATE, CHUNK, ...) never see them. */
    r->input_filters = r->proto_input_filters = c->input_filters;
    r->output_filters = r->proto_output_filters = c->output_filters;
    /* mod_reqtimeout would end an idle WebSocket (its output filter only
     * watches for the request's end), and mod_ssl's coalescing filter
     * would hold small frames until a FLUSH we never send. */
    ap_remove_input_filter_byhandle(c->input_filters, "reqtimeout");
    ap_remove_output_filter_byhandle(c->output_filters, "reqtimeout");
    ap_remove_output_filter_byhandle(c->output_filters,
                                     "SSL/TLS Coalescing Filter");
    c->keepalive = AP_CONN_CLOSE;
    if (!c->master) {
        /* A peer that vanished without a FIN is found by the kernel at
         * last, even with WebSocketPingInterval off. */
        apr_socket_opt_set(ap_get_conn_socket(c), APR_SO_KEEPALIVE, 1);
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, WSLOGNO(00005)
                  MWS_CONN_FMT "open: %s handler %s%s%s%s%s", wc->pub.id,
                  r->uri, wc->conf->handler_name,
                  hs->protocol ? ", subprotocol " : "",
                  hs->protocol ? hs->protocol : "",
                  hs->extensions ? ", " : "",
                  hs->extensions ? hs->extensions : "");
    mws_status_open(wc->runner);
}

mws_outq *mws_conn_outq(mws_conn *wc)
{
    return wc->outq;
}

/* Is @a f the core's (@a core) or mod_logio's, which only counts? */
static int filter_is_plain(const ap_filter_t *f, ap_filter_rec_t *core)
{
    return f->frec == core || !strcasecmp(f->frec->name, "log_input_output");
}

int mws_conn_filters_plain(conn_rec *c)
{
    ap_filter_t *f;

    if (c->master) {
        return 0;
    }
    for (f = c->input_filters; f; f = f->next) {
        if (!filter_is_plain(f, ap_core_input_filter_handle)) {
            return 0;
        }
    }
    for (f = c->output_filters; f; f = f->next) {
        if (!filter_is_plain(f, ap_core_output_filter_handle)) {
            return 0;
        }
    }
    return 1;
}

void mws_conn_use_thread_memory(mws_conn *wc, apr_pool_t *buffers,
                                apr_bucket_alloc_t *list, char *read_buf)
{
    ws_session_set_buffer_pool(wc->session, buffers);
    /* Frames are written into buckets of bb_out's allocator. It is empty:
     * no frame is written before the first round (open's sends wait in
     * the outq). */
    AP_DEBUG_ASSERT(APR_BRIGADE_EMPTY(wc->bb_out));
    wc->bb_out->bucket_alloc = list;
    wc->read_buf = read_buf;
    wc->may_direct = read_buf != NULL;
}

request_rec *mws_conn_request(mws_conn *wc)
{
    return wc->r;
}

void mws_conn_close(mws_conn *wc, int code, const char *reason,
                    apr_interval_time_t timeout)
{
    apr_time_t deadline = apr_time_now() + timeout;

    if (ws_session_state(wc->session) == WS_STATE_OPEN) {
        ws_session_close(wc->session, code, reason);
    }
    /* A closing WebSocket only gets shorter deadlines: a stopping child
     * cuts short a close handshake already under way. */
    if (!wc->close_deadline || deadline < wc->close_deadline) {
        wc->close_deadline = deadline;
    }
}

void mws_conn_say_goodbye(mws_conn *wc, int now)
{
    /* RFC 6455 §7.4.1: 1001, the server is going away; a stopping server
     * waits only briefly for the client's answer. */
    mws_conn_close(wc, WEBSOCKET_CLOSE_GOING_AWAY, "server stopping",
                   now ? 0 : MWS_STOP_CLOSE_TIMEOUT);
}

/* ---- the pump -------------------------------------------------------- */

/* The engine stopped: log why, once, at the level the cause deserves. */
static void log_feed_status(mws_conn *wc, apr_status_t rv)
{
    if (rv == WS_EPROTO || rv == WS_EBADUTF8 || rv == WS_ETOOBIG) {
        /* The client's fault: INFO, as httpd logs bad requests. */
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, wc->c, WSLOGNO(00006)
                      MWS_CONN_FMT "client %s failed the WebSocket: %s; "
                      "closed with %d", wc->pub.id, wc->c->client_ip,
                      ws_session_close_reason(wc->session),
                      ws_session_close_code(wc->session));
    }
    else if (rv != APR_EOF) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, wc->c, WSLOGNO(00007)
                      MWS_CONN_FMT "processing input failed", wc->pub.id);
        wc->lost = 1;
    }
}

/* Has this round done its share? */
static int round_spent(mws_conn *wc, apr_off_t read, apr_uint64_t decoded0)
{
    return read >= MWS_ROUND_READ
           || ws_session_decoded(wc->session) - decoded0 >= MWS_ROUND_DECODED
           || wc->msgs_in - wc->round_msgs >= MWS_ROUND_MESSAGES;
}

/* Feed the engine what bb_in holds, a slice at a time, until it is empty
 * (0) or the round's budget is spent (1: the rest stays in bb_in). */
static int feed_input(mws_conn *wc, apr_off_t read, apr_uint64_t decoded0)
{
    conn_rec *c = wc->c;
    apr_status_t rv;

    while (!APR_BRIGADE_EMPTY(wc->bb_in)) {
        apr_bucket *b = APR_BRIGADE_FIRST(wc->bb_in);
        const char *data;
        apr_size_t len;

        if (ws_session_state(wc->session) == WS_STATE_CLOSED) {
            /* Nothing after the close (or the failure) is read, not even
             * the end of the stream: our close frame is still to go. */
            apr_brigade_cleanup(wc->bb_in);
            return 0;
        }
        if (APR_BUCKET_IS_EOS(b)) {
            apr_bucket_delete(b);
            /* On an HTTP/2 stream (c->master set), mod_http2 ends the
             * upgrade request's body with an EOS before the stream's
             * data; a later one means the client ended the stream. */
            if (c->master && !wc->upgrade_eos) {
                wc->upgrade_eos = 1;
                continue;
            }
            wc->lost = 1;
            return 0;
        }
        if (APR_BUCKET_IS_METADATA(b)) {
            apr_bucket_delete(b);
            continue;
        }
        if (round_spent(wc, read, decoded0)) {
            /* Keep the rest for the next round: the filters' buffers
             * (mod_ssl's) are theirs again at the next read. */
            for (; b != APR_BRIGADE_SENTINEL(wc->bb_in);
                 b = APR_BUCKET_NEXT(b)) {
                apr_bucket_setaside(b, c->pool);
            }
            return 1;
        }
        if (wc->inflates && b->length > MWS_FEED_SLICE) {
            apr_bucket_split(b, MWS_FEED_SLICE);
        }
        rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) {
            wc->lost = 1;
            return 0;
        }
        wc->bytes_in += len;
        rv = ws_session_feed(wc->session, data, len);
        apr_bucket_delete(b);
        if (rv != APR_SUCCESS) {
            log_feed_status(wc, rv);
            if (wc->lost) {
                return 0;
            }
        }
    }
    return 0;
}

/* A WebSocket that reads and writes its socket itself takes no more
 * buffers from its connection's memory: its allocator keeps no free block
 * from now on (0 would be no limit), and gives back the one it kept for
 * the core's reads (at most one, mws_async.c). */
#define MWS_DIRECT_CONN_MAX_FREE 1

static void conn_memory_trim(conn_rec *c)
{
    apr_allocator_t *a = apr_pool_allocator_get(c->pool);
    apr_memnode_t *node;

    apr_allocator_max_free_set(a, MWS_DIRECT_CONN_MAX_FREE);
    if ((node = apr_allocator_alloc(a, APR_BUCKET_BUFF_SIZE))) {
        apr_allocator_free(a, node);
    }
}

/* Read the socket into the thread's buffer: the core would read each time
 * into a new 8 KB bucket buffer of the connection's memory, which an idle
 * WebSocket would keep. What is not fed this round is set aside. A read
 * that did not fill the buffer emptied the socket (*pdrained): the poll,
 * level-triggered, reports what comes after, so no read to learn that
 * nothing more is there. */
static apr_status_t read_direct(mws_conn *wc, int *pdrained)
{
    conn_rec *c = wc->c;
    apr_interval_time_t timeout;
    apr_size_t len = MWS_DIRECT_READ_SIZE;
    apr_status_t rv;

    apr_socket_timeout_get(wc->direct, &timeout);
    apr_socket_timeout_set(wc->direct, 0);
    rv = apr_socket_recv(wc->direct, wc->read_buf, &len);
    apr_socket_timeout_set(wc->direct, timeout);
    if (len) {
        APR_BRIGADE_INSERT_TAIL(wc->bb_in, apr_bucket_transient_create(
                                    wc->read_buf, len, c->bucket_alloc));
        if (logio_add_bytes_in) {
            logio_add_bytes_in(c, len);     /* what its filter would count */
        }
        *pdrained = len < MWS_DIRECT_READ_SIZE;
        return APR_SUCCESS;
    }
    if (rv == APR_EOF || rv == APR_SUCCESS) {
        APR_BRIGADE_INSERT_TAIL(wc->bb_in,
                                apr_bucket_eos_create(c->bucket_alloc));
        return APR_SUCCESS;
    }
    return rv;
}

/* Read until the filters have nothing more (empty brigade = EAGAIN): TLS
 * and the core may hold bytes the socket will never signal again. Stop at
 * the pending-output mark (a client that does not read its answers is not
 * read either: read_held), or when the round's budget is spent.
 * @return 1 if input may be waiting that no poll would report */
static int read_input(mws_conn *wc)
{
    conn_rec *c = wc->c;
    apr_uint64_t decoded0 = ws_session_decoded(wc->session);
    apr_off_t read = 0, before;
    apr_status_t rv;
    int drained = 0;

    wc->round_msgs = wc->msgs_in;
    wc->read_held = 0;
    wc->caught_up = 0;
    for (;;) {
        before = wc->bytes_in;
        if (feed_input(wc, read, decoded0)) {
            return 1;
        }
        read += wc->bytes_in - before;
        if (wc->lost || ws_session_state(wc->session) == WS_STATE_CLOSED) {
            return 0;
        }
        if (wc->out_len >= wc->max_pending) {
            wc->read_held = 1;
            return 0;
        }
        if (round_spent(wc, read, decoded0)) {
            return 1;
        }
        if (drained) {
            rv = APR_EAGAIN;
        }
        else if (wc->direct) {
            rv = read_direct(wc, &drained);
        }
        else {
            rv = ap_get_brigade(c->input_filters, wc->bb_in,
                                AP_MODE_READBYTES, APR_NONBLOCK_READ,
                                MWS_READ_SIZE);
            if (wc->may_direct && (APR_STATUS_IS_EAGAIN(rv)
                                   || (rv == APR_SUCCESS
                                       && APR_BRIGADE_EMPTY(wc->bb_in)))) {
                /* The core found the socket empty (a non-blocking read
                 * that would wait is an empty brigade to it): it holds no
                 * more of what the client sent. */
                wc->direct = ap_get_conn_socket(c);
                conn_memory_trim(c);
                ap_log_cerror(APLOG_MARK, APLOG_TRACE1, 0, c,
                              MWS_CONN_FMT "reads its socket itself now",
                              wc->pub.id);
            }
        }
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(wc->bb_in))) {
            /* Caught up: an idle WebSocket keeps no message buffers. */
            ws_session_trim(wc->session);
            wc->caught_up = 1;
            return 0;
        }
        if (rv != APR_SUCCESS) {
            ap_log_cerror(APLOG_MARK, APLOG_TRACE1, rv, c,
                          MWS_CONN_FMT "read failed", wc->pub.id);
            wc->lost = 1;
            return 0;
        }
        wc->last_rx = apr_time_now();
    }
}

/* Send one queued message: a copy, or the shared @a msg. */
static void send_queued(mws_conn *wc, int type, const char *data,
                        apr_size_t len, const mws_msg *msg, apr_time_t *pnow)
{
    wc->sending = msg;
    if (ws_session_send(wc->session, (ws_opcode_e)type, data, len)
        == APR_SUCCESS) {
        ++wc->msgs_out;
        wc->last_msg = *pnow ? *pnow : (*pnow = apr_time_now());
    }
    wc->sending = NULL;
}

/* Send what other threads queued, in their order. */
static void drain_outq(mws_conn *wc)
{
    mws_outq_item *item;
    apr_time_t now = 0;
    apr_size_t i;
    int overflow;

    for (item = mws_outq_take(wc->outq, &overflow); item; item = item->next) {
        switch (item->kind) {
        case MWS_OUTQ_TEXT:
        case MWS_OUTQ_BINARY:
            send_queued(wc, item->kind, item->u.data, item->len, NULL, &now);
            break;
        case MWS_OUTQ_SHARED:
            for (i = 0; i < item->len; ++i) {
                const mws_msg *msg = item->u.msgs[i];

                send_queued(wc, msg->type, msg->data, msg->len, msg, &now);
            }
            break;
        case MWS_OUTQ_PING:
            ws_session_ping(wc->session, item->u.data, item->len);
            break;
        case MWS_OUTQ_CLOSE:
            mws_conn_close(wc, item->code, item->u.data, wc->close_timeout);
            break;
        }
    }
    mws_outq_release(wc->outq);
    if (overflow && ws_session_state(wc->session) == WS_STATE_OPEN) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, wc->c, WSLOGNO(00016)
                      MWS_CONN_FMT "client %s reads too slowly: over %"
                      APR_OFF_T_FMT " bytes pending; closed with 1008",
                      wc->pub.id, wc->c->client_ip, wc->max_pending);
        mws_status_slow_closed();
        mws_conn_close(wc, WEBSOCKET_CLOSE_POLICY, "slow consumer",
                       wc->close_timeout);
    }
}

/* Add what this WebSocket carried since the last report to the server's
 * counters: once a round, not once a message. */
static void report_traffic(mws_conn *wc)
{
    apr_off_t now[4];

    now[0] = wc->msgs_in;
    now[1] = wc->msgs_out;
    now[2] = wc->bytes_in;
    now[3] = wc->bytes_out;
    if (memcmp(now, wc->reported, sizeof(now))) {
        mws_status_traffic(now[0] - wc->reported[0], now[1] - wc->reported[1],
                           now[2] - wc->reported[2], now[3] - wc->reported[3]);
        memcpy(wc->reported, now, sizeof(now));
    }
}

/* 2.4 has no ap_filter_output_pending(): call the last output filter with
 * no data, which writes what it holds without blocking, and ask it whether
 * anything is left (as proxy_util.c does). An HTTP/2 stream's filters
 * never hold anything, but mod_http2 blocks a pass while the stream has
 * not taken enough of what came before: there the next chunk waits until
 * the last one was taken (mws_h2.c). */
static apr_status_t output_pending(mws_conn *wc, int *ppending)
{
    conn_rec *c = wc->c;
    ap_filter_t *f = c->output_filters;
    apr_status_t rv;

    if (wc->h2) {
        *ppending = 0;
        if (APR_BRIGADE_EMPTY(wc->bb_out)) {
            return APR_SUCCESS;
        }
        return mws_h2_out_busy(wc->h2, ppending);
    }
    while (f->next) {
        f = f->next;
    }
    rv = f->frec->filter_func.out_func(f, NULL);
    *ppending = c->data_in_output_filters;
    return rv;
}

/* Write bb_out to the socket as far as it takes it now: the core would
 * keep frames of less than 4 KB for a later write, in a pool of its own
 * that every WebSocket would then keep. */
static void write_direct(mws_conn *wc)
{
    struct iovec vec[MWS_DIRECT_IOVECS];
    apr_interval_time_t timeout;
    apr_size_t written, len;
    apr_status_t rv = APR_SUCCESS;
    const char *data;
    apr_bucket *b;
    int n;

    while (rv == APR_SUCCESS && !APR_BRIGADE_EMPTY(wc->bb_out)) {
        for (n = 0, b = APR_BRIGADE_FIRST(wc->bb_out);
             n < MWS_DIRECT_IOVECS && b != APR_BRIGADE_SENTINEL(wc->bb_out);
             b = APR_BUCKET_NEXT(b)) {
            if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ)
                != APR_SUCCESS) {
                wc->lost = 1;
                return;
            }
            if (len) {
                vec[n].iov_base = (void *)data;
                vec[n++].iov_len = len;
            }
        }
        written = 0;
        if (n) {
            apr_socket_timeout_get(wc->direct_out, &timeout);
            apr_socket_timeout_set(wc->direct_out, 0);
            rv = apr_socket_sendv(wc->direct_out, vec, n, &written);
            apr_socket_timeout_set(wc->direct_out, timeout);
        }
        /* What went out leaves bb_out (and frees its buckets). */
        if (apr_brigade_partition(wc->bb_out, written, &b) != APR_SUCCESS) {
            wc->lost = 1;
            return;
        }
        while (APR_BRIGADE_FIRST(wc->bb_out) != b) {
            apr_bucket_delete(APR_BRIGADE_FIRST(wc->bb_out));
        }
        wc->bytes_out += written;
        wc->out_len -= written;
        if (written && logio_add_bytes_out) {
            logio_add_bytes_out(wc->c, written);
        }
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
        ap_log_cerror(APLOG_MARK, APLOG_TRACE1, rv, wc->c,
                      MWS_CONN_FMT "write failed", wc->pub.id);
        wc->lost = 1;
    }
    wc->want_write = !APR_BRIGADE_EMPTY(wc->bb_out);
}

/* Hand bb_out to the filters in chunks the core takes without blocking;
 * stop while the core still holds unsent bytes (the runner polls POLLOUT). */
static void write_output(mws_conn *wc)
{
    conn_rec *c = wc->c;
    apr_bucket *e;
    apr_off_t chunk;
    apr_status_t rv;
    int pending;

    for (;;) {
        if (wc->direct_out) {
            write_direct(wc);
            return;
        }
        if ((rv = output_pending(wc, &pending)) != APR_SUCCESS) {
            wc->lost = 1;
            return;
        }
        if (!pending && wc->may_direct) {
            /* The core holds nothing of ours: from now on we write. */
            wc->direct_out = ap_get_conn_socket(c);
            ap_log_cerror(APLOG_MARK, APLOG_TRACE1, 0, c,
                          MWS_CONN_FMT "writes its socket itself now",
                          wc->pub.id);
            continue;
        }
        wc->want_write = pending ? 1 : 0;
        if (pending || APR_BRIGADE_EMPTY(wc->bb_out)) {
            return;
        }
        rv = apr_brigade_partition(wc->bb_out, MWS_WRITE_CHUNK, &e);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
            wc->lost = 1;
            return;
        }
        /* bb_tmp takes the rest; bb_out keeps one chunk to pass. It is
         * made here: a WebSocket that writes its socket itself from its
         * first frame on never needs it. */
        if (!wc->bb_tmp) {
            wc->bb_tmp = apr_brigade_create(c->pool, wc->bb_out->bucket_alloc);
        }
        apr_brigade_split_ex(wc->bb_out, e, wc->bb_tmp);
        chunk = wc->out_len > MWS_WRITE_CHUNK ? MWS_WRITE_CHUNK : wc->out_len;
        wc->bytes_out += chunk;
        wc->out_len -= chunk;
        rv = wc->h2 ? mws_h2_out_pass(wc->h2, wc->bb_out)
                    : ap_pass_brigade(c->output_filters, wc->bb_out);
        apr_brigade_cleanup(wc->bb_out);
        APR_BRIGADE_CONCAT(wc->bb_out, wc->bb_tmp);
        if (rv != APR_SUCCESS) {
            ap_log_cerror(APLOG_MARK, APLOG_TRACE1, rv, c,
                          MWS_CONN_FMT "write failed", wc->pub.id);
            wc->lost = 1;
            return;
        }
    }
}

static void deadline_min(apr_time_t *pdeadline, apr_time_t t)
{
    if (!*pdeadline || t < *pdeadline) {
        *pdeadline = t;
    }
}

/* The timers of an open WebSocket: the idle timeout, and pings to a
 * silent client, which must answer (or say anything) before the next
 * one is due. */
static void run_timers(mws_conn *wc, apr_time_t now, apr_time_t *pdeadline)
{
    if (wc->idle_timeout) {
        if (now - wc->last_msg >= wc->idle_timeout) {
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, wc->c, WSLOGNO(00017)
                          MWS_CONN_FMT "no message for %" APR_TIME_T_FMT
                          " ms (WebSocketIdleTimeout): closing", wc->pub.id,
                          apr_time_as_msec(now - wc->last_msg));
            mws_conn_close(wc, WEBSOCKET_CLOSE_GOING_AWAY, "idle timeout",
                           wc->close_timeout);
            return;
        }
        deadline_min(pdeadline, wc->last_msg + wc->idle_timeout);
    }
    if (!wc->ping_interval) {
        return;
    }
    if (wc->ping_sent && wc->last_rx >= wc->ping_sent) {
        wc->ping_sent = 0;
    }
    if (wc->ping_sent) {
        if (now - wc->ping_sent >= wc->ping_interval) {
            /* Most likely gone without a FIN: a last close frame, no wait;
             * the handler sees 1006, as no close frame came back. */
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, wc->c, WSLOGNO(00018)
                          MWS_CONN_FMT "client %s did not answer a ping in %"
                          APR_TIME_T_FMT " ms: dropped", wc->pub.id,
                          wc->c->client_ip,
                          apr_time_as_msec(wc->ping_interval));
            mws_conn_close(wc, WEBSOCKET_CLOSE_GOING_AWAY, "ping timeout", 0);
            wc->timed_out = 1;
            return;
        }
        deadline_min(pdeadline, wc->ping_sent + wc->ping_interval);
    }
    else if (now - wc->last_rx >= wc->ping_interval) {
        ws_session_ping(wc->session, NULL, 0);
        wc->ping_sent = now;
        deadline_min(pdeadline, now + wc->ping_interval);
    }
    else {
        deadline_min(pdeadline, wc->last_rx + wc->ping_interval);
    }
}

apr_status_t mws_conn_pump(mws_conn *wc, int readable,
                           apr_int16_t *preqevents, apr_time_t *pdeadline)
{
    ws_state_e state;
    apr_time_t now, deadline = 0;
    int more;

    wc->pumping = 1;
    if (!wc->begun) {
        /* The first round runs on the thread that owns the connection from
         * now on: every callback but open runs there. */
        wc->begun = 1;
        wc->owner = apr_os_thread_current();
    }
    /* Input that no poll reported waits only where the last read stopped
     * before the filters ran dry: a round for queued sends, a timer or a
     * goodbye costs no read otherwise. */
    more = readable || !wc->caught_up ? read_input(wc) : 0;
    if (!wc->lost) {
        now = apr_time_now();
        if (ws_session_state(wc->session) == WS_STATE_OPEN) {
            run_timers(wc, now, &deadline);
        }
        drain_outq(wc);
        write_output(wc);
        if (wc->opened && wc->conf->handler->writable && !wc->lost
            && wc->out_len < wc->max_pending
            && mws_outq_refused(wc->outq)) {
            /* Sends were refused, and the client has caught up since; what
             * the handler sends now goes out next round. */
            wc->conf->handler->writable(&wc->pub);
            more = 1;
        }
    }
    wc->pumping = 0;
    report_traffic(wc);
    if (wc->lost) {
        return APR_EOF;
    }
    mws_outq_set_backlog(wc->outq, (apr_size_t)wc->out_len);

    state = ws_session_state(wc->session);
    if (state == WS_STATE_CLOSED && !wc->want_write
        && APR_BRIGADE_EMPTY(wc->bb_out)) {
        return APR_EOF;
    }
    if (state != WS_STATE_OPEN && !wc->close_deadline) {
        /* The client closed or broke the protocol: what we still send
         * (the close frame at least) gets as long as a close handshake. */
        wc->close_deadline = apr_time_now() + wc->close_timeout;
    }
    /* A stream has no POLLOUT: the deadline below looks again. */
    *preqevents = wc->want_write && !wc->h2 ? APR_POLLOUT : 0;
    if (state != WS_STATE_CLOSED && wc->out_len < wc->max_pending) {
        *preqevents |= APR_POLLIN;
        /* Reading stopped for output that is now written: what the
         * filters hold already (the core's read-ahead, a TLS record)
         * would wake no poll. */
        more |= wc->read_held;
    }
    if (wc->close_deadline) {
        if (apr_time_now() >= wc->close_deadline) {
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, wc->c, WSLOGNO(00009)
                          MWS_CONN_FMT "no close frame from the client in "
                          "time", wc->pub.id);
            wc->timed_out = 1;
            return APR_EOF;
        }
        deadline = wc->close_deadline;
    }
    if (wc->want_write && wc->h2) {
        deadline_min(&deadline, mws_h2_out_next_check(wc->h2));
    }
    *pdeadline = deadline;
    return more && state != WS_STATE_CLOSED ? APR_EAGAIN : APR_SUCCESS;
}

void mws_conn_finish(mws_conn *wc)
{
    int code = ws_session_close_code(wc->session);
    const char *reason = ws_session_close_reason(wc->session);
    apr_size_t dropped;

    if (wc->finished) {
        return;
    }
    wc->finished = 1;
    /* No publish reaches it from now on, then no push. */
    mws_channel_leave_all(&wc->channels);
    dropped = mws_outq_shut(wc->outq);
    if (code == 0 || ws_session_state(wc->session) != WS_STATE_CLOSED) {
        /* RFC 6455 §7.1.5: closed without receiving a close frame. */
        code = WEBSOCKET_CLOSE_ABNORMAL;
        reason = "";
    }
    if (wc->lost || (wc->timed_out && (wc->want_write
                                       || !APR_BRIGADE_EMPTY(wc->bb_out)))) {
        /* What is still unsent would never be read: httpd must not wait
         * to flush it when it closes the connection. */
        wc->c->aborted = 1;
    }
    if (wc->opened && wc->conf->handler->close) {
        wc->conf->handler->close(&wc->pub, code, reason);
    }
    report_traffic(wc);
    mws_status_close(wc->runner, code);
    /* The access log line of the upgrade request, written when the request
     * ends, shows 101, the WebSocket's duration and its bytes. */
    wc->r->status = HTTP_SWITCHING_PROTOCOLS;
    wc->r->sent_bodyct = 1;
    wc->r->bytes_sent = wc->bytes_out;
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, wc->c, WSLOGNO(00010)
                  MWS_CONN_FMT "closed: code %d, %" APR_TIME_T_FMT " ms, "
                  "in %" APR_OFF_T_FMT " bytes/%" APR_OFF_T_FMT " messages, "
                  "out %" APR_OFF_T_FMT " bytes/%" APR_OFF_T_FMT " messages, "
                  "%" APR_SIZE_T_FMT " pushes dropped",
                  wc->pub.id, code,
                  apr_time_as_msec(apr_time_now() - wc->started),
                  wc->bytes_in, wc->msgs_in, wc->bytes_out, wc->msgs_out,
                  dropped);
}

static void conn_retrieve_optional_fns(void)
{
    logio_add_bytes_in = APR_RETRIEVE_OPTIONAL_FN(ap_logio_add_bytes_in);
    logio_add_bytes_out = APR_RETRIEVE_OPTIONAL_FN(ap_logio_add_bytes_out);
}

void mws_conn_register_hooks(apr_pool_t *p)
{
    ap_hook_optional_fn_retrieve(conn_retrieve_optional_fns, NULL, NULL,
                                 APR_HOOK_MIDDLE);
}

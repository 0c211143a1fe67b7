/* mod_websocket_amqp.c: the "amqp" bus: WebSocket channels across children and servers through an AMQP 0-9-1 broker (RabbitMQ), with rabbitmq-c. */
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* rabbitmq-c 0.12 moved its headers into rabbitmq-c/; Debian 12 has 0.11. */
#if defined(__has_include)
#if __has_include(<rabbitmq-c/amqp.h>)
#define MWS_AMQP_HEADERS_IN_DIR 1
#endif
#endif
#ifdef MWS_AMQP_HEADERS_IN_DIR
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/ssl_socket.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#endif
#include <openssl/ssl.h>

#include "mod_websocket_bus.h"

/*
 *   LoadModule websocket_amqp_module modules/mod_websocket_amqp.so
 *   WebSocketBroker amqp://user:password@broker.example:5672/vhost
 *   WebSocketBrokerExchange websocket              # the default
 *   WebSocketBrokerCACertificateFile /etc/ssl/broker-ca.pem   # amqps://
 *
 * Each child has one AMQP connection, run by a thread of its own: a
 * topic exchange (durable, so that it is there for the applications after
 * a broker restart), one exclusive, auto-delete, server-named queue bound
 * with routing key CHANNEL while the child has members of CHANNEL, and a
 * consumer without acks: the queue lives and dies with the connection, so
 * an ack would keep nothing that a lost connection does not lose anyway,
 * and a WebSocket message is a live event, not a job to retry.
 *
 * While we are connected, every publish makes the round trip: we publish
 * it (stamped with the child's origin, for the applications on the bus)
 * and deliver all that the broker brings back, our own included. Each
 * member thus gets a message once, and all members get a channel's
 * messages in the one order in which the broker routed them, whichever
 * child or server published them. While we are not connected, publish
 * says so (WEBSOCKET_BUS_DOWN) and the core delivers to its own members.
 *
 * Other threads (subscribe, unsubscribe, publish) only append to two
 * lists under a small mutex and wake the thread through a pipe; the
 * outgoing list is bounded (AMQP_BUS_QUEUE_BYTES, AMQP_BUS_QUEUE_MSGS).
 * Every call the thread makes on the network has a deadline, and the
 * child's cleanup cuts the socket if the thread does not finish in time.
 *
 * barrier: each queued operation gets a sequence number; the thread
 * advances "done", below which every operation is done: a (un)bind when
 * the broker answered it, a publish when the broker confirmed it
 * (publisher confirms, a RabbitMQ extension of AMQP 0-9-1: confirm.select,
 * then basic.ack or basic.nack per delivery tag). barrier waits for done
 * to reach what was queued when it was called; a lost connection fails
 * the waits whose operations it lost.
 */

APLOG_USE_MODULE(websocket_amqp);

#define AMQP_BUS_PROVIDER       "amqp"
#define AMQP_BUS_CHANNEL        1       /* the one AMQP channel we open */
#define AMQP_BUS_HEARTBEAT      30      /* s we propose; the broker may lower it */
#define AMQP_BUS_FRAME_MAX      131072  /* RabbitMQ's default */
#define AMQP_BUS_CONNECT_TIMEOUT 5      /* s: TCP (and TLS) connect */
#define AMQP_BUS_RPC_TIMEOUT    5       /* s: login and each declare, bind, ... */
#define AMQP_BUS_CLOSE_TIMEOUT  1       /* s: channel.close, connection.close */
#define AMQP_BUS_STOP_WAIT      apr_time_from_sec(2)    /* then cut the socket */
#define AMQP_BUS_POLL_MS        1000    /* heartbeats are checked this often */
#define AMQP_BUS_FRAME_BUDGET   1024    /* frames read between two sends */

/* Reconnecting: the first retry after AMQP_BUS_BACKOFF_MIN, each one
 * twice as late as the one before, never later than AMQP_BUS_BACKOFF_MAX
 * (the README says 5 s). */
#define AMQP_BUS_BACKOFF_MIN    apr_time_from_msec(100)
#define AMQP_BUS_BACKOFF_MAX    apr_time_from_sec(5)

/* What waits to be published, per child: past either bound, publish()
 * drops (APR_ENOSPC). A message longer than the bytes is never sent, and
 * one from the broker longer than AMQP_BUS_MAX_BODY is not delivered. */
#define AMQP_BUS_QUEUE_BYTES    (16 * 1024 * 1024)
#define AMQP_BUS_QUEUE_MSGS     10000
#define AMQP_BUS_MAX_BODY       (16 * 1024 * 1024)

/* Message properties (AMQP 0-9-1 §4.2.6 basic.properties). */
#define AMQP_BUS_TYPE_TEXT      "text/plain; charset=utf-8"
#define AMQP_BUS_TYPE_BINARY    "application/octet-stream"
#define AMQP_BUS_H_ORIGIN       "x-websocket-origin"
#define AMQP_BUS_H_USER         "x-websocket-user"
#define AMQP_BUS_H_ID           "x-websocket-id"
#define AMQP_BUS_H_SERVER       "x-websocket-server"
#define AMQP_BUS_DELIVERY_TRANSIENT 1

/* ---- configuration ------------------------------------------------------ */

/* WebSocketBrokerCACertificateFile: server-wide, like WebSocketBroker. */
static struct {
    const char *ca_file;        /* NULL: the system's default CA store */
} amqp_conf;

static const char *amqp_set_ca_file(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *path;
    apr_finfo_t finfo;

    if (err) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || apr_stat(&finfo, path, APR_FINFO_TYPE, cmd->temp_pool)
                 != APR_SUCCESS || finfo.filetype != APR_REG) {
        return apr_psprintf(cmd->pool, "WebSocketBrokerCACertificateFile: "
                            "'%s' is not a readable file", arg);
    }
    amqp_conf.ca_file = path;
    return NULL;
}

static int amqp_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp)
{
    amqp_conf.ca_file = NULL;
    return OK;
}

/* ---- the broker's address ----------------------------------------------- */

typedef struct {
    const char *host;
    int port;
    int tls;
    const char *user;
    const char *password;
    const char *vhost;
} amqp_bus_addr;

/*
 * amqp[s]://user:password@host[:port][/vhost], parsed by rabbitmq-c's
 * amqp_parse_url (which writes into its argument: we give it a copy).
 * Its conventions: a missing port is 5672 (5671 for amqps), missing
 * credentials are guest/guest, a missing host is "localhost" (we refuse
 * that instead), no path means vhost "/", a path of "/" means vhost ""
 * (we take that as "/" too), "/%2f" is "/", and "//" is an error.
 * @return NULL, or what is wrong (never the URL: it holds the password).
 */
static const char *amqp_parse(apr_pool_t *p, const char *url,
                              amqp_bus_addr *addr)
{
    struct amqp_connection_info info;
    char *copy = apr_pstrdup(p, url);
    char *sep = strstr(copy, "://");
    apr_size_t len = strlen(copy);

    if (!sep) {
        return "expected amqp://user:password@host[:port][/vhost] "
               "(or amqps://...)";
    }
    *sep = '\0';
    ap_str_tolower(copy);
    if (strcmp(copy, "amqp") && strcmp(copy, "amqps")) {
        return "the URL's scheme must be amqp or amqps";
    }
    *sep = ':';
    if (amqp_parse_url(copy, &info) != AMQP_STATUS_OK) {
        return "not an AMQP URL: expected amqp[s]://user:password@"
               "host[:port][/vhost], reserved characters in the user, "
               "password and vhost %-encoded (%2f for a '/')";
    }
    /* Without a host, amqp_parse_url points at its default. */
    if (!info.host || info.host < copy || info.host >= copy + len
        || !*info.host) {
        return "the URL names no host";
    }
    if (info.port <= 0 || info.port > 65535) {
        return apr_psprintf(p, "port %d of %s is not 1-65535", info.port,
                            info.host);
    }
    if (!*info.user) {
        return apr_psprintf(p, "the URL for %s:%d has an empty user name",
                            info.host, info.port);
    }
    addr->host = info.host;
    addr->port = info.port;
    addr->tls = info.ssl ? 1 : 0;
    addr->user = info.user;
    addr->password = info.password;
    addr->vhost = *info.vhost ? info.vhost : "/";
    return NULL;
}

/* The bus provider's check: WebSocketBroker at configuration time. */
static const char *amqp_bus_check(apr_pool_t *p, const char *url)
{
    amqp_bus_addr addr;

    return amqp_parse(p, url, &addr);
}

/* ---- the bus -------------------------------------------------------------- */

typedef enum {
    AMQP_BUS_OP_PUBLISH,
    AMQP_BUS_OP_BIND,
    AMQP_BUS_OP_UNBIND
} amqp_bus_op_e;

/* One queued publish or (un)bind: malloc'ed by the calling thread, freed
 * by the bus thread (pools belong to one thread; this crosses). */
typedef struct amqp_bus_item amqp_bus_item;
struct amqp_bus_item {
    amqp_bus_item *next;
    apr_uint64_t seq;           /* its place among all queued operations */
    amqp_bus_op_e op;
    websocket_type_e type;
    apr_uint64_t ws_id;
    const char *user;           /* in name[], or NULL */
    const char *data;           /* in name[] */
    apr_size_t len;
    apr_size_t size;            /* what it counts against the bound */
    char name[1];               /* channel '\0' [user '\0'] data */
};

typedef struct {
    amqp_bus_item *first, *last;
    apr_size_t count, bytes;
} amqp_bus_list;

/* A request thread in barrier (on its stack, linked under lock). */
typedef struct amqp_bus_waiter amqp_bus_waiter;
struct amqp_bus_waiter {
    amqp_bus_waiter *next;
    apr_uint64_t target;        /* done when bus->done reaches it */
    int lost;                   /* the connection went first */
};

struct websocket_bus {
    /* Set by start, read-only after. */
    server_rec *s;
    const websocket_bus_core *core;
    amqp_bus_addr addr;
    const char *where;          /* host:port, for the log */
    const char *exchange;
    const char *ca_file;
    apr_thread_t *thread;
    int wake_in, wake_out;      /* the pipe that wakes the thread */

    /* Under lock. */
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *exited_cond;
    int stopping, exited;
    int accepting;              /* connected: publishes and binds queue */
    apr_uint64_t queued;        /* the last sequence number given out */
    apr_uint64_t done;          /* every operation up to it is done */
    apr_thread_cond_t *done_cond;   /* done advanced, or waiters lost */
    amqp_bus_waiter *waiters;
    int woken;                  /* a byte is in the pipe */
    int dropping;               /* in a burst of drops for a full queue */
    apr_uint64_t burst_drops;
    amqp_bus_list cmds;         /* binds and unbinds */
    amqp_bus_list msgs;         /* publishes */
    apr_size_t sending_bytes;   /* taken by the thread, not yet sent */
    apr_size_t sending_count;
    int sockfd;                 /* the connection's, for the cleanup */
};

static void list_append(amqp_bus_list *l, amqp_bus_item *it)
{
    it->next = NULL;
    if (l->last) {
        l->last->next = it;
    }
    else {
        l->first = it;
    }
    l->last = it;
    ++l->count;
    l->bytes += it->size;
}

/* Take the whole list (under lock). */
static amqp_bus_item *list_take(amqp_bus_list *l)
{
    amqp_bus_item *first = l->first;

    l->first = l->last = NULL;
    l->count = l->bytes = 0;
    return first;
}

static apr_size_t items_free(amqp_bus_item *it)
{
    apr_size_t n = 0;

    while (it) {
        amqp_bus_item *next = it->next;

        free(it);
        it = next;
        ++n;
    }
    return n;
}

/* Under lock: make the thread look at its lists. */
static void bus_wake(websocket_bus *bus)
{
    if (!bus->woken) {
        char b = 0;

        bus->woken = 1;
        if (write(bus->wake_out, &b, 1) < 0 && errno != EAGAIN) {
            bus->woken = 0;
        }
    }
}

static void bus_command(websocket_bus *bus, amqp_bus_op_e op,
                        const char *channel)
{
    apr_size_t n = strlen(channel);
    amqp_bus_item *it = malloc(sizeof(*it) + n);

    if (!it) {
        return;
    }
    memcpy(it->name, channel, n + 1);
    it->op = op;
    it->size = sizeof(*it) + n;
    apr_thread_mutex_lock(bus->lock);
    /* Not connected: the thread binds every live channel when it is. */
    if (bus->accepting) {
        it->seq = ++bus->queued;
        list_append(&bus->cmds, it);
        bus_wake(bus);
        it = NULL;
    }
    apr_thread_mutex_unlock(bus->lock);
    free(it);
}

static void amqp_bus_subscribe(websocket_bus *bus, const char *channel)
{
    bus_command(bus, AMQP_BUS_OP_BIND, channel);
}

static void amqp_bus_unsubscribe(websocket_bus *bus, const char *channel)
{
    bus_command(bus, AMQP_BUS_OP_UNBIND, channel);
}

static apr_status_t amqp_bus_publish(websocket_bus *bus,
                                     const websocket_bus_msg *msg)
{
    apr_size_t nchan = strlen(msg->channel);
    apr_size_t nuser = msg->user ? strlen(msg->user) + 1 : 0;
    apr_size_t size = sizeof(amqp_bus_item) + nchan + nuser + msg->len;
    amqp_bus_item *it = NULL;
    apr_uint64_t ended = 0;
    int first_drop = 0, accepting;
    apr_size_t count = 0, bytes = 0;

    /* Not connected: no copy; the core delivers to this child's members,
     * and the message does not cross (counted: the README's "broker
     * down" drops). The thread logged the outage once. */
    apr_thread_mutex_lock(bus->lock);
    accepting = bus->accepting;
    apr_thread_mutex_unlock(bus->lock);
    if (!accepting) {
        bus->core->count(WEBSOCKET_BUS_DROPPED, 1);
        return WEBSOCKET_BUS_DOWN;
    }
    if (size <= AMQP_BUS_QUEUE_BYTES && (it = malloc(size))) {
        char *p = it->name;

        memcpy(p, msg->channel, nchan + 1);
        p += nchan + 1;
        it->user = NULL;
        if (msg->user) {
            memcpy(p, msg->user, nuser);
            it->user = p;
            p += nuser;
        }
        memcpy(p, msg->data, msg->len);
        it->data = p;
        it->len = msg->len;
        it->op = AMQP_BUS_OP_PUBLISH;
        it->type = msg->type;
        it->ws_id = msg->ws_id;
        it->size = size;
    }

    apr_thread_mutex_lock(bus->lock);
    if (!bus->accepting) {
        /* The connection went while we copied: as above. */
        accepting = 0;
    }
    else if (!it || bus->msgs.count + bus->sending_count
                    >= AMQP_BUS_QUEUE_MSGS
             || bus->msgs.bytes + bus->sending_bytes + size
                > AMQP_BUS_QUEUE_BYTES) {
        first_drop = !bus->dropping;
        bus->dropping = 1;
        ++bus->burst_drops;
        count = bus->msgs.count + bus->sending_count;
        bytes = bus->msgs.bytes + bus->sending_bytes;
    }
    else {
        it->seq = ++bus->queued;
        list_append(&bus->msgs, it);
        bus_wake(bus);
        it = NULL;
        if (bus->dropping) {
            ended = bus->burst_drops;
            bus->dropping = 0;
            bus->burst_drops = 0;
        }
    }
    apr_thread_mutex_unlock(bus->lock);

    if (ended) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, bus->s, WEBSOCKET_LOGNO(00045)
                     "broker %s: the outgoing queue takes messages again; "
                     "%" APR_UINT64_T_FMT " were dropped", bus->where,
                     ended);
    }
    if (!accepting) {
        free(it);
        bus->core->count(WEBSOCKET_BUS_DROPPED, 1);
        return WEBSOCKET_BUS_DOWN;
    }
    if (!it) {
        return APR_SUCCESS;
    }
    free(it);
    bus->core->count(WEBSOCKET_BUS_DROPPED, 1);
    if (first_drop) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, bus->s,
                     WEBSOCKET_LOGNO(00044)
                     "broker %s: the outgoing queue is full (%" APR_SIZE_T_FMT
                     " messages, %" APR_SIZE_T_FMT " bytes, or one message "
                     "larger than %d bytes): messages are dropped, for "
                     "every member, until it drains", bus->where,
                     count, bytes, AMQP_BUS_QUEUE_BYTES);
    }
    return APR_ENOSPC;
}

/*
 * Wait until the broker has done what this child queued so far. Only
 * request threads call it; the bus thread never waits for them.
 */
static apr_status_t amqp_bus_barrier(websocket_bus *bus,
                                     apr_interval_time_t timeout)
{
    apr_time_t until = apr_time_now() + timeout;
    amqp_bus_waiter w, **pw;
    apr_status_t rv;

    apr_thread_mutex_lock(bus->lock);
    if (!bus->accepting) {
        apr_thread_mutex_unlock(bus->lock);
        return WEBSOCKET_BUS_DOWN;
    }
    w.target = bus->queued;
    w.lost = 0;
    w.next = bus->waiters;
    bus->waiters = &w;
    for (;;) {
        apr_interval_time_t left;

        if (w.lost) {
            rv = WEBSOCKET_BUS_DOWN;
            break;
        }
        if (bus->done >= w.target) {
            rv = APR_SUCCESS;
            break;
        }
        if ((left = until - apr_time_now()) <= 0) {
            ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, bus->s, "amqp: "
                         "barrier: not done after %" APR_TIME_T_FMT " ms: "
                         "done %" APR_UINT64_T_FMT ", waiting for %"
                         APR_UINT64_T_FMT ", %" APR_SIZE_T_FMT " binds and %"
                         APR_SIZE_T_FMT " publishes queued",
                         apr_time_as_msec(timeout), bus->done, w.target,
                         bus->cmds.count, bus->msgs.count);
            rv = APR_TIMEUP;
            break;
        }
        apr_thread_cond_timedwait(bus->done_cond, bus->lock, left);
    }
    for (pw = &bus->waiters; *pw != &w; pw = &(*pw)->next) {
        /* find ours */
    }
    *pw = w.next;
    apr_thread_mutex_unlock(bus->lock);
    return rv;
}

/* Under lock: the connection is gone with what it had not done; the
 * barriers that waited for any of it fail, and nothing is outstanding
 * any more (what was queued was dropped). */
static void bus_lose(websocket_bus *bus)
{
    amqp_bus_waiter *w;

    for (w = bus->waiters; w; w = w->next) {
        if (w->target > bus->done) {
            w->lost = 1;
        }
    }
    bus->done = bus->queued;
    if (bus->waiters) {
        apr_thread_cond_broadcast(bus->done_cond);
    }
}

/* ---- helpers of the thread ------------------------------------------------ */

/* RFC 3629 §4: well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static int utf8_valid(const unsigned char *s, apr_size_t len)
{
    apr_size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        apr_uint32_t cp, min;
        apr_size_t n, k;

        if (c < 0x80) {
            ++i;
            continue;
        }
        /* lead byte: how many continuation bytes, the payload bits, the
         * smallest code point that needs this many */
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
            min = 0x80;
        }
        else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
            min = 0x800;
        }
        else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        }
        else {
            return 0;
        }
        if (len - i <= n) {
            return 0;
        }
        for (k = 1; k <= n; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

/* Text, as the core's HTTP publisher labels it: text/... and JSON. */
static int is_text_type(amqp_bytes_t type)
{
    return (type.len >= 5 && !strncasecmp(type.bytes, "text/", 5))
           || (type.len >= 16
               && !strncasecmp(type.bytes, "application/json", 16));
}

static struct timeval seconds(int s)
{
    struct timeval tv;

    tv.tv_sec = s;
    tv.tv_usec = 0;
    return tv;
}

/* The broker closed @a closed ("connection" or "channel") with @a code
 * and @a text. */
static const char *closed_why(apr_pool_t *p, const char *what,
                              const char *closed, unsigned code,
                              amqp_bytes_t text)
{
    return apr_psprintf(p, "%s: the broker closed the %s: %u %.*s", what,
                        closed, code, (int)text.len, (char *)text.bytes);
}

/* Why an RPC failed, for the log (the broker's reply text, never ours). */
static const char *reply_why(apr_pool_t *p, amqp_rpc_reply_t r,
                             const char *what)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return NULL;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return apr_psprintf(p, "%s: %s", what,
                            amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = r.reply.decoded;

            return closed_why(p, what, "connection", m->reply_code,
                              m->reply_text);
        }
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = r.reply.decoded;

            return closed_why(p, what, "channel", m->reply_code,
                              m->reply_text);
        }
        return apr_psprintf(p, "%s: unexpected method 0x%08x", what,
                            (unsigned)r.reply.id);
    default:
        return apr_psprintf(p, "%s: no reply", what);
    }
}

/* ---- one connection ------------------------------------------------------- */

typedef enum {
    SESSION_OPEN,               /* connection and channel open */
    SESSION_NO_CHANNEL,         /* the broker closed our channel */
    SESSION_BROKEN              /* nothing more to say on this socket */
} amqp_session_state_e;

/* A message from the broker, while its frames arrive (basic.deliver, a
 * content header, body frames: AMQP 0-9-1 §4.2.6). */
typedef struct {
    int active;                 /* basic.deliver seen */
    int have_header;
    int skip;                   /* too large, or a bad channel name */
    int text;
    apr_size_t size, got;
    char *body;
    char channel[WEBSOCKET_CHANNEL_MAX + 1];
} amqp_bus_rx;

/* A publish the broker has not confirmed yet. */
typedef struct {
    apr_uint64_t seq;
    int done;                   /* confirmed out of turn */
} amqp_bus_unconfirmed;

/* The publishes in flight, by delivery tag: the broker numbers our
 * publishes on the channel 1, 2, ... from confirm.select on, so the
 * oldest, at head, has tag first_tag and the others follow. malloc'ed. */
typedef struct {
    amqp_bus_unconfirmed *slots;
    apr_size_t size, head, count;
    apr_uint64_t first_tag;
} amqp_bus_inflight;

typedef struct {
    websocket_bus *bus;
    apr_pool_t *pool;           /* this connection's: why texts, names */
    apr_pool_t *scratch;        /* one received message; cleared after it */
    amqp_connection_state_t conn;
    amqp_session_state_e state;
    amqp_bytes_t queue;         /* in pool */
    int blocked;                /* connection.blocked: don't send */
    int warned_big;
    int warned_nack;
    int settled;                /* confirms arrived: session_progress */
    amqp_bus_rx rx;
    /* Sequence numbers of what the thread holds and has not done (0:
     * none): the channels bound again after a connect, the (un)binds and
     * publishes taken from the lists, the publishes in flight. */
    apr_uint64_t resync_seq;
    apr_uint64_t cmd_seq, msg_seq;
    amqp_bus_inflight inflight;
} amqp_session;

/* Must the connection end? Also true once the cleanup asked us to stop. */
static int bus_stopping(websocket_bus *bus)
{
    int stopping;

    apr_thread_mutex_lock(bus->lock);
    stopping = bus->stopping;
    apr_thread_mutex_unlock(bus->lock);
    return stopping;
}

static const char *session_check(amqp_session *ss, const char *what)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(ss->conn);
    const char *why = reply_why(ss->pool, r, what);

    if (!why) {
        return NULL;
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION
        && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t ok;

        ok.dummy = 0;
        amqp_send_method(ss->conn, AMQP_BUS_CHANNEL,
                         AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        ss->state = SESSION_NO_CHANNEL;
    }
    else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION
             && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_ok_t ok;

        ok.dummy = 0;
        amqp_send_method(ss->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        ss->state = SESSION_BROKEN;
    }
    else {
        ss->state = SESSION_BROKEN;
    }
    return why;
}

/* Connect, log in, declare the exchange and our queue, consume. */
static const char *session_open(amqp_session *ss)
{
    websocket_bus *bus = ss->bus;
    amqp_socket_t *sock;
    amqp_table_entry_t caps[2], props[3];
    amqp_table_t client_props;
    amqp_queue_declare_ok_t *q;
    struct timeval tv;
    const char *why;
    int status, stopping;

    ss->state = SESSION_BROKEN;
    if (!(ss->conn = amqp_new_connection())) {
        return "out of memory";
    }
    if (bus->addr.tls) {
        if (!(sock = amqp_ssl_socket_new(ss->conn))) {
            return "cannot set up TLS";
        }
        /* Verify the broker's certificate and name (rabbitmq-c's
         * default), against our CA file or the system's store. */
        amqp_ssl_socket_set_verify_peer(sock, 1);
        amqp_ssl_socket_set_verify_hostname(sock, 1);
        if (bus->ca_file) {
            if (amqp_ssl_socket_set_cacert(sock, bus->ca_file)
                != AMQP_STATUS_OK) {
                return apr_psprintf(ss->pool, "cannot load the CA "
                                    "certificates of %s", bus->ca_file);
            }
        }
        else if (SSL_CTX_set_default_verify_paths(
                     amqp_ssl_socket_get_context(sock)) != 1) {
            return "cannot load the system's CA certificates";
        }
    }
    else if (!(sock = amqp_tcp_socket_new(ss->conn))) {
        return "out of memory";
    }
    tv = seconds(AMQP_BUS_CONNECT_TIMEOUT);
    status = amqp_socket_open_noblock(sock, bus->addr.host, bus->addr.port,
                                      &tv);
    if (status != AMQP_STATUS_OK) {
        return apr_psprintf(ss->pool, "cannot connect: %s",
                            amqp_error_string2(status));
    }
    apr_thread_mutex_lock(bus->lock);
    bus->sockfd = amqp_socket_get_sockfd(sock);
    stopping = bus->stopping;
    apr_thread_mutex_unlock(bus->lock);
    if (stopping) {
        return "stopping";
    }

    tv = seconds(AMQP_BUS_RPC_TIMEOUT);
    amqp_set_handshake_timeout(ss->conn, &tv);
    amqp_set_rpc_timeout(ss->conn, &tv);
    /* The broker tells us when it blocks publishers (memory or disk
     * alarm): we stop sending rather than wait in a write; and when it
     * cancels our consumer (queue deleted), we reconnect. */
    caps[0].key = amqp_cstring_bytes("connection.blocked");
    caps[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    caps[0].value.value.boolean = 1;
    caps[1].key = amqp_cstring_bytes("consumer_cancel_notify");
    caps[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    caps[1].value.value.boolean = 1;
    props[0].key = amqp_cstring_bytes("capabilities");
    props[0].value.kind = AMQP_FIELD_KIND_TABLE;
    props[0].value.value.table.num_entries = 2;
    props[0].value.value.table.entries = caps;
    props[1].key = amqp_cstring_bytes("connection_name");
    props[1].value.kind = AMQP_FIELD_KIND_UTF8;
    props[1].value.value.bytes = amqp_cstring_bytes(
        apr_pstrcat(ss->pool, "mod_websocket ", bus->core->origin, NULL));
    props[2].key = amqp_cstring_bytes("product");
    props[2].value.kind = AMQP_FIELD_KIND_UTF8;
    props[2].value.value.bytes = amqp_cstring_bytes("mod_websocket");
    client_props.num_entries = 3;
    client_props.entries = props;
    why = reply_why(ss->pool,
                    amqp_login_with_properties(ss->conn, bus->addr.vhost, 0,
                                               AMQP_BUS_FRAME_MAX,
                                               AMQP_BUS_HEARTBEAT,
                                               &client_props,
                                               AMQP_SASL_METHOD_PLAIN,
                                               bus->addr.user,
                                               bus->addr.password),
                    "login");
    if (why) {
        return why;
    }
    ss->state = SESSION_OPEN;
    amqp_channel_open(ss->conn, AMQP_BUS_CHANNEL);
    if ((why = session_check(ss, "channel.open"))) {
        return why;
    }
    /* Publisher confirms: the broker acks each publish once it has routed
     * it (into every bound queue), which is what barrier waits for. */
    amqp_confirm_select(ss->conn, AMQP_BUS_CHANNEL);
    if ((why = session_check(ss, "confirm.select"))) {
        return why;
    }
    ss->inflight.first_tag = 1;
    amqp_exchange_declare(ss->conn, AMQP_BUS_CHANNEL,
                          amqp_cstring_bytes(bus->exchange),
                          amqp_cstring_bytes("topic"), 0 /* passive */,
                          1 /* durable */, 0 /* auto_delete */,
                          0 /* internal */, amqp_empty_table);
    if ((why = session_check(ss, apr_psprintf(ss->pool, "declaring the "
                                              "exchange %s",
                                              bus->exchange)))) {
        return why;
    }
    q = amqp_queue_declare(ss->conn, AMQP_BUS_CHANNEL, amqp_empty_bytes,
                           0 /* passive */, 0 /* durable */,
                           1 /* exclusive */, 1 /* auto_delete */,
                           amqp_empty_table);
    if ((why = session_check(ss, "declaring our queue"))) {
        return why;
    }
    ss->queue.len = q->queue.len;
    ss->queue.bytes = apr_pmemdup(ss->pool, q->queue.bytes, q->queue.len);
    amqp_basic_consume(ss->conn, AMQP_BUS_CHANNEL, ss->queue,
                       amqp_empty_bytes, 0 /* no_local */, 1 /* no_ack */,
                       1 /* exclusive */, amqp_empty_table);
    return session_check(ss, "basic.consume");
}

/* The lower of two sequence numbers, 0 being none. */
static apr_uint64_t seq_lower(apr_uint64_t low, apr_uint64_t seq)
{
    return seq && (!low || seq < low) ? seq : low;
}

/* Advance bus->done to just below the oldest operation not done yet
 * (what the thread holds, then what waits in the lists), and wake the
 * barriers. */
static void session_progress(amqp_session *ss)
{
    websocket_bus *bus = ss->bus;
    amqp_bus_inflight *in = &ss->inflight;
    apr_uint64_t low, done;

    low = seq_lower(ss->resync_seq, ss->cmd_seq);
    low = seq_lower(low, ss->msg_seq);
    if (in->count) {
        low = seq_lower(low, in->slots[in->head].seq);
    }
    apr_thread_mutex_lock(bus->lock);
    if (bus->cmds.first) {
        low = seq_lower(low, bus->cmds.first->seq);
    }
    if (bus->msgs.first) {
        low = seq_lower(low, bus->msgs.first->seq);
    }
    done = low ? low - 1 : bus->queued;
    if (done > bus->done) {
        amqp_bus_waiter *w;

        bus->done = done;
        /* Wake the barriers only when one of them is through: the others
         * would wake for nothing, and contend for the lock. */
        for (w = bus->waiters; w && w->target > done; w = w->next) {
        }
        if (w) {
            apr_thread_cond_broadcast(bus->done_cond);
        }
    }
    apr_thread_mutex_unlock(bus->lock);
}

/* A publish goes out with the next delivery tag: note its sequence
 * number under it. @return APR_ENOMEM if it cannot be noted. */
static apr_status_t inflight_push(amqp_bus_inflight *in, apr_uint64_t seq)
{
    amqp_bus_unconfirmed *slot;

    if (in->count == in->size) {
        apr_size_t size = in->size ? in->size * 2 : 64, i;
        amqp_bus_unconfirmed *slots = malloc(size * sizeof(*slots));

        if (!slots) {
            return APR_ENOMEM;
        }
        for (i = 0; i < in->count; ++i) {
            slots[i] = in->slots[(in->head + i) % in->size];
        }
        free(in->slots);
        in->slots = slots;
        in->size = size;
        in->head = 0;
    }
    slot = &in->slots[(in->head + in->count) % in->size];
    slot->seq = seq;
    slot->done = 0;
    ++in->count;
    return APR_SUCCESS;
}

/* basic.ack or basic.nack for delivery tag @a tag, and for every tag
 * before it if @a multiple (RabbitMQ's publisher confirms).
 * @return how many publishes it settles (0 for a tag we do not wait for). */
static apr_size_t inflight_settle(amqp_bus_inflight *in, apr_uint64_t tag,
                                  int multiple)
{
    apr_uint64_t last = in->first_tag + in->count - 1;
    amqp_bus_unconfirmed *slot;
    apr_size_t n = 0;

    if (!in->count) {
        return 0;
    }
    if (multiple && tag == 0) {
        tag = last;             /* "all outstanding" (AMQP 0-9-1 basic.ack) */
    }
    if (tag < in->first_tag || tag > last) {
        return 0;
    }
    if (multiple) {
        for (; in->count && in->first_tag <= tag; ++in->first_tag) {
            n += !in->slots[in->head].done;
            in->head = (in->head + 1) % in->size;
            --in->count;
        }
        return n;
    }
    slot = &in->slots[(in->head + (tag - in->first_tag)) % in->size];
    n = !slot->done;
    slot->done = 1;
    while (in->count && in->slots[in->head].done) {
        in->head = (in->head + 1) % in->size;
        --in->count;
        ++in->first_tag;
    }
    return n;
}

static const char *session_bind(amqp_session *ss, amqp_bus_op_e op,
                                const char *channel)
{
    websocket_bus *bus = ss->bus;

    if (op == AMQP_BUS_OP_BIND) {
        amqp_queue_bind(ss->conn, AMQP_BUS_CHANNEL, ss->queue,
                        amqp_cstring_bytes(bus->exchange),
                        amqp_cstring_bytes(channel), amqp_empty_table);
    }
    else {
        amqp_queue_unbind(ss->conn, AMQP_BUS_CHANNEL, ss->queue,
                          amqp_cstring_bytes(bus->exchange),
                          amqp_cstring_bytes(channel), amqp_empty_table);
    }
    ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, bus->s, "amqp: %s %s",
                 op == AMQP_BUS_OP_BIND ? "bind" : "unbind", channel);
    return session_check(ss, op == AMQP_BUS_OP_BIND ? "queue.bind"
                                                    : "queue.unbind");
}

typedef struct name_link {
    struct name_link *next;
    const char *name;
} name_link;

typedef struct {
    apr_pool_t *pool;
    name_link *first;
} name_list;

/* each_channel's callback: runs on our thread, under a lock of the core's;
 * just note the name. */
static void note_channel(void *baton, const char *channel)
{
    name_list *names = baton;
    name_link *l = apr_palloc(names->pool, sizeof(*l));

    l->name = apr_pstrdup(names->pool, channel);
    l->next = names->first;
    names->first = l;
}

/* From now on other threads queue for this connection; bind every
 * channel the child has members of. What was queued before is dropped:
 * the core's list is newer, and anything that changes it from here on is
 * queued after it. */
static const char *session_resync(amqp_session *ss)
{
    websocket_bus *bus = ss->bus;
    name_list names;
    name_link *l;
    const char *why = NULL;
    apr_size_t n = 0;

    apr_thread_mutex_lock(bus->lock);
    bus->accepting = 1;
    items_free(list_take(&bus->cmds));
    /* A barrier from now on waits for these binds too: a member who
     * joins a channel that has members already queues nothing. */
    ss->resync_seq = ++bus->queued;
    apr_thread_mutex_unlock(bus->lock);

    names.pool = ss->pool;
    names.first = NULL;
    bus->core->each_channel(note_channel, &names);
    for (l = names.first; l && !why; l = l->next, ++n) {
        why = session_bind(ss, AMQP_BUS_OP_BIND, l->name);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, bus->s, WEBSOCKET_LOGNO(00046)
                 "broker %s: bound %" APR_SIZE_T_FMT " channels of this "
                 "child", bus->where, n);
    ss->resync_seq = 0;
    if (!why) {
        session_progress(ss);
    }
    return why;
}

static const char *session_publish(amqp_session *ss, amqp_bus_item *it)
{
    websocket_bus *bus = ss->bus;
    amqp_basic_properties_t props;
    amqp_table_entry_t h[4];
    amqp_bytes_t body;
    int n = 0, status;

    h[n].key = amqp_cstring_bytes(AMQP_BUS_H_ORIGIN);
    h[n].value.kind = AMQP_FIELD_KIND_UTF8;
    h[n++].value.value.bytes = amqp_cstring_bytes(bus->core->origin);
    h[n].key = amqp_cstring_bytes(AMQP_BUS_H_SERVER);
    h[n].value.kind = AMQP_FIELD_KIND_UTF8;
    h[n++].value.value.bytes = amqp_cstring_bytes(bus->core->server_name);
    if (it->user) {
        h[n].key = amqp_cstring_bytes(AMQP_BUS_H_USER);
        h[n].value.kind = AMQP_FIELD_KIND_UTF8;
        h[n++].value.value.bytes = amqp_cstring_bytes(it->user);
    }
    if (it->ws_id) {
        /* the decimal id of the log lines, as a signed 64-bit integer
         * (a pid in the high 32 bits stays below 2^63) */
        h[n].key = amqp_cstring_bytes(AMQP_BUS_H_ID);
        h[n].value.kind = AMQP_FIELD_KIND_I64;
        h[n++].value.value.i64 = (int64_t)it->ws_id;
    }
    memset(&props, 0, sizeof(props));
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG
                   | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
    props.content_type = amqp_cstring_bytes(it->type == WEBSOCKET_TEXT
                                            ? AMQP_BUS_TYPE_TEXT
                                            : AMQP_BUS_TYPE_BINARY);
    props.delivery_mode = AMQP_BUS_DELIVERY_TRANSIENT;
    props.headers.num_entries = n;
    props.headers.entries = h;
    body.bytes = (void *)it->data;
    body.len = it->len;
    if (inflight_push(&ss->inflight, it->seq) != APR_SUCCESS) {
        return "out of memory";
    }
    status = amqp_basic_publish(ss->conn, AMQP_BUS_CHANNEL,
                                amqp_cstring_bytes(bus->exchange),
                                amqp_cstring_bytes(it->name), 0, 0, &props,
                                body);
    if (status != AMQP_STATUS_OK) {
        ss->state = SESSION_BROKEN;
        return apr_psprintf(ss->pool, "publishing: %s",
                            amqp_error_string2(status));
    }
    return NULL;
}

/* Binds and unbinds, then publishes, that other threads queued. */
static const char *session_send(amqp_session *ss, int *pstop)
{
    websocket_bus *bus = ss->bus;
    amqp_bus_item *cmds, *msgs = NULL, *it;
    apr_size_t sent = 0, dropped = 0;
    const char *why = NULL;
    char drain[64];

    apr_thread_mutex_lock(bus->lock);
    *pstop = bus->stopping;
    bus->woken = 0;
    while (read(bus->wake_in, drain, sizeof(drain)) > 0) {
        /* a wake-up is a byte; they are all read */
    }
    cmds = list_take(&bus->cmds);
    if (!ss->blocked) {
        bus->sending_count = bus->msgs.count;
        bus->sending_bytes = bus->msgs.bytes;
        msgs = list_take(&bus->msgs);
    }
    apr_thread_mutex_unlock(bus->lock);

    /* In the order they were queued: a member who joined after a publish
     * does not get it, nor misses one made before it left. */
    ss->cmd_seq = cmds ? cmds->seq : 0;
    ss->msg_seq = msgs ? msgs->seq : 0;
    while (cmds || msgs) {
        if (cmds && (!msgs || cmds->seq < msgs->seq)) {
            it = cmds;
            cmds = it->next;
            if (!why) {
                why = session_bind(ss, it->op, it->name);
            }
            free(it);
            ss->cmd_seq = cmds ? cmds->seq : 0;
            if (!why) {
                session_progress(ss);   /* bind-ok: its barriers go */
            }
            continue;
        }
        it = msgs;
        msgs = it->next;
        if (why) {
            ++dropped;
        }
        else if (!(why = session_publish(ss, it))) {
            ++sent;
        }
        else {
            ++dropped;
        }
        free(it);
        ss->msg_seq = msgs ? msgs->seq : 0;
    }
    apr_thread_mutex_lock(bus->lock);
    bus->sending_count = bus->sending_bytes = 0;
    apr_thread_mutex_unlock(bus->lock);
    if (sent) {
        bus->core->count(WEBSOCKET_BUS_PUBLISHED, sent);
    }
    if (dropped) {
        bus->core->count(WEBSOCKET_BUS_DROPPED, dropped);
    }
    return why;
}

static void rx_deliver(amqp_session *ss)
{
    websocket_bus *bus = ss->bus;
    amqp_bus_rx *rx = &ss->rx;

    if (!rx->skip) {
        websocket_bus_msg msg;

        msg.channel = rx->channel;
        msg.type = rx->text && utf8_valid((unsigned char *)rx->body,
                                          rx->size)
                   ? WEBSOCKET_TEXT : WEBSOCKET_BINARY;
        msg.data = rx->body;
        msg.len = rx->size;
        msg.user = NULL;
        msg.ws_id = 0;
        bus->core->deliver(&msg);
        bus->core->count(WEBSOCKET_BUS_CONSUMED, 1);
        ap_log_error(APLOG_MARK, APLOG_TRACE2, 0, bus->s, "amqp: delivered "
                     "%s message of %" APR_SIZE_T_FMT " bytes to %s",
                     msg.type == WEBSOCKET_TEXT ? "a text" : "a binary",
                     msg.len, msg.channel);
    }
    memset(rx, 0, sizeof(*rx));
    apr_pool_clear(ss->scratch);
}

/* The content header of a delivery: whose is it, what type, how long. */
static void rx_header(amqp_session *ss, amqp_frame_t *frame)
{
    websocket_bus *bus = ss->bus;
    amqp_bus_rx *rx = &ss->rx;
    amqp_basic_properties_t *props = frame->payload.properties.decoded;
    uint64_t size = frame->payload.properties.body_size;

    /* Our own publishes too: their round trip is how this child's
     * members get them, in the broker's order. */
    rx->have_header = 1;
    rx->text = props && (props->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
               && is_text_type(props->content_type);
    if (size > AMQP_BUS_MAX_BODY) {
        if (!rx->skip) {
            bus->core->count(WEBSOCKET_BUS_DROPPED, 1);
            if (!ss->warned_big) {
                ss->warned_big = 1;
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, bus->s,
                             WEBSOCKET_LOGNO(00047) "broker %s: a message of %"
                             APR_UINT64_T_FMT " bytes to %s is larger than "
                             "%d bytes and not delivered (logged once per "
                             "connection)", bus->where, (apr_uint64_t)size,
                             rx->channel, AMQP_BUS_MAX_BODY);
            }
        }
        rx->skip = 1;
    }
    rx->size = (apr_size_t)size;
    if (!rx->skip) {
        rx->body = apr_palloc(ss->scratch, rx->size + 1);
        rx->body[rx->size] = '\0';
    }
    if (rx->size == 0) {
        rx_deliver(ss);
    }
}

static void rx_body(amqp_session *ss, amqp_frame_t *frame)
{
    amqp_bus_rx *rx = &ss->rx;
    amqp_bytes_t part = frame->payload.body_fragment;
    apr_size_t n = part.len;

    if (n > rx->size - rx->got) {
        n = rx->size - rx->got;
    }
    if (!rx->skip) {
        memcpy(rx->body + rx->got, part.bytes, n);
    }
    rx->got += n;
    if (rx->got == rx->size) {
        rx_deliver(ss);
    }
}

/* One frame from the broker. @return NULL, or why the connection ends. */
static const char *session_frame(amqp_session *ss, amqp_frame_t *frame)
{
    amqp_bus_rx *rx = &ss->rx;

    switch (frame->frame_type) {
    case AMQP_FRAME_METHOD:
        switch (frame->payload.method.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
            amqp_basic_deliver_t *d = frame->payload.method.decoded;

            memset(rx, 0, sizeof(*rx));
            apr_pool_clear(ss->scratch);
            rx->active = 1;
            if (d->routing_key.len > WEBSOCKET_CHANNEL_MAX) {
                rx->skip = 1;
            }
            else {
                memcpy(rx->channel, d->routing_key.bytes,
                       d->routing_key.len);
                rx->channel[d->routing_key.len] = '\0';
                rx->skip = !websocket_channel_name_ok(rx->channel);
            }
            return NULL;
        }
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *m = frame->payload.method.decoded;

            inflight_settle(&ss->inflight, m->delivery_tag, m->multiple);
            ss->settled = 1;
            return NULL;
        }
        case AMQP_BASIC_NACK_METHOD: {
            /* The broker could not take it (an internal error of its
             * own): the message is lost, and its barriers go. */
            amqp_basic_nack_t *m = frame->payload.method.decoded;
            apr_size_t n = inflight_settle(&ss->inflight, m->delivery_tag,
                                           m->multiple);

            ss->settled = 1;
            if (n) {
                ss->bus->core->count(WEBSOCKET_BUS_DROPPED, n);
                if (!ss->warned_nack) {
                    ss->warned_nack = 1;
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ss->bus->s,
                                 WEBSOCKET_LOGNO(00051) "broker %s refused %"
                                 APR_SIZE_T_FMT " published messages "
                                 "(basic.nack): they are lost (logged once "
                                 "per connection)", ss->bus->where, n);
                }
            }
            return NULL;
        }
        case AMQP_CONNECTION_BLOCKED_METHOD: {
            amqp_connection_blocked_t *m = frame->payload.method.decoded;

            ss->blocked = 1;
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, ss->bus->s,
                         WEBSOCKET_LOGNO(00048)
                         "broker %s blocks publishers (%.*s): messages "
                         "wait in the outgoing queue", ss->bus->where,
                         (int)m->reason.len, (char *)m->reason.bytes);
            return NULL;
        }
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            ss->blocked = 0;
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, ss->bus->s,
                         WEBSOCKET_LOGNO(00050)
                         "broker %s takes messages again", ss->bus->where);
            return NULL;
        case AMQP_BASIC_CANCEL_METHOD:
            return "the broker cancelled our consumer";
        case AMQP_CHANNEL_CLOSE_METHOD: {
            amqp_channel_close_t *m = frame->payload.method.decoded;
            amqp_channel_close_ok_t ok;

            ok.dummy = 0;
            amqp_send_method(ss->conn, AMQP_BUS_CHANNEL,
                             AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
            ss->state = SESSION_NO_CHANNEL;
            return apr_psprintf(ss->pool, "the broker closed the channel: "
                                "%u %.*s", m->reply_code,
                                (int)m->reply_text.len,
                                (char *)m->reply_text.bytes);
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            amqp_connection_close_t *m = frame->payload.method.decoded;
            amqp_connection_close_ok_t ok;

            ok.dummy = 0;
            amqp_send_method(ss->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD,
                             &ok);
            ss->state = SESSION_BROKEN;
            return apr_psprintf(ss->pool, "the broker closed the "
                                "connection: %u %.*s", m->reply_code,
                                (int)m->reply_text.len,
                                (char *)m->reply_text.bytes);
        }
        default:
            return NULL;
        }
    case AMQP_FRAME_HEADER:
        if (rx->active && !rx->have_header) {
            rx_header(ss, frame);
        }
        return NULL;
    case AMQP_FRAME_BODY:
        if (rx->active && rx->have_header) {
            rx_body(ss, frame);
        }
        return NULL;
    default:
        return NULL;
    }
}

/* Run the connection until it fails (the reason) or we stop (NULL). */
static const char *session_run(amqp_session *ss)
{
    websocket_bus *bus = ss->bus;
    const char *why;
    int stop;

    for (;;) {
        struct pollfd pfd[2];
        amqp_frame_t frame;
        int n = 0, status = AMQP_STATUS_OK;

        if ((why = session_send(ss, &stop)) || stop) {
            return why;
        }
        /* Read what the broker sent, within a budget so that sends are not
         * starved. A timeout of 1 us, not 0: with 0, rabbitmq-c never
         * notices that the broker's heartbeats stopped. */
        while (n < AMQP_BUS_FRAME_BUDGET) {
            struct timeval tv = { 0, 1 };

            status = amqp_simple_wait_frame_noblock(ss->conn, &frame, &tv);
            if (status != AMQP_STATUS_OK) {
                break;
            }
            ++n;
            if ((why = session_frame(ss, &frame))) {
                return why;
            }
        }
        if (ss->settled) {
            ss->settled = 0;
            session_progress(ss);
        }
        if (status != AMQP_STATUS_OK && status != AMQP_STATUS_TIMEOUT) {
            ss->state = SESSION_BROKEN;
            return apr_psprintf(ss->pool, "reading: %s",
                                amqp_error_string2(status));
        }
        if (!ss->rx.active) {
            amqp_maybe_release_buffers(ss->conn);
        }
        pfd[0].fd = amqp_get_sockfd(ss->conn);
        pfd[0].events = POLLIN;
        pfd[1].fd = bus->wake_in;
        pfd[1].events = POLLIN;
        if (poll(pfd, 2, n < AMQP_BUS_FRAME_BUDGET ? AMQP_BUS_POLL_MS : 0)
            < 0 && errno != EINTR) {
            ss->state = SESSION_BROKEN;
            return "poll failed";
        }
    }
}

/* Close what is still open, as cleanly as the state allows, and free it. */
static void session_close(amqp_session *ss)
{
    websocket_bus *bus = ss->bus;

    free(ss->inflight.slots);
    memset(&ss->inflight, 0, sizeof(ss->inflight));
    if (!ss->conn) {
        return;
    }
    if (ss->state != SESSION_BROKEN) {
        struct timeval tv = seconds(AMQP_BUS_CLOSE_TIMEOUT);

        amqp_set_rpc_timeout(ss->conn, &tv);
        if (ss->state == SESSION_OPEN) {
            amqp_channel_close(ss->conn, AMQP_BUS_CHANNEL,
                               AMQP_REPLY_SUCCESS);
        }
        amqp_connection_close(ss->conn, AMQP_REPLY_SUCCESS);
    }
    apr_thread_mutex_lock(bus->lock);
    bus->sockfd = -1;
    apr_thread_mutex_unlock(bus->lock);
    amqp_destroy_connection(ss->conn);
    ss->conn = NULL;
}

/* Nothing queues while we are not connected; what was queued is lost,
 * and so may be what the broker did not confirm. */
static void bus_refuse(websocket_bus *bus)
{
    amqp_bus_item *cmds, *msgs;
    apr_size_t dropped;

    apr_thread_mutex_lock(bus->lock);
    bus->accepting = 0;
    cmds = list_take(&bus->cmds);
    msgs = list_take(&bus->msgs);
    bus_lose(bus);
    apr_thread_mutex_unlock(bus->lock);
    items_free(cmds);
    if ((dropped = items_free(msgs))) {
        bus->core->count(WEBSOCKET_BUS_DROPPED, dropped);
    }
}

/* Wait @a t, or less if we are to stop. */
static void bus_sleep(websocket_bus *bus, apr_interval_time_t t)
{
    apr_time_t until = apr_time_now() + t;
    char drain[64];

    for (;;) {
        struct pollfd pfd;
        apr_interval_time_t left = until - apr_time_now();

        if (left <= 0 || bus_stopping(bus)) {
            return;
        }
        pfd.fd = bus->wake_in;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, (int)apr_time_as_msec(left) + 1) > 0) {
            apr_thread_mutex_lock(bus->lock);
            bus->woken = 0;
            while (read(bus->wake_in, drain, sizeof(drain)) > 0) {
                /* read them all */
            }
            apr_thread_mutex_unlock(bus->lock);
        }
    }
}

static void *APR_THREAD_FUNC bus_main(apr_thread_t *thread, void *baton)
{
    websocket_bus *bus = baton;
    apr_pool_t *tpool = apr_thread_pool_get(thread);
    apr_interval_time_t backoff = AMQP_BUS_BACKOFF_MIN;
    apr_pool_t *scratch;
    apr_time_t down_since = apr_time_now();
    int ever_up = 0, down_logged = 0;
    unsigned long attempts = 0;
    sigset_t sigs;

    /* Signals are for the MPM's threads (prefork's child handles its own
     * in whatever thread gets them: never this one, which its exit joins). */
    sigfillset(&sigs);
    sigdelset(&sigs, SIGSEGV);
    sigdelset(&sigs, SIGBUS);
    sigdelset(&sigs, SIGFPE);
    sigdelset(&sigs, SIGILL);
    sigdelset(&sigs, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    /* tpool's allocator is the bus's own (see amqp_bus_start): received
     * messages go to a subpool cleared after each one. */
    apr_pool_create(&scratch, tpool);
    apr_pool_tag(scratch, "amqp_bus_rx");
    bus->core->connected(0);

    while (!bus_stopping(bus)) {
        amqp_session ss;
        const char *why;

        memset(&ss, 0, sizeof(ss));
        ss.bus = bus;
        ss.scratch = scratch;
        apr_pool_create(&ss.pool, tpool);
        apr_pool_tag(ss.pool, "amqp_bus_conn");
        ++attempts;
        if (!(why = session_open(&ss)) && !(why = session_resync(&ss))) {
            if (ever_up) {
                bus->core->count(WEBSOCKET_BUS_RECONNECTS, 1);
            }
            if (down_logged) {
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, bus->s,
                             WEBSOCKET_LOGNO(00042)
                             "broker %s is back after %" APR_TIME_T_FMT
                             " s (%lu attempts): channels cross children "
                             "and servers again", bus->where,
                             apr_time_sec(apr_time_now() - down_since),
                             attempts);
            }
            else {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, bus->s,
                             WEBSOCKET_LOGNO(00043)
                             "connected to broker %s (vhost %s, exchange "
                             "%s, queue %.*s, heartbeat %d s)", bus->where,
                             bus->addr.vhost, bus->exchange,
                             (int)ss.queue.len, (char *)ss.queue.bytes,
                             amqp_get_heartbeat(ss.conn));
            }
            ever_up = 1;
            down_logged = 0;
            attempts = 0;
            backoff = AMQP_BUS_BACKOFF_MIN;
            bus->core->connected(1);
            why = session_run(&ss);
            bus_refuse(bus);
            if (!why) {             /* stopping */
                session_close(&ss);
                apr_pool_destroy(ss.pool);
                break;
            }
            bus->core->connected(0);
            down_since = apr_time_now();
        }
        else {
            bus_refuse(bus);
        }
        session_close(&ss);
        if (!down_logged && !bus_stopping(bus)) {
            /* Once per outage: the next line about the broker says it is
             * back. */
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, bus->s,
                         WEBSOCKET_LOGNO(00041)
                         "broker %s: %s; channels reach this child's "
                         "members only until it is back (retrying, at "
                         "least every %d s)", bus->where, why,
                         (int)apr_time_sec(AMQP_BUS_BACKOFF_MAX));
            down_logged = 1;
        }
        else if (!bus_stopping(bus)) {
            ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, bus->s, "amqp: "
                         "broker %s: %s", bus->where, why);
        }
        apr_pool_destroy(ss.pool);
        bus_sleep(bus, backoff);
        backoff = backoff * 2 > AMQP_BUS_BACKOFF_MAX ? AMQP_BUS_BACKOFF_MAX
                                                     : backoff * 2;
    }

    apr_pool_destroy(scratch);
    apr_thread_mutex_lock(bus->lock);
    bus->exited = 1;
    apr_thread_cond_signal(bus->exited_cond);
    apr_thread_mutex_unlock(bus->lock);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* ---- the child's life ------------------------------------------------------ */

/* A pre-cleanup of pchild: it runs before pchild's subpools (the thread's
 * among them) go. Stop the thread, which closes the connection cleanly;
 * if it has not finished after AMQP_BUS_STOP_WAIT (a broker that takes
 * nothing more), cut its socket so that it does. */
static apr_status_t bus_stop(void *baton)
{
    websocket_bus *bus = baton;
    apr_time_t until = apr_time_now() + AMQP_BUS_STOP_WAIT;
    apr_status_t rv;
    int cut = 0;

    apr_thread_mutex_lock(bus->lock);
    bus->stopping = 1;
    bus->accepting = 0;
    bus_lose(bus);
    bus_wake(bus);
    while (!bus->exited && apr_time_now() < until) {
        apr_thread_cond_timedwait(bus->exited_cond, bus->lock,
                                  until - apr_time_now());
    }
    if (!bus->exited && bus->sockfd >= 0) {
        shutdown(bus->sockfd, SHUT_RDWR);
        cut = 1;
    }
    apr_thread_mutex_unlock(bus->lock);
    if (cut) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, bus->s,
                     WEBSOCKET_LOGNO(00049)
                     "broker %s: the connection did not close within %d s; "
                     "cut", bus->where,
                     (int)apr_time_sec(AMQP_BUS_STOP_WAIT));
    }
    apr_thread_join(&rv, bus->thread);

    apr_thread_mutex_lock(bus->lock);
    items_free(list_take(&bus->cmds));
    items_free(list_take(&bus->msgs));
    apr_thread_mutex_unlock(bus->lock);
    close(bus->wake_in);
    close(bus->wake_out);
    return APR_SUCCESS;
}

static apr_status_t amqp_bus_start(websocket_bus **pbus, apr_pool_t *pchild,
                                   server_rec *s, const char *url,
                                   const char *exchange,
                                   const websocket_bus_core *core)
{
    websocket_bus *bus;
    apr_pool_t *p;
    apr_threadattr_t *attr;
    const char *err;
    int fds[2], i;
    apr_status_t rv;

    /* The bus has a pool and an allocator of its own: after this function
     * only the bus thread allocates, in its subpool of it (pchild's
     * allocator has no mutex). It gives memory back above 1 MiB, so one
     * large message does not stay with us. And it outlives pchild's
     * cleanups: the core may still call subscribe or publish from a
     * connection that closes meanwhile, and then finds the bus stopped
     * (not accepting) rather than freed. The process ends right after. */
    if ((rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(p, "amqp_bus");
    apr_allocator_max_free_set(apr_pool_allocator_get(p), 1024 * 1024);
    bus = apr_pcalloc(p, sizeof(*bus));
    bus->s = s;
    bus->core = core;
    bus->exchange = apr_pstrdup(p, exchange);
    bus->ca_file = amqp_conf.ca_file ? apr_pstrdup(p, amqp_conf.ca_file)
                                     : NULL;
    bus->sockfd = -1;
    if ((err = amqp_parse(p, url, &bus->addr))) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, WEBSOCKET_LOGNO(00040)
                     "WebSocketBroker: %s", err);
        return APR_EINVAL;
    }
    bus->where = apr_psprintf(p, strchr(bus->addr.host, ':') ? "[%s]:%d"
                                                              : "%s:%d",
                              bus->addr.host, bus->addr.port);
    if (pipe(fds) < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    for (i = 0; i < 2; ++i) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, fcntl(fds[i], F_GETFD) | FD_CLOEXEC);
    }
    bus->wake_in = fds[0];
    bus->wake_out = fds[1];
    if ((rv = apr_thread_mutex_create(&bus->lock, APR_THREAD_MUTEX_DEFAULT,
                                      p)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&bus->exited_cond, p))
           != APR_SUCCESS
        || (rv = apr_thread_cond_create(&bus->done_cond, p)) != APR_SUCCESS
        || (rv = apr_threadattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_thread_create(&bus->thread, attr, bus_main, bus, p))
           != APR_SUCCESS) {
        close(fds[0]);
        close(fds[1]);
        return rv;
    }
    apr_pool_pre_cleanup_register(pchild, bus, bus_stop);
    *pbus = bus;
    return APR_SUCCESS;
}

static const websocket_bus_provider amqp_bus_provider = {
    amqp_bus_check,
    amqp_bus_start,
    amqp_bus_subscribe,
    amqp_bus_unsubscribe,
    amqp_bus_publish,
    amqp_bus_barrier
};

static const command_rec amqp_cmds[] = {
    AP_INIT_TAKE1("WebSocketBrokerCACertificateFile", amqp_set_ca_file,
                  NULL, RSRC_CONF,
                  "the CA certificates (PEM) that an amqps:// broker's "
                  "certificate must chain to (default: the system's)"),
    { NULL }
};

static void amqp_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(amqp_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_provider(p, WEBSOCKET_BUS_GROUP, AMQP_BUS_PROVIDER,
                         WEBSOCKET_BUS_VERSION, &amqp_bus_provider);
}

module AP_MODULE_DECLARE_DATA websocket_amqp_module = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* create per-directory config */
    NULL,                       /* merge per-directory config */
    NULL,                       /* create per-server config */
    NULL,                       /* merge per-server config */
    amqp_cmds,                  /* directives */
    amqp_register_hooks         /* register hooks */
};

/* wsload.c: load generator of tests/bench: WebSocket (or raw TCP) echo with verification and latency, idle WebSockets with pings (or idle HTTP keep-alive connections), open/close cycles (or HTTP request cycles), channel fan-out (subscribers, and publishers by HTTP POST or AMQP; or raw TCP to tcpfan, the baseline). */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

/* Latencies are counted in WL_HIST_US buckets of hist_unit microseconds
 * (1: up to one second; fanout 10: up to ten); slower ones land in the
 * last bucket. */
#define WL_HIST_US 1000000
#define WL_RBUF_MIN (256 * 1024)
/* Each message starts with its sequence number in 16 hex digits (text
 * stays UTF-8), so every echo is matched, checked byte for byte, and timed
 * against the send time kept for it (echoes come back in order). */
#define WL_STAMP 16
/* Fan-out: each published message starts with its sequence number and
 * the publisher's CLOCK_MONOTONIC time at the POST, "%016llx %016llx ",
 * so every subscriber checks order, loss and duplicates and times the
 * delivery (publisher and subscribers share the machine's clock). */
#define WL_FANOUT_STAMP 34
/* Deliveries per message, by sequence number modulo this (more than any
 * window): the publisher knows when every subscriber has a message. */
#define WL_RING 65536
#define WL_MAX_TARGETS 8
/* Fan-out publishers at once: publisher i's k-th message has the number
 * k * publishers + i, and every subscriber checks each publisher's order
 * on its own (their messages interleave as the server answers them). */
#define WL_MAX_PUBS 32
/* The exchange an amqp:// publisher publishes to: WebSocketBrokerExchange's
 * default. */
#define WL_AMQP_EXCHANGE "websocket"

typedef enum { WL_ECHO, WL_IDLE, WL_CYCLES, WL_FANOUT } wl_mode_e;
typedef enum { WL_CONNECTING, WL_HANDSHAKE, WL_OPEN, WL_CLOSING } wl_state_e;

typedef struct wl_conn {
    int fd;
    int id;
    int target;                     /* cfg.targets[] */
    int was_open;                   /* fanout: subscribed at some point */
    wl_state_e state;
    uint64_t next_seq, expect_seq;  /* sent, and next echo expected */
    uint64_t *expect_pub;           /* fanout: each publisher's next */
    uint64_t next_ping;             /* idle: ns */
    uint64_t *sent_at;              /* send times, by seq % window */
    int pings_out;
    int done;                       /* the server's close came, or (http)
                                     * the whole response */
    int err;                        /* how it ended: 0 EOF, an errno, or
                                     * -1 (counted where it happened) */
    uint64_t started_ns;            /* conn_open(): handshake timeout */
    size_t want;                    /* http: head + Content-Length */
    unsigned int events;            /* what epoll watches for */
    size_t rlen;
    char *rbuf;                     /* cfg.rbuf bytes */
    size_t wlen, woff;
    char *wbuf;                     /* frames not yet written */
    size_t wcap;
} wl_conn;

typedef struct wl_target {
    struct sockaddr_in addr;
    char host[64], path[256];
    /* amqp://USER:PASS@HOST:PORT/CHANNEL (fanout publishers): publish to
     * the exchange WL_AMQP_EXCHANGE of vhost "/", routing key CHANNEL */
    int amqp;
    char user[64], pass[64];
    /* tcp://HOST:PORT (a fanout publisher to tests/bench/tcpfan): the
     * message as it is, answered by one byte */
    int raw;
} wl_target;

static struct {
    wl_mode_e mode;
    int raw;                        /* tcp:// URL: no WebSocket framing */
    int http;                       /* http:// URL (idle, cycles): one GET
                                     * instead of the upgrade */
    wl_target targets[WL_MAX_TARGETS];  /* connections go round-robin */
    int ntargets;
    wl_target pubs[WL_MAX_TARGETS]; /* fanout: where to POST, in turn */
    int npubs, publishers;          /* fanout: URLs, POSTing at once */
    int conns, window, text, procs, sources, json, settle_exit;
    size_t size, rbuf;
    double duration, ping_interval, rate, pub_rate, drain, hs_timeout;
    long cycles;
    uint64_t t0;                    /* start, before any fork() */
} cfg = { .conns = 1, .window = 1, .size = 32, .duration = 10,
          .ping_interval = 10, .rate = 5000, .procs = 1, .sources = 1,
          .drain = 10, .publishers = 1 };

static struct {
    uint64_t msgs, bytes, errors, connected, failed, pongs, missed, closes;
    /* fanout: messages skipped or seen twice by a subscriber, subscribers
     * the server closed, the last delivery's time */
    uint64_t missing, dups, cut, last_ns;
    /* How connections failed before they were open (refused, reset or
     * closed, timed out) and how open ones ended: close frames by code,
     * or dropped without one (FIN or RST); cycles completed; when the
     * last one opened and the last one ended (CLOCK_MONOTONIC ns). */
    uint64_t refused, reset, timedout, close_1001, close_other;
    uint64_t dropped_eof, dropped_rst, completed, last_open_ns, last_end_ns;
    uint64_t hist[WL_HIST_US + 1];
} st;

/* Fanout: what the publisher (the first process) and the subscriber
 * processes share, in an anonymous shared mapping made before fork(). */
typedef struct wl_shared {
    int ready;                      /* subscriber processes all settled */
    int done;                       /* publisher: report and exit */
    uint64_t subscribed;            /* subscribers open now */
    uint64_t published[WL_MAX_PUBS];    /* each publisher's messages the
                                         * server accepted */
    uint32_t acks[WL_RING];         /* deliveries of seq, at seq % WL_RING */
} wl_shared;

static wl_shared *shm;
static uint64_t read_ns;            /* when the bytes being parsed arrived */
static unsigned int hist_unit = 1;  /* microseconds per latency bucket */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static int ep;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rand64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* ---- payloads and frames -------------------------------------------- */

/* Every message is a stamp and then the same printable bytes (valid
 * UTF-8 for text messages), made once; echoes are compared with memcmp. */
static char *body;

static void make_body(void)
{
    size_t i;

    if (!(body = malloc(cfg.size))) {
        die("malloc");
    }
    for (i = 0; i < cfg.size; ++i) {
        body[i] = (char)('a' + i % 26);
    }
}

static void make_payload(char *p, wl_conn *c, uint64_t seq)
{
    char stamp[WL_STAMP + 1];

    snprintf(stamp, sizeof(stamp), "%016llx", (unsigned long long)seq);
    memcpy(p, stamp, WL_STAMP);
    memcpy(p + WL_STAMP, body + WL_STAMP, cfg.size - WL_STAMP);
    c->sent_at[seq % (uint64_t)cfg.window] = now_ns();
}

/* Check an echo (its sequence number, its bytes); count it and its
 * latency. */
static void check_payload(wl_conn *c, const char *p, size_t len)
{
    char stamp[WL_STAMP + 1];
    uint64_t seq, us;

    if (len != cfg.size) {
        ++st.errors;
        return;
    }
    memcpy(stamp, p, WL_STAMP);
    stamp[WL_STAMP] = '\0';
    seq = strtoull(stamp, NULL, 16);
    if (seq != c->expect_seq
        || memcmp(p + WL_STAMP, body + WL_STAMP, len - WL_STAMP)) {
        ++st.errors;
    }
    c->expect_seq = seq + 1;
    us = (now_ns() - c->sent_at[seq % (uint64_t)cfg.window]) / 1000;
    ++st.hist[us > WL_HIST_US ? WL_HIST_US : us];
    ++st.msgs;
    st.bytes += len;
}

/* 16 hex digits, or -1 in *pok. */
static uint64_t parse_hex16(const char *p, int *pok)
{
    uint64_t v = 0;
    int i, d;

    for (i = 0; i < 16; ++i) {
        char ch = p[i];
        d = ch >= '0' && ch <= '9' ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0) {
            *pok = 0;
            return 0;
        }
        v = (v << 4) | (uint64_t)d;
    }
    return v;
}

/* Fanout: one delivery to subscriber @a c. Messages come in each
 * publisher's order: a gap is missing messages, an old number a
 * duplicate. The latency runs from the publisher's stamp to the read that
 * brought the message. */
static void fanout_payload(wl_conn *c, const char *p, size_t len)
{
    uint64_t seq, k, sent, us, *expect;
    int ok = len == cfg.size && p[16] == ' ' && p[33] == ' ';

    seq = ok ? parse_hex16(p, &ok) : 0;
    sent = ok ? parse_hex16(p + 17, &ok) : 0;
    if (!ok || memcmp(p + WL_FANOUT_STAMP, body + WL_FANOUT_STAMP,
                      len - WL_FANOUT_STAMP)) {
        ++st.errors;
        return;
    }
    expect = &c->expect_pub[seq % (uint64_t)cfg.publishers];
    k = seq / (uint64_t)cfg.publishers;
    if (k < *expect) {
        ++st.dups;
        return;
    }
    st.missing += k - *expect;
    *expect = k + 1;
    us = read_ns > sent ? (read_ns - sent) / 1000 / hist_unit : 0;
    ++st.hist[us > WL_HIST_US ? WL_HIST_US : us];
    ++st.msgs;
    st.bytes += len;
    st.last_ns = read_ns;
    __atomic_add_fetch(&shm->acks[seq % WL_RING], 1, __ATOMIC_RELEASE);
}

static char *out_reserve(wl_conn *c, size_t n)
{
    if (c->woff == c->wlen) {
        c->woff = c->wlen = 0;
    }
    if (c->wlen + n > c->wcap) {
        c->wcap = (c->wlen + n) * 2;
        if (!(c->wbuf = realloc(c->wbuf, c->wcap))) {
            die("realloc");
        }
    }
    c->wlen += n;
    return c->wbuf + c->wlen - n;
}

/* A masked client frame (RFC 6455 §5.2) of @a len payload bytes: @a data,
 * or (NULL) the payload of message @a seq. */
static void send_frame(wl_conn *c, int opcode, const char *data, size_t len,
                       uint64_t seq)
{
    size_t hlen = 2 + (len > 65535 ? 8 : len > 125 ? 2 : 0) + 4, i;
    unsigned char *h = (unsigned char *)out_reserve(c, hlen + len);
    char *p = (char *)h + hlen;
    uint32_t mask = (uint32_t)rand64();
    unsigned char *m = h + hlen - 4;

    h[0] = (unsigned char)(0x80 | opcode);
    if (len > 65535) {
        h[1] = 0x80 | 127;
        for (i = 0; i < 8; ++i) {
            h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        }
    }
    else if (len > 125) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
    }
    else {
        h[1] = (unsigned char)(0x80 | len);
    }
    memcpy(m, &mask, 4);
    if (data) {
        memcpy(p, data, len);
    }
    else {
        make_payload(p, c, seq);
    }
    /* Masked a word at a time: the client must not be the bottleneck. */
    {
        uint64_t m8 = (uint64_t)mask | ((uint64_t)mask << 32), w;

        for (i = 0; i + 8 <= len; i += 8) {
            memcpy(&w, p + i, 8);
            w ^= m8;
            memcpy(p + i, &w, 8);
        }
        for (; i < len; ++i) {
            p[i] ^= (char)m[i & 3];
        }
    }
}

static void send_message(wl_conn *c)
{
    if (cfg.raw) {
        make_payload(out_reserve(c, cfg.size), c, c->next_seq);
    }
    else {
        send_frame(c, cfg.text ? 1 : 2, NULL, cfg.size, c->next_seq);
    }
    ++c->next_seq;
}

/* ---- connections ----------------------------------------------------- */

static void watch(wl_conn *c, int op, unsigned int events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    c->events = ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(ep, op, c->fd, &ev)) {
        die("epoll_ctl");
    }
}

static int conn_open(wl_conn *c, int id)
{
    struct sockaddr_in src;
    int one = 1;

    memset(c, 0, sizeof(*c));
    c->id = id;
    c->target = id % cfg.ntargets;
    c->started_ns = now_ns();
    c->rbuf = malloc(cfg.rbuf);
    c->sent_at = calloc((size_t)cfg.window, sizeof(*c->sent_at));
    if (cfg.mode == WL_FANOUT) {
        c->expect_pub = calloc((size_t)cfg.publishers,
                               sizeof(*c->expect_pub));
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0 || !c->rbuf || !c->sent_at
        || (cfg.mode == WL_FANOUT && !c->expect_pub)) {
        c->err = errno;
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (cfg.sources > 1) {
        /* One source address has ~28,000 ephemeral ports towards one
         * server port: spread the connections over 127.0.0.1..N. The
         * port is chosen at connect(), by the whole 4-tuple: bind() would
         * search for one free of every binding (slow past thousands). */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                   sizeof(one));
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + id % cfg.sources);
        if (bind(c->fd, (struct sockaddr *)&src, sizeof(src))) {
            c->err = errno;
            return -1;
        }
    }
    if (connect(c->fd, (struct sockaddr *)&cfg.targets[c->target].addr,
                sizeof(cfg.targets[c->target].addr))
        && errno != EINPROGRESS) {
        c->err = errno;
        return -1;
    }
    c->state = WL_CONNECTING;
    watch(c, EPOLL_CTL_ADD, EPOLLOUT);
    return 0;
}

static void conn_free(wl_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->rbuf);
    free(c->wbuf);
    free(c->sent_at);
    free(c->expect_pub);
    c->fd = -1;
    c->rbuf = c->wbuf = NULL;
    c->sent_at = NULL;
    c->expect_pub = NULL;
    c->wcap = c->wlen = c->woff = 0;
}

static void conn_started(wl_conn *c)
{
    int i;

    c->state = WL_OPEN;
    ++st.connected;
    st.last_open_ns = now_ns();
    if (cfg.http) {
        /* The response is in: a cycle waits for the server's FIN, an
         * idle connection stays as it is. */
        c->done = 1;
        c->state = cfg.mode == WL_CYCLES ? WL_CLOSING : WL_OPEN;
        return;
    }
    if (cfg.mode == WL_FANOUT) {
        c->was_open = 1;
        __atomic_add_fetch(&shm->subscribed, 1, __ATOMIC_RELEASE);
    }
    c->next_ping = now_ns() + (uint64_t)(cfg.ping_interval * 1e9
                                         * (rand64() % 1000) / 1000);
    if (cfg.mode == WL_ECHO) {
        for (i = 0; i < cfg.window; ++i) {
            send_message(c);
        }
    }
    else if (cfg.mode == WL_CYCLES) {
        send_message(c);
    }
}

static void send_handshake(wl_conn *c)
{
    char key[25];
    size_t i;
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int n;

    if (cfg.http) {
        /* Cycles end with the server's close; idle ones stay (HTTP/1.1
         * keeps the connection alive). */
        n = snprintf(out_reserve(c, 512), 512,
                     "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                     cfg.targets[c->target].path, cfg.targets[c->target].host,
                     cfg.mode == WL_CYCLES ? "Connection: close\r\n" : "");
        c->wlen -= 512 - (size_t)n;
        c->state = WL_HANDSHAKE;
        return;
    }
    /* 16 random bytes in base64 are 22 characters and "==". */
    for (i = 0; i < 22; ++i) {
        key[i] = b64[rand64() % 64];
    }
    key[21] = b64[(rand64() % 4) * 16];
    strcpy(key + 22, "==");
    n = snprintf(out_reserve(c, 512), 512,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 cfg.targets[c->target].path, cfg.targets[c->target].host,
                 key);
    c->wlen -= 512 - (size_t)n;
    c->state = WL_HANDSHAKE;
}

/* http:// (idle, cycles): the response to our GET, head and
 * Content-Length bytes; once it is whole the connection counts as open.
 * Anything after it is dropped. -1 ends the connection. */
static int http_input(wl_conn *c)
{
    char *end, *v;

    if (c->state != WL_HANDSHAKE) {
        c->rlen = 0;
        return 0;
    }
    if (!c->want) {
        c->rbuf[c->rlen < cfg.rbuf ? c->rlen : cfg.rbuf - 1] = '\0';
        if (!(end = strstr(c->rbuf, "\r\n\r\n"))) {
            return c->rlen < cfg.rbuf - 1 ? 0 : -1;
        }
        *end = '\0';                   /* the head, for the searches */
        v = strcasestr(c->rbuf, "\r\nContent-Length:");
        if (strncmp(c->rbuf, "HTTP/1.1 200", 12) || !v) {
            ++st.failed;                /* a static file has a length */
            c->err = -1;
            return -1;
        }
        c->want = (size_t)(end + 4 - c->rbuf) + strtoul(v + 17, NULL, 10);
        *end = '\r';
        if (c->want > cfg.rbuf) {
            ++st.errors;
            c->err = -1;
            return -1;
        }
    }
    if (c->rlen >= c->want) {
        uint64_t us = (now_ns() - c->started_ns) / 1000;

        /* timed from connect() to the last byte */
        ++st.hist[us > WL_HIST_US ? WL_HIST_US : us];
        ++st.msgs;
        st.bytes += c->want;
        c->rlen = 0;
        conn_started(c);
    }
    return 0;
}

/* Parse what arrived; -1 ends the connection. */
static int conn_input(wl_conn *c)
{
    size_t off = 0;

    if (cfg.http) {
        return http_input(c);
    }
    if (c->state == WL_HANDSHAKE) {
        char *end;

        c->rbuf[c->rlen < cfg.rbuf ? c->rlen : cfg.rbuf - 1] = '\0';
        if (!(end = strstr(c->rbuf, "\r\n\r\n"))) {
            return c->rlen < cfg.rbuf - 1 ? 0 : -1;
        }
        if (strncmp(c->rbuf, "HTTP/1.1 101", 12)
            || !strcasestr(c->rbuf, "\r\nSec-WebSocket-Accept:")) {
            ++st.failed;
            c->err = -1;
            return -1;
        }
        off = (size_t)(end + 4 - c->rbuf);
        conn_started(c);
    }
    if (cfg.raw) {
        for (; c->rlen - off >= cfg.size; off += cfg.size) {
            if (cfg.mode == WL_FANOUT) {
                fanout_payload(c, c->rbuf + off, cfg.size);
                continue;
            }
            check_payload(c, c->rbuf + off, cfg.size);
            send_message(c);
        }
    }
    while (!cfg.raw && c->rlen - off >= 2) {
        unsigned char *h = (unsigned char *)c->rbuf + off;
        size_t hlen = 2, len = h[1] & 0x7F, i;
        int op = h[0] & 0x0F;

        if (len == 126) {
            hlen = 4;
        }
        else if (len == 127) {
            hlen = 10;
        }
        if (c->rlen - off < hlen) {
            break;
        }
        if (len >= 126) {
            for (len = 0, i = 2; i < hlen; ++i) {
                len = (len << 8) | h[i];
            }
        }
        if (hlen + len > cfg.rbuf || (h[1] & 0x80) || !(h[0] & 0x80)) {
            ++st.errors;          /* too big for us, masked or fragmented */
            c->err = -1;
            return -1;
        }
        if (c->rlen - off < hlen + len) {
            break;
        }
        if (op == 9) {
            send_frame(c, 10, (char *)h + hlen, len, 0);
        }
        else if (op == 10) {
            ++st.pongs;
            c->pings_out = 0;
        }
        else if (op == 8) {
            ++st.closes;
            if (!c->done && c->state != WL_CLOSING) {
                /* The server's own close (not the answer to ours):
                 * going away (1001) is what a server that stops says. */
                if (len >= 2 && ((h[hlen] << 8) | h[hlen + 1]) == 1001) {
                    ++st.close_1001;
                }
                else {
                    ++st.close_other;
                }
            }
            c->done = 1;
            if (c->state != WL_CLOSING) {
                send_frame(c, 8, (char *)h + hlen, len >= 2 ? 2 : 0, 0);
            }
            c->state = WL_CLOSING;
        }
        else if (cfg.mode == WL_ECHO) {
            check_payload(c, (char *)h + hlen, len);
            send_message(c);
        }
        else if (cfg.mode == WL_FANOUT && c->state == WL_OPEN) {
            fanout_payload(c, (char *)h + hlen, len);
        }
        else if (cfg.mode == WL_CYCLES && c->state == WL_OPEN) {
            check_payload(c, (char *)h + hlen, len);
            send_frame(c, 8, "\x03\xe8", 2, 0);
            c->state = WL_CLOSING;
        }
        off += hlen + len;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    return 0;
}

/* Handle readiness; -1 when the connection is over. */
static int conn_event(wl_conn *c, unsigned int events)
{
    ssize_t n;
    int err = 0;
    socklen_t elen = sizeof(err);

    if (c->state == WL_CONNECTING) {
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        if (err) {
            c->err = err;
            return -1;
        }
        if (cfg.raw) {
            conn_started(c);
        }
        else {
            send_handshake(c);
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
            size_t room = cfg.rbuf - c->rlen;

            n = read(c->fd, c->rbuf + c->rlen, room);
            if (n == 0) {
                c->err = 0;
                return -1;
            }
            if (n < 0) {
                if (errno != EAGAIN) {
                    c->err = errno;
                    return -1;
                }
                break;
            }
            c->rlen += (size_t)n;
            if (cfg.mode == WL_FANOUT) {
                read_ns = now_ns();
            }
            if (conn_input(c)) {
                return -1;
            }
            if (cfg.mode == WL_FANOUT && (size_t)n < room) {
                /* A short read took all there was: epoll (level-
                 * triggered) says when more comes; saves the EAGAIN read
                 * of every delivery. */
                break;
            }
        }
    }
    while (c->woff < c->wlen) {
        n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno != EAGAIN) {
                c->err = errno;
                return -1;
            }
            break;
        }
        c->woff += (size_t)n;
    }
    events = EPOLLIN | (c->woff < c->wlen ? EPOLLOUT : 0);
    if (events != c->events) {
        watch(c, EPOLL_CTL_MOD, events);
    }
    return 0;
}

/* A connection is over (c->err says how): count it by what it got to. */
static void conn_ended(wl_conn *c)
{
    st.last_end_ns = now_ns();
    if (c->err == -1) {
        return;                     /* counted where it happened */
    }
    if (c->state == WL_CONNECTING || c->state == WL_HANDSHAKE) {
        ++st.failed;
        if (c->err == ECONNREFUSED) {
            ++st.refused;
        }
        else if (c->err == ETIMEDOUT) {
            ++st.timedout;
        }
        else if (c->err == 0 || c->err == ECONNRESET || c->err == EPIPE) {
            ++st.reset;             /* RST, or FIN before the answer */
        }
    }
    else if (c->done) {
        if (cfg.mode == WL_CYCLES && c->err == 0) {
            ++st.completed;         /* and the server's FIN came */
        }
    }
    else if (c->err == 0) {
        ++st.dropped_eof;
    }
    else {
        ++st.dropped_rst;
    }
}

/* Idle mode: ping whoever is due; a ping still unanswered when the next
 * is due counts as missed. */
static void ping_due(wl_conn *cs, int n, uint64_t now)
{
    uint64_t step = (uint64_t)(cfg.ping_interval * 1e9);
    int i;

    for (i = 0; i < n; ++i) {
        wl_conn *c = &cs[i];
        if (c->fd < 0 || c->state != WL_OPEN || now < c->next_ping
            || cfg.http) {
            continue;
        }
        if (c->pings_out) {
            ++st.missed;
        }
        send_frame(c, 9, "idle", 4, 0);
        c->pings_out = 1;
        c->next_ping = now + step;
        conn_event(c, 0);
    }
}

/* ---- one process's share --------------------------------------------- */

static void run(int first_id, int n)
{
    wl_conn *cs = calloc((size_t)n, sizeof(*cs));
    struct epoll_event evs[512];
    uint64_t t0 = now_ns(), end, now, next_check = 0;
    int opened = 0, live = 0, i, j, k, ready = 0;
    long cycles_started = 0;
    pid_t parent = getppid();

    if (!cs || (ep = epoll_create1(0)) < 0) {
        die("setup");
    }
    for (i = 0; i < n; ++i) {
        cs[i].fd = -1;
    }
    end = t0 + (uint64_t)(cfg.duration * 1e9);
    for (;;) {
        now = now_ns();
        /* Open connections at the configured rate (all at once for echo,
         * and for idle with -r 0: a storm). */
        while (opened < n && ((cfg.mode != WL_IDLE && cfg.mode != WL_FANOUT)
                              || cfg.rate <= 0
                              || opened < (now - t0) / 1e9 * cfg.rate
                                          / cfg.procs + 1)) {
            if (cfg.mode == WL_CYCLES && cycles_started >= cfg.cycles) {
                break;
            }
            if (conn_open(&cs[opened], first_id + opened)) {
                conn_ended(&cs[opened]);
                conn_free(&cs[opened]);
            }
            else {
                ++live;
                ++cycles_started;
            }
            ++opened;
        }
        if (cfg.mode == WL_FANOUT) {
            /* The publisher says when it is over (or is gone). */
            if (__atomic_load_n(&shm->done, __ATOMIC_ACQUIRE)
                || getppid() != parent) {
                break;
            }
        }
        else if (cfg.mode == WL_CYCLES
                 ? (live == 0 && cycles_started >= cfg.cycles) : now >= end) {
            break;
        }
        else if (now > end + 30000000000ULL) {
            fprintf(stderr, "wsload: hard deadline passed\n");
            break;
        }
        k = epoll_wait(ep, evs, 512, 10);
        for (i = 0; i < k; ++i) {
            wl_conn *c = evs[i].data.ptr;
            if (conn_event(c, evs[i].events) == 0) {
                continue;
            }
            if (c->was_open) {
                /* A subscriber the server closed gets nothing more. */
                ++st.cut;
                __atomic_sub_fetch(&shm->subscribed, 1, __ATOMIC_RELEASE);
            }
            conn_ended(c);
            conn_free(c);
            --live;
            if (cfg.mode == WL_CYCLES && cycles_started < cfg.cycles) {
                /* The next cycle reuses the slot. */
                if (conn_open(c, c->id) == 0) {
                    ++live;
                }
                else {
                    conn_ended(c);
                    conn_free(c);
                }
                ++cycles_started;
            }
        }
        if (cfg.mode == WL_IDLE && now >= next_check) {
            int pending = 0;

            ping_due(cs, opened, now);
            next_check = now + 100000000ULL;
            /* Handshakes that take too long give up (-T); with -x the
             * run is over once every connection is open or failed. */
            for (i = 0; i < opened; ++i) {
                if (cs[i].fd < 0 || cs[i].state >= WL_OPEN) {
                    continue;
                }
                /* (opened after `now` was taken: not late) */
                if (cfg.hs_timeout > 0 && now > cs[i].started_ns
                    && now - cs[i].started_ns > cfg.hs_timeout * 1e9) {
                    cs[i].err = ETIMEDOUT;
                    conn_ended(&cs[i]);
                    conn_free(&cs[i]);
                    --live;
                }
                else {
                    ++pending;
                }
            }
            if (opened == n && (live == 0 || (cfg.settle_exit && !pending))) {
                break;              /* nothing left to hold, or settled */
            }
        }
        if (cfg.mode == WL_FANOUT && !ready && opened == n
            && now >= next_check) {
            /* Settled: every subscriber open or failed. */
            for (i = 0; i < n && (cs[i].fd < 0 || cs[i].state >= WL_OPEN);
                 ++i) {
            }
            if (i == n) {
                ready = 1;
                __atomic_add_fetch(&shm->ready, 1, __ATOMIC_RELEASE);
            }
            next_check = now + 100000000ULL;
        }
    }
    if (cfg.mode == WL_FANOUT) {
        /* What a subscriber has not got by now, it missed. */
        for (j = 0; j < cfg.publishers; ++j) {
            uint64_t published = __atomic_load_n(&shm->published[j],
                                                 __ATOMIC_ACQUIRE);

            for (i = 0; i < opened; ++i) {
                if (cs[i].was_open && cs[i].expect_pub[j] < published) {
                    st.missing += published - cs[i].expect_pub[j];
                }
            }
        }
    }
    for (i = 0; i < opened; ++i) {
        conn_free(&cs[i]);
    }
    free(cs);
}

/* ---- fanout: the publishers ------------------------------------------ */

/* One publisher: an HTTP/1.1 keep-alive connection to a publisher
 * location, or an AMQP connection to the broker (blocking: each publisher
 * waits for each answer, the POST's or the confirm, so it has one message
 * in flight; the window bounds what the subscribers have not all got). */
typedef struct wl_pub {
    int id;                         /* 0 .. cfg.publishers - 1 */
    const wl_target *to;
    int fd;
    amqp_connection_state_t amqp;   /* an amqp:// publisher's, or NULL */
    char *req;                      /* request head + body, one write */
    size_t hlen;                    /* head length */
    uint64_t published, errors;
    uint64_t answer_ns;             /* spent waiting for answers */
    pthread_t thread;
    char in[16384];
} wl_pub;

static int pub_connect(wl_pub *pb)
{
    struct timeval tv = { 30, 0 };
    int one = 1;

    pb->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (pb->fd < 0) {
        return -1;
    }
    setsockopt(pb->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(pb->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(pb->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(pb->fd, (const struct sockaddr *)&pb->to->addr,
                sizeof(pb->to->addr))) {
        close(pb->fd);
        pb->fd = -1;
        return -1;
    }
    return 0;
}

/* Stamp the body in pb->req with message number @a seq and the time. */
static void pub_stamp(wl_pub *pb, uint64_t seq)
{
    char stamp[WL_FANOUT_STAMP + 1];

    snprintf(stamp, sizeof(stamp), "%016llx %016llx ",
             (unsigned long long)seq, (unsigned long long)now_ns());
    memcpy(pb->req + pb->hlen, stamp, WL_FANOUT_STAMP);
}

static void amqp_drop(wl_pub *pb)
{
    amqp_destroy_connection(pb->amqp);
    pb->amqp = NULL;
}

/* An AMQP connection and channel 1 in confirm mode: each publish is
 * answered by the broker once every queue it was routed to has it. */
static int amqp_connect(wl_pub *pb)
{
    char host[64];
    amqp_socket_t *sock;
    amqp_rpc_reply_t r;

    pb->amqp = amqp_new_connection();
    if (!pb->amqp || !(sock = amqp_tcp_socket_new(pb->amqp))) {
        die("amqp_new_connection");
    }
    inet_ntop(AF_INET, &pb->to->addr.sin_addr, host, sizeof(host));
    if (amqp_socket_open(sock, host, ntohs(pb->to->addr.sin_port))) {
        amqp_drop(pb);
        return -1;
    }
    r = amqp_login(pb->amqp, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                   pb->to->user, pb->to->pass);
    if (r.reply_type != AMQP_RESPONSE_NORMAL
        || !amqp_channel_open(pb->amqp, 1)
        || !amqp_confirm_select(pb->amqp, 1)) {
        amqp_drop(pb);
        return -1;
    }
    return 0;
}

/* Publish message @a seq, stamped now, and wait for the broker's confirm:
 * 200 when it came (as a POST's answer would say), 0 otherwise. */
static int pub_amqp(wl_pub *pb, uint64_t seq)
{
    amqp_basic_properties_t props;
    amqp_bytes_t body = { cfg.size, pb->req };
    amqp_frame_t frame;

    if (!pb->amqp && amqp_connect(pb)) {
        return 0;
    }
    pub_stamp(pb, seq);
    memset(&props, 0, sizeof(props));
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.content_type = amqp_cstring_bytes(cfg.text
                                            ? "text/plain"
                                            : "application/octet-stream");
    if (amqp_basic_publish(pb->amqp, 1, amqp_cstring_bytes(WL_AMQP_EXCHANGE),
                           amqp_cstring_bytes(pb->to->path + 1), 0, 0,
                           &props, body) != AMQP_STATUS_OK) {
        amqp_drop(pb);
        return 0;
    }
    for (;;) {
        if (amqp_simple_wait_frame(pb->amqp, &frame) != AMQP_STATUS_OK) {
            amqp_drop(pb);
            return 0;
        }
        if (frame.frame_type == AMQP_FRAME_METHOD) {
            amqp_method_number_t id = frame.payload.method.id;

            amqp_maybe_release_buffers(pb->amqp);
            if (id == AMQP_BASIC_ACK_METHOD) {
                return 200;
            }
            if (id == AMQP_BASIC_NACK_METHOD) {
                return 500;
            }
            if (id == AMQP_CHANNEL_CLOSE_METHOD
                || id == AMQP_CONNECTION_CLOSE_METHOD) {
                amqp_drop(pb);
                return 0;
            }
        }
    }
}

/* POST message @a seq, stamped now (to an amqp:// target: pub_amqp()); its
 * HTTP status, or 0 when the connection failed. The connection is closed
 * when the server says so. */
/* Send message @a seq, stamped now, to tcpfan and wait for its byte: 200
 * when it came, 0 otherwise. */
static int pub_raw(wl_pub *pb, uint64_t seq)
{
    size_t off = 0;
    ssize_t n;
    char ack;

    if (pb->fd < 0 && pub_connect(pb)) {
        return 0;
    }
    pub_stamp(pb, seq);
    while (off < cfg.size) {
        if ((n = write(pb->fd, pb->req + off, cfg.size - off)) <= 0) {
            break;
        }
        off += (size_t)n;
    }
    if (off == cfg.size && read(pb->fd, &ack, 1) == 1) {
        return 200;
    }
    close(pb->fd);                      /* the next try connects again */
    pb->fd = -1;
    return 0;
}

static int pub_post(wl_pub *pb, uint64_t seq)
{
    char *end, *v;
    size_t len = pb->hlen + cfg.size, off = 0, have = 0, want = 0;
    ssize_t n;
    int status = 0, keep;

    if (pb->to->amqp) {
        return pub_amqp(pb, seq);
    }
    if (pb->to->raw) {
        return pub_raw(pb, seq);
    }
    if (pb->fd < 0 && pub_connect(pb)) {
        return 0;
    }
    pub_stamp(pb, seq);
    while (off < len) {
        if ((n = write(pb->fd, pb->req + off, len - off)) <= 0) {
            goto fail;
        }
        off += (size_t)n;
    }
    /* The answer: a head, then Content-Length bytes or chunks. */
    for (end = NULL; !end; ) {
        if (have == sizeof(pb->in) - 1
            || (n = read(pb->fd, pb->in + have,
                         sizeof(pb->in) - 1 - have)) <= 0) {
            goto fail;
        }
        have += (size_t)n;
        pb->in[have] = '\0';
        end = strstr(pb->in, "\r\n\r\n");
    }
    if (sscanf(pb->in, "HTTP/1.%*d %d", &status) != 1) {
        goto fail;
    }
    end[2] = '\0';                      /* the head, for the searches */
    keep = !strcasestr(pb->in, "\r\nConnection: close");
    if ((v = strcasestr(pb->in, "\r\nContent-Length:"))) {
        want = (size_t)(end + 4 - pb->in) + strtoul(v + 17, NULL, 10);
    }
    else if (!strcasestr(pb->in, "\r\nTransfer-Encoding: chunked")) {
        keep = 0;                       /* to the end of the connection */
    }
    end[2] = '\r';
    for (;;) {
        if (want ? have >= want
                 : (keep && memmem(end + 2, have - (size_t)(end + 2 - pb->in),
                                   "\r\n0\r\n\r\n", 7))) {
            break;
        }
        if (have == sizeof(pb->in) - 1) {
            goto fail;
        }
        if ((n = read(pb->fd, pb->in + have,
                      sizeof(pb->in) - 1 - have)) <= 0) {
            if (n == 0 && !keep && !want) {
                break;
            }
            goto fail;
        }
        have += (size_t)n;
    }
    if (!keep) {
        close(pb->fd);
        pb->fd = -1;
    }
    return status;
fail:
    close(pb->fd);
    pb->fd = -1;
    return status;
}

/* The publishers share what every subscriber has: messages below
 * pubs.completed, and when that last moved. */
static struct {
    pthread_mutex_t lock;
    uint64_t completed, progress_ns, first_ns, end_ns;
    int stalled, stop;
} pubs = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Has every subscriber got message @a seq, published by now? */
static int pub_delivered(uint64_t seq, uint64_t alive)
{
    return __atomic_load_n(&shm->acks[seq % WL_RING], __ATOMIC_ACQUIRE)
           >= alive;
}

/* Advance pubs.completed over the messages every subscriber has (under
 * the lock); a number not published yet stops it. A published message
 * that has not reached everyone for 5 s stops the run: it was lost. */
static uint64_t pub_completed(uint64_t now)
{
    uint64_t alive = __atomic_load_n(&shm->subscribed, __ATOMIC_ACQUIRE);
    uint64_t completed;
    int p;

    pthread_mutex_lock(&pubs.lock);
    for (;;) {
        completed = pubs.completed;
        p = (int)(completed % (uint64_t)cfg.publishers);
        if (completed / (uint64_t)cfg.publishers
            >= __atomic_load_n(&shm->published[p], __ATOMIC_ACQUIRE)) {
            pubs.progress_ns = now;     /* waiting for its publisher */
            break;
        }
        if (!pub_delivered(completed, alive)) {
            /* (another publisher's clock may be ahead of this one's) */
            if (now > pubs.progress_ns
                && now - pubs.progress_ns > 5000000000ULL) {
                pubs.stalled = pubs.stop = 1;
            }
            break;
        }
        __atomic_store_n(&shm->acks[completed % WL_RING], 0,
                         __ATOMIC_RELEASE);
        pubs.completed = completed + 1;
        pubs.progress_ns = now;
    }
    pthread_mutex_unlock(&pubs.lock);
    return completed;
}

/* Is every message published so far everywhere? (The numbers past
 * pubs.completed that some publisher has not used stop nothing here.) */
static int pub_all_delivered(void)
{
    uint64_t alive = __atomic_load_n(&shm->subscribed, __ATOMIC_ACQUIRE);
    uint64_t completed = pub_completed(now_ns()), seq;
    int p;

    for (p = 0; p < cfg.publishers; ++p) {
        uint64_t k = completed / (uint64_t)cfg.publishers
                     + (completed % (uint64_t)cfg.publishers > (uint64_t)p);

        for (; k < __atomic_load_n(&shm->published[p], __ATOMIC_ACQUIRE);
             ++k) {
            seq = k * (uint64_t)cfg.publishers + (uint64_t)p;
            if (!pub_delivered(seq, alive)) {
                return 0;
            }
        }
    }
    return 1;
}

/* One publisher: for cfg.duration seconds, at its share of cfg.pub_rate
 * messages/s, or (0) as fast as the server takes them; never a message
 * numbered cfg.window or more past one that some subscriber has not got. */
static void *publish_one(void *baton)
{
    static const struct timespec nap = { 0, 20000 };
    wl_pub *pb = baton;
    uint64_t k = 0, seq, now, end, due;
    int status, retried = 0;

    end = pubs.first_ns + (uint64_t)(cfg.duration * 1e9);
    for (now = pubs.first_ns; now < end
                              && !__atomic_load_n(&pubs.stop, __ATOMIC_ACQUIRE);
         now = now_ns()) {
        seq = k * (uint64_t)cfg.publishers + (uint64_t)pb->id;
        if (seq - pub_completed(now) >= (uint64_t)cfg.window) {
            nanosleep(&nap, NULL);
            continue;
        }
        if (cfg.pub_rate > 0) {
            due = pubs.first_ns + (uint64_t)((double)k * 1e9
                                             * cfg.publishers / cfg.pub_rate);
            if (now < due) {
                if (due - now > 50000) {
                    nanosleep(&nap, NULL);
                }
                continue;
            }
        }
        status = pub_post(pb, seq);
        pb->answer_ns += now_ns() - now;
        if (status == 200) {
            ++k;
            retried = 0;
            __atomic_store_n(&shm->published[pb->id], k, __ATOMIC_RELEASE);
        }
        else if (status == 0 && !retried) {
            retried = 1;                /* a kept-alive connection closed */
        }
        else if (++pb->errors > 100) {
            fprintf(stderr, "wsload: publish failed (HTTP status %d)\n",
                    status);
            break;
        }
    }
    pb->published = k;
    if (pb->fd >= 0) {
        close(pb->fd);
    }
    if (pb->amqp) {
        amqp_connection_close(pb->amqp, AMQP_REPLY_SUCCESS);
        amqp_drop(pb);
    }
    return NULL;
}

static struct {
    uint64_t published, errors, first_ns, end_ns, answer_ns;
    int stalled;
} pst;

/* Publish with cfg.publishers publishers at once (POSTing to the -u URLs
 * in turn), then wait (up to cfg.drain seconds) until every subscriber has
 * every message. */
static void publish_run(void)
{
    static const struct timespec nap = { 0, 20000 };
    wl_pub *pbs = calloc((size_t)cfg.publishers, sizeof(*pbs));
    uint64_t end;
    int i;

    if (!pbs) {
        die("calloc");
    }
    pubs.first_ns = pubs.progress_ns = now_ns();
    for (i = 0; i < cfg.publishers; ++i) {
        wl_pub *pb = &pbs[i];

        pb->id = i;
        pb->to = &cfg.pubs[i % cfg.npubs];
        pb->fd = -1;
        if (!(pb->req = malloc(1024 + cfg.size))) {
            die("malloc");
        }
        pb->hlen = pb->to->amqp || pb->to->raw ? 0
                   : (size_t)snprintf(pb->req, 1024,
                                      "POST %s HTTP/1.1\r\nHost: %s\r\n"
                                      "Content-Type: %s\r\n"
                                      "Content-Length: %zu\r\n\r\n",
                                      pb->to->path, pb->to->host,
                                      cfg.text ? "text/plain"
                                               : "application/octet-stream",
                                      cfg.size);
        memcpy(pb->req + pb->hlen, body, cfg.size);
        if (pthread_create(&pb->thread, NULL, publish_one, pb)) {
            die("pthread_create");
        }
    }
    for (i = 0; i < cfg.publishers; ++i) {
        pthread_join(pbs[i].thread, NULL);
        pst.published += pbs[i].published;
        pst.errors += pbs[i].errors;
        pst.answer_ns += pbs[i].answer_ns;
        free(pbs[i].req);
    }
    pst.first_ns = pubs.first_ns;
    pst.end_ns = now_ns();
    pst.stalled = pubs.stalled;
    /* Drain: what is in flight arrives, or is missing. */
    end = now_ns() + (uint64_t)(cfg.drain * 1e9);
    while (!pub_all_delivered() && now_ns() < end) {
        nanosleep(&nap, NULL);
    }
    free(pbs);
}

/* ---- results ---------------------------------------------------------- */

static double percentile(const uint64_t *hist, uint64_t total, double q)
{
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    size_t i;

    if (!total) {
        return 0;
    }
    for (i = 0; i <= WL_HIST_US; ++i) {
        seen += hist[i];
        if (seen > want) {
            return (double)i * hist_unit / 1000.0;
        }
    }
    return (double)WL_HIST_US * hist_unit / 1000.0;
}

static void report(double secs)
{
    /* From the start to the last open, and to the last open or failed
     * (the failures' end times are last_end_ns). */
    double open_secs = st.last_open_ns > cfg.t0
                       ? (st.last_open_ns - cfg.t0) / 1e9 : 0;
    double settle_secs = st.last_end_ns > st.last_open_ns && st.failed
                         ? (st.last_end_ns - cfg.t0) / 1e9 : open_secs;
    double p50 = percentile(st.hist, st.msgs, 0.50);
    double p99 = percentile(st.hist, st.msgs, 0.99);
    double p999 = percentile(st.hist, st.msgs, 0.999);
    double max = 0;
    /* How connections failed, and how they ended. */
    unsigned long long refused = st.refused, reset = st.reset;
    unsigned long long timedout = st.timedout, close_1001 = st.close_1001;
    unsigned long long close_other = st.close_other;
    unsigned long long dropped_eof = st.dropped_eof;
    unsigned long long dropped_rst = st.dropped_rst;
    size_t i;

    for (i = 0; i <= WL_HIST_US; ++i) {
        if (st.hist[i]) {
            max = (double)i * hist_unit / 1000.0;
        }
    }
    if (cfg.json) {
        printf("{\"secs\": %.3f, \"msgs\": %llu, \"msgs_per_s\": %.1f, "
               "\"mb_per_s\": %.2f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
               "\"p999_ms\": %.3f, \"max_ms\": %.3f, \"errors\": %llu, "
               "\"connected\": %llu, \"failed\": %llu, \"pongs\": %llu, "
               "\"missed_pongs\": %llu, \"closes\": %llu, "
               "\"refused\": %llu, \"reset\": %llu, \"timedout\": %llu, "
               "\"close_1001\": %llu, \"close_other\": %llu, "
               "\"dropped_eof\": %llu, \"dropped_rst\": %llu, "
               "\"completed\": %llu, \"completed_per_s\": %.1f, "
               "\"open_secs\": %.3f, \"settle_secs\": %.3f, "
               "\"last_end_mono\": %.3f}\n", secs,
               (unsigned long long)st.msgs, st.msgs / secs,
               st.bytes / secs / 1e6, p50, p99, p999, max,
               (unsigned long long)st.errors,
               (unsigned long long)st.connected,
               (unsigned long long)st.failed, (unsigned long long)st.pongs,
               (unsigned long long)st.missed, (unsigned long long)st.closes,
               refused, reset, timedout, close_1001, close_other,
               dropped_eof, dropped_rst,
               (unsigned long long)st.completed, st.completed / secs,
               open_secs, settle_secs, st.last_end_ns / 1e9);
        return;
    }
    printf("%.1f s: %llu messages (%.0f/s, %.2f MB/s), latency p50 %.3f ms "
           "p99 %.3f ms p99.9 %.3f ms max %.3f ms; connected %llu, failed "
           "%llu, pongs %llu (missed %llu), closes %llu, errors %llu\n",
           secs, (unsigned long long)st.msgs, st.msgs / secs,
           st.bytes / secs / 1e6, p50, p99, p999, max,
           (unsigned long long)st.connected, (unsigned long long)st.failed,
           (unsigned long long)st.pongs, (unsigned long long)st.missed,
           (unsigned long long)st.closes, (unsigned long long)st.errors);
    printf("all open after %.3f s; failed: refused %llu, reset %llu, timed "
           "out %llu; ended: close 1001 %llu, other close %llu, FIN without "
           "close %llu, RST without close %llu; cycles completed %llu "
           "(%.0f/s)\n", open_secs, refused, reset, timedout, close_1001,
           close_other, dropped_eof, dropped_rst,
           (unsigned long long)st.completed, st.completed / secs);
}

static void report_fanout(void)
{
    double p50 = percentile(st.hist, st.msgs, 0.50);
    double p99 = percentile(st.hist, st.msgs, 0.99);
    double p999 = percentile(st.hist, st.msgs, 0.999);
    double max = 0, pub_secs = (pst.end_ns - pst.first_ns) / 1e9;
    /* from the first POST to the last delivery */
    double secs = st.last_ns > pst.first_ns
                  ? (st.last_ns - pst.first_ns) / 1e9 : pub_secs;
    size_t i;

    for (i = 0; i <= WL_HIST_US; ++i) {
        if (st.hist[i]) {
            max = (double)i * hist_unit / 1000.0;
        }
    }
    if (cfg.json) {
        printf("{\"subscribers\": %d, \"connected\": %llu, \"failed\": %llu, "
               "\"cut\": %llu, \"window\": %d, \"rate\": %.1f, "
               "\"published\": %llu, \"publish_secs\": %.3f, "
               "\"publish_per_s\": %.1f, \"publish_errors\": %llu, "
               "\"deliveries\": %llu, \"secs\": %.3f, "
               "\"deliveries_per_s\": %.1f, \"p50_ms\": %.3f, "
               "\"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, "
               "\"missing\": %llu, \"duplicates\": %llu, \"errors\": %llu, "
               "\"stalled\": %d, \"publishers\": %d, "
               "\"answer_share\": %.3f}\n", cfg.conns,
               (unsigned long long)st.connected,
               (unsigned long long)st.failed, (unsigned long long)st.cut,
               cfg.window, cfg.pub_rate, (unsigned long long)pst.published,
               pub_secs, pst.published / pub_secs,
               (unsigned long long)pst.errors, (unsigned long long)st.msgs,
               secs, st.msgs / secs, p50, p99, p999, max,
               (unsigned long long)st.missing, (unsigned long long)st.dups,
               (unsigned long long)st.errors, pst.stalled, cfg.publishers,
               pst.answer_ns / 1e9 / pub_secs / cfg.publishers);
        return;
    }
    printf("%llu of %d subscribers (failed %llu, cut %llu); published %llu "
           "in %.1f s (%.0f/s, window %d, rate %s); %llu deliveries "
           "(%.0f/s), latency p50 %.3f ms p99 %.3f ms p99.9 %.3f ms max "
           "%.3f ms; missing %llu, duplicates %llu, errors %llu, publish "
           "errors %llu%s\n",
           (unsigned long long)st.connected, cfg.conns,
           (unsigned long long)st.failed, (unsigned long long)st.cut,
           (unsigned long long)pst.published, pub_secs,
           pst.published / pub_secs, cfg.window,
           cfg.pub_rate > 0 ? "fixed" : "max",
           (unsigned long long)st.msgs, st.msgs / secs, p50, p99, p999, max,
           (unsigned long long)st.missing, (unsigned long long)st.dups,
           (unsigned long long)st.errors, (unsigned long long)pst.errors,
           pst.stalled ? " (STALLED: a message never reached everyone)"
                       : "");
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
        "usage: wsload echo|idle|cycles|fanout URL [options]\n"
        "  URL        ws://HOST:PORT/PATH, or tcp://HOST:PORT (echo mode:\n"
        "             raw TCP, no framing: the baseline), or\n"
        "             http://HOST:PORT/PATH (idle: one GET each, then the\n"
        "             keep-alive connection stays idle; cycles: connect,\n"
        "             GET with Connection: close, the whole response, the\n"
        "             server's FIN); fanout: the\n"
        "             subscribers' ws://HOST:PORT/sub/CHANNEL, or several,\n"
        "             comma-separated (connections go round-robin), or\n"
        "             tcp://HOST:PORT (tcpfan: raw TCP, the baseline)\n"
        "  -c N       connections (fanout: subscribers; default 1)\n"
        "  -w N       echo: messages in flight per connection (default 1);\n"
        "             fanout: messages published that not every subscriber\n"
        "             has yet (default 32)\n"
        "  -s BYTES   message size, at least 16, fanout 40 (default 32,\n"
        "             fanout 64)\n"
        "  -t         text messages (default binary)\n"
        "  -d SECS    duration (fanout: of publishing; default 10)\n"
        "  -n K       cycles: open/echo/close K times, -c at once\n"
        "  -p SECS    idle: ping interval (default 10)\n"
        "  -r N       idle, fanout: connections opened per second (default\n"
        "             5000; idle 0: all at once)\n"
        "  -T SECS    idle: a handshake (or http: the response) not done\n"
        "             after SECS counts as timed out (default 0: never)\n"
        "  -x         idle: end once every connection is open or failed\n"
        "  -u URL     fanout: the publisher, http://HOST:PORT/pub/CHANNEL\n"
        "             (default: the first URL's /sub/ made /pub/), or\n"
        "             amqp://USER:PASS@HOST:PORT/CHANNEL (to the exchange\n"
        "             " WL_AMQP_EXCHANGE " of vhost /, routing key\n"
        "             CHANNEL, each publish confirmed), or\n"
        "             tcp://HOST:PORT (tcpfan's publishers' port: raw\n"
        "             subscribers only), or several, comma-separated\n"
        "             (publishers take them in turn)\n"
        "  -k N       fanout: publishers at once, each on its own\n"
        "             connection, in its own order (default 1)\n"
        "  -R N       fanout: messages published per second (default 0: as\n"
        "             fast as the server takes them, within -w)\n"
        "  -D SECS    fanout: how long stragglers may take (default 10)\n"
        "  -P N       processes sharing the connections (default 1)\n"
        "  -S N       source addresses 127.0.0.1..N (default 1)\n"
        "  -j         one JSON line instead of text\n");
    exit(2);
}

/* ws://, tcp:// (raw) or http:// (@a is_pub: a fanout publisher)
 * HOST:PORT/PATH, or amqp://USER:PASS@HOST:PORT/CHANNEL (a publisher). */
static void parse_url(wl_target *t, const char *url, int is_pub)
{
    const char *hp, *slash;
    char port[16] = "80";
    struct addrinfo hints, *ai;
    size_t hl;

    if (!strncmp(url, "amqp://", 7) && is_pub) {
        const char *at = strchr(url + 7, '@'), *colon = strchr(url + 7, ':');

        if (!at || !colon || colon > at
            || sscanf(url + 7, "%63[^:]:%63[^@]@", t->user, t->pass) != 2) {
            usage();
        }
        hp = at + 1;
        t->amqp = 1;
        snprintf(port, sizeof(port), "5672");
    }
    else if (!strncmp(url, "ws://", 5)) {
        hp = url + 5;
    }
    else if (!strncmp(url, "http://", 7)
             && (is_pub || cfg.mode == WL_IDLE
                 || cfg.mode == WL_CYCLES)) {
        hp = url + 7;
        cfg.http = !is_pub;
    }
    else if (!strncmp(url, "tcp://", 6)) {
        hp = url + 6;
        if (is_pub) {
            t->raw = 1;
        }
        else {
            cfg.raw = 1;
        }
    }
    else {
        usage();
    }
    slash = strchr(hp, '/');
    snprintf(t->path, sizeof(t->path), "%s", slash ? slash : "/");
    hl = slash ? (size_t)(slash - hp) : strlen(hp);
    if (hl >= sizeof(t->host)) {
        usage();
    }
    memcpy(t->host, hp, hl);
    t->host[hl] = '\0';
    if (strchr(t->host, ':')) {
        snprintf(port, sizeof(port), "%s", strchr(t->host, ':') + 1);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(t->host, ":"),
                 t->host);
        if (getaddrinfo(name, port, &hints, &ai)) {
            usage();
        }
    }
    memcpy(&t->addr, ai->ai_addr, sizeof(t->addr));
    freeaddrinfo(ai);
}

/* Each process's counters, read from its pipe and added up. */
static void gather(int pipes[][2], int procs)
{
    int i;

    for (i = 0; i < procs; ++i) {
        static typeof(st) part;
        size_t got = 0, j;
        ssize_t n;

        while (got < sizeof(part)
               && (n = read(pipes[i][0], (char *)&part + got,
                            sizeof(part) - got)) > 0) {
            got += (size_t)n;
        }
        close(pipes[i][0]);
        wait(NULL);
        if (got != sizeof(part)) {
            ++st.failed;
            continue;
        }
        st.msgs += part.msgs;
        st.bytes += part.bytes;
        st.errors += part.errors;
        st.connected += part.connected;
        st.failed += part.failed;
        st.pongs += part.pongs;
        st.missed += part.missed;
        st.closes += part.closes;
        st.missing += part.missing;
        st.dups += part.dups;
        st.cut += part.cut;
        st.refused += part.refused;
        st.reset += part.reset;
        st.timedout += part.timedout;
        st.close_1001 += part.close_1001;
        st.close_other += part.close_other;
        st.dropped_eof += part.dropped_eof;
        st.dropped_rst += part.dropped_rst;
        st.completed += part.completed;
        if (part.last_ns > st.last_ns) {
            st.last_ns = part.last_ns;
        }
        if (part.last_open_ns > st.last_open_ns) {
            st.last_open_ns = part.last_open_ns;
        }
        if (part.last_end_ns > st.last_end_ns) {
            st.last_end_ns = part.last_end_ns;
        }
        for (j = 0; j <= WL_HIST_US; ++j) {
            st.hist[j] += part.hist[j];
        }
    }
}

/* Fork cfg.procs processes, each with its share of the connections; they
 * report through pipes[]. */
static void spawn(int pipes[][2])
{
    int i, share = (cfg.conns + cfg.procs - 1) / cfg.procs;

    for (i = 0; i < cfg.procs; ++i) {
        if (pipe(pipes[i])) {
            die("pipe");
        }
        if (fork() == 0) {
            int n = cfg.conns - i * share < share ? cfg.conns - i * share
                                                   : share;
            rng ^= (uint64_t)(i + 1) * 0x2545F4914F6CDD1DULL;
            run(i * share, n > 0 ? n : 0);
            if (write(pipes[i][1], &st, sizeof(st)) != sizeof(st)) {
                _exit(1);
            }
            _exit(0);
        }
        close(pipes[i][1]);
    }
}

/* Fanout: the subscribers in cfg.procs processes; once all are open, this
 * one publishes; then everyone reports. */
static int fanout(void)
{
    int pipes[64][2];
    uint64_t deadline;

    shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) {
        die("mmap");
    }
    spawn(pipes);
    deadline = now_ns() + (uint64_t)((cfg.conns / cfg.rate + 60) * 1e9);
    while (__atomic_load_n(&shm->ready, __ATOMIC_ACQUIRE) < cfg.procs
           && now_ns() < deadline) {
        usleep(10000);
    }
    if (__atomic_load_n(&shm->subscribed, __ATOMIC_ACQUIRE)
        == (uint64_t)cfg.conns) {
        usleep(500000);                 /* the handshakes' tail settles */
        /* Markers, so that a caller can time the servers' CPU use while
         * messages flow and not while subscribers connect. */
        fprintf(stderr, "wsload: publishing\n");
        publish_run();
        fprintf(stderr, "wsload: published\n");
    }
    else {
        fprintf(stderr, "wsload: %llu of %d subscribers open: not "
                "publishing\n", (unsigned long long)
                __atomic_load_n(&shm->subscribed, __ATOMIC_ACQUIRE),
                cfg.conns);
        pst.first_ns = pst.end_ns = now_ns() - 1;
    }
    __atomic_store_n(&shm->done, 1, __ATOMIC_RELEASE);
    gather(pipes, cfg.procs);
    report_fanout();
    return st.errors || st.failed || st.missing || st.dups || st.cut
           || pst.errors || pst.stalled
           || st.connected != (uint64_t)cfg.conns ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    uint64_t t0;
    int opt, pipes[64][2], window_set = 0, size_set = 0;
    char *pub_url = NULL;
    char *urls, *u;

    if (argc < 3) {
        usage();
    }
    if (!strcmp(argv[1], "echo")) {
        cfg.mode = WL_ECHO;
    }
    else if (!strcmp(argv[1], "idle")) {
        cfg.mode = WL_IDLE;
    }
    else if (!strcmp(argv[1], "cycles")) {
        cfg.mode = WL_CYCLES;
    }
    else if (!strcmp(argv[1], "fanout")) {
        cfg.mode = WL_FANOUT;
    }
    else {
        usage();
    }
    if (!(urls = strdup(argv[2]))) {
        die("strdup");
    }
    for (u = strtok(urls, ","); u; u = strtok(NULL, ",")) {
        if (cfg.ntargets == WL_MAX_TARGETS
            || (cfg.ntargets && cfg.mode != WL_FANOUT)) {
            usage();
        }
        parse_url(&cfg.targets[cfg.ntargets++], u, 0);
    }
    if (!cfg.ntargets) {
        usage();
    }
    optind = 3;
    while ((opt = getopt(argc, argv, "c:w:s:td:n:p:r:u:k:R:D:P:S:T:xj"))
           != -1) {
        switch (opt) {
        case 'c': cfg.conns = atoi(optarg); break;
        case 'w': cfg.window = atoi(optarg); window_set = 1; break;
        case 's': cfg.size = (size_t)atol(optarg); size_set = 1; break;
        case 't': cfg.text = 1; break;
        case 'd': cfg.duration = atof(optarg); break;
        case 'n': cfg.cycles = atol(optarg); break;
        case 'p': cfg.ping_interval = atof(optarg); break;
        case 'r': cfg.rate = atof(optarg); break;
        case 'u': pub_url = optarg; break;
        case 'k': cfg.publishers = atoi(optarg); break;
        case 'R': cfg.pub_rate = atof(optarg); break;
        case 'D': cfg.drain = atof(optarg); break;
        case 'P': cfg.procs = atoi(optarg); break;
        case 'S': cfg.sources = atoi(optarg); break;
        case 'T': cfg.hs_timeout = atof(optarg); break;
        case 'x': cfg.settle_exit = 1; break;
        case 'j': cfg.json = 1; break;
        default: usage();
        }
    }
    if (cfg.mode == WL_FANOUT) {
        hist_unit = 10;
        cfg.window = window_set ? cfg.window : 32;
        cfg.size = size_set ? cfg.size : 64;
        for (u = pub_url ? strtok(pub_url, ",") : NULL; u;
             u = strtok(NULL, ",")) {
            if (cfg.npubs == WL_MAX_TARGETS) {
                usage();
            }
            parse_url(&cfg.pubs[cfg.npubs], u, 1);
            /* Raw subscribers have raw publishers, and only them. */
            if (cfg.pubs[cfg.npubs++].raw != cfg.raw) {
                usage();
            }
        }
        if (!cfg.npubs && !strncmp(cfg.targets[0].path, "/sub/", 5)) {
            cfg.pubs[cfg.npubs] = cfg.targets[0];
            memcpy(cfg.pubs[cfg.npubs++].path, "/pub/", 5);
        }
        if (!cfg.npubs || cfg.publishers < 1
            || cfg.publishers > WL_MAX_PUBS
            || cfg.size < WL_FANOUT_STAMP + 6
            || cfg.window >= WL_RING || cfg.rate <= 0) {
            usage();
        }
    }
    else if (pub_url || cfg.pub_rate || cfg.publishers != 1) {
        usage();
    }
    /* Room for a whole echo and what follows it. */
    cfg.rbuf = cfg.size + 14 > WL_RBUF_MIN / 2 ? 2 * (cfg.size + 14)
                                               : WL_RBUF_MIN;
    if (cfg.mode == WL_FANOUT && cfg.size + 14 <= WL_RBUF_MIN / 8) {
        cfg.rbuf = WL_RBUF_MIN / 4;     /* many subscribers, small messages */
    }
    if (cfg.size < WL_STAMP || cfg.conns < 1
        || cfg.window < 1 || cfg.procs < 1 || cfg.procs > 64
        || cfg.sources < 1 || cfg.sources > 250
        || (cfg.mode == WL_CYCLES && cfg.cycles < 1)) {
        usage();
    }
    make_body();
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (cfg.mode == WL_FANOUT) {
        return fanout();
    }
    t0 = cfg.t0 = now_ns();
    if (cfg.procs == 1) {
        run(0, cfg.conns);
        report((now_ns() - t0) / 1e9);
        return st.errors || st.failed ? 1 : 0;
    }
    /* Several processes, each with its share, report their counters
     * through a pipe; the parent adds them up. */
    spawn(pipes);
    gather(pipes, cfg.procs);
    report((now_ns() - t0) / 1e9);
    return st.errors || st.failed ? 1 : 0;
}

/* wsload.c: load generator of tests/bench: WebSocket (or raw TCP) echo with verification and latency, idle WebSockets with pings, open/close cycles. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Latencies are counted in microsecond buckets up to one second; slower
 * ones land in the last bucket. */
#define WL_HIST_US 1000000
#define WL_RBUF_MIN (256 * 1024)
/* Each message starts with its sequence number in 16 hex digits (text
 * stays UTF-8), so every echo is matched, checked byte for byte, and timed
 * against the send time kept for it (echoes come back in order). */
#define WL_STAMP 16

typedef enum { WL_ECHO, WL_IDLE, WL_CYCLES } wl_mode_e;
typedef enum { WL_CONNECTING, WL_HANDSHAKE, WL_OPEN, WL_CLOSING } wl_state_e;

typedef struct wl_conn {
    int fd;
    int id;
    wl_state_e state;
    uint64_t next_seq, expect_seq;  /* sent, and next echo expected */
    uint64_t next_ping;             /* idle: ns */
    uint64_t *sent_at;              /* send times, by seq % window */
    int pings_out;
    unsigned int events;            /* what epoll watches for */
    size_t rlen;
    char *rbuf;                     /* cfg.rbuf bytes */
    size_t wlen, woff;
    char *wbuf;                     /* frames not yet written */
    size_t wcap;
} wl_conn;

static struct {
    wl_mode_e mode;
    int raw;                        /* tcp:// URL: no WebSocket framing */
    struct sockaddr_in addr;
    char host[64], path[256];
    int conns, window, text, procs, sources, json;
    size_t size, rbuf;
    double duration, ping_interval, rate;
    long cycles;
} cfg = { .conns = 1, .window = 1, .size = 32, .duration = 10,
          .ping_interval = 10, .rate = 5000, .procs = 1, .sources = 1 };

static struct {
    uint64_t msgs, bytes, errors, connected, failed, pongs, missed, closes;
    uint64_t hist[WL_HIST_US + 1];
} st;

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
    c->rbuf = malloc(cfg.rbuf);
    c->sent_at = calloc((size_t)cfg.window, sizeof(*c->sent_at));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0 || !c->rbuf || !c->sent_at) {
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
            return -1;
        }
    }
    if (connect(c->fd, (struct sockaddr *)&cfg.addr, sizeof(cfg.addr))
        && errno != EINPROGRESS) {
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
    c->fd = -1;
    c->rbuf = c->wbuf = NULL;
    c->sent_at = NULL;
    c->wcap = c->wlen = c->woff = 0;
}

static void conn_started(wl_conn *c)
{
    int i;

    c->state = WL_OPEN;
    ++st.connected;
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

    /* 16 random bytes in base64 are 22 characters and "==". */
    for (i = 0; i < 22; ++i) {
        key[i] = b64[rand64() % 64];
    }
    key[21] = b64[(rand64() % 4) * 16];
    strcpy(key + 22, "==");
    n = snprintf(out_reserve(c, 512), 512,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n", cfg.path, cfg.host, key);
    c->wlen -= 512 - (size_t)n;
    c->state = WL_HANDSHAKE;
}

/* Parse what arrived; -1 ends the connection. */
static int conn_input(wl_conn *c)
{
    size_t off = 0;

    if (c->state == WL_HANDSHAKE) {
        char *end;

        c->rbuf[c->rlen < cfg.rbuf ? c->rlen : cfg.rbuf - 1] = '\0';
        if (!(end = strstr(c->rbuf, "\r\n\r\n"))) {
            return c->rlen < cfg.rbuf - 1 ? 0 : -1;
        }
        if (strncmp(c->rbuf, "HTTP/1.1 101", 12)
            || !strcasestr(c->rbuf, "\r\nSec-WebSocket-Accept:")) {
            ++st.failed;
            return -1;
        }
        off = (size_t)(end + 4 - c->rbuf);
        conn_started(c);
    }
    if (cfg.raw) {
        for (; c->rlen - off >= cfg.size; off += cfg.size) {
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
            if (c->state != WL_CLOSING) {
                send_frame(c, 8, (char *)h + hlen, len >= 2 ? 2 : 0, 0);
            }
            c->state = WL_CLOSING;
        }
        else if (cfg.mode == WL_ECHO) {
            check_payload(c, (char *)h + hlen, len);
            send_message(c);
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
            ++st.failed;
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
            n = read(c->fd, c->rbuf + c->rlen, cfg.rbuf - c->rlen);
            if (n == 0) {
                return -1;
            }
            if (n < 0) {
                if (errno != EAGAIN) {
                    return -1;
                }
                break;
            }
            c->rlen += (size_t)n;
            if (conn_input(c)) {
                return -1;
            }
        }
    }
    while (c->woff < c->wlen) {
        n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno != EAGAIN) {
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

/* Idle mode: ping whoever is due; a ping still unanswered when the next
 * is due counts as missed. */
static void ping_due(wl_conn *cs, int n, uint64_t now)
{
    uint64_t step = (uint64_t)(cfg.ping_interval * 1e9);
    int i;

    for (i = 0; i < n; ++i) {
        wl_conn *c = &cs[i];
        if (c->fd < 0 || c->state != WL_OPEN || now < c->next_ping) {
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
    int opened = 0, live = 0, i, k;
    long cycles_started = 0;

    if (!cs || (ep = epoll_create1(0)) < 0) {
        die("setup");
    }
    for (i = 0; i < n; ++i) {
        cs[i].fd = -1;
    }
    end = t0 + (uint64_t)(cfg.duration * 1e9);
    for (;;) {
        now = now_ns();
        /* Open connections at the configured rate (all at once for echo). */
        while (opened < n && (cfg.mode != WL_IDLE
                              || opened < (now - t0) / 1e9 * cfg.rate
                                          / cfg.procs + 1)) {
            if (cfg.mode == WL_CYCLES && cycles_started >= cfg.cycles) {
                break;
            }
            if (conn_open(&cs[opened], first_id + opened)) {
                ++st.failed;
                conn_free(&cs[opened]);
            }
            else {
                ++live;
                ++cycles_started;
            }
            ++opened;
        }
        if (cfg.mode == WL_CYCLES ? (live == 0 && cycles_started >= cfg.cycles)
                                  : now >= end) {
            break;
        }
        if (now > end + 30000000000ULL) {
            fprintf(stderr, "wsload: hard deadline passed\n");
            break;
        }
        k = epoll_wait(ep, evs, 512, 10);
        for (i = 0; i < k; ++i) {
            wl_conn *c = evs[i].data.ptr;
            if (conn_event(c, evs[i].events) == 0) {
                continue;
            }
            conn_free(c);
            --live;
            if (cfg.mode == WL_CYCLES && cycles_started < cfg.cycles) {
                /* The next cycle reuses the slot. */
                if (conn_open(c, c->id) == 0) {
                    ++live;
                }
                else {
                    ++st.failed;
                    conn_free(c);
                }
                ++cycles_started;
            }
        }
        if (cfg.mode == WL_IDLE && now >= next_check) {
            ping_due(cs, opened, now);
            next_check = now + 100000000ULL;
        }
    }
    for (i = 0; i < opened; ++i) {
        conn_free(&cs[i]);
    }
    free(cs);
}

/* ---- results ---------------------------------------------------------- */

static double percentile(const uint64_t *hist, uint64_t total, double q)
{
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    size_t i;

    for (i = 0; i <= WL_HIST_US; ++i) {
        seen += hist[i];
        if (seen > want) {
            return (double)i / 1000.0;
        }
    }
    return WL_HIST_US / 1000.0;
}

static void report(double secs)
{
    double p50 = percentile(st.hist, st.msgs, 0.50);
    double p99 = percentile(st.hist, st.msgs, 0.99);
    double p999 = percentile(st.hist, st.msgs, 0.999);
    double max = 0;
    size_t i;

    for (i = 0; i <= WL_HIST_US; ++i) {
        if (st.hist[i]) {
            max = (double)i / 1000.0;
        }
    }
    if (cfg.json) {
        printf("{\"secs\": %.3f, \"msgs\": %llu, \"msgs_per_s\": %.1f, "
               "\"mb_per_s\": %.2f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
               "\"p999_ms\": %.3f, \"max_ms\": %.3f, \"errors\": %llu, "
               "\"connected\": %llu, \"failed\": %llu, \"pongs\": %llu, "
               "\"missed_pongs\": %llu, \"closes\": %llu}\n", secs,
               (unsigned long long)st.msgs, st.msgs / secs,
               st.bytes / secs / 1e6, p50, p99, p999, max,
               (unsigned long long)st.errors,
               (unsigned long long)st.connected,
               (unsigned long long)st.failed, (unsigned long long)st.pongs,
               (unsigned long long)st.missed, (unsigned long long)st.closes);
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
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
        "usage: wsload echo|idle|cycles URL [options]\n"
        "  URL        ws://HOST:PORT/PATH, or tcp://HOST:PORT (echo mode:\n"
        "             raw TCP, no framing: the baseline)\n"
        "  -c N       connections (default 1)\n"
        "  -w N       echo: messages in flight per connection (default 1)\n"
        "  -s BYTES   echo: message size, at least 16 (default 32)\n"
        "  -t         echo: text messages (default binary)\n"
        "  -d SECS    duration (default 10)\n"
        "  -n K       cycles: open/echo/close K times, -c at once\n"
        "  -p SECS    idle: ping interval (default 10)\n"
        "  -r N       idle: connections opened per second (default 5000)\n"
        "  -P N       processes sharing the connections (default 1)\n"
        "  -S N       source addresses 127.0.0.1..N (default 1)\n"
        "  -j         one JSON line instead of text\n");
    exit(2);
}

static void parse_url(const char *url)
{
    const char *hp, *slash;
    char port[16] = "80";
    struct addrinfo hints, *ai;
    size_t hl;

    if (!strncmp(url, "ws://", 5)) {
        hp = url + 5;
    }
    else if (!strncmp(url, "tcp://", 6)) {
        hp = url + 6;
        cfg.raw = 1;
    }
    else {
        usage();
    }
    slash = strchr(hp, '/');
    snprintf(cfg.path, sizeof(cfg.path), "%s", slash ? slash : "/");
    hl = slash ? (size_t)(slash - hp) : strlen(hp);
    if (hl >= sizeof(cfg.host)) {
        usage();
    }
    memcpy(cfg.host, hp, hl);
    cfg.host[hl] = '\0';
    if (strchr(cfg.host, ':')) {
        snprintf(port, sizeof(port), "%s", strchr(cfg.host, ':') + 1);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(cfg.host, ":"),
                 cfg.host);
        if (getaddrinfo(name, port, &hints, &ai)) {
            usage();
        }
    }
    memcpy(&cfg.addr, ai->ai_addr, sizeof(cfg.addr));
    freeaddrinfo(ai);
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    uint64_t t0;
    int opt, i, share, pipes[64][2];

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
    else {
        usage();
    }
    parse_url(argv[2]);
    optind = 3;
    while ((opt = getopt(argc, argv, "c:w:s:td:n:p:r:P:S:j")) != -1) {
        switch (opt) {
        case 'c': cfg.conns = atoi(optarg); break;
        case 'w': cfg.window = atoi(optarg); break;
        case 's': cfg.size = (size_t)atol(optarg); break;
        case 't': cfg.text = 1; break;
        case 'd': cfg.duration = atof(optarg); break;
        case 'n': cfg.cycles = atol(optarg); break;
        case 'p': cfg.ping_interval = atof(optarg); break;
        case 'r': cfg.rate = atof(optarg); break;
        case 'P': cfg.procs = atoi(optarg); break;
        case 'S': cfg.sources = atoi(optarg); break;
        case 'j': cfg.json = 1; break;
        default: usage();
        }
    }
    /* Room for a whole echo and what follows it. */
    cfg.rbuf = cfg.size + 14 > WL_RBUF_MIN / 2 ? 2 * (cfg.size + 14)
                                               : WL_RBUF_MIN;
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
    t0 = now_ns();
    if (cfg.procs == 1) {
        run(0, cfg.conns);
        report((now_ns() - t0) / 1e9);
        return st.errors || st.failed ? 1 : 0;
    }
    /* Several processes, each with its share, report their counters
     * through a pipe; the parent adds them up. */
    share = (cfg.conns + cfg.procs - 1) / cfg.procs;
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
    for (i = 0; i < cfg.procs; ++i) {
        static typeof(st) part;
        size_t got = 0, j;
        ssize_t n;

        while (got < sizeof(part)
               && (n = read(pipes[i][0], (char *)&part + got,
                            sizeof(part) - got)) > 0) {
            got += (size_t)n;
        }
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
        for (j = 0; j <= WL_HIST_US; ++j) {
            st.hist[j] += part.hist[j];
        }
    }
    report((now_ns() - t0) / 1e9);
    return st.errors || st.failed ? 1 : 0;
}

/* tcpfan.c: the physical baseline of the fanout figure: one thread that writes what a publisher sends to every subscriber's TCP socket, no framing, no HTTP. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* A subscriber holds at most this much the socket did not take: past it,
 * it is closed (what a real server does to a client that does not read). */
#define TF_PENDING_MAX (1 << 20)
/* A publisher's reads. */
#define TF_PUB_BUF (64 * 1024)
/* Subscribers written between two looks at the publishers: a message that
 * comes in meanwhile joins the earlier ones not yet written, in one write
 * (as a real fan-out server batches what waits for a client). */
#define TF_CHUNK 32

typedef struct tf_conn {
    int fd;                     /* -1: closed */
    int pub;                    /* came in on the publishers' port */
    int blocked;                /* sub: its socket is full (EPOLLOUT) */
    size_t len, cap;            /* pub: bytes read; sub: bytes pending */
    char *buf;
    struct tf_conn *next_dead;
} tf_conn;

static int ep;
static size_t msg_size;
static tf_conn **subs;          /* every subscriber, by slot */
static int nsubs, subs_cap, scan;
static int ndirty;              /* subscribers with bytes to write now */
static tf_conn *dead;           /* closed: freed after the events at hand */

static void tf_die(const char *what)
{
    perror(what);
    exit(1);
}

static void tf_watch(tf_conn *c, int op, unsigned int events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    epoll_ctl(ep, op, c->fd, &ev);
}

static int tf_listen(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

    if (fd < 0) {
        tf_die("socket");
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 65535)) {
        tf_die("bind/listen");
    }
    return fd;
}

static void tf_close(tf_conn *c)
{
    int i;

    close(c->fd);
    if (!c->pub) {
        if (c->len && !c->blocked) {
            --ndirty;
        }
        for (i = 0; i < nsubs && subs[i] != c; ++i) {
        }
        subs[i] = subs[--nsubs];
    }
    free(c->buf);
    c->fd = -1;
    c->next_dead = dead;
    dead = c;
}

static void tf_bury(void)
{
    tf_conn *c;

    while ((c = dead)) {
        dead = c->next_dead;
        free(c);
    }
}

/* Write what subscriber @a c has pending, in one write. */
static void tf_flush(tf_conn *c)
{
    ssize_t n = write(c->fd, c->buf, c->len);

    if (n < 0 && errno != EAGAIN) {
        tf_close(c);
        return;
    }
    if (n > 0) {
        memmove(c->buf, c->buf + n, c->len - (size_t)n);
        c->len -= (size_t)n;
    }
    if (!c->len) {
        --ndirty;
    }
    else {
        /* Full: the next EPOLLOUT puts it back in the scan. */
        c->blocked = 1;
        --ndirty;
        tf_watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
    }
}

/* Write a chunk of the subscribers that have something to write. */
static void tf_scan(void)
{
    int written = 0;

    while (ndirty && written < TF_CHUNK) {
        tf_conn *c;

        if (scan >= nsubs) {
            scan = 0;
        }
        c = subs[scan++];
        if (c->len && !c->blocked) {
            tf_flush(c);
            ++written;
        }
    }
}

/* A publisher's input: its whole messages are queued for every subscriber
 * (a copy each: the baseline's cost is the writes), then it gets one byte
 * per message. */
static int tf_publish(tf_conn *pc)
{
    ssize_t n = read(pc->fd, pc->buf + pc->len, TF_PUB_BUF - pc->len);
    size_t whole, k;
    char acks[TF_PUB_BUF];
    int i;

    if (n <= 0) {
        return n < 0 && errno == EAGAIN ? 0 : -1;
    }
    pc->len += (size_t)n;
    whole = pc->len - pc->len % msg_size;
    for (i = 0; i < nsubs; ) {
        tf_conn *c = subs[i];

        if (c->len + whole > TF_PENDING_MAX) {
            tf_close(c);                /* the last one takes slot i */
            continue;
        }
        if (c->len + whole > c->cap) {
            c->cap = 2 * (c->len + whole);
            if (!(c->buf = realloc(c->buf, c->cap))) {
                tf_die("realloc");
            }
        }
        if (!c->len && !c->blocked) {
            ++ndirty;
        }
        memcpy(c->buf + c->len, pc->buf, whole);
        c->len += whole;
        ++i;
    }
    memmove(pc->buf, pc->buf + whole, pc->len - whole);
    pc->len -= whole;
    k = whole / msg_size;
    memset(acks, '+', k);
    return write(pc->fd, acks, k) == (ssize_t)k ? 0 : -1;
}

static void tf_accept(int lfd, int pub)
{
    tf_conn *c;
    int fd, one = 1;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        if (!(c = calloc(1, sizeof(*c)))) {
            tf_die("calloc");
        }
        c->fd = fd;
        c->pub = pub;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (pub && !(c->buf = malloc(TF_PUB_BUF))) {
            tf_die("malloc");
        }
        if (!pub) {
            if (nsubs == subs_cap) {
                subs_cap = subs_cap ? 2 * subs_cap : 1024;
                if (!(subs = realloc(subs, subs_cap * sizeof(*subs)))) {
                    tf_die("realloc");
                }
            }
            subs[nsubs++] = c;
        }
        tf_watch(c, EPOLL_CTL_ADD, EPOLLIN);
    }
}

int main(int argc, char **argv)
{
    struct epoll_event evs[256];
    tf_conn lsub = { 0 }, lpub = { 0 };
    char junk[4096];
    int i, n;

    if (argc != 4 || (msg_size = strtoul(argv[3], NULL, 10)) < 1
        || msg_size > TF_PUB_BUF) {
        fprintf(stderr, "usage: tcpfan SUBSCRIBER-PORT PUBLISHER-PORT "
                "MESSAGE-SIZE\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if ((ep = epoll_create1(0)) < 0) {
        tf_die("epoll_create1");
    }
    lsub.fd = tf_listen(atoi(argv[1]));
    lpub.fd = tf_listen(atoi(argv[2]));
    lpub.pub = 1;
    tf_watch(&lsub, EPOLL_CTL_ADD, EPOLLIN);
    tf_watch(&lpub, EPOLL_CTL_ADD, EPOLLIN);
    for (;;) {
        n = epoll_wait(ep, evs, 256, ndirty ? 0 : -1);
        for (i = 0; i < n; ++i) {
            tf_conn *c = evs[i].data.ptr;

            if (c->fd < 0) {
                continue;
            }
            if (c == &lsub || c == &lpub) {
                tf_accept(c->fd, c->pub);
            }
            else if (c->pub) {
                if ((evs[i].events & EPOLLIN) && tf_publish(c)) {
                    tf_close(c);
                }
            }
            else if ((evs[i].events & EPOLLOUT) && c->blocked) {
                c->blocked = 0;
                ++ndirty;
                tf_watch(c, EPOLL_CTL_MOD, EPOLLIN);
            }
            else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                /* Subscribers only listen: input is their close. */
                ssize_t r = read(c->fd, junk, sizeof(junk));

                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    tf_close(c);
                }
            }
        }
        tf_scan();
        tf_bury();
    }
}

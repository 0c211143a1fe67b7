/* tcpecho.c: the physical baseline of tests/bench: a TCP echo server (epoll, one loop per thread, SO_REUSEPORT). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TE_BUF (64 * 1024)

/* One client: bytes read but not yet written back. While any are left
 * the client is not read (back-pressure, like a real server). */
typedef struct te_conn {
    int fd;
    unsigned int events;
    size_t off, len;
    char buf[TE_BUF];
} te_conn;

static int te_port;

static void te_watch(int ep, te_conn *c, int op, unsigned int events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    c->events = ev.events = events;
    ev.data.ptr = c;
    epoll_ctl(ep, op, c->fd, &ev);
}

static int te_listen(void)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)te_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
        perror("tcpecho: bind/listen");
        exit(1);
    }
    return fd;
}

/* Write what is pending; 0 when all is written, 1 to wait, -1 on error. */
static int te_flush(te_conn *c)
{
    while (c->off < c->len) {
        ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
        if (n < 0) {
            return errno == EAGAIN ? 1 : -1;
        }
        c->off += (size_t)n;
    }
    c->off = c->len = 0;
    return 0;
}

static void *te_loop(void *arg)
{
    struct epoll_event evs[256];
    te_conn listener = { .fd = -1 };
    int ep = epoll_create1(0), lfd = te_listen(), i, n, one = 1;

    (void)arg;
    listener.fd = lfd;
    te_watch(ep, &listener, EPOLL_CTL_ADD, EPOLLIN);
    for (;;) {
        n = epoll_wait(ep, evs, 256, -1);
        for (i = 0; i < n; ++i) {
            te_conn *c = evs[i].data.ptr;
            int rc;

            if (c == &listener) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    te_conn *nc = calloc(1, sizeof(*nc));
                    nc->fd = fd;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                               sizeof(one));
                    te_watch(ep, nc, EPOLL_CTL_ADD, EPOLLIN);
                }
                continue;
            }
            rc = te_flush(c);
            while (rc == 0) {
                ssize_t got = read(c->fd, c->buf, TE_BUF);
                if (got <= 0) {
                    rc = (got < 0 && errno == EAGAIN) ? 2 : -1;
                    break;
                }
                c->len = (size_t)got;
                rc = te_flush(c);
            }
            if (rc < 0) {
                close(c->fd);
                free(c);
                continue;
            }
            if ((rc == 1 ? EPOLLOUT : EPOLLIN) != c->events) {
                te_watch(ep, c, EPOLL_CTL_MOD, rc == 1 ? EPOLLOUT : EPOLLIN);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t;
    int threads, i;

    if (argc != 3 || (te_port = atoi(argv[1])) <= 0
        || (threads = atoi(argv[2])) <= 0) {
        fprintf(stderr, "usage: tcpecho PORT THREADS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (i = 1; i < threads; ++i) {
        pthread_create(&t, NULL, te_loop, NULL);
    }
    te_loop(NULL);
    return 0;
}

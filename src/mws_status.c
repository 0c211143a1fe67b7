/* mws_status.c: server-wide WebSocket counters in shared memory, and their section of mod_status's page. */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <ap_mpm.h>
#include <apr_atomic.h>
#include <apr_date.h>
#include <apr_optional_hooks.h>
#include <apr_shm.h>
#include <mod_status.h>

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "mws_private.h"
#include "mws_status.h"

/* Close codes counted one by one; the others are "other". */
static const int status_codes[] = {
    1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011
};
#define MWS_STATUS_NCODES (sizeof(status_codes) / sizeof(status_codes[0]))

/* One child's counters. A child takes a free slot, or the slot of a child
 * that has exited, whose totals it goes on adding to: the page sums every
 * slot, so the totals count since the server (re)started. */
typedef struct {
    volatile apr_uint32_t pid;
    volatile apr_uint32_t open[MWS_RUNNER_COUNT];
    volatile apr_uint64_t opened;
    volatile apr_uint64_t msgs_in, msgs_out;
    volatile apr_uint64_t bytes_in, bytes_out;
    volatile apr_uint64_t closes[MWS_STATUS_NCODES + 1];
    volatile apr_uint64_t dropped, slow_closed;
    /* The bus (WebSocketBroker) of this child. */
    volatile apr_uint32_t bus_state;    /* mws_bus_state_e */
    volatile apr_uint64_t bus_since;    /* apr_time_t of the last change */
    volatile apr_uint64_t bus[WEBSOCKET_BUS_RECONNECTS + 1];
} mws_status_slot;

typedef enum {
    MWS_BUS_NONE,
    MWS_BUS_UP,
    MWS_BUS_DOWN
} mws_bus_state_e;

static const char *const bus_counter_names[] = {
    "Published", "Consumed", "Dropped", "Reconnects"
};

/* A child's count of members of one channel, at a place its registry
 * chose (mws_status_members_set); key 0: a free place. */
typedef struct {
    volatile apr_uint64_t key;
    volatile apr_uint32_t count;
} mws_status_members;

static apr_shm_t *status_shm;           /* one per generation (pconf) */
static mws_status_slot *status_slots;
static mws_status_members *status_members;  /* MEMBER_PLACES per slot */
static int status_nslots;
static mws_status_slot *my_slot;        /* this child's, or NULL */
static mws_status_members *my_members;

static const char *const runner_names[MWS_RUNNER_COUNT] = {
    "async", "blocking", "HTTP/2"
};

void mws_status_open(mws_runner_e runner)
{
    if (my_slot) {
        apr_atomic_inc32(&my_slot->open[runner]);
        apr_atomic_add64(&my_slot->opened, 1);
    }
}

void mws_status_close(mws_runner_e runner, int code)
{
    apr_size_t i;

    if (!my_slot) {
        return;
    }
    apr_atomic_dec32(&my_slot->open[runner]);
    for (i = 0; i < MWS_STATUS_NCODES && status_codes[i] != code; ++i) {
        ;
    }
    apr_atomic_add64(&my_slot->closes[i], 1);
}

void mws_status_traffic(apr_uint64_t msgs_in, apr_uint64_t msgs_out,
                        apr_uint64_t bytes_in, apr_uint64_t bytes_out)
{
    if (my_slot) {
        apr_atomic_add64(&my_slot->msgs_in, msgs_in);
        apr_atomic_add64(&my_slot->msgs_out, msgs_out);
        apr_atomic_add64(&my_slot->bytes_in, bytes_in);
        apr_atomic_add64(&my_slot->bytes_out, bytes_out);
    }
}

void mws_status_dropped(void)
{
    if (my_slot) {
        apr_atomic_add64(&my_slot->dropped, 1);
    }
}

void mws_status_slow_closed(void)
{
    if (my_slot) {
        apr_atomic_add64(&my_slot->slow_closed, 1);
    }
}

void mws_status_bus_count(websocket_bus_counter_e what, apr_uint64_t n)
{
    if (my_slot && what <= WEBSOCKET_BUS_RECONNECTS) {
        apr_atomic_add64(&my_slot->bus[what], n);
    }
}

void mws_status_bus_connected(int up)
{
    if (my_slot) {
        apr_atomic_set64(&my_slot->bus_since, (apr_uint64_t)apr_time_now());
        apr_atomic_set32(&my_slot->bus_state, up ? MWS_BUS_UP : MWS_BUS_DOWN);
    }
}

static int status_pid_gone(apr_uint32_t pid)
{
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

void mws_status_members_set(apr_size_t place, apr_uint64_t key,
                            apr_size_t count)
{
    if (my_members && place < MWS_STATUS_MEMBER_PLACES) {
        /* Readers in other children match the key, then read the count:
         * a new key gets its count first, a freed place loses its key
         * first. */
        if (key) {
            apr_atomic_set32(&my_members[place].count, (apr_uint32_t)count);
            apr_atomic_set64(&my_members[place].key, key);
        }
        else {
            apr_atomic_set64(&my_members[place].key, 0);
            apr_atomic_set32(&my_members[place].count, 0);
        }
    }
}

apr_size_t mws_status_members_elsewhere(apr_size_t first, apr_size_t count,
                                        apr_uint64_t key)
{
    apr_size_t total = 0, i;
    int n;

    for (n = 0; my_members && n < status_nslots; ++n) {
        mws_status_members *places = status_members
                                     + n * MWS_STATUS_MEMBER_PLACES;
        apr_uint32_t pid = apr_atomic_read32(&status_slots[n].pid);

        if (places == my_members || !pid
            || apr_atomic_read32(&status_slots[n].bus_state) != MWS_BUS_UP
            || status_pid_gone(pid)) {
            continue;
        }
        for (i = first; i < first + count && i < MWS_STATUS_MEMBER_PLACES;
             ++i) {
            if (apr_atomic_read64(&places[i].key) == key) {
                total += apr_atomic_read32(&places[i].count);
            }
        }
    }
    return total;
}

/* ---- shared memory and slots ---------------------------------------- */

static int status_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv;
    int limit = 0;

    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit);
    status_nslots = limit > 0 ? limit : 1;
    /* Anonymous: inherited by the children this generation forks, gone
     * with pconf (old children keep their mapping until they exit). */
    rv = apr_shm_create(&status_shm, status_nslots
                        * (sizeof(mws_status_slot) + MWS_STATUS_MEMBER_PLACES
                           * sizeof(mws_status_members)), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, WSLOGNO(00024)
                     "no shared memory for the WebSocket counters: "
                     "mod_status will not show them");
        status_shm = NULL;
        status_slots = NULL;
        status_members = NULL;
        return OK;
    }
    status_slots = apr_shm_baseaddr_get(status_shm);
    memset(status_slots, 0, status_nslots * sizeof(mws_status_slot));
    status_members = (mws_status_members *)(status_slots + status_nslots);
    memset(status_members, 0, status_nslots * MWS_STATUS_MEMBER_PLACES
                              * sizeof(mws_status_members));
    return OK;
}

static void status_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_uint32_t me = (apr_uint32_t)getpid();
    int i, r;

    my_slot = NULL;
    my_members = NULL;
    for (i = 0; status_slots && i < status_nslots && !my_slot; ++i) {
        mws_status_slot *slot = &status_slots[i];
        apr_uint32_t pid = apr_atomic_read32(&slot->pid);

        /* A slot with our own pid was a child that exited before the
         * kernel gave its pid to us. */
        if ((pid == 0 || pid == me || status_pid_gone(pid))
            && apr_atomic_cas32(&slot->pid, me, pid) == pid) {
            /* A gone child's WebSockets are closed: keep its totals. */
            for (r = 0; r < MWS_RUNNER_COUNT; ++r) {
                apr_atomic_set32(&slot->open[r], 0);
            }
            apr_atomic_set32(&slot->bus_state, MWS_BUS_NONE);
            my_slot = slot;
            my_members = status_members + i * MWS_STATUS_MEMBER_PLACES;
            memset(my_members, 0, MWS_STATUS_MEMBER_PLACES
                                  * sizeof(mws_status_members));
        }
    }
}

/* ---- the page --------------------------------------------------------- */

static int status_hook(request_rec *r, int flags)
{
    mws_status_slot sum;
    apr_uint32_t open_total = 0;
    int bus_up = 0, bus_down = 0;
    apr_time_t down_since = 0;
    apr_size_t i;
    int n, k;

    if (!status_slots) {
        return OK;
    }
    memset(&sum, 0, sizeof(sum));
    for (n = 0; n < status_nslots; ++n) {
        mws_status_slot *slot = &status_slots[n];
        apr_uint32_t pid = apr_atomic_read32(&slot->pid);

        /* A child that crashed closed nothing: its WebSockets are gone
         * with it, its totals are not. */
        for (k = 0; pid && !status_pid_gone(pid) && k < MWS_RUNNER_COUNT;
             ++k) {
            sum.open[k] += apr_atomic_read32(&slot->open[k]);
        }
        sum.opened += apr_atomic_read64(&slot->opened);
        sum.msgs_in += apr_atomic_read64(&slot->msgs_in);
        sum.msgs_out += apr_atomic_read64(&slot->msgs_out);
        sum.bytes_in += apr_atomic_read64(&slot->bytes_in);
        sum.bytes_out += apr_atomic_read64(&slot->bytes_out);
        for (i = 0; i <= MWS_STATUS_NCODES; ++i) {
            sum.closes[i] += apr_atomic_read64(&slot->closes[i]);
        }
        sum.dropped += apr_atomic_read64(&slot->dropped);
        sum.slow_closed += apr_atomic_read64(&slot->slow_closed);
        for (i = 0; i <= WEBSOCKET_BUS_RECONNECTS; ++i) {
            sum.bus[i] += apr_atomic_read64(&slot->bus[i]);
        }
        if (pid && !status_pid_gone(pid)) {
            switch (apr_atomic_read32(&slot->bus_state)) {
            case MWS_BUS_UP:
                ++bus_up;
                break;
            case MWS_BUS_DOWN: {
                apr_time_t t = (apr_time_t)apr_atomic_read64(&slot->bus_since);

                ++bus_down;
                if (!down_since || t < down_since) {
                    down_since = t;
                }
                break;
            }
            }
        }
    }
    for (k = 0; k < MWS_RUNNER_COUNT; ++k) {
        open_total += sum.open[k];
    }

    if (flags & AP_STATUS_SHORT) {
        /* ?auto: one "Key: value" per line, as mod_status's own. */
        ap_rprintf(r, "WebSocketsOpen: %u\n", open_total);
        ap_rprintf(r, "WebSocketsOpenAsync: %u\n", sum.open[MWS_RUNNER_ASYNC]);
        ap_rprintf(r, "WebSocketsOpenBlocking: %u\n",
                   sum.open[MWS_RUNNER_BLOCKING]);
        ap_rprintf(r, "WebSocketsOpenHTTP2: %u\n", sum.open[MWS_RUNNER_HTTP2]);
        ap_rprintf(r, "WebSocketsTotal: %" APR_UINT64_T_FMT "\n", sum.opened);
        ap_rprintf(r, "WebSocketMessagesIn: %" APR_UINT64_T_FMT "\n"
                   "WebSocketMessagesOut: %" APR_UINT64_T_FMT "\n"
                   "WebSocketBytesIn: %" APR_UINT64_T_FMT "\n"
                   "WebSocketBytesOut: %" APR_UINT64_T_FMT "\n",
                   sum.msgs_in, sum.msgs_out, sum.bytes_in, sum.bytes_out);
        for (i = 0; i < MWS_STATUS_NCODES; ++i) {
            ap_rprintf(r, "WebSocketCloses%d: %" APR_UINT64_T_FMT "\n",
                       status_codes[i], sum.closes[i]);
        }
        ap_rprintf(r, "WebSocketClosesOther: %" APR_UINT64_T_FMT "\n"
                   "WebSocketSlowConsumerDrops: %" APR_UINT64_T_FMT "\n"
                   "WebSocketSlowConsumerCloses: %" APR_UINT64_T_FMT "\n",
                   sum.closes[MWS_STATUS_NCODES], sum.dropped,
                   sum.slow_closed);
        if (bus_up || bus_down) {
            ap_rprintf(r, "WebSocketBrokerConnected: %d\n"
                       "WebSocketBrokerReconnecting: %d\n", bus_up, bus_down);
            if (bus_down) {
                ap_rprintf(r, "WebSocketBrokerDownSeconds: %" APR_TIME_T_FMT
                           "\n", apr_time_sec(apr_time_now() - down_since));
            }
            for (i = 0; i <= WEBSOCKET_BUS_RECONNECTS; ++i) {
                ap_rprintf(r, "WebSocketBroker%s: %" APR_UINT64_T_FMT "\n",
                           bus_counter_names[i], sum.bus[i]);
            }
        }
        return OK;
    }

    ap_rputs("<hr />\n<h2>WebSockets (mod_websocket)</h2>\n", r);
    ap_rprintf(r, "<dl><dt>%u open:", open_total);
    for (k = 0; k < MWS_RUNNER_COUNT; ++k) {
        ap_rprintf(r, " %u %s%s", sum.open[k], runner_names[k],
                   k + 1 < MWS_RUNNER_COUNT ? "," : "");
    }
    ap_rprintf(r, "; %" APR_UINT64_T_FMT " since the server started</dt>\n",
               sum.opened);
    ap_rprintf(r, "<dt>Messages in: %" APR_UINT64_T_FMT ", out: %"
               APR_UINT64_T_FMT "</dt>\n", sum.msgs_in, sum.msgs_out);
    ap_rprintf(r, "<dt>Bytes in: %" APR_UINT64_T_FMT ", out: %"
               APR_UINT64_T_FMT "</dt>\n", sum.bytes_in, sum.bytes_out);
    ap_rprintf(r, "<dt>Slow consumers: %" APR_UINT64_T_FMT " messages "
               "dropped, %" APR_UINT64_T_FMT " WebSockets closed</dt></dl>\n",
               sum.dropped, sum.slow_closed);
    if (bus_up || bus_down) {
        char since[APR_RFC822_DATE_LEN];

        ap_rprintf(r, "<dl><dt>Broker: connected in %d children, "
                   "reconnecting in %d", bus_up, bus_down);
        if (bus_down) {
            apr_rfc822_date(since, down_since);
            ap_rprintf(r, " (since %s)", since);
        }
        ap_rprintf(r, "; messages published %" APR_UINT64_T_FMT ", consumed %"
                   APR_UINT64_T_FMT ", dropped %" APR_UINT64_T_FMT "; %"
                   APR_UINT64_T_FMT " reconnects</dt></dl>\n",
                   sum.bus[WEBSOCKET_BUS_PUBLISHED],
                   sum.bus[WEBSOCKET_BUS_CONSUMED],
                   sum.bus[WEBSOCKET_BUS_DROPPED],
                   sum.bus[WEBSOCKET_BUS_RECONNECTS]);
    }
    if (!(flags & AP_STATUS_NOTABLE)) {
        ap_rputs("<table><tr><th>Close code</th><th>WebSockets</th></tr>\n",
                 r);
        for (i = 0; i <= MWS_STATUS_NCODES; ++i) {
            if (i < MWS_STATUS_NCODES) {
                ap_rprintf(r, "<tr><td>%d</td>", status_codes[i]);
            }
            else {
                ap_rputs("<tr><td>other</td>", r);
            }
            ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td></tr>\n",
                       sum.closes[i]);
        }
        ap_rputs("</table>\n", r);
    }
    return OK;
}

void mws_status_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(status_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(status_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

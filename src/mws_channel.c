/* mws_channel.c: the child's channels: their members, publishing to them, and the bus that carries them to other children and servers. */
#include <stdlib.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <strings.h>
#include <unistd.h>

#include "mws_private.h"
#include "mws_channel.h"
#include "mws_conn.h"
#include "mws_outq.h"
#include "mws_status.h"

/* Channels are spread over this many stripes, each under its own lock: a
 * publish locks its channel's stripe only, so channels do not wait for
 * each other (a power of two). */
#define MWS_CHANNEL_STRIPES 64

/* Each stripe keeps the member counts of up to this many of its channels
 * in shared memory (mws_status_members_set), for other children's
 * publishers to add up. */
#define MWS_CHANNEL_PLACES (MWS_STATUS_MEMBER_PLACES / MWS_CHANNEL_STRIPES)
#define MWS_CHANNEL_NO_PLACE (-1)

/* A channel's first array of members; it doubles as they join, and halves
 * when three quarters of it are unused. */
#define MWS_CHANNEL_MIN_SLOTS 16

/* How far ahead a publish asks for the memory of the members it is about
 * to queue for: their queues were last written by their own threads. */
#define MWS_CHANNEL_AHEAD 8

typedef struct mws_channel mws_channel;

/* One connection's place in one channel: a slot of the channel's array
 * (under the stripe's lock) and on its connection's set (owner thread). */
struct mws_member {
    mws_member *next_in_set;    /* the connection's memberships */
    mws_channel *channel;
    apr_size_t slot;            /* in channel->slots */
};

/* What a publish needs of a member, side by side with the others': its
 * queue and its connection, without a walk through the member. */
typedef struct {
    mws_outq *outq;
    mws_conn *wc;
    mws_member *member;
} mws_channel_slot;

/* Fixed-size records, kept for reuse: a child's channel memory is bounded
 * by the most channels it ever had at once, however many come and go. The
 * members' array is the heap's, and goes with the last member. */
struct mws_channel {
    mws_channel_slot *slots;    /* nmembers of them, in no order */
    apr_size_t nmembers, nslots;
    apr_uint64_t key;           /* hash of the name, never 0 */
    int place;                  /* its stripe's place, or NO_PLACE */
    mws_channel *next_free;
    char name[WEBSOCKET_CHANNEL_MAX + 1];
};

typedef struct {
    apr_thread_mutex_t *lock;
    apr_pool_t *pool;           /* unmanaged: used under lock only */
    apr_hash_t *channels;       /* name -> mws_channel */
    mws_channel *spare;
    apr_uint32_t free_places;   /* a bit per place of the stripe's */
} mws_stripe;

/* The places of a stripe fit its free_places. */
typedef char mws_channel_places_fit[MWS_CHANNEL_PLACES <= 32 ? 1 : -1];

static struct {
    mws_stripe stripes[MWS_CHANNEL_STRIPES];
    int ready;                  /* child_init made the stripes */
    const websocket_bus_provider *bus_provider;
    websocket_bus *bus;         /* NULL: this child's channels stay in it */
    websocket_bus_core core;
} channels;

/* WebSocketBroker and WebSocketBrokerExchange: server-wide. */
static struct {
    const char *url;
    const websocket_bus_provider *provider;
    const char *exchange;
} broker;

#define MWS_DEFAULT_EXCHANGE "websocket"

static apr_uint64_t channel_key(const char *name)
{
    /* FNV-1a: cheap and spreads short similar names well. */
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);

    for (; *name; ++name) {
        h = (h ^ (unsigned char)*name) * APR_UINT64_C(1099511628211);
    }
    return h ? h : 1;
}

static mws_stripe *stripe_of(apr_uint64_t key)
{
    return &channels.stripes[key & (MWS_CHANNEL_STRIPES - 1)];
}

/* Where @a ch's count is in shared memory: its place in its stripe's. */
static apr_size_t channel_place(const mws_stripe *stripe, int place)
{
    return (stripe - channels.stripes) * MWS_CHANNEL_PLACES + place;
}

/* Tell other children's publishers how many members @a ch has here. */
static void channel_count(mws_stripe *stripe, mws_channel *ch)
{
    if (ch->place == MWS_CHANNEL_NO_PLACE && ch->nmembers) {
        if (!stripe->free_places) {
            return;     /* counted here only (more than fit) */
        }
        ch->place = ffs((int)stripe->free_places) - 1;
        stripe->free_places &= ~(1U << ch->place);
    }
    if (ch->place == MWS_CHANNEL_NO_PLACE) {
        return;
    }
    mws_status_members_set(channel_place(stripe, ch->place),
                           ch->nmembers ? ch->key : 0, ch->nmembers);
    if (!ch->nmembers) {
        stripe->free_places |= 1U << ch->place;
        ch->place = MWS_CHANNEL_NO_PLACE;
    }
}

/* ---- membership (owner thread) ---------------------------------------- */

/* Make room for @a n members in @a ch's array, or give back what three
 * quarters of it do not use (under the stripe's lock). 0: no memory. */
static int channel_resize(mws_channel *ch, apr_size_t n)
{
    apr_size_t want = ch->nslots;
    mws_channel_slot *slots;

    if (n > want) {
        want = want ? 2 * want : MWS_CHANNEL_MIN_SLOTS;
    }
    else if (want > MWS_CHANNEL_MIN_SLOTS && n < want / 4) {
        want /= 2;
    }
    if (want == ch->nslots) {
        return 1;
    }
    if (!(slots = realloc(ch->slots, want * sizeof(*slots)))) {
        return n <= ch->nslots;     /* (shrinking may fail harmlessly) */
    }
    ch->slots = slots;
    ch->nslots = want;
    return 1;
}

/* @a ch has no member left: unsubscribe, and keep its record for the next
 * channel (under the stripe's lock). */
static void channel_forget(mws_stripe *stripe, mws_channel *ch)
{
    if (channels.bus) {
        channels.bus_provider->unsubscribe(channels.bus, ch->name);
    }
    apr_hash_set(stripe->channels, ch->name, APR_HASH_KEY_STRING, NULL);
    free(ch->slots);
    ch->slots = NULL;
    ch->nslots = 0;
    ch->next_free = stripe->spare;
    stripe->spare = ch;
}

apr_status_t mws_channel_join(mws_channel_set *set, mws_conn *wc,
                              apr_pool_t *p, const char *name)
{
    mws_stripe *stripe;
    mws_channel *ch;
    mws_member *m;
    apr_uint64_t key;

    if (!websocket_channel_name_ok(name)) {
        return APR_EINVAL;
    }
    if (!channels.ready) {
        return APR_ENOTIMPL;
    }
    for (m = set->first; m; m = m->next_in_set) {
        if (!strcmp(m->channel->name, name)) {
            return APR_SUCCESS;
        }
    }
    if ((m = set->spare)) {
        set->spare = m->next_in_set;
    }
    else {
        m = apr_palloc(p, sizeof(*m));
    }

    key = channel_key(name);
    stripe = stripe_of(key);
    apr_thread_mutex_lock(stripe->lock);
    ch = apr_hash_get(stripe->channels, name, APR_HASH_KEY_STRING);
    if (!ch) {
        if ((ch = stripe->spare)) {
            stripe->spare = ch->next_free;
        }
        else {
            ch = apr_palloc(stripe->pool, sizeof(*ch));
        }
        apr_cpystrn(ch->name, name, sizeof(ch->name));
        ch->slots = NULL;
        ch->nmembers = ch->nslots = 0;
        ch->key = key;
        ch->place = MWS_CHANNEL_NO_PLACE;
        apr_hash_set(stripe->channels, ch->name, APR_HASH_KEY_STRING, ch);
        if (channels.bus) {
            channels.bus_provider->subscribe(channels.bus, ch->name);
        }
    }
    if (!channel_resize(ch, ch->nmembers + 1)) {
        if (!ch->nmembers) {
            channel_forget(stripe, ch);
        }
        apr_thread_mutex_unlock(stripe->lock);
        m->next_in_set = set->spare;
        set->spare = m;
        return APR_ENOMEM;
    }
    m->channel = ch;
    m->slot = ch->nmembers++;
    ch->slots[m->slot].outq = mws_conn_outq(wc);
    ch->slots[m->slot].wc = wc;
    ch->slots[m->slot].member = m;
    channel_count(stripe, ch);
    apr_thread_mutex_unlock(stripe->lock);

    m->next_in_set = set->first;
    set->first = m;
    return APR_SUCCESS;
}

/* Take @a m off its channel (the last member takes its slot), and forget
 * the channel with its last member. */
static void member_remove(mws_member *m)
{
    mws_channel *ch = m->channel;
    mws_stripe *stripe = stripe_of(ch->key);

    apr_thread_mutex_lock(stripe->lock);
    ch->slots[m->slot] = ch->slots[--ch->nmembers];
    ch->slots[m->slot].member->slot = m->slot;
    channel_count(stripe, ch);
    if (ch->nmembers == 0) {
        channel_forget(stripe, ch);
    }
    else {
        channel_resize(ch, ch->nmembers);
    }
    apr_thread_mutex_unlock(stripe->lock);
}

apr_status_t mws_channel_leave(mws_channel_set *set, const char *name)
{
    mws_member **pm, *m;

    for (pm = &set->first; (m = *pm); pm = &m->next_in_set) {
        if (!strcmp(m->channel->name, name)) {
            member_remove(m);
            *pm = m->next_in_set;
            m->next_in_set = set->spare;
            set->spare = m;
            return APR_SUCCESS;
        }
    }
    return APR_NOTFOUND;
}

void mws_channel_leave_all(mws_channel_set *set)
{
    mws_member *m;

    while ((m = set->first)) {
        member_remove(m);
        set->first = m->next_in_set;
        m->next_in_set = set->spare;
        set->spare = m;
    }
}

/* ---- publishing ------------------------------------------------------- */

/* Queue @a msg for every member of @a name here (or, without @a msg, count
 * them); the stripe's lock keeps members from leaving (and joining)
 * meanwhile. The members' references are taken at once, and those that
 * were not used given back at once: the count is touched twice, not
 * twice per member while the members' threads drop theirs. */
static apr_size_t deliver_local(const char *name, mws_msg *msg)
{
    mws_stripe *stripe = stripe_of(channel_key(name));
    mws_channel *ch;
    apr_size_t i, n = 0;

    apr_thread_mutex_lock(stripe->lock);
    ch = apr_hash_get(stripe->channels, name, APR_HASH_KEY_STRING);
    if (ch && !msg) {
        n = ch->nmembers;
    }
    else if (ch) {
        mws_msg_ref_n(msg, (apr_uint32_t)ch->nmembers);
        for (i = 0; i < ch->nmembers; ++i) {
            if (i + MWS_CHANNEL_AHEAD < ch->nmembers) {
                MWS_PREFETCH(ch->slots[i + MWS_CHANNEL_AHEAD].outq);
            }
            if (i + MWS_CHANNEL_AHEAD / 2 < ch->nmembers) {
                mws_outq_prefetch(ch->slots[i + MWS_CHANNEL_AHEAD / 2].outq);
            }
            if (mws_conn_deliver(ch->slots[i].wc, ch->slots[i].outq, msg)
                == APR_SUCCESS) {
                ++n;
            }
        }
    }
    if (ch && msg && n < ch->nmembers) {
        mws_msg_unref_n(msg, (apr_uint32_t)(ch->nmembers - n));
    }
    apr_thread_mutex_unlock(stripe->lock);
    return n;
}

/* While the bus is connected every message makes the round trip through
 * the broker, ours included, so that every member of every child gets
 * them in one order; otherwise this child's members get it from here. */
apr_status_t mws_channel_publish(const char *name, websocket_type_e type,
                                 const void *data, apr_size_t len,
                                 const websocket_publisher *from,
                                 apr_size_t *pdelivered)
{
    apr_status_t rv = WEBSOCKET_BUS_DOWN;
    mws_msg *msg;
    apr_size_t n;

    if (!websocket_channel_name_ok(name)
        || (type != WEBSOCKET_TEXT && type != WEBSOCKET_BINARY)) {
        return APR_EINVAL;
    }
    if (!channels.ready) {
        return APR_ENOTIMPL;
    }
    if (channels.bus) {
        websocket_bus_msg bm;

        bm.channel = name;
        bm.type = type;
        bm.data = data;
        bm.len = len;
        bm.user = from ? from->user : NULL;
        bm.ws_id = from ? from->ws_id : 0;
        rv = channels.bus_provider->publish(channels.bus, &bm);
    }
    if (rv != WEBSOCKET_BUS_DOWN) {
        /* On its way through the broker (or dropped by a full queue):
         * these are the members of this server that it is for, in every
         * child whose bus is connected. */
        apr_uint64_t key = channel_key(name);

        n = deliver_local(name, NULL)
            + mws_status_members_elsewhere(channel_place(stripe_of(key), 0),
                                           MWS_CHANNEL_PLACES, key);
    }
    else if (!(msg = mws_msg_create(type, data, len))) {
        return APR_ENOMEM;
    }
    else {
        n = deliver_local(name, msg);
        mws_msg_unref(msg);
    }
    if (pdelivered) {
        *pdelivered = n;
    }
    return rv == APR_ENOSPC ? APR_ENOSPC : APR_SUCCESS;
}

apr_status_t mws_channel_barrier(apr_interval_time_t timeout)
{
    if (!channels.bus || !channels.bus_provider->barrier) {
        return WEBSOCKET_BUS_DOWN;
    }
    return channels.bus_provider->barrier(channels.bus, timeout);
}

/* The websocket_publish optional function. */
static apr_status_t websocket_publish(const char *channel,
                                      websocket_type_e type,
                                      const void *data, apr_size_t len,
                                      const websocket_publisher *from,
                                      apr_size_t *pdelivered)
{
    return mws_channel_publish(channel, type, data, len, from, pdelivered);
}

int mws_channel_has_bus(void)
{
    return channels.bus != NULL;
}

/* ---- what the bus calls --------------------------------------------------- */

static void bus_deliver(const websocket_bus_msg *bm)
{
    mws_msg *msg;

    if (!websocket_channel_name_ok(bm->channel)
        || !(msg = mws_msg_create(bm->type, bm->data, bm->len))) {
        return;
    }
    deliver_local(bm->channel, msg);
    mws_msg_unref(msg);
}

static void bus_each_channel(void (*fn)(void *baton, const char *channel),
                             void *baton)
{
    apr_hash_index_t *hi;
    int i;

    for (i = 0; i < MWS_CHANNEL_STRIPES; ++i) {
        mws_stripe *stripe = &channels.stripes[i];

        apr_thread_mutex_lock(stripe->lock);
        for (hi = apr_hash_first(NULL, stripe->channels); hi;
             hi = apr_hash_next(hi)) {
            fn(baton, apr_hash_this_key(hi));
        }
        apr_thread_mutex_unlock(stripe->lock);
    }
}

/* ---- the child's life ------------------------------------------------- */

static apr_status_t channels_cleanup(void *data)
{
    int i;

    channels.ready = 0;
    channels.bus = NULL;
    for (i = 0; i < MWS_CHANNEL_STRIPES; ++i) {
        apr_pool_destroy(channels.stripes[i].pool);
    }
    return APR_SUCCESS;
}

static void mws_channel_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv = APR_SUCCESS;
    int i;

    memset(&channels, 0, sizeof(channels));
    for (i = 0; i < MWS_CHANNEL_STRIPES && rv == APR_SUCCESS; ++i) {
        mws_stripe *stripe = &channels.stripes[i];

        rv = apr_pool_create_unmanaged_ex(&stripe->pool, NULL, NULL);
        if (rv == APR_SUCCESS) {
            rv = apr_thread_mutex_create(&stripe->lock,
                                         APR_THREAD_MUTEX_DEFAULT,
                                         stripe->pool);
            stripe->channels = apr_hash_make(stripe->pool);
            stripe->free_places = (apr_uint32_t)((APR_UINT64_C(1)
                                                  << MWS_CHANNEL_PLACES) - 1);
        }
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WSLOGNO(00027)
                     "cannot set up WebSocket channels in this child");
        return;
    }
    /* Before the bus's own cleanups, which run first (registered later):
     * it stops calling us before the stripes go. */
    apr_pool_cleanup_register(pchild, NULL, channels_cleanup,
                              apr_pool_cleanup_null);
    channels.ready = 1;
    if (!broker.url) {
        return;
    }
    channels.core.origin = apr_psprintf(pchild, "%s/%" APR_PID_T_FMT "/%"
                                        APR_TIME_T_FMT, s->server_hostname,
                                        getpid(), apr_time_now());
    channels.core.server_name = s->server_hostname;
    channels.core.deliver = bus_deliver;
    channels.core.each_channel = bus_each_channel;
    channels.core.count = mws_status_bus_count;
    channels.core.connected = mws_status_bus_connected;
    channels.bus_provider = broker.provider;
    rv = broker.provider->start(&channels.bus, pchild, s, broker.url,
                                broker.exchange ? broker.exchange
                                                : MWS_DEFAULT_EXCHANGE,
                                &channels.core);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WSLOGNO(00028)
                     "cannot start the WebSocket broker's bus: channels "
                     "reach this child's members only");
        channels.bus = NULL;
    }
}

/* ---- directives ----------------------------------------------------------- */

const char *mws_channel_set_broker(cmd_parms *cmd, void *dummy,
                                   const char *url)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *colon = ap_strchr_c(url, ':');
    char *scheme;
    apr_size_t n;

    if (err) {
        return err;
    }
    if (!colon || colon == url) {
        return "WebSocketBroker needs a URL: SCHEME://...";
    }
    scheme = apr_pstrmemdup(cmd->temp_pool, url, colon - url);
    ap_str_tolower(scheme);
    broker.provider = ap_lookup_provider(WEBSOCKET_BUS_GROUP, scheme,
                                         WEBSOCKET_BUS_VERSION);
    n = strlen(scheme);
    if (!broker.provider && n > 1 && scheme[n - 1] == 's') {
        /* amqps: the amqp bus, over TLS */
        const char *plain = apr_pstrmemdup(cmd->temp_pool, scheme, n - 1);

        broker.provider = ap_lookup_provider(WEBSOCKET_BUS_GROUP, plain,
                                             WEBSOCKET_BUS_VERSION);
    }
    if (!broker.provider) {
        return apr_psprintf(cmd->pool, "WebSocketBroker: no bus module for "
                            "'%s' URLs is loaded (LoadModule "
                            "mod_websocket_%s before this line)", scheme,
                            scheme);
    }
    if ((err = broker.provider->check(cmd->pool, url))) {
        return apr_pstrcat(cmd->pool, "WebSocketBroker: ", err, NULL);
    }
    broker.url = apr_pstrdup(cmd->pool, url);
    return NULL;
}

const char *mws_channel_set_exchange(cmd_parms *cmd, void *dummy,
                                     const char *name)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (!*name || strlen(name) > 255) {
        return "WebSocketBrokerExchange needs a name of 1 to 255 bytes";
    }
    broker.exchange = name;
    return NULL;
}

static int mws_channel_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                  apr_pool_t *ptemp)
{
    broker.url = NULL;
    broker.provider = NULL;
    broker.exchange = NULL;
    return OK;
}

void mws_channel_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(mws_channel_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(mws_channel_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    APR_REGISTER_OPTIONAL_FN(websocket_publish);
}

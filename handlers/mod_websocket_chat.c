/* mod_websocket_chat.c: the "chat" handler: rooms, JSON messages, join/leave notices and a short history per room. */
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_ring.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <jansson.h>

#include "mod_websocket.h"

module AP_MODULE_DECLARE_DATA websocket_chat_module;
APLOG_USE_MODULE(websocket_chat);

/*
 * The protocol (text messages, one JSON object each; README "Chat"):
 *
 *   client: {"type":"join",    "room":R [, "user":NAME]}
 *           {"type":"message", "room":R, "text":T}
 *           {"type":"leave",   "room":R}
 *   server: {"type":"history", "room":R, "messages":[message...]}  (to a joiner)
 *           {"type":"join"|"leave", "room":R, "user":U, "members":N, "time":MS}
 *           {"type":"message", "room":R, "user":U, "authenticated":B,
 *            "text":T, "time":MS}
 *           {"type":"error", "text":WHY [, "room":R]}
 *
 * The user is the one httpd authenticated (r->user); a client without
 * one may pick a name when joining, else it is "guest-ID".
 *
 * Each room is a channel (chat:NAME, or chat::HEX for names with other
 * characters): members on every child and, with WebSocketBroker, every
 * server hear each other. A room's history and member count are those of
 * this child.
 */

#define CHAT_ROOMS_PER_CONN   16        /* rooms one WebSocket may be in */
#define CHAT_MAX_NAME         64        /* bytes of a room or user name */
#define CHAT_HISTORY_BYTES    (64 * 1024)   /* per room, besides the count */

typedef struct chat_room chat_room;
typedef struct chat_conn chat_conn;

/* "chat:" and a room name of these characters, or "chat::" and its hex. */
#define CHAT_CHANNEL_PREFIX   "chat:"
#define CHAT_CHANNEL_MAX      (sizeof(CHAT_CHANNEL_PREFIX) + 1 \
                               + 2 * CHAT_MAX_NAME)
#define CHAT_NAME_PLAIN       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
                              "0123456789_.-"

/* One WebSocket's place in one room; a fixed slot of its chat_conn, so
 * joining and leaving never allocate. */
typedef struct chat_member {
    APR_RING_ENTRY(chat_member) link;
    chat_room *room;                    /* NULL: a free slot */
    chat_conn *cc;
} chat_member;

APR_RING_HEAD(chat_member_list, chat_member);

struct chat_conn {
    websocket_conn_t *wc;
    int history;                        /* its location's settings */
    int max_message;
    const char *user;
    char chosen[CHAT_MAX_NAME + 1];     /* a guest's own name, if any */
    int authenticated;
    chat_member slots[CHAT_ROOMS_PER_CONN];
};

/* The history of a room: the last messages as sent, in a ring. Their
 * strings come from a pool that is rebuilt, with only the live ones, once
 * it holds twice the byte budget. */
typedef struct chat_history {
    apr_pool_t *pool;
    char **text;
    apr_size_t *len;
    int max;                            /* messages kept at most */
    int first, count;
    apr_size_t live, allocated;
} chat_history;

struct chat_room {
    apr_pool_t *pool;                   /* the room, its name, its history */
    const char *name;
    char channel[CHAT_CHANNEL_MAX];
    struct chat_member_list members;
    int nmembers;
    chat_history history;
};

/* The child's rooms. One lock guards the rooms, their members and
 * histories, and is held while sending (which only queues): a member's
 * close callback takes it too, so no send reaches a closed WebSocket. */
static struct {
    apr_thread_mutex_t *lock;
    apr_pool_t *pool;                   /* unmanaged: used under the lock */
    apr_hash_t *rooms;
    int nrooms;
} hub;

static APR_OPTIONAL_FN_TYPE(websocket_publish) *chat_publish;

/* Per location: WebSocketChatHistory, WebSocketChatMaxMessage (-1:
 * unset). */
typedef struct chat_dir_conf {
    int history;
    int max_message;
} chat_dir_conf;

/* Server-wide: WebSocketChatMaxRooms bounds the child's table of rooms,
 * which every location shares. */
static int chat_rooms_max;

#define CHAT_DEFAULT_HISTORY 50
#define CHAT_DEFAULT_ROOMS   1000
#define CHAT_DEFAULT_MESSAGE (64 * 1024)
/* The directives' ranges: a history is bounded by its bytes as well, and a
 * message must hold at least a small JSON object. */
#define CHAT_HISTORY_LIMIT   100000
#define CHAT_ROOMS_LIMIT     100000
#define CHAT_MESSAGE_MIN     64
#define CHAT_MESSAGE_LIMIT   (64 * 1024 * 1024)

/* The "history" message: HEAD, the room's name as JSON, MID, the messages
 * separated by commas, TAIL. */
#define CHAT_HISTORY_HEAD    "{\"type\":\"history\",\"room\":"
#define CHAT_HISTORY_MID     ",\"messages\":["
#define CHAT_HISTORY_TAIL    "]}"

/* ---- output ---------------------------------------------------------- */

/* @a obj (consumed) as compact JSON text for free(), or NULL. */
static char *chat_dump(json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

    json_decref(obj);
    return text;
}

/* Send @a obj (consumed) to @a wc. */
static void chat_send_json(websocket_conn_t *wc, json_t *obj)
{
    char *text = chat_dump(obj);

    if (text) {
        websocket_send(wc, WEBSOCKET_TEXT, text, strlen(text));
        free(text);
    }
}

static void chat_error(websocket_conn_t *wc, const char *room,
                       const char *why)
{
    json_t *obj = json_pack("{s:s, s:s}", "type", "error", "text", why);

    if (room) {
        json_object_set_new(obj, "room", json_string(room));
    }
    chat_send_json(wc, obj);
}

static json_int_t chat_now_ms(void)
{
    return (json_int_t)apr_time_as_msec(apr_time_now());
}

/* Send @a text to every member of @a room, here and on the other
 * children and servers: one shared message. A member that does not keep up
 * loses it or is closed, as its location's WebSocketSlowConsumer says;
 * nobody waits for it. */
static void chat_broadcast(chat_room *room, const char *text, apr_size_t len)
{
    if (chat_publish) {
        chat_publish(room->channel, WEBSOCKET_TEXT, text, len, NULL, NULL);
    }
}

/* A join or leave notice to the room (hub lock held). */
static void chat_notice(chat_room *room, const char *type, chat_conn *cc)
{
    char *text = chat_dump(json_pack("{s:s, s:s, s:s, s:i, s:I}",
                                     "type", type, "room", room->name,
                                     "user", cc->user,
                                     "members", room->nmembers,
                                     "time", chat_now_ms()));

    if (text) {
        chat_broadcast(room, text, strlen(text));
        free(text);
    }
}

/* ---- history ---------------------------------------------------------- */

static void chat_history_drop_oldest(chat_history *h)
{
    h->live -= h->len[h->first];
    h->text[h->first] = NULL;
    h->first = (h->first + 1) % h->max;
    --h->count;
}

static void chat_history_add(chat_room *room, const char *text,
                             apr_size_t len)
{
    chat_history *h = &room->history;
    int i;

    if (h->max == 0 || len > CHAT_HISTORY_BYTES) {
        return;
    }
    while (h->count == h->max
           || (h->count && h->live + len > CHAT_HISTORY_BYTES)) {
        chat_history_drop_oldest(h);
    }
    if (h->allocated + len > 2 * CHAT_HISTORY_BYTES) {
        apr_pool_t *fresh;

        apr_pool_create(&fresh, room->pool);
        for (i = 0; i < h->count; ++i) {
            int at = (h->first + i) % h->max;

            h->text[at] = apr_pstrmemdup(fresh, h->text[at], h->len[at]);
        }
        apr_pool_destroy(h->pool);
        h->pool = fresh;
        h->allocated = h->live;
    }
    i = (h->first + h->count) % h->max;
    h->text[i] = apr_pstrmemdup(h->pool, text, len);
    h->len[i] = len;
    h->live += len;
    h->allocated += len;
    ++h->count;
}

/* The history as one "history" message, sent to a joiner (hub lock
 * held): the last messages, as many as its location's history has. */
static void chat_history_send(chat_room *room, chat_conn *cc)
{
    chat_history *h = &room->history;
    websocket_conn_t *wc = cc->wc;
    int skip = h->count > cc->history ? h->count - cc->history : 0;
    json_t *js = json_string(room->name);
    char *name = json_dumps(js, JSON_ENCODE_ANY);
    apr_size_t total, off;
    apr_pool_t *tmp;
    char *buf;
    int i;

    json_decref(js);
    if (!name) {
        return;
    }
    /* (each sizeof counts a '\0': room for the commas and the last '\0') */
    total = sizeof(CHAT_HISTORY_HEAD) + strlen(name) + sizeof(CHAT_HISTORY_MID)
            + h->live + h->count + sizeof(CHAT_HISTORY_TAIL);
    apr_pool_create(&tmp, wc->pool);
    buf = apr_palloc(tmp, total);
    off = apr_snprintf(buf, total, CHAT_HISTORY_HEAD "%s" CHAT_HISTORY_MID,
                       name);
    for (i = skip; i < h->count; ++i) {
        int at = (h->first + i) % h->max;

        if (i > skip) {
            buf[off++] = ',';
        }
        memcpy(buf + off, h->text[at], h->len[at]);
        off += h->len[at];
    }
    memcpy(buf + off, CHAT_HISTORY_TAIL, sizeof(CHAT_HISTORY_TAIL) - 1);
    off += sizeof(CHAT_HISTORY_TAIL) - 1;
    websocket_send(wc, WEBSOCKET_TEXT, buf, off);
    apr_pool_destroy(tmp);
    free(name);
}

/* ---- rooms ------------------------------------------------------------ */

static void chat_room_destroy(chat_room *room)
{
    apr_hash_set(hub.rooms, room->name, APR_HASH_KEY_STRING, NULL);
    --hub.nrooms;
    apr_pool_destroy(room->pool);
}

/* Make room for one more room by forgetting an empty one (only its
 * history is lost). */
static int chat_room_evict(void)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, hub.rooms); hi; hi = apr_hash_next(hi)) {
        chat_room *room = apr_hash_this_val(hi);

        if (room->nmembers == 0) {
            chat_room_destroy(room);
            return 1;
        }
    }
    return 0;
}

/* The channel of room @a name into @a channel (CHAT_CHANNEL_MAX bytes). */
static void chat_channel_name(char *channel, const char *name)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_cpystrn(channel, CHAT_CHANNEL_PREFIX, CHAT_CHANNEL_MAX);

    if (strspn(name, CHAT_NAME_PLAIN) == strlen(name)) {
        apr_cpystrn(out, name, CHAT_CHANNEL_MAX - (out - channel));
        return;
    }
    *out++ = ':';
    for (; *name; ++name) {
        *out++ = hex[(unsigned char)*name >> 4];
        *out++ = hex[(unsigned char)*name & 15];
    }
    *out = '\0';
}

/* Room @a name; a new one keeps as many messages as @a history says (the
 * location of the WebSocket that creates it). */
static chat_room *chat_room_get(const char *name, int history)
{
    chat_room *room = apr_hash_get(hub.rooms, name, APR_HASH_KEY_STRING);
    apr_pool_t *p;

    if (room) {
        return room;
    }
    if (hub.nrooms >= chat_rooms_max && !chat_room_evict()) {
        return NULL;
    }
    apr_pool_create(&p, hub.pool);
    room = apr_pcalloc(p, sizeof(*room));
    room->pool = p;
    room->name = apr_pstrdup(p, name);
    chat_channel_name(room->channel, name);
    APR_RING_INIT(&room->members, chat_member, link);
    room->history.max = history;
    if (history) {
        room->history.text = apr_pcalloc(p, history * sizeof(char *));
        room->history.len = apr_pcalloc(p, history * sizeof(apr_size_t));
        apr_pool_create(&room->history.pool, p);
    }
    apr_hash_set(hub.rooms, room->name, APR_HASH_KEY_STRING, room);
    ++hub.nrooms;
    return room;
}

static chat_member *chat_membership(chat_conn *cc, const char *name)
{
    int i;

    for (i = 0; i < CHAT_ROOMS_PER_CONN; ++i) {
        if (cc->slots[i].room && !strcmp(cc->slots[i].room->name, name)) {
            return &cc->slots[i];
        }
    }
    return NULL;
}

/* Take @a m out of its room and tell the others (hub lock held). */
static void chat_leave(chat_member *m)
{
    chat_room *room = m->room;

    APR_RING_REMOVE(m, link);
    m->room = NULL;
    --room->nmembers;
    /* (a closing WebSocket has left its channels already) */
    websocket_leave(m->cc->wc, room->channel);
    if (room->nmembers) {
        chat_notice(room, "leave", m->cc);
    }
    else if (room->history.count == 0) {
        chat_room_destroy(room);
    }
}

/* ---- requests --------------------------------------------------------- */

static void chat_join(chat_conn *cc, const char *name)
{
    chat_member *m = NULL;
    chat_room *room;
    int i;

    if (chat_membership(cc, name)) {
        chat_error(cc->wc, name, "already in this room");
        return;
    }
    for (i = 0; i < CHAT_ROOMS_PER_CONN && !m; ++i) {
        if (!cc->slots[i].room) {
            m = &cc->slots[i];
        }
    }
    if (!m) {
        chat_error(cc->wc, name, "in too many rooms");
        return;
    }
    room = chat_room_get(name, cc->history);
    if (!room) {
        chat_error(cc->wc, name, "too many rooms on this server");
        return;
    }
    if (websocket_join(cc->wc, room->channel) != APR_SUCCESS) {
        chat_error(cc->wc, name, "cannot join this room now");
        if (!room->nmembers && !room->history.count) {
            chat_room_destroy(room);
        }
        return;
    }
    chat_history_send(room, cc);
    m->room = room;
    APR_RING_INSERT_TAIL(&room->members, m, chat_member, link);
    ++room->nmembers;
    chat_notice(room, "join", cc);
}

static void chat_say(chat_conn *cc, chat_member *m, const char *text)
{
    char *out = chat_dump(json_pack("{s:s, s:s, s:s, s:b, s:s, s:I}",
                                    "type", "message", "room", m->room->name,
                                    "user", cc->user,
                                    "authenticated", cc->authenticated,
                                    "text", text, "time", chat_now_ms()));

    if (out) {
        apr_size_t len = strlen(out);

        chat_broadcast(m->room, out, len);
        chat_history_add(m->room, out, len);
        free(out);
    }
}

/* A name from the client: 1 to CHAT_MAX_NAME bytes, no control
 * characters. */
static int chat_name_ok(const char *name)
{
    apr_size_t len = strlen(name);
    const unsigned char *s;

    if (len == 0 || len > CHAT_MAX_NAME) {
        return 0;
    }
    for (s = (const unsigned char *)name; *s; ++s) {
        if (*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static void chat_message(websocket_conn_t *wc, websocket_type_e type,
                         const char *data, apr_size_t len)
{
    chat_conn *cc = wc->data;
    const char *kind, *room = NULL, *text = NULL, *user = NULL;
    json_error_t err;
    json_t *msg;
    chat_member *m;

    if (type != WEBSOCKET_TEXT) {
        websocket_close(wc, WEBSOCKET_CLOSE_UNSUPPORTED,
                        "chat takes JSON text messages");
        return;
    }
    if (len > (apr_size_t)cc->max_message) {
        char why[64];

        /* Every member would hold a copy: refused before any is made. */
        apr_snprintf(why, sizeof(why), "a chat message may have at most %d "
                     "bytes", cc->max_message);
        chat_error(wc, NULL, why);
        return;
    }
    msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    if (!msg || json_unpack(msg, "{s:s, s?s, s?s, s?s}", "type", &kind,
                            "room", &room, "text", &text,
                            "user", &user)) {
        chat_error(wc, NULL, "expected a JSON object with a string \"type\" "
                   "(and string \"room\", \"text\", \"user\")");
        json_decref(msg);
        return;
    }
    if (!room || !chat_name_ok(room)) {
        chat_error(wc, NULL, "\"room\" must be 1 to 64 bytes of text");
        json_decref(msg);
        return;
    }

    apr_thread_mutex_lock(hub.lock);
    m = chat_membership(cc, room);
    if (!strcmp(kind, "join")) {
        if (user && !cc->authenticated && chat_name_ok(user)) {
            /* a fixed buffer: renaming again and again costs nothing */
            apr_cpystrn(cc->chosen, user, sizeof(cc->chosen));
            cc->user = cc->chosen;
        }
        chat_join(cc, room);
    }
    else if (!m) {
        chat_error(wc, room, "not in this room");
    }
    else if (!strcmp(kind, "leave")) {
        chat_leave(m);
    }
    else if (!strcmp(kind, "message") && text) {
        chat_say(cc, m, text);
    }
    else {
        chat_error(wc, room, "unknown \"type\", or a message without "
                   "\"text\"");
    }
    apr_thread_mutex_unlock(hub.lock);
    json_decref(msg);
}

static apr_status_t chat_open(websocket_conn_t *wc)
{
    const chat_dir_conf *conf = ap_get_module_config(wc->r->per_dir_config,
                                                     &websocket_chat_module);
    chat_conn *cc = apr_pcalloc(wc->pool, sizeof(*cc));
    json_t *name = wc->r->user ? json_string(wc->r->user) : NULL;
    int i;

    cc->wc = wc;
    cc->history = conf->history == -1 ? CHAT_DEFAULT_HISTORY : conf->history;
    cc->max_message = conf->max_message == -1 ? CHAT_DEFAULT_MESSAGE
                                              : conf->max_message;
    for (i = 0; i < CHAT_ROOMS_PER_CONN; ++i) {
        cc->slots[i].cc = cc;
    }
    /* json_string() takes only valid UTF-8: a user name that is not
     * cannot be sent in JSON, so such a client is a guest. */
    if (name) {
        cc->user = wc->r->user;
        cc->authenticated = 1;
        json_decref(name);
    }
    else {
        cc->user = apr_psprintf(wc->pool, "guest-%" APR_UINT64_T_FMT, wc->id);
    }
    wc->data = cc;
    return APR_SUCCESS;
}

static void chat_close(websocket_conn_t *wc, int code, const char *reason)
{
    chat_conn *cc = wc->data;
    int i;

    apr_thread_mutex_lock(hub.lock);
    for (i = 0; i < CHAT_ROOMS_PER_CONN; ++i) {
        if (cc->slots[i].room) {
            chat_leave(&cc->slots[i]);
        }
    }
    apr_thread_mutex_unlock(hub.lock);
}

static const websocket_handler chat_handler = {
    NULL,                       /* handshake: accept, no subprotocol */
    chat_open,
    chat_message,
    chat_close
};

/* ---- the module ------------------------------------------------------- */

static apr_status_t chat_hub_destroy(void *data)
{
    apr_pool_destroy(hub.pool);
    hub.pool = NULL;
    return APR_SUCCESS;
}

static void chat_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    rv = apr_thread_mutex_create(&hub.lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_pool_create_unmanaged(&hub.pool);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, WEBSOCKET_LOGNO(00025)
                     "chat: cannot create the hub");
        exit(APEXIT_CHILDSICK);
    }
    hub.rooms = apr_hash_make(hub.pool);
    hub.nrooms = 0;
    apr_pool_cleanup_register(pchild, NULL, chat_hub_destroy,
                              apr_pool_cleanup_null);
}

static int chat_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp)
{
    chat_rooms_max = CHAT_DEFAULT_ROOMS;
    return OK;
}

static void *chat_create_dir_conf(apr_pool_t *p, char *dir)
{
    chat_dir_conf *conf = apr_palloc(p, sizeof(*conf));

    conf->history = -1;
    conf->max_message = -1;
    return conf;
}

static void *chat_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const chat_dir_conf *base = basev, *add = addv;
    chat_dir_conf *conf = apr_palloc(p, sizeof(*conf));

    conf->history = add->history == -1 ? base->history : add->history;
    conf->max_message = add->max_message == -1 ? base->max_message
                                               : add->max_message;
    return conf;
}

/* A count directive: where it goes (a field of chat_dir_conf, or the
 * server-wide @a global) and its range. */
typedef struct {
    int *global;
    apr_size_t offset;
    int min, max;
    int sizes;                          /* K and M allowed */
} chat_count_arg;

static const chat_count_arg history_arg = {
    NULL, APR_OFFSETOF(chat_dir_conf, history), 0, CHAT_HISTORY_LIMIT, 0
};
static const chat_count_arg message_arg = {
    NULL, APR_OFFSETOF(chat_dir_conf, max_message), CHAT_MESSAGE_MIN,
    CHAT_MESSAGE_LIMIT, 1
};
static const chat_count_arg rooms_arg = {
    &chat_rooms_max, 0, 1, CHAT_ROOMS_LIMIT, 0
};

static const char *chat_set_count(cmd_parms *cmd, void *dconf,
                                  const char *arg)
{
    const chat_count_arg *what = cmd->info;
    const char *err = what->global ? ap_check_cmd_context(cmd, GLOBAL_ONLY)
                                   : NULL;
    char *end;
    apr_int64_t n;

    if (err) {
        return err;
    }
    n = apr_strtoi64(arg, &end, 10);
    if (what->sizes && *end && !end[1]) {
        /* K, M: binary, as WebSocketMaxMessageSize takes them */
        switch (apr_toupper(*end)) {
        case 'K':
            n *= 1024;
            ++end;
            break;
        case 'M':
            n *= 1024 * 1024;
            ++end;
            break;
        }
    }
    if (!apr_isdigit(*arg) || *end || n < what->min || n > what->max) {
        return apr_psprintf(cmd->pool, "%s must be a number from %d to %d",
                            cmd->cmd->name, what->min, what->max);
    }
    if (what->global) {
        *what->global = (int)n;
    }
    else {
        *(int *)((char *)dconf + what->offset) = (int)n;
    }
    return NULL;
}

static const command_rec chat_cmds[] = {
    AP_INIT_TAKE1("WebSocketChatHistory", chat_set_count,
                  (void *)&history_arg, RSRC_CONF | ACCESS_CONF,
                  "messages a chat room created here keeps for late joiners, "
                  "and a joiner here gets at most (at most 64 KiB of them; "
                  "0 keeps none; default 50)"),
    AP_INIT_TAKE1("WebSocketChatMaxRooms", chat_set_count, (void *)&rooms_arg,
                  RSRC_CONF, "rooms a child keeps at most, for all locations "
                  "(empty ones are forgotten first; default 1000)"),
    AP_INIT_TAKE1("WebSocketChatMaxMessage", chat_set_count,
                  (void *)&message_arg, RSRC_CONF | ACCESS_CONF,
                  "bytes of the largest message a client here may send to "
                  "the chat (K and M allowed; default 64K)"),
    {NULL}
};

static void chat_retrieve(void)
{
    chat_publish = APR_RETRIEVE_OPTIONAL_FN(websocket_publish);
}

static void chat_register_hooks(apr_pool_t *p)
{
    ap_hook_optional_fn_retrieve(chat_retrieve, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_pre_config(chat_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(chat_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_provider(p, WEBSOCKET_PROVIDER_GROUP, "chat",
                         WEBSOCKET_PROVIDER_VERSION, &chat_handler);
}

module AP_MODULE_DECLARE_DATA websocket_chat_module = {
    STANDARD20_MODULE_STUFF,
    chat_create_dir_conf,       /* create per-directory config */
    chat_merge_dir_conf,        /* merge per-directory config */
    NULL,                       /* create per-server config */
    NULL,                       /* merge per-server config */
    chat_cmds,                  /* directives */
    chat_register_hooks         /* register hooks */
};

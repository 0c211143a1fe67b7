/* mws_config.c: the WebSocket* directives, strict value parsing, per-directory merge, handler lookup. */
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <httpd.h>
#include <ap_expr.h>
#include <ap_provider.h>
#include <http_config.h>
#include <http_log.h>

#include "mws_private.h"
#include "mws_channel.h"
#include "mws_config.h"

#define DEF_VAL (-1)
/* A field's value, or @a def where no directive set it. */
#define MWS_OR_DEFAULT(conf, field, def) \
    ((conf)->field == DEF_VAL ? (def) : (conf)->field)
#define MWS_MERGE(base, add, field) \
    (((add)->field == DEF_VAL) ? (base)->field : (add)->field)

/* Largest accepted size: big enough for any sane message, small enough
 * that sizes never overflow when added up. */
#define MWS_MAX_SIZE_LIMIT ((apr_off_t)1 << 40)

void *mws_config_create_dir(apr_pool_t *p, char *dir)
{
    mws_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->origin_check = DEF_VAL;
    conf->max_message = DEF_VAL;
    conf->max_frame = DEF_VAL;
    conf->deflate = DEF_VAL;
    conf->deflate_window_bits = DEF_VAL;
    conf->max_pending = DEF_VAL;
    conf->slow_consumer = DEF_VAL;
    conf->idle_timeout = DEF_VAL;
    conf->ping_interval = DEF_VAL;
    conf->close_timeout = DEF_VAL;
    conf->channel_publish = DEF_VAL;
    return conf;
}

void *mws_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const mws_dir_conf *base = basev, *add = addv;
    mws_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    if (add->handler_name) {
        conf->handler_name = add->handler_name;
        conf->handler = add->handler;
    }
    else {
        conf->handler_name = base->handler_name;
        conf->handler = base->handler;
    }
    conf->origin_check = MWS_MERGE(base, add, origin_check);
    conf->trusted = add->trusted ? add->trusted : base->trusted;
    conf->max_message = MWS_MERGE(base, add, max_message);
    conf->max_frame = MWS_MERGE(base, add, max_frame);
    conf->deflate = MWS_MERGE(base, add, deflate);
    conf->deflate_window_bits = MWS_MERGE(base, add, deflate_window_bits);
    conf->max_pending = MWS_MERGE(base, add, max_pending);
    conf->slow_consumer = MWS_MERGE(base, add, slow_consumer);
    conf->idle_timeout = MWS_MERGE(base, add, idle_timeout);
    conf->ping_interval = MWS_MERGE(base, add, ping_interval);
    conf->close_timeout = MWS_MERGE(base, add, close_timeout);
    conf->channels = add->channels ? add->channels : base->channels;
    conf->channel_publish = MWS_MERGE(base, add, channel_publish);
    return conf;
}

const mws_dir_conf *mws_config_get(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &websocket_module);
}

apr_off_t mws_config_max_message(const mws_dir_conf *conf)
{
    return MWS_OR_DEFAULT(conf, max_message, MWS_DEFAULT_MAX_MESSAGE);
}

apr_off_t mws_config_max_frame(const mws_dir_conf *conf)
{
    /* A frame can never be larger than a message, so by default the
     * message limit is the only one. */
    return MWS_OR_DEFAULT(conf, max_frame, mws_config_max_message(conf));
}

mws_origin_check_e mws_config_origin_check(const mws_dir_conf *conf)
{
    return MWS_OR_DEFAULT(conf, origin_check, MWS_ORIGIN_SAME);
}

int mws_config_deflate(const mws_dir_conf *conf)
{
    /* Off by default: a compressor costs memory on every WebSocket. */
    return MWS_OR_DEFAULT(conf, deflate, 0);
}

int mws_config_deflate_window_bits(const mws_dir_conf *conf)
{
    return MWS_OR_DEFAULT(conf, deflate_window_bits,
                          MWS_DEFAULT_DEFLATE_WINDOW_BITS);
}

apr_off_t mws_config_max_pending(const mws_dir_conf *conf)
{
    return MWS_OR_DEFAULT(conf, max_pending, MWS_DEFAULT_MAX_PENDING);
}

mws_slow_consumer_e mws_config_slow_consumer(const mws_dir_conf *conf)
{
    return MWS_OR_DEFAULT(conf, slow_consumer, MWS_SLOW_CLOSE);
}

apr_interval_time_t mws_config_idle_timeout(const mws_dir_conf *conf)
{
    /* Off: a quiet WebSocket is normal (a dashboard waiting for pushes);
     * dead peers are found by pings, or at worst by TCP keepalive. */
    return MWS_OR_DEFAULT(conf, idle_timeout, 0);
}

apr_interval_time_t mws_config_ping_interval(const mws_dir_conf *conf)
{
    /* Off, as in most servers: a client that does not expect pings never
     * sees one unless the administrator asks for them. */
    return MWS_OR_DEFAULT(conf, ping_interval, 0);
}

apr_interval_time_t mws_config_close_timeout(const mws_dir_conf *conf)
{
    return MWS_OR_DEFAULT(conf, close_timeout, MWS_DEFAULT_CLOSE_TIMEOUT);
}

int mws_config_origin_trusted(const mws_dir_conf *conf, const char *origin)
{
    int i;

    for (i = 0; conf->trusted && i < conf->trusted->nelts; ++i) {
        if (!strcmp(origin, APR_ARRAY_IDX(conf->trusted, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

static int io_threads = MWS_DEFAULT_IO_THREADS;

int mws_config_io_threads(void)
{
    return io_threads;
}

void mws_config_reset_globals(void)
{
    io_threads = MWS_DEFAULT_IO_THREADS;
}

const char *mws_config_origin_normalise(apr_pool_t *p, const char *origin)
{
    const char *sep, *host, *port;
    char *scheme, *h;
    apr_size_t hostlen;

    sep = ap_strstr_c(origin, "://");
    if (!sep || sep == origin) {
        return NULL;
    }
    scheme = apr_pstrmemdup(p, origin, sep - origin);
    ap_str_tolower(scheme);
    host = sep + 3;
    /* An origin has no path, query, user info or fragment (RFC 6454 §6.1);
     * a trailing "/" is tolerated in configuration. */
    hostlen = strcspn(host, "/?#@");
    if (hostlen == 0 || (host[hostlen] && strcmp(host + hostlen, "/"))) {
        return NULL;
    }
    h = apr_pstrmemdup(p, host, hostlen);
    ap_str_tolower(h);
    /* The port follows the host, or the ']' of an IPv6 literal. */
    port = h;
    if (h[0] == '[' && !(port = ap_strchr_c(h, ']'))) {
        return NULL;
    }
    port = ap_strchr_c(port, ':');
    if (port) {
        const char *d;
        if (!port[1]) {
            return NULL;
        }
        for (d = port + 1; *d; ++d) {
            if (!apr_isdigit(*d)) {
                return NULL;
            }
        }
        if ((!strcmp(scheme, "http") || !strcmp(scheme, "ws"))
            && !strcmp(port, ":80")) {
            h[port - h] = '\0';
        }
        else if ((!strcmp(scheme, "https") || !strcmp(scheme, "wss"))
                 && !strcmp(port, ":443")) {
            h[port - h] = '\0';
        }
    }
    return apr_pstrcat(p, scheme, "://", h, NULL);
}

/* Sizes are plain decimal bytes with an optional K, M or G (binary). */
static const char *parse_size(cmd_parms *cmd, const char *arg, apr_off_t *psize)
{
    apr_off_t n = 0, unit = 1;
    const char *s = arg;

    if (!apr_isdigit(*s)) {
        goto bad;
    }
    for (; apr_isdigit(*s); ++s) {
        n = n * 10 + (*s - '0');
        if (n > MWS_MAX_SIZE_LIMIT) {
            goto bad;
        }
    }
    switch (*s) {
    case '\0': break;
    case 'k': case 'K': unit = 1024; ++s; break;
    case 'm': case 'M': unit = 1024 * 1024; ++s; break;
    case 'g': case 'G': unit = 1024 * 1024 * 1024; ++s; break;
    default: goto bad;
    }
    if (*s || n == 0 || n > MWS_MAX_SIZE_LIMIT / unit) {
        goto bad;
    }
    *psize = n * unit;
    return NULL;
bad:
    return apr_psprintf(cmd->pool, "%s: '%s' is not a size: give bytes "
                        "from 1 to 1T, optionally with K, M or G (e.g. 16M)",
                        cmd->cmd->name, arg);
}

/* Like AuthBasicProvider, the name is looked up when the line is read, so
 * `apache2 -t` catches a typo; handler modules are loaded with LoadModule
 * before the sections that use them. */
static const char *mws_conf_set_handler(cmd_parms *cmd, void *dconf,
                                        const char *name)
{
    mws_dir_conf *conf = dconf;
    apr_array_header_t *names;
    const char *known = "none";
    int i;

    conf->handler = ap_lookup_provider(WEBSOCKET_PROVIDER_GROUP, name,
                                       WEBSOCKET_PROVIDER_VERSION);
    if (conf->handler) {
        conf->handler_name = name;
        return NULL;
    }
    names = ap_list_provider_names(cmd->temp_pool, WEBSOCKET_PROVIDER_GROUP,
                                   WEBSOCKET_PROVIDER_VERSION);
    if (names && names->nelts) {
        known = "";
        for (i = 0; i < names->nelts; ++i) {
            known = apr_pstrcat(cmd->temp_pool, known, i ? ", " : "",
                                APR_ARRAY_IDX(names, i,
                                              ap_list_provider_names_t)
                                .provider_name, NULL);
        }
    }
    return apr_psprintf(cmd->pool, "WebSocketHandler: no handler named "
                        "'%s'; load the module that provides it with "
                        "LoadModule before this line (handlers loaded: %s)",
                        name, known);
}

static const char *mws_conf_add_trusted(cmd_parms *cmd, void *dconf,
                                        const char *arg)
{
    mws_dir_conf *conf = dconf;
    const char *origin = mws_config_origin_normalise(cmd->pool, arg);

    if (!origin) {
        return apr_psprintf(cmd->pool, "WebSocketTrustedOrigin: '%s' is not "
                            "an origin (scheme://host[:port])", arg);
    }
    if (!conf->trusted) {
        conf->trusted = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->trusted, const char *) = origin;
    return NULL;
}

/* The field of mws_dir_conf that a directive sets, as ap_set_int_slot()
 * takes it: its offset is the command's info. */
#define MWS_DIR_SLOT(cmd, dconf, type) \
    ((type *)((char *)(dconf) + (apr_size_t)(cmd)->info))

/* A directive that takes one of a few keywords (any case): the index of
 * the keyword, an enum's value, goes into its int field. Its cmd->info. */
typedef struct {
    apr_size_t offset;                  /* of the field in mws_dir_conf */
    const char *const *keywords;        /* in the enum's order; NULL ends */
    const char *error;
} mws_keyword_slot;

static const char *const origin_checks[] = { "Same", "Trusted", "Off", NULL };
static const mws_keyword_slot origin_check_slot = {
    APR_OFFSETOF(mws_dir_conf, origin_check), origin_checks,
    "WebSocketOriginCheck must be Same, Trusted or Off"
};
static const char *const slow_consumers[] = { "close", "drop", NULL };
static const mws_keyword_slot slow_consumer_slot = {
    APR_OFFSETOF(mws_dir_conf, slow_consumer), slow_consumers,
    "WebSocketSlowConsumer must be close or drop"
};

static const char *mws_conf_set_keyword_slot(cmd_parms *cmd, void *dconf,
                                             const char *arg)
{
    const mws_keyword_slot *slot = cmd->info;
    int i;

    for (i = 0; slot->keywords[i]; ++i) {
        if (!strcasecmp(arg, slot->keywords[i])) {
            *(int *)((char *)dconf + slot->offset) = i;
            return NULL;
        }
    }
    return slot->error;
}

/* A size (parse_size()) into the apr_off_t field at cmd->info. */
static const char *mws_conf_set_size_slot(cmd_parms *cmd, void *dconf,
                                          const char *arg)
{
    return parse_size(cmd, arg, MWS_DIR_SLOT(cmd, dconf, apr_off_t));
}

static const char *mws_conf_set_deflate(cmd_parms *cmd, void *dconf,
                                        int flag)
{
    ((mws_dir_conf *)dconf)->deflate = flag;
    return NULL;
}

static const char *mws_conf_set_deflate_window(cmd_parms *cmd, void *dconf,
                                               const char *arg)
{
    char *end;
    apr_int64_t bits = apr_strtoi64(arg, &end, 10);

    /* zlib cannot deflate with a raw window of 8 bits (256 bytes). */
    if (!apr_isdigit(*arg) || *end || bits < WS_DEFLATE_OUR_WBITS_MIN
        || bits > WS_DEFLATE_WBITS_MAX) {
        return "WebSocketDeflateWindowBits must be a number from "
               APR_STRINGIFY(WS_DEFLATE_OUR_WBITS_MIN) " to "
               APR_STRINGIFY(WS_DEFLATE_WBITS_MAX);
    }
    ((mws_dir_conf *)dconf)->deflate_window_bits = (int)bits;
    return NULL;
}

/* Durations as httpd's own timeouts take them: seconds, or with a unit
 * ("500ms", "2s", "5min"); 0 turns the timer off where @a zero_ok. */
static const char *parse_duration(cmd_parms *cmd, const char *arg,
                                  int zero_ok, apr_interval_time_t *pt)
{
    apr_interval_time_t t;

    if (!apr_isdigit(*arg)
        || ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS
        || t < 0 || (t == 0 && !zero_ok) || t > apr_time_from_sec(86400)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration: give "
                            "seconds%s up to a day, or a number with ms, s, "
                            "min or h (e.g. 500ms)", cmd->cmd->name, arg,
                            zero_ok ? " (0 for none)" : "");
    }
    *pt = t;
    return NULL;
}

/* A timer that 0 turns off, into the apr_interval_time_t field at
 * cmd->info. */
static const char *mws_conf_set_timer_slot(cmd_parms *cmd, void *dconf,
                                           const char *arg)
{
    return parse_duration(cmd, arg, 1,
                          MWS_DIR_SLOT(cmd, dconf, apr_interval_time_t));
}

static const char *mws_conf_set_close_timeout(cmd_parms *cmd, void *dconf,
                                              const char *arg)
{
    return parse_duration(cmd, arg, 0,
                          &((mws_dir_conf *)dconf)->close_timeout);
}

static const char *mws_conf_set_io_threads(cmd_parms *cmd, void *dconf,
                                           const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    apr_int64_t n;

    if (err) {
        return err;
    }
    n = apr_strtoi64(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end || n < 1 || n > MWS_MAX_IO_THREADS) {
        return apr_psprintf(cmd->pool, "WebSocketIOThreads must be a number "
                            "from 1 to %d", MWS_MAX_IO_THREADS);
    }
    io_threads = (int)n;
    return NULL;
}

static const char *mws_conf_add_channel(cmd_parms *cmd, void *dconf,
                                        const char *arg)
{
    mws_dir_conf *conf = dconf;
    const char *err = NULL;
    ap_expr_info_t *expr = ap_expr_parse_cmd(cmd, arg,
                                             AP_EXPR_FLAG_STRING_RESULT,
                                             &err, NULL);

    if (err) {
        return apr_pstrcat(cmd->pool, "WebSocketChannel: cannot parse '",
                           arg, "': ", err, NULL);
    }
    if (!conf->channels) {
        conf->channels = apr_array_make(cmd->pool, 2,
                                        sizeof(ap_expr_info_t *));
    }
    APR_ARRAY_PUSH(conf->channels, ap_expr_info_t *) = expr;
    return NULL;
}

static const char *mws_conf_set_channel_publish(cmd_parms *cmd, void *dconf,
                                                int on)
{
    ((mws_dir_conf *)dconf)->channel_publish = on;
    return NULL;
}

int mws_config_channel_publish(const mws_dir_conf *conf)
{
    return conf->channel_publish == 1;
}

int mws_config_has_channels(const mws_dir_conf *conf)
{
    return conf->channels != NULL;
}

apr_array_header_t *mws_config_channels(request_rec *r,
                                        const mws_dir_conf *conf,
                                        const char **pwhy)
{
    apr_array_header_t *out;
    int i, j;

    out = apr_array_make(r->pool, conf->channels ? conf->channels->nelts : 0,
                         sizeof(const char *));
    for (i = 0; conf->channels && i < conf->channels->nelts; ++i) {
        ap_expr_info_t *expr = APR_ARRAY_IDX(conf->channels, i,
                                             ap_expr_info_t *);
        const char *err = NULL;
        const char *name = ap_expr_str_exec(r, expr, &err);

        if (err || !websocket_channel_name_ok(name)) {
            *pwhy = apr_psprintf(r->pool, "WebSocketChannel (%s:%u) gives "
                                 "%s'%s', not a channel name (1 to %d "
                                 "bytes of A-Z a-z 0-9 _ . : -)",
                                 expr->filename, expr->line_number,
                                 err ? "an error: " : "",
                                 err ? err : (name ? name : ""),
                                 WEBSOCKET_CHANNEL_MAX);
            return NULL;
        }
        for (j = 0; j < out->nelts; ++j) {
            if (!strcmp(name, APR_ARRAY_IDX(out, j, const char *))) {
                break;
            }
        }
        if (j == out->nelts) {
            APR_ARRAY_PUSH(out, const char *) = name;
        }
    }
    return out;
}

const command_rec mws_config_cmds[] = {
    AP_INIT_TAKE1("WebSocketHandler", mws_conf_set_handler, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "the name of the handler (provided by a LoadModule'd "
                  "handler module) that serves WebSocket upgrades here"),
    AP_INIT_TAKE1("WebSocketOriginCheck", mws_conf_set_keyword_slot,
                  (void *)&origin_check_slot,
                  RSRC_CONF | ACCESS_CONF,
                  "Same (default), Trusted or Off: which Origin headers "
                  "may open a WebSocket"),
    AP_INIT_ITERATE("WebSocketTrustedOrigin", mws_conf_add_trusted, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "origins (scheme://host[:port]) also allowed by "
                    "WebSocketOriginCheck Trusted"),
    AP_INIT_TAKE1("WebSocketMaxMessageSize", mws_conf_set_size_slot,
                  (void *)APR_OFFSETOF(mws_dir_conf, max_message),
                  RSRC_CONF | ACCESS_CONF,
                  "largest message accepted, in bytes (K/M/G allowed; "
                  "default 16M); larger closes with 1009"),
    AP_INIT_TAKE1("WebSocketMaxFrameSize", mws_conf_set_size_slot,
                  (void *)APR_OFFSETOF(mws_dir_conf, max_frame),
                  RSRC_CONF | ACCESS_CONF,
                  "largest frame payload accepted, in bytes (K/M/G allowed; "
                  "default: the message size); larger closes with 1009"),
    AP_INIT_FLAG("WebSocketDeflate", mws_conf_set_deflate, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On to accept permessage-deflate (RFC 7692) from clients "
                 "that offer it; default Off"),
    AP_INIT_TAKE1("WebSocketDeflateWindowBits", mws_conf_set_deflate_window,
                  NULL, RSRC_CONF | ACCESS_CONF,
                  APR_STRINGIFY(WS_DEFLATE_OUR_WBITS_MIN) " to "
                  APR_STRINGIFY(WS_DEFLATE_WBITS_MAX) " (default): the LZ77 "
                  "window our compressor uses; "
                  "smaller saves memory per WebSocket"),
    AP_INIT_TAKE1("WebSocketMaxPendingOutput", mws_conf_set_size_slot,
                  (void *)APR_OFFSETOF(mws_dir_conf, max_pending),
                  RSRC_CONF | ACCESS_CONF,
                  "unsent bytes per WebSocket (K/M/G allowed; default 1M) "
                  "above which its client is not read and pushes to it "
                  "follow WebSocketSlowConsumer"),
    AP_INIT_TAKE1("WebSocketSlowConsumer", mws_conf_set_keyword_slot,
                  (void *)&slow_consumer_slot,
                  RSRC_CONF | ACCESS_CONF,
                  "close (default: close with 1008) or drop (drop the "
                  "message): what a push to a WebSocket over "
                  "WebSocketMaxPendingOutput does"),
    AP_INIT_TAKE1("WebSocketIdleTimeout", mws_conf_set_timer_slot,
                  (void *)APR_OFFSETOF(mws_dir_conf, idle_timeout),
                  RSRC_CONF | ACCESS_CONF,
                  "close with 1001 a WebSocket with no message either way "
                  "for this long (seconds or e.g. 500ms; default 0: never)"),
    AP_INIT_TAKE1("WebSocketPingInterval", mws_conf_set_timer_slot,
                  (void *)APR_OFFSETOF(mws_dir_conf, ping_interval),
                  RSRC_CONF | ACCESS_CONF,
                  "ping a client silent for this long, and drop it if it "
                  "stays silent as long again (default 0: no pings)"),
    AP_INIT_TAKE1("WebSocketCloseTimeout", mws_conf_set_close_timeout, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "how long to wait for the client's close frame after "
                  "sending ours (default 5s)"),
    AP_INIT_TAKE1("WebSocketIOThreads", mws_conf_set_io_threads, NULL,
                  RSRC_CONF,
                  "threads per child process that own the WebSockets under "
                  "the event MPM (default 1)"),
    AP_INIT_TAKE1("WebSocketChannel", mws_conf_add_channel, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "an expression naming a channel of this location (may be "
                  "given several times), e.g. %{env:MATCH_CHANNEL}"),
    AP_INIT_FLAG("WebSocketChannelPublish", mws_conf_set_channel_publish,
                 NULL, RSRC_CONF | ACCESS_CONF,
                 "On to let WebSocket clients publish to the location's "
                 "channels (default Off)"),
    AP_INIT_TAKE1("WebSocketBroker", mws_channel_set_broker, NULL, RSRC_CONF,
                  "the message broker that carries channels across "
                  "children and servers, e.g. amqp://user:pass@host:5672/"),
    AP_INIT_TAKE1("WebSocketBrokerExchange", mws_channel_set_exchange, NULL,
                  RSRC_CONF,
                  "the broker's exchange for channels (default websocket)"),
    { NULL }
};

/* mws_config.h: the WebSocket* directives, their per-directory merge and typed getters. */
#ifndef MWS_CONFIG_H
#define MWS_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "mod_websocket.h"
#include "ws_deflate.h"

/* Their values are the keywords' places in mws_config.c's lists. */
typedef enum {
    MWS_ORIGIN_SAME,       /* Origin must name this server (default) */
    MWS_ORIGIN_TRUSTED,    /* ... or one of WebSocketTrustedOrigin */
    MWS_ORIGIN_OFF         /* no check */
} mws_origin_check_e;

typedef enum {
    MWS_SLOW_CLOSE,        /* close the connection with 1008 (default) */
    MWS_SLOW_DROP          /* drop the message */
} mws_slow_consumer_e;

typedef struct mws_dir_conf {
    const char *handler_name;           /* NULL: unset */
    const websocket_handler *handler;   /* the provider of that name */
    int origin_check;                   /* mws_origin_check_e or -1 */
    apr_array_header_t *trusted;        /* normalised origins, or NULL */
    apr_off_t max_message;              /* -1: unset */
    apr_off_t max_frame;                /* -1: unset */
    int deflate;                        /* permessage-deflate; -1: unset */
    int deflate_window_bits;            /* WS_DEFLATE_OUR_WBITS_MIN..
                                         * WS_DEFLATE_WBITS_MAX; -1: unset */
    apr_off_t max_pending;              /* -1: unset */
    int slow_consumer;                  /* mws_slow_consumer_e or -1 */
    apr_interval_time_t idle_timeout;   /* 0: off; -1: unset */
    apr_interval_time_t ping_interval;  /* 0: off; -1: unset */
    apr_interval_time_t close_timeout;  /* -1: unset */
    apr_array_header_t *channels;       /* ap_expr_info_t *, or NULL */
    int channel_publish;                /* -1: unset */
} mws_dir_conf;

/* Defaults. */
#define MWS_DEFAULT_MAX_MESSAGE (16 * 1024 * 1024)
#define MWS_DEFAULT_DEFLATE_WINDOW_BITS WS_DEFLATE_WBITS_MAX
#define MWS_DEFAULT_MAX_PENDING (1024 * 1024)
#define MWS_DEFAULT_CLOSE_TIMEOUT apr_time_from_sec(5)
#define MWS_DEFAULT_IO_THREADS 1
#define MWS_MAX_IO_THREADS 64

void *mws_config_create_dir(apr_pool_t *p, char *dir);
void *mws_config_merge_dir(apr_pool_t *p, void *basev, void *addv);
extern const command_rec mws_config_cmds[];

/** The merged configuration for @a r. */
const mws_dir_conf *mws_config_get(const request_rec *r);

/** Effective limits (defaults applied). */
apr_off_t mws_config_max_message(const mws_dir_conf *conf);
apr_off_t mws_config_max_frame(const mws_dir_conf *conf);
mws_origin_check_e mws_config_origin_check(const mws_dir_conf *conf);
int mws_config_deflate(const mws_dir_conf *conf);
int mws_config_deflate_window_bits(const mws_dir_conf *conf);
apr_off_t mws_config_max_pending(const mws_dir_conf *conf);
mws_slow_consumer_e mws_config_slow_consumer(const mws_dir_conf *conf);
apr_interval_time_t mws_config_idle_timeout(const mws_dir_conf *conf);
apr_interval_time_t mws_config_ping_interval(const mws_dir_conf *conf);
apr_interval_time_t mws_config_close_timeout(const mws_dir_conf *conf);

/** Is @a origin (normalised) one of WebSocketTrustedOrigin's? */
int mws_config_origin_trusted(const mws_dir_conf *conf, const char *origin);

int mws_config_channel_publish(const mws_dir_conf *conf);

/** Does WebSocketChannel name any channel here? */
int mws_config_has_channels(const mws_dir_conf *conf);

/**
 * The channels WebSocketChannel names for @a r (const char *, in order,
 * duplicates dropped), or NULL with *@a pwhy set if one is not a valid
 * channel name or cannot be evaluated.
 */
apr_array_header_t *mws_config_channels(request_rec *r,
                                        const mws_dir_conf *conf,
                                        const char **pwhy);

/** WebSocketIOThreads: I/O threads per child for the async runner. */
int mws_config_io_threads(void);

/** Forget the last configuration's global settings (pre_config). */
void mws_config_reset_globals(void);

/**
 * Normalise an origin "scheme://host[:port]" for comparison: lower-case
 * scheme and host, default port dropped. NULL if it is not of that form.
 */
const char *mws_config_origin_normalise(apr_pool_t *p, const char *origin);

#endif /* MWS_CONFIG_H */

/* mws_publish.h: the HTTP publisher: SetHandler websocket-publish turns a POST or PUT body into a message to the location's channels. */
#ifndef MWS_PUBLISH_H
#define MWS_PUBLISH_H

#include <httpd.h>

/** The handler name for SetHandler. */
#define MWS_PUBLISH_HANDLER "websocket-publish"

void mws_publish_register_hooks(apr_pool_t *p);

#endif /* MWS_PUBLISH_H */

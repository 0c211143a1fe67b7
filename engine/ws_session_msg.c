/* ws_session_msg.c: the buffers of the message being received: reserved as frames announce it, grown as it inflates, delivered whole. */
#include <string.h>

#include <apr_pools.h>

#include "ws_session_int.h"

/* Smallest buffer for a fragmented message, and the unit its buffers are
 * rounded up to. A message of many tiny frames then costs a few large
 * allocations, not one per frame. The fuzz build lowers it so that its
 * small inputs reach messages spanning several buffers. */
#ifndef WS_MSG_CHUNK_MIN
#define WS_MSG_CHUNK_MIN      4096
#endif

/* What a buffer's allocation needs besides its capacity (our chunk
 * header, the '\0', the pool's node header), estimated generously. */
#define WS_MSG_CHUNK_SLACK    (WS_MSG_CHUNK_MIN / 32)
/* Frames up to this long are reserved whole when their header arrives;
 * longer ones as their payload does (doubling), so that a header alone
 * never costs the length it announces. */
#define WS_MSG_EAGER          (64 * 1024)

/* The message pool may live under another parent than the session's pool
 * (ws_session_set_buffer_pool()), so the session's end destroys it. */
apr_status_t ws_session_msg_pool_cleanup(void *data)
{
    ws_session_t *session = data;

    if (session->msg_pool) {
        apr_pool_destroy(session->msg_pool);
        session->msg_pool = NULL;
    }
    return APR_SUCCESS;
}

void ws_session_set_buffer_pool(ws_session_t *session, apr_pool_t *parent)
{
    ws_session_msg_pool_cleanup(session);
    session->imsg_alloced = 0;
    session->msg_parent = parent;
}

void ws_session_trim(ws_session_t *session)
{
    if (!session->imsg_active) {
        ws_session_msg_pool_cleanup(session);
        session->imsg_alloced = 0;
    }
}

/* Forget the message being received and give its memory back. */
void ws_session_msg_reset(ws_session_t *session)
{
    session->imsg_active = 0;
    session->imsg_len = 0;
    memset(&session->imsg_first, 0, sizeof(session->imsg_first));
    session->imsg_tail = NULL;
    session->imsg_cur = NULL;
    session->imsg_compressed = 0;
    if (session->imsg_alloced) {
        apr_pool_clear(session->msg_pool);
        session->imsg_alloced = 0;
    }
}

/* Memory for the message being received, or NULL. */
void *ws_session_msg_alloc(ws_session_t *session, apr_size_t size)
{
    if (!session->msg_pool) {
        if (apr_pool_create(&session->msg_pool, session->msg_parent)
            != APR_SUCCESS) {
            session->msg_pool = NULL;
            return NULL;
        }
        apr_pool_tag(session->msg_pool, "ws_msg");
    }
    session->imsg_alloced = 1;
    return apr_palloc(session->msg_pool, size);
}

/* Add a buffer of @a cap bytes, plus the '\0' that delivery adds, after
 * the message's last one. */
static apr_status_t msg_append(ws_session_t *session, apr_size_t cap)
{
    ws_chunk_t *chunk;

    chunk = ws_session_msg_alloc(session, sizeof(*chunk) + cap + 1);
    if (!chunk) {
        return ws_session_fail_nomem(session);
    }
    chunk->next = NULL;
    chunk->data = (char *)(chunk + 1);
    chunk->len = 0;
    chunk->cap = cap;
    session->imsg_tail->next = chunk;
    session->imsg_tail = chunk;
    return APR_SUCCESS;
}

/*
 * Make room for @a len more payload bytes of the current message.
 *
 * A single-frame message gets exactly its size (plus the '\0'). A
 * fragmented one fills the free space of its last buffer and then adds
 * one buffer for the rest of the frame, rounded up to a multiple of
 * WS_MSG_CHUNK_MIN (pool memory comes in 4 KiB units, so what rounding
 * would waste becomes room for the next fragments), but never beyond
 * max_message. Every buffer but the last is therefore full, and the
 * message is copied once, on delivery, if it spans several buffers: O(n)
 * copying, and about twice its size in memory at worst (the buffers, the
 * copy, and at most one unit of slack).
 */
static apr_status_t msg_reserve(ws_session_t *session, apr_uint64_t len,
                                int whole)
{
    ws_chunk_t *chunk;
    apr_uint64_t have, cap, room;

    have = session->imsg_tail
           ? session->imsg_tail->cap - session->imsg_tail->len : 0;
    if (len <= have) {
        return APR_SUCCESS;
    }
    cap = len - have;
    if (!whole) {
        cap = (cap + WS_MSG_CHUNK_SLACK + WS_MSG_CHUNK_MIN - 1)
              / WS_MSG_CHUNK_MIN * WS_MSG_CHUNK_MIN - WS_MSG_CHUNK_SLACK;
        if (session->limits.max_message) {
            /* The limit check passed, so this is at least len - have. */
            room = session->limits.max_message - session->imsg_len - have;
            if (cap > room) {
                cap = room;
            }
        }
    }
    /* The whole message has to fit in memory in one piece on delivery. */
    if (session->imsg_len + len >= APR_SIZE_MAX - sizeof(*chunk)
        || cap >= APR_SIZE_MAX - sizeof(*chunk)) {
        return ws_session_fail_too_big(session, WS_WHY_MSG_BIG);
    }
    if (session->imsg_tail) {
        return msg_append(session, (apr_size_t)cap);
    }
    /* The first buffer lives in the session: a single-frame message costs
     * exactly one allocation of its size plus one. */
    chunk = &session->imsg_first;
    chunk->data = ws_session_msg_alloc(session, (apr_size_t)cap + 1);
    if (!chunk->data) {
        return ws_session_fail_nomem(session);
    }
    chunk->next = NULL;
    chunk->len = 0;
    chunk->cap = (apr_size_t)cap;
    session->imsg_cur = session->imsg_tail = chunk;
    return APR_SUCCESS;
}

/* A data frame's header arrived: reserve room for its payload, all of it
 * for a frame up to WS_MSG_EAGER long, exactly for a single-frame
 * message. */
apr_status_t ws_session_msg_reserve_frame(ws_session_t *session)
{
    const ws_frame_hdr_t *hdr = &session->fp.hdr;
    int eager = hdr->payload_len <= WS_MSG_EAGER;

    return msg_reserve(session, eager ? hdr->payload_len : WS_MSG_EAGER,
                       eager && hdr->fin && hdr->opcode != WS_OP_CONT);
}

/* Inflated output has filled the message's buffers: add one, growing
 * geometrically (few buffers, one copy on delivery, and the last one at
 * most as big as all before it), but by no more than @a room. */
apr_status_t ws_session_msg_grow(ws_session_t *session, apr_uint64_t room)
{
    apr_uint64_t want = session->imsg_len > WS_MSG_CHUNK_MIN
                        ? session->imsg_len : WS_MSG_CHUNK_MIN;

    if (want > room) {
        want = room;
    }
    return msg_reserve(session, want, 0);
}

/* The frame being received has filled what was reserved for it (a long
 * frame, see WS_MSG_EAGER): add a buffer as large as what the message
 * holds so far, but no larger than what the frame still announces. */
apr_status_t ws_session_msg_extend(ws_session_t *session)
{
    apr_uint64_t left = ws_frame_payload_left(&session->fp);
    apr_uint64_t want = session->imsg_len - left;

    if (want > left) {
        want = left;
    }
    return msg_append(session, (apr_size_t)want);
}

/* Hand a complete message to on_message and free it. */
apr_status_t ws_session_msg_deliver(ws_session_t *session)
{
    const ws_chunk_t *chunk;
    apr_size_t len = (apr_size_t)session->imsg_len;
    const char *data;
    char *buf;
    apr_status_t rv;

    if (len == 0) {
        data = "";
    }
    else if (!session->imsg_first.next) {
        session->imsg_first.data[len] = '\0';
        data = session->imsg_first.data;
    }
    else {
        buf = ws_session_msg_alloc(session, len + 1);
        if (!buf) {
            return ws_session_fail_nomem(session);
        }
        len = 0;
        for (chunk = &session->imsg_first; chunk; chunk = chunk->next) {
            memcpy(buf + len, chunk->data, chunk->len);
            len += chunk->len;
        }
        buf[len] = '\0';
        data = buf;
    }
    rv = session->cb->on_message(session->baton, session->imsg_op, data,
                                 len);
    ws_session_msg_reset(session);
    return rv;
}

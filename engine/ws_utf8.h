/* ws_utf8.h: incremental UTF-8 validation across frame boundaries. */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include "ws.h"

/*
 * RFC 6455 §8.1 requires text messages to be UTF-8 (RFC 3629): no
 * overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
 * A message arrives in frames, and frames in arbitrary pieces, so the
 * validator keeps its position inside a multi-byte sequence between calls
 * and reports the first byte that can no longer start or continue a valid
 * sequence; a sequence cut short is an error only at the end of the text.
 */

/** Validator state; initialise with ws_utf8_init(). */
typedef struct ws_utf8_t {
    unsigned int state;
} ws_utf8_t;

/** Start validating a new text. */
void ws_utf8_init(ws_utf8_t *u);

/**
 * Validate the next @a len bytes of the text.
 * @param u       the validator
 * @param data    bytes
 * @param len     their number
 * @param pvalid  if not NULL, set to the number of bytes before the first
 *                invalid one (@a len when there is none)
 * @return APR_SUCCESS  no invalid byte so far (the text may still end in
 *                      the middle of a character, see ws_utf8_complete());
 *         WS_EBADUTF8  data[*pvalid] is invalid; so is every later call.
 */
apr_status_t ws_utf8_feed(ws_utf8_t *u, const char *data, apr_size_t len,
                          apr_size_t *pvalid);

/** Does the text fed so far end at a character boundary with no error,
 *  so that it may end here? */
int ws_utf8_complete(const ws_utf8_t *u);

/**
 * Validate a whole text.
 * @return APR_SUCCESS or WS_EBADUTF8 (invalid or truncated at the end)
 */
apr_status_t ws_utf8_validate(const char *data, apr_size_t len);

/**
 * The longest prefix of @a data (@a len bytes) that is at most @a max
 * bytes, is valid UTF-8 and does not end inside a character. For valid
 * UTF-8 that is a cut at the last character boundary at or before @a max;
 * an invalid byte cuts the text before the character it is in.
 */
apr_size_t ws_utf8_truncate(const char *data, apr_size_t len,
                            apr_size_t max);

#endif /* WS_UTF8_H */

/* ws_utf8.c: incremental UTF-8 validation across frame boundaries. */
#include <string.h>

#include "ws_utf8.h"

/*
 * A deterministic automaton over byte classes, built from the table of
 * well-formed byte sequences in the Unicode Standard (ch. 3, table 3-7),
 * which is what RFC 3629 §4 allows:
 *
 *   U+0000..U+007F     00..7F
 *   U+0080..U+07FF     C2..DF  80..BF
 *   U+0800..U+0FFF     E0      A0..BF  80..BF
 *   U+1000..U+CFFF     E1..EC  80..BF  80..BF
 *   U+D000..U+D7FF     ED      80..9F  80..BF
 *   U+E000..U+FFFF     EE..EF  80..BF  80..BF
 *   U+10000..U+3FFFF   F0      90..BF  80..BF  80..BF
 *   U+40000..U+FFFFF   F1..F3  80..BF  80..BF  80..BF
 *   U+100000..U+10FFFF F4      80..8F  80..BF  80..BF
 *
 * The narrowed second-byte ranges after E0, ED, F0 and F4 are what exclude
 * overlong forms, surrogates and code points above U+10FFFF, so each of
 * those leads gets its own state. Every invalid byte leads to REJECT at
 * that very byte.
 */

/* States. */
enum {
    U8_ACCEPT = 0,   /* at a character boundary */
    U8_REJECT,       /* an invalid byte was seen; stays here */
    U8_TAIL1,        /* one more 80..BF ends the character */
    U8_TAIL2,        /* two more 80..BF */
    U8_TAIL3,        /* three more 80..BF */
    U8_AFTER_E0,     /* A0..BF, then one more */
    U8_AFTER_ED,     /* 80..9F, then one more */
    U8_AFTER_F0,     /* 90..BF, then two more */
    U8_AFTER_F4,     /* 80..8F, then two more */
    U8_NSTATES
};

/* Byte classes. */
enum {
    C_ASCII = 0,     /* 00..7F */
    C_CONT_80,       /* 80..8F */
    C_CONT_90,       /* 90..9F */
    C_CONT_A0,       /* A0..BF */
    C_NEVER,         /* C0, C1, F5..FF: can never appear */
    C_LEAD2,         /* C2..DF */
    C_E0,            /* E0 */
    C_LEAD3,         /* E1..EC, EE, EF */
    C_ED,            /* ED */
    C_F0,            /* F0 */
    C_LEAD4,         /* F1..F3 */
    C_F4,            /* F4 */
    C_NCLASSES
};

#define A_ C_ASCII
#define K8 C_CONT_80
#define K9 C_CONT_90
#define KA C_CONT_A0
#define NV C_NEVER
#define L2 C_LEAD2
#define E0 C_E0
#define L3 C_LEAD3
#define ED C_ED
#define F0 C_F0
#define L4 C_LEAD4
#define F4 C_F4

static const unsigned char utf8_class[256] = {
    /* 00..7F */
    A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_,
    A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_,
    A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_,
    A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_,
    A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_,
    A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_,
    A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_,
    A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_, A_,
    /* 80..8F */
    K8, K8, K8, K8, K8, K8, K8, K8, K8, K8, K8, K8, K8, K8, K8, K8,
    /* 90..9F */
    K9, K9, K9, K9, K9, K9, K9, K9, K9, K9, K9, K9, K9, K9, K9, K9,
    /* A0..BF */
    KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA,
    KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA, KA,
    /* C0..DF */
    NV, NV, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2,
    L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2,
    /* E0..EF */
    E0, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, ED, L3, L3,
    /* F0..FF */
    F0, L4, L4, L4, F4, NV, NV, NV, NV, NV, NV, NV, NV, NV, NV, NV
};

#undef A_
#undef K8
#undef K9
#undef KA
#undef NV
#undef L2
#undef E0
#undef L3
#undef ED
#undef F0
#undef L4
#undef F4

#define RJ U8_REJECT

static const unsigned char utf8_next[U8_NSTATES][C_NCLASSES] = {
    /*              ASCII     80..8F    90..9F    A0..BF    never
     *              C2..DF    E0           E1..EF    ED           F0
     *              F1..F3    F4 */
    /* ACCEPT */  { U8_ACCEPT, RJ, RJ, RJ, RJ,
                    U8_TAIL1, U8_AFTER_E0, U8_TAIL2, U8_AFTER_ED, U8_AFTER_F0,
                    U8_TAIL3, U8_AFTER_F4 },
    /* REJECT */  { RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ },
    /* TAIL1 */   { RJ, U8_ACCEPT, U8_ACCEPT, U8_ACCEPT, RJ,
                    RJ, RJ, RJ, RJ, RJ, RJ, RJ },
    /* TAIL2 */   { RJ, U8_TAIL1, U8_TAIL1, U8_TAIL1, RJ,
                    RJ, RJ, RJ, RJ, RJ, RJ, RJ },
    /* TAIL3 */   { RJ, U8_TAIL2, U8_TAIL2, U8_TAIL2, RJ,
                    RJ, RJ, RJ, RJ, RJ, RJ, RJ },
    /* AFTER_E0 */ { RJ, RJ, RJ, U8_TAIL1, RJ,
                    RJ, RJ, RJ, RJ, RJ, RJ, RJ },
    /* AFTER_ED */ { RJ, U8_TAIL1, U8_TAIL1, RJ, RJ,
                    RJ, RJ, RJ, RJ, RJ, RJ, RJ },
    /* AFTER_F0 */ { RJ, RJ, U8_TAIL2, U8_TAIL2, RJ,
                    RJ, RJ, RJ, RJ, RJ, RJ, RJ },
    /* AFTER_F4 */ { RJ, U8_TAIL2, RJ, RJ, RJ,
                    RJ, RJ, RJ, RJ, RJ, RJ, RJ }
};

#undef RJ

/* ASCII bytes have the top bit clear, so a word in which no byte has it
 * set is eight ASCII characters that need no automaton steps. */
#define U8_WORD        8
#define U8_HIGH_BITS   APR_UINT64_C(0x8080808080808080)

void ws_utf8_init(ws_utf8_t *u)
{
    u->state = U8_ACCEPT;
}

apr_status_t ws_utf8_feed(ws_utf8_t *u, const char *data, apr_size_t len,
                          apr_size_t *pvalid)
{
    const unsigned char *p = (const unsigned char *)data;
    unsigned int state = u->state;
    apr_size_t i = 0;

    if (state == U8_REJECT) {
        if (pvalid) {
            *pvalid = 0;
        }
        return WS_EBADUTF8;
    }
    while (i < len) {
        if (state == U8_ACCEPT) {
            apr_uint64_t w;

            while (len - i >= U8_WORD) {
                memcpy(&w, p + i, sizeof(w));
                if (w & U8_HIGH_BITS) {
                    break;
                }
                i += U8_WORD;
            }
            if (i == len) {
                break;
            }
        }
        state = utf8_next[state][utf8_class[p[i]]];
        if (state == U8_REJECT) {
            u->state = state;
            if (pvalid) {
                *pvalid = i;
            }
            return WS_EBADUTF8;
        }
        ++i;
    }
    u->state = state;
    if (pvalid) {
        *pvalid = len;
    }
    return APR_SUCCESS;
}

int ws_utf8_complete(const ws_utf8_t *u)
{
    return u->state == U8_ACCEPT;
}

apr_status_t ws_utf8_validate(const char *data, apr_size_t len)
{
    ws_utf8_t u;

    ws_utf8_init(&u);
    if (ws_utf8_feed(&u, data, len, NULL) != APR_SUCCESS
        || !ws_utf8_complete(&u)) {
        return WS_EBADUTF8;
    }
    return APR_SUCCESS;
}

apr_size_t ws_utf8_truncate(const char *data, apr_size_t len,
                            apr_size_t max)
{
    const unsigned char *p = (const unsigned char *)data;
    unsigned int state = U8_ACCEPT;
    apr_size_t boundary = 0;
    apr_size_t i;

    /* Walk the automaton and remember the last character boundary; stop
     * at an invalid byte, so what is kept is valid as well as whole. The
     * byte after the limit is not needed: a boundary at max is a
     * boundary whatever follows. */
    if (len > max) {
        len = max;
    }
    for (i = 0; i < len; ++i) {
        state = utf8_next[state][utf8_class[p[i]]];
        if (state == U8_REJECT) {
            break;
        }
        if (state == U8_ACCEPT) {
            boundary = i + 1;
        }
    }
    return boundary;
}

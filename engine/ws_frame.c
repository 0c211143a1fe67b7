/* ws_frame.c: one RFC 6455 frame: header parse/write and masking. */
#include <string.h>

#include "ws_frame.h"

/* Masking works on machine words of this many bytes. */
#define WS_FRAME_WORD 8

void ws_frame_parser_init(ws_frame_parser_t *fp)
{
    memset(fp, 0, sizeof(*fp));
    fp->istate = WS_FRAME_RECV_HEADER;
    fp->ireqread = WS_FRAME_HDR_MIN;
}

/* Decode a big-endian ("network byte order", RFC 6455 §5.2) number. */
static apr_uint64_t frame_get_be(const unsigned char *p, apr_size_t n)
{
    apr_uint64_t v = 0;
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Move to state @a st, which needs @a need bytes. */
static void frame_next_field(ws_frame_parser_t *fp, ws_frame_istate_e st,
                             apr_size_t need)
{
    fp->istate = st;
    fp->ibuflen = 0;
    fp->ireqread = need;
}

/* The header is complete: expect the payload, or, when there is none,
 * the next frame's header. */
static void frame_hdr_done(ws_frame_parser_t *fp)
{
    fp->ipayload_off = 0;
    if (fp->hdr.payload_len > 0) {
        frame_next_field(fp, WS_FRAME_RECV_PAYLOAD, 0);
    }
    else {
        frame_next_field(fp, WS_FRAME_RECV_HEADER, WS_FRAME_HDR_MIN);
    }
}

/* The length is known: a masking key may follow (RFC 6455 §5.2). */
static int frame_len_done(ws_frame_parser_t *fp)
{
    if (fp->hdr.masked) {
        frame_next_field(fp, WS_FRAME_RECV_MASKKEY, WS_FRAME_MASK_KEY_LEN);
        return 0;
    }
    frame_hdr_done(fp);
    return 1;
}

apr_status_t ws_frame_parse_hdr(ws_frame_parser_t *fp, const char *data,
                                apr_size_t len, apr_size_t *pconsumed)
{
    const unsigned char *in = (const unsigned char *)data;
    apr_size_t used = 0;

    *pconsumed = 0;
    if (fp->istate == WS_FRAME_RECV_PAYLOAD
        || fp->istate == WS_FRAME_RECV_ERROR) {
        return APR_EINVAL;
    }

    while (used < len) {
        apr_size_t n = fp->ireqread - fp->ibuflen;
        apr_uint64_t v;
        unsigned int len7;

        if (n > len - used) {
            n = len - used;
        }
        memcpy(fp->ibuf + fp->ibuflen, in + used, n);
        fp->ibuflen += n;
        used += n;
        if (fp->ibuflen < fp->ireqread) {
            break;
        }

        switch (fp->istate) {
        case WS_FRAME_RECV_HEADER:
            fp->hdr.fin = (fp->ibuf[0] & WS_FRAME_FIN) != 0;
            fp->hdr.rsv = fp->ibuf[0] & WS_FRAME_RSV_BITS;
            fp->hdr.opcode = fp->ibuf[0] & WS_FRAME_OPCODE_BITS;
            fp->hdr.masked = (fp->ibuf[1] & WS_FRAME_MASKED) != 0;
            memset(fp->hdr.mask_key, 0, sizeof(fp->hdr.mask_key));
            len7 = fp->ibuf[1] & WS_FRAME_LEN7_BITS;
            if (len7 == WS_FRAME_LEN7_16BIT) {
                frame_next_field(fp, WS_FRAME_RECV_EXTLEN, WS_FRAME_EXTLEN16);
            }
            else if (len7 == WS_FRAME_LEN7_64BIT) {
                frame_next_field(fp, WS_FRAME_RECV_EXTLEN, WS_FRAME_EXTLEN64);
            }
            else {
                fp->hdr.payload_len = len7;
                if (frame_len_done(fp)) {
                    *pconsumed = used;
                    return APR_SUCCESS;
                }
            }
            break;

        case WS_FRAME_RECV_EXTLEN:
            v = frame_get_be(fp->ibuf, fp->ireqread);
            /* RFC 6455 §5.2: the minimal number of bytes MUST be used,
             * and the 64-bit form's most significant bit MUST be 0. */
            if (fp->ireqread == WS_FRAME_EXTLEN16) {
                if (v < WS_FRAME_LEN16_MIN) {
                    goto malformed;
                }
            }
            else if (v < WS_FRAME_LEN64_MIN || (v & WS_FRAME_LEN64_MSB)) {
                goto malformed;
            }
            fp->hdr.payload_len = v;
            if (frame_len_done(fp)) {
                *pconsumed = used;
                return APR_SUCCESS;
            }
            break;

        case WS_FRAME_RECV_MASKKEY:
            memcpy(fp->hdr.mask_key, fp->ibuf, WS_FRAME_MASK_KEY_LEN);
            frame_hdr_done(fp);
            *pconsumed = used;
            return APR_SUCCESS;

        default:
            /* not reached: the states above are the only header states */
            goto malformed;
        }
    }
    *pconsumed = used;
    return APR_EAGAIN;

malformed:
    fp->istate = WS_FRAME_RECV_ERROR;
    *pconsumed = used;
    return WS_EPROTO;
}

apr_uint64_t ws_frame_payload_left(const ws_frame_parser_t *fp)
{
    if (fp->istate != WS_FRAME_RECV_PAYLOAD) {
        return 0;
    }
    return fp->hdr.payload_len - fp->ipayload_off;
}

apr_size_t ws_frame_read_payload(ws_frame_parser_t *fp, char *dst,
                                 const char *src, apr_size_t len)
{
    apr_uint64_t left = ws_frame_payload_left(fp);
    apr_size_t n = len;

    if ((apr_uint64_t)n > left) {
        n = (apr_size_t)left;
    }
    if (n == 0) {
        return 0;
    }
    if (fp->hdr.masked) {
        ws_frame_mask(dst, src, n, fp->hdr.mask_key, fp->ipayload_off);
    }
    else if (dst != src) {
        memcpy(dst, src, n);
    }
    fp->ipayload_off += n;
    if (fp->ipayload_off == fp->hdr.payload_len) {
        frame_next_field(fp, WS_FRAME_RECV_HEADER, WS_FRAME_HDR_MIN);
    }
    return n;
}

apr_size_t ws_frame_write_hdr(char *buf, const ws_frame_hdr_t *hdr)
{
    unsigned char *out = (unsigned char *)buf;
    apr_uint64_t plen = hdr->payload_len;
    apr_size_t n = WS_FRAME_HDR_MIN;
    apr_size_t extlen = 0;
    apr_size_t i;

    out[0] = (unsigned char)((hdr->fin ? WS_FRAME_FIN : 0)
                             | (hdr->rsv & WS_FRAME_RSV_BITS)
                             | (hdr->opcode & WS_FRAME_OPCODE_BITS));
    /* RFC 6455 §5.2: the shortest of the three length forms. */
    if (plen <= WS_FRAME_LEN7_MAX) {
        out[1] = (unsigned char)plen;
    }
    else if (plen < WS_FRAME_LEN64_MIN) {
        out[1] = WS_FRAME_LEN7_16BIT;
        extlen = WS_FRAME_EXTLEN16;
    }
    else {
        out[1] = WS_FRAME_LEN7_64BIT;
        extlen = WS_FRAME_EXTLEN64;
    }
    for (i = 0; i < extlen; ++i) {
        out[n + i] = (unsigned char)(plen >> (8 * (extlen - 1 - i)));
    }
    n += extlen;
    if (hdr->masked) {
        out[1] |= WS_FRAME_MASKED;
        memcpy(out + n, hdr->mask_key, WS_FRAME_MASK_KEY_LEN);
        n += WS_FRAME_MASK_KEY_LEN;
    }
    return n;
}

void ws_frame_mask(char *dst, const char *src, apr_size_t len,
                   const unsigned char *key, apr_uint64_t offset)
{
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    unsigned int k = (unsigned int)(offset % WS_FRAME_MASK_KEY_LEN);
    apr_size_t i = 0;

    /* RFC 6455 §5.3: octet i of the payload is XORed with key[i % 4]. The
     * head goes byte by byte until dst is word aligned, so the word
     * stores below are aligned (src may still not be; memcpy keeps those
     * loads free of undefined behaviour and compiles to plain moves). */
    while (i < len && ((apr_uintptr_t)(d + i) % WS_FRAME_WORD) != 0) {
        d[i] = s[i] ^ key[k];
        k = (k + 1) % WS_FRAME_MASK_KEY_LEN;
        ++i;
    }
    if (len - i >= WS_FRAME_WORD) {
        unsigned char pattern[WS_FRAME_WORD];
        apr_uint64_t m, w;
        unsigned int j;

        /* The key rotated to the current position, laid out in memory
         * order, so the word XOR needs no knowledge of endianness. A word
         * holds two whole keys, so the rotation stays the same. */
        for (j = 0; j < WS_FRAME_WORD; ++j) {
            pattern[j] = key[(k + j) % WS_FRAME_MASK_KEY_LEN];
        }
        memcpy(&m, pattern, sizeof(m));
        for (; len - i >= WS_FRAME_WORD; i += WS_FRAME_WORD) {
            memcpy(&w, s + i, sizeof(w));
            w ^= m;
            memcpy(d + i, &w, sizeof(w));
        }
    }
    for (; i < len; ++i) {
        d[i] = s[i] ^ key[k];
        k = (k + 1) % WS_FRAME_MASK_KEY_LEN;
    }
}

/* ws_frame.h: one RFC 6455 frame: header parse/write and masking. */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include "ws.h"

/*
 * This layer knows the wire format of a single frame (RFC 6455 §5.2) and
 * nothing about messages, fragmentation rules, control frame rules or the
 * closing handshake; ws_session.c applies those.
 */

/* First header byte, RFC 6455 §5.2. */
#define WS_FRAME_FIN          0x80
#define WS_FRAME_RSV1         0x40
#define WS_FRAME_RSV2         0x20
#define WS_FRAME_RSV3         0x10
#define WS_FRAME_RSV_BITS     (WS_FRAME_RSV1 | WS_FRAME_RSV2 | WS_FRAME_RSV3)
#define WS_FRAME_OPCODE_BITS  0x0F

/* Opcodes with this bit set are control frames, RFC 6455 §5.5. */
#define WS_FRAME_OP_CONTROL   0x08

/* Second header byte, RFC 6455 §5.2. */
#define WS_FRAME_MASKED       0x80
#define WS_FRAME_LEN7_BITS    0x7F

/* 7-bit length values that announce an extended length field. */
#define WS_FRAME_LEN7_MAX     125
#define WS_FRAME_LEN7_16BIT   126
#define WS_FRAME_LEN7_64BIT   127

/* Sizes of the header fields. */
#define WS_FRAME_HDR_MIN      2
#define WS_FRAME_EXTLEN16     2
#define WS_FRAME_EXTLEN64     8
#define WS_FRAME_MASK_KEY_LEN 4

/* Smallest lengths that may use the 16- and 64-bit forms (RFC 6455 §5.2:
 * "the minimal number of bytes MUST be used to encode the length"). */
#define WS_FRAME_LEN16_MIN    126
#define WS_FRAME_LEN64_MIN    APR_UINT64_C(0x10000)

/* The most significant bit of the 64-bit length "MUST be 0". */
#define WS_FRAME_LEN64_MSB    APR_UINT64_C(0x8000000000000000)

/** Whether @a op (0..15) is a control opcode. */
#define WS_FRAME_IS_CONTROL(op) (((op) & WS_FRAME_OP_CONTROL) != 0)

/** The fields of one frame header. */
typedef struct ws_frame_hdr_t {
    int fin;                     /* FIN bit: last frame of a message */
    unsigned int rsv;            /* the RSV bits as in the first byte
                                  * (WS_FRAME_RSV_BITS), 0 if none */
    unsigned int opcode;         /* 0..15, reserved values included */
    int masked;                  /* MASK bit */
    apr_uint64_t payload_len;    /* payload length in bytes */
    unsigned char mask_key[WS_FRAME_MASK_KEY_LEN]; /* if masked */
} ws_frame_hdr_t;

/** Where the parser stands inside a frame (wslay-like states). */
typedef enum {
    WS_FRAME_RECV_HEADER,        /* the first two bytes */
    WS_FRAME_RECV_EXTLEN,        /* 2 or 8 bytes of extended length */
    WS_FRAME_RECV_MASKKEY,       /* 4 bytes of masking key */
    WS_FRAME_RECV_PAYLOAD,       /* payload_len bytes of payload */
    WS_FRAME_RECV_ERROR          /* a header was malformed */
} ws_frame_istate_e;

/** An incoming frame parser; embed it and initialise it with
 *  ws_frame_parser_init(). Fields are private to ws_frame.c except hdr,
 *  which is read-only for callers. */
typedef struct ws_frame_parser_t {
    ws_frame_istate_e istate;
    ws_frame_hdr_t hdr;          /* valid once ws_frame_parse_hdr()
                                  * returned APR_SUCCESS, until the next
                                  * header's first bytes are parsed */
    unsigned char ibuf[WS_FRAME_EXTLEN64]; /* bytes of the current field */
    apr_size_t ibuflen;          /* how many of them arrived */
    apr_size_t ireqread;         /* how many the current field needs */
    apr_uint64_t ipayload_off;   /* payload bytes read so far */
} ws_frame_parser_t;

/** Prepare @a fp to parse a frame header. */
void ws_frame_parser_init(ws_frame_parser_t *fp);

/**
 * Parse header bytes. Resumes where the previous call stopped, so the
 * header may arrive split at any byte. Never reads payload bytes.
 * @param fp         the parser; must not be in the payload state
 * @param data       input bytes
 * @param len        their number
 * @param pconsumed  set to the number of bytes used
 * @return APR_SUCCESS  the header is complete in fp->hdr; the parser is
 *                      now in the payload state, or ready for the next
 *                      header if payload_len is 0;
 *         APR_EAGAIN   all @a len bytes were used and more are needed;
 *         WS_EPROTO    the length is not minimally encoded or the 64-bit
 *                      length has its most significant bit set
 *                      (RFC 6455 §5.2); the parser must be re-initialised;
 *         APR_EINVAL   the parser is in the payload or error state.
 */
apr_status_t ws_frame_parse_hdr(ws_frame_parser_t *fp, const char *data,
                                apr_size_t len, apr_size_t *pconsumed);

/** Payload bytes of the current frame that have not been read yet; 0
 *  unless the parser is in the payload state. */
apr_uint64_t ws_frame_payload_left(const ws_frame_parser_t *fp);

/**
 * Read payload bytes of the current frame: copy min(@a len, bytes left)
 * bytes from @a src to @a dst and unmask them if the frame is masked.
 * When the last payload byte has been read, the parser is ready for the
 * next header.
 * @param dst  where the payload goes; may equal @a src, must not
 *             otherwise overlap it
 * @return the number of bytes read from @a src
 */
apr_size_t ws_frame_read_payload(ws_frame_parser_t *fp, char *dst,
                                 const char *src, apr_size_t len);

/**
 * Write the header @a hdr into @a buf, which has room for WS_MAX_HDR_LEN
 * bytes, with the minimal length encoding. The masking key is written
 * only if hdr->masked (a server never masks, RFC 6455 §5.1; tests build
 * client frames with it).
 * @return the number of bytes written (2 to WS_MAX_HDR_LEN)
 */
apr_size_t ws_frame_write_hdr(char *buf, const ws_frame_hdr_t *hdr);

/**
 * Mask or unmask (the same operation, RFC 6455 §5.3) @a len bytes.
 * Works a 64-bit word at a time; bytes are handled one by one only to
 * reach an aligned destination and for the tail.
 * @param dst     output; may equal @a src, must not otherwise overlap it
 * @param src     input
 * @param len     number of bytes
 * @param key     the 4-byte masking key
 * @param offset  position of src[0] within the frame's payload, so that a
 *                payload arriving in pieces is unmasked piece by piece
 */
void ws_frame_mask(char *dst, const char *src, apr_size_t len,
                   const unsigned char *key, apr_uint64_t offset);

#endif /* WS_FRAME_H */

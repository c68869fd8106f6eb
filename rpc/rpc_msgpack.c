/* rpc_msgpack.c - a bounds-checking walk over untrusted msgpack bytes before they are decoded */
#include "rpc_request.h"

/* The walk is iterative: left[d] counts the objects still to read in the container open at
 * depth d (depth 0 is the single top-level object). Every declared length and count is checked
 * against the bytes that remain before it is believed, so a few bytes claiming 2^32 elements
 * are rejected at their header; nothing is allocated. */

/* What a header byte announces. */
typedef struct mp_head {
    uint8_t size_bytes; /* length/count bytes that follow the type byte (big-endian) */
    uint8_t fixed;      /* payload bytes after those (ext: the type byte; scalars: the value) */
    uint8_t kind;       /* MP_SCALAR, MP_BYTES (length-prefixed payload), MP_ARRAY, MP_MAP */
    uint8_t inline_n;   /* fix* types: the length or count carried in the type byte */
} mp_head;

enum { MP_BAD, MP_SCALAR, MP_BYTES, MP_ARRAY, MP_MAP };

static mp_head mp_fix(uint8_t kind, uint8_t n)
{
    mp_head h = {0, 0, kind, n};
    return h;
}

static mp_head mp_sized(uint8_t kind, uint8_t size_bytes, uint8_t fixed)
{
    mp_head h = {size_bytes, fixed, kind, 0};
    return h;
}

/* Classify one type byte (the msgpack spec's format table). */
static mp_head mp_classify(uint8_t b)
{
    if (b <= 0x7f || b >= 0xe0) /* positive / negative fixint */
        return mp_fix(MP_SCALAR, 0);
    if (b <= 0x8f)
        return mp_fix(MP_MAP, (uint8_t)(b & 0x0f));
    if (b <= 0x9f)
        return mp_fix(MP_ARRAY, (uint8_t)(b & 0x0f));
    if (b <= 0xbf)
        return mp_fix(MP_BYTES, (uint8_t)(b & 0x1f));
    switch (b) {
    case 0xc0: /* nil */
    case 0xc2: /* false */
    case 0xc3: /* true */
        return mp_fix(MP_SCALAR, 0);
    case 0xc4: /* bin 8/16/32 */
    case 0xd9: /* str 8/16/32 */
        return mp_sized(MP_BYTES, 1, 0);
    case 0xc5:
    case 0xda:
        return mp_sized(MP_BYTES, 2, 0);
    case 0xc6:
    case 0xdb:
        return mp_sized(MP_BYTES, 4, 0);
    case 0xc7: /* ext 8/16/32: length, then a type byte, then the data */
        return mp_sized(MP_BYTES, 1, 1);
    case 0xc8:
        return mp_sized(MP_BYTES, 2, 1);
    case 0xc9:
        return mp_sized(MP_BYTES, 4, 1);
    case 0xca: /* float 32/64 */
        return mp_sized(MP_SCALAR, 0, 4);
    case 0xcb:
        return mp_sized(MP_SCALAR, 0, 8);
    case 0xcc: /* uint / int 8..64 */
    case 0xd0:
        return mp_sized(MP_SCALAR, 0, 1);
    case 0xcd:
    case 0xd1:
        return mp_sized(MP_SCALAR, 0, 2);
    case 0xce:
    case 0xd2:
        return mp_sized(MP_SCALAR, 0, 4);
    case 0xcf:
    case 0xd3:
        return mp_sized(MP_SCALAR, 0, 8);
    case 0xd4: /* fixext 1/2/4/8/16: a type byte and the data */
        return mp_sized(MP_SCALAR, 0, 2);
    case 0xd5:
        return mp_sized(MP_SCALAR, 0, 3);
    case 0xd6:
        return mp_sized(MP_SCALAR, 0, 5);
    case 0xd7:
        return mp_sized(MP_SCALAR, 0, 9);
    case 0xd8:
        return mp_sized(MP_SCALAR, 0, 17);
    case 0xdc: /* array 16/32 */
        return mp_sized(MP_ARRAY, 2, 0);
    case 0xdd:
        return mp_sized(MP_ARRAY, 4, 0);
    case 0xde: /* map 16/32 */
        return mp_sized(MP_MAP, 2, 0);
    case 0xdf:
        return mp_sized(MP_MAP, 4, 0);
    default: /* 0xc1: never used */
        return mp_fix(MP_BAD, 0);
    }
}

/* Read one object's header at buf[*pos]; advance *pos past the header and, for scalars and
 * byte strings, past the payload. Out: *count: elements that follow for arrays and maps
 * (keys and values counted separately), 0 otherwise. Returns: the kind, or MP_BAD. */
static int mp_step(const uint8_t *buf, size_t len, size_t *pos, uint64_t *count)
{
    size_t p = *pos;
    mp_head h = mp_classify(buf[p++]);
    uint64_t n = h.inline_n;
    *count = 0;
    if (h.kind == MP_BAD || len - p < h.size_bytes)
        return MP_BAD;
    if (h.size_bytes > 0) {
        n = 0;
        for (unsigned i = 0; i < h.size_bytes; i++)
            n = n << 8 | buf[p++];
    }
    if (len - p < h.fixed)
        return MP_BAD;
    p += h.fixed;
    if (h.kind == MP_BYTES) {
        if (len - p < n)
            return MP_BAD;
        p += (size_t)n;
    } else if (h.kind == MP_ARRAY || h.kind == MP_MAP) {
        if (h.kind == MP_MAP)
            n *= 2;      /* at most 2 * (2^32 - 1): no overflow */
        if (n > len - p) /* every element takes at least one byte */
            return MP_BAD;
        *count = n;
    }
    *pos = p;
    return h.kind;
}

int rpc_msgpack_check(const uint8_t *buf, size_t len)
{
    uint64_t left[RPC_DEPTH_MAX + 1];
    unsigned depth = 0, objects = 0;
    size_t pos = 0;
    if (buf == NULL)
        return LEDGER_MALFORMED;
    left[0] = 1;
    for (;;) {
        while (depth > 0 && left[depth] == 0)
            depth--;
        if (left[depth] == 0)
            break; /* depth 0: the top-level object is complete */
        if (pos >= len || ++objects > RPC_OBJECTS_MAX)
            return LEDGER_MALFORMED;
        left[depth]--;
        uint64_t count;
        int kind = mp_step(buf, len, &pos, &count);
        if (kind == MP_BAD)
            return LEDGER_MALFORMED;
        if (kind == MP_ARRAY || kind == MP_MAP) {
            if (depth + 1 > RPC_DEPTH_MAX) /* also an empty container: it is still nested */
                return LEDGER_MALFORMED;
            left[++depth] = count;
        }
    }
    return pos == len ? LEDGER_OK : LEDGER_MALFORMED;
}

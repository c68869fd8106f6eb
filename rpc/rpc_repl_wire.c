/* rpc_repl_wire.c - encode and check replication stream messages (all integers big-endian) */
#include "rpc_repl_wire.h"

#include <string.h>

static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

size_t repl_msg_genesis(uint8_t *out, const uint8_t *genesis, size_t len)
{
    out[0] = REPL_WIRE_VERSION;
    out[1] = REPL_WIRE_GENESIS;
    put_be(out + 2, len, 4);
    memcpy(out + 6, genesis, len);
    return 6 + len;
}

size_t repl_msg_head(uint8_t *out, uint64_t first_seq, uint32_t part, bool final,
                     uint64_t part_first, uint32_t count, const uint8_t *chain, size_t chain_len)
{
    out[0] = REPL_WIRE_VERSION;
    out[1] = REPL_WIRE_RECORDS;
    put_be(out + 2, first_seq, 8);
    put_be(out + 10, part, 4);
    out[14] = final ? 1 : 0;
    put_be(out + 15, part_first, 8);
    put_be(out + 23, count, 4);
    out[27] = 0; /* reserved */
    put_be(out + REPL_WIRE_HEAD, chain_len, 2);
    if (chain_len > 0)
        memcpy(out + REPL_WIRE_HEAD + 2, chain, chain_len);
    return REPL_WIRE_HEAD + 2 + chain_len;
}

size_t repl_msg_record(uint8_t *out, const uint8_t *rec, size_t len)
{
    put_be(out, len, 4);
    memcpy(out + 4, rec, len);
    return 4 + len;
}

/* Every record's length is inside the message and there are exactly count of them. */
static int records_check(const repl_msg *m)
{
    size_t at = 0, seen = 0;
    const uint8_t *rec;
    size_t n;
    while (repl_msg_next(m, &at, &rec, &n))
        seen++;
    return seen == m->count && at == m->records_len ? 0 : -1;
}

int repl_msg_decode(repl_msg *m, const uint8_t *in, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len < 2 || in[0] != REPL_WIRE_VERSION)
        return -1;
    m->type = in[1];
    if (m->type == REPL_WIRE_GENESIS) {
        if (len < 6 || get_be(in + 2, 4) != len - 6 || len == 6)
            return -1;
        m->genesis = in + 6;
        m->genesis_len = len - 6;
        return 0;
    }
    if (m->type != REPL_WIRE_RECORDS || len < REPL_WIRE_HEAD + 2 || in[14] > 1 || in[27] != 0)
        return -1;
    m->first_seq = get_be(in + 2, 8);
    m->part = (uint32_t)get_be(in + 10, 4);
    m->final = in[14] == 1;
    m->part_first = get_be(in + 15, 8);
    m->count = (uint32_t)get_be(in + 23, 4);
    m->chain_len = (size_t)get_be(in + REPL_WIRE_HEAD, 2);
    size_t body = REPL_WIRE_HEAD + 2 + m->chain_len;
    if (m->chain_len > REPL_CHAIN_MAX || (!m->final && m->chain_len > 0) || body > len ||
        m->first_seq == 0 || m->part_first < m->first_seq || m->count == 0 ||
        m->part_first > UINT64_MAX - m->count)
        return -1;
    m->chain = in + REPL_WIRE_HEAD + 2;
    m->records = in + body;
    m->records_len = len - body;
    return records_check(m);
}

bool repl_msg_next(const repl_msg *m, size_t *at, const uint8_t **rec, size_t *rec_len)
{
    if (*at + 4 > m->records_len)
        return false;
    uint64_t n = get_be(m->records + *at, 4);
    if (n == 0 || n > m->records_len - *at - 4)
        return false;
    *rec = m->records + *at + 4;
    *rec_len = (size_t)n;
    *at += 4 + (size_t)n;
    return true;
}

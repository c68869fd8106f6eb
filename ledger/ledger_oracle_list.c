/* ledger_oracle_list.c - reads of the oracle committee: members, pending votes, agreement */
#include "ledger_internal.h"

int ledger_read_oracle_member(ledger_store *st, const uint8_t key[LEDGER_KEY_SIZE],
                              ledger_oracle_member *out)
{
    const uint8_t *v;
    size_t n;
    int rc = st->get(st->self, LEDGER_T_ORACLE_MEMBER, key, LEDGER_KEY_SIZE, &v, &n);
    if (rc != 0)
        return rc;
    rc = record_member_decode(out, v, n);
    memcpy(out->key, key, LEDGER_KEY_SIZE);
    return rc;
}

int ledger_list_oracle_members(ledger_store *st, ledger_oracle_member *out, size_t max, size_t *n)
{
    uint8_t cur[LEDGER_KEY_SIZE];
    size_t cur_len = 0;
    *n = 0;
    while (*n < max) {
        const uint8_t *k, *v;
        size_t kn, vn;
        int rc = st->next(st->self, LEDGER_T_ORACLE_MEMBER, cur, cur_len, &k, &kn, &v, &vn);
        if (rc == LEDGER_STORE_NOTFOUND)
            return LEDGER_OK;
        if (rc != 0)
            return rc;
        if (kn != LEDGER_KEY_SIZE || record_member_decode(&out[*n], v, vn) != LEDGER_OK)
            return LEDGER_STORE_CORRUPT;
        memcpy(out[*n].key, k, LEDGER_KEY_SIZE);
        memcpy(cur, k, LEDGER_KEY_SIZE);
        cur_len = LEDGER_KEY_SIZE;
        (*n)++;
    }
    return LEDGER_OK;
}

int ledger_list_votes(ledger_store *st, uint64_t operator_id, ledger_vote *out, size_t max,
                      size_t *n)
{
    uint8_t cur[40];
    size_t cur_len = 8;
    be64_put(cur, operator_id);
    *n = 0;
    while (*n < max) {
        const uint8_t *k, *v;
        size_t kn, vn;
        int rc = st->next(st->self, LEDGER_T_ORACLE_VOTE, cur, cur_len, &k, &kn, &v, &vn);
        if (rc == LEDGER_STORE_NOTFOUND)
            return LEDGER_OK;
        if (rc != 0)
            return rc;
        if (kn < 8 || be64_get(k) != operator_id)
            return LEDGER_OK;
        if (kn != 40 || record_vote_decode(&out[*n], v, vn) != LEDGER_OK)
            return LEDGER_STORE_CORRUPT;
        out[*n].operator_id = operator_id;
        memcpy(out[*n].member, k + 8, LEDGER_KEY_SIZE);
        memcpy(cur, k, 40);
        cur_len = 40;
        (*n)++;
    }
    return LEDGER_OK;
}

int ledger_next_voted_operator(ledger_store *st, uint64_t after, uint64_t *operator_id)
{
    uint8_t cur[40];
    const uint8_t *k, *v;
    size_t kn, vn;
    be64_put(cur, after); /* after every vote for operator `after`: its last member key or more */
    memset(cur + 8, 0xff, LEDGER_KEY_SIZE);
    int rc = st->next(st->self, LEDGER_T_ORACLE_VOTE, cur, sizeof cur, &k, &kn, &v, &vn);
    if (rc != 0)
        return rc;
    if (kn != 40)
        return LEDGER_STORE_CORRUPT;
    *operator_id = be64_get(k);
    return *operator_id > after ? LEDGER_OK : LEDGER_STORE_CORRUPT;
}

uint64_t ledger_oracle_recent_differed(const ledger_oracle_member *m, uint64_t last)
{
    uint64_t k = last < m->recent_count ? last : m->recent_count, n = 0;
    uint64_t mask = k >= 64 ? m->recent_mask : m->recent_mask & (((uint64_t)1 << k) - 1);
    for (; mask != 0; mask &= mask - 1)
        n++;
    return n;
}

/* rpc_oracle_events.c - quorums and disagreements noted at apply time, encoded as events */
#include "rpc_oracle_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_reply.h"

int rpc_oracle_prior_read(ledger_store *view, const ledger_tx *tx, rpc_oracle_prior *prior)
{
    prior->n = 0;
    if (tx->kind != LEDGER_TX_VOTE)
        return LEDGER_OK;
    return ledger_list_votes(view, tx->id, prior->v, LEDGER_ORACLE_MEMBERS_MAX, &prior->n);
}

static int note_push(rpc_oracle_notes *notes, const rpc_oracle_note *n)
{
    if (notes->n == notes->cap) {
        size_t cap = notes->cap ? notes->cap * 2 : 4;
        rpc_oracle_note *g = realloc(notes->v, cap * sizeof *g);
        if (g == NULL)
            return -1;
        notes->v = g;
        notes->cap = cap;
    }
    notes->v[notes->n++] = *n;
    return 0;
}

int rpc_oracle_note_vote(rpc_oracle_notes *notes, const ledger_tx *tx, const ledger_result *res,
                         const ledger_pool *after, const rpc_oracle_prior *prior)
{
    static _Thread_local rpc_oracle_note n;
    bool held = res->code == LEDGER_REPORT_APR_EXCEEDED || res->code == LEDGER_REPORT_DROP_EXCEEDED;
    if (tx->kind != LEDGER_TX_VOTE || res->duplicate || res->seq == 0 ||
        (res->code != LEDGER_OK && !held))
        return 0; /* refused before it was counted */
    memset(&n, 0, sizeof n);
    n.vote = (ledger_vote){tx->id, {0}, tx->limit, tx->amount, tx->extra, res->timestamp};
    memcpy(n.vote.member, tx->signer, LEDGER_KEY_SIZE);
    n.seq = res->seq;
    n.code = res->code;
    n.support = 1;
    n.quorum_needed = after->oracle_quorum;
    n.gain = held ? 0 : res->out[2];
    n.loss = held ? 0 : res->out[3];
    for (size_t i = 0; i < prior->n; i++) {
        const ledger_vote *v = &prior->v[i];
        if (v->epoch != tx->limit || memcmp(v->member, tx->signer, LEDGER_KEY_SIZE) == 0)
            continue; /* another epoch, or the vote this one replaces */
        if (v->balance == tx->amount && v->performance_bps == tx->extra)
            n.support++;
        else
            n.others[n.nothers++] = *v;
    }
    n.quorum = held || n.support >= n.quorum_needed;
    if (n.quorum && note_push(notes, &n) != 0)
        return -1;
    if (n.nothers == 0)
        return 0;
    n.quorum = false;
    return note_push(notes, &n);
}

/* {seq, time, operator_id, epoch, member, balance, performance_bps}: the vote (7 pairs). */
static int pack_vote(msgpack_packer *pk, const rpc_oracle_note *n)
{
    return rpc_pack_u64(pk, "seq", n->seq) || rpc_pack_u64(pk, "time", n->vote.time) ||
           rpc_pack_u64(pk, "operator_id", n->vote.operator_id) ||
           rpc_pack_u64(pk, "epoch", n->vote.epoch) ||
           rpc_pack_bin(pk, "member", n->vote.member, LEDGER_KEY_SIZE) ||
           rpc_pack_u64(pk, "balance", n->vote.balance) ||
           rpc_pack_u64(pk, "performance_bps", n->vote.performance_bps);
}

/* quorum: the vote, support, quorum, code (OK: booked; or the hold), gain, loss (12 pairs).
 * disagree: the vote and others [{member, balance, performance_bps}] (8 pairs). */
static int pack_note(msgpack_packer *pk, const rpc_oracle_note *n)
{
    if (n->quorum)
        return msgpack_pack_map(pk, 12) || pack_vote(pk, n) ||
               rpc_pack_u64(pk, "support", n->support) ||
               rpc_pack_u64(pk, "quorum", n->quorum_needed) ||
               rpc_pack_str(pk, "code", ledger_err_name(n->code)) ||
               rpc_pack_u64(pk, "gain", n->gain) || rpc_pack_u64(pk, "loss", n->loss);
    if (msgpack_pack_map(pk, 8) || pack_vote(pk, n) || rpc_pack_key(pk, "others") ||
        msgpack_pack_array(pk, (uint32_t)n->nothers))
        return -1;
    for (size_t i = 0; i < n->nothers; i++)
        if (msgpack_pack_map(pk, 3) ||
            rpc_pack_bin(pk, "member", n->others[i].member, LEDGER_KEY_SIZE) ||
            rpc_pack_u64(pk, "balance", n->others[i].balance) ||
            rpc_pack_u64(pk, "performance_bps", n->others[i].performance_bps))
            return -1;
    return 0;
}

int rpc_oracle_events_encode(const rpc_oracle_notes *notes,
                             int (*emit)(void *ctx, const char *topic,
                                         const msgpack_sbuffer *payload),
                             void *ctx)
{
    msgpack_sbuffer buf;
    msgpack_packer pk;
    int rc = 0;
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    for (size_t i = 0; rc == 0 && i < notes->n; i++) {
        const rpc_oracle_note *n = &notes->v[i];
        char topic[64];
        msgpack_sbuffer_clear(&buf);
        snprintf(topic, sizeof topic, "oracle/%s/%llu/", n->quorum ? "quorum" : "disagree",
                 (unsigned long long)n->vote.operator_id);
        rc = pack_note(&pk, n) != 0 ? -1 : emit(ctx, topic, &buf);
    }
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

void rpc_oracle_notes_clear(rpc_oracle_notes *notes)
{
    notes->n = 0;
}

void rpc_oracle_notes_free(rpc_oracle_notes *notes)
{
    free(notes->v);
    notes->v = NULL;
    notes->n = notes->cap = 0;
}

/* rpc_repl_publish.c - the leader's publisher on the store's log thread, and stepping down */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "rpc_log.h"
#include "rpc_repl_internal.h"
#include "rpc_repl_wire.h"

/* ---- publishing (the store's log thread) ---------------------------------------------------- */

/* Whether the stream's message at seq carries msg_id: an earlier attempt of ours that was
 * stored although its acknowledgement was lost. */
static bool stored_as(rpc_repl *r, uint64_t seq, const char *msg_id)
{
    natsMsg *m = NULL;
    const char *id = NULL;
    bool same = js_GetMsg(&m, r->js, r->stream, seq, NULL, NULL) == NATS_OK &&
                natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id != NULL &&
                strcmp(id, msg_id) == 0;
    natsMsg_Destroy(m);
    return same;
}

/* The leader lost the stream or the lease: step down, once (diverged: stop instead). */
void repl_fence(rpc_repl *r, const char *why, bool diverged)
{
    char q[512];
    pthread_mutex_lock(&r->lock);
    bool said = r->fenced_said;
    r->role = RPC_REPL_FENCED;
    r->fenced_said = true;
    r->st.role = RPC_REPL_FENCED;
    snprintf(r->st.problem, sizeof r->st.problem, "%.250s", why);
    pthread_mutex_unlock(&r->lock);
    if (said)
        return;
    rpc_log(RPC_LOG_WARN, "stepped_down", " node=%s msg=%s", r->node,
            rpc_log_quote(q, sizeof q, why));
    repl_wake(r);
    if (r->on_stop != NULL)
        r->on_stop(r->stop_ctx, diverged);
}

/* Publish one message expecting the stream to end at expect. Out: *seq (its sequence).
 * Returns: 0, LEDGER_NOT_LEADER (another replica extended the stream: fenced) or
 * LEDGER_NO_QUORUM (no acknowledgement and the store is stopping). */
int repl_publish_one(rpc_repl *r, const uint8_t *data, size_t len, uint64_t expect,
                     const char *msg_id, uint64_t *seq)
{
    uint64_t t0 = repl_now_ms();
    for (unsigned attempt = 0;; attempt++) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = msg_id;
        po.MaxWait = API_WAIT_MS;
        jsPubAck *ack = NULL;
        jsErrCode jerr = 0;
        natsMsg *m = NULL;
        char last[24];
        snprintf(last, sizeof last, "%" PRIu64, expect);
        /* set by hand: libnats omits an expected last sequence of 0 (the genesis) */
        natsStatus s = natsMsg_Create(&m, r->subject, NULL, (const char *)data, (int)len);
        if (s == NATS_OK)
            s = natsMsgHeader_Set(m, "Nats-Expected-Last-Sequence", last);
        if (s == NATS_OK)
            s = js_PublishMsg(&ack, r->js, m, &po, &jerr);
        natsMsg_Destroy(m);
        uint64_t got = ack != NULL ? ack->Sequence : 0;
        jsPubAck_Destroy(ack);
        if (s == NATS_OK && got == expect + 1) {
            *seq = got;
            pthread_mutex_lock(&r->lock);
            r->stall_since_ms = 0;
            r->st.publish_retries += attempt;
            pthread_mutex_unlock(&r->lock);
            if (attempt > 0)
                repl_problem_clear(r);
            return 0;
        }
        if ((s == NATS_OK || jerr == JSStreamWrongLastSequenceErr) &&
            stored_as(r, expect + 1, msg_id)) {
            *seq = expect + 1; /* ours: an earlier attempt was stored */
            return 0;
        }
        if (s == NATS_OK || jerr == JSStreamWrongLastSequenceErr) {
            char why[200];
            snprintf(why, sizeof why,
                     "another replica extended the stream after sequence %" PRIu64
                     " (this one is no longer the leader)",
                     expect);
            repl_fence(r, why, false);
            return LEDGER_NOT_LEADER;
        }
        char why[300];
        snprintf(why, sizeof why, "publishing to the stream fails: %s (code %d); retrying",
                 repl_nats_why(s), (int)jerr);
        repl_problem(r, "replication_stalled", why);
        pthread_mutex_lock(&r->lock);
        if (r->stall_since_ms == 0)
            r->stall_since_ms = t0;
        bool fenced = r->role == RPC_REPL_FENCED;
        pthread_mutex_unlock(&r->lock);
        if (fenced)
            return LEDGER_NOT_LEADER;
        if (atomic_load(&r->shutdown))
            return LEDGER_NO_QUORUM;
        repl_sleep_ms(RETRY_MS);
    }
}

/* Publish records [from, to) of u as one part. Returns: as publish_one. */
static int publish_part(rpc_repl *r, const store_db_unit *u, uint64_t from, uint64_t to,
                        uint32_t part, bool final, uint8_t *buf, uint64_t *seq)
{
    size_t at = repl_msg_head(buf, u->first_seq, part, final, u->first_seq + from,
                              (uint32_t)(to - from), u->chain, final ? u->chain_len : 0);
    for (uint64_t i = from; i < to; i++)
        at += repl_msg_record(buf + at, u->rec + u->off[i], u->off[i + 1] - u->off[i]);
    char id[RPC_PATH_MAX + 64];
    pthread_mutex_lock(&r->lock);
    uint64_t expect = r->last_seq, rev = r->lease_rev;
    pthread_mutex_unlock(&r->lock);
    snprintf(id, sizeof id, "%s/%" PRIu64 "/%" PRIu64 "/%" PRIu32, r->node, rev, u->first_seq,
             part);
    int rc = repl_publish_one(r, buf, at, expect, id, seq);
    if (rc == 0) {
        pthread_mutex_lock(&r->lock);
        r->last_seq = *seq;
        r->st.applied = r->st.stream_last = *seq;
        r->st.published++;
        pthread_mutex_unlock(&r->lock);
    }
    return rc;
}

/* The record bytes a part may carry: the server's payload limit less the head. */
static size_t part_room(rpc_repl *r)
{
    int64_t room = r->max_payload - (int64_t)(REPL_WIRE_HEAD + 2 + REPL_CHAIN_MAX + 64);
    return room > 4096 ? (size_t)room : 4096;
}

/* Publish the batch u in parts of at most the server's payload. Out: *position (the last
 * part's sequence). Returns: as publish_one, or LEDGER_NO_MEMORY. */
int repl_publish_unit(rpc_repl *r, const store_db_unit *u, uint64_t *position)
{
    size_t room = part_room(r);
    uint8_t *buf = malloc(room + REPL_WIRE_HEAD + 2 + REPL_CHAIN_MAX + 64);
    if (buf == NULL)
        return LEDGER_NO_MEMORY;
    int rc = 0;
    uint32_t part = 0;
    for (uint64_t from = 0; rc == 0 && from < u->n; part++) {
        uint64_t to = from;
        size_t bytes = 0;
        while (to < u->n && (to == from || bytes + 4 + (u->off[to + 1] - u->off[to]) <= room))
            bytes += 4 + (u->off[to + 1] - u->off[to]), to++;
        if (bytes > room) { /* one record larger than a message: cannot happen (64 KiB) */
            rc = LEDGER_INTERNAL;
            break;
        }
        rc = publish_part(r, u, from, to, part, to == u->n, buf, position);
        from = to;
    }
    free(buf);
    return rc;
}

/* The store's replicator: every batch the leader sequenced, published before its commit. */
int repl_replicate(void *ctx, const store_db_unit *u, uint64_t *position)
{
    rpc_repl *r = ctx;
    pthread_mutex_lock(&r->lock);
    rpc_repl_role role = r->role;
    uint64_t lead_from = r->lead_from;
    pthread_mutex_unlock(&r->lock);
    if (role != RPC_REPL_LEADER || u->first_seq < lead_from)
        return role == RPC_REPL_FENCED && u->first_seq >= lead_from && lead_from != 0
                   ? LEDGER_NOT_LEADER
                   : 0; /* a followed batch: the stream has it */
    uint64_t t0 = repl_now_us();
    int rc = repl_publish_unit(r, u, position);
    pthread_mutex_lock(&r->lock);
    r->st.publish_us_total += repl_now_us() - t0;
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* rpc_repl_thread.c - the replication thread: following the stream, keeping the lease */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "rpc_log.h"
#include "rpc_repl_internal.h"
#include "rpc_repl_wire.h"

/* ---- following (the replication thread) ----------------------------------------------------- */

void repl_unit_free(rpc_repl_unit *u)
{
    if (u == NULL)
        return;
    free(u->rec);
    free(u->off);
    free(u);
}

/* Append one part's records to the batch being built. Returns: 0 or -1 (no memory). */
static int unit_add(rpc_repl_unit *u, const repl_msg *m)
{
    size_t at = 0, n;
    const uint8_t *rec;
    if (u->n + m->count + 1 > u->off_cap) {
        size_t cap = (u->n + m->count + 1) * 2;
        size_t *off = realloc(u->off, cap * sizeof *off);
        if (off == NULL)
            return -1;
        u->off = off;
        u->off_cap = cap;
    }
    if (u->len + m->records_len > u->cap) {
        size_t cap = (u->len + m->records_len) * 2;
        uint8_t *b = realloc(u->rec, cap);
        if (b == NULL)
            return -1;
        u->rec = b;
        u->cap = cap;
    }
    u->off[0] = 0;
    while (repl_msg_next(m, &at, &rec, &n)) {
        memcpy(u->rec + u->len, rec, n);
        u->len += n;
        u->off[++u->n] = u->len;
    }
    return 0;
}

/* Hand a finished batch to the sequencer, waiting while the inbox is full. */
static void inbox_push(rpc_repl *r, rpc_repl_unit *u)
{
    pthread_mutex_lock(&r->lock);
    if (r->role == RPC_REPL_LEADER) { /* another replica extended the stream after ours */
        pthread_mutex_unlock(&r->lock);
        repl_unit_free(u);
        repl_fence(r, "another replica extended the stream (this one is no longer the leader)",
                   false);
        return;
    }
    while (r->in_bytes > INBOX_BYTES_MAX && !atomic_load(&r->quit))
        pthread_cond_wait(&r->cv, &r->lock);
    if (r->in_tail != NULL)
        r->in_tail->next = u;
    else
        r->in_head = u;
    r->in_tail = u;
    r->in_bytes += u->len;
    pthread_mutex_unlock(&r->lock);
    repl_wake(r);
}

/* A message the stream holds at seq that lstd did not write: this replica cannot follow. */
static void unfollowable(rpc_repl *r, uint64_t seq, const char *what)
{
    char why[300];
    snprintf(why, sizeof why, "stream %s message %" PRIu64 ": %s; this replica stops following",
             r->stream, seq, what);
    rpc_log(RPC_LOG_ERROR, "replication_failed", " msg=\"%s\"", why);
    repl_fence(r, why, true);
}

/* One message off the stream: the genesis (checked), or a part of a batch. A part 0 starts a
 * batch (a batch left unfinished by a leader that died is dropped: it was never committed). */
static void take_msg(rpc_repl *r, uint64_t seq, const uint8_t *data, size_t len)
{
    repl_msg m;
    if (repl_msg_decode(&m, data, len) != 0) {
        unfollowable(r, seq, "not a message lstd writes");
        return;
    }
    if (m.type == REPL_WIRE_GENESIS) {
        if (m.genesis_len != r->genesis_len || memcmp(m.genesis, r->genesis, r->genesis_len) != 0) {
            unfollowable(r, seq, "a genesis other than this ledger's");
            return;
        }
        pthread_mutex_lock(&r->lock);
        if (r->st.applied < seq) /* nothing to apply: this ledger holds it */
            r->st.applied = seq;
        pthread_mutex_unlock(&r->lock);
        return;
    }
    if (m.part == 0) {
        repl_unit_free(r->building);
        r->building = calloc(1, sizeof *r->building);
        if (r->building == NULL) {
            unfollowable(r, seq, "no memory for the batch");
            return;
        }
        r->building->first_seq = m.first_seq;
        r->building_part = 0;
    }
    rpc_repl_unit *u = r->building;
    if (u == NULL || m.part != r->building_part || m.first_seq != u->first_seq ||
        m.part_first != u->first_seq + u->n) {
        repl_unit_free(r->building); /* a part of a batch whose beginning was never seen */
        r->building = NULL;
        return;
    }
    if (unit_add(u, &m) != 0) {
        unfollowable(r, seq, "no memory for the batch");
        return;
    }
    r->building_part++;
    if (!m.final)
        return;
    memcpy(u->chain, m.chain, m.chain_len);
    u->chain_len = m.chain_len;
    u->position = seq;
    r->building = NULL;
    inbox_push(r, u);
}

static void subscribe_from(rpc_repl *r, uint64_t seq)
{
    jsSubOptions so;
    jsErrCode jerr = 0;
    jsSubOptions_Init(&so);
    so.Stream = r->stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = seq;
    if (r->sub != NULL)
        natsSubscription_Destroy(r->sub);
    r->sub = NULL;
    natsStatus s = js_SubscribeSync(&r->sub, r->js, r->subject, NULL, &so, &jerr);
    if (s != NATS_OK) {
        char why[300];
        snprintf(why, sizeof why, "cannot consume the stream: %s (code %d); retrying",
                 repl_nats_why(s), (int)jerr);
        repl_problem(r, "replication_stalled", why);
        r->sub = NULL;
        repl_sleep_ms(RETRY_MS);
        return;
    }
    r->next_stream_seq = seq;
}

/* Wait up to wait_ms for the next message and take it. */
static void follow_step(rpc_repl *r, int64_t wait_ms)
{
    if (r->sub == NULL) {
        subscribe_from(r, r->next_stream_seq);
        return;
    }
    natsMsg *m = NULL;
    jsMsgMetaData *meta = NULL;
    natsStatus s = natsSubscription_NextMsg(&m, r->sub, wait_ms);
    if (s == NATS_TIMEOUT)
        return;
    if (s != NATS_OK || natsMsg_GetMetaData(&meta, m) != NATS_OK) {
        natsMsg_Destroy(m);
        subscribe_from(r, r->next_stream_seq); /* a lost consumer: again from where we are */
        return;
    }
    uint64_t seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    if (seq != r->next_stream_seq) { /* the ordered consumer restarted elsewhere */
        natsMsg_Destroy(m);
        subscribe_from(r, r->next_stream_seq);
        return;
    }
    take_msg(r, seq, (const uint8_t *)natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
    natsMsg_Destroy(m);
    r->next_stream_seq = seq + 1;
    pthread_mutex_lock(&r->lock);
    r->consumed = seq;
    if (r->st.stream_last < seq)
        r->st.stream_last = seq;
    pthread_mutex_unlock(&r->lock);
    repl_wake(r);
}

/* ---- the lease ------------------------------------------------------------------------------- */

/* Read the lease: holder and endpoint for NOT_LEADER hints. Out: *rev. Returns: 2 held by this
 * replica, 1 held by another, 0 free, -1 unknown (NATS did not answer). */
static int lease_read(rpc_repl *r, uint64_t *rev)
{
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, r->kv, LEASE_KEY);
    if (s == NATS_NOT_FOUND)
        return 0;
    if (s != NATS_OK)
        return -1;
    const char *v = kvEntry_ValueString(e);
    const char *nl = v != NULL ? strchr(v, '\n') : NULL;
    pthread_mutex_lock(&r->lock);
    if (nl != NULL) {
        snprintf(r->st.lease_holder, sizeof r->st.lease_holder, "%.*s", (int)(nl - v), v);
        snprintf(r->st.leader, sizeof r->st.leader, "%s", nl + 1);
    }
    pthread_mutex_unlock(&r->lock);
    bool ours = v != NULL && strcmp(v, r->lease_value) == 0;
    *rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    return ours ? 2 : 1;
}

/* The stream's first and last sequence (first 0: empty). Returns: 0, or -1 (no answer). */
int repl_stream_state(rpc_repl *r, uint64_t *first, uint64_t *last)
{
    jsStreamInfo *si = NULL;
    if (js_GetStreamInfo(&si, r->js, r->stream, NULL, NULL) != NATS_OK)
        return -1;
    *first = si->State.Msgs > 0 ? si->State.FirstSeq : 0;
    *last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    pthread_mutex_lock(&r->lock);
    r->st.stream_last = *last;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* A follower takes a free lease when it has consumed the whole stream. */
static void lease_try(rpc_repl *r)
{
    uint64_t rev = 0, first, last;
    if (repl_stream_state(r, &first, &last) != 0 || lease_read(r, &rev) != 0)
        return;
    pthread_mutex_lock(&r->lock);
    bool caught_up = r->consumed >= last && r->in_head == NULL && r->taken == 0;
    pthread_mutex_unlock(&r->lock);
    if (!caught_up)
        return;
    if (kvStore_Create(&rev, r->kv, LEASE_KEY, r->lease_value, (int)strlen(r->lease_value)) !=
        NATS_OK)
        return; /* another replica was faster */
    if (repl_stream_state(r, &first, &last) != 0)
        last = UINT64_MAX; /* unknown: lead only once it is known (the next renewal) */
    pthread_mutex_lock(&r->lock);
    r->lease_rev = rev;
    r->target = last;
    r->role = RPC_REPL_CANDIDATE;
    r->st.role = RPC_REPL_CANDIDATE;
    pthread_mutex_unlock(&r->lock);
    rpc_log(RPC_LOG_INFO, "lease_taken",
            " node=%s stream_last=%" PRIu64 " msg=\"applying the stream to its end, then leading\"",
            r->node, last);
    repl_wake(r);
}

/* The holder renews the lease by revision; losing it to another replica fences this one. */
static void lease_renew(rpc_repl *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t rev = r->lease_rev;
    pthread_mutex_unlock(&r->lock);
    uint64_t next = 0;
    natsStatus s =
        kvStore_Update(&next, r->kv, LEASE_KEY, r->lease_value, (int)strlen(r->lease_value), rev);
    if (s == NATS_OK) {
        pthread_mutex_lock(&r->lock);
        r->lease_rev = next;
        pthread_mutex_unlock(&r->lock);
        return;
    }
    uint64_t now_rev = 0;
    int held = lease_read(r, &now_rev);
    if (held == 2) { /* ours: the update was done but its answer lost */
        pthread_mutex_lock(&r->lock);
        r->lease_rev = now_rev;
        pthread_mutex_unlock(&r->lock);
    } else if (held == 1)
        repl_fence(r, "the lease is held by another replica", false);
    else if (held == 0 && kvStore_Create(&next, r->kv, LEASE_KEY, r->lease_value,
                                         (int)strlen(r->lease_value)) == NATS_OK) {
        pthread_mutex_lock(&r->lock); /* it expired unrenewed and nobody took it */
        r->lease_rev = next;
        pthread_mutex_unlock(&r->lock);
    }
}

/* Since when this follower has been behind the stream, from what the tick and the consumer
 * last saw of it (no request of its own). */
static void lag_tick(rpc_repl *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->st.applied >= r->st.stream_last)
        r->behind_since_ms = 0;
    else if (r->behind_since_ms == 0)
        r->behind_since_ms = repl_now_ms();
    pthread_mutex_unlock(&r->lock);
}

/* One turn of the lease: a follower tries to take it (reading the stream's end and the
 * holder for NOT_LEADER hints), a holder renews it; then the lag. */
static void lease_tick(rpc_repl *r)
{
    pthread_mutex_lock(&r->lock);
    rpc_repl_role role = r->role;
    pthread_mutex_unlock(&r->lock);
    if (role == RPC_REPL_FOLLOWER)
        lease_try(r);
    else if (role == RPC_REPL_CANDIDATE || role == RPC_REPL_LEADER)
        lease_renew(r);
    if (role == RPC_REPL_CANDIDATE)
        repl_wake(r); /* the sequencer checks whether it may lead now */
    uint64_t first, last;
    pthread_mutex_lock(&r->lock);
    bool unknown = r->role == RPC_REPL_CANDIDATE && r->target == UINT64_MAX;
    pthread_mutex_unlock(&r->lock);
    if (unknown && repl_stream_state(r, &first, &last) == 0) {
        pthread_mutex_lock(&r->lock);
        r->target = last;
        pthread_mutex_unlock(&r->lock);
        repl_wake(r);
    }
    if (role != RPC_REPL_LEADER)
        lag_tick(r);
}

void *repl_main(void *arg)
{
    rpc_repl *r = arg;
    uint64_t every = r->lease_ms / 3 > 50 ? r->lease_ms / 3 : 50, next_tick = 0;
    while (!atomic_load(&r->quit)) {
        pthread_mutex_lock(&r->lock);
        rpc_repl_role role = r->role;
        pthread_mutex_unlock(&r->lock);
        if (repl_now_ms() >= next_tick) {
            lease_tick(r);
            next_tick = repl_now_ms() + every;
        }
        if (role == RPC_REPL_FOLLOWER || role == RPC_REPL_CANDIDATE)
            follow_step(r, 50);
        else {
            if (r->sub != NULL) { /* leading: the stream is ours to extend, not to read */
                natsSubscription_Destroy(r->sub);
                r->sub = NULL;
            }
            repl_sleep_ms(50);
        }
    }
    return NULL;
}

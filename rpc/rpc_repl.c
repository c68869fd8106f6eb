/* rpc_repl.c - the replication thread, the publisher on the log thread, the lease, join */
#include "rpc_repl.h"

#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "rpc_log.h"
#include "rpc_repl_wire.h"

#define LEASE_KEY "leader"
#define API_WAIT_MS 2000            /* a JetStream request (publish, info, get) */
#define RETRY_MS 100                /* between attempts of a failing publish */
#define STALL_REFUSE_MS 1000        /* publishing failing this long: transactions get NO_QUORUM */
#define INBOX_BYTES_MAX (64u << 20) /* batches waiting for the sequencer (follower) */
#define HISTORY_UNIT 4096           /* records per batch when the history is first published */
#define DUPLICATE_WINDOW_NS (120ll * 1000000000ll)

struct rpc_repl {
    natsConnection *nc;
    jsCtx *js;
    kvStore *kv;
    char stream[64], subject[96], bucket[80], lease_value[2 * RPC_PATH_MAX + 2];
    char node[RPC_PATH_MAX], ledger_id[LEDGER_ID_MAX + 1];
    uint64_t lease_ms;
    int replicas;
    int64_t max_payload;
    store_db *db;
    uint8_t genesis[LEDGER_GENESIS_BYTES_MAX];
    size_t genesis_len;
    void (*on_stop)(void *ctx, bool diverged);
    void *stop_ctx;
    void (*wake)(void *ctx);
    void *wake_ctx;
    pthread_t thread;
    bool started;
    atomic_bool quit, shutdown;
    pthread_mutex_t lock;
    pthread_mutex_t wake_lock; /* wake and wake_ctx; held while wake runs */
    pthread_cond_t cv;
    /* under lock */
    rpc_repl_role role;
    bool fenced_said;
    uint64_t lease_rev;
    uint64_t consumed;  /* stream sequence of the last message taken off the stream */
    uint64_t last_seq;  /* leader: the stream's last sequence (its last publish) */
    uint64_t lead_from; /* leader: the first record seq it publishes (earlier: followed) */
    uint64_t target;    /* candidate: the stream's last sequence when the lease was taken */
    uint64_t taken;     /* units handed to the sequencer and not done yet */
    uint64_t behind_since_ms;
    uint64_t stall_since_ms;
    rpc_repl_unit *in_head, *in_tail;
    size_t in_bytes;
    rpc_repl_status st;
    /* the replication thread's */
    natsSubscription *sub;
    uint64_t next_stream_seq;
    rpc_repl_unit *building;
    uint32_t building_part;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static const char *nats_why(natsStatus s)
{
    const char *t = nats_GetLastError(NULL);
    return t != NULL && t[0] != '\0' ? t : natsStatus_GetText(s);
}

/* Note a problem for health and the log (once per distinct text). */
static void problem(rpc_repl *r, const char *event, const char *text)
{
    char q[512];
    pthread_mutex_lock(&r->lock);
    bool same = strcmp(r->st.problem, text) == 0;
    snprintf(r->st.problem, sizeof r->st.problem, "%.250s", text);
    pthread_mutex_unlock(&r->lock);
    if (!same)
        rpc_log(RPC_LOG_WARN, event, " msg=%s", rpc_log_quote(q, sizeof q, text));
}

static void problem_clear(rpc_repl *r)
{
    pthread_mutex_lock(&r->lock);
    r->st.problem[0] = '\0';
    pthread_mutex_unlock(&r->lock);
}

void rpc_repl_stream_name(char *out, size_t size, const char *ledger_id)
{
    size_t n = (size_t)snprintf(out, size, "LSTD_%s", ledger_id);
    for (size_t i = 5; i < n && i < size; i++) {
        char c = out[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        out[i] = ok ? c : '_';
    }
}

static void wake(rpc_repl *r)
{
    pthread_mutex_lock(&r->wake_lock);
    if (r->wake != NULL)
        r->wake(r->wake_ctx);
    pthread_mutex_unlock(&r->wake_lock);
}

/* ---- connecting ------------------------------------------------------------------------------ */

/* Split "nats://a,nats://b" into servers. Returns: how many (0: none, or too many). */
static int split_urls(char *list, const char **urls, int max)
{
    int n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (n == max)
            return 0;
        urls[n++] = t;
    }
    return n;
}

static int connect_nats(rpc_repl *r, const char *urls_in, char *msg, size_t size)
{
    char list[RPC_PATH_MAX];
    const char *urls[16];
    natsOptions *o = NULL;
    snprintf(list, sizeof list, "%s", urls_in);
    int n = split_urls(list, urls, 16);
    natsStatus s = n > 0 ? natsOptions_Create(&o) : NATS_INVALID_ARG;
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, urls, n);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1); /* forever: the lease decides, not the socket */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, 100);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, API_WAIT_MS);
    if (s == NATS_OK)
        s = natsOptions_SetName(o, r->node);
    if (s == NATS_OK)
        s = natsConnection_Connect(&r->nc, o);
    natsOptions_Destroy(o);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = API_WAIT_MS;
    if (s == NATS_OK)
        s = natsConnection_JetStream(&r->js, r->nc, &jo);
    if (s != NATS_OK) {
        snprintf(msg, size, "cannot connect to the NATS servers %s: %s", urls_in, nats_why(s));
        return -1;
    }
    r->max_payload = natsConnection_GetMaxPayload(r->nc);
    return 0;
}

/* The stream of the ledger: found, or created (R = replicas, file storage, no limits, no
 * deletes or purges). */
static int ensure_stream(rpc_repl *r, char *msg, size_t size)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, r->js, r->stream, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    jsStreamConfig sc;
    const char *subjects[1] = {r->subject};
    jsStreamConfig_Init(&sc);
    sc.Name = r->stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = r->replicas;
    sc.Duplicates = DUPLICATE_WINDOW_NS;
    sc.DenyDelete = true;
    sc.DenyPurge = true;
    s = js_AddStream(&si, r->js, &sc, NULL, &jerr);
    if (s != NATS_OK) {
        snprintf(msg, size, "cannot create the JetStream stream %s (replicas %d): %s (code %d)",
                 r->stream, r->replicas, nats_why(s), (int)jerr);
        return -1;
    }
    jsStreamInfo_Destroy(si);
    return 0;
}

static int ensure_bucket(rpc_repl *r, char *msg, size_t size)
{
    natsStatus s = js_KeyValue(&r->kv, r->js, r->bucket);
    if (s == NATS_OK)
        return 0;
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = r->bucket;
    kc.History = 1;
    kc.TTL = (int64_t)r->lease_ms * 1000000; /* nanoseconds */
    kc.Replicas = r->replicas;
    kc.StorageType = js_FileStorage;
    s = js_CreateKeyValue(&r->kv, r->js, &kc);
    char why[256];
    snprintf(why, sizeof why, "%s", nats_why(s));
    if (s != NATS_OK)
        s = js_KeyValue(&r->kv, r->js, r->bucket); /* another replica made it meanwhile */
    if (s != NATS_OK) {
        snprintf(msg, size, "cannot create the lease bucket %s: %s", r->bucket, why);
        return -1;
    }
    return 0;
}

static void names(rpc_repl *r, const char *ledger_id)
{
    snprintf(r->ledger_id, sizeof r->ledger_id, "%s", ledger_id);
    rpc_repl_stream_name(r->stream, sizeof r->stream, ledger_id);
    snprintf(r->subject, sizeof r->subject, "lstd.%s.log", r->stream + 5);
    snprintf(r->bucket, sizeof r->bucket, "%s_lease", r->stream);
}

static void repl_free(rpc_repl *r)
{
    if (r == NULL)
        return;
    if (r->sub != NULL)
        natsSubscription_Destroy(r->sub);
    kvStore_Destroy(r->kv);
    jsCtx_Destroy(r->js);
    natsConnection_Destroy(r->nc);
    for (rpc_repl_unit *u = r->in_head, *next; u != NULL; u = next) {
        next = u->next;
        free(u->rec);
        free(u->off);
        free(u);
    }
    if (r->building != NULL) {
        free(r->building->rec);
        free(r->building->off);
        free(r->building);
    }
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->wake_lock);
    pthread_cond_destroy(&r->cv);
    free(r);
}

int rpc_repl_open(rpc_repl **out, const rpc_config *cfg, const char *ledger_id, char *msg,
                  size_t msg_size)
{
    *out = NULL;
    rpc_repl *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(msg, msg_size, "no memory");
        return -1;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->wake_lock, NULL);
    pthread_cond_init(&r->cv, NULL);
    names(r, ledger_id);
    snprintf(r->node, sizeof r->node, "%s", cfg->node[0] != '\0' ? cfg->node : cfg->advertise);
    snprintf(r->lease_value, sizeof r->lease_value, "%s\n%s", r->node, cfg->advertise);
    r->lease_ms = cfg->lease_ms;
    r->replicas = (int)cfg->replicas;
    r->role = RPC_REPL_FOLLOWER;
    snprintf(r->st.node, sizeof r->st.node, "%s", r->node);
    snprintf(r->st.stream, sizeof r->st.stream, "%s", r->stream);
    if (connect_nats(r, cfg->replicate, msg, msg_size) != 0 ||
        ensure_stream(r, msg, msg_size) != 0 || ensure_bucket(r, msg, msg_size) != 0) {
        repl_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

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
static void fence(rpc_repl *r, const char *why, bool diverged)
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
    wake(r);
    if (r->on_stop != NULL)
        r->on_stop(r->stop_ctx, diverged);
}

/* Publish one message expecting the stream to end at expect. Out: *seq (its sequence).
 * Returns: 0, LEDGER_NOT_LEADER (another replica extended the stream: fenced) or
 * LEDGER_NO_QUORUM (no acknowledgement and the store is stopping). */
static int publish_one(rpc_repl *r, const uint8_t *data, size_t len, uint64_t expect,
                       const char *msg_id, uint64_t *seq)
{
    uint64_t t0 = now_ms();
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
                problem_clear(r);
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
            fence(r, why, false);
            return LEDGER_NOT_LEADER;
        }
        char why[300];
        snprintf(why, sizeof why, "publishing to the stream fails: %s (code %d); retrying",
                 nats_why(s), (int)jerr);
        problem(r, "replication_stalled", why);
        pthread_mutex_lock(&r->lock);
        if (r->stall_since_ms == 0)
            r->stall_since_ms = t0;
        bool fenced = r->role == RPC_REPL_FENCED;
        pthread_mutex_unlock(&r->lock);
        if (fenced)
            return LEDGER_NOT_LEADER;
        if (atomic_load(&r->shutdown))
            return LEDGER_NO_QUORUM;
        sleep_ms(RETRY_MS);
    }
}

/* Publish records [from, to) of u as one part. Returns: as publish_one. */
static int publish_part(rpc_repl *r, const store_db_unit *u, uint64_t from, uint64_t to,
                        uint32_t part, bool final, uint8_t *buf, uint64_t *seq)
{
    size_t at = repl_msg_head(buf, u->first_seq, part, final, u->first_seq + from,
                              (uint32_t)(to - from), u->chain, final ? u->chain_len : 0);
    for (uint64_t i = from; i < to; i++) {
        size_t n = u->off[i + 1] - u->off[i];
        for (unsigned b = 0; b < 4; b++)
            buf[at + b] = (uint8_t)(n >> (8 * (3 - b)));
        memcpy(buf + at + 4, u->rec + u->off[i], n);
        at += 4 + n;
    }
    char id[RPC_PATH_MAX + 64];
    pthread_mutex_lock(&r->lock);
    uint64_t expect = r->last_seq, rev = r->lease_rev;
    pthread_mutex_unlock(&r->lock);
    snprintf(id, sizeof id, "%s/%" PRIu64 "/%" PRIu64 "/%" PRIu32, r->node, rev, u->first_seq,
             part);
    int rc = publish_one(r, buf, at, expect, id, seq);
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
static int publish_unit(rpc_repl *r, const store_db_unit *u, uint64_t *position)
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
static int replicate(void *ctx, const store_db_unit *u, uint64_t *position)
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
    uint64_t t0 = now_us();
    int rc = publish_unit(r, u, position);
    pthread_mutex_lock(&r->lock);
    r->st.publish_us_total += now_us() - t0;
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* ---- following (the replication thread) ----------------------------------------------------- */

static void unit_free(rpc_repl_unit *u)
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
    while (r->in_bytes > INBOX_BYTES_MAX && !atomic_load(&r->quit))
        pthread_cond_wait(&r->cv, &r->lock);
    if (r->in_tail != NULL)
        r->in_tail->next = u;
    else
        r->in_head = u;
    r->in_tail = u;
    r->in_bytes += u->len;
    pthread_mutex_unlock(&r->lock);
    wake(r);
}

/* A message the stream holds at seq that lstd did not write: this replica cannot follow. */
static void unfollowable(rpc_repl *r, uint64_t seq, const char *what)
{
    char why[300];
    snprintf(why, sizeof why, "stream %s message %" PRIu64 ": %s; this replica stops following",
             r->stream, seq, what);
    rpc_log(RPC_LOG_ERROR, "replication_failed", " msg=\"%s\"", why);
    fence(r, why, true);
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
        return;
    }
    if (m.part == 0) {
        unit_free(r->building);
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
        unit_free(r->building); /* a part of a batch whose beginning was never seen */
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
        snprintf(why, sizeof why, "cannot consume the stream: %s (code %d); retrying", nats_why(s),
                 (int)jerr);
        problem(r, "replication_stalled", why);
        r->sub = NULL;
        sleep_ms(RETRY_MS);
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
    pthread_mutex_unlock(&r->lock);
    wake(r);
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

static uint64_t stream_last(rpc_repl *r)
{
    jsStreamInfo *si = NULL;
    if (js_GetStreamInfo(&si, r->js, r->stream, NULL, NULL) != NATS_OK)
        return 0;
    uint64_t last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    pthread_mutex_lock(&r->lock);
    r->st.stream_last = last;
    pthread_mutex_unlock(&r->lock);
    return last;
}

/* A follower takes a free lease when it has consumed the whole stream. */
static void lease_try(rpc_repl *r)
{
    uint64_t rev = 0, last = stream_last(r);
    if (lease_read(r, &rev) != 0)
        return;
    pthread_mutex_lock(&r->lock);
    bool caught_up = r->consumed >= last && r->in_head == NULL && r->taken == 0;
    pthread_mutex_unlock(&r->lock);
    if (!caught_up)
        return;
    if (kvStore_Create(&rev, r->kv, LEASE_KEY, r->lease_value, (int)strlen(r->lease_value)) !=
        NATS_OK)
        return; /* another replica was faster */
    last = stream_last(r);
    pthread_mutex_lock(&r->lock);
    r->lease_rev = rev;
    r->target = last;
    r->role = RPC_REPL_CANDIDATE;
    r->st.role = RPC_REPL_CANDIDATE;
    pthread_mutex_unlock(&r->lock);
    rpc_log(RPC_LOG_INFO, "lease_taken",
            " node=%s stream_last=%" PRIu64 " msg=\"applying the stream to its end, then leading\"",
            r->node, last);
    wake(r);
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
        fence(r, "the lease is held by another replica", false);
    else if (held == 0 && kvStore_Create(&next, r->kv, LEASE_KEY, r->lease_value,
                                         (int)strlen(r->lease_value)) == NATS_OK) {
        pthread_mutex_lock(&r->lock); /* it expired unrenewed and nobody took it */
        r->lease_rev = next;
        pthread_mutex_unlock(&r->lock);
    }
}

static void lease_tick(rpc_repl *r)
{
    pthread_mutex_lock(&r->lock);
    rpc_repl_role role = r->role;
    pthread_mutex_unlock(&r->lock);
    if (role == RPC_REPL_FOLLOWER)
        lease_try(r);
    else if (role == RPC_REPL_CANDIDATE || role == RPC_REPL_LEADER)
        lease_renew(r);
    if (role != RPC_REPL_LEADER) {
        uint64_t rev, last = stream_last(r);
        if (role == RPC_REPL_FOLLOWER)
            (void)lease_read(r, &rev);
        pthread_mutex_lock(&r->lock);
        bool behind = r->st.applied < last;
        if (!behind)
            r->behind_since_ms = 0;
        else if (r->behind_since_ms == 0)
            r->behind_since_ms = now_ms();
        pthread_mutex_unlock(&r->lock);
    }
}

static void *repl_main(void *arg)
{
    rpc_repl *r = arg;
    uint64_t every = r->lease_ms / 3 > 50 ? r->lease_ms / 3 : 50, next_tick = 0;
    while (!atomic_load(&r->quit)) {
        pthread_mutex_lock(&r->lock);
        rpc_repl_role role = r->role;
        pthread_mutex_unlock(&r->lock);
        if (now_ms() >= next_tick) {
            lease_tick(r);
            next_tick = now_ms() + every;
        }
        if (role == RPC_REPL_FOLLOWER || role == RPC_REPL_CANDIDATE)
            follow_step(r, 50);
        else {
            if (r->sub != NULL) { /* leading: the stream is ours to extend, not to read */
                natsSubscription_Destroy(r->sub);
                r->sub = NULL;
            }
            sleep_ms(50);
        }
    }
    return NULL;
}

/* ---- a store over bytes: a batch's records, a genesis ---------------------------------------- */

typedef struct bytes_view {
    const rpc_repl_unit *u;
    const uint8_t *genesis;
    size_t genesis_len;
} bytes_view;

static int bytes_get(void *self, unsigned table, const uint8_t *key, size_t key_len,
                     const uint8_t **val, size_t *val_len)
{
    const bytes_view *b = self;
    if (table == LEDGER_T_META && key_len == 1 && key[0] == 1 && b->genesis != NULL) {
        *val = b->genesis;
        *val_len = b->genesis_len;
        return 0;
    }
    if (table != LEDGER_T_HISTORY || key_len != 8 || b->u == NULL)
        return LEDGER_STORE_NOTFOUND;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | key[i];
    if (seq < b->u->first_seq || seq - b->u->first_seq >= b->u->n)
        return LEDGER_STORE_NOTFOUND;
    uint64_t i = seq - b->u->first_seq;
    *val = b->u->rec + b->u->off[i];
    *val_len = b->u->off[i + 1] - b->u->off[i];
    return 0;
}

static ledger_store bytes_store(bytes_view *b)
{
    return (ledger_store){.self = b, .get = bytes_get};
}

int rpc_repl_unit_record(const rpc_repl_unit *u, uint64_t seq, ledger_record *out)
{
    bytes_view b = {.u = u};
    ledger_store st = bytes_store(&b);
    return ledger_read_record(&st, seq, out);
}

/* ---- attaching, joining ---------------------------------------------------------------------- */

typedef struct position_set {
    store_db *db;
    uint64_t position;
} position_set;

static int position_fn(void *ctx, ledger_store *view)
{
    position_set *p = ctx;
    (void)view;
    store_db_set_position(p->db, p->position);
    return 0;
}

/* An empty stream: the genesis, then every record db holds, in batches of whole ledger
 * batches (the last with the chain record), so a replica can start from nothing. */
static int bootstrap(rpc_repl *r, store_db *db, char *msg, size_t size)
{
    ledger_store *v = store_db_view(db);
    ledger_chain c;
    uint8_t g[6 + LEDGER_GENESIS_BYTES_MAX];
    uint64_t seq = 0;
    char id[RPC_PATH_MAX];
    snprintf(id, sizeof id, "genesis/%s", r->ledger_id);
    size_t n = repl_msg_genesis(g, r->genesis, r->genesis_len);
    if (ledger_read_chain(v, &c) != LEDGER_OK || publish_one(r, g, n, 0, id, &seq) != 0) {
        snprintf(msg, size, "cannot publish the genesis to the stream %s", r->stream);
        return -1;
    }
    pthread_mutex_lock(&r->lock);
    r->last_seq = seq;
    r->lease_rev = 0;
    pthread_mutex_unlock(&r->lock);
    const uint8_t ckey = 2, *chain;
    size_t chain_len;
    if (v->get(v->self, LEDGER_T_META, &ckey, 1, &chain, &chain_len) != 0)
        return snprintf(msg, size, "the ledger's chain record cannot be read"), -1;
    for (uint64_t from = 1; from < c.next_seq;) {
        uint64_t to = from, batch = 0;
        size_t *off = malloc((HISTORY_UNIT * 2 + 2) * sizeof *off), len = 0;
        uint8_t *rec = NULL;
        int rc = off == NULL ? -1 : 0;
        if (off != NULL)
            off[0] = 0;
        for (; rc == 0 && to < c.next_seq; to++) {
            ledger_record lr;
            uint8_t key[8];
            const uint8_t *val;
            size_t vn;
            for (int i = 0; i < 8; i++)
                key[i] = (uint8_t)(to >> (56 - 8 * i));
            if (ledger_read_record(v, to, &lr) != LEDGER_OK ||
                v->get(v->self, LEDGER_T_HISTORY, key, 8, &val, &vn) != 0) {
                rc = -1;
                break;
            }
            if (to - from >= HISTORY_UNIT && lr.result.batch != batch)
                break; /* a whole number of ledger batches per unit */
            if (to - from >= HISTORY_UNIT * 2) {
                rc = -1; /* a ledger batch of more than 2 units: cannot happen (65536) */
                break;
            }
            batch = lr.result.batch;
            uint8_t *grown = realloc(rec, len + vn);
            if (grown == NULL) {
                rc = -1;
                break;
            }
            rec = grown;
            memcpy(rec + len, val, vn);
            len += vn;
            off[to - from + 1] = len;
        }
        bool last = to == c.next_seq;
        store_db_unit u = {from, to - from, rec, off, last ? chain : NULL, last ? chain_len : 0};
        uint64_t position = 0;
        if (rc == 0)
            rc = publish_unit(r, &u, &position);
        free(rec);
        free(off);
        if (rc != 0)
            return snprintf(msg, size, "cannot publish the history to the stream %s", r->stream),
                   -1;
        from = to;
    }
    position_set ps = {db, r->last_seq};
    if (store_db_write(db, position_fn, &ps) != 0)
        return snprintf(msg, size, "cannot record the stream position in the log"), -1;
    rpc_log(RPC_LOG_INFO, "stream_created",
            " stream=%s records=%" PRIu64 " last=%" PRIu64
            " msg=\"published the genesis and the history; replicas may join\"",
            r->stream, c.next_seq - 1, r->last_seq);
    return 0;
}

/* db's position must be a batch of the stream ending where db's history ends. */
static int check_position(rpc_repl *r, store_db *db, uint64_t pos, char *msg, size_t size)
{
    ledger_chain c;
    ledger_store *v = store_db_view(db);
    natsMsg *m = NULL;
    repl_msg rm;
    rpc_repl_unit u = {0};
    ledger_record lr;
    size_t off[2] = {0, 0};
    int ok = ledger_read_chain(v, &c) == LEDGER_OK &&
             js_GetMsg(&m, r->js, r->stream, pos, NULL, NULL) == NATS_OK &&
             repl_msg_decode(&rm, (const uint8_t *)natsMsg_GetData(m),
                             (size_t)natsMsg_GetDataLength(m)) == 0 &&
             rm.type == REPL_WIRE_RECORDS && rm.final && rm.part_first + rm.count == c.next_seq;
    if (ok) { /* its last record is db's head */
        size_t at = 0, n = 0;
        const uint8_t *rec = NULL;
        for (uint32_t i = 0; i < rm.count; i++)
            (void)repl_msg_next(&rm, &at, &rec, &n);
        off[1] = n;
        u = (rpc_repl_unit){.first_seq = c.next_seq - 1, .n = 1, .rec = (uint8_t *)rec, .off = off};
        ok = rpc_repl_unit_record(&u, c.next_seq - 1, &lr) == LEDGER_OK &&
             memcmp(lr.hash, c.head, LEDGER_HASH_SIZE) == 0;
    }
    natsMsg_Destroy(m);
    if (!ok)
        snprintf(msg, size,
                 "this ledger's log says it holds stream %s up to message %" PRIu64
                 " but that message does not end at its head (seq %" PRIu64
                 "): not a replica of this stream",
                 r->stream, pos, c.next_seq - 1);
    return ok ? 0 : -1;
}

/* Where following starts. Returns: the next stream sequence, or 0 (msg). */
static uint64_t start_position(rpc_repl *r, store_db *db, char *msg, size_t size)
{
    ledger_chain c;
    uint64_t pos = store_db_position(db), last = stream_last(r);
    if (ledger_read_chain(store_db_view(db), &c) != LEDGER_OK)
        return snprintf(msg, size, "the ledger's chain cannot be read"), 0;
    if (last == 0)
        return bootstrap(r, db, msg, size) == 0 ? r->last_seq + 1 : 0;
    if (pos > last)
        return snprintf(msg, size,
                        "this ledger is ahead of stream %s (its log holds message %" PRIu64
                        ", the stream ends at %" PRIu64 "): not a replica of this stream",
                        r->stream, pos, last),
               0;
    if (pos == 0 && c.next_seq != 1)
        return snprintf(msg, size,
                        "this ledger has %" PRIu64 " records but was never part of stream %s, "
                        "which is not empty: a replica joins with `lstd init --join` into an "
                        "empty directory",
                        c.next_seq - 1, r->stream),
               0;
    if (pos == 0)
        return 1; /* the genesis message is checked as it is consumed */
    return check_position(r, db, pos, msg, size) == 0 ? pos + 1 : 0;
}

int rpc_repl_attach(rpc_repl *r, store_db *db, void (*on_stop)(void *ctx, bool diverged), void *ctx,
                    char *msg, size_t msg_size)
{
    ledger_store *v = store_db_view(db);
    const uint8_t gkey = 1, *g;
    size_t gn;
    if (v->get(v->self, LEDGER_T_META, &gkey, 1, &g, &gn) != 0 || gn > sizeof r->genesis)
        return snprintf(msg, msg_size, "the ledger's genesis cannot be read"), -1;
    memcpy(r->genesis, g, gn);
    r->genesis_len = gn;
    r->db = db;
    r->on_stop = on_stop;
    r->stop_ctx = ctx;
    uint64_t next = start_position(r, db, msg, msg_size);
    if (next == 0)
        return -1;
    r->next_stream_seq = next;
    pthread_mutex_lock(&r->lock);
    r->consumed = next - 1;
    r->st.applied = next - 1;
    pthread_mutex_unlock(&r->lock);
    store_db_set_replicator(db, replicate, r);
    if (pthread_create(&r->thread, NULL, repl_main, r) != 0)
        return snprintf(msg, msg_size, "cannot start the replication thread"), -1;
    r->started = true;
    return 0;
}

int rpc_repl_join(const rpc_config *cfg, const char *dir, char *msg, size_t msg_size)
{
    rpc_repl *r = NULL;
    natsMsg *m = NULL;
    repl_msg rm;
    ledger_genesis g;
    if (rpc_repl_open(&r, cfg, cfg->join, msg, msg_size) != 0)
        return -1;
    jsErrCode jerr = 0;
    natsStatus s = js_GetMsg(&m, r->js, r->stream, 1, NULL, &jerr);
    int rc = -1;
    if (s != NATS_OK)
        snprintf(msg, msg_size, "stream %s has no genesis message: %s (code %d)", r->stream,
                 nats_why(s), (int)jerr);
    else if (repl_msg_decode(&rm, (const uint8_t *)natsMsg_GetData(m),
                             (size_t)natsMsg_GetDataLength(m)) != 0 ||
             rm.type != REPL_WIRE_GENESIS)
        snprintf(msg, msg_size, "stream %s message 1 is not a genesis", r->stream);
    else {
        bytes_view b = {.genesis = rm.genesis, .genesis_len = rm.genesis_len};
        ledger_store st = bytes_store(&b);
        uint8_t again[LEDGER_GENESIS_BYTES_MAX];
        int lrc = ledger_genesis_read(&st, &g);
        size_t n = lrc == LEDGER_OK ? ledger_genesis_encode(again, sizeof again, &g) : 0;
        if (n != rm.genesis_len || memcmp(again, rm.genesis, n) != 0)
            snprintf(msg, msg_size, "stream %s's genesis does not decode", r->stream);
        else if (strcmp(g.ledger_id, cfg->join) != 0)
            snprintf(msg, msg_size, "stream %s holds ledger %s, not %s", r->stream, g.ledger_id,
                     cfg->join);
        else if ((lrc = store_db_create(dir, &g, NULL)) != LEDGER_OK)
            snprintf(msg, msg_size, "cannot create the ledger in %s (%s)", dir,
                     ledger_err_name(lrc));
        else
            rc = 0;
    }
    natsMsg_Destroy(m);
    repl_free(r);
    return rc;
}

/* ---- the sequencer's side -------------------------------------------------------------------- */

rpc_repl_role rpc_repl_role_now(rpc_repl *r)
{
    pthread_mutex_lock(&r->lock);
    rpc_repl_role role = r->role;
    pthread_mutex_unlock(&r->lock);
    return role;
}

bool rpc_repl_accepting(rpc_repl *r)
{
    pthread_mutex_lock(&r->lock);
    bool ok = r->role == RPC_REPL_LEADER &&
              (r->stall_since_ms == 0 || now_ms() - r->stall_since_ms < STALL_REFUSE_MS);
    pthread_mutex_unlock(&r->lock);
    return ok;
}

void rpc_repl_set_wake(rpc_repl *r, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&r->wake_lock);
    r->wake = fn;
    r->wake_ctx = ctx;
    pthread_mutex_unlock(&r->wake_lock);
    wake(r); /* whatever arrived before */
}

rpc_repl_unit *rpc_repl_take(rpc_repl *r)
{
    pthread_mutex_lock(&r->lock);
    rpc_repl_unit *u = r->in_head;
    if (u != NULL) {
        r->in_head = u->next;
        if (r->in_head == NULL)
            r->in_tail = NULL;
        r->in_bytes -= u->len;
        r->taken++;
        u->next = NULL;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->lock);
    return u;
}

void rpc_repl_unit_done(rpc_repl *r, rpc_repl_unit *u, int rc)
{
    pthread_mutex_lock(&r->lock);
    r->taken--;
    if (rc == 0)
        r->st.applied = u->position;
    pthread_mutex_unlock(&r->lock);
    if (rc != 0) {
        char why[300];
        snprintf(why, sizeof why,
                 "the batch of records %" PRIu64 "..%" PRIu64 " (stream %s message %" PRIu64
                 ") does not reproduce here (%s): this replica stops rather than diverge",
                 u->first_seq, u->first_seq + u->n - 1, r->stream, u->position,
                 ledger_err_name(rc));
        rpc_log(RPC_LOG_ERROR, "replication_diverged", " msg=\"%s\"", why);
        pthread_mutex_lock(&r->lock);
        r->role = RPC_REPL_FENCED;
        r->st.role = RPC_REPL_FENCED;
        snprintf(r->st.problem, sizeof r->st.problem, "%.250s", why);
        pthread_mutex_unlock(&r->lock);
        if (r->on_stop != NULL)
            r->on_stop(r->stop_ctx, true);
    }
    unit_free(u);
}

bool rpc_repl_promote(rpc_repl *r, uint64_t next_seq)
{
    pthread_mutex_lock(&r->lock);
    bool now = r->role == RPC_REPL_CANDIDATE && r->consumed >= r->target && r->in_head == NULL &&
               r->taken == 0 && r->building == NULL;
    if (now) {
        r->role = RPC_REPL_LEADER;
        r->st.role = RPC_REPL_LEADER;
        r->last_seq = r->consumed;
        r->lead_from = next_seq;
        r->behind_since_ms = 0;
        snprintf(r->st.lease_holder, sizeof r->st.lease_holder, "%s", r->node);
        const char *nl = strchr(r->lease_value, '\n');
        snprintf(r->st.leader, sizeof r->st.leader, "%s", nl != NULL ? nl + 1 : "");
    }
    bool leading = r->role == RPC_REPL_LEADER;
    uint64_t last = r->last_seq;
    pthread_mutex_unlock(&r->lock);
    if (now)
        rpc_log(RPC_LOG_INFO, "leading",
                " node=%s stream_last=%" PRIu64 " next_seq=%" PRIu64
                " msg=\"this replica sequences from now on\"",
                r->node, last, next_seq);
    return leading;
}

void rpc_repl_status_get(rpc_repl *r, rpc_repl_status *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->st;
    out->role = r->role;
    out->lag_ms = r->behind_since_ms != 0 ? now_ms() - r->behind_since_ms : 0;
    out->stalled_ms = r->stall_since_ms != 0 ? now_ms() - r->stall_since_ms : 0;
    pthread_mutex_unlock(&r->lock);
}

void rpc_repl_shutdown(rpc_repl *r)
{
    if (r != NULL)
        atomic_store(&r->shutdown, true);
}

void rpc_repl_close(rpc_repl **rp)
{
    rpc_repl *r = *rp;
    if (r == NULL)
        return;
    *rp = NULL;
    atomic_store(&r->quit, true);
    pthread_mutex_lock(&r->lock);
    pthread_cond_broadcast(&r->cv);
    bool held = r->role == RPC_REPL_LEADER || r->role == RPC_REPL_CANDIDATE;
    uint64_t rev = r->lease_rev;
    pthread_mutex_unlock(&r->lock);
    if (r->started)
        pthread_join(r->thread, NULL);
    if (held && r->kv != NULL) { /* give the lease back only if still ours */
        uint64_t next;
        if (kvStore_Update(&next, r->kv, LEASE_KEY, "", 0, rev) == NATS_OK)
            (void)kvStore_Delete(r->kv, LEASE_KEY);
    }
    repl_free(r);
}

/* rpc_repl.c - replication over NATS JetStream: connecting, attaching a ledger, joining */
#include "rpc_repl.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "rpc_log.h"
#include "rpc_repl_internal.h"
#include "rpc_repl_wire.h"

uint64_t repl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t repl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void repl_sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

const char *repl_nats_why(natsStatus s)
{
    const char *t = nats_GetLastError(NULL);
    return t != NULL && t[0] != '\0' ? t : natsStatus_GetText(s);
}

/* Note a problem for health and the log (once per distinct text). */
void repl_problem(rpc_repl *r, const char *event, const char *text)
{
    char q[512];
    pthread_mutex_lock(&r->lock);
    bool same = strcmp(r->st.problem, text) == 0;
    snprintf(r->st.problem, sizeof r->st.problem, "%.250s", text);
    pthread_mutex_unlock(&r->lock);
    if (!same)
        rpc_log(RPC_LOG_WARN, event, " msg=%s", rpc_log_quote(q, sizeof q, text));
}

void repl_problem_clear(rpc_repl *r)
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

void repl_wake(rpc_repl *r)
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
        snprintf(msg, size, "cannot connect to the NATS servers %s: %s", urls_in, repl_nats_why(s));
        natsConnection_Destroy(r->nc); /* tried again from the start */
        r->nc = NULL;
        return -1;
    }
    r->max_payload = natsConnection_GetMaxPayload(r->nc);
    return 0;
}

/* The stream of the ledger: found, or created (R = replicas, file storage, no limits, no
 * deletes or purges). */
static int ensure_stream(rpc_repl *r, bool create, char *msg, size_t size)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, r->js, r->stream, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (!create) {
        snprintf(msg, size, "no stream %s on these NATS servers: %s (code %d)", r->stream,
                 repl_nats_why(s), (int)jerr);
        return -1;
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
                 r->stream, r->replicas, repl_nats_why(s), (int)jerr);
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
    snprintf(why, sizeof why, "%s", repl_nats_why(s));
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

int rpc_repl_stop_signal(void)
{
    sigset_t set;
    if (sigpending(&set) != 0)
        return 0;
    return sigismember(&set, SIGTERM) == 1 ? SIGTERM : sigismember(&set, SIGINT) == 1 ? SIGINT : 0;
}

/* One turn of waiting for NATS: say why (at most once per START_WAIT_MS), then pause. */
static void wait_turn(uint64_t *said, const char *why)
{
    if (repl_now_ms() >= *said) {
        char q[600];
        rpc_log(RPC_LOG_WARN, "replication_waiting", " msg=%s", rpc_log_quote(q, sizeof q, why));
        *said = repl_now_ms() + START_WAIT_MS;
    }
    repl_sleep_ms(250);
}

/* Connect, then find (or with create, make) the stream and the lease bucket, trying again
 * while NATS is not reachable or JetStream not ready yet (servers started together with lstd
 * elect their meta leader first): for as long as it takes when serving (create; a replica
 * stepping down restarts while NATS may be out: exiting would help nobody), until a stop
 * signal; for START_WAIT_MS when joining. One log line every START_WAIT_MS.
 * Returns: 0, or -1 (msg). */
static int reach(rpc_repl *r, const char *urls, bool create, char *msg, size_t size)
{
    uint64_t end = repl_now_ms() + START_WAIT_MS, said = 0;
    for (;;) {
        if ((r->nc != NULL || connect_nats(r, urls, msg, size) == 0) &&
            ensure_stream(r, create, msg, size) == 0 &&
            (!create || ensure_bucket(r, msg, size) == 0))
            return 0;
        if ((!create && repl_now_ms() >= end) || rpc_repl_stop_signal() != 0)
            return -1;
        wait_turn(&said, msg);
    }
}

int rpc_repl_open(rpc_repl **out, const rpc_config *cfg, const char *ledger_id, bool create,
                  char *msg, size_t msg_size)
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
    if (reach(r, cfg->replicate, create, msg, msg_size) != 0) {
        repl_free(r);
        return -1;
    }
    *out = r;
    return 0;
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
    if (ledger_read_chain(v, &c) != LEDGER_OK || repl_publish_one(r, g, n, 0, id, &seq) != 0) {
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
            rc = repl_publish_unit(r, &u, &position);
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
static int check_position(rpc_repl *r, store_db *db, uint64_t pos, bool *again, char *msg,
                          size_t size)
{
    ledger_chain c;
    ledger_store *v = store_db_view(db);
    natsMsg *m = NULL;
    repl_msg rm;
    rpc_repl_unit u = {0};
    ledger_record lr;
    size_t off[2] = {0, 0};
    natsStatus got = NATS_ERR;
    int ok = ledger_read_chain(v, &c) == LEDGER_OK &&
             (got = js_GetMsg(&m, r->js, r->stream, pos, NULL, NULL)) == NATS_OK &&
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
    *again = !ok && got != NATS_OK && got != NATS_NOT_FOUND; /* NATS did not answer */
    if (*again)
        snprintf(msg, size, "stream %s message %" PRIu64 " cannot be read: %s", r->stream, pos,
                 repl_nats_why(got));
    else if (!ok)
        snprintf(msg, size,
                 "this ledger's log says it holds stream %s up to message %" PRIu64
                 " but that message does not end at its head (seq %" PRIu64
                 "): not a replica of this stream",
                 r->stream, pos, c.next_seq - 1);
    return ok ? 0 : -1;
}

/* Where following starts. Returns: the next stream sequence, or 0 (msg). */
static uint64_t start_position(rpc_repl *r, store_db *db, bool *again, char *msg, size_t size)
{
    ledger_chain c;
    uint64_t pos = store_db_position(db), first = 0, last = 0;
    *again = false;
    if (ledger_read_chain(store_db_view(db), &c) != LEDGER_OK)
        return snprintf(msg, size, "the ledger's chain cannot be read"), 0;
    if ((*again = repl_stream_state(r, &first, &last) != 0))
        return snprintf(msg, size, "the stream %s does not answer", r->stream), 0;
    if (last == 0)
        return bootstrap(r, db, msg, size) == 0 ? r->last_seq + 1 : 0;
    if (first > pos + 1)
        return snprintf(msg, size,
                        "stream %s no longer holds message %" PRIu64 " (it begins at %" PRIu64
                        "): restore this replica from a backup of a "
                        "replica that is further on (README.md, Replication)",
                        r->stream, pos + 1, first),
               0;
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
    return check_position(r, db, pos, again, msg, size) == 0 ? pos + 1 : 0;
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
    bool again;
    uint64_t next, said = 0; /* NATS not answering (servers restarting): again, until a stop */
    while ((next = start_position(r, db, &again, msg, msg_size)) == 0 && again &&
           rpc_repl_stop_signal() == 0)
        wait_turn(&said, msg);
    if (next == 0)
        return -1;
    r->next_stream_seq = next;
    pthread_mutex_lock(&r->lock);
    r->consumed = next - 1;
    r->st.applied = next - 1;
    pthread_mutex_unlock(&r->lock);
    store_db_set_replicator(db, repl_replicate, r);
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
    if (rpc_repl_open(&r, cfg, cfg->join, false, msg, msg_size) != 0)
        return -1;
    jsErrCode jerr = 0;
    natsStatus s = js_GetMsg(&m, r->js, r->stream, 1, NULL, &jerr);
    int rc = -1;
    if (s != NATS_OK)
        snprintf(msg, msg_size, "stream %s has no genesis message: %s (code %d)", r->stream,
                 repl_nats_why(s), (int)jerr);
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
              (r->stall_since_ms == 0 || repl_now_ms() - r->stall_since_ms < STALL_REFUSE_MS);
    pthread_mutex_unlock(&r->lock);
    return ok;
}

void rpc_repl_set_wake(rpc_repl *r, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&r->wake_lock);
    r->wake = fn;
    r->wake_ctx = ctx;
    pthread_mutex_unlock(&r->wake_lock);
    repl_wake(r); /* whatever arrived before */
}

rpc_repl_unit *rpc_repl_take(rpc_repl *r)
{
    pthread_mutex_lock(&r->lock);
    bool following = r->role == RPC_REPL_FOLLOWER || r->role == RPC_REPL_CANDIDATE;
    rpc_repl_unit *u = following ? r->in_head : NULL; /* leading or stepping down: not now */
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
    bool candidate = r->role == RPC_REPL_CANDIDATE;
    pthread_mutex_unlock(&r->lock);
    if (candidate) /* the last batch it waited for may be durable now: it may lead */
        repl_wake(r);
    if (rc != 0 && rc != LEDGER_STORE_CORRUPT) { /* not applied here for another reason */
        char why[200];
        snprintf(why, sizeof why, "a batch of the stream could not be applied here (%s)",
                 ledger_err_name(rc));
        repl_fence(r, why, false); /* a no-op when already stepping down */
    } else if (rc != 0) {
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
    repl_unit_free(u);
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
    out->lag_ms = r->behind_since_ms != 0 ? repl_now_ms() - r->behind_since_ms : 0;
    out->stalled_ms = r->stall_since_ms != 0 ? repl_now_ms() - r->stall_since_ms : 0;
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

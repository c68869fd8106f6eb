/* test_rpc_repl.c - three replicas over a 3-server NATS cluster: failover loses nothing acked */
#include <nats/nats.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "nats_harness.h"
#include "rpc_harness.h"
#include "rpc_repl.h"
#include "rpc_repl_wire.h"
#include "test_util.h"

#define REPLICAS 3
#define CONNS 3       /* the custodian's deposits, two users' transfers */
#define PER_CONN 4000 /* transactions signed per connection (more than any run needs) */
#define ACKED_MAX (CONNS * PER_CONN + 512)
#define REPLY_WAIT_MS 1500 /* no reply for this long: the replica is gone, find the leader */
#define LEASE_MS "1000"

/* A connection sending one signer's transactions in nonce order, one at a time, to the leader;
 * a transaction not acknowledged (no reply, NOT_LEADER, NO_QUORUM, ...) is sent again, the
 * same bytes, to whichever replica leads then. */
typedef struct conn {
    void *sock;
    int at; /* the replica it talks to */
    const rh_key *key;
    size_t next;  /* the transaction waiting for its acknowledgement */
    bool waiting; /* sent, no reply yet */
    bool moved;   /* answered NOT_LEADER: find the leader before sending again */
    uint64_t sent_ms, id;
    ledger_tx tx[PER_CONN];
    uint8_t hash[PER_CONN][32];
    msgpack_sbuffer buf[PER_CONN];
} conn;

static nats_cluster *nats;
static rh_server *rep[REPLICAS];
static char endpoints[REPLICAS][64], events[REPLICAS][64], metrics[REPLICAS][64];
static rh_key users[CONNS];
static conn cns[CONNS];
static rh_ack acks[ACKED_MAX]; /* every replica must hold each, at its seq, with its code */
static size_t nacks;
static test_rng rng;

/* A free TCP port on loopback (bound once, then released). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Replica i's flags: fixed endpoints (clients keep a list), the cluster, a short lease; a
 * replica joining (join != NULL) is made by `lstd init --join` from the stream. Its stderr
 * goes to DIR/err.log. */
static rh_server *prepare(int i, const char *join)
{
    char node[16];
    snprintf(node, sizeof node, "r%d", i);
    snprintf(endpoints[i], sizeof endpoints[i], "tcp://127.0.0.1:%d", free_port());
    snprintf(events[i], sizeof events[i], "tcp://127.0.0.1:%d", free_port());
    snprintf(metrics[i], sizeof metrics[i], "127.0.0.1:%d", free_port());
    const char *args[] = {"--endpoint",   endpoints[i],  "--events",
                          events[i],      "--replicate", nats_cluster_urls(nats),
                          "--node",       node,          "--lease-ms",
                          LEASE_MS,       "--metrics",   metrics[i],
                          "--durability", "sync",        join != NULL ? "--join" : NULL,
                          join,           NULL};
    rh_server *s = rh_prepare(args);
    s->production = join != NULL;
    snprintf(s->err_path, sizeof s->err_path, "%s/err.log", s->dir);
    return s;
}

/* Replica i's role from its health ("" when it does not answer). */
static void role_of(int i, char *role, size_t size, uint64_t *seq)
{
    role[0] = '\0';
    if (rep[i] == NULL || !rh_running(rep[i]))
        return;
    void *d = rh_socket_curve(ZMQ_DEALER, endpoints[i], NULL, NULL, NULL);
    rh_set_timeout(d, 1000);
    rh_reply r;
    rh_reply_init(&r);
    if (rh_query(d, &r, "health", NULL, 0) == 0) {
        const msgpack_object *h = rh_get_map(r.root, "result"),
                             *repl = rh_get_map(h, "replication");
        if (repl != NULL)
            rh_get_str(repl, "role", role, size);
        if (seq != NULL && !rh_get_uint(h, "seq", seq))
            *seq = 0;
    }
    rh_reply_free(&r);
    rh_close(d);
}

/* Replica i's metrics sample `name` (with its labels, e.g. `x{role="leader"}`), or -1. */
static double metric(int i, const char *name)
{
    char url[96];
    rh_http_reply h;
    double v = -1;
    snprintf(url, sizeof url, "http://%s/metrics", metrics[i]);
    if (rh_http(url, "GET", "/metrics", &h) != 0)
        return -1;
    size_t n = strlen(name);
    for (const char *l = h.body; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : l)
        if (strncmp(l, name, n) == 0 && l[n] == ' ')
            v = strtod(l + n + 1, NULL);
    rh_http_free(&h);
    return v;
}

/* The replica leading now, or -1. */
static int leader_now(void)
{
    for (int i = 0; i < REPLICAS; i++) {
        char role[32];
        role_of(i, role, sizeof role, NULL);
        if (strcmp(role, "leader") == 0)
            return i;
    }
    return -1;
}

static int wait_leader(unsigned timeout_ms)
{
    uint64_t end = rh_now_ms() + timeout_ms;
    int l;
    while ((l = leader_now()) < 0 && rh_now_ms() < end)
        usleep(50000);
    return l;
}

/* ---- load ------------------------------------------------------------------------------------ */

static ledger_tx make_tx(int c, size_t i)
{
    ledger_tx t;
    if (c == 0) {
        uint8_t ref[32] = {0};
        memcpy(ref, &i, sizeof i);
        ref[31] = 0x5e;
        t = rh_tx(LEDGER_TX_DEPOSIT);
        rh_tx_key(&t, "to", users[1 + i % (CONNS - 1)].pk);
        rh_tx_u64(&t, "amount", 1000000 + i);
        rh_tx_key(&t, "external_ref", ref);
        return t;
    }
    t = rh_tx(LEDGER_TX_TRANSFER);
    rh_tx_key(&t, "to", users[1 + (c % (CONNS - 1))].pk);
    rh_tx_u64(&t, "shares", 1 + i % 5);
    return t;
}

static void conn_point(conn *cn, int at)
{
    rh_close(cn->sock);
    cn->at = at;
    cn->sock = rh_socket_curve(ZMQ_DEALER, endpoints[at], NULL, NULL, NULL);
    cn->waiting = false;
}

/* A reply for the connection's waiting transaction: acknowledged when recorded. */
static void on_reply(conn *cn, const rh_reply *r)
{
    uint64_t id = 0;
    if (!rh_get_uint(r->root, "id", &id) || id != cn->id)
        return; /* an earlier attempt's, late */
    cn->waiting = false;
    if (!rh_ack_take(&acks[nacks], cn->hash[cn->next], r)) {
        /* NOT_LEADER, NO_QUORUM, BUSY, ...: sent again, after NOT_LEADER to the leader of the
         * moment (as the clients follow its hint: a follower would answer it forever) */
        cn->moved = rh_str_is(rh_get(r->root, "error"), "NOT_LEADER");
        return;
    }
    nacks++;
    cn->next++;
}

/* Send what waits, read what came; a connection without an answer for REPLY_WAIT_MS (or
 * answered without a record) goes to the leader of the moment. */
static void pump_step(void)
{
    zmq_pollitem_t p[CONNS];
    for (int c = 0; c < CONNS; c++) {
        conn *cn = &cns[c];
        if (cn->moved || (cn->waiting && rh_now_ms() - cn->sent_ms > REPLY_WAIT_MS)) {
            int l = leader_now();
            conn_point(cn, l >= 0 ? l : cn->at);
            cn->moved = false;
        }
        if (!cn->waiting && cn->next < PER_CONN && nacks < ACKED_MAX) {
            cn->id = rh_next_id();
            msgpack_sbuffer_clear(&cn->buf[cn->next]);
            uint8_t sig[64];
            rh_sign(rep[0], &cn->tx[cn->next], cn->key, cn->hash[cn->next], sig);
            rh_pack_tx(&cn->buf[cn->next], &cn->tx[cn->next], sig, cn->id, NULL, NULL);
            if (rh_send(cn->sock, cn->buf[cn->next].data, cn->buf[cn->next].size) == 0) {
                cn->waiting = true;
                cn->sent_ms = rh_now_ms();
            }
        }
        p[c] = (zmq_pollitem_t){cn->sock, 0, ZMQ_POLLIN, 0};
    }
    if (zmq_poll(p, CONNS, 20) <= 0)
        return;
    rh_reply r;
    rh_reply_init(&r);
    for (int c = 0; c < CONNS; c++)
        if (p[c].revents & ZMQ_POLLIN) {
            rh_set_timeout(cns[c].sock, 0);
            if (rh_recv(cns[c].sock, &r) == 0)
                on_reply(&cns[c], &r);
            rh_set_timeout(cns[c].sock, RH_RCVTIMEO_MS);
        }
    rh_reply_free(&r);
}

static void pump_ms(uint64_t ms)
{
    uint64_t end = rh_now_ms() + ms;
    while (rh_now_ms() < end)
        pump_step();
}

/* Every running replica's role and thread stacks (gdb, when installed): what a replica that
 * stopped answering was doing, for the record of a failed run. */
static void dump_replicas(const char *why)
{
    fprintf(stderr, "%s: the replicas now:\n", why);
    for (int i = 0; i < REPLICAS; i++) {
        char role[32], cmd[256];
        role_of(i, role, sizeof role, NULL);
        fprintf(stderr, "r%d: pid %d, role %s\n", i, rep[i] != NULL ? (int)rep[i]->pid : 0,
                role[0] != '\0' ? role : "(no answer)");
        if (rep[i] == NULL || !rh_running(rep[i]))
            continue;
        snprintf(cmd, sizeof cmd,
                 "command -v gdb >/dev/null && gdb -batch -p %d -ex 'thread apply all bt' 2>&1 | "
                 "grep -E '^(Thread|#)' >&2",
                 (int)rep[i]->pid);
        if (system(cmd) != 0)
            fprintf(stderr, "r%d: no stacks (gdb missing or refused)\n", i);
    }
}

/* Pump until `more` further acknowledgements, at most timeout_ms (on a timeout, say what the
 * replicas were doing). Returns: whether they came. */
static bool pump_acks(size_t more, uint64_t timeout_ms)
{
    size_t want = nacks + more;
    uint64_t end = rh_now_ms() + timeout_ms;
    while (nacks < want && rh_now_ms() < end)
        pump_step();
    if (nacks < want)
        dump_replicas("acknowledgements stopped coming");
    return nacks >= want;
}

/* Let every connection's waiting transaction be answered (or given up on). */
static void pump_drain(void)
{
    uint64_t end = rh_now_ms() + 10000;
    for (bool any = true; any && rh_now_ms() < end;) {
        pump_step();
        any = false;
        for (int c = 0; c < CONNS; c++)
            any = any || cns[c].waiting;
    }
}

/* ---- checks ---------------------------------------------------------------------------------- */

/* Every replica reaches the same seq, head and digest; every acknowledged transaction is on
 * each, at its seq, with its code. */
static void check_replicas(const char *when)
{
    uint8_t head[REPLICAS][32], digest[REPLICAS][32];
    uint64_t seqs[REPLICAS], end = rh_now_ms() + 20000;
    for (bool same = false; !same && rh_now_ms() < end;) {
        same = true;
        for (int i = 0; i < REPLICAS; i++) {
            char role[32];
            role_of(i, role, sizeof role, &seqs[i]);
            same = same && seqs[i] == seqs[0] && role[0] != '\0';
        }
        if (!same)
            usleep(50000);
    }
    size_t lost = 0;
    rh_reply r;
    rh_reply_init(&r);
    for (int i = 0; i < REPLICAS; i++) {
        void *d = rh_socket_curve(ZMQ_DEALER, endpoints[i], NULL, NULL, NULL);
        if (rh_query(d, &r, "pool", NULL, 0) == 0) {
            const msgpack_object *p = rh_get_map(r.root, "result");
            const uint8_t *h = rh_get_bin(p, "head", 32), *g = rh_get_bin(p, "digest", 32);
            CHECK(h != NULL && g != NULL);
            if (h != NULL && g != NULL)
                memcpy(head[i], h, 32), memcpy(digest[i], g, 32);
        }
        char label[96];
        snprintf(label, sizeof label, "%s, replica r%d", when, i);
        lost += rh_acks_missing(d, acks, nacks, label);
        rh_close(d);
    }
    rh_reply_free(&r);
    CHECK_U64(lost, 0);
    for (int i = 1; i < REPLICAS; i++) {
        CHECK_U64(seqs[i], seqs[0]);
        CHECK(memcmp(head[i], head[0], 32) == 0);
        CHECK(memcmp(digest[i], digest[0], 32) == 0);
    }
    printf("%s: %zu acknowledged, all on %d replicas at seq %llu with one head and digest\n", when,
           nacks, REPLICAS, (unsigned long long)seqs[0]);
}

/* ---- scenarios ------------------------------------------------------------------------------- */

/* Kill -9 the leader at a random instant under load: another replica leads within a few
 * leases, the connections move to it, and the killed one comes back as a follower. */
static void kill_rounds(uint64_t rounds)
{
    for (uint64_t round = 0; round < rounds && test_failures == 0; round++) {
        pump_ms(200 + test_rng_below(&rng, 800));
        int l = leader_now();
        CHECK(l >= 0);
        if (l < 0)
            return;
        size_t before = nacks;
        rh_signal(rep[l], SIGKILL);
        CHECK_U64(rh_wait(rep[l], 10000), 128 + SIGKILL);
        uint64_t t0 = rh_now_ms();
        CHECK(pump_acks(30, 30000)); /* acknowledged by the next leader */
        int next = leader_now();
        CHECK(next >= 0 && next != l);
        printf("round %llu: killed leader r%d after %zu acknowledgements; r%d leads, acks resumed "
               "%llu ms later\n",
               (unsigned long long)round, l, before, next, (unsigned long long)(rh_now_ms() - t0));
        CHECK(rh_launch(rep[l]) == 0); /* back as a follower */
    }
}

/* A follower stopped and started again while the stream grows catches up; so does one whose
 * data directory is replaced by a backup of the leader's, taken while it serves (it resumes
 * from the stream position the backup's log records). */
static void follower_restart(void)
{
    int l = leader_now(), f = -1;
    for (int i = 0; i < REPLICAS && f < 0; i++)
        f = i != l && rep[i]->production ? i : -1; /* a joined one: no development keys */
    CHECK(l >= 0 && f >= 0);
    if (l < 0 || f < 0)
        return;
    CHECK_U64(rh_stop(rep[f], SIGTERM, 20000), 0);
    CHECK(pump_acks(100, 30000));
    CHECK(rh_launch(rep[f]) == 0);
    CHECK(pump_acks(20, 30000));
    CHECK_U64(rh_stop(rep[f], SIGTERM, 20000), 0);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf %s && %s %s %s > /dev/null 2>&1", rep[f]->data_dir,
             LSTD_BACKUP, rep[l]->data_dir, rep[f]->data_dir);
    CHECK_U64(system(cmd), 0);
    CHECK(pump_acks(100, 30000));
    CHECK(rh_launch(rep[f]) == 0);
    CHECK(pump_acks(20, 30000));
    printf("follower r%d: restarted, then rebuilt from a backup of leader r%d; both caught up\n", f,
           l);
}

/* A leader paused (a partition, as far as the others can tell) is replaced; when it resumes,
 * a transaction it was sent meanwhile is answered NOT_LEADER and is nowhere, and it follows. */
static void partitioned_leader(const rh_key *stray)
{
    int old = leader_now();
    CHECK(old >= 0);
    if (old < 0)
        return;
    CHECK(rh_pause(rep[old]) == 0);
    uint64_t end = rh_now_ms() + 20000;
    int next = -1;
    while ((next = leader_now()) < 0 && rh_now_ms() < end)
        pump_ms(100);
    CHECK(next >= 0 && next != old);
    CHECK(pump_acks(20, 20000));
    /* a valid transaction, sent to the old leader while it is stopped */
    void *d = rh_socket_curve(ZMQ_DEALER, endpoints[next], NULL, NULL, NULL);
    ledger_tx t = rh_tx(LEDGER_TX_TRANSFER);
    uint8_t hash[32], sig[64];
    rh_tx_key(&t, "to", users[1].pk);
    rh_tx_u64(&t, "shares", 7);
    t.nonce = rh_next_nonce(d, stray->pk);
    rh_sign(rep[0], &t, stray, hash, sig);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    uint64_t id = rh_next_id();
    rh_pack_tx(&buf, &t, sig, id, NULL, NULL);
    void *o = rh_socket_curve(ZMQ_DEALER, endpoints[old], NULL, NULL, NULL);
    rh_set_timeout(o, 15000);
    CHECK(rh_send(o, buf.data, buf.size) == 0);
    rh_signal(rep[old], SIGCONT);
    rh_reply r;
    rh_reply_init(&r);
    CHECK(rh_recv(o, &r) == 0);
    CHECK_ERROR(&r, "NOT_LEADER");
    rh_field f = RH_BIN("hash", hash, 32);
    CHECK(rh_query(d, &r, "tx", &f, 1) == 0);
    CHECK_ERROR(&r, "NOT_FOUND");
    rh_reply_free(&r);
    msgpack_sbuffer_destroy(&buf);
    rh_close(o);
    rh_close(d);
    char role[32] = "";
    end = rh_now_ms() + 20000;
    while (strcmp(role, "follower") != 0 && rh_now_ms() < end) {
        pump_ms(100);
        role_of(old, role, sizeof role, NULL);
    }
    CHECK_STR_EQ(role, "follower");
    printf("partition: r%d paused, r%d led; the resumed r%d answered NOT_LEADER and follows\n", old,
           next, old);
}

/* NATS servers killed one at a time: with one of three down the service goes on; with two
 * down the leader acknowledges nothing and says why; with them back it resumes. */
static void nats_failures(void)
{
    CHECK_U64(nats_cluster_kill(nats, 0), NATS_CLUSTER_OK);
    CHECK(pump_acks(50, 30000));
    printf("NATS: one of three servers down, %zu acknowledged in all\n", nacks);
    CHECK_U64(nats_cluster_kill(nats, 1), NATS_CLUSTER_OK);
    pump_ms(2500); /* what was in flight when the quorum went */
    size_t stalled_at = nacks;
    pump_ms(2000);
    CHECK_U64(nacks, stalled_at);
    int l = -1; /* found by its metrics: queries wait behind the batches it cannot commit */
    for (int i = 0; i < REPLICAS && l < 0; i++)
        l = metric(i, "lstd_replication_role{role=\"leader\"}") == 1 ? i : -1;
    CHECK(l >= 0);
    if (l >= 0) { /* it says why: its metrics and its log (queries wait behind its batches) */
        CHECK(metric(l, "lstd_replication_stalled_seconds") > 0);
        char cmd[1600];
        snprintf(cmd, sizeof cmd,
                 "grep -q 'event=replication_stalled' %s && grep 'event=replication_stalled' %s | "
                 "tail -1 | sed 's/.*msg=/NATS: two of three down, no acknowledgement for 2 s; "
                 "the leader logs: /'",
                 rep[l]->err_path, rep[l]->err_path);
        CHECK_U64(system(cmd), 0);
    }
    CHECK_U64(nats_cluster_restart(nats, 1), NATS_CLUSTER_OK);
    CHECK(pump_acks(50, 60000));
    CHECK_U64(nats_cluster_restart(nats, 0), NATS_CLUSTER_OK);
    CHECK(pump_acks(20, 30000));
    printf("NATS: servers back, %zu acknowledged in all\n", nacks);
}

/* lstd-verify replays each replica's ledger from genesis and agrees. */
static void verify_all(void)
{
    for (int i = 0; i < REPLICAS; i++) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "%s %s > /dev/null 2>&1", LSTD_VERIFY, rep[i]->data_dir);
        CHECK_U64(system(cmd), 0);
    }
}

/* The stream gets a batch no leader wrote (its records do not follow the chain): every replica
 * stops rather than apply it, naming the batch; a leader steps down at its next publish. */
static void forged_batch(void)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL;
    natsMsg *m = NULL;
    char stream[64];
    rpc_repl_stream_name(stream, sizeof stream, rep[0]->ledger_id);
    CHECK(natsConnection_ConnectTo(&nc, nats_cluster_urls(nats)) == NATS_OK);
    CHECK(natsConnection_JetStream(&js, nc, NULL) == NATS_OK);
    CHECK(js_GetStreamInfo(&si, js, stream, NULL, NULL) == NATS_OK);
    uint64_t last = si != NULL ? si->State.LastSeq : 0;
    CHECK(js_GetMsg(&m, js, stream, last, NULL, NULL) == NATS_OK);
    repl_msg rm;
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(m);
    size_t len = (size_t)natsMsg_GetDataLength(m);
    CHECK(repl_msg_decode(&rm, data, len) == 0 && rm.final);
    uint8_t *forged = malloc(len + REPL_CHAIN_MAX);
    size_t head = repl_msg_head(forged, rm.part_first + rm.count, 0, true, rm.part_first + rm.count,
                                rm.count, rm.chain, rm.chain_len);
    memcpy(forged + head, rm.records, rm.records_len); /* the same records, one seq on */
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectLastSeq = last;
    jsPubAck *pa = NULL;
    CHECK(js_Publish(&pa, js, natsMsg_GetSubject(m), forged, (int)(head + rm.records_len), &po,
                     NULL) == NATS_OK);
    jsPubAck_Destroy(pa);
    free(forged);
    natsMsg_Destroy(m);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    pump_ms(1500); /* the leader's next publish meets the forged batch */
    for (int i = 0; i < REPLICAS; i++) {
        CHECK_U64(rh_wait(rep[i], 20000), 1);
        char cmd[800];
        snprintf(cmd, sizeof cmd, "grep -q 'does not reproduce here' %s", rep[i]->err_path);
        CHECK_U64(system(cmd), 0);
    }
    printf("forged batch at stream message %llu: all %d replicas stopped, naming it\n",
           (unsigned long long)last + 1, REPLICAS);
}

/* A burst of n transfers from one key sent back to back to the leader: the batches queue
 * behind the log, so one stream batch holds several ledger batches. Returns: those
 * acknowledged (kept with the others). */
static size_t burst(const rh_key *from, size_t n)
{
    int l = leader_now();
    if (l < 0)
        return 0;
    void *d = rh_socket_curve(ZMQ_DEALER, endpoints[l], NULL, NULL, NULL);
    uint64_t nonce = rh_next_nonce(d, from->pk), first_id = 0;
    static uint8_t hashes[512][32];
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    for (size_t i = 0; i < n && i < 512; i++) {
        uint8_t sig[64];
        ledger_tx t = rh_tx(LEDGER_TX_TRANSFER);
        rh_tx_key(&t, "to", users[1].pk);
        rh_tx_u64(&t, "shares", 1);
        t.nonce = nonce + i;
        rh_sign(rep[0], &t, from, hashes[i], sig);
        uint64_t id = rh_next_id();
        first_id = i == 0 ? id : first_id;
        rh_pack_tx(&b, &t, sig, id, NULL, NULL);
        CHECK(rh_send(d, b.data, b.size) == 0);
    }
    size_t got = 0;
    rh_reply r;
    rh_reply_init(&r);
    for (size_t i = 0; i < n && i < 512 && rh_recv(d, &r) == 0; i++) {
        uint64_t id = 0;
        if (rh_get_uint(r.root, "id", &id) && id >= first_id && id < first_id + n &&
            rh_ack_take(&acks[nacks], hashes[id - first_id], &r))
            nacks++, got++;
    }
    rh_reply_free(&r);
    msgpack_sbuffer_destroy(&b);
    rh_close(d);
    return got;
}

static void setup_conns(const rh_server *leader)
{
    void *d = rh_dealer(leader);
    for (int c = 0; c < CONNS; c++) {
        conn *cn = &cns[c];
        cn->key = c == 0 ? &leader->custodian : &users[c];
        uint64_t first = rh_next_nonce(d, cn->key->pk);
        for (size_t i = 0; i < PER_CONN; i++) {
            cn->tx[i] = make_tx(c, i);
            cn->tx[i].nonce = first + i;
            msgpack_sbuffer_init(&cn->buf[i]);
        }
        cn->sock = NULL;
        conn_point(cn, 0);
    }
    rh_close(d);
}

/* Deposit to each key (funding), through the leader. */
static void fund(rh_server *leader, const rh_key *keys, int n)
{
    static uint8_t funded;
    void *d = rh_dealer(leader);
    for (int k = 0; k < n; k++) {
        uint8_t ref[32] = {0};
        ref[0] = ++funded;
        ref[31] = 0xf0;
        ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
        rh_tx_key(&t, "to", keys[k].pk);
        rh_tx_u64(&t, "amount", 1000000000000ull);
        rh_tx_key(&t, "external_ref", ref);
        rh_reply r;
        rh_reply_init(&r);
        CHECK(rh_submit(leader, d, &t, &leader->custodian, &r, NULL) == 0);
        CHECK_OK(&r);
        rh_reply_free(&r);
    }
    rh_close(d);
}

int main(void)
{
    uint64_t rounds = test_env_u64("LSTD_REPL_ROUNDS", 3);
    rh_init("test_rpc_repl", (unsigned)(240 + rounds * 30));
    if (!nats_server_available()) {
        printf("skipped: no nats-server\n");
        return NATS_CLUSTER_SKIP;
    }
    test_rng_seed(&rng, test_seed());
    if (nats_cluster_start(&nats, 3) != NATS_CLUSTER_OK) {
        fprintf(stderr, "NATS: %s\n", nats_cluster_last_error());
        test_failures++;
        return test_finish("test_rpc_repl");
    }
    rep[0] = prepare(0, NULL);
    CHECK(rh_launch(rep[0]) == 0);
    if (wait_leader(20000) != 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "cat %s >&2", rep[0]->err_path);
        CHECK(system(cmd) == 0);
        test_failures++;
    }
    for (int i = 1; i < REPLICAS && test_failures == 0; i++) {
        rep[i] = prepare(i, rep[0]->ledger_id);
        CHECK_U64(rh_init_ledger(rep[i]), 0);
        CHECK(rh_launch(rep[i]) == 0);
    }
    rh_key stray[1];
    for (int c = 1; c < CONNS; c++)
        rh_keygen(&users[c]);
    rh_keygen(&stray[0]);
    if (test_failures == 0) {
        fund(rep[0], users + 1, CONNS - 1);
        fund(rep[0], stray, 1);
        setup_conns(rep[0]);
        CHECK(pump_acks(100, 30000));
        CHECK_U64(burst(&stray[0], 400), 400);
        printf("burst: the leader published %.0f stream messages for %.0f batches\n",
               metric(0, "lstd_replication_published_total"),
               metric(0, "lstd_batch_size_requests_count"));
        check_replicas("steady");
        for (int i = 1; i < REPLICAS; i++) {
            CHECK(metric(i, "lstd_replication_role{role=\"follower\"}") == 1);
            CHECK(metric(i, "lstd_replication_lag_batches") >= 0);
        }
    }
    if (test_failures == 0)
        kill_rounds(rounds);
    if (test_failures == 0)
        follower_restart();
    if (test_failures == 0)
        partitioned_leader(&stray[0]);
    if (test_failures == 0)
        nats_failures();
    pump_drain();
    if (test_failures == 0)
        check_replicas("after failovers");
    if (test_failures == 0)
        forged_batch();
    for (int i = 0; i < REPLICAS; i++)
        if (rep[i] != NULL && rh_running(rep[i]))
            CHECK_U64(rh_stop(rep[i], SIGTERM, 20000), 0);
    if (test_failures == 0)
        verify_all();
    for (int c = 0; c < CONNS; c++) {
        rh_close(cns[c].sock);
        for (size_t i = 0; i < PER_CONN; i++)
            msgpack_sbuffer_destroy(&cns[c].buf[i]);
    }
    for (int i = 0; i < REPLICAS && test_failures > 0; i++) { /* what each replica said */
        char cmd[800];
        snprintf(cmd, sizeof cmd,
                 "echo '--- r%d:' >&2; grep -v 'event=report\\|event=param' %s | tail -25 >&2", i,
                 rep[i]->err_path);
        CHECK(system(cmd) == 0);
    }
    for (int i = 0; i < REPLICAS; i++)
        rh_free(&rep[i]);
    nats_cluster_stop(&nats);
    return test_finish("test_rpc_repl");
}

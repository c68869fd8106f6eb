/* test_nats_cluster.c - the NATS JetStream guarantees lstd's replication relies on, checked on a
 * real 3-server cluster: conditional publish, dedupe, leader loss, quorum loss, KV leases */
#include <inttypes.h>
#include <nats/nats.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nats_harness.h"
#include "rpc_harness.h"
#include "test_util.h"

#define STREAM "LSTD_TEST"
#define SUBJECT "lstd.test.batches"
#define BUCKET "lstd_test_lease"
#define LEASE_KEY "leader"
#define PUB_WAIT_MS 2000 /* MaxWait of one publish (lstd's would be similar) */
/* deadline for JetStream to recover after a change (it once took over 20 s on a loaded
 * 2-core machine) */
#define ELECTION_WAIT_MS 60000
#define KV_TTL_MS 2000
#define RETRY_MS 100

static nats_cluster *cluster;
static natsConnection *nc;
static jsCtx *js;
static uint64_t last_stored; /* the stream's last sequence, as this test has made it */

static void fact(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print one checked fact about NATS. */
static void fact(const char *fmt, ...)
{
    va_list ap;
    printf("fact: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* "Error (jerr 10071): (js.c:535): wrong last sequence: 5" for a failed call: the status, the
 * JetStream error code and libnats' last error text when it is this status's (it is per
 * thread and not cleared: an older text would mislead). */
static const char *describe(natsStatus s, jsErrCode jerr)
{
    static char buf[600];
    natsStatus ls = NATS_OK;
    const char *text = nats_GetLastError(&ls);
    snprintf(buf, sizeof buf, "%s (jerr %d)%s%s", natsStatus_GetText(s), (int)jerr,
             text != NULL && ls == s ? ": " : "", text != NULL && ls == s ? text : "");
    return buf;
}

/* ---- connection and publishing ------------------------------------------------------------ */

static int connect_cluster(void)
{
    natsOptions *o = NULL;
    jsOptions jo;
    const char *urls[NATS_CLUSTER_MAX];
    int n = nats_cluster_size(cluster);
    for (int i = 0; i < n; i++)
        urls[i] = nats_cluster_url(cluster, i);
    /* natsOptions_SetURL takes one URL; a list goes to SetServers (ConnectTo splits commas) */
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, urls, n);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1); /* a killed server is not the end */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, RETRY_MS);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, PUB_WAIT_MS);
    if (s == NATS_OK)
        s = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    jsOptions_Init(&jo);
    jo.Wait = PUB_WAIT_MS;
    if (s == NATS_OK)
        s = natsConnection_JetStream(&js, nc, &jo);
    if (s != NATS_OK)
        fprintf(stderr, "test_nats_cluster: connect %s: %s\n", nats_cluster_urls(cluster),
                describe(s, 0));
    return s == NATS_OK ? 0 : -1;
}

/* Publish "batch <n>" to SUBJECT as lstd will: Nats-Msg-Id "lstd-batch-<n>" and, when
 * expect_last >= 0, Nats-Expected-Last-Sequence (set by hand for 0, which libnats' ExpectLastSeq
 * cannot send). Out: *seq, *dup (from the ack), *jerr. Returns: the libnats status. */
static natsStatus publish(uint64_t n, int64_t expect_last, uint64_t *seq, bool *dup,
                          jsErrCode *jerr)
{
    char data[64], id[64];
    natsMsg *m = NULL;
    jsPubAck *ack = NULL;
    jsPubOptions po;
    snprintf(data, sizeof data, "batch %" PRIu64, n);
    snprintf(id, sizeof id, "lstd-batch-%" PRIu64, n);
    jsPubOptions_Init(&po);
    po.MaxWait = PUB_WAIT_MS;
    po.MsgId = id;
    if (expect_last > 0)
        po.ExpectLastSeq = (uint64_t)expect_last;
    *jerr = 0;
    natsStatus s = natsMsg_Create(&m, SUBJECT, NULL, data, (int)strlen(data));
    if (s == NATS_OK && expect_last == 0)
        s = natsMsgHeader_Set(m, "Nats-Expected-Last-Sequence", "0");
    if (s == NATS_OK)
        s = js_PublishMsg(&ack, js, m, &po, jerr);
    if (s == NATS_OK) {
        *seq = ack->Sequence;
        *dup = ack->Duplicate;
    }
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(m);
    return s;
}

/* Publish batch n expecting last seq n - 1, again and again with the same id until it is
 * acknowledged or the deadline passes (what lstd does with an ambiguous publish). The errors
 * met on the way are printed. Returns: true when acknowledged as seq n. */
static bool publish_until_acked(uint64_t n, bool *was_dup)
{
    uint64_t start = rh_now_ms(), seq = 0;
    char seen[600] = "";
    bool dup = false;
    int tries = 0;
    for (;;) {
        jsErrCode jerr;
        natsStatus s = publish(n, (int64_t)(n - 1), &seq, &dup, &jerr);
        tries++;
        if (s == NATS_OK)
            break;
        const char *why = describe(s, jerr);
        if (strcmp(why, seen) != 0) {
            printf("  publish batch %" PRIu64 ": %s (after %" PRIu64 " ms)\n", n, why,
                   rh_now_ms() - start);
            snprintf(seen, sizeof seen, "%s", why);
        }
        if (rh_now_ms() - start > ELECTION_WAIT_MS) {
            fprintf(stderr, "test_nats_cluster: batch %" PRIu64 " not acknowledged in %d ms\n", n,
                    ELECTION_WAIT_MS);
            return false;
        }
        rh_sleep_ms(RETRY_MS);
    }
    printf("  batch %" PRIu64 " acknowledged as seq %" PRIu64 "%s after %d tries, %" PRIu64 " ms\n",
           n, seq, dup ? " (a duplicate: an earlier try was stored)" : "", tries,
           rh_now_ms() - start);
    CHECK_U64(seq, n);
    last_stored = n;
    if (was_dup != NULL)
        *was_dup = dup;
    return seq == n;
}

/* ---- stream state ------------------------------------------------------------------------------
 */

/* The stream's info, retried until the deadline (during an election nobody answers).
 * Returns: the info (caller destroys) or NULL. */
static jsStreamInfo *stream_info(void)
{
    uint64_t start = rh_now_ms();
    for (;;) {
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_GetStreamInfo(&si, js, STREAM, NULL, &jerr);
        if (s == NATS_OK && si->Cluster != NULL && si->Cluster->Leader != NULL)
            return si;
        jsStreamInfo_Destroy(si);
        if (rh_now_ms() - start > ELECTION_WAIT_MS) {
            fprintf(stderr, "test_nats_cluster: no stream info with a leader: %s\n",
                    describe(s, jerr));
            return NULL;
        }
        rh_sleep_ms(RETRY_MS);
    }
}

/* Returns: the index of the stream's leader, or -1. Out: *last_seq, *msgs (may be NULL). */
static int stream_leader(uint64_t *last_seq, uint64_t *msgs)
{
    jsStreamInfo *si = stream_info();
    if (si == NULL)
        return -1;
    int i = nats_cluster_index(cluster, si->Cluster->Leader);
    if (last_seq != NULL)
        *last_seq = si->State.LastSeq;
    if (msgs != NULL)
        *msgs = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return i;
}

/* The stream holds exactly batches 1..last_stored, each readable with js_GetMsg. */
static void check_all_readable(const char *when)
{
    uint64_t last = 0, msgs = 0, ok = 0;
    CHECK(stream_leader(&last, &msgs) >= 0);
    CHECK_U64(last, last_stored);
    CHECK_U64(msgs, last_stored);
    for (uint64_t seq = 1; seq <= last_stored; seq++) {
        char want[64];
        natsMsg *m = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_GetMsg(&m, js, STREAM, seq, NULL, &jerr);
        snprintf(want, sizeof want, "batch %" PRIu64, seq);
        if (s == NATS_OK && natsMsg_GetDataLength(m) == (int)strlen(want) &&
            memcmp(natsMsg_GetData(m), want, strlen(want)) == 0)
            ok++;
        else
            fprintf(stderr, "test_nats_cluster: seq %" PRIu64 ": %s\n", seq, describe(s, jerr));
        natsMsg_Destroy(m);
    }
    CHECK_U64(ok, last_stored);
    fact("%s: all %" PRIu64 " batches are stored once and readable (js_GetMsg 1..%" PRIu64 ")",
         when, ok, last_stored);
}

/* ---- the facts ----------------------------------------------------------------------------------
 */

static bool create_stream(void)
{
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    const char *subjects[] = {SUBJECT};
    jsStreamConfig_Init(&cfg);
    cfg.Name = STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = 3;
    natsStatus s = js_AddStream(&si, js, &cfg, NULL, &jerr);
    CHECK(s == NATS_OK);
    if (s != NATS_OK) {
        fprintf(stderr, "test_nats_cluster: js_AddStream: %s\n", describe(s, jerr));
        return false;
    }
    CHECK(si->Config->Replicas == 3 && si->Config->Storage == js_FileStorage);
    CHECK(si->Cluster != NULL && si->Cluster->ReplicasLen == 2);
    fact("an R = 3 file stream is created (leader %s, duplicate window %" PRId64 " s)",
         si->Cluster != NULL ? si->Cluster->Leader : "?", si->Config->Duplicates / 1000000000);
    jsStreamInfo_Destroy(si);
    return true;
}

/* Expected last sequence: the right one extends the stream, a stale one is refused with 10071
 * and stores nothing. */
static void check_expected_last_seq(void)
{
    uint64_t seq = 0, last = 0;
    bool dup = false;
    jsErrCode jerr = 0;
    natsStatus s = publish(1, 0, &seq, &dup, &jerr);
    CHECK(s == NATS_OK && seq == 1);
    for (uint64_t n = 2; n <= 5 && s == NATS_OK; n++) {
        s = publish(n, (int64_t)n - 1, &seq, &dup, &jerr);
        CHECK(s == NATS_OK && seq == n && !dup);
    }
    last_stored = 5;
    fact("publishing with Expected-Last-Sequence = the last sequence succeeds (0 on the empty "
         "stream, then 1..4): seqs 1..5");
    s = publish(6, 3, &seq, &dup, &jerr);
    CHECK(s != NATS_OK);
    CHECK_U64(jerr, JSStreamWrongLastSequenceErr);
    fact("a stale Expected-Last-Sequence (3, last is 5) is refused: %s", describe(s, jerr));
    s = publish(6, 0, &seq, &dup, &jerr);
    CHECK(s != NATS_OK);
    CHECK_U64(jerr, JSStreamWrongLastSequenceErr);
    fact("Expected-Last-Sequence 0 on a non-empty stream is refused too: %s", describe(s, jerr));
    CHECK(stream_leader(&last, NULL) >= 0);
    CHECK_U64(last, 5);
    fact("after the refusals the last sequence is still %" PRIu64, last);
}

/* A resend with the same Nats-Msg-Id (and the same, now stale, expected last sequence) is
 * acknowledged as a duplicate of the first and stored once. */
static void check_dedupe(void)
{
    uint64_t seq = 0, seq2 = 0, last = 0, msgs = 0;
    bool dup = true, dup2 = false;
    jsErrCode jerr = 0;
    natsStatus s = publish(6, 5, &seq, &dup, &jerr);
    CHECK(s == NATS_OK && seq == 6 && !dup);
    s = publish(6, 5, &seq2, &dup2, &jerr);
    CHECK(s == NATS_OK);
    CHECK(dup2);
    CHECK_U64(seq2, 6);
    if (s != NATS_OK)
        fprintf(stderr, "test_nats_cluster: resend: %s\n", describe(s, jerr));
    CHECK(stream_leader(&last, &msgs) >= 0);
    CHECK_U64(last, 6);
    CHECK_U64(msgs, 6);
    last_stored = 6;
    fact("resending Nats-Msg-Id lstd-batch-6 with the same Expected-Last-Sequence 5 is acked "
         "as a duplicate (Duplicate = %d, seq %" PRIu64 "), not refused; stored once (%" PRIu64
         " messages)",
         (int)dup2, seq2, msgs);
}

/* Kill the stream's leader: a new one is elected, publishing goes on, nothing is lost, and
 * the dedupe window survived the change. Returns: the killed server's index, or -1. */
static int check_leader_loss(void)
{
    int old = stream_leader(NULL, NULL);
    CHECK(old >= 0);
    if (old < 0)
        return -1;
    printf("killing the stream leader %s\n", nats_cluster_name(cluster, old));
    CHECK(nats_cluster_kill(cluster, old) == NATS_CLUSTER_OK);
    CHECK(publish_until_acked(7, NULL));
    int now = stream_leader(NULL, NULL);
    CHECK(now >= 0 && now != old);
    fact("with the leader %s killed, %s leads and publishes succeed again",
         nats_cluster_name(cluster, old), now >= 0 ? nats_cluster_name(cluster, now) : "nobody");
    uint64_t seq = 0;
    bool dup = false;
    jsErrCode jerr = 0;
    natsStatus s = publish(6, 5, &seq, &dup, &jerr);
    CHECK(s == NATS_OK && dup && seq == 6);
    fact("the new leader still knows lstd-batch-6: the resend is a duplicate of seq %" PRIu64
         " (%s)",
         seq, s == NATS_OK ? "ok" : describe(s, jerr));
    check_all_readable("after the leader's loss");
    return old;
}

/* Kill a second server: no quorum, a publish fails within its MaxWait. Then restart both:
 * publishing resumes and the stream has three current replicas again. */
static void check_quorum_loss(int first)
{
    int leader = stream_leader(NULL, NULL), second = -1;
    for (int i = 0; i < 3; i++)
        if (i != first && i != leader)
            second = i;
    CHECK(second >= 0);
    if (second < 0)
        return;
    printf("killing %s (a follower): only the leader %s is left\n",
           nats_cluster_name(cluster, second), nats_cluster_name(cluster, leader));
    CHECK(nats_cluster_kill(cluster, second) == NATS_CLUSTER_OK);
    uint64_t seq = 0, start = rh_now_ms();
    bool dup = false;
    jsErrCode jerr = 0;
    natsStatus s = publish(8, 7, &seq, &dup, &jerr);
    uint64_t took = rh_now_ms() - start;
    CHECK(s != NATS_OK);
    CHECK(took < PUB_WAIT_MS + 1000);
    fact("with 2 of 3 servers down a publish fails after %" PRIu64 " ms: %s", took,
         describe(s, jerr));
    CHECK(nats_cluster_restart(cluster, first) == NATS_CLUSTER_OK);
    printf("restarted %s\n", nats_cluster_name(cluster, first));
    bool was_dup = false;
    CHECK(publish_until_acked(8, &was_dup));
    fact("with %s back (2 of 3) publishes succeed again; the publish that failed was %s (a "
         "failed publish is ambiguous: resend it with the same Msg-Id)",
         nats_cluster_name(cluster, first),
         was_dup ? "stored after all, once the quorum was back: the resend was a duplicate"
                 : "not stored: the resend stored it");
    CHECK(nats_cluster_restart(cluster, second) == NATS_CLUSTER_OK);
    printf("restarted %s\n", nats_cluster_name(cluster, second));
}

/* After both restarts the stream has a leader and two current, online replicas. */
static void check_three_again(void)
{
    uint64_t start = rh_now_ms();
    int current = 0;
    while (current != 2 && rh_now_ms() - start < ELECTION_WAIT_MS) {
        jsStreamInfo *si = stream_info();
        current = 0;
        for (int i = 0; si != NULL && i < si->Cluster->ReplicasLen; i++)
            current += si->Cluster->Replicas[i]->Current && !si->Cluster->Replicas[i]->Offline;
        jsStreamInfo_Destroy(si);
        if (current != 2)
            rh_sleep_ms(RETRY_MS);
    }
    CHECK(current == 2);
    fact("after both restarts the stream has a leader and %d current replicas (%" PRIu64 " ms)",
         current, rh_now_ms() - start);
    CHECK(publish_until_acked(9, NULL));
    check_all_readable("with three servers again");
}

/* ---- the lease bucket --------------------------------------------------------------------------
 */

/* The key's value and revision now. Returns: the kvStore_Get status. */
static natsStatus lease_get(kvStore *kv, char *value, size_t size, uint64_t *rev)
{
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, kv, LEASE_KEY);
    value[0] = '\0';
    *rev = 0;
    if (s == NATS_OK) {
        snprintf(value, size, "%.*s", kvEntry_ValueLen(e), (const char *)kvEntry_Value(e));
        *rev = kvEntry_Revision(e);
    }
    kvEntry_Destroy(e);
    return s;
}

/* The key holds value at revision rev, as the bucket's stream leader reads it (js_GetLastMsg:
 * STREAM.MSG.GET, answered by the leader). kvStore_Get uses direct get, which in 2.9 any
 * current replica may answer, so it can miss a write just acknowledged: printed, not checked. */
static void check_lease(kvStore *kv, const char *value, uint64_t rev)
{
    char got[64];
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    uint64_t direct_rev = 0;
    natsStatus s = js_GetLastMsg(&m, js, "KV_" BUCKET, "$KV." BUCKET "." LEASE_KEY, NULL, &jerr);
    CHECK(s == NATS_OK);
    if (s != NATS_OK) {
        fprintf(stderr, "test_nats_cluster: js_GetLastMsg: %s\n", describe(s, jerr));
        return;
    }
    snprintf(got, sizeof got, "%.*s", natsMsg_GetDataLength(m), natsMsg_GetData(m));
    CHECK_STR_EQ(got, value);
    CHECK_U64(natsMsg_GetSequence(m), rev);
    natsMsg_Destroy(m);
    s = lease_get(kv, got, sizeof got, &direct_rev);
    if (s != NATS_OK || direct_rev != rev)
        fact("kvStore_Get (direct get) right after the write saw %s revision %" PRIu64
             ", not %" PRIu64 ": a replica behind the leader answered",
             natsStatus_GetText(s), direct_rev, rev);
}

static natsStatus lease_create(kvStore *kv, const char *holder, uint64_t *rev)
{
    return kvStore_Create(rev, kv, LEASE_KEY, holder, (int)strlen(holder));
}

static natsStatus lease_update(kvStore *kv, const char *holder, uint64_t last, uint64_t *rev)
{
    return kvStore_Update(rev, kv, LEASE_KEY, holder, (int)strlen(holder), last);
}

/* Create-if-absent and update-with-revision: only the expected revision wins. Returns: the
 * key's revision after the last successful write, 0 on failure. */
static uint64_t check_lease_cas(kvStore *kv)
{
    uint64_t r1 = 0, r2 = 0, r_bad = 0;
    natsStatus s = lease_create(kv, "n-a", &r1);
    CHECK(s == NATS_OK && r1 > 0);
    fact("kvStore_Create of a new key succeeds (revision %" PRIu64 ")", r1);
    s = lease_create(kv, "n-b", &r_bad);
    CHECK(s != NATS_OK);
    fact("a second kvStore_Create of the key fails: %s", describe(s, 0));
    check_lease(kv, "n-a", r1);
    s = lease_update(kv, "n-a renewed", r1, &r2);
    CHECK(s == NATS_OK && r2 > r1);
    fact("kvStore_Update with the current revision %" PRIu64 " succeeds (revision %" PRIu64 ")", r1,
         r2);
    s = lease_update(kv, "n-b", r1, &r_bad);
    CHECK(s != NATS_OK);
    fact("kvStore_Update with the stale revision %" PRIu64 " fails: %s", r1, describe(s, 0));
    check_lease(kv, "n-a renewed", r2);
    return s != NATS_OK ? r2 : 0;
}

/* A lease nobody renews expires after the bucket's TTL: Get says not found, Create succeeds. */
static void check_lease_ttl(kvStore *kv, uint64_t rev)
{
    char value[64];
    uint64_t start = rh_now_ms(), got_rev = 0, gone_ms = 0;
    natsStatus s = NATS_OK;
    while (s == NATS_OK && rh_now_ms() - start < KV_TTL_MS + ELECTION_WAIT_MS) {
        s = lease_get(kv, value, sizeof value, &got_rev);
        gone_ms = rh_now_ms() - start;
        if (s == NATS_OK)
            rh_sleep_ms(RETRY_MS);
    }
    CHECK(s == NATS_NOT_FOUND);
    CHECK(gone_ms >= KV_TTL_MS / 2); /* not gone long before the TTL (write to ack: ~ms) */
    fact("unrenewed, the key (revision %" PRIu64 ") is gone %" PRIu64
         " ms after its last update (TTL %d ms): kvStore_Get says %s",
         rev, gone_ms, KV_TTL_MS, natsStatus_GetText(s));
    uint64_t r = 0;
    int tries = 0;
    do { /* replicas expire by their own timers: the leader may lag the one that answered */
        s = lease_create(kv, "n-b", &r);
        tries++;
    } while (s != NATS_OK && tries < 20 && (rh_sleep_ms(RETRY_MS), true));
    CHECK(s == NATS_OK && r > rev);
    fact("then kvStore_Create succeeds again (revision %" PRIu64 ", %d tries)", r, tries);
    check_lease(kv, "n-b", r);
}

static void check_lease_bucket(void)
{
    kvConfig cfg;
    kvStore *kv = NULL;
    kvConfig_Init(&cfg);
    cfg.Bucket = BUCKET;
    cfg.History = 1;
    cfg.TTL = (int64_t)KV_TTL_MS * 1000000; /* nanoseconds: it becomes the stream's MaxAge */
    cfg.StorageType = js_FileStorage;
    cfg.Replicas = 3;
    natsStatus s = js_CreateKeyValue(&kv, js, &cfg);
    CHECK(s == NATS_OK);
    if (s != NATS_OK) {
        fprintf(stderr, "test_nats_cluster: js_CreateKeyValue: %s\n", describe(s, 0));
        return;
    }
    fact("a KV bucket with R = 3, history 1, TTL %d ms is created", KV_TTL_MS);
    uint64_t rev = check_lease_cas(kv);
    if (rev > 0)
        check_lease_ttl(kv, rev);
    kvStore_Destroy(kv);
}

/* ---- the harness itself ------------------------------------------------------------------------
 */

/* Its misuse errors, the URL list and the names, on the running cluster. */
static void check_harness_api(void)
{
    nats_cluster *bad = NULL;
    char want[NATS_CLUSTER_MAX * 40] = "";
    CHECK(nats_cluster_start(&bad, 0) == NATS_CLUSTER_BAD_ARG && bad == NULL);
    CHECK(nats_cluster_start(&bad, NATS_CLUSTER_MAX + 1) == NATS_CLUSTER_BAD_ARG && bad == NULL);
    CHECK(nats_cluster_size(cluster) == 3);
    for (int i = 0; i < 3; i++) {
        const char *url = nats_cluster_url(cluster, i);
        CHECK(strncmp(url, "nats://127.0.0.1:", 17) == 0);
        CHECK(nats_cluster_index(cluster, nats_cluster_name(cluster, i)) == i);
        CHECK(nats_cluster_running(cluster, i));
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i > 0 ? "," : "", url);
    }
    CHECK_STR_EQ(nats_cluster_urls(cluster), want);
    CHECK(nats_cluster_url(cluster, 3) == NULL && nats_cluster_name(cluster, -1) == NULL);
    CHECK(nats_cluster_index(cluster, "n3") == -1);
    CHECK(nats_cluster_kill(cluster, 3) == NATS_CLUSTER_BAD_ARG);
    CHECK(nats_cluster_restart(cluster, 0) == NATS_CLUSTER_BAD_ARG); /* it is running */
    CHECK_STR_EQ(nats_cluster_err_name(NATS_CLUSTER_NOT_READY), "NATS_CLUSTER_NOT_READY");
}

/* A server that exits at once is named with its log; a single server runs, is killed,
 * restarted and stopped, and its directory is removed. */
static void check_harness_one(void)
{
    nats_cluster *one = NULL;
    setenv("LSTD_NATS_SERVER", "/bin/false", 1);
    CHECK(nats_cluster_start(&one, 1) == NATS_CLUSTER_EXITED && one == NULL);
    CHECK(strstr(nats_cluster_last_error(), "server n0 exited") != NULL);
    CHECK(strstr(nats_cluster_last_error(), "/n0.log") != NULL);
    unsetenv("LSTD_NATS_SERVER");
    CHECK(nats_cluster_start(&one, 1) == NATS_CLUSTER_OK);
    if (one == NULL)
        return;
    char dir[600];
    snprintf(dir, sizeof dir, "%s", nats_cluster_log(one, 0));
    *strrchr(dir, '/') = '\0';
    CHECK(nats_cluster_kill(one, 0) == NATS_CLUSTER_OK && !nats_cluster_running(one, 0));
    CHECK(nats_cluster_kill(one, 0) == NATS_CLUSTER_BAD_ARG);
    CHECK(nats_cluster_restart(one, 0) == NATS_CLUSTER_OK && nats_cluster_running(one, 0));
    nats_cluster_stop(&one);
    CHECK(one == NULL);
    nats_cluster_stop(&one); /* a no-op */
    if (getenv("LSTD_KEEP_NATS") == NULL)
        CHECK(access(dir, F_OK) != 0);
    fact("harness: a single server starts, is killed and restarted; its directory is removed");
}

int main(void)
{
    rh_init("test_nats_cluster", 100);
    if (!nats_server_available()) {
        printf("test_nats_cluster: skipped: no nats-server\n");
        return NATS_CLUSTER_SKIP;
    }
    int err = nats_cluster_start(&cluster, 3);
    if (err != NATS_CLUSTER_OK) {
        fprintf(stderr, "test_nats_cluster: %s\n", nats_cluster_last_error());
        return 1;
    }
    printf("cluster: %s\n", nats_cluster_urls(cluster));
    check_harness_api();
    if (connect_cluster() == 0 && create_stream()) {
        check_expected_last_seq();
        check_dedupe();
        int first = check_leader_loss();
        if (first >= 0) {
            check_quorum_loss(first);
            check_three_again();
        }
        check_lease_bucket();
        check_harness_one();
    } else {
        test_failures++;
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_CloseAndWait(5000);
    nats_cluster_stop(&cluster);
    return test_finish("test_nats_cluster");
}

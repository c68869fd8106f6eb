/* test_rpc_simulate.c - simulated transactions: the exact result now, nothing recorded */
#include <stdlib.h>
#include <string.h>

#include "rpc_harness.h"
#include "test_util.h"

static rh_server *srv;
static void *dl;
static rh_reply rp;
static rh_key u1, u2, nobody;

/* A simulate request for tx: its fields, signer, the nonce when with_nonce, the sig when not
 * NULL, and simulate: true (or a str "yes" when bad_flag). */
static void pack_sim(msgpack_sbuffer *buf, uint64_t id, const ledger_tx *tx, bool with_nonce,
                     const uint8_t *sig, bool bad_flag)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    rh_field f[16];
    size_t n = 0;
    ledger_tx copy = *tx;
    f[n++] = RH_BIN("signer", tx->signer, 32);
    if (with_nonce)
        f[n++] = RH_UINT("nonce", tx->nonce);
    if (sig != NULL)
        f[n++] = RH_BIN("sig", sig, 64);
    for (unsigned i = 0; i < k->field_count; i++) {
        void *p = ledger_tx_slot(&copy, k->fields[i].slot);
        f[n++] = k->fields[i].type == LEDGER_F_U64 ? RH_UINT(k->fields[i].name, *(uint64_t *)p)
                                                   : RH_BIN(k->fields[i].name, p, 32);
    }
    f[n++] = bad_flag ? RH_STR("simulate", "yes") : (rh_field){"simulate", RH_F_BOOL, 1, NULL, 0};
    rh_pack_map(buf, id, k->name, f, n);
}

/* Send a simulation and receive its reply into rp. */
static void simulate(const ledger_tx *tx, bool with_nonce, const uint8_t *sig)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    uint64_t id = rh_next_id();
    pack_sim(&buf, id, tx, with_nonce, sig, false);
    CHECK(rh_call(dl, &buf, id, &rp) == 0);
    msgpack_sbuffer_destroy(&buf);
}

/* The pool's seq, head and digest, and u1's shares and nonce: what a simulation must leave. */
typedef struct snapshot {
    uint64_t seq, shares, nonce;
    uint8_t head[32], digest[32];
} snapshot;

static void snap(snapshot *out)
{
    rh_field acct = RH_BIN("account", u1.pk, 32);
    CHECK(rh_query(dl, &rp, "pool", NULL, 0) == 0);
    const msgpack_object *p = RH_MAP(rp.root, "result");
    out->seq = RH_U64(p, "seq");
    const uint8_t *h = rh_get_bin(p, "head", 32), *d = rh_get_bin(p, "digest", 32);
    CHECK(h != NULL && d != NULL);
    if (h != NULL && d != NULL) {
        memcpy(out->head, h, 32);
        memcpy(out->digest, d, 32);
    }
    CHECK(rh_query(dl, &rp, "account", &acct, 1) == 0);
    p = RH_MAP(rp.root, "result");
    out->shares = RH_U64(p, "shares");
    out->nonce = RH_U64(p, "next_nonce");
}

static void check_unchanged(const snapshot *before)
{
    snapshot now;
    snap(&now);
    CHECK_U64(now.seq, before->seq);
    CHECK_U64(now.shares, before->shares);
    CHECK_U64(now.nonce, before->nonce);
    CHECK(memcmp(now.head, before->head, 32) == 0);
    CHECK(memcmp(now.digest, before->digest, 32) == 0);
}

/* A deposit with a reference of its own (a slow machine funds u2 several times while waiting
 * for the subscription). */
static void fund(const rh_key *to, uint64_t amount)
{
    static uint64_t deposits;
    ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
    rh_tx_key(&t, "to", to->pk);
    rh_tx_u64(&t, "amount", amount);
    memset(t.ref, 0x5a, 32);
    deposits++;
    memcpy(t.ref, &deposits, sizeof deposits);
    CHECK(rh_submit(srv, dl, &t, &srv->custodian, &rp, NULL) == 0);
    CHECK_OK(&rp);
}

static ledger_tx transfer(const rh_key *from, const rh_key *to, uint64_t shares)
{
    ledger_tx t = rh_tx(LEDGER_TX_TRANSFER);
    memcpy(t.signer, from->pk, 32);
    rh_tx_key(&t, "to", to->pk);
    rh_tx_u64(&t, "shares", shares);
    return t;
}

/* Unsigned, no nonce: the signer's next nonce is used and the result is the one a real
 * transaction would get now; nothing changes. */
static void test_unsigned(void)
{
    snapshot before;
    snap(&before);
    ledger_tx t = transfer(&u1, &u2, 1000);
    simulate(&t, false, NULL);
    CHECK_OK(&rp);
    const msgpack_object *r = RH_MAP(rp.root, "result");
    CHECK_KEYS(r, "hash", "code", "recorded", "duplicate", "seq", "batch", "time", "out",
               "simulated", "nonce");
    CHECK(RH_BOOL(r, "simulated"));
    CHECK(!RH_BOOL(r, "recorded"));
    CHECK(!RH_BOOL(r, "duplicate"));
    CHECK_STR(r, "code", "OK");
    CHECK_FIELD(r, "nonce", before.nonce);
    CHECK_FIELD(r, "seq", before.seq + 1);
    CHECK_FIELD(RH_MAP(r, "out"), "shares_moved", 1000);
    t.nonce = before.nonce; /* the hash is the one to sign for that nonce */
    uint8_t want[32];
    CHECK(ledger_tx_hash(want, srv->ledger_id, &t) == LEDGER_OK);
    CHECK_BIN(r, "hash", want, 32);
    check_unchanged(&before);

    /* a rule violation that would be recorded: its code and result, still nothing recorded */
    t = transfer(&u1, &u2, before.shares + 1);
    simulate(&t, false, NULL);
    CHECK_ERROR(&rp, "INSUFFICIENT_SHARES");
    r = RH_MAP(rp.root, "result");
    CHECK(RH_BOOL(r, "simulated") && !RH_BOOL(r, "recorded"));
    CHECK_STR(r, "code", "INSUFFICIENT_SHARES");
    check_unchanged(&before);

    /* rejections that are never recorded come back as they would: no result */
    t = transfer(&u1, &u2, 5);
    t.nonce = before.nonce + 1;
    simulate(&t, true, NULL);
    CHECK_ERROR(&rp, "NONCE_GAP");
    CHECK(rh_get(rp.root, "result") == NULL);
    t = transfer(&nobody, &u2, 5);
    simulate(&t, false, NULL);
    CHECK_ERROR(&rp, "SIGNER_HOLDS_NOTHING");
    check_unchanged(&before);
}

/* Signed: the signature is checked; the simulated result is what sending it gives. */
static void test_signed(void)
{
    snapshot before;
    snap(&before);
    uint8_t hash[32], sig[64];
    ledger_tx t = transfer(&u1, &u2, 777);
    t.nonce = before.nonce;
    rh_sign(srv, &t, &u1, hash, sig);
    uint8_t bad[64];
    memcpy(bad, sig, 64);
    bad[10] ^= 1;
    simulate(&t, true, bad);
    CHECK_ERROR(&rp, "BAD_SIGNATURE");
    simulate(&t, true, sig);
    CHECK_OK(&rp);
    const msgpack_object *r = RH_MAP(rp.root, "result");
    CHECK_BIN(r, "hash", hash, 32);
    uint64_t seq = RH_U64(r, "seq");
    check_unchanged(&before);

    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    uint64_t id = rh_next_id();
    rh_pack_tx(&buf, &t, sig, id, NULL, NULL);
    CHECK(rh_call(dl, &buf, id, &rp) == 0);
    CHECK_OK(&rp);
    r = RH_MAP(rp.root, "result");
    CHECK_FIELD(r, "seq", seq);
    CHECK_FIELD(RH_MAP(r, "out"), "shares_moved", 777);
    CHECK(!rh_is_nil(r, "simulated") && rh_get(r, "simulated") == NULL);

    /* the same bytes simulated again: the recorded result, as a resend would get */
    simulate(&t, true, sig);
    CHECK_OK(&rp);
    r = RH_MAP(rp.root, "result");
    CHECK(RH_BOOL(r, "duplicate") && RH_BOOL(r, "recorded") && RH_BOOL(r, "simulated"));
    CHECK_FIELD(r, "seq", seq);
    msgpack_sbuffer_destroy(&buf);
}

/* Pipelined between real transactions: a simulation sees what was sent before it and leaves
 * nothing for what comes after; no event is published for it. */
static void test_pipelined(void)
{
    snapshot before;
    snap(&before);
    void *sub = rh_sub(srv, "tx/");
    /* the SUB's subscription reaches lstd asynchronously: wait until an event arrives */
    char topic[80];
    rh_reply ev;
    rh_reply_init(&ev);
    bool subscribed = false;
    for (int i = 0; i < 50 && !subscribed; i++) {
        fund(&u2, 1000);
        rh_set_timeout(sub, 100);
        subscribed = rh_recv_event(sub, topic, sizeof topic, &ev) == 0;
    }
    CHECK(subscribed);
    while (rh_recv_event(sub, topic, sizeof topic, &ev) == 0) /* drain */
        ;
    snap(&before);
    uint8_t h1[32], s1[64], h2[32], s2[64];
    ledger_tx a = transfer(&u1, &u2, 100), c = transfer(&u1, &u2, 200);
    a.nonce = before.nonce;
    c.nonce = before.nonce + 1;
    rh_sign(srv, &a, &u1, h1, s1);
    rh_sign(srv, &c, &u1, h2, s2);
    ledger_tx b = transfer(&u1, &u2, before.shares - 100); /* all u1 has left after a */
    msgpack_sbuffer m1, m2, m3;
    msgpack_sbuffer_init(&m1);
    msgpack_sbuffer_init(&m2);
    msgpack_sbuffer_init(&m3);
    rh_pack_tx(&m1, &a, s1, 9001, NULL, NULL);
    pack_sim(&m2, 9002, &b, false, NULL, false);
    rh_pack_tx(&m3, &c, s2, 9003, NULL, NULL);
    CHECK(rh_send(dl, m1.data, m1.size) == 0);
    CHECK(rh_send(dl, m2.data, m2.size) == 0);
    CHECK(rh_send(dl, m3.data, m3.size) == 0);
    for (int i = 0; i < 3; i++) {
        CHECK(rh_recv(dl, &rp) == 0);
        uint64_t id = RH_U64(rp.root, "id");
        CHECK_OK(&rp);
        const msgpack_object *r = RH_MAP(rp.root, "result");
        if (id == 9002) { /* after a, before c: u1's next nonce is a's + 1, all it has moves */
            CHECK_FIELD(r, "nonce", before.nonce + 1);
            CHECK_FIELD(RH_MAP(r, "out"), "shares_moved", before.shares - 100);
        } else {
            CHECK(rh_get(r, "simulated") == NULL);
            CHECK_FIELD(r, "seq", before.seq + (id == 9001 ? 1 : 2));
        }
    }
    /* exactly the two real transfers are published, in order */
    rh_set_timeout(sub, 2000);
    for (uint64_t want = before.seq + 1; want <= before.seq + 2; want++) {
        CHECK(rh_recv_event(sub, topic, sizeof topic, &ev) == 0);
        CHECK_FIELD(ev.root, "seq", want);
    }
    rh_set_timeout(sub, 200);
    CHECK(rh_recv_event(sub, topic, sizeof topic, &ev) == -1);
    rh_reply_free(&ev);
    rh_close(sub);
    msgpack_sbuffer_destroy(&m1);
    msgpack_sbuffer_destroy(&m2);
    msgpack_sbuffer_destroy(&m3);
}

/* The flag is checked like any field; without it sig and nonce stay required. */
static void test_decoding(void)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ledger_tx t = transfer(&u1, &u2, 1);
    uint8_t sig[64] = {0};
    uint64_t id = rh_next_id();
    pack_sim(&buf, id, &t, true, sig, true); /* a str flag: wrong type */
    CHECK(rh_call(dl, &buf, id, &rp) == 0);
    CHECK_ERROR(&rp, "WRONG_TYPE");
    id = rh_next_id();
    pack_sim(&buf, id, &t, false, NULL, true); /* not a true flag: nonce stays required */
    CHECK(rh_call(dl, &buf, id, &rp) == 0);
    CHECK_ERROR(&rp, "MISSING_FIELD");
    rh_field f[] = {RH_BIN("signer", u1.pk, 32), RH_UINT("nonce", 1), RH_BIN("to", u2.pk, 32),
                    RH_UINT("shares", 1)};
    id = rh_next_id();
    rh_pack_map(&buf, id, "transfer", f, 4);
    CHECK(rh_call(dl, &buf, id, &rp) == 0);
    CHECK_ERROR(&rp, "MISSING_FIELD");
    msgpack_sbuffer_destroy(&buf);
}

/* health counts the simulations answered. */
static void test_counted(void)
{
    CHECK(rh_query(dl, &rp, "health", NULL, 0) == 0);
    const msgpack_object *c = RH_MAP(RH_MAP(rp.root, "result"), "counters");
    CHECK_FIELD(c, "simulations", 7); /* applied ones: not the bad signature */
}

int main(void)
{
    rh_init("test_rpc_simulate", 120);
    srv = rh_start(NULL);
    if (srv == NULL) {
        test_failures++;
        return test_finish("test_rpc_simulate");
    }
    dl = rh_dealer(srv);
    rh_reply_init(&rp);
    rh_keygen(&u1);
    rh_keygen(&u2);
    rh_keygen(&nobody);
    fund(&u1, 5000000);
    test_unsigned();
    test_signed();
    test_pipelined();
    test_decoding();
    test_counted();
    CHECK_U64(rh_stop(srv, SIGTERM, 20000), 0);
    rh_reply_free(&rp);
    rh_close(dl);
    rh_free(&srv);
    return test_finish("test_rpc_simulate");
}

/* test_rpc_rates.c - the rate_history query of a real lstd: entries, paging, restarts, rebuilds */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc_harness.h"
#include "test_util.h"

#define TOKEN 1000000000ull
#define WANT_MAX 16
#define ENTRY_BYTES 152 /* rpc_rates.c's layout: 15 u64 and the record hash */
#define HEADER_BYTES 64

/* One expected entry: the record's figures and the pool the query showed right after it. */
typedef struct want {
    uint64_t seq, batch, time, operator_id, gain, loss, assets, shares, unvested;
    const char *kind;
    bool vesting; /* U was vesting: compare A + U, not each */
} want;

static rh_server *srv;
static void *dl;
static rh_reply rp;
static want wants[WANT_MAX];
static int nwant;

/* Sign and send t by k with the next nonce; the reply must carry code. Returns: its result. */
static const msgpack_object *send_tx(ledger_tx *t, const rh_key *k, const char *code)
{
    t->nonce = 0;
    if (rh_submit(srv, dl, t, k, &rp, NULL) != 0) {
        test_failures++;
        return NULL;
    }
    CHECK_ANSWER(&rp, code);
    return RH_MAP(rp.root, "result");
}

static const msgpack_object *query(const char *op, const rh_field *f, size_t n)
{
    CHECK(rh_query(dl, &rp, op, f, n) == 0);
    CHECK_OK(&rp);
    return RH_MAP(rp.root, "result");
}

/* A report-like transaction (operator_id, epoch, balance) that must succeed and change the
 * rate: its entry is what the pool query shows right after (one transaction per batch). */
static void rate_tx(unsigned kind, const rh_key *k, uint64_t epoch, uint64_t balance,
                    const char *entry_kind, bool vesting)
{
    ledger_tx t = rh_tx(kind);
    rh_tx_u64(&t, "operator_id", 1), rh_tx_u64(&t, "epoch", epoch);
    rh_tx_u64(&t, "balance", balance);
    const msgpack_object *res = send_tx(&t, k, "OK");
    if (res == NULL || nwant == WANT_MAX)
        return;
    want *w = &wants[nwant++];
    const msgpack_object *out = RH_MAP(res, "out");
    *w = (want){.seq = RH_U64(res, "seq"),
                .batch = RH_U64(res, "batch"),
                .time = RH_U64(res, "time"),
                .operator_id = 1,
                .gain = RH_U64(out, "gain"),
                .loss = RH_U64(out, "loss"),
                .kind = entry_kind,
                .vesting = vesting};
    const msgpack_object *p = query("pool", NULL, 0);
    w->assets = RH_U64(p, "assets");
    w->shares = RH_U64(p, "shares");
    w->unvested = RH_U64(p, "unvested");
}

static void param(uint64_t num, uint64_t v)
{
    ledger_tx t = rh_tx(LEDGER_TX_PARAM_SET);
    rh_tx_u64(&t, "param", num), rh_tx_u64(&t, "value", v);
    send_tx(&t, &srv->admin, "OK");
}

/* A/S written as the pool's rate: 18 fractional digits, rounded down. */
static void rate_text(char out[64], uint64_t a, uint64_t s)
{
    __extension__ typedef unsigned __int128 u128;
    uint64_t frac = (uint64_t)((u128)(a % s) * 1000000000000000000u / s);
    snprintf(out, 64, "%" PRIu64 ".%018" PRIu64, a / s, frac);
}

/* Reports (a baseline, one held then accepted, a slash, a reset, gains within the limit, one
 * vesting), a transfer between them: the entries the ledger must list. */
static void make_history(void)
{
    rh_key alice;
    uint8_t ref[32] = {9};
    rh_keygen(&alice);
    param(LEDGER_PARAM_VEST_S, 0); /* rewards reach the rate at once: exact figures */
    param(LEDGER_PARAM_MAX_APR_BPS, 1000000);
    ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
    rh_tx_key(&t, "to", alice.pk), rh_tx_u64(&t, "amount", 100 * TOKEN);
    rh_tx_key(&t, "external_ref", ref);
    send_tx(&t, &srv->custodian, "OK");
    t = rh_tx(LEDGER_TX_OPERATOR_FUND);
    rh_tx_u64(&t, "operator_id", 1), rh_tx_u64(&t, "amount", 50 * TOKEN);
    send_tx(&t, &srv->custodian, "OK");
    rate_tx(LEDGER_TX_REPORT, &srv->operator_key, 10, 50 * TOKEN, "report", false);
    t = rh_tx(LEDGER_TX_REPORT); /* +20% at once: held, no rate change */
    rh_tx_u64(&t, "operator_id", 1), rh_tx_u64(&t, "epoch", 11);
    rh_tx_u64(&t, "balance", 60 * TOKEN);
    send_tx(&t, &srv->operator_key, "REPORT_APR_EXCEEDED");
    rate_tx(LEDGER_TX_REPORT_ACCEPT, &srv->admin, 11, 60 * TOKEN, "report_accept", false);
    t = rh_tx(LEDGER_TX_TRANSFER);
    rh_tx_key(&t, "to", srv->treasury.pk), rh_tx_u64(&t, "shares", TOKEN);
    send_tx(&t, &alice, "OK");
    rate_tx(LEDGER_TX_REPORT, &srv->operator_key, 12, 59 * TOKEN, "slash", false);
    rate_tx(LEDGER_TX_OPERATOR_RESET, &srv->admin, 13, 59 * TOKEN + TOKEN / 2, "operator_reset",
            false);
    rh_sleep_ms(1100); /* a gain within the limit needs batch time to have passed */
    rate_tx(LEDGER_TX_REPORT, &srv->operator_key, 14, 59 * TOKEN + TOKEN / 2 + 100000, "report",
            false);
    param(LEDGER_PARAM_VEST_S, 86400);
    rh_sleep_ms(1100);
    rate_tx(LEDGER_TX_REPORT, &srv->operator_key, 15, 59 * TOKEN + TOKEN / 2 + 200000, "report",
            true);
    CHECK_U64(nwant, 6);
    CHECK(wants[nwant - 1].unvested > 0);
}

/* One entry against its expectation. */
static void check_entry(const msgpack_object *e, const want *w)
{
    char rate[64];
    CHECK_KEYS(e, "seq", "batch", "time", "kind", "operator_id", "gain", "loss", "assets", "shares",
               "unvested", "rate");
    CHECK_FIELD(e, "seq", w->seq);
    CHECK_FIELD(e, "batch", w->batch);
    CHECK_FIELD(e, "time", w->time);
    CHECK_STR(e, "kind", w->kind);
    CHECK_FIELD(e, "operator_id", w->operator_id);
    CHECK_FIELD(e, "gain", w->gain);
    CHECK_FIELD(e, "loss", w->loss);
    CHECK_FIELD(e, "shares", w->shares);
    uint64_t a = RH_U64(e, "assets"), u = RH_U64(e, "unvested");
    if (w->vesting) { /* the query vested some of U into A since: A + U is what stays */
        CHECK_U64(a + u, w->assets + w->unvested);
        CHECK(u > 0);
    } else {
        CHECK_U64(a, w->assets);
        CHECK_U64(u, w->unvested);
    }
    rate_text(rate, a, w->shares);
    CHECK_STR(e, "rate", rate);
}

/* rate_history from `from`, limit: the entries must be wants[first..first+count), next as
 * given (0: nil). */
static void check_page(uint64_t from, uint64_t limit, int first, int count, uint64_t next)
{
    rh_field f[] = {RH_UINT("from", from), RH_UINT("limit", limit)};
    const msgpack_object *res = query("rate_history", f, 2);
    if (res == NULL)
        return;
    CHECK_KEYS(res, "entries", "next");
    const msgpack_object *list = RH_ARRAY(res, "entries");
    CHECK_U64(list != NULL ? list->via.array.size : 0, count);
    for (int i = 0; list != NULL && i < count && i < (int)list->via.array.size; i++)
        check_entry(&list->via.array.ptr[i], &wants[first + i]);
    if (next == 0)
        CHECK_NIL(res, "next");
    else
        CHECK_FIELD(res, "next", next);
}

/* The whole list, page by page and in one. */
static void check_all(void)
{
    check_page(0, 1000, 0, nwant, 0);
    for (int i = 0; i < nwant; i += 2) /* pages of 2, each next the last seq + 1 */
        check_page(i == 0 ? 0 : wants[i - 1].seq + 1, 2, i, nwant - i < 2 ? nwant - i : 2,
                   i + 2 < nwant ? wants[i + 1].seq + 1 : 0);
    check_page(wants[2].seq, 1, 2, 1, wants[2].seq + 1);     /* from is inclusive */
    check_page(wants[2].seq + 1, 1, 3, 1, wants[3].seq + 1); /* by seq, not by position */
    check_page(wants[nwant - 1].seq + 1, 10, 0, 0, 0);
    check_page(UINT64_MAX, 10, 0, 0, 0);
}

static void index_path(char *out, size_t size)
{
    snprintf(out, size, "%s/ledger/rate-index", srv->data_dir);
}

/* Overwrite n bytes of the index at off (negative: from its end). */
static void poke(long off, const void *bytes, size_t n)
{
    char path[700];
    index_path(path, sizeof path);
    int fd = open(path, O_WRONLY);
    off_t at = off >= 0 ? off : lseek(fd, 0, SEEK_END) + off;
    CHECK(fd >= 0 && pwrite(fd, bytes, n, at) == (ssize_t)n);
    close(fd);
}

static int rebuilds(const char *why)
{
    const char *line = "event=rate_index file=";
    char *log = test_read_file(srv->err_path);
    int n = 0;
    for (const char *p = log; (p = strstr(p, line)) != NULL; p += strlen(line))
        n += strstr(p, why) != NULL && strstr(p, "rebuilt=true") != NULL &&
             (strchr(p, '\n') == NULL || strstr(p, why) < strchr(p, '\n'));
    free(log);
    return n;
}

/* Restart and check the list is the same, and how many rebuilds the log names for why. */
static void restart(void)
{
    rh_close(dl);
    CHECK_U64(rh_stop(srv, SIGTERM, 10000), 0);
    CHECK(rh_launch(srv) == 0);
    dl = rh_dealer(srv);
    check_all();
}

static void test_restarts(void)
{
    char path[700];
    index_path(path, sizeof path);
    restart(); /* kept across a clean restart, no rebuild */
    CHECK_U64(rebuilds("why="), 0);
    CHECK(unlink(path) == 0);
    restart(); /* missing: rebuilt by replaying the log */
    CHECK_U64(rebuilds("why=missing"), 1);
    poke(0, "lstdXXXX", 8);
    restart();
    CHECK_U64(rebuilds("why=\"not a rate index of this version\""), 1);
    uint8_t zero[8] = {0};
    poke(-32, zero, 8); /* the last entry's record hash */
    restart();
    CHECK_U64(rebuilds("is not the log's record"), 1);
    /* an entry beyond the log (its batch never became durable) is dropped, no rebuild */
    uint8_t fake[ENTRY_BYTES] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    poke(HEADER_BYTES + ENTRY_BYTES * nwant, fake, sizeof fake);
    uint8_t half[ENTRY_BYTES / 2] = {1}; /* and a torn append after it */
    poke(HEADER_BYTES + ENTRY_BYTES * (nwant + 1), half, sizeof half);
    restart();
    CHECK_U64(rebuilds("why="), 3);
}

int main(void)
{
    rh_init("test_rpc_rates", 120);
    srv = rh_prepare(NULL);
    snprintf(srv->err_path, sizeof srv->err_path, "%s/stderr.txt", srv->dir);
    CHECK(rh_launch(srv) == 0);
    dl = rh_dealer(srv);
    rh_reply_init(&rp);
    make_history();
    check_all();
    rh_field bad[] = {RH_UINT("limit", 0)};
    CHECK(rh_query(dl, &rp, "rate_history", bad, 1) == 0);
    CHECK_ERROR(&rp, "OUT_OF_RANGE");
    bad[0] = RH_UINT("limit", 1001);
    CHECK(rh_query(dl, &rp, "rate_history", bad, 1) == 0);
    CHECK_ERROR(&rp, "OUT_OF_RANGE");
    test_restarts();
    rh_reply_free(&rp);
    rh_close(dl);
    CHECK_U64(rh_stop(srv, SIGTERM, 10000), 0);
    rh_free(&srv);
    return test_finish("test_rpc_rates");
}

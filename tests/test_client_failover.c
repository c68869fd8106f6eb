/* test_client_failover.c - the C client's endpoint lists: NOT_LEADER, failover, NO_QUORUM */
#include <stdlib.h>
#include <string.h>

#include "fake_router.h"
#include "lst_client.h"
#include "rpc_harness.h"
#include "test_util.h"

#define TIMEOUT_MS 20000 /* far beyond any answer: only a refusal or silence ends a wait */
#define NOWHERE "tcp://127.0.0.1:1" /* nothing listens there */
#define WINDOW 6

static lst_key signer;

static fake_router *start(int role, const char *leader, fake_book *book)
{
    fake_config cfg = {.role = role, .leader = leader, .book = book};
    return fake_start(&cfg);
}

/* "a,b[,c]" into buf. */
static const char *list_of(char *buf, size_t size, const char *a, const char *b, const char *c)
{
    snprintf(buf, size, "%s,%s%s%s", a, b, c != NULL ? "," : "", c != NULL ? c : "");
    return buf;
}

static lst_client *client(const char *endpoints, int timeout_ms)
{
    lst_client *c = NULL;
    CHECK(lst_client_new(&c, endpoints, NULL, timeout_ms) == LST_OK);
    if (c == NULL)
        abort();
    return c;
}

/* A transfer of n shares to the signer itself, nonce as given (0: the next one). */
static int transfer(lst_client *c, uint64_t nonce, lst_result *res)
{
    lst_tx tx;
    lst_tx_transfer(&tx, signer.pubkey, 1);
    tx.nonce = nonce;
    return lst_submit(c, &signer, &tx, res);
}

/* The i-th transaction f received has this nonce; out: its bytes (the caller frees). */
static char *tx_bytes_at(fake_router *f, size_t i, uint64_t want_nonce, size_t *size, int line)
{
    uint64_t nonce = 0;
    char *bytes = NULL;
    if (!fake_tx_at(f, i, &nonce, &bytes, size) || nonce != want_nonce) {
        fprintf(stderr, "%s:%d: transaction %zu at %s: nonce %" PRIu64 ", want %" PRIu64 "\n",
                __FILE__, line, i, fake_endpoint(f), nonce, want_nonce);
        test_failures++;
    }
    return bytes;
}

static void test_list_parsing(void)
{
    lst_client *c = NULL;
    char nine[9 * 24 + 1] = "";
    for (int i = 0; i < 9; i++)
        snprintf(nine + strlen(nine), sizeof nine - strlen(nine), "%stcp://127.0.0.1:%d",
                 i ? "," : "", 7450 + i);
    CHECK(lst_client_new(&c, nine, NULL, 100) == LST_ERR_USAGE && c == NULL);
    strrchr(nine, ',')[0] = '\0'; /* eight entries: fine */
    CHECK(lst_client_new(&c, nine, "tcp://127.0.0.1:7441,tcp://127.0.0.1:7451", 100) == LST_OK);
    CHECK(c != NULL && strcmp(lst_client_endpoint(c), "tcp://127.0.0.1:7450") == 0);
    CHECK(c != NULL && lst_client_switches(c) == 0 && strcmp(lst_client_leader(c), "") == 0);
    lst_client_destroy(&c);
    CHECK(lst_client_new(&c, "tcp://127.0.0.1:7450,", NULL, 100) == LST_ERR_USAGE);
    CHECK(lst_client_new(&c, ",tcp://127.0.0.1:7450", NULL, 100) == LST_ERR_USAGE);
    CHECK(lst_client_new(&c, "tcp://127.0.0.1:7450,,tcp://127.0.0.1:7460", NULL, 100) ==
          LST_ERR_USAGE);
    CHECK(lst_client_new(&c, "tcp://127.0.0.1:7450", "tcp://127.0.0.1:7441,", 100) ==
          LST_ERR_USAGE);
    CHECK(lst_client_new(&c, "tcp://127.0.0.1:7450,no-such-transport", NULL, 100) ==
          LST_ERR_CONNECT);
    CHECK(c == NULL);
}

/* (a) A follower names B: the call succeeds at B; each saw the transaction once, same bytes. */
static void test_follow_leader(void)
{
    fake_book book;
    char list[200];
    lst_result res;
    size_t sa = 0, sb = 0;
    fake_book_init(&book);
    fake_router *b = start(FAKE_LEADER, NULL, &book);
    fake_router *a = start(FAKE_FOLLOWER, fake_endpoint(b), &book);
    lst_client *c =
        client(list_of(list, sizeof list, fake_endpoint(a), fake_endpoint(b), NULL), TIMEOUT_MS);
    int rc = transfer(c, 0, &res);
    CHECK_CODE(rc, LST_OK);
    if (rc != LST_OK)
        fprintf(stderr, "  %s\n", lst_client_error(c));
    CHECK(res.ok && res.recorded && !res.duplicate && res.nonce == 1);
    CHECK_STR_EQ(lst_client_endpoint(c), fake_endpoint(b));
    CHECK_U64(lst_client_switches(c), 1);
    CHECK_STR_EQ(lst_client_leader(c), fake_endpoint(b));
    CHECK_U64(fake_tx_count(a), 1);
    CHECK_U64(fake_tx_count(b), 1);
    char *ba = tx_bytes_at(a, 0, 1, &sa, __LINE__), *bb = tx_bytes_at(b, 0, 1, &sb, __LINE__);
    CHECK(ba != NULL && bb != NULL && sa == sb && memcmp(ba, bb, sa) == 0);
    free(ba);
    free(bb);
    lst_client_destroy(&c);
    /* list A, D, B with A naming B: straight to B, past D (which sees nothing) */
    fake_router *d = start(FAKE_LEADER, NULL, &book);
    c = client(list_of(list, sizeof list, fake_endpoint(a), fake_endpoint(d), fake_endpoint(b)),
               TIMEOUT_MS);
    CHECK_CODE(transfer(c, 0, &res), LST_OK);
    CHECK(res.ok && res.nonce == 2);
    CHECK_STR_EQ(lst_client_endpoint(c), fake_endpoint(b));
    CHECK_U64(lst_client_switches(c), 1);
    CHECK_U64(fake_tx_count(d), 0);
    CHECK_U64(fake_tx_count(b), 2);
    lst_client_destroy(&c);
    fake_stop(&d);
    fake_stop(&a);
    fake_stop(&b);
}

/* (b) A follower that knows no leader (nil): the next entry. */
static void test_no_leader_known(void)
{
    fake_book book;
    char list[200];
    lst_result res;
    fake_book_init(&book);
    fake_router *a = start(FAKE_FOLLOWER, NULL, &book), *b = start(FAKE_LEADER, NULL, &book);
    lst_client *c =
        client(list_of(list, sizeof list, fake_endpoint(a), fake_endpoint(b), NULL), TIMEOUT_MS);
    CHECK_CODE(transfer(c, 0, &res), LST_OK);
    CHECK(res.ok && res.nonce == 1);
    CHECK_STR_EQ(lst_client_endpoint(c), fake_endpoint(b));
    CHECK_STR_EQ(lst_client_leader(c), "");
    CHECK_U64(fake_tx_count(a), 1);
    CHECK_U64(fake_tx_count(b), 1);
    lst_client_destroy(&c);
    fake_stop(&a);
    fake_stop(&b);
}

/* (c) A hint outside the list is never followed: the client goes to the next entry, and the
 * hinted server (a leader that would answer) never sees a connection. */
static void test_hint_outside_list(void)
{
    fake_book book;
    char list[200];
    lst_result res;
    fake_book_init(&book);
    fake_router *stranger = start(FAKE_LEADER, NULL, &book);
    fake_router *a = start(FAKE_FOLLOWER, fake_endpoint(stranger), &book);
    fake_router *b = start(FAKE_LEADER, NULL, &book);
    lst_client *c =
        client(list_of(list, sizeof list, fake_endpoint(a), fake_endpoint(b), NULL), TIMEOUT_MS);
    CHECK_CODE(transfer(c, 0, &res), LST_OK);
    CHECK(res.ok);
    CHECK_STR_EQ(lst_client_endpoint(c), fake_endpoint(b));
    CHECK_STR_EQ(lst_client_leader(c), fake_endpoint(stranger)); /* seen, not followed */
    CHECK_U64(fake_tx_count(b), 1);
    CHECK_U64(fake_tx_count(stranger), 0);
    CHECK_U64(fake_accepted(stranger), 0);
    lst_client_destroy(&c);
    fake_stop(&a);
    fake_stop(&b);
    fake_stop(&stranger);
}

/* (d) Every entry a follower (naming each other, or nobody): NOT_LEADER after 2 x n moves. */
static void test_all_followers(void)
{
    fake_book book;
    char list[300];
    lst_result res;
    fake_book_init(&book);
    fake_router *a = start(FAKE_FOLLOWER, NULL, &book), *b = start(FAKE_FOLLOWER, NULL, &book);
    fake_router *d = start(FAKE_FOLLOWER, NULL, &book);
    lst_client *c =
        client(list_of(list, sizeof list, fake_endpoint(a), fake_endpoint(b), fake_endpoint(d)),
               TIMEOUT_MS);
    CHECK_CODE(transfer(c, 0, &res), LST_ERR_REJECTED);
    CHECK_STR_EQ(res.error, "NOT_LEADER");
    CHECK(!res.ok && !res.recorded);
    CHECK_U64(lst_client_switches(c), 6); /* 2 x 3 entries: A B D A B D A */
    CHECK_U64(fake_tx_count(a) + fake_tx_count(b) + fake_tx_count(d), 7);
    CHECK_U64(fake_tx_count(a), 3);
    CHECK(strstr(lst_client_error(c), "NOT_LEADER") != NULL);
    lst_client_destroy(&c);
    fake_stop(&a);
    fake_stop(&b);
    fake_stop(&d);
    /* A names B, B knows no leader: A B A B A, bounded the same way */
    fake_book_init(&book);
    b = start(FAKE_FOLLOWER, NULL, &book);
    a = start(FAKE_FOLLOWER, fake_endpoint(b), &book);
    c = client(list_of(list, sizeof list, fake_endpoint(a), fake_endpoint(b), NULL), TIMEOUT_MS);
    CHECK_CODE(transfer(c, 0, &res), LST_ERR_REJECTED);
    CHECK_STR_EQ(res.error, "NOT_LEADER");
    CHECK_U64(lst_client_switches(c), 4);
    CHECK_U64(fake_tx_count(a), 3);
    CHECK_U64(fake_tx_count(b), 2);
    lst_client_destroy(&c);
    fake_stop(&a);
    fake_stop(&b);
}

/* (e) The first entry not listening at all: the next one answers. Also a silent first entry
 * (connected, never answers): the timeout moves the client on. */
static void test_unreachable_first(void)
{
    fake_book book;
    char list[200];
    lst_result res;
    fake_book_init(&book);
    fake_router *b = start(FAKE_LEADER, NULL, &book);
    lst_client *c = client(list_of(list, sizeof list, NOWHERE, fake_endpoint(b), NULL), TIMEOUT_MS);
    CHECK_CODE(transfer(c, 0, &res), LST_OK);
    CHECK(res.ok && res.nonce == 1);
    CHECK_STR_EQ(lst_client_endpoint(c), fake_endpoint(b));
    CHECK_U64(lst_client_switches(c), 1);
    lst_client_destroy(&c);
    /* one entry, nothing listening: exactly as without a list */
    c = client(NOWHERE, TIMEOUT_MS);
    CHECK_CODE(transfer(c, 0, &res), LST_ERR_CONNECT);
    CHECK(strstr(lst_client_error(c), "nothing listening") != NULL);
    CHECK_U64(lst_client_switches(c), 0);
    lst_client_destroy(&c);
    fake_router *silent = start(FAKE_SILENT, NULL, &book);
    c = client(list_of(list, sizeof list, fake_endpoint(silent), fake_endpoint(b), NULL), 300);
    CHECK_CODE(transfer(c, 0, &res), LST_OK);
    CHECK(res.ok && res.nonce == 2);
    CHECK_STR_EQ(lst_client_endpoint(c), fake_endpoint(b));
    CHECK_U64(fake_tx_count(silent), 1);
    lst_client_destroy(&c);
    fake_stop(&silent);
    fake_stop(&b);
}

/* (f) A pipelined window: A answers two as the leader, then NOT_LEADER naming B; the whole
 * unanswered tail goes to B in order, where the first of it gets BUSY, then all apply once. */
static void test_pipeline_moves(void)
{
    fake_book book;
    char list[200];
    lst_result res;
    fake_book_init(&book);
    fake_config bc = {.role = FAKE_LEADER, .busy_first = 1, .book = &book};
    fake_router *b = fake_start(&bc);
    fake_config ac = {
        .role = FAKE_FOLLOWER, .leader = fake_endpoint(b), .lead_first = 2, .book = &book};
    fake_router *a = fake_start(&ac);
    lst_client *c =
        client(list_of(list, sizeof list, fake_endpoint(a), fake_endpoint(b), NULL), TIMEOUT_MS);
    for (int i = 0; i < WINDOW; i++) {
        lst_tx tx;
        lst_tx_transfer(&tx, signer.pubkey, 1);
        CHECK_CODE(lst_send(c, &signer, &tx, NULL), LST_OK);
    }
    for (uint64_t want = 1; want <= WINDOW; want++) {
        int rc = lst_poll(c, TIMEOUT_MS, &res);
        CHECK_CODE(rc, LST_OK);
        if (rc != LST_OK)
            fprintf(stderr, "  %s %s\n", res.error, lst_client_error(c));
        CHECK(res.ok && res.recorded && !res.duplicate);
        CHECK_U64(res.nonce, want);
    }
    CHECK_U64(lst_pending(c), 0);
    CHECK_U64(lst_client_switches(c), 1);
    CHECK_STR_EQ(lst_client_endpoint(c), fake_endpoint(b));
    pthread_mutex_lock(&book.mu);
    CHECK_U64(book.next_nonce, WINDOW + 1); /* each applied once */
    pthread_mutex_unlock(&book.mu);
    CHECK_U64(fake_tx_count(a), WINDOW);
    /* at B: the tail 3..6 in order, resent byte for byte; then (BUSY for 3) 3 alone, the rest */
    for (size_t i = 0; i < WINDOW - 2; i++) {
        size_t sa = 0, sb = 0;
        char *ba = tx_bytes_at(a, i + 2, i + 3, &sa, __LINE__);
        char *bb = tx_bytes_at(b, i, i + 3, &sb, __LINE__);
        CHECK(ba != NULL && bb != NULL && sa == sb && memcmp(ba, bb, sa) == 0);
        free(ba);
        free(bb);
        free(tx_bytes_at(b, i + WINDOW - 2, i + 3, &sb, __LINE__));
    }
    CHECK_U64(fake_tx_count(b), 2 * (WINDOW - 2));
    lst_client_destroy(&c);
    fake_stop(&a);
    fake_stop(&b);
}

/* (f) The pipelined path when every entry is a follower: each completes NOT_LEADER. */
static void test_pipeline_all_followers(void)
{
    fake_book book;
    char list[200];
    lst_result res;
    fake_book_init(&book);
    fake_router *a = start(FAKE_FOLLOWER, NULL, &book), *b = start(FAKE_FOLLOWER, NULL, &book);
    lst_client *c =
        client(list_of(list, sizeof list, fake_endpoint(a), fake_endpoint(b), NULL), TIMEOUT_MS);
    for (int i = 0; i < 3; i++) {
        lst_tx tx;
        lst_tx_transfer(&tx, signer.pubkey, 1);
        CHECK_CODE(lst_send(c, &signer, &tx, NULL), LST_OK);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_CODE(lst_poll(c, TIMEOUT_MS, &res), LST_ERR_REJECTED);
        CHECK_STR_EQ(res.error, "NOT_LEADER");
    }
    CHECK_U64(lst_pending(c), 0);
    CHECK(lst_client_switches(c) >= 4 && lst_client_switches(c) <= 3 * 4);
    lst_client_destroy(&c);
    fake_stop(&a);
    fake_stop(&b);
}

/* (g) NO_QUORUM twice, then applied: at the same endpoint, after a backoff, no move. */
static void test_no_quorum(void)
{
    fake_book book;
    char list[200];
    lst_result res;
    fake_book_init(&book);
    fake_config ac = {.role = FAKE_LEADER, .no_quorum_first = 2, .book = &book};
    fake_router *a = fake_start(&ac), *b = start(FAKE_LEADER, NULL, &book);
    lst_client *c =
        client(list_of(list, sizeof list, fake_endpoint(a), fake_endpoint(b), NULL), TIMEOUT_MS);
    CHECK_CODE(transfer(c, 0, &res), LST_OK);
    CHECK(res.ok && res.nonce == 1 && !res.duplicate);
    CHECK_U64(fake_tx_count(a), 3);
    CHECK_U64(fake_tx_count(b), 0);
    CHECK_U64(lst_client_switches(c), 0);
    lst_client_destroy(&c);
    /* NO_QUORUM that persists: returned once the busy retries are spent */
    fake_config nc = {.role = FAKE_LEADER, .no_quorum_first = 100, .book = &book};
    fake_router *n = fake_start(&nc);
    c = client(fake_endpoint(n), TIMEOUT_MS);
    lst_client_set_busy_retries(c, 2);
    CHECK_CODE(transfer(c, 0, &res), LST_ERR_REJECTED);
    CHECK_STR_EQ(res.error, "NO_QUORUM");
    CHECK_U64(fake_tx_count(n), 3);
    lst_client_destroy(&c);
    fake_stop(&n);
    fake_stop(&a);
    fake_stop(&b);
}

int main(void)
{
    rh_init("test_client_failover", 120);
    rh_key k;
    rh_keygen(&k);
    memcpy(signer.secret, k.sk, 32);
    memcpy(signer.pubkey, k.pk, 32);
    test_list_parsing();
    test_follow_leader();
    test_no_leader_known();
    test_hint_outside_list();
    test_all_followers();
    test_unreachable_first();
    test_pipeline_moves();
    test_pipeline_all_followers();
    test_no_quorum();
    return test_finish("test_client_failover");
}

/* test_rpc_topics.c - subscriptions: prefix matching against a model, limits, removal */
#include <stdlib.h>
#include <string.h>

#include "rpc_topics.h"
#include "test_util.h"

#define SUBS 6
#define PER 5

static const char *const pool[] = {
    "",      "tx/",        "tx/transfer/", "tx/transfer", "tx/transfer_from/",
    "acct/", "acct/00aa/", "acct/00",      "a",           "zzz"};
#define NPOOL (sizeof pool / sizeof pool[0])

static const char *const topics[] = {"tx/transfer/", "tx/transfer_from/", "acct/00aa/",
                                     "acct/00bb/", "tx/report/"};

/* The model: held[sub][i] true when sub holds pool[i]. */
static bool held[SUBS][NPOOL];

static bool model_match(unsigned sub, const char *topic)
{
    for (size_t i = 0; i < NPOOL; i++)
        if (held[sub][i] && strncmp(topic, pool[i], strlen(pool[i])) == 0)
            return true;
    return false;
}

static unsigned model_count(unsigned sub)
{
    unsigned n = 0;
    for (size_t i = 0; i < NPOOL; i++)
        n += held[sub][i];
    return n;
}

static void check_against_model(rpc_topics *t)
{
    uint64_t total = 0;
    for (unsigned s = 0; s < SUBS; s++)
        total += model_count(s);
    CHECK_U64(rpc_topics_count(t), total);
    for (size_t k = 0; k < sizeof topics / sizeof topics[0]; k++) {
        unsigned subs[SUBS];
        bool got[SUBS] = {false};
        size_t n = rpc_topics_match(t, (const uint8_t *)topics[k], strlen(topics[k]), subs);
        for (size_t i = 0; i < n; i++) {
            CHECK(!got[subs[i]]); /* each once */
            got[subs[i]] = true;
        }
        for (unsigned s = 0; s < SUBS; s++)
            if (got[s] != model_match(s, topics[k])) {
                fprintf(stderr, "topic %s: subscriber %u got %d, model %d\n", topics[k], s, got[s],
                        model_match(s, topics[k]));
                test_failures++;
            }
    }
}

static void test_model(void)
{
    rpc_topics *t;
    test_rng seed;
    test_rng_seed(&seed, test_seed());
    CHECK(rpc_topics_new(&t, SUBS, PER) == 0);
    for (int step = 0; step < 20000 && test_failures == 0; step++) {
        unsigned s = (unsigned)(test_rng_below(&seed, SUBS));
        size_t i = (size_t)(test_rng_below(&seed, NPOOL));
        const uint8_t *p = (const uint8_t *)pool[i];
        size_t len = strlen(pool[i]);
        switch (test_rng_below(&seed, 4)) {
        case 0:
        case 1: {
            int rc = rpc_topics_add(t, s, p, len);
            int want = held[s][i]              ? RPC_TOPICS_HAD
                       : model_count(s) >= PER ? RPC_TOPICS_TOO_MANY
                                               : RPC_TOPICS_ADDED;
            CHECK_U64(rc, want);
            held[s][i] = held[s][i] || rc == RPC_TOPICS_ADDED;
            break;
        }
        case 2:
            CHECK(rpc_topics_remove(t, s, p, len) == held[s][i]);
            held[s][i] = false;
            break;
        default:
            if (test_rng_below(&seed, 16) == 0) {
                rpc_topics_remove_all(t, s);
                memset(held[s], 0, sizeof held[s]);
            }
        }
        check_against_model(t);
    }
    rpc_topics_free(&t);
    CHECK(t == NULL);
}

/* A subscription longer than any topic is refused; many distinct ones grow the table. */
static void test_limits(void)
{
    rpc_topics *t;
    uint8_t topic[RPC_TOPIC_MAX + 1];
    memset(topic, 'a', sizeof topic);
    CHECK(rpc_topics_new(&t, 2, 5000) == 0);
    CHECK_U64(rpc_topics_add(t, 0, topic, RPC_TOPIC_MAX + 1), RPC_TOPICS_TOO_LONG);
    CHECK_U64(rpc_topics_add(t, 0, topic, RPC_TOPIC_MAX), RPC_TOPICS_ADDED);
    CHECK(!rpc_topics_remove(t, 0, topic, RPC_TOPIC_MAX + 1));
    for (unsigned i = 0; i < 4000; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "acct/%u/", i);
        CHECK_U64(rpc_topics_add(t, 1, (const uint8_t *)name, (size_t)n), RPC_TOPICS_ADDED);
    }
    unsigned subs[2];
    CHECK_U64(rpc_topics_match(t, (const uint8_t *)"acct/3999/", 10, subs), 1);
    CHECK_U64(rpc_topics_match(t, (const uint8_t *)"acct/4000/", 10, subs), 0);
    CHECK_U64(rpc_topics_count(t), 4001);
    rpc_topics_remove_all(t, 1);
    CHECK_U64(rpc_topics_count(t), 1);
    CHECK_U64(rpc_topics_match(t, (const uint8_t *)"acct/3999/", 10, subs), 0);
    rpc_topics_free(&t);
}

int main(void)
{
    test_model();
    test_limits();
    return test_finish("test_rpc_topics");
}

/* test_rpc_names.c - "did you mean": the closest-name rule, lstd's flags and config keys */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lst_client.h"
#include "rpc_config.h"
#include "test_util.h"

#define RUN_TIMEOUT_MS 10000

static char *work; /* scratch directory: config files */

static const char *closest(const char *word, const char *const *names, size_t n)
{
    return rpc_closest_name(word, names, n);
}

/* The rule: at most 2 edits (insert, delete, replace, swap neighbours), case ignored, fewer
 * edits than the word has characters, the first of equally close names. */
static void test_rule(void)
{
    static const char *const names[] = {"batch-max", "queue-max", "vest_s",
                                        "tx",        "transfer",  "transfer_from"};
    const size_t n = sizeof names / sizeof names[0];
    struct {
        const char *word, *want;
    } cases[] = {
        {"batch-max", "batch-max"},   /* 0 edits */
        {"BATCH-MAX", "batch-max"},   /* case */
        {"batch-maxx", "batch-max"},  /* insert */
        {"batch-ma", "batch-max"},    /* delete */
        {"batch_max", "batch-max"},   /* replace */
        {"bacth-max", "batch-max"},   /* swap */
        {"bacth_max", "batch-max"},   /* swap + replace */
        {"vest", "vest_s"},           /* 2 deletes */
        {"queue-maxxx", "queue-max"}, /* 2 inserts */
        {"queue-maxxxx", NULL},       /* 3 */
        {"btach-mxa", "batch-max"},   /* 2 swaps */
        {"btach-mxa-", NULL},         /* 2 swaps and an insert */
        {"ab", NULL},                 /* 2 edits from "tx", but only 2 characters */
        {"t", NULL},
        {"tz", "tx"},
        {"", NULL},
        {"transfr", "transfer"},
        {"transfer_frm", "transfer_from"},
        {"a-name-much-longer-than-any-known-one-and-longer-than-sixty-four-characters-too", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = closest(cases[i].word, names, n);
        bool ok =
            cases[i].want == NULL ? got == NULL : got != NULL && strcmp(got, cases[i].want) == 0;
        if (!ok) {
            fprintf(stderr, "test_rpc_names: closest(\"%s\") = %s, want %s\n", cases[i].word,
                    got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
            test_failures++;
        }
    }
    /* ties: the first listed */
    static const char *const tie[] = {"abcd", "abce"};
    CHECK(closest("abcf", tie, 2) == tie[0]);
    CHECK(closest("abcf", NULL, 0) == NULL);
    /* the client library's copy is the same rule */
    CHECK(lst_closest_name("transfr", names, n) == names[4]);
    CHECK(lst_closest_name("ab", names, n) == NULL);
}

/* Parse flags in-process. Returns: rpc_config_parse_args's result; err the message. */
static int parse(const char *const *args, char *err, size_t size)
{
    rpc_config cfg;
    char *argv[16] = {(char *)"lstd"};
    int argc = 1;
    for (; args[argc - 1] != NULL && argc < 15; argc++)
        argv[argc] = (char *)args[argc - 1];
    err[0] = '\0';
    rpc_config_defaults(&cfg);
    return rpc_config_parse_args(&cfg, argc, argv, err, size);
}

static void check_parse(const char *const *args, const char *says, int line)
{
    char err[1024];
    int rc = parse(args, err, sizeof err);
    if (says == NULL ? rc != 0 : rc == 0 || strstr(err, says) == NULL) {
        fprintf(stderr, "%s:%d: rc %d, message \"%s\", want %s\"%s\"\n", __FILE__, line, rc, err,
                says ? "one with " : "success, ", says ? says : "");
        test_failures++;
    }
}
#define CHECK_PARSE(says, ...)                                                                     \
    check_parse((const char *const[]){__VA_ARGS__, NULL}, (says), __LINE__)

static const char *config_file(const char *text)
{
    static char path[600];
    static unsigned files;
    snprintf(path, sizeof path, "%s/c%u.conf", work, ++files);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
    return path;
}

static void test_flags_and_keys(void)
{
    CHECK_PARSE("--batch-maxx: unknown flag; did you mean --batch-max? (see --help)",
                "--batch-maxx", "5");
    CHECK_PARSE("did you mean --batch-max?", "--batch-maxx"); /* also without a value */
    CHECK_PARSE("did you mean --version?", "-version");
    CHECK_PARSE("did you mean --dev?", "--deb");
    CHECK_PARSE("did you mean --config?", "--confg", "x");
    CHECK_PARSE("--no-such-flag: unknown flag (see --help)", "--no-such-flag", "1");
    CHECK_PARSE("--batch-max needs a value", "--batch-max");
    CHECK_PARSE("--batch-max 0: bad value", "--batch-max", "0");
    CHECK_PARSE("did you mean `lstd init`?", "int");
    CHECK_PARSE("serve: unexpected argument (see --help)", "serve");
    /* a genesis key is not a flag: no suggestion of a key the command line cannot take */
    CHECK_PARSE("--vest_s: unknown flag (see --help)", "--vest_s", "1");
    CHECK_PARSE(NULL, "--batch-max", "5", "--version", "--dev");

    const char *path = config_file("# typo\nvest = 1\n");
    char want[800];
    snprintf(want, sizeof want, "%s:2: unknown key 'vest'; did you mean vest_s?", path);
    CHECK_PARSE(want, "--config", path);
    /* one spelling per setting: batch_max in a file, --batch-max as a flag */
    path = config_file("batch-max = 5\n");
    CHECK_PARSE("unknown key 'batch-max'; did you mean batch_max?", "--config", path);
    CHECK_PARSE("--batch_max: unknown flag; did you mean --batch-max? (see --help)", "--batch_max",
                "5");
    CHECK_PARSE("did you mean --log-level?", "--log_level", "debug");
    CHECK_PARSE("--log-level loud: bad value", "--log-level", "loud");
    CHECK_PARSE(NULL, "--log-level", "debug", "--log-file", "/dev/null");
    path = config_file("log_level = warn\nlog_file = /tmp/x.log\nbatch_max = 7\n");
    CHECK_PARSE(NULL, "--config", path);
    path = config_file("ADMIN = 00\n");
    CHECK_PARSE("unknown key 'ADMIN'; did you mean admin?", "--config", path);
    path = config_file("dev = 1\n"); /* a flag only, never a key */
    CHECK_PARSE("unknown key 'dev'", "--config", path);
    path = config_file("colour = blue\n");
    snprintf(want, sizeof want, "%s:1: unknown key 'colour'", path);
    CHECK_PARSE(want, "--config", path);
    char err[1024];
    CHECK(parse((const char *const[]){"--config", path, NULL}, err, sizeof err) != 0 &&
          strstr(err, "did you mean") == NULL);
}

/* Every key rpc_config.c accepts (each `strcmp(key, "NAME")` in the functions that set them,
 * and every parameter) is suggested for a typo of it: as a config key, and a service key also
 * as a flag. So a key added to the code but not to the suggestion lists fails here. */
static void test_every_key_suggested(void)
{
    static const struct {
        const char *fn;
        bool flag;
    } fns[] = {{"static int set_service(", true},
               {"static int set_genesis_identity(", false},
               {"static int set_genesis_setting(", false}};
    char *src = test_read_file(LSTD_SOURCE_DIR "/rpc/rpc_config.c");
    int found = 0;
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        const char *body = strstr(src, fns[f].fn);
        const char *end = body != NULL ? strstr(body, "\n}\n") : NULL;
        CHECK(body != NULL && end != NULL);
        for (const char *p = body; p != NULL && p < end; p++) {
            if (strncmp(p, "strcmp(key, \"", 13) != 0)
                continue;
            char name[64], line[128], want[160];
            const char *q = p + 13, *close_quote = strchr(q, '"');
            if (close_quote == NULL || close_quote - q > 60)
                break;
            snprintf(name, sizeof name, "%.*s", (int)(close_quote - q), q);
            found++;
            snprintf(line, sizeof line, "%sx = 1\n", name);
            snprintf(want, sizeof want, "unknown key '%sx'; did you mean %s?", name, name);
            CHECK_PARSE(want, "--config", config_file(line));
            if (fns[f].flag) { /* the flag: the key with '-' for '_' */
                char flag[64];
                for (size_t i = 0; i < sizeof flag; i++)
                    if ((flag[i] = name[i] == '_' ? '-' : name[i]) == '\0')
                        break;
                snprintf(line, sizeof line, "--%sx", flag);
                snprintf(want, sizeof want, "did you mean --%s?", flag);
                CHECK_PARSE(want, line, "1");
            }
        }
    }
    CHECK(found >= 7 + 5 + 4);
    free(src);
    for (unsigned p = 1; p < LEDGER_PARAM_COUNT; p++) {
        char name[48], line[128], want[160];
        const char *upper = ledger_param_name(p);
        size_t i = 0;
        for (; upper[i] != '\0' && i < sizeof name - 1; i++)
            name[i] = (char)(upper[i] >= 'A' && upper[i] <= 'Z' ? upper[i] - 'A' + 'a' : upper[i]);
        name[i] = '\0';
        snprintf(line, sizeof line, "%.*s = 1\n", (int)i - 1, name); /* the last letter lost */
        snprintf(want, sizeof want, "did you mean %s?", name);
        CHECK_PARSE(want, "--config", config_file(line));
    }
}

/* The binary: a usage error is exit 2 with the suggestion on stderr. */
static void test_binary(void)
{
    char *err = NULL;
    int code = test_run((const char *const[]){LSTD_BINARY, "--batch-maxx", "5", NULL},
                        RUN_TIMEOUT_MS, NULL, &err);
    CHECK_U64(code, 2);
    CHECK(
        strcmp(err, "lstd: --batch-maxx: unknown flag; did you mean --batch-max? (see --help)\n") ==
        0);
    free(err);
    const char *path = config_file("vest = 1\n");
    code = test_run((const char *const[]){LSTD_BINARY, "init", "--config", path, NULL},
                    RUN_TIMEOUT_MS, NULL, &err);
    CHECK_U64(code, 2);
    CHECK(strstr(err, "unknown key 'vest'; did you mean vest_s?") != NULL);
    free(err);
}

int main(void)
{
    work = test_tmpdir("lstd-names");
    test_rule();
    test_flags_and_keys();
    test_every_key_suggested();
    test_binary();
    test_rmtree(work);
    free(work);
    return test_finish("test_rpc_names");
}

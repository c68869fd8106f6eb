/* test_docs.c - ledger/README.md and PROTOCOL.md name every error code, kind, field, parameter;
 * README.md's metrics table, RUNBOOK.md and the Grafana dashboard name the metrics lstd serves */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "rpc_metrics.h"
#include "test_util.h"

/* `name` must appear in backquotes, as the spec writes identifiers. */
static void check_named_in(const char *doc, const char *doc_name, const char *name)
{
    char quoted[96];
    snprintf(quoted, sizeof quoted, "`%s`", name);
    if (strstr(doc, quoted) == NULL) {
        fprintf(stderr, "%s does not mention %s\n", doc_name, quoted);
        test_failures++;
    }
}

static void check_named(const char *doc, const char *name)
{
    check_named_in(doc, "ledger/README.md", name);
}

/* The kind's row of the kinds table must list its fields in signing order. */
static void check_kind_row(const char *doc, const ledger_kind_info *info)
{
    char head[64];
    snprintf(head, sizeof head, "| `%s` | ", info->name);
    const char *row = strstr(doc, head), *end;
    if (row == NULL) {
        fprintf(stderr, "ledger/README.md has no table row for kind %s\n", info->name);
        test_failures++;
        return;
    }
    row += strlen(head);
    end = strchr(row, '|');
    for (unsigned i = 0; i < info->field_count; i++) {
        const char *at = strstr(row, info->fields[i].name);
        if (at == NULL || at > end) {
            fprintf(stderr, "kind %s: field %s missing or out of order in its row\n", info->name,
                    info->fields[i].name);
            test_failures++;
            return;
        }
        row = at + strlen(info->fields[i].name);
    }
    end = strchr(strchr(end + 1, '|') + 1, '\n'); /* the outputs column ends the line */
    for (unsigned i = 0; i < 4 && info->out_names[i] != NULL; i++) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "`%s`", info->out_names[i]);
        const char *at = strstr(row, quoted);
        if (at == NULL || at > end) {
            /* a kind whose outputs are "as `other`" must name that kind */
            if (strstr(row, "as `") == NULL || strstr(row, "as `") > end) {
                fprintf(stderr, "kind %s: output %s missing from its row\n", info->name,
                        info->out_names[i]);
                test_failures++;
            }
            return;
        }
        row = at + strlen(quoted);
    }
}

/* ---- metric names ------------------------------------------------------------------------- */

#define NAMES_MAX 256

typedef struct names {
    char n[NAMES_MAX][160];
    size_t count;
} names;

static bool has(const names *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->n[i], name) == 0)
            return true;
    return false;
}

static void add(names *m, const char *name)
{
    if (!has(m, name) && m->count < NAMES_MAX)
        snprintf(m->n[m->count++], sizeof m->n[0], "%s", name);
}

/* The families an endpoint renders (from its TYPE lines), and each histogram's sample names. */
static void served(names *fam, names *samples)
{
    static rpc_metrics_snapshot s;
    char *text, *line, *save = NULL, name[96], type[32];
    size_t len;
    s.have_state = true;
    s.counters.replicated = true; /* the replication metrics too */
    s.pool.shares = 1;
    s.chain.next_seq = 1;
    s.operator_count = 1;
    s.operators[0].id = 1;
    CHECK(rpc_metrics_render(&s, &text, &len) == 0);
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (sscanf(line, "# TYPE %95s %31s", name, type) != 2)
            continue;
        add(fam, name);
        add(samples, name);
        const char *const parts[] = {"_bucket", "_sum", "_count"};
        for (int i = 0; strcmp(type, "histogram") == 0 && i < 3; i++) {
            char sample[128];
            snprintf(sample, sizeof sample, "%s%s", name, parts[i]);
            add(samples, sample);
        }
    }
    free(text);
}

/* Every lstd_... word of text (from..to) must be served; out: the words seen. */
static void check_words(const char *doc, const char *text, const char *end, const names *ok,
                        names *seen)
{
    for (const char *p = text; (p = strstr(p, "lstd_")) != NULL && p < end;) {
        char word[96];
        size_t n = 0;
        while (n + 1 < sizeof word &&
               (islower((unsigned char)p[n]) || isdigit((unsigned char)p[n]) || p[n] == '_'))
            word[n] = p[n], n++;
        word[n] = '\0';
        p += n;
        if (!has(ok, word)) {
            fprintf(stderr, "%s names %s, which lstd does not serve\n", doc, word);
            test_failures++;
        }
        add(seen, word);
    }
}

static void test_metric_names(void)
{
    static names fam, samples, in_readme, elsewhere;
    served(&fam, &samples);
    CHECK(fam.count > 40);
    char *readme = test_read_file(LSTD_SOURCE_DIR "/README.md");
    char *runbook = test_read_file(LSTD_SOURCE_DIR "/RUNBOOK.md");
    char *grafana = test_read_file(LSTD_SOURCE_DIR "/tools/grafana-lstd.json");
    const char *from = strstr(readme, "### Metrics"), *to = from ? strstr(from, "\n## ") : NULL;
    CHECK(from != NULL && to != NULL);
    if (from != NULL && to != NULL)
        check_words("README.md (Metrics)", from, to, &samples, &in_readme);
    check_words("RUNBOOK.md", runbook, runbook + strlen(runbook), &samples, &elsewhere);
    check_words("tools/grafana-lstd.json", grafana, grafana + strlen(grafana), &samples,
                &elsewhere);
    for (size_t i = 0; i < fam.count; i++) /* and the table names every one */
        if (!has(&in_readme, fam.n[i])) {
            fprintf(stderr, "README.md's metrics table does not name %s\n", fam.n[i]);
            test_failures++;
        }
    free(readme);
    free(runbook);
    free(grafana);
}

int main(void)
{
    test_metric_names();
    char *doc = test_read_file(LSTD_SOURCE_DIR "/ledger/README.md");
    char *protocol = test_read_file(LSTD_SOURCE_DIR "/PROTOCOL.md");
#define CHECK_ERR(name, num, msg)                                                                  \
    check_named(doc, #name);                                                                       \
    check_named_in(protocol, "PROTOCOL.md", #name);
    LEDGER_ERRORS(CHECK_ERR)
#undef CHECK_ERR
    for (unsigned k = 1; k <= LEDGER_TX_KIND_MAX; k++) {
        const ledger_kind_info *info = ledger_kind_lookup(k);
        check_kind_row(doc, info);
    }
    for (unsigned p = 1; p < LEDGER_PARAM_COUNT; p++)
        check_named(doc, ledger_param_name(p));
    free(doc);
    free(protocol);
    return test_finish("test_docs");
}

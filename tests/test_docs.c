/* test_docs.c - ledger/README.md and PROTOCOL.md name every error code, kind, field, parameter */
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
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

int main(void)
{
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

/* lst.c - the lst command line: keys, every transaction kind, every query, and a live event watch
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lst_client.h"

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:7440"
#define DEFAULT_EVENTS "tcp://127.0.0.1:7441"
#define DEFAULT_TIMEOUT_MS 5000
#define OPTIONS_MAX 8
#define WATCH_WAIT_MS 2000 /* idle wait per turn of `watch` (then it asks the server) */
#define HINT_MAX (LST_NAME_MAX + 32)

/* The global flags, for "did you mean" (parse_global reads them). */
static const char *const global_flags[] = {
    "endpoint", "events",  "key",  "timeout",          "json",
    "base",     "version", "help", "curve-server-key", "curve-key"};
#define GLOBAL_FLAG_COUNT (sizeof global_flags / sizeof global_flags[0])

enum { EXIT_OK = 0, EXIT_OTHER = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3, EXIT_REJECTED = 4 };

typedef struct cli {
    const char *endpoint, *events, *key_path;
    const char *curve_server_key, *curve_key; /* CURVE: both files, or neither */
    bool json, base, version, dry_run;
    int timeout_ms;
    lst_client *c;
    bool have_decimals;
    unsigned decimals;
    const char *cmd; /* the command's name */
    int argc;        /* the command's arguments (global flags removed) */
    char **argv;
} cli;

/* The --name value options and positional arguments of one command. */
typedef struct args {
    int n;
    char name[OPTIONS_MAX][LST_NAME_MAX];
    const char *value[OPTIONS_MAX];
    int npos;
    const char *pos[4];
} args;

typedef struct command {
    const char *name;
    int (*run)(cli *k);
    const char *synopsis;
    const char *help;
} command;

static const command *find_command(const char *name);
static const char *kind_alias(const char *name);
static int usage_command(const cli *k, FILE *out);

/* ---- messages and exit codes ------------------------------------------------------------- */

static int usage_error(const cli *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const cli *k, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "lst: %s%s", k->cmd != NULL ? k->cmd : "", k->cmd != NULL ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (lst %s%s--help)\n", k->cmd != NULL ? k->cmd : "", k->cmd != NULL ? " " : "");
    return EXIT_USAGE;
}

static int exit_for(int code)
{
    switch (code) {
    case LST_OK:
        return EXIT_OK;
    case LST_ERR_USAGE:
        return EXIT_USAGE;
    case LST_ERR_CONNECT:
    case LST_ERR_TIMEOUT:
        return EXIT_CONNECT;
    case LST_ERR_REJECTED:
        return EXIT_REJECTED;
    default:
        return EXIT_OTHER;
    }
}

/* Report a failed client call on stderr. Returns: its exit code. */
static int fail(const cli *k, int code)
{
    fprintf(stderr, "lst: %s: %s\n", k->cmd, k->c != NULL ? lst_client_error(k->c) : "failed");
    return exit_for(code);
}

/* ---- parsing arguments ------------------------------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* "; did you mean --shares?" for an unknown option name: the closest of the command's options
 * and the global flags, or "" when none is close. Out: hint. */
static void suggest_option(const char *name, const char *const *allowed, char hint[HINT_MAX])
{
    const char *names[LST_FIELDS_MAX + 2 + GLOBAL_FLAG_COUNT];
    size_t n = 0;
    for (size_t j = 0; allowed != NULL && allowed[j] != NULL && j < LST_FIELDS_MAX + 2; j++)
        names[n++] = allowed[j];
    for (size_t j = 0; j < GLOBAL_FLAG_COUNT; j++)
        names[n++] = global_flags[j];
    const char *best = lst_closest_name(name, names, n);
    hint[0] = '\0';
    if (best != NULL)
        snprintf(hint, HINT_MAX, "; did you mean --%s?", best);
}

/* Split the command's arguments into --name value options (names in `allowed`, '-' read as
 * '_') and at most pos_max positionals. Returns: EXIT_OK or EXIT_USAGE (message printed). */
static int parse_args(const cli *k, const char *const *allowed, int pos_max, args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < k->argc; i++) {
        const char *arg = k->argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (a->npos >= pos_max || a->npos >= 4)
                return usage_error(k, "unexpected argument '%s'", arg);
            a->pos[a->npos++] = arg;
            continue;
        }
        char name[LST_NAME_MAX];
        const char *eq = strchr(arg, '=');
        size_t len = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof name)
            return usage_error(k, "unknown option %s", arg);
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        for (char *p = name; *p != '\0'; p++)
            *p = *p == '-' ? '_' : *p;
        bool known = false;
        for (size_t j = 0; allowed != NULL && allowed[j] != NULL; j++)
            known = known || strcmp(allowed[j], name) == 0;
        if (!known) {
            char hint[HINT_MAX];
            suggest_option(name, allowed, hint);
            return usage_error(k, "unknown option --%s%s", name, hint);
        }
        for (int j = 0; j < a->n; j++)
            if (strcmp(a->name[j], name) == 0)
                return usage_error(k, "--%s given twice", name);
        if (eq == NULL && i + 1 >= k->argc)
            return usage_error(k, "--%s needs a value", name);
        if (a->n >= OPTIONS_MAX)
            return usage_error(k, "too many options");
        memcpy(a->name[a->n], name, sizeof name);
        a->value[a->n++] = eq != NULL ? eq + 1 : k->argv[++i];
    }
    return EXIT_OK;
}

static const char *opt(const args *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->name[i], name) == 0)
            return a->value[i];
    return NULL;
}

/* A KEY argument: 64 hex characters (0x before them allowed), or a key file (its address). */
static int parse_key(const cli *k, const char *what, const char *text, uint8_t out[32])
{
    lst_key key;
    const char *hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X') ? text + 2 : text;
    if (lst_hex_decode(out, hex) == LST_OK)
        return EXIT_OK;
    if (lst_key_load(text, &key) != LST_OK)
        return usage_error(k, "%s: '%s' is neither an address (64 hex characters) nor a key file",
                           what, text);
    memcpy(out, key.pubkey, 32);
    lst_key_wipe(&key);
    return EXIT_OK;
}

/* A REF argument: 0x and 64 hex digits (raw bytes), or text of 1 to 32 bytes (lst_ref_parse). */
static int parse_ref(const cli *k, const char *what, const char *text, uint8_t out[32])
{
    char why[LST_WHY_MAX];
    if (lst_ref_parse(out, text, why, sizeof why) == LST_OK)
        return EXIT_OK;
    return usage_error(k, "--%s: '%s': %s", what, text, why);
}

/* ---- the connection ---------------------------------------------------------------------- */

static int connect_client(cli *k)
{
    if (k->c != NULL)
        return EXIT_OK;
    lst_curve curve;
    char err[700];
    bool use_curve = k->curve_server_key != NULL || k->curve_key != NULL;
    if (use_curve && (k->curve_server_key == NULL || k->curve_key == NULL))
        return usage_error(k, "CURVE needs both --curve-server-key and --curve-key");
    if (use_curve &&
        lst_curve_load(&curve, k->curve_server_key, k->curve_key, err, sizeof err) != LST_OK) {
        fprintf(stderr, "lst: %s: %s\n", k->cmd, err);
        return EXIT_OTHER;
    }
    int rc = lst_client_new_curve(&k->c, k->endpoint, k->events, k->timeout_ms,
                                  use_curve ? &curve : NULL);
    if (use_curve)
        lst_curve_wipe(&curve);
    if (rc == LST_OK)
        return EXIT_OK;
    fprintf(stderr, "lst: %s: cannot use endpoint %s (%s)\n", k->cmd, k->endpoint,
            lst_code_name(rc));
    return exit_for(rc);
}

/* The pool's decimals, once. Returns: an exit code. */
static int need_decimals(cli *k)
{
    uint64_t d;
    if (k->have_decimals)
        return EXIT_OK;
    int rc = connect_client(k);
    if (rc != EXIT_OK)
        return rc;
    if ((rc = lst_client_ledger(k->c, NULL, &d)) != LST_OK)
        return fail(k, rc);
    k->decimals = d > 19 ? 20 : (unsigned)d;
    k->have_decimals = true;
    return EXIT_OK;
}

/* The decimals that printing amounts in tokens needs (none for --json or --base).
 * Returns: an exit code. */
static int out_decimals(cli *k)
{
    return k->json || k->base ? EXIT_OK : need_decimals(k);
}

/* An AMOUNT argument (lst_amount_parse): base units as digits, tokens with a point or "tok";
 * the pool's decimals are asked for only when it is written in tokens. Returns: an exit code. */
static int parse_amount(cli *k, const char *what, const char *text, uint64_t *out)
{
    char why[LST_WHY_MAX];
    int rc = lst_amount_is_tokens(text) ? need_decimals(k) : EXIT_OK;
    if (rc != EXIT_OK)
        return rc;
    if (lst_amount_parse(text, k->decimals, out, why, sizeof why) == LST_OK)
        return EXIT_OK;
    return usage_error(k, "--%s: '%s': %s", what, text, why);
}

static int load_signer(cli *k, lst_key *key)
{
    if (k->key_path == NULL)
        return usage_error(k, "needs a signing key: --key FILE");
    if (lst_key_load(k->key_path, key) != LST_OK) {
        fprintf(stderr, "lst: %s: cannot read key file %s: %s\n", k->cmd, k->key_path,
                errno == EINVAL ? "not 64 hex characters of a valid secret key" : strerror(errno));
        return EXIT_OTHER;
    }
    return EXIT_OK;
}

/* ---- printing ---------------------------------------------------------------------------- */

/* Keys whose integers are amounts or shares: printed in tokens unless --base. */
static const char amount_keys[] =
    "|amount|shares|balance|min_shares_out|min_amount_out|assets|buffer|payable|total_deposited"
    "|total_rewards|total_slashed|total_paid|dead_shares|stake_limit|locked|queued|total|value"
    "|free_value|amount_at_request|paid|pending_shares|pending_amount|reported_balance"
    "|funded_since|exited_since|fees_earned|gain|loss|fee_shares|rate_num|rate_den"
    "|shares_minted|amount_credited|shares_moved|allowance|allowance_left|shares_locked"
    "|shares_released|shares_left|shares_seized|amount_paid|shares_burned|shares_returned"
    "|treasury_fee_shares|operator_fee_shares|unvested|held_loss|slashed|STAKE_LIMIT_MAX"
    "|STAKE_LIMIT_REFILL|";

static bool is_amount_key(const char *key)
{
    char quoted[LST_NAME_MAX + 2];
    if (strlen(key) >= LST_NAME_MAX)
        return false;
    snprintf(quoted, sizeof quoted, "|%s|", key);
    return strstr(amount_keys, quoted) != NULL;
}

/* A transaction field given in AMOUNT units (param_set's value depends on the parameter). */
static bool amount_field(const char *name)
{
    return is_amount_key(name) && strcmp(name, "value") != 0;
}

/* The parameters whose value is an amount in base units (the stake limit and its refill). */
static bool param_is_amount(uint64_t param)
{
    return param != 0 && (param == lst_param_by_name("STAKE_LIMIT_MAX") ||
                          param == lst_param_by_name("STAKE_LIMIT_REFILL"));
}

/* A field of type ref in some kind (external_ref, payout_ref): shown as lst_ref_format does. */
static bool is_ref_key(const char *key)
{
    for (unsigned kind = 1; kind <= LST_KIND_MAX; kind++)
        for (unsigned i = 0; i < lst_kind_field_count(kind); i++) {
            int type;
            const char *name = lst_kind_field(kind, i, &type);
            if (type == LST_FIELD_REF && strcmp(name, key) == 0)
                return true;
        }
    return false;
}

static void hex_bytes(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* An amount for people: tokens with the unit (lst_amount_text), or base units with --base. */
static void amount_text(const cli *k, lst_u128 units, char *out, size_t size)
{
    if (k->base)
        lst_amount_format_u128(out, size, units, 0);
    else
        lst_amount_text(out, size, units, k->decimals);
}

/* A leaf value as text. plain_value: a key named "value" is not an amount (param_set of a
 * parameter that is not an amount). */
static void leaf_text(const cli *k, const char *key, bool plain_value, const lst_value *v,
                      char *out, size_t size)
{
    size_t len;
    const char *s;
    const uint8_t *b;
    lst_u128 wide;
    bool amount = is_amount_key(key) && !(plain_value && strcmp(key, "value") == 0);
    switch (lst_value_type(v)) {
    case LST_T_NIL:
        snprintf(out, size, "none");
        break;
    case LST_T_BOOL:
        snprintf(out, size, "%s", lst_value_bool(v) ? "true" : "false");
        break;
    case LST_T_UINT:
        if (amount)
            amount_text(k, lst_value_u64(v), out, size);
        else
            snprintf(out, size, "%" PRIu64, lst_value_u64(v));
        break;
    case LST_T_INT:
        snprintf(out, size, "%" PRId64, lst_value_i64(v));
        break;
    case LST_T_STR: /* a 128-bit total is a str of digits: an amount like the others */
        if (amount && lst_value_u128(v, &wide)) {
            amount_text(k, wide, out, size);
            break;
        }
        s = lst_value_str(v, &len);
        snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), s);
        break;
    case LST_T_BIN:
        b = lst_value_bin(v, &len);
        if (len == 32 && is_ref_key(key) && size >= LST_REF_TEXT_MAX)
            lst_ref_format(out, b);
        else if (2 * len + 1 <= size)
            hex_bytes(out, b, len);
        else
            snprintf(out, size, "(%zu bytes)", len);
        break;
    case LST_T_ARRAY:
        snprintf(out, size, "[]");
        break;
    case LST_T_MAP:
        snprintf(out, size, "{}");
        break;
    default:
        snprintf(out, size, "?");
    }
}

/* Print v as "path value" lines, nested maps as a.b, arrays as a[i]. */
static void print_flat(const cli *k, const char *path, const char *key, bool plain_value,
                       const lst_value *v, int width)
{
    char sub[160], text[200];
    int t = lst_value_type(v);
    size_t n = lst_value_len(v);
    if ((t == LST_T_MAP || t == LST_T_ARRAY) && n > 0) {
        for (size_t i = 0; i < n; i++) {
            size_t klen = 0;
            const char *name = t == LST_T_MAP ? lst_value_key(v, i, &klen) : NULL;
            char leaf[LST_NAME_MAX];
            snprintf(leaf, sizeof leaf, "%.*s", (int)klen, name != NULL ? name : "");
            if (t == LST_T_MAP)
                snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", leaf);
            else
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            print_flat(k, sub, t == LST_T_MAP ? leaf : key, plain_value, lst_value_at(v, i), width);
        }
        return;
    }
    leaf_text(k, key, plain_value, v, text, sizeof text);
    printf("%-*s %s\n", width, path, text);
}

/* A param_set record whose value is not an amount (every parameter but the stake limits). */
static bool value_is_plain(const lst_value *record)
{
    size_t len;
    const char *kind = lst_value_str(lst_value_get(record, "kind"), &len);
    return kind != NULL && len == 9 && memcmp(kind, "param_set", 9) == 0 &&
           !param_is_amount(lst_value_u64(lst_value_get(record, "fields.param")));
}

/* One record on one line: seq, batch, kind, code, signer, nonce, fields, outputs. */
static void print_record_line(const cli *k, const lst_value *rec)
{
    char text[200], kind[LST_NAME_MAX] = "?", code[LST_NAME_MAX] = "?";
    size_t len;
    const char *s;
    bool plain = value_is_plain(rec);
    if ((s = lst_value_str(lst_value_get(rec, "kind"), &len)) != NULL)
        snprintf(kind, sizeof kind, "%.*s", (int)len, s);
    if ((s = lst_value_str(lst_value_get(rec, "code"), &len)) != NULL)
        snprintf(code, sizeof code, "%.*s", (int)len, s);
    leaf_text(k, "signer", false, lst_value_get(rec, "signer"), text, sizeof text);
    printf("seq %" PRIu64 "  batch %" PRIu64 "  %s %s  signer %s nonce %" PRIu64 " ",
           lst_value_u64(lst_value_get(rec, "seq")), lst_value_u64(lst_value_get(rec, "batch")),
           kind, code, text, lst_value_u64(lst_value_get(rec, "nonce")));
    const char *const maps[] = {"fields", "out"};
    for (int m = 0; m < 2; m++) {
        const lst_value *map = lst_value_get(rec, maps[m]);
        if (m == 1 && lst_value_len(map) > 0)
            printf(" ->");
        for (size_t i = 0; i < lst_value_len(map); i++) {
            char key[LST_NAME_MAX];
            s = lst_value_key(map, i, &len);
            snprintf(key, sizeof key, "%.*s", (int)len, s != NULL ? s : "?");
            leaf_text(k, key, plain, lst_value_at(map, i), text, sizeof text);
            printf(" %s=%s", key, text);
        }
    }
    printf("\n");
}

/* The widest "path" print_flat will print under v (for aligned columns). */
static int flat_width(const lst_value *v, int prefix)
{
    int t = lst_value_type(v), w = prefix;
    size_t n = lst_value_len(v);
    if ((t != LST_T_MAP && t != LST_T_ARRAY) || n == 0)
        return prefix;
    for (size_t i = 0; i < n; i++) {
        size_t klen = 0;
        if (t == LST_T_MAP)
            lst_value_key(v, i, &klen);
        int add = t == LST_T_MAP ? (int)klen + (prefix > 0) : 3 + (i >= 10) + (i >= 100);
        int sub = flat_width(lst_value_at(v, i), prefix + add);
        w = sub > w ? sub : w;
    }
    return w;
}

static void print_json_line(const lst_value *v, const char *skip_key)
{
    lst_value_json(v, skip_key, stdout);
    fputc('\n', stdout);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* A query's reply: JSON (without the id), or the result as aligned "path value" lines. */
static int print_reply(cli *k, const lst_reply *r)
{
    if (k->json) {
        print_json_line(lst_reply_get(r, ""), "id");
        return EXIT_OK;
    }
    int rc = out_decimals(k);
    if (rc != EXIT_OK)
        return rc;
    const lst_value *res = lst_reply_get(r, "result");
    print_flat(k, "", "", value_is_plain(res), res, flat_width(res, 0));
    return EXIT_OK;
}

/* Run a query and print it: exit 4 with the server's error on a rejection. */
static int finish_query(cli *k, int rc, lst_reply *r)
{
    int ex;
    if (rc == LST_OK)
        ex = print_reply(k, r);
    else {
        if (r != NULL && k->json)
            print_json_line(lst_reply_get(r, ""), "id");
        ex = fail(k, rc);
    }
    lst_reply_destroy(&r);
    return ex;
}

/* ---- transactions ------------------------------------------------------------------------ */

static void print_result_json(const lst_result *res)
{
    char hex[65];
    lst_hex_encode(hex, res->hash);
    printf("{\"ok\":%s,", res->ok ? "true" : "false");
    if (!res->ok) {
        printf("\"error\":");
        json_str(res->error);
        printf(",\"message\":");
        json_str(res->message);
        putchar(',');
    }
    printf("\"kind\":\"%s\",\"nonce\":\"%" PRIu64 "\",\"hash\":\"%s\"", lst_kind_name(res->kind),
           res->nonce, hex);
    if (res->recorded || res->simulated) {
        printf(",\"result\":{\"hash\":\"%s\",\"code\":\"%s\",\"recorded\":%s,\"duplicate\":%s,"
               "\"seq\":\"%" PRIu64 "\",\"batch\":\"%" PRIu64 "\",\"time\":\"%" PRIu64
               "\",\"out\":{",
               hex, res->ok ? "OK" : res->error, res->recorded ? "true" : "false",
               res->duplicate ? "true" : "false", res->seq, res->batch, res->time);
        for (unsigned i = 0; i < res->out_count; i++)
            printf("%s\"%s\":\"%" PRIu64 "\"", i ? "," : "", res->out[i].name, res->out[i].value);
        printf("}%s}", res->simulated ? ",\"simulated\":true" : "");
    }
    printf("}\n");
}

/* plain_value: the output named value is not an amount (param_set of such a parameter). */
static void print_result_human(const cli *k, const lst_result *res, bool plain_value)
{
    char hex[65], text[LST_AMOUNT_TEXT_MAX];
    lst_hex_encode(hex, res->hash);
    printf("%s OK%s  seq %" PRIu64 "  batch %" PRIu64 "  nonce %" PRIu64 "\n",
           lst_kind_name(res->kind),
           res->duplicate   ? " (duplicate: recorded before)"
           : res->simulated ? " (simulated: nothing recorded; seq and batch it would get)"
                            : "",
           res->seq, res->batch, res->nonce);
    printf("  %-20s %s\n", "hash", hex);
    for (unsigned i = 0; i < res->out_count; i++) {
        if (is_amount_key(res->out[i].name) &&
            !(plain_value && strcmp(res->out[i].name, "value") == 0))
            amount_text(k, res->out[i].value, text, sizeof text);
        else
            snprintf(text, sizeof text, "%" PRIu64, res->out[i].value);
        printf("  %-20s %s\n", res->out[i].name, text);
    }
}

/* Named values for a few integer fields: param, role, pause flags, active. */
static bool parse_named_u64(const char *field, const char *text, uint64_t *out)
{
    static const char *const roles[] = {"", "admin", "custodian", "treasury"};
    if (parse_u64(text, out))
        return true;
    if (strcmp(field, "param") == 0)
        return (*out = lst_param_by_name(text)) != 0;
    if (strcmp(field, "role") == 0) {
        for (uint64_t r = 1; r < 4; r++)
            if (strcmp(text, roles[r]) == 0)
                return (*out = r), true;
        return false;
    }
    if ((strcmp(field, "active") == 0 || strcmp(field, "minority") == 0) &&
        (strcmp(text, "true") == 0 || strcmp(text, "false") == 0))
        return (*out = text[0] == 't'), true;
    if (strcmp(field, "mode") == 0 && strcmp(text, "operator") == 0)
        return (*out = 1), true;
    if (strcmp(field, "mode") == 0 && strcmp(text, "committee") == 0)
        return (*out = 2), true;
    if (strcmp(field, "flags") != 0)
        return false;
    char copy[64];
    snprintf(copy, sizeof copy, "%s", text);
    *out = 0;
    for (char *save, *w = strtok_r(copy, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
        if (strcmp(w, "deposits") == 0)
            *out |= 1;
        else if (strcmp(w, "transfers") == 0)
            *out |= 2;
        else if (strcmp(w, "withdrawals") == 0)
            *out |= 4;
        else if (strcmp(w, "all") == 0)
            *out |= 7;
        else if (strcmp(w, "none") != 0)
            return false;
    }
    return true;
}

static bool field_optional(const char *name)
{
    return strcmp(name, "min_shares_out") == 0 || strcmp(name, "min_amount_out") == 0 ||
           strcmp(name, "expiry") == 0 || strcmp(name, "minority") == 0;
}

/* Set one field of tx from its text. Returns: an exit code. */
static int set_field(cli *k, lst_tx *tx, const char *name, int type, const char *text)
{
    uint8_t b[32];
    uint64_t v;
    int rc;
    if (type == LST_FIELD_KEY) {
        if ((rc = parse_key(k, name, text, b)) == EXIT_OK)
            rc = lst_tx_set_key(tx, name, b) == LST_OK ? EXIT_OK : EXIT_OTHER;
    } else if (type == LST_FIELD_REF) {
        if ((rc = parse_ref(k, name, text, b)) == EXIT_OK)
            rc = lst_tx_set_ref(tx, name, b) == LST_OK ? EXIT_OK : EXIT_OTHER;
    } else if (amount_field(name) || (strcmp(name, "value") == 0 && param_is_amount(tx->u64[0]))) {
        if ((rc = parse_amount(k, name, text, &v)) == EXIT_OK)
            rc = lst_tx_set_u64(tx, name, v) == LST_OK ? EXIT_OK : EXIT_OTHER;
    } else if (parse_named_u64(name, text, &v)) {
        rc = lst_tx_set_u64(tx, name, v) == LST_OK ? EXIT_OK : EXIT_OTHER;
    } else if (lst_amount_is_tokens(text)) {
        rc = usage_error(k, "--%s: '%s': not an amount: a whole number (no point, no %s)", name,
                         text, LST_TOKEN_SUFFIX);
    } else {
        rc = usage_error(k, "--%s: '%s' is not a whole number", name, text);
    }
    return rc;
}

/* Build the transaction of command k->cmd from its options. Returns: an exit code. */
static int build_tx(cli *k, lst_tx *tx)
{
    const char *allowed[LST_FIELDS_MAX + 2] = {"nonce"};
    args a;
    unsigned kind = lst_kind_by_name(k->cmd), n = lst_kind_field_count(kind);
    for (unsigned i = 0; i < n; i++)
        allowed[i + 1] = lst_kind_field(kind, i, NULL);
    int rc = parse_args(k, allowed, 0, &a);
    if (rc != EXIT_OK)
        return rc;
    if (lst_tx_init(tx, k->cmd) != LST_OK)
        return EXIT_OTHER;
    if (opt(&a, "nonce") != NULL && (!parse_u64(opt(&a, "nonce"), &tx->nonce) || tx->nonce == 0))
        return usage_error(k, "--nonce: '%s' is not a nonce (1, 2, ...)", opt(&a, "nonce"));
    for (unsigned i = 0; i < n && rc == EXIT_OK; i++) {
        int type;
        const char *name = lst_kind_field(kind, i, &type), *text = opt(&a, name);
        if (text == NULL && field_optional(name))
            rc = lst_tx_set_u64(tx, name, 0) == LST_OK ? EXIT_OK : EXIT_OTHER;
        else if (text == NULL)
            return usage_error(k, "missing --%s", name);
        else
            rc = set_field(k, tx, name, type, text);
    }
    return rc;
}

static int cmd_tx(cli *k)
{
    lst_tx tx;
    lst_key key;
    lst_result res;
    int rc = build_tx(k, &tx);
    if (rc == EXIT_OK)
        rc = load_signer(k, &key);
    if (rc != EXIT_OK)
        return rc;
    if ((rc = connect_client(k)) != EXIT_OK || (rc = out_decimals(k)) != EXIT_OK) {
        lst_key_wipe(&key);
        return rc;
    }
    int code = k->dry_run ? lst_simulate(k->c, &key, &tx, &res) : lst_submit(k->c, &key, &tx, &res);
    lst_key_wipe(&key);
    if (code != LST_OK && code != LST_ERR_REJECTED)
        return fail(k, code);
    if (k->json)
        print_result_json(&res);
    if (code == LST_ERR_REJECTED) {
        fprintf(stderr, "lst: %s rejected: %s (%s)", k->cmd, res.error, res.message);
        if (res.simulated && !res.duplicate)
            fprintf(stderr,
                    "; simulated: would be recorded as seq %" PRIu64 ", using nonce %" PRIu64
                    " (nothing recorded)\n",
                    res.seq, res.nonce);
        else if (res.recorded)
            fprintf(stderr, "; recorded as seq %" PRIu64 ", nonce %" PRIu64 " used\n", res.seq,
                    res.nonce);
        else if (strcmp(res.error, "NOT_LEADER") == 0)
            fprintf(stderr, "; not recorded; leader hint: %s\n",
                    lst_client_leader(k->c)[0] != '\0' ? lst_client_leader(k->c)
                                                       : "none (no replica knows a leader)");
        else
            fprintf(stderr, "; not recorded\n");
        return EXIT_REJECTED;
    }
    if (!k->json)
        print_result_human(k, &res,
                           tx.kind == lst_kind_by_name("param_set") && !param_is_amount(tx.u64[0]));
    return EXIT_OK;
}

/* ---- keys -------------------------------------------------------------------------------- */

static int cmd_curve_keygen(cli *k)
{
    args a;
    char z85[LST_CURVE_Z85_LEN + 1], err[700];
    int rc = parse_args(k, NULL, 1, &a);
    if (rc != EXIT_OK)
        return rc;
    if (a.npos != 1)
        return usage_error(k, "needs the NAME of the files to write (NAME.secret, NAME.public)");
    if (lst_curve_keygen(a.pos[0], z85, err, sizeof err) != LST_OK) {
        fprintf(stderr, "lst: curve-keygen: cannot write %s\n", err);
        return EXIT_OTHER;
    }
    if (k->json) {
        printf("{\"public_key\":");
        json_str(z85);
        printf(",\"secret_file\":\"%s.secret\",\"public_file\":\"%s.public\"}\n", a.pos[0],
               a.pos[0]);
    } else {
        printf("%s\n", z85);
    }
    return EXIT_OK;
}

static int cmd_keygen(cli *k)
{
    args a;
    lst_key key;
    char hex[65];
    int rc = parse_args(k, NULL, 1, &a);
    if (rc != EXIT_OK)
        return rc;
    if (a.npos != 1)
        return usage_error(k, "needs the key file to write");
    if (lst_key_generate(a.pos[0], &key) != LST_OK) {
        fprintf(stderr, "lst: keygen: cannot write %s: %s\n", a.pos[0],
                errno == EEXIST ? "the file exists (refusing to overwrite a key)"
                                : strerror(errno));
        return EXIT_OTHER;
    }
    lst_hex_encode(hex, key.pubkey);
    lst_key_wipe(&key);
    if (k->json) {
        printf("{\"address\":\"%s\",\"file\":", hex);
        json_str(a.pos[0]);
        printf("}\n");
    } else {
        printf("%s\n", hex);
        fprintf(stderr, "lst: wrote %s (mode 0600); the line above is its address\n", a.pos[0]);
    }
    return EXIT_OK;
}

static int cmd_address(cli *k)
{
    args a;
    lst_key key;
    char hex[65];
    int rc = parse_args(k, NULL, 1, &a);
    if (rc != EXIT_OK)
        return rc;
    if (a.npos != 1 && k->key_path == NULL)
        return usage_error(k, "needs a key file");
    const char *path = a.npos == 1 ? a.pos[0] : k->key_path;
    if (lst_key_load(path, &key) != LST_OK) {
        fprintf(stderr, "lst: address: cannot read key file %s: %s\n", path,
                errno == EINVAL ? "not 64 hex characters of a valid secret key" : strerror(errno));
        return EXIT_OTHER;
    }
    lst_hex_encode(hex, key.pubkey);
    lst_key_wipe(&key);
    printf(k->json ? "{\"address\":\"%s\"}\n" : "%s\n", hex);
    return EXIT_OK;
}

/* ---- queries ----------------------------------------------------------------------------- */

/* The ACCOUNT positional, or the --key file's address. */
static int account_arg(const cli *k, const args *a, uint8_t out[32])
{
    if (a->npos >= 1)
        return parse_key(k, "account", a->pos[0], out);
    if (k->key_path == NULL)
        return usage_error(k, "needs an account (address or key file), or --key");
    return parse_key(k, "account", k->key_path, out);
}

static int cmd_simple(cli *k)
{
    args a;
    lst_reply *r = NULL;
    int rc = parse_args(k, NULL, 0, &a), code;
    if (rc != EXIT_OK || (rc = connect_client(k)) != EXIT_OK)
        return rc;
    if (strcmp(k->cmd, "pool") == 0)
        code = lst_query_pool(k->c, &r);
    else if (strcmp(k->cmd, "queue") == 0)
        code = lst_query_queue(k->c, &r);
    else
        code = lst_query_health(k->c, &r);
    return finish_query(k, code, r);
}

static int cmd_account(cli *k)
{
    args a;
    uint8_t account[32];
    lst_reply *r = NULL;
    int rc = parse_args(k, NULL, 1, &a);
    if (rc != EXIT_OK || (rc = account_arg(k, &a, account)) != EXIT_OK ||
        (rc = connect_client(k)) != EXIT_OK)
        return rc;
    int code = lst_query_account(k->c, account, &r);
    return finish_query(k, code, r);
}

/* lien ID, withdrawal ID, operator ID */
static int cmd_by_id(cli *k)
{
    args a;
    uint64_t id;
    lst_reply *r = NULL;
    int rc = parse_args(k, NULL, 1, &a), code;
    if (rc != EXIT_OK)
        return rc;
    if (a.npos != 1 || !parse_u64(a.pos[0], &id))
        return usage_error(k, "needs the id (a whole number)");
    if ((rc = connect_client(k)) != EXIT_OK)
        return rc;
    if (strcmp(k->cmd, "lien") == 0)
        code = lst_query_lien(k->c, id, &r);
    else if (strcmp(k->cmd, "withdrawal") == 0)
        code = lst_query_withdrawal(k->c, id, &r);
    else
        code = lst_query_operator(k->c, id, &r);
    return finish_query(k, code, r);
}

static int cmd_tx_query(cli *k)
{
    args a;
    uint8_t hash[32];
    lst_reply *r = NULL;
    int rc = parse_args(k, NULL, 1, &a);
    if (rc != EXIT_OK)
        return rc;
    if (a.npos != 1 || lst_hex_decode(hash, a.pos[0]) != LST_OK)
        return usage_error(k, "needs the transaction hash (64 hex characters)");
    if ((rc = connect_client(k)) != EXIT_OK)
        return rc;
    int code = lst_query_tx(k->c, hash, &r);
    return finish_query(k, code, r);
}

static int cmd_quote(cli *k)
{
    static const char *const allowed[] = {"amount", "shares", NULL};
    args a;
    uint64_t v;
    lst_reply *r = NULL;
    int rc = parse_args(k, allowed, 0, &a);
    if (rc != EXIT_OK)
        return rc;
    if (a.n != 1)
        return usage_error(k, "needs exactly one of --amount or --shares");
    if ((rc = connect_client(k)) != EXIT_OK || (rc = parse_amount(k, a.name[0], a.value[0], &v)))
        return rc;
    int code = opt(&a, "amount") != NULL ? lst_query_quote_amount(k->c, v, &r)
                                         : lst_query_quote_shares(k->c, v, &r);
    return finish_query(k, code, r);
}

/* history [ACCOUNT] and events: pages of records, one line each. */
static int print_page(cli *k, int code, lst_reply *r)
{
    if (code != LST_OK || k->json)
        return finish_query(k, code, r);
    int rc = out_decimals(k);
    const lst_value *records = lst_reply_get(r, "result.records");
    for (size_t i = 0; rc == EXIT_OK && i < lst_value_len(records); i++)
        print_record_line(k, lst_value_at(records, i));
    if (rc == EXIT_OK && lst_reply_type(r, "result.next") == LST_T_UINT)
        printf("(more: --after %" PRIu64 ")\n", lst_reply_u64(r, "result.next"));
    lst_reply_destroy(&r);
    return rc;
}

static int page_args(cli *k, int pos_max, args *a, uint64_t *after, uint64_t *limit)
{
    static const char *const allowed[] = {"after", "limit", NULL};
    int rc = parse_args(k, allowed, pos_max, a);
    *after = *limit = 0;
    if (rc != EXIT_OK)
        return rc;
    if (opt(a, "after") != NULL && !parse_u64(opt(a, "after"), after))
        return usage_error(k, "--after: not a whole number");
    if (opt(a, "limit") != NULL && (!parse_u64(opt(a, "limit"), limit) || *limit == 0))
        return usage_error(k, "--limit: not a positive whole number");
    return connect_client(k);
}

static int cmd_history(cli *k)
{
    args a;
    uint64_t after, limit;
    uint8_t account[32];
    lst_reply *r = NULL;
    int rc = page_args(k, 1, &a, &after, &limit);
    if (rc != EXIT_OK || (rc = account_arg(k, &a, account)) != EXIT_OK)
        return rc;
    int code = lst_query_history(k->c, account, after, limit, &r);
    return print_page(k, code, r);
}

static int cmd_events(cli *k)
{
    args a;
    uint64_t after, limit;
    lst_reply *r = NULL;
    int rc = page_args(k, 0, &a, &after, &limit);
    if (rc != EXIT_OK)
        return rc;
    int code = lst_query_events(k->c, after, limit, &r);
    return print_page(k, code, r);
}

/* ---- rate-history ------------------------------------------------------------------------ */

#define RATE_PAGE 1000          /* entries per query when plotting every page */
#define YEAR_S 31557600.0       /* a Julian year, for the annualised rate */
#define RATE_POINTS_MAX 1000000 /* entries a plot takes at most */

/* One entry as a line: seq, time (UTC), kind, operator, rate, A, S, U, gain, loss. */
static void print_rate_line(const cli *k, const lst_value *e)
{
    static const char *const amounts[] = {"assets", "shares", "unvested", "gain", "loss"};
    char text[80], stamp[32], kind[LST_NAME_MAX] = "?", rate[64] = "?";
    size_t len;
    const char *s;
    time_t t = (time_t)lst_value_u64(lst_value_get(e, "time"));
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    if ((s = lst_value_str(lst_value_get(e, "kind"), &len)) != NULL)
        snprintf(kind, sizeof kind, "%.*s", (int)len, s);
    if ((s = lst_value_str(lst_value_get(e, "rate"), &len)) != NULL)
        snprintf(rate, sizeof rate, "%.*s", (int)len, s);
    printf("seq %" PRIu64 "  %s  %-14s operator %" PRIu64 "  rate %s",
           lst_value_u64(lst_value_get(e, "seq")), stamp, kind,
           lst_value_u64(lst_value_get(e, "operator_id")), rate);
    for (int i = 0; i < 5; i++) {
        leaf_text(k, amounts[i], false, lst_value_get(e, amounts[i]), text, sizeof text);
        printf("  %s %s", amounts[i], text);
    }
    printf("\n");
}

/* Returns: whether an executable named name is on $PATH. */
static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096], full[4200];
    while (path != NULL && *path != '\0') {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)(n < sizeof dir ? n : sizeof dir - 1), path);
        snprintf(full, sizeof full, "%s/%s", n > 0 ? dir : ".", name);
        if (access(full, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* A gnuplot single-quoted string holding s ('' for each quote). */
static void gp_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s != '\0'; s++)
        fputs(*s == '\'' ? "''" : (char[]){*s, 0}, f);
    fputc('\'', f);
}

/* Every entry from `from` on, as "time rate annualised_percent" lines in data (the annualised
 * rate between each point and the one before; "?" for the first and for no time between).
 * Out: *points, *any_apr (some point has an annualised rate). Returns: an exit code. */
static int rate_points(cli *k, uint64_t from, FILE *data, uint64_t *points, bool *any_apr)
{
    double last_rate = 0, last_t = 0;
    *points = 0;
    *any_apr = false;
    for (bool more = true; more && *points < RATE_POINTS_MAX;) {
        lst_reply *r = NULL;
        int code = lst_query_rate_history(k->c, from, RATE_PAGE, &r);
        if (code != LST_OK)
            return finish_query(k, code, r);
        const lst_value *list = lst_reply_get(r, "result.entries");
        for (size_t i = 0; i < lst_value_len(list); i++) {
            const lst_value *e = lst_value_at(list, i);
            uint64_t a = lst_value_u64(lst_value_get(e, "assets"));
            uint64_t sh = lst_value_u64(lst_value_get(e, "shares"));
            double t = (double)lst_value_u64(lst_value_get(e, "time"));
            if (sh == 0)
                continue;
            double rate = (double)a / (double)sh;
            *any_apr = *any_apr || (*points > 0 && t > last_t);
            if (*points > 0 && t > last_t)
                fprintf(data, "%.0f %.12f %.6f\n", t, rate,
                        (rate / last_rate - 1) * YEAR_S / (t - last_t) * 100);
            else
                fprintf(data, "%.0f %.12f ?\n", t, rate);
            last_rate = rate, last_t = t, (*points)++;
        }
        more = lst_reply_type(r, "result.next") == LST_T_UINT;
        if (more)
            from = lst_reply_u64(r, "result.next");
        lst_reply_destroy(&r);
    }
    return EXIT_OK;
}

/* Run gnuplot on the data file, writing the PNG at png (the annualised rate too when apr).
 * Returns: an exit code. */
static int run_gnuplot(const cli *k, const char *data, const char *png, const char *ledger,
                       bool apr)
{
    FILE *gp = popen("gnuplot", "w");
    if (gp == NULL) {
        fprintf(stderr, "lst: %s: cannot run gnuplot: %s\n", k->cmd, strerror(errno));
        return EXIT_OTHER;
    }
    fprintf(gp, "set terminal pngcairo size 1000,600 noenhanced font \",10\"\nset output ");
    gp_quoted(gp, png);
    fprintf(gp,
            "\nset title 'exchange rate of ledger %s (rate_history)'\n"
            "set xdata time\nset timefmt '%%s'\nset format x \"%%m-%%d\\n%%H:%%M:%%S\"\n"
            "set datafile missing '?'\nset grid\nset key top left\nset ytics nomirror\n"
            "set y2tics\nset format y '%%.12g'\nset ylabel 'assets per share (A/S)'\n"
            "set y2label 'annualised rate since the point before (%%)'\nplot ",
            ledger);
    gp_quoted(gp, data);
    fprintf(gp, " using 1:2 with linespoints pt 7 ps 0.6 title 'rate A/S'%s\n",
            apr ? ", '' using 1:3 axes x1y2 with steps title 'annualised rate (%)'" : "");
    int st = pclose(gp);
    struct stat sb;
    if (st != 0 || stat(png, &sb) != 0 || sb.st_size == 0) {
        fprintf(stderr, "lst: %s: gnuplot failed (exit status %d) writing %s\n", k->cmd,
                WIFEXITED(st) ? WEXITSTATUS(st) : -1, png);
        return EXIT_OTHER;
    }
    return EXIT_OK;
}

/* rate-history --png FILE: every entry from --from on, plotted by gnuplot (Debian package
 * gnuplot-nox) as the rate and the annualised rate between consecutive points. */
static int rate_png(cli *k, uint64_t from, const char *png)
{
    char dir[] = "/tmp/lst-rate-XXXXXX", data[64];
    const char *ledger = "?";
    uint64_t points = 0;
    bool apr = false;
    if (!on_path("gnuplot")) {
        fprintf(stderr, "lst: %s: --png needs gnuplot on PATH (Debian package gnuplot-nox)\n",
                k->cmd);
        return EXIT_OTHER;
    }
    int code = lst_client_ledger(k->c, &ledger, NULL);
    if (code != LST_OK)
        return fail(k, code);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "lst: %s: cannot make a temporary directory: %s\n", k->cmd,
                strerror(errno));
        return EXIT_OTHER;
    }
    snprintf(data, sizeof data, "%s/rates.dat", dir);
    FILE *f = fopen(data, "w");
    int rc = f != NULL ? rate_points(k, from, f, &points, &apr) : EXIT_OTHER;
    if (f != NULL && fclose(f) != 0)
        rc = EXIT_OTHER;
    if (rc == EXIT_OK && points == 0) {
        fprintf(stderr, "lst: %s: no rate changes to plot (no applied report yet)\n", k->cmd);
        rc = EXIT_OTHER;
    }
    if (rc == EXIT_OK)
        rc = run_gnuplot(k, data, png, ledger, apr);
    unlink(data);
    rmdir(dir);
    if (rc == EXIT_OK && k->json) {
        printf("{\"png\":");
        json_str(png);
        printf(",\"points\":\"%" PRIu64 "\"}\n", points);
    } else if (rc == EXIT_OK) {
        printf("%s: %" PRIu64 " points\n", png, points);
    }
    return rc;
}

static int cmd_rate_history(cli *k)
{
    static const char *const allowed[] = {"from", "limit", "png", NULL};
    args a;
    uint64_t from = 0, limit = 0;
    lst_reply *r = NULL;
    int rc = parse_args(k, allowed, 0, &a);
    if (rc != EXIT_OK)
        return rc;
    if (opt(&a, "from") != NULL && !parse_u64(opt(&a, "from"), &from))
        return usage_error(k, "--from: not a whole number");
    if (opt(&a, "limit") != NULL &&
        (!parse_u64(opt(&a, "limit"), &limit) || limit == 0 || limit > 1000))
        return usage_error(k, "--limit: not a whole number in 1..1000");
    if ((rc = connect_client(k)) != EXIT_OK)
        return rc;
    if (opt(&a, "png") != NULL)
        return rate_png(k, from, opt(&a, "png"));
    int code = lst_query_rate_history(k->c, from, limit, &r);
    if (code != LST_OK || k->json)
        return finish_query(k, code, r);
    rc = out_decimals(k);
    const lst_value *list = lst_reply_get(r, "result.entries");
    for (size_t i = 0; rc == EXIT_OK && i < lst_value_len(list); i++)
        print_rate_line(k, lst_value_at(list, i));
    if (rc == EXIT_OK && lst_reply_type(r, "result.next") == LST_T_UINT)
        printf("(more: --from %" PRIu64 ")\n", lst_reply_u64(r, "result.next"));
    lst_reply_destroy(&r);
    return rc;
}

/* ---- the committee: votes, operators --------------------------------------------------- */

/* A bps figure as a percentage with two decimals ("3.65%", "-0.19%"), "-" when absent. */
static void pct_text(const lst_value *v, char *out, size_t size)
{
    int t = lst_value_type(v);
    if (t != LST_T_UINT && t != LST_T_INT) {
        snprintf(out, size, "-");
        return;
    }
    int64_t b = lst_value_i64(v);
    uint64_t m = b < 0 ? (uint64_t)0 - (uint64_t)b : (uint64_t)b;
    snprintf(out, size, "%s%" PRIu64 ".%02" PRIu64 "%%", b < 0 ? "-" : "", m / 100, m % 100);
}

/* Optional whole-number options into out[] (0 when absent). Returns: an exit code. */
static int u64_options(const cli *k, const args *a, const char *const *names, uint64_t *out,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *text = opt(a, names[i]);
        out[i] = 0;
        if (text != NULL && !parse_u64(text, &out[i]))
            return usage_error(k, "--%s: '%s' is not a whole number", names[i], text);
    }
    return EXIT_OK;
}

static void short_hex(const lst_value *v, char out[17])
{
    size_t len = 0;
    const uint8_t *b = lst_value_bin(v, &len);
    hex_bytes(out, b, b != NULL && len >= 8 ? 8 : 0);
    out[b != NULL && len >= 8 ? 16 : 0] = '\0';
}

/* One pending epoch: "epoch E: 2 votes; balance B perf P: 2 (aaaa.., bbbb..); not voted: cc.." */
static void print_epoch_votes(const cli *k, const lst_value *ep)
{
    const lst_value *tuples = lst_value_get(ep, "tuples"),
                    *missing = lst_value_get(ep, "not_voted");
    char text[80], hex[17];
    printf("  epoch %" PRIu64 ": %" PRIu64 " votes\n", lst_value_u64(lst_value_get(ep, "epoch")),
           lst_value_u64(lst_value_get(ep, "votes")));
    for (size_t i = 0; i < lst_value_len(tuples); i++) {
        const lst_value *t = lst_value_at(tuples, i), *who = lst_value_get(t, "members");
        leaf_text(k, "balance", false, lst_value_get(t, "balance"), text, sizeof text);
        printf("    balance %s performance %" PRIu64 ": %" PRIu64 " (", text,
               lst_value_u64(lst_value_get(t, "performance_bps")),
               lst_value_u64(lst_value_get(t, "votes")));
        for (size_t j = 0; j < lst_value_len(who); j++) {
            short_hex(lst_value_at(who, j), hex);
            printf("%s%s..", j > 0 ? ", " : "", hex);
        }
        printf(")\n");
    }
    printf("    not voted:");
    for (size_t j = 0; j < lst_value_len(missing); j++) {
        short_hex(lst_value_at(missing, j), hex);
        printf(" %s..", hex);
    }
    printf(lst_value_len(missing) == 0 ? " none\n" : "\n");
}

static void print_votes(const cli *k, const lst_reply *r)
{
    const lst_value *members = lst_reply_get(r, "result.members"),
                    *ops = lst_reply_get(r, "result.operators");
    char mode[16] = "?", hex[65];
    lst_reply_str(r, "result.report_mode", mode, sizeof mode);
    printf("report mode %s, quorum %" PRIu64 " of %zu members; last %" PRIu64 " comparisons each\n",
           mode, lst_reply_u64(r, "result.quorum"), lst_value_len(members),
           lst_reply_u64(r, "result.last"));
    for (size_t i = 0; i < lst_value_len(members); i++) {
        const lst_value *m = lst_value_at(members, i);
        size_t len = 0;
        const uint8_t *key = lst_value_bin(lst_value_get(m, "member"), &len);
        hex_bytes(hex, key, key != NULL && len == 32 ? 32 : 0);
        printf("member %s  votes %" PRIu64 "  differed %" PRIu64 " of %" PRIu64
               " compared, %" PRIu64 " of the last %" PRIu64 "\n",
               hex, lst_value_u64(lst_value_get(m, "votes")),
               lst_value_u64(lst_value_get(m, "differed")),
               lst_value_u64(lst_value_get(m, "compared")),
               lst_value_u64(lst_value_get(m, "recent_differed")),
               lst_value_u64(lst_value_get(m, "recent")));
    }
    for (size_t i = 0; i < lst_value_len(ops); i++) {
        const lst_value *o = lst_value_at(ops, i), *eps = lst_value_get(o, "epochs");
        printf("operator %" PRIu64 " (last applied epoch %" PRIu64 ")%s\n",
               lst_value_u64(lst_value_get(o, "operator_id")),
               lst_value_u64(lst_value_get(o, "last_epoch")),
               lst_value_type(lst_value_get(o, "held")) == LST_T_MAP ? ", a report held" : "");
        for (size_t j = 0; j < lst_value_len(eps); j++)
            print_epoch_votes(k, lst_value_at(eps, j));
        if (lst_value_len(eps) == 0)
            printf("  no pending votes\n");
    }
    if (lst_reply_type(r, "result.next") == LST_T_UINT)
        printf("(more: --after %" PRIu64 ")\n", lst_reply_u64(r, "result.next"));
}

static int cmd_votes(cli *k)
{
    static const char *const allowed[] = {"operator_id", "after", "limit", "last", NULL};
    args a;
    uint64_t v[4];
    lst_reply *r = NULL;
    int rc = parse_args(k, allowed, 0, &a);
    if (rc == EXIT_OK)
        rc = u64_options(k, &a, allowed, v, 4);
    if (rc != EXIT_OK || (rc = connect_client(k)) != EXIT_OK)
        return rc;
    int code = lst_query_votes(k->c, v[0], v[1], v[2], v[3], &r);
    if (code != LST_OK || k->json)
        return finish_query(k, code, r);
    if ((rc = need_decimals(k)) == EXIT_OK)
        print_votes(k, r);
    lst_reply_destroy(&r);
    return rc;
}

/* One operator as a table row. */
static void print_card(const cli *k, const lst_value *c)
{
    static const char *const pcts[] = {
        "fee_total_bps", "share_bps",          "apr_7d_bps",          "apr_30d_bps",
        "apr_bps",       "performance_7d_bps", "performance_30d_bps", "performance_bps"};
    char text[80], age[32];
    printf("%4" PRIu64 " %-3s", lst_value_u64(lst_value_get(c, "operator_id")),
           lst_value_bool(lst_value_get(c, "active")) ? "yes" : "no");
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        pct_text(lst_value_get(c, pcts[i]), text, sizeof text);
        printf(" %8s", text);
    }
    const lst_value *a = lst_value_get(c, "last_report_age_s");
    if (lst_value_type(a) == LST_T_UINT)
        snprintf(age, sizeof age, "%" PRIu64 "s", lst_value_u64(a));
    else
        snprintf(age, sizeof age, "never");
    leaf_text(k, "slashed", false, lst_value_get(c, "slashed"), text, sizeof text);
    printf(" %7" PRIu64 " %11s %7" PRIu64 " %s\n", lst_value_u64(lst_value_get(c, "reports")), age,
           lst_value_u64(lst_value_get(c, "slashes")), text);
}

static int cmd_operators(cli *k)
{
    static const char *const allowed[] = {"order", "active_only", "reverse", "limit", NULL};
    args a;
    uint64_t limit = 0, flags[2] = {0, 0};
    lst_reply *r = NULL;
    int rc = parse_args(k, allowed, 0, &a);
    for (int i = 0; rc == EXIT_OK && i < 2; i++) {
        const char *t = opt(&a, allowed[1 + i]);
        if (t != NULL && !parse_named_u64("active", t, &flags[i]))
            rc = usage_error(k, "--%s: '%s' is not true or false", allowed[1 + i], t);
    }
    if (rc == EXIT_OK && opt(&a, "limit") != NULL &&
        (!parse_u64(opt(&a, "limit"), &limit) || limit == 0))
        rc = usage_error(k, "--limit: not a positive whole number");
    if (rc != EXIT_OK || (rc = connect_client(k)) != EXIT_OK)
        return rc;
    int code = lst_query_operators(k->c, opt(&a, "order"), flags[0] != 0, flags[1] != 0, limit, &r);
    if (code != LST_OK || k->json)
        return finish_query(k, code, r);
    const lst_value *list = lst_reply_get(r, "result.operators");
    if ((rc = need_decimals(k)) == EXIT_OK) {
        printf("  id act      fee    share   apr 7d  apr 30d      apr  perf 7d perf 30d     perf"
               " reports last report slashes slashed\n");
        for (size_t i = 0; i < lst_value_len(list); i++)
            print_card(k, lst_value_at(list, i));
    }
    lst_reply_destroy(&r);
    return rc;
}

/* watch: follow the events stream from --after (default: now), filling gaps from history. */
static int cmd_watch(cli *k)
{
    static const char *const allowed[] = {"after", "account", "count", NULL};
    args a;
    uint64_t after = 0, count = 0, seen = 0;
    uint8_t account[32];
    lst_pool_info pool;
    int rc = parse_args(k, allowed, 0, &a);
    if (rc != EXIT_OK)
        return rc;
    if ((opt(&a, "after") != NULL && !parse_u64(opt(&a, "after"), &after)) ||
        (opt(&a, "count") != NULL && !parse_u64(opt(&a, "count"), &count)))
        return usage_error(k, "--after and --count take whole numbers");
    if (opt(&a, "account") != NULL && (rc = parse_key(k, "account", opt(&a, "account"), account)))
        return rc;
    if ((rc = connect_client(k)) != EXIT_OK || (rc = out_decimals(k)) != EXIT_OK)
        return rc;
    if (opt(&a, "after") == NULL) {
        if ((rc = lst_pool(k->c, &pool)) != LST_OK)
            return fail(k, rc);
        after = pool.seq;
    }
    rc = lst_events_open(k->c, after, opt(&a, "account") != NULL ? account : NULL);
    while (rc == LST_OK && (count == 0 || seen < count)) {
        lst_reply *rec;
        rc = lst_events_next(k->c, WATCH_WAIT_MS, &rec);
        if (rc == LST_ERR_TIMEOUT) {
            rc = LST_OK;
            continue;
        }
        if (rc != LST_OK)
            break;
        if (k->json)
            print_json_line(lst_reply_get(rec, ""), NULL);
        else
            print_record_line(k, lst_reply_get(rec, ""));
        fflush(stdout);
        lst_reply_destroy(&rec);
        seen++;
    }
    return rc == LST_OK ? EXIT_OK : fail(k, rc);
}

/* ---- help -------------------------------------------------------------------------------- */

static int cmd_help(cli *k);

static const command commands[] = {
    {"keygen", cmd_keygen, "FILE",
     "write a fresh key file (mode 0600, never overwrites); print its address"},
    {"address", cmd_address, "[KEYFILE]", "print the address of a key file (default: --key)"},
    {"curve-keygen", cmd_curve_keygen, "NAME",
     "write a CURVE key pair, NAME.secret (mode 0600) and NAME.public, never overwriting;\n"
     "      print the public key (Z85): a client's goes in lstd's curve_clients list"},
    {"pool", cmd_simple, "",
     "the pool now: assets, shares, rate, unvested reward, bunker mode, epoch, parameters, fees,\n"
     "      largest operator, roles, chain head"},
    {"account", cmd_account, "[ACCOUNT]",
     "balances, nonce, liens, allowances, withdrawals (default: --key's)"},
    {"tx", cmd_tx_query, "HASH", "a recorded transaction by its hash"},
    {"history", cmd_history, "[ACCOUNT] [--after SEQ] [--limit N]",
     "an account's recorded transactions"},
    {"operator", cmd_by_id, "ID",
     "an operator: balance, share of the pool, fees in force and for its next report,\n"
     "      held report and the loss it would book, reports, reward rate"},
    {"quote", cmd_quote, "--amount AMOUNT | --shares AMOUNT",
     "shares a deposit mints, or what shares are worth"},
    {"lien", cmd_by_id, "ID", "a collateral lien"},
    {"withdrawal", cmd_by_id, "ID", "a withdrawal request"},
    {"queue", cmd_simple, "", "the withdrawal queue: pending requests, buffer, payable"},
    {"events", cmd_events, "[--after SEQ] [--limit N]",
     "every recorded transaction after a seq (a page)"},
    {"health", cmd_simple, "", "server status and counters"},
    {"votes", cmd_votes, "[--operator-id N] [--after ID] [--limit N] [--last K]",
     "the oracle committee: each member's votes and how many of its last K differed from the\n"
     "      applied result; per operator with pending votes (or --operator-id) each epoch's\n"
     "      votes grouped by balance and performance, and the members who have not voted"},
    {"operators", cmd_operators, "[--order NAME] [--active-only true] [--reverse true] [--limit N]",
     "the operators scorecard: fees, share of the pool, annualised reward rate and duty\n"
     "      performance over 7 and 30 days and since registration, reports, last report,\n"
     "      slashing; --order id | fee | apr_7d | apr_30d | apr | share | performance_7d |\n"
     "      performance_30d | performance (best first; --reverse flips; no figure: last)"},
    {"rate-history", cmd_rate_history, "[--from SEQ] [--limit N] [--png FILE]",
     "exchange-rate changes (reports, accepted reports, resets, slashes): seq, time, A, S, U;\n"
     "      --png FILE plots every one from --from with gnuplot (rate and annualised rate)"},
    {"watch", cmd_watch, "[--after SEQ] [--account ACCOUNT] [--count N]",
     "follow new transactions live (from now by default), with catch-up"},
    {"help", cmd_help, "[COMMAND]", "this help, or one command's"},
};

/* Who signs each kind and what it does (ledger/README.md). */
static const struct {
    const char *kind, *what;
} kind_help[] = {
    {"deposit", "custodian: credit an external deposit, minting shares"},
    {"transfer", "owner: move shares"},
    {"approve", "owner: let a spender move up to SHARES of yours"},
    {"transfer_from", "spender: move an owner's shares within the allowance"},
    {"lock", "owner: pledge shares to a beneficiary (expiry 0: none)"},
    {"release", "beneficiary (owner after expiry): return pledged shares"},
    {"seize", "beneficiary: take pledged shares"},
    {"withdraw_request", "owner: queue shares for redemption"},
    {"withdraw_cancel", "owner: take back a pending request"},
    {"withdraw_finalize", "custodian: pay every pending request up to an id"},
    {"withdraw_settle", "custodian: record the payout of a finalized request"},
    {"operator_fund", "custodian: move buffered assets to an operator"},
    {"operator_exit", "custodian or the operator: move stake back to the buffer"},
    {"report", "operator: report its validators' balance at an epoch (at most the pool's epoch)"},
    {"report_accept", "admin: apply a report held by a sanity limit"},
    {"operator_register", "admin: add an operator"},
    {"operator_set_active", "admin: activate (1) or deactivate (0) an operator"},
    {"operator_set_keys", "admin: rotate an operator's keys"},
    {"fee_set", "admin: set a fee (operator_id 0: treasury)"},
    {"param_set", "admin: set a parameter (by name or number)"},
    {"pause_set", "admin: set the paused activities (deposits,transfers,withdrawals | none)"},
    {"role_set", "admin: hand a role (admin, custodian, treasury) to an account"},
    {"operator_reset", "admin: re-anchor an operator at a started epoch, booking its balance"},
    {"oracle_add", "admin: add an oracle committee member; --quorum is M once it is in"},
    {"oracle_remove", "admin: remove a member and its pending votes; --quorum is M after"},
    {"quorum_set",
     "admin: who books balances (mode operator | committee), the quorum M, and minority 1 to\n"
     "      accept M <= N/2"},
    {"vote", "oracle member: vote an operator's balance and duty performance (10000 = every\n"
             "      duty) at an epoch; M identical votes book it as a report"},
};

_Static_assert(sizeof kind_help / sizeof kind_help[0] == LST_KIND_MAX, "one line per kind");

static const char *placeholder(const char *name, int type)
{
    if (type == LST_FIELD_KEY)
        return "KEY";
    if (type == LST_FIELD_REF)
        return "REF";
    if (amount_field(name))
        return "AMOUNT";
    if (strcmp(name, "value") == 0)
        return "VALUE";
    if (strcmp(name, "param") == 0)
        return "NAME";
    if (strcmp(name, "flags") == 0)
        return "LIST";
    if (strcmp(name, "role") == 0)
        return "ROLE";
    if (strcmp(name, "mode") == 0)
        return "MODE";
    return "N";
}

static void print_kind_usage(FILE *out, const char *lead, unsigned kind)
{
    fprintf(out, "%s%s", lead, lst_kind_name(kind));
    for (unsigned i = 0; i < lst_kind_field_count(kind); i++) {
        int type;
        const char *name = lst_kind_field(kind, i, &type);
        fprintf(out, field_optional(name) ? " [--%s %s]" : " --%s %s", name,
                placeholder(name, type));
    }
    fprintf(out, "\n      %s\n", kind_help[kind - 1].what);
}

static const char help_head[] =
    "usage: lst [global flags] COMMAND [arguments]\n"
    "\n"
    "Global flags (before or after the command):\n"
    "  --endpoint URL[,URL...]\n"
    "                  requests endpoint (default $LST_ENDPOINT, else " DEFAULT_ENDPOINT "), or\n"
    "                  a list of up to 8 replicas of one ledger, comma-separated, no spaces:\n"
    "                  lst talks to the first and moves on. A replica answering NOT_LEADER\n"
    "                  sends lst to the leader it names when that is in the list (never to\n"
    "                  one that is not), else to the next entry; so do a timeout and nothing\n"
    "                  listening. The same signed bytes are resent there (safe: recorded\n"
    "                  once). After 2 rounds of the list lst gives up with the last error\n"
    "                  (a NOT_LEADER names the leader hint); NO_QUORUM is retried in place\n"
    "  --events URL[,URL...]\n"
    "                  events endpoint (default $LST_EVENTS, else " DEFAULT_EVENTS "); of a\n"
    "                  list only the first is used (every replica publishes every event)\n"
    "  --key FILE      the signing key (transactions; default account of account/history)\n"
    "  --json          print one JSON object per result: every integer as a decimal string in\n"
    "                  base units (exact in jq and JSON.parse), keys and hashes as hex, refs\n"
    "                  as REF below (a query prints its reply {ok, result}; a watch one per\n"
    "                  record); every value reads back as lst input as printed\n"
    "  --base          print amounts in base units (no unit) instead of tokens\n"
    "  --dry-run       transaction commands: ask lstd what the transaction would do now\n"
    "                  (simulate: true, PROTOCOL.md \"Simulation\"): the exact result, seq and\n"
    "                  outputs it would get; nothing is recorded and no nonce is used\n"
    "  --timeout MS    wait per attempt (default 5000); a request is resent twice before lst\n"
    "                  gives up (resending a transaction is safe: it is recorded once; with\n"
    "                  an --endpoint list it moves to the next entry instead)\n"
    "  --curve-server-key FILE  connect with CURVE to a server whose public key FILE holds\n"
    "                  (default $LST_CURVE_SERVER_KEY); with --curve-key FILE, this client's\n"
    "                  secret key (default $LST_CURVE_KEY; mode 0600): both or neither\n"
    "  --version       print \"lst VERSION\" and exit\n"
    "\n"
    "AMOUNT (amounts and shares; PROTOCOL.md, Units): digits alone are base units, as on the\n"
    "  wire and in --json (1500000000; 1500000000u says so explicitly); a decimal point or the\n"
    "  suffix tok means tokens of the pool's decimals, exact (1.5, 1.5tok, 2tok: 1500000000 and\n"
    "  2000000000 base units when decimals is 9). Output shows tokens with the unit (1.5tok;\n"
    "  0 is 0), which reads back the same. param_set --value is an AMOUNT for STAKE_LIMIT_MAX\n"
    "  and STAKE_LIMIT_REFILL, a whole number for the other parameters.\n"
    "KEY: an address (64 hex characters, 0x before them allowed) or a key file (its address).\n"
    "REF: 0x and 64 hex digits (32 raw bytes), or text of 1 to 32 bytes (printable UTF-8, stored\n"
    "  zero-padded); shown the same way: as text when it is text, else as 0x and hex.\n"
    "A transaction command may be written with - for _ (oracle-add, quorum-set, ...); MODE is\n"
    "  operator or committee (quorum-set: who books validator balances).\n"
    "Exit status: 0 done, 1 other failure, 2 usage error (an unknown command, option or flag\n"
    "  names the closest known one: \"did you mean --shares?\"), 3 cannot connect or no reply,\n"
    "  4 rejected by the ledger or the server (its error name is printed).\n";

static void print_help(FILE *out)
{
    fputs(help_head, out);
    fprintf(out, "\nKeys, queries and events:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %s%s%s\n      %s\n", commands[i].name, commands[i].synopsis[0] ? " " : "",
                commands[i].synopsis, commands[i].help);
    fprintf(out, "\nTransactions (signed with --key; the nonce is fetched, or --nonce N):\n");
    for (unsigned kind = 1; kind <= LST_KIND_MAX; kind++)
        print_kind_usage(out, "  ", kind);
}

static int usage_command(const cli *k, FILE *out)
{
    const command *c = find_command(k->cmd);
    unsigned kind = lst_kind_by_name(k->cmd);
    if (c != NULL)
        fprintf(out, "usage: lst %s%s%s\n  %s\n", c->name, c->synopsis[0] ? " " : "", c->synopsis,
                c->help);
    else if (kind != 0) {
        print_kind_usage(out, "usage: lst --key FILE [--nonce N] ", kind);
        fprintf(out, "AMOUNT: 1500000000 = base units; 1.5 or 1.5tok = tokens. KEY: address or "
                     "key file. REF: text of 1 to 32 bytes, or 0x and 64 hex digits.\n");
    }
    return EXIT_OK;
}

/* "; did you mean transfer?" for an unknown command: the closest command or transaction kind
 * (for a word starting with '-', the closest global flag), or "" when none is close. */
static void suggest_command(const char *word, char hint[HINT_MAX])
{
    const char *names[sizeof commands / sizeof commands[0] + LST_KIND_MAX];
    size_t n = 0;
    const char *best;
    hint[0] = '\0';
    if (word[0] == '-') {
        best = lst_closest_name(word + strspn(word, "-"), global_flags, GLOBAL_FLAG_COUNT);
        if (best != NULL)
            snprintf(hint, HINT_MAX, "; did you mean --%s?", best);
        return;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        names[n++] = commands[i].name;
    for (unsigned kind = 1; kind <= LST_KIND_MAX; kind++)
        names[n++] = lst_kind_name(kind);
    if ((best = lst_closest_name(word, names, n)) != NULL)
        snprintf(hint, HINT_MAX, "; did you mean %s?", best);
}

static int cmd_help(cli *k)
{
    if (k->argc > 1) {
        cli sub = *k;
        char hint[HINT_MAX];
        sub.cmd = find_command(k->argv[1]) != NULL ? k->argv[1] : kind_alias(k->argv[1]);
        if (find_command(sub.cmd) == NULL && lst_kind_by_name(sub.cmd) == 0) {
            suggest_command(sub.cmd, hint);
            return usage_error(k, "no command '%s'%s", sub.cmd, hint);
        }
        return usage_command(&sub, stdout);
    }
    print_help(stdout);
    return EXIT_OK;
}

/* A transaction kind written with '-' for '_' (oracle-add): the kind's name, else name. */
static const char *kind_alias(const char *name)
{
    static char norm[LST_NAME_MAX];
    if (name == NULL || strchr(name, '-') == NULL || strlen(name) >= sizeof norm)
        return name;
    for (size_t i = 0; i <= strlen(name); i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    return lst_kind_by_name(norm) != 0 ? norm : name;
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* ---- main -------------------------------------------------------------------------------- */

/* Take the global flags out of argv (anywhere); the rest is the command and its arguments.
 * Returns: EXIT_OK, or EXIT_USAGE (message printed). */
static int parse_global(cli *k, int argc, char **argv)
{
    static const char *const with_value[] = {"--endpoint", "--events",           "--key",
                                             "--timeout",  "--curve-server-key", "--curve-key"};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = NULL;
        int which = -1;
        for (int j = 0; j < 6; j++) {
            size_t n = strlen(with_value[j]);
            if (strncmp(arg, with_value[j], n) == 0 && (arg[n] == '\0' || arg[n] == '='))
                which = j, value = arg[n] == '=' ? arg + n + 1 : NULL;
        }
        if (strcmp(arg, "--json") == 0) {
            k->json = true;
        } else if (strcmp(arg, "--version") == 0) {
            k->version = true;
        } else if (strcmp(arg, "--base") == 0) {
            k->base = true;
        } else if (strcmp(arg, "--dry-run") == 0) {
            k->dry_run = true;
        } else if (which < 0) {
            k->argv[k->argc++] = argv[i];
        } else {
            if (value == NULL && i + 1 >= argc)
                return usage_error(k, "%s needs a value", with_value[which]);
            value = value != NULL ? value : argv[++i];
            uint64_t ms = 0;
            if (which == 0)
                k->endpoint = value;
            else if (which == 1)
                k->events = value;
            else if (which == 2)
                k->key_path = value;
            else if (which == 4)
                k->curve_server_key = value;
            else if (which == 5)
                k->curve_key = value;
            else if (!parse_u64(value, &ms) || ms == 0 || ms > 3600000)
                return usage_error(k, "--timeout: '%s' is not a number of milliseconds", value);
            else
                k->timeout_ms = (int)ms;
        }
    }
    return EXIT_OK;
}

static int run(cli *k)
{
    if (k->argc == 0) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    k->cmd = k->argv[0];
    if (find_command(k->cmd) == NULL)
        k->cmd = kind_alias(k->cmd);
    if (strcmp(k->cmd, "--help") == 0 || strcmp(k->cmd, "-h") == 0) {
        print_help(stdout);
        return EXIT_OK;
    }
    const command *c = find_command(k->cmd);
    if (c == NULL && lst_kind_by_name(k->cmd) == 0) {
        char hint[HINT_MAX];
        suggest_command(k->cmd, hint);
        fprintf(stderr, "lst: unknown %s '%s'%s (lst help lists them)\n",
                k->cmd[0] == '-' ? "flag" : "command", k->cmd, hint);
        return EXIT_USAGE;
    }
    for (int i = 1; i < k->argc; i++)
        if (strcmp(k->argv[i], "--help") == 0 || strcmp(k->argv[i], "-h") == 0)
            return usage_command(k, stdout);
    return c != NULL ? c->run(k) : cmd_tx(k);
}

int main(int argc, char **argv)
{
    cli k;
    memset(&k, 0, sizeof k);
    k.endpoint = getenv("LST_ENDPOINT") != NULL ? getenv("LST_ENDPOINT") : DEFAULT_ENDPOINT;
    k.events = getenv("LST_EVENTS") != NULL ? getenv("LST_EVENTS") : DEFAULT_EVENTS;
    k.curve_server_key = getenv("LST_CURVE_SERVER_KEY");
    k.curve_key = getenv("LST_CURVE_KEY");
    k.timeout_ms = DEFAULT_TIMEOUT_MS;
    k.argv = calloc((size_t)argc + 1, sizeof *k.argv);
    if (k.argv == NULL)
        return EXIT_OTHER;
    int rc = parse_global(&k, argc, argv);
    if (rc == EXIT_OK && k.version)
        printf("lst %s\n", LSTD_VERSION);
    else if (rc == EXIT_OK)
        rc = run(&k);
    lst_client_destroy(&k.c);
    free(k.argv);
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = EXIT_OTHER;
    return rc;
}

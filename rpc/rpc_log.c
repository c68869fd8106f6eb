/* rpc_log.c - lstd's operator log: levels, key=value lines on fd 2, reopening the log file */
#include "rpc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048
#define MSG_MAX_BYTES 1024
#define LOG_FILE_MODE 0640

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_priority[] = {3, 4, 6, 7}; /* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */

static _Atomic int current_level = RPC_LOG_INFO;
static bool plain;
static int original_stderr = -1; /* a copy of fd 2 as lstd found it, once a file replaced it */
static _Atomic bool journal;     /* fd 2 is systemd's journal stream: prefix priorities */

const char *rpc_log_level_name(rpc_log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "unknown";
}

int rpc_log_level_parse(const char *name, rpc_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (rpc_log_level)i;
            return 0;
        }
    return -1;
}

void rpc_log_set_level(rpc_log_level level)
{
    atomic_store_explicit(&current_level, (int)level, memory_order_relaxed);
}

bool rpc_log_enabled(rpc_log_level level)
{
    return (int)level <= atomic_load_explicit(&current_level, memory_order_relaxed);
}

void rpc_log_set_plain(bool on)
{
    plain = on;
}

/* Whether fd 2 is the stream systemd connected to the journal: $JOURNAL_STREAM is
 * "DEVICE:INODE" of it (systemd.exec(5)). */
static bool stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int rpc_log_open(const char *path, char *err, size_t err_size)
{
    if (original_stderr < 0) {
        original_stderr = fcntl(2, F_DUPFD_CLOEXEC, 3);
        if (original_stderr < 0) {
            snprintf(err, err_size, "cannot keep stderr: %s", strerror(errno));
            return -1;
        }
    }
    int fd = path == NULL || path[0] == '\0'
                 ? fcntl(original_stderr, F_DUPFD_CLOEXEC, 3)
                 : open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, LOG_FILE_MODE);
    if (fd < 0) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (dup2(fd, 2) < 0) { /* atomic: a line being written goes wholly to the old or the new */
        snprintf(err, err_size, "cannot redirect stderr: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    atomic_store(&journal, stderr_is_journal());
    return 0;
}

/* Append the line's start: priority (journal), time, level, event. Returns: bytes written. */
static size_t line_head(char *line, size_t size, rpc_log_level level, const char *event)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    size_t n = 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    if (atomic_load(&journal))
        n += (size_t)snprintf(line, size, "<%d>", syslog_priority[level]);
    n += (size_t)snprintf(line + n, size - n, "ts=%s.%03ldZ level=%s event=%s", stamp,
                          ts.tv_nsec / 1000000, level_names[level], event);
    return n < size ? n : size - 1;
}

/* End the line with a newline (cutting it if need be) and write it in one call. */
static void line_write(char *line, size_t n, size_t size)
{
    if (n >= size - 1)
        n = size - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, n);
    (void)w; /* nowhere left to say that the log cannot be written */
}

void rpc_log(rpc_log_level level, const char *event, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    va_list ap;
    if (!rpc_log_enabled(level))
        return;
    size_t n = line_head(line, sizeof line, level, event);
    va_start(ap, fmt);
    int k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    n += k > 0 ? (size_t)k : 0;
    line_write(line, n < sizeof line ? n : sizeof line - 1, sizeof line);
}

void rpc_log_msg(rpc_log_level level, const char *event, const char *fmt, ...)
{
    char msg[MSG_MAX_BYTES], quoted[MSG_MAX_BYTES + 64], line[LINE_MAX_BYTES];
    va_list ap;
    if (!rpc_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n;
    if (plain) {
        n = (size_t)snprintf(line, sizeof line, "lstd: %s", msg);
    } else {
        n = line_head(line, sizeof line, level, event);
        n += (size_t)snprintf(line + n, sizeof line - n, " msg=%s",
                              rpc_log_quote(quoted, sizeof quoted, msg));
    }
    line_write(line, n < sizeof line ? n : sizeof line - 1, sizeof line);
}

static bool needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' || *s == 0x7f)
            return true;
    return false;
}

const char *rpc_log_quote(char *out, size_t size, const char *s)
{
    size_t n = 0;
    if (!needs_quotes(s)) {
        snprintf(out, size, "%s", s);
        return out;
    }
    out[n++] = '"';
    for (; *s != '\0' && n + 6 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            n += (size_t)snprintf(out + n, size - n, "\\%c", c);
        else if (c == '\n')
            n += (size_t)snprintf(out + n, size - n, "\\n");
        else if (c == '\t')
            n += (size_t)snprintf(out + n, size - n, "\\t");
        else if (c < ' ' || c == 0x7f)
            n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        else
            out[n++] = (char)c;
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}

/* ---- transactions ---------------------------------------------------------------------------- */

/* Reports, and every kind the admin signs: what an operator must see. */
static bool kind_notable(unsigned kind)
{
    return kind >= LEDGER_TX_REPORT && kind <= LEDGER_TX_KIND_MAX;
}

bool rpc_log_tx_wanted(unsigned kind)
{
    return rpc_log_enabled(kind_notable(kind) ? RPC_LOG_INFO : RPC_LOG_DEBUG);
}

static bool is_held(const ledger_tx *tx, const ledger_result *res)
{
    return (tx->kind == LEDGER_TX_REPORT || tx->kind == LEDGER_TX_VOTE) &&
           (res->code == LEDGER_REPORT_APR_EXCEEDED || res->code == LEDGER_REPORT_DROP_EXCEEDED);
}

/* Whether the kind has a field of this name (an output of the same name, fee_set's fee_bps
 * say, echoes it and is left out: one key per line). */
static bool is_field(const ledger_kind_info *k, const char *name)
{
    for (unsigned f = 0; f < k->field_count; f++)
        if (strcmp(k->fields[f].name, name) == 0)
            return true;
    return false;
}

/* Append " name=value" for every field of the kind, then the outputs of a success. */
static size_t tx_fields(char *out, size_t size, const ledger_tx *tx, const ledger_result *res)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    size_t n = 0;
    char hex[65];
    for (unsigned f = 0; k != NULL && f < k->field_count && n < size; f++) {
        const void *slot = ledger_tx_slot((ledger_tx *)tx, k->fields[f].slot);
        if (k->fields[f].type == LEDGER_F_U64) {
            uint64_t v;
            memcpy(&v, slot, sizeof v);
            n += (size_t)snprintf(out + n, size - n, " %s=%" PRIu64, k->fields[f].name, v);
        } else {
            ledger_hex(hex, slot, 32);
            n += (size_t)snprintf(out + n, size - n, " %s=%s", k->fields[f].name, hex);
        }
    }
    for (unsigned i = 0; k != NULL && res->code == LEDGER_OK && i < 4 && n < size; i++)
        if (k->out_names[i] != NULL && !is_field(k, k->out_names[i]))
            n += (size_t)snprintf(out + n, size - n, " %s=%" PRIu64, k->out_names[i], res->out[i]);
    return n < size ? n : size - 1;
}

/* Readable names beside the numbers of param_set, pause_set and role_set. */
static void tx_names(char *out, size_t size, const ledger_tx *tx)
{
    static const char *const roles[] = {NULL, "admin", "custodian", "treasury"};
    out[0] = '\0';
    if (tx->kind == LEDGER_TX_PARAM_SET && ledger_param_name((unsigned)tx->id) != NULL)
        snprintf(out, size, " param_name=%s", ledger_param_name((unsigned)tx->id));
    else if (tx->kind == LEDGER_TX_ROLE_SET && tx->id >= 1 && tx->id <= 3)
        snprintf(out, size, " role_name=%s", roles[tx->id]);
    else if (tx->kind == LEDGER_TX_PAUSE_SET)
        snprintf(out, size, " paused=%s%s%s%s", tx->amount == 0 ? "none" : "",
                 tx->amount & LEDGER_PAUSE_DEPOSITS ? "deposits," : "",
                 tx->amount & LEDGER_PAUSE_TRANSFERS ? "transfers," : "",
                 tx->amount & LEDGER_PAUSE_WITHDRAWALS ? "withdrawals," : "");
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == ',')
        out[n - 1] = '\0';
}

void rpc_log_tx(const ledger_tx *tx, const ledger_result *res)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    rpc_log_level level = !kind_notable(tx->kind)  ? RPC_LOG_DEBUG
                          : res->code != LEDGER_OK ? RPC_LOG_WARN
                                                   : RPC_LOG_INFO;
    if (k == NULL || !rpc_log_enabled(level))
        return;
    char fields[1024], names[96], signer[65];
    tx_fields(fields, sizeof fields, tx, res);
    tx_names(names, sizeof names, tx);
    ledger_hex(signer, tx->signer, 32);
    rpc_log(level, is_held(tx, res) ? "report_held" : k->name,
            " result=%s seq=%" PRIu64 " batch=%" PRIu64 " signer=%s nonce=%" PRIu64 "%s%s",
            ledger_err_name(res->code), res->seq, res->batch, signer, tx->nonce, fields, names);
}

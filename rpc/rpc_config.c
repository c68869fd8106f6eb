/* rpc_config.c - defaults, flags and `key = value` config files for lstd */
#include "rpc_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc_log.h"
#include "rpc_metrics.h"
#include "store_lmdb.h"

static const char help_text[] =
    "usage: lstd init (--config FILE | --dev) [flags]   create a ledger in an unused data dir\n"
    "       lstd [--dev] [flags]                          serve the ledger in the data dir\n"
    "       lstd --version                                print \"lstd VERSION\"\n"
    "\n"
    "Runs the lstd ledger service: requests on a ZeroMQ ROUTER socket, committed transactions\n"
    "published on a PUB socket (PROTOCOL.md; lstd speaks ZMTP 3 on both itself, to bound what\n"
    "each connection costs). With no flags it uses the embedded defaults below.\n"
    "A ledger is created once, explicitly: `lstd init` refuses a data directory that is not\n"
    "empty, and serving refuses a directory without a ledger (a lost data file never becomes a\n"
    "fresh ledger). Every ledger id ends in 16 random hex digits chosen at init, so signatures\n"
    "for one ledger never apply to another, even one made from the same config. A production\n"
    "genesis comes from a config file naming public keys only. --dev makes a development ledger\n"
    "(fresh admin, custodian, operator and treasury keys written with mode 0600 to DATA/keys/,\n"
    "their addresses printed): `lstd init --dev`, or `lstd --dev`, which creates one when the\n"
    "data directory is unused and otherwise serves what is there.\n"
    "One process per ledger: lstd (serving, or init) holds an exclusive lock on DATA/lstd.lock\n"
    "(mode 0600, holding its pid) while it runs; a second lstd on that directory exits 1 naming\n"
    "the pid. The file stays after lstd exits, and a directory holding nothing else counts as\n"
    "empty. lstd-verify, lstd-backup and lstd-inspect do not take the lock.\n"
    "Serving binds both sockets and the metrics port before it creates or opens anything: a\n"
    "port already taken is exit 1 with no ledger and no keys created.\n"
    "SIGINT/SIGTERM: stop accepting, commit and answer what is in flight, exit 0.\n"
    "SIGHUP: never stops lstd. It reopens the log file (so logrotate can rename it), reads\n"
    "its arguments again (the --config file where it appears, later flags still overriding\n"
    "it) and applies batch_max, log_level and log_file, the settings that are safe to change\n"
    "while running; any other setting that changed is named as needing a restart (endpoint,\n"
    "events, data, metrics, verify_threads, queue_max, durability, memory_limit_mb,\n"
    "checkpoint_s, commit_gather_us, the bounds, curve_secret_key; the genesis never\n"
    "changes). One log line (event=reload) says what it did; a file that no longer parses is\n"
    "reported and nothing changes. With CURVE it also reads the curve_clients allow-list\n"
    "again (its path may have changed), with or without a --config file: one more line,\n"
    "event=curve_clients.\n"
    "Under systemd (Type=notify; $NOTIFY_SOCKET set) lstd reports READY=1 once serving (after\n"
    "the ready line), RELOADING=1 and READY=1 around a SIGHUP, STOPPING=1 at SIGINT/SIGTERM,\n"
    "STATUS= lines, and WATCHDOG=1 every half of WatchdogSec when the unit sets it. Without\n"
    "$NOTIFY_SOCKET nothing of this happens.\n"
    "An unknown flag or key is a usage error (exit 2) naming the closest known one.\n"
    "\n";

static const char help_flags[] =
    "flags (each also a config-file key: the flag's name with '_' for '-', e.g.\n"
    "`batch_max = 1024` for --batch-max 1024):\n"
    "  --endpoint URL        request socket (ROUTER)        default tcp://127.0.0.1:7440\n"
    "  --events URL          event socket (PUB)             default tcp://127.0.0.1:7441\n"
    "  --data DIR            data directory                 default ./lstd-data\n"
    "  --metrics HOST:PORT   Prometheus text format on http://HOST:PORT/metrics (its own\n"
    "                        thread; GET only), default 127.0.0.1:9440 (loopback); port 0\n"
    "                        picks a free one (the ready line names it); off: none. IPv6 as\n"
    "                        [::1]:9440. Bound before the ledger is opened, as the sockets are\n"
    "  --verify-threads N    signature verification threads default: online CPUs\n"
    "  --batch-max N         transactions per batch         default 4096 (1..65536)\n"
    "  --queue-max N         requests in flight before BUSY default 16384 (1..1048576)\n"
    "  --durability MODE     sync: fsync the log (one commit may hold several batches) before\n"
    "                        replying (default);\n"
    "                        nosync: no fsync (survives a killed process, not power loss)\n"
    "  --memory-limit-mb N   state and indexes held in memory must fit, or lstd refuses to\n"
    "                        start saying how much they need; default 0: 3/4 of physical memory\n"
    "  --checkpoint-s N      seconds between checkpoints of the changed state (default 10,\n"
    "                        1..3600): longer costs less while running, and replays more at\n"
    "                        the start after a crash (a clean stop checkpoints last)\n"
    "  --commit-gather-us N  under load, a log commit waits until N microseconds after the\n"
    "                        previous one began (or until 1024 records wait), so one fsync\n"
    "                        covers more batches; a commit after a quiet moment starts at once\n"
    "                        (default 3000, 0..100000; 0: commit as soon as the last is done)\n"
    "  --log-level LEVEL     error, warn, info (default) or debug\n"
    "  --log-file FILE       append the log to FILE (created mode 0640) instead of stderr;\n"
    "                        stderr itself is redirected there too; SIGHUP reopens it\n"
    "  --config FILE         read `key = value` lines from FILE at this point\n"
    "  --dev                 allow creating a development ledger (see above; flag only)\n"
    "  --version             print \"lstd VERSION\" and exit\n"
    "  --help                this text\n"
    "\n";

static const char help_log[] =
    "log (stderr, or --log-file): one line per event, `key=value` fields separated by spaces,\n"
    "a value holding a space or a quote in double quotes:\n"
    "  ts=2026-12-01T10:00:00.123Z level=info event=ready ledger_id=ID requests=tcp://...\n"
    "Every line starts with ts= (UTC, milliseconds), level= and event=; the fields after them\n"
    "are fixed per event (README.md, Operations, lists them): start, open, ready, reload,\n"
    "stopping, stopped; batch_failed, rate_index_failed (error); report_held, rate_index\n"
    "(warn: the rate-history index was rebuilt from the log); report, report_accept,\n"
    "operator_register, operator_set_active, operator_set_keys, fee_set, param_set, pause_set,\n"
    "role_set, operator_reset (info; warn when rejected); at debug also every batch and every\n"
    "other transaction. Under the journal each line starts with its syslog priority (<3>..<7>).\n"
    "Refusals at start keep their sentence in msg=\"...\"; usage errors (exit 2), `lstd init`\n"
    "and a port already taken (`lstd: cannot bind URL: ...`, `lstd: cannot bind --metrics\n"
    "ADDR: ...`) print plain `lstd: ...` lines.\n"
    "\n";

static const char help_bounds[] =
    "bounds (PROTOCOL.md, \"Limits\"; memory per connection and in all is bounded by them):\n"
    "  --conn-max N          request connections at once; more are closed as they connect\n"
    "                        (default 1024, 1..65536)\n"
    "  --conn-queue-max N    requests one connection may have in flight (default 4096,\n"
    "                        1..1048576); fairness: a connection holding min(conn-queue-max,\n"
    "                        queue-max / n), n the connections with requests in flight, is\n"
    "                        not read until it holds fewer; verification and batches take\n"
    "                        the connections in turn, one request each; failed signatures\n"
    "                        are verified at most 200/s per connection and 2000/s in all\n"
    "                        (after a burst), the rest waiting (PROTOCOL.md, Limits)\n"
    "  --conn-reply-bytes N  bytes of replies that may wait for one connection to read them\n"
    "                        (default 4194304, 65536..2^40): past it its queries are answered\n"
    "                        BUSY and it is not read until it has read its replies\n"
    "  --reply-bytes-max N   the same for all connections together (default 268435456,\n"
    "                        1048576..2^44)\n"
    "  --sub-max N           subscriber connections at once (default 256, 1..65536)\n"
    "  --sub-topics-max N    subscriptions one subscriber may hold; more are ignored\n"
    "                        (default 256, 1..65536)\n"
    "  --sub-queue-bytes N   bytes of events that may wait for one subscriber; events beyond\n"
    "                        are dropped for it (default 2097152, 65536..2^40)\n"
    "\n";

static const char help_curve[] =
    "transport security (PROTOCOL.md, \"Transport\"; README.md, \"CURVE\"):\n"
    "  --curve-secret-key FILE  serve both sockets (requests and events) with CurveZMQ only,\n"
    "                        as the server whose secret key FILE holds (40 Z85 or 64 hex\n"
    "                        characters; `lst curve-keygen NAME` makes one); FILE must be\n"
    "                        mode 0600 or lstd refuses to start. Default: none, the NULL\n"
    "                        mechanism (no encryption, no authentication)\n"
    "  --curve-clients FILE  the client public keys allowed to connect, one a line (40 Z85 or\n"
    "                        64 hex characters; '#' comments). Read at start and again at\n"
    "                        every SIGHUP; the connections of a key no longer in it are\n"
    "                        closed. A file that is missing, unreadable or holds a line that\n"
    "                        is no key refuses every client (logged, event=curve_clients)\n"
    "                        until a good one is loaded; so does CURVE without this setting.\n"
    "                        Without --curve-secret-key it is a usage error (exit 2)\n"
    "  A socket bound to an address other than loopback (127.0.0.0/8, [::1], localhost)\n"
    "  without CURVE is served, with a warning in the log at start (event=insecure_bind).\n"
    "  Refused handshakes count in protocol_drops, those refused for their key also in\n"
    "  auth_failures (health, metrics lstd_auth_failures_total).\n"
    "\n";

static const char help_replication[] =
    "replication (README.md, \"Replication\"; PROTOCOL.md, \"Replication\"):\n"
    "  --replicate URLS      replicate the ledger through NATS JetStream: the NATS servers\n"
    "                        (nats://HOST:PORT, comma-separated). One stream per ledger\n"
    "                        (LSTD_<ledger id>) holds every batch; the replica holding the\n"
    "                        lease leads, the others follow, answer queries and publish\n"
    "                        events, and answer transactions NOT_LEADER (with the leader's\n"
    "                        endpoint). A reply means the batch is in the local log and\n"
    "                        acknowledged by the stream. Default: off\n"
    "  --node NAME           this replica's name in the lease (default: its advertise URL)\n"
    "  --advertise URL       the request endpoint clients reach this replica at, given to\n"
    "                        clients in NOT_LEADER replies (default: --endpoint as bound)\n"
    "  --lease-ms N          the leader lease's time to live, renewed every third of it\n"
    "                        (default 3000, 300..60000): a leader that stops is replaced\n"
    "                        after about this long\n"
    "  --replicas N          NATS servers holding the stream and the lease (default 3, 1..5)\n"
    "  lstd init --join ID --replicate URLS   a new replica: copy ledger ID's genesis from its\n"
    "                        stream into an unused data directory; serving then follows the\n"
    "                        stream from its beginning\n"
    "\n";

static const char help_genesis[] =
    "genesis keys (config file only, used by `lstd init` and checked when serving):\n"
    "  ledger_id = NAME                  1..15 printable ASCII characters; init appends\n"
    "                                    '-' and 16 random hex digits\n"
    "  admin = HEX  custodian = HEX  treasury = HEX   x-only public keys (64 hex chars)\n"
    "  operator = KEY_HEX FEE_ACCOUNT_HEX FEE_BPS     repeatable, ids 1, 2, ... in order\n"
    "  decimals = 9  dead_shares = 1000000 (at least 1000000)  treasury_fee_bps = 500\n"
    "  epoch_origin = 0                  Unix time epoch 0 starts, at most the genesis time;\n"
    "                                    0: epochs count epoch_s periods of Unix time (an\n"
    "                                    Ethereum pool: the beacon chain's genesis, 1606824023)\n"
    "  stake_limit_max, stake_limit_refill, max_apr_bps, max_drop_bps, operator_cap_bps,\n"
    "  fee_delay_s, epoch_s, vest_s = N  ledger parameters (ledger/README.md; vest_s: seconds\n"
    "                                    a reward vests over, default 86400, 0 = at once)\n"
    "  oracle_member = HEX               repeatable (at most 32): an oracle committee member\n"
    "  oracle_quorum = M                 identical votes that book a report: 1..members and\n"
    "                                    more than half of them (0 without members)\n"
    "  oracle_minority = 0               1: accept a quorum of at most half the members\n"
    "  report_mode = operator            operator: each operator reports its own balance;\n"
    "                                    committee: only the committee's quorum books one\n"
    "If the data directory already holds a ledger, a configured genesis must match it.\n";

/* Every name set_service, set_genesis_identity and set_genesis_setting accept (with the
 * parameters' lowercase names), and the flags that are not keys: the candidates of "did you
 * mean". test_rpc_names checks these lists against the functions. */
static const char *const service_keys[] = {"endpoint",
                                           "events",
                                           "data",
                                           "metrics",
                                           "verify_threads",
                                           "batch_max",
                                           "queue_max",
                                           "durability",
                                           "memory_limit_mb",
                                           "checkpoint_s",
                                           "log_level",
                                           "log_file",
                                           "conn_max",
                                           "conn_queue_max",
                                           "conn_reply_bytes",
                                           "reply_bytes_max",
                                           "sub_max",
                                           "sub_topics_max",
                                           "sub_queue_bytes",
                                           "curve_secret_key",
                                           "curve_clients",
                                           "replicate",
                                           "node",
                                           "advertise",
                                           "lease_ms",
                                           "replicas",
                                           "join",
                                           "commit_gather_us"};
static const char *const flag_only[] = {"config", "dev", "help", "version"};
static const char *const genesis_keys[] = {
    "ledger_id",     "admin",           "custodian",    "treasury",         "operator",
    "decimals",      "dead_shares",     "epoch_origin", "treasury_fee_bps", "oracle_member",
    "oracle_quorum", "oracle_minority", "report_mode"};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NAME_LEN_MAX 64
#define NAME_EDITS_MAX 2

static char fold(char c)
{
    return (char)tolower((unsigned char)c);
}

/* Edit distance of a and b, ASCII case folded (optimal string alignment: insert, delete,
 * replace, swap two neighbours). Returns: it, or NAME_EDITS_MAX + 1 when it is more. */
static size_t name_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), rows[3][NAME_LEN_MAX + 1];
    if (la > NAME_LEN_MAX || lb > NAME_LEN_MAX || (la > lb ? la - lb : lb - la) > NAME_EDITS_MAX)
        return NAME_EDITS_MAX + 1;
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t v = prev[j - 1] + (fold(a[i - 1]) != fold(b[j - 1]));
            v = prev[j] + 1 < v ? prev[j] + 1 : v;
            v = cur[j - 1] + 1 < v ? cur[j - 1] + 1 : v;
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
                fold(a[i - 2]) == fold(b[j - 1]) && prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
        }
    }
    size_t d = rows[la % 3][lb];
    return d > NAME_EDITS_MAX ? NAME_EDITS_MAX + 1 : d;
}

const char *rpc_closest_name(const char *word, const char *const *names, size_t count)
{
    const char *best = NULL;
    size_t best_d = NAME_EDITS_MAX + 1, len = strlen(word);
    for (size_t i = 0; i < count; i++) {
        size_t d = name_distance(word, names[i]);
        if (d < best_d && d < len) /* fewer edits than characters: "ab" is no typo of "tx" */
            best = names[i], best_d = d;
    }
    return best;
}

/* The lowercase name of a parameter ("vest_s"), the way the config file spells it. */
static void param_lower(unsigned num, char out[40])
{
    const char *name = ledger_param_name(num);
    size_t i = 0;
    for (; name[i] && i < 39; i++)
        out[i] = fold(name[i]);
    out[i] = '\0';
}

/* A name with every `from` replaced by `to`: a key's flag (batch_max: --batch-max) or back.
 * Out: out (NAME_LEN_MAX + 1 bytes; a longer name is cut). */
static void flag_spelling(const char *name, char from, char to, char *out)
{
    size_t i = 0;
    for (; name[i] != '\0' && i < NAME_LEN_MAX; i++)
        out[i] = name[i] == from ? to : name[i];
    out[i] = '\0';
}

/* "; did you mean --batch-max?" (a flag) or "; did you mean vest_s?" (a config-file key) for
 * name (without dashes), or "" when nothing is close. Out: out. */
static void suggest_setting(const char *name, bool file_key, char *out, size_t size)
{
    char params[LEDGER_PARAM_COUNT][40];
    char flags[ARRAY_LEN(service_keys)][NAME_LEN_MAX + 1];
    const char *names[ARRAY_LEN(service_keys) + ARRAY_LEN(flag_only) + ARRAY_LEN(genesis_keys) +
                      LEDGER_PARAM_COUNT];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(service_keys); i++) {
        flag_spelling(service_keys[i], '_', '-', flags[i]);
        names[n++] = file_key ? service_keys[i] : flags[i];
    }
    for (size_t i = 0; !file_key && i < ARRAY_LEN(flag_only); i++)
        names[n++] = flag_only[i];
    for (size_t i = 0; file_key && i < ARRAY_LEN(genesis_keys); i++)
        names[n++] = genesis_keys[i];
    for (unsigned p = 1; file_key && p < LEDGER_PARAM_COUNT; p++) {
        param_lower(p, params[p]);
        names[n++] = params[p];
    }
    const char *best = rpc_closest_name(name, names, n);
    if (best == NULL)
        out[0] = '\0';
    else
        snprintf(out, size, "; did you mean %s%s?", file_key ? "" : "--", best);
}

bool rpc_endpoint_loopback(const char *endpoint)
{
    const char *host = strncmp(endpoint, "tcp://", 6) == 0 ? endpoint + 6 : endpoint;
    unsigned a, b, c, d;
    char colon;
    if (sscanf(host, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &colon) == 5 && colon == ':')
        return a == 127 && b <= 255 && c <= 255 && d <= 255;
    return strncmp(host, "[::1]:", 6) == 0 || strncmp(host, "localhost:", 10) == 0;
}

void rpc_config_help(FILE *out)
{
    fputs(help_text, out);
    fputs(help_flags, out);
    fputs(help_log, out);
    fputs(help_bounds, out);
    fputs(help_curve, out);
    fputs(help_replication, out);
    fputs(help_genesis, out);
}

void rpc_config_defaults(rpc_config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->endpoint, "tcp://127.0.0.1:7440");
    strcpy(cfg->events_endpoint, "tcp://127.0.0.1:7441");
    strcpy(cfg->data_dir, "./lstd-data");
    strcpy(cfg->metrics, "127.0.0.1:9440");
    cfg->verify_threads = cpus > 0 && cpus < 64 ? (unsigned)cpus : 2;
    cfg->batch_max = 4096;
    cfg->queue_max = 16384;
    cfg->durability = STORE_SYNC;
    cfg->checkpoint_s = 10;
    cfg->commit_gather_us = STORE_DB_GATHER_US;
    cfg->log_level = RPC_LOG_INFO;
    cfg->conn_max = 1024;
    cfg->conn_queue_max = 4096;
    cfg->conn_reply_bytes = 4u << 20;
    cfg->reply_bytes_max = 256u << 20;
    cfg->sub_max = 256;
    cfg->sub_topics_max = 256;
    cfg->sub_queue_bytes = 2u << 20;
    cfg->lease_ms = 3000;
    cfg->replicas = 3;
    ledger_genesis_defaults(&cfg->genesis);
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int rpc_hex_decode32(uint8_t out[32], const char *hex)
{
    if (strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void rpc_hex_encode32(char out[65], const uint8_t in[32])
{
    ledger_hex(out, in, 32);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    if (*s == '\0' || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int set_copy(char *dst, const char *v)
{
    if (strlen(v) >= RPC_PATH_MAX || *v == '\0')
        return -1;
    strcpy(dst, v);
    return 0;
}

static int set_unsigned(unsigned *dst, const char *v, uint64_t lo, uint64_t hi)
{
    uint64_t x;
    if (parse_u64(v, lo, hi, &x) != 0)
        return -1;
    *dst = (unsigned)x;
    return 0;
}

static int set_bytes(uint64_t *dst, const char *v, uint64_t lo, uint64_t hi)
{
    return parse_u64(v, lo, hi, dst);
}

/* Service settings shared by flags and the file. Returns: 1 handled, 0 not a service key,
 * -1 bad value. */
/* The replication keys. Returns: 1 set, -1 bad value, 0 not one of them. */
static int set_replication(rpc_config *cfg, const char *key, const char *v)
{
    if (strcmp(key, "replicate") == 0)
        return strncmp(v, "nats://", 7) == 0 && set_copy(cfg->replicate, v) == 0 ? 1 : -1;
    if (strcmp(key, "node") == 0)
        return v[0] != '\0' && strchr(v, '\n') == NULL && set_copy(cfg->node, v) == 0 ? 1 : -1;
    if (strcmp(key, "advertise") == 0)
        return strncmp(v, "tcp://", 6) == 0 && set_copy(cfg->advertise, v) == 0 ? 1 : -1;
    if (strcmp(key, "lease_ms") == 0)
        return set_unsigned(&cfg->lease_ms, v, 300, 60000) == 0 ? 1 : -1;
    if (strcmp(key, "replicas") == 0)
        return set_unsigned(&cfg->replicas, v, 1, 5) == 0 ? 1 : -1;
    if (strcmp(key, "join") == 0) {
        size_t n = strlen(v);
        if (n == 0 || n > LEDGER_ID_MAX)
            return -1;
        memcpy(cfg->join, v, n + 1);
        return 1;
    }
    return 0;
}

static int set_service(rpc_config *cfg, const char *key, const char *v)
{
    if (strcmp(key, "endpoint") == 0)
        return set_copy(cfg->endpoint, v) == 0 ? 1 : -1;
    if (strcmp(key, "events") == 0)
        return set_copy(cfg->events_endpoint, v) == 0 ? 1 : -1;
    if (strcmp(key, "data") == 0)
        return set_copy(cfg->data_dir, v) == 0 ? 1 : -1;
    if (strcmp(key, "metrics") == 0)
        return rpc_metrics_addr_valid(v) == 0 && set_copy(cfg->metrics, v) == 0 ? 1 : -1;
    if (strcmp(key, "verify_threads") == 0)
        return set_unsigned(&cfg->verify_threads, v, 1, 64) == 0 ? 1 : -1;
    if (strcmp(key, "batch_max") == 0)
        return set_unsigned(&cfg->batch_max, v, 1, 65536) == 0 ? 1 : -1;
    if (strcmp(key, "queue_max") == 0)
        return set_unsigned(&cfg->queue_max, v, 1, 1048576) == 0 ? 1 : -1;
    if (strcmp(key, "memory_limit_mb") == 0)
        return set_unsigned(&cfg->memory_limit_mb, v, 0, 1u << 30) == 0 ? 1 : -1;
    if (strcmp(key, "checkpoint_s") == 0)
        return set_unsigned(&cfg->checkpoint_s, v, 1, 3600) == 0 ? 1 : -1;
    if (strcmp(key, "commit_gather_us") == 0)
        return set_unsigned(&cfg->commit_gather_us, v, 0, 100000) == 0 ? 1 : -1;
    if (strcmp(key, "log_file") == 0)
        return set_copy(cfg->log_file, v) == 0 ? 1 : -1;
    if (strcmp(key, "log_level") == 0) {
        rpc_log_level level;
        if (rpc_log_level_parse(v, &level) != 0)
            return -1;
        cfg->log_level = (int)level;
        return 1;
    }
    if (strcmp(key, "conn_max") == 0) /* the bounds: PROTOCOL.md, "Limits" */
        return set_unsigned(&cfg->conn_max, v, 1, 65536) == 0 ? 1 : -1;
    if (strcmp(key, "conn_queue_max") == 0)
        return set_unsigned(&cfg->conn_queue_max, v, 1, 1048576) == 0 ? 1 : -1;
    if (strcmp(key, "conn_reply_bytes") == 0)
        return set_bytes(&cfg->conn_reply_bytes, v, 65536, 1ull << 40) == 0 ? 1 : -1;
    if (strcmp(key, "reply_bytes_max") == 0)
        return set_bytes(&cfg->reply_bytes_max, v, 1u << 20, 1ull << 44) == 0 ? 1 : -1;
    if (strcmp(key, "sub_max") == 0)
        return set_unsigned(&cfg->sub_max, v, 1, 65536) == 0 ? 1 : -1;
    if (strcmp(key, "sub_topics_max") == 0)
        return set_unsigned(&cfg->sub_topics_max, v, 1, 65536) == 0 ? 1 : -1;
    if (strcmp(key, "sub_queue_bytes") == 0)
        return set_bytes(&cfg->sub_queue_bytes, v, 65536, 1ull << 40) == 0 ? 1 : -1;
    if (strcmp(key, "curve_secret_key") == 0)
        return set_copy(cfg->curve_secret_key, v) == 0 ? 1 : -1;
    if (strcmp(key, "curve_clients") == 0)
        return set_copy(cfg->curve_clients, v) == 0 ? 1 : -1;
    int repl = set_replication(cfg, key, v);
    if (repl != 0)
        return repl;
    if (strcmp(key, "durability") == 0) {
        if (strcmp(v, "sync") == 0)
            cfg->durability = STORE_SYNC;
        else if (strcmp(v, "nosync") == 0)
            cfg->durability = STORE_NOSYNC;
        else
            return -1;
        return 1;
    }
    return 0;
}

static int set_operator(ledger_genesis *g, const char *v)
{
    char key[80], fee_account[80], bps[32];
    uint64_t fee;
    if (g->operator_count >= LEDGER_GENESIS_OPERATORS_MAX ||
        sscanf(v, "%79s %79s %31s", key, fee_account, bps) != 3)
        return -1;
    ledger_genesis_operator *o = &g->operators[g->operator_count];
    if (rpc_hex_decode32(o->key, key) != 0 || rpc_hex_decode32(o->fee_account, fee_account) != 0 ||
        parse_u64(bps, 0, LEDGER_BPS, &fee) != 0)
        return -1;
    o->fee_bps = fee;
    g->operator_count++;
    return 0;
}

static int set_oracle_member(ledger_genesis *g, const char *v)
{
    if (g->oracle_member_count >= LEDGER_ORACLE_MEMBERS_MAX ||
        rpc_hex_decode32(g->oracle_members[g->oracle_member_count], v) != 0)
        return -1;
    g->oracle_member_count++;
    return 0;
}

/* The production genesis's keys and accounts (file only).
 * Returns: 1 handled, 0 not one, -1 bad value. */
static int set_genesis_identity(rpc_config *cfg, const char *key, const char *v)
{
    ledger_genesis *g = &cfg->genesis;
    int rc;
    if (strcmp(key, "ledger_id") == 0)
        rc = strlen(v) <= LEDGER_ID_MAX ? (strcpy(g->ledger_id, v), 0) : -1;
    else if (strcmp(key, "admin") == 0)
        rc = rpc_hex_decode32(g->admin, v);
    else if (strcmp(key, "custodian") == 0)
        rc = rpc_hex_decode32(g->custodian, v);
    else if (strcmp(key, "treasury") == 0)
        rc = rpc_hex_decode32(g->treasury, v);
    else if (strcmp(key, "operator") == 0)
        rc = set_operator(g, v);
    else if (strcmp(key, "oracle_member") == 0)
        rc = set_oracle_member(g, v);
    else
        return 0;
    cfg->has_genesis = true;
    return rc == 0 ? 1 : -1;
}

/* The documented range of each parameter (ledger.h's table). */
static const struct {
    unsigned num;
    uint64_t lo, hi;
} param_ranges[] = {
#define PARAM_RANGE(name, num, def, lo, hi) {num, lo, hi},
    LEDGER_PARAMS(PARAM_RANGE)
#undef PARAM_RANGE
};

/* A parameter by its lowercase name ("vest_s"). Returns: 1 handled, 0 not a parameter, -1 bad
 * value (why says the range). */
static int set_param(ledger_genesis *g, const char *key, const char *v, char *why, size_t n)
{
    for (size_t p = 0; p < sizeof param_ranges / sizeof param_ranges[0]; p++) {
        char lower[40];
        unsigned num = param_ranges[p].num;
        param_lower(num, lower);
        if (strcmp(key, lower) != 0)
            continue;
        if (parse_u64(v, param_ranges[p].lo, param_ranges[p].hi, &g->params[num]) == 0)
            return 1;
        snprintf(why, n, "%s must be a whole number in %" PRIu64 "..%" PRIu64, key,
                 param_ranges[p].lo, param_ranges[p].hi);
        return -1;
    }
    return 0;
}

/* The production genesis's settings (file only).
 * Returns: 1 handled, 0 not one, -1 bad value (why may say more). */
static int set_genesis_setting(rpc_config *cfg, const char *key, const char *v, char *why, size_t n)
{
    ledger_genesis *g = &cfg->genesis;
    int rc;
    if (strcmp(key, "decimals") == 0) {
        rc = parse_u64(v, 0, 18, &g->decimals);
    } else if (strcmp(key, "dead_shares") == 0) {
        rc = parse_u64(v, LEDGER_DEAD_SHARES_MIN, UINT64_MAX, &g->dead_shares);
        if (rc != 0)
            snprintf(why, n,
                     "dead_shares must be at least %u: the seed that keeps a near-empty pool's "
                     "rate from being inflated (ledger/README.md)",
                     LEDGER_DEAD_SHARES_MIN);
    } else if (strcmp(key, "epoch_origin") == 0) {
        rc = parse_u64(v, 0, UINT64_MAX, &g->epoch_origin);
    } else if (strcmp(key, "treasury_fee_bps") == 0) {
        rc = parse_u64(v, 0, LEDGER_BPS, &g->treasury_fee_bps);
    } else if (strcmp(key, "oracle_quorum") == 0) {
        rc = parse_u64(v, 0, LEDGER_ORACLE_MEMBERS_MAX, &g->oracle_quorum);
    } else if (strcmp(key, "oracle_minority") == 0) {
        rc = parse_u64(v, 0, 1, &g->oracle_minority);
    } else if (strcmp(key, "report_mode") == 0) {
        rc = strcmp(v, "operator") == 0    ? (g->report_mode = LEDGER_REPORT_MODE_OPERATOR, 0)
             : strcmp(v, "committee") == 0 ? (g->report_mode = LEDGER_REPORT_MODE_COMMITTEE, 0)
                                           : -1;
        if (rc != 0)
            snprintf(why, n, "report_mode must be operator or committee");
    } else {
        rc = set_param(g, key, v, why, n);
        if (rc == 0)
            return 0;
        rc = rc == 1 ? 0 : -1;
    }
    cfg->has_genesis = true;
    return rc == 0 ? 1 : -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int rpc_config_read_file(rpc_config *cfg, const char *path, char *err, size_t err_size)
{
    char line[1024];
    int n = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        n++;
        char *hash = strchr(line, '#'), *eq;
        if (hash != NULL)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        int rc = -1;
        char why[160] = "", *key = NULL;
        if ((eq = strchr(s, '=')) != NULL) {
            *eq = '\0';
            key = trim(s);
            char *value = trim(eq + 1);
            rc = set_service(cfg, key, value);
            if (rc == 0)
                rc = set_genesis_identity(cfg, key, value);
            if (rc == 0)
                rc = set_genesis_setting(cfg, key, value, why, sizeof why);
        }
        if (rc == 0) {
            char hint[NAME_LEN_MAX + 32];
            suggest_setting(key, true, hint, sizeof hint);
            snprintf(err, err_size, "%s:%d: unknown key '%.*s'%s", path, n, NAME_LEN_MAX, key,
                     hint);
        } else if (rc != 1) {
            snprintf(err, err_size, "%s:%d: %s", path, n,
                     why[0] != 0 ? why : "bad value or not `key = value`");
        }
        if (rc != 1) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

/* A flag that takes a value: --config or a service key. */
static bool flag_with_value(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(service_keys); i++)
        if (strcmp(name, service_keys[i]) == 0)
            return true;
    return strcmp(name, "config") == 0;
}

/* The message for an argument that is no flag lstd knows. Returns: -1. */
static int unknown_argument(const char *a, char *err, size_t err_size)
{
    char hint[NAME_LEN_MAX + 32] = "";
    if (a[0] == '-') {
        suggest_setting(a + strspn(a, "-"), false, hint, sizeof hint);
        snprintf(err, err_size, "%.*s: unknown flag%s (see --help)", NAME_LEN_MAX, a, hint);
    } else {
        static const char *const commands[] = {"init"};
        if (rpc_closest_name(a, commands, 1) != NULL)
            snprintf(hint, sizeof hint, "; did you mean `lstd init`?");
        snprintf(err, err_size, "%.*s: unexpected argument%s (see --help)", NAME_LEN_MAX, a, hint);
    }
    return -1;
}

int rpc_config_parse_args(rpc_config *cfg, int argc, char **argv, char *err, size_t err_size)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cfg->help = true;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            cfg->version = true;
            continue;
        }
        if (strcmp(a, "--dev") == 0) {
            cfg->dev = true;
            continue;
        }
        char key[NAME_LEN_MAX + 1] = ""; /* one spelling each: --batch-max, batch_max */
        if (strncmp(a, "--", 2) == 0 && strchr(a + 2, '_') == NULL && strlen(a + 2) <= NAME_LEN_MAX)
            flag_spelling(a + 2, '-', '_', key);
        if (!flag_with_value(key))
            return unknown_argument(a, err, err_size);
        if (i + 1 >= argc) {
            snprintf(err, err_size, "%s needs a value (see --help)", a);
            return -1;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0) {
            if (rpc_config_read_file(cfg, v, err, err_size) != 0)
                return -1;
            if (set_copy(cfg->config_path, v) != 0) {
                snprintf(err, err_size, "--config: the path is too long");
                return -1;
            }
            continue;
        }
        if (set_service(cfg, key, v) != 1) {
            snprintf(err, err_size, "%s %s: bad value (see --help)", a, v);
            return -1;
        }
    }
    if (cfg->curve_clients[0] != '\0' && cfg->curve_secret_key[0] == '\0') {
        snprintf(err, err_size,
                 "curve_clients is set but curve_secret_key is not: CURVE would be off and "
                 "every client let in; set both (see --help)");
        return -1;
    }
    return 0;
}

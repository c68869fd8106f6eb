/* rpc_genesis.c - production genesis from the config, development genesis with fresh keys */
#include "rpc_genesis.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "rpc_log.h"

int rpc_key_write(const char *path, const uint8_t seckey[32])
{
    char hex[66];
    rpc_hex_encode32(hex, seckey);
    hex[64] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, hex, 65);
    crypto_wipe(hex, sizeof hex);
    int rc = w == 65 && fsync(fd) == 0 ? 0 : -1;
    close(fd);
    return rc;
}

int rpc_key_mode_ok(const char *path, int fd)
{
    struct stat st;
    char dir[4096];
    if (fstat(fd, &st) != 0)
        return -1;
    if (st.st_mode & 077) {
        fprintf(stderr,
                "key file %s has mode %04o: group or others can read it; run chmod 600 %s\n", path,
                (unsigned)(st.st_mode & 07777), path);
        errno = EPERM;
        return -1;
    }
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir)
        return 0;
    memcpy(dir, slash == NULL ? "." : path, n);
    dir[n] = '\0';
    if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        fprintf(stderr,
                "key directory %s is writable by others, who could replace %s; run "
                "chmod o-w %s\n",
                dir, path, dir);
        errno = EPERM;
        return -1;
    }
    return 0;
}

int rpc_key_read(const char *path, uint8_t seckey[32])
{
    char hex[80];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (rpc_key_mode_ok(path, fileno(f)) != 0) {
        int e = errno;
        fclose(f);
        errno = e;
        return -1;
    }
    char *line = fgets(hex, sizeof hex, f);
    fclose(f);
    if (line == NULL)
        return -1;
    hex[strcspn(hex, "\r\n")] = '\0';
    int rc = rpc_hex_decode32(seckey, hex);
    crypto_wipe(hex, sizeof hex);
    return rc;
}

/* Is `id` the configured `name` with a salt appended (name-<16 hex>)? */
static bool salted_from(const char *id, const char *name)
{
    size_t n = strlen(name);
    return strncmp(id, name, n) == 0 && id[n] == '-' && strlen(id + n + 1) == 2 * RPC_SALT_BYTES &&
           strspn(id + n + 1, "0123456789abcdef") == 2 * RPC_SALT_BYTES;
}

/* The configured genesis a (ledger_id: the name) against the stored one b (the salted id). */
static bool same_genesis(const ledger_genesis *a, const ledger_genesis *b)
{
    return salted_from(b->ledger_id, a->ledger_id) && a->decimals == b->decimals &&
           memcmp(a->admin, b->admin, 32) == 0 && memcmp(a->custodian, b->custodian, 32) == 0 &&
           memcmp(a->treasury, b->treasury, 32) == 0 && a->dead_shares == b->dead_shares &&
           a->epoch_origin == b->epoch_origin && a->treasury_fee_bps == b->treasury_fee_bps &&
           memcmp(a->params, b->params, sizeof a->params) == 0 &&
           a->operator_count == b->operator_count &&
           memcmp(a->operators, b->operators, sizeof a->operators[0] * a->operator_count) == 0 &&
           a->report_mode == b->report_mode && a->oracle_quorum == b->oracle_quorum &&
           a->oracle_minority == b->oracle_minority &&
           a->oracle_member_count == b->oracle_member_count &&
           memcmp(a->oracle_members, b->oracle_members,
                  sizeof a->oracle_members[0] * a->oracle_member_count) == 0;
}

/* The genesis time is now; the epoch clock's origin (configured, default 0: epochs count
 * EPOCH_S periods of Unix time) may not be after it.
 * Returns: 0, or -1 (message on stderr) when the clock would start after the genesis. */
static int set_times(ledger_genesis *g, uint64_t now)
{
    g->timestamp = now;
    if (g->epoch_origin <= now)
        return 0;
    rpc_log_msg(RPC_LOG_ERROR, "genesis_refused",
                "epoch_origin %" PRIu64 " is after the genesis time %" PRIu64
                " (now): epoch 0 must have started when the ledger is created",
                g->epoch_origin, now);
    return -1;
}

/* Generate one development key, write DATA/keys/<role>.key, return its public key. */
static int dev_key(const rpc_config *cfg, const char *role, uint8_t pub[32])
{
    char path[RPC_PATH_MAX + 64];
    uint8_t sec[32];
    snprintf(path, sizeof path, "%s/keys/%s.key", cfg->data_dir, role);
    if (crypto_keygen(sec, pub) != 0 || rpc_key_write(path, sec) != 0) {
        rpc_log_msg(RPC_LOG_ERROR, "create_failed", "cannot write %s: %s", path,
                    errno == EEXIST ? "exists (refusing to overwrite a key)" : strerror(errno));
        crypto_wipe(sec, sizeof sec);
        return -1;
    }
    crypto_wipe(sec, sizeof sec);
    return 0;
}

/* Make the ledger id unique: `name` + "-" + 16 hex digits of fresh randomness, so that two
 * ledgers created from one configuration never share an id, and no signature made for one
 * can apply to the other (the id is part of every transaction's signed tag).
 * Returns: 0, or -1 (message on stderr). */
static int salt_ledger_id(char id[LEDGER_ID_MAX + 1], const char *name)
{
    uint8_t rnd[RPC_SALT_BYTES];
    char hex[2 * RPC_SALT_BYTES + 1];
    size_t n = strlen(name);
    if (n == 0 || n > RPC_LEDGER_NAME_MAX) {
        rpc_log_msg(RPC_LOG_ERROR, "genesis_refused",
                    "ledger_id must be 1..%d characters: init appends '-' and %d random hex "
                    "digits",
                    RPC_LEDGER_NAME_MAX, 2 * RPC_SALT_BYTES);
        return -1;
    }
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        rpc_log_msg(RPC_LOG_ERROR, "create_failed", "the OS random source failed: %s",
                    strerror(errno));
        return -1;
    }
    ledger_hex(hex, rnd, sizeof rnd);
    snprintf(id, LEDGER_ID_MAX + 1, "%s-%s", name, hex);
    return 0;
}

static int dev_genesis(const rpc_config *cfg, ledger_genesis *g, uint64_t now)
{
    char path[RPC_PATH_MAX + 16];
    ledger_genesis_defaults(g);
    if (set_times(g, now) != 0 || salt_ledger_id(g->ledger_id, "lstd-dev") != 0)
        return -1;
    snprintf(path, sizeof path, "%s/keys", cfg->data_dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        rpc_log_msg(RPC_LOG_ERROR, "create_failed", "mkdir %s: %s", path, strerror(errno));
        return -1;
    }
    g->operator_count = 1;
    g->operators[0].fee_bps = 500;
    if (dev_key(cfg, "admin", g->admin) != 0 || dev_key(cfg, "custodian", g->custodian) != 0 ||
        dev_key(cfg, "treasury", g->treasury) != 0 ||
        dev_key(cfg, "operator", g->operators[0].key) != 0)
        return -1;
    memcpy(g->operators[0].fee_account, g->operators[0].key, 32);
    return 0;
}

static void print_dev(const rpc_config *cfg, const ledger_genesis *g)
{
    const struct {
        const char *role;
        const uint8_t *key;
    } roles[] = {{"admin", g->admin},
                 {"custodian", g->custodian},
                 {"operator", g->operators[0].key},
                 {"treasury", g->treasury}};
    printf("lstd: created development ledger %s\n", g->ledger_id);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        char hex[65];
        rpc_hex_encode32(hex, roles[i].key);
        printf("lstd:   %-9s %s  key %s/keys/%s.key\n", roles[i].role, hex, cfg->data_dir,
               roles[i].role);
    }
    printf("lstd:   operator id 1 (fee account = operator key)\n");
    printf("lstd:   epoch 0 started at %" PRIu64 ", %" PRIu64
           " s per epoch: a report may carry an epoch once it has started\n",
           g->epoch_origin, g->params[LEDGER_PARAM_EPOCH_S]);
}

int rpc_genesis_create(const char *ledger_dir, const rpc_config *cfg, uint64_t now)
{
    ledger_genesis dev, prod;
    const ledger_genesis *g;
    if (cfg->has_genesis) {
        prod = cfg->genesis;
        if (set_times(&prod, now) != 0 || salt_ledger_id(prod.ledger_id, cfg->genesis.ledger_id))
            return -1;
        g = &prod;
    } else {
        if (dev_genesis(cfg, &dev, now) != 0)
            return -1;
        g = &dev;
    }
    store_db_options opt = {.durability = cfg->durability};
    int rc = store_db_create(ledger_dir, g, &opt);
    if (rc == LEDGER_ALREADY_INITIALIZED) {
        rpc_log_msg(RPC_LOG_ERROR, "init_refused", "%s already holds a ledger", cfg->data_dir);
        return -1;
    }
    if (rc != 0) {
        rpc_log_msg(RPC_LOG_ERROR, "genesis_refused", "genesis refused: %s", ledger_err_name(rc));
        return -1;
    }
    if (g == &dev)
        print_dev(cfg, &dev);
    else
        printf("lstd: created ledger %s from the configured genesis\n", prod.ledger_id);
    return 0;
}

int rpc_genesis_check(store_db *db, const rpc_config *cfg)
{
    ledger_genesis existing;
    int rc = ledger_genesis_read(store_db_view(db), &existing);
    if (rc != LEDGER_OK) {
        rpc_log_msg(RPC_LOG_ERROR, "genesis_mismatch", "%s holds no readable ledger: %s",
                    cfg->data_dir, ledger_err_name(rc));
        return -1;
    }
    if (cfg->has_genesis && !same_genesis(&cfg->genesis, &existing)) {
        rpc_log_msg(RPC_LOG_ERROR, "genesis_mismatch",
                    "%s holds ledger %s, not the configured genesis", cfg->data_dir,
                    existing.ledger_id);
        return -1;
    }
    return 0;
}

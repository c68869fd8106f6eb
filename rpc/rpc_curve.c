/* rpc_curve.c - CURVE key files in Z85 or hex, key generation, the allow-list of client keys */
#include "rpc_curve.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto.h"
#include "crypto_curve.h"
#include "rpc_config.h"
#include "rpc_genesis.h"

struct rpc_curve_allow {
    pthread_mutex_t lock;
    uint8_t (*keys)[RPC_CURVE_KEY_SIZE]; /* sorted, no duplicates */
    size_t count;
    _Atomic uint64_t generation;
};

/* ---- keys as text ------------------------------------------------------------------------ */

int rpc_curve_key_parse(uint8_t out[RPC_CURVE_KEY_SIZE], const char *text)
{
    size_t n = strlen(text);
    if (n == 64)
        return rpc_hex_decode32(out, text);
    if (n != RPC_CURVE_Z85_LEN)
        return -1;
    return zmq_z85_decode(out, text) != NULL ? 0 : -1; /* NULL: not Z85's alphabet */
}

void rpc_curve_key_z85(char out[RPC_CURVE_Z85_LEN + 1], const uint8_t key[RPC_CURVE_KEY_SIZE])
{
    if (zmq_z85_encode(out, key, RPC_CURVE_KEY_SIZE) == NULL) /* cannot fail: 32 = 4 * 8 */
        out[0] = '\0';
}

/* The key on a line (in place), or "" for a blank line or a comment. A comment starts with a
 * '#' at the start of the line or after a blank ('#' is one of Z85's characters). Returns:
 * the text, or NULL when more than one word stands before the comment. */
static char *line_text(char *line)
{
    while (isspace((unsigned char)*line))
        line++;
    if (*line == '#')
        *line = '\0';
    char *e = line;
    while (*e != '\0' && !isspace((unsigned char)*e))
        e++;
    char *rest = e;
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest != '\0' && *rest != '#')
        return NULL;
    *e = '\0';
    return line;
}

/* The keys of an open key file, one a line: each passed to take (which may stop the reading
 * by returning -1). Out: msg. Returns: the number of keys, or -1. */
static long keys_read(FILE *f, const char *path, int (*take)(void *, const uint8_t *), void *ctx,
                      char *msg, size_t msg_size)
{
    char line[RPC_CURVE_LINE_MAX + 2];
    long keys = 0, n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        n++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(msg, msg_size, "%s:%ld: a line longer than %d characters", path, n,
                     RPC_CURVE_LINE_MAX);
            return -1;
        }
        char *text = line_text(line);
        uint8_t key[RPC_CURVE_KEY_SIZE];
        if (text != NULL && *text == '\0')
            continue;
        if (text == NULL || rpc_curve_key_parse(key, text) != 0) {
            snprintf(msg, msg_size, "%s:%ld: not a CURVE key (40 Z85 or 64 hex characters)", path,
                     n);
            crypto_wipe(line, sizeof line);
            return -1;
        }
        crypto_wipe(line, sizeof line);
        int rc = take(ctx, key);
        crypto_wipe(key, sizeof key);
        if (rc != 0) {
            snprintf(msg, msg_size, "%s:%ld: more than %d keys", path, n, RPC_CURVE_CLIENTS_MAX);
            return -1;
        }
        keys++;
    }
    if (ferror(f)) {
        snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    return keys;
}

/* take: keep the first key only (a second one is a mistake in the file). */
static int take_one(void *ctx, const uint8_t *key)
{
    uint8_t *out = ctx;
    if (out[RPC_CURVE_KEY_SIZE] != 0)
        return -1;
    memcpy(out, key, RPC_CURVE_KEY_SIZE);
    out[RPC_CURVE_KEY_SIZE] = 1;
    return 0;
}

/* The one key of an open file. Returns: 0 or -1 (msg). */
static int one_key(FILE *f, const char *path, uint8_t out[RPC_CURVE_KEY_SIZE], char *msg,
                   size_t msg_size)
{
    uint8_t got[RPC_CURVE_KEY_SIZE + 1] = {0};
    long n = keys_read(f, path, take_one, got, msg, msg_size);
    if (n == -1 && got[RPC_CURVE_KEY_SIZE] != 0)
        snprintf(msg, msg_size, "%s: more than one key", path);
    else if (n == 0)
        snprintf(msg, msg_size, "%s: no key in it", path);
    if (n == 1)
        memcpy(out, got, RPC_CURVE_KEY_SIZE);
    crypto_wipe(got, sizeof got);
    return n == 1 ? 0 : -1;
}

int rpc_curve_public_read(const char *path, uint8_t out[RPC_CURVE_KEY_SIZE], char *msg,
                          size_t msg_size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = one_key(f, path, out, msg, msg_size);
    fclose(f);
    return rc;
}

int rpc_curve_secret_read(const char *path, uint8_t out[RPC_CURVE_KEY_SIZE], char *msg,
                          size_t msg_size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    if (rpc_key_mode_ok(path, fileno(f)) != 0)
        snprintf(msg, msg_size, "%s: group or others may read it, or replace it", path);
    else
        rc = one_key(f, path, out, msg, msg_size);
    fclose(f);
    return rc;
}

/* ---- key generation ---------------------------------------------------------------------- */

/* Write a new file (never an existing one) holding a comment and a key. Returns: 0 or -1. */
static int key_file_write(const char *path, mode_t mode, const char *comment,
                          const uint8_t key[RPC_CURVE_KEY_SIZE])
{
    char text[RPC_CURVE_LINE_MAX];
    char z85[RPC_CURVE_Z85_LEN + 1];
    rpc_curve_key_z85(z85, key);
    int len = snprintf(text, sizeof text, "# %s\n%s\n", comment, z85);
    crypto_wipe(z85, sizeof z85);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    int rc = -1;
    if (fd >= 0) {
        rc = len > 0 && fchmod(fd, mode) == 0 && write(fd, text, (size_t)len) == len &&
                     fsync(fd) == 0
                 ? 0
                 : -1;
        close(fd);
    }
    crypto_wipe(text, sizeof text);
    return rc;
}

int rpc_curve_keygen(const char *base, uint8_t public_key[RPC_CURVE_KEY_SIZE], char *msg,
                     size_t msg_size)
{
    char secret_path[RPC_PATH_MAX + 16], public_path[RPC_PATH_MAX + 16];
    char comment[RPC_CURVE_Z85_LEN + 96], z85[RPC_CURVE_Z85_LEN + 1];
    uint8_t secret[RPC_CURVE_KEY_SIZE], pk[RPC_CURVE_KEY_SIZE];
    if (strlen(base) >= RPC_PATH_MAX) {
        snprintf(msg, msg_size, "%s: the name is too long", base);
        return -1;
    }
    snprintf(secret_path, sizeof secret_path, "%s.secret", base);
    snprintf(public_path, sizeof public_path, "%s.public", base);
    if (crypto_curve_keypair(pk, secret) != 0) {
        snprintf(msg, msg_size, "the random source failed");
        return -1;
    }
    rpc_curve_key_z85(z85, pk);
    snprintf(comment, sizeof comment, "lstd CURVE secret key, mode 0600; its public key: %s", z85);
    int rc = key_file_write(secret_path, 0600, comment, secret);
    crypto_wipe(secret, sizeof secret);
    if (rc != 0) {
        snprintf(msg, msg_size, "%s: %s", secret_path,
                 errno == EEXIST ? "the file exists (refusing to overwrite a key)"
                                 : strerror(errno));
        return -1;
    }
    if (key_file_write(public_path, 0644, "lstd CURVE public key", pk) != 0) {
        snprintf(msg, msg_size, "%s: %s", public_path,
                 errno == EEXIST ? "the file exists (refusing to overwrite a key)"
                                 : strerror(errno));
        unlink(secret_path);
        return -1;
    }
    memcpy(public_key, pk, RPC_CURVE_KEY_SIZE);
    return 0;
}

/* ---- the allow-list ---------------------------------------------------------------------- */

int rpc_curve_allow_new(rpc_curve_allow **out)
{
    rpc_curve_allow *a = calloc(1, sizeof *a);
    *out = a;
    if (a == NULL)
        return -1;
    pthread_mutex_init(&a->lock, NULL);
    return 0;
}

void rpc_curve_allow_free(rpc_curve_allow **ap)
{
    rpc_curve_allow *a = *ap;
    if (a == NULL)
        return;
    *ap = NULL;
    pthread_mutex_destroy(&a->lock);
    free(a->keys);
    free(a);
}

static int key_cmp(const void *x, const void *y)
{
    return memcmp(x, y, RPC_CURVE_KEY_SIZE);
}

/* Keys being read: grown by doubling up to RPC_CURVE_CLIENTS_MAX. */
typedef struct key_list {
    uint8_t (*keys)[RPC_CURVE_KEY_SIZE];
    size_t count, cap;
} key_list;

static int take_many(void *ctx, const uint8_t *key)
{
    key_list *l = ctx;
    if (l->count == RPC_CURVE_CLIENTS_MAX)
        return -1;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void *grown = realloc(l->keys, cap * RPC_CURVE_KEY_SIZE);
        if (grown == NULL)
            return -1;
        l->keys = grown;
        l->cap = cap;
    }
    memcpy(l->keys[l->count++], key, RPC_CURVE_KEY_SIZE);
    return 0;
}

/* Sort and drop duplicates. Returns: the number left. */
static size_t unique(key_list *l)
{
    if (l->count == 0)
        return 0;
    qsort(l->keys, l->count, RPC_CURVE_KEY_SIZE, key_cmp);
    size_t k = 1;
    for (size_t i = 1; i < l->count; i++)
        if (memcmp(l->keys[i], l->keys[k - 1], RPC_CURVE_KEY_SIZE) != 0)
            memmove(l->keys[k++], l->keys[i], RPC_CURVE_KEY_SIZE);
    return l->count = k;
}

/* Put l in place of the list (l may be empty: nobody). */
static void allow_swap(rpc_curve_allow *a, key_list *l)
{
    pthread_mutex_lock(&a->lock);
    void *old = a->keys;
    a->keys = l->keys;
    a->count = l->count;
    atomic_fetch_add(&a->generation, 1);
    pthread_mutex_unlock(&a->lock);
    free(old);
}

int rpc_curve_allow_load(rpc_curve_allow *a, const char *path, size_t *count, char *msg,
                         size_t msg_size)
{
    key_list l = {0};
    long n = -1;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
    } else {
        n = keys_read(f, path, take_many, &l, msg, msg_size);
        fclose(f);
    }
    if (n < 0) {
        free(l.keys);
        l = (key_list){0};
    }
    *count = unique(&l);
    allow_swap(a, &l);
    return n < 0 ? -1 : 0;
}

bool rpc_curve_allowed(void *ctx, const uint8_t key[RPC_CURVE_KEY_SIZE])
{
    rpc_curve_allow *a = ctx;
    pthread_mutex_lock(&a->lock);
    bool found = a->count > 0 && bsearch(key, a->keys, a->count, RPC_CURVE_KEY_SIZE, key_cmp);
    pthread_mutex_unlock(&a->lock);
    return found;
}

uint64_t rpc_curve_allow_generation(void *ctx)
{
    rpc_curve_allow *a = ctx;
    return atomic_load(&a->generation);
}

/* backup.c - lstd-backup: consistent hot backup of a ledger store, checked before success */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger.h"
#include "store_db.h"

enum {
    EXIT_DONE = 0,
    EXIT_FINDING = 1, /* the backup does not pass the check */
    EXIT_USAGE = 2,
    EXIT_UNREADABLE = 3, /* cannot open or read the source, or write the destination */
};

#define MSG_MAX 512

static void usage(FILE *out)
{
    fputs("usage: lstd-backup [--help] DATA_DIR DEST_DIR\n"
          "       lstd-backup --version      print \"lstd-backup VERSION\"\n"
          "\n"
          "Writes a consistent, compacted copy of an lstd ledger to DEST_DIR/ledger, so that\n"
          "`lstd --data DEST_DIR` starts from it. DATA_DIR is lstd's --data directory (its\n"
          "ledger/ is copied) or the ledger directory itself. The checkpoint is copied first,\n"
          "then the log, each as one read snapshot (LMDB's compacting copy), so the copy is\n"
          "consistent while lstd runs and does not stop it (the log copy reaches at least as\n"
          "far as the checkpoint copy). DEST_DIR must be empty or absent; it is created with\n"
          "mode 0700. The backup is then opened read-only as lstd would open it (checkpoint\n"
          "digest, history links, replay of the log after the checkpoint) and checked\n"
          "(invariants, tx index, recomputed state digest) before it is declared good;\n"
          "lstd-verify DEST_DIR also replays it from genesis.\n"
          "\n"
          "Keys are NOT copied: DATA_DIR/keys (development keys) holds secrets and must be\n"
          "backed up separately, by whatever means protects them.\n"
          "\n"
          "Exit status: 0 backup written and checked, 1 the backup fails the check, 2 usage\n"
          "(or DEST_DIR not empty), 3 the source cannot be read or DEST_DIR written.\n",
          out);
}

/* The copy being written, removed if reading the source faults. */
static char dest_data[PATH_MAX + 16];

static void on_fault(int sig)
{
    static const char msg[] = "lstd-backup: the source data file could not be read (truncated "
                              "or damaged: SIGBUS/SIGSEGV while reading it)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    (void)sig;
    if (dest_data[0] != '\0')
        unlink(dest_data);
    _exit(EXIT_UNREADABLE);
}

static void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Returns: EXIT_DONE when dest is absent or an empty directory, else the exit status. */
static int dest_usable(const char *dest)
{
    DIR *d = opendir(dest);
    if (d == NULL && errno == ENOENT)
        return EXIT_DONE;
    if (d == NULL) {
        fprintf(stderr, "lstd-backup: %s: %s\n", dest, strerror(errno));
        return errno == ENOTDIR ? EXIT_USAGE : EXIT_UNREADABLE;
    }
    const struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty) {
        fprintf(stderr, "lstd-backup: %s is not empty: refusing to write into it\n", dest);
        return EXIT_USAGE;
    }
    return EXIT_DONE;
}

/* Copy the source ledger (checkpoint, then log) to dest_ledger. Returns: an exit status. */
static int copy_store(const char *src_dir, const char *dest, const char *dest_ledger)
{
    if (mkdir(dest, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "lstd-backup: mkdir %s: %s\n", dest, strerror(errno));
        return EXIT_UNREADABLE;
    }
    int rc = store_db_backup(src_dir, dest_ledger, true);
    if (rc != 0) {
        fprintf(stderr, "lstd-backup: the copy failed: %s\n", ledger_err_name(rc));
        return EXIT_UNREADABLE;
    }
    return EXIT_DONE;
}

/* Open the backup read-only as lstd would (checkpoint digest, history links, replay of the log
 * after the checkpoint) and run ledger_check on it. Returns: an exit status. */
static int check_backup(const char *dest_ledger)
{
    store_db *b;
    ledger_genesis g;
    ledger_chain c;
    char msg[MSG_MAX], head[65], digest[65];
    store_db_options opt = {.read_only = true};
    int rc = store_db_open(&b, dest_ledger, &opt, msg, sizeof msg);
    if (rc == LEDGER_OK) {
        ledger_store *v = store_db_view(b);
        rc = ledger_genesis_read(v, &g);
        if (rc == LEDGER_OK)
            rc = ledger_read_chain(v, &c);
        if (rc == LEDGER_OK)
            rc = ledger_check(v, msg, sizeof msg);
        else
            snprintf(msg, sizeof msg, "genesis or chain unreadable");
        store_db_close(&b);
    }
    if (rc != LEDGER_OK) {
        printf("lstd-backup: FAILED: the backup does not check: %s (%s)\n", msg,
               ledger_err_name(rc));
        return rc == LEDGER_STORE_CORRUPT ? EXIT_FINDING : EXIT_UNREADABLE;
    }
    ledger_hex(head, c.head, 32);
    ledger_hex(digest, c.digest, 32);
    printf("lstd-backup: ledger %s, %" PRIu64 " records, %" PRIu64 " batches, last batch time "
           "%" PRIu64 "\nhead    %s\ndigest  %s\n",
           g.ledger_id, c.next_seq - 1, c.next_batch - 1, c.last_ts, head, digest);
    printf("check   ok   checkpoint digest, replay of the log after it, invariants, chain "
           "links, tx index, recomputed digest\n");
    return EXIT_DONE;
}

static void report_done(const char *dest, const char *data_dir)
{
    char keys[PATH_MAX + 16];
    snprintf(keys, sizeof keys, "%s/keys", data_dir);
    printf("lstd-backup: OK: start from it with: lstd --data %s\n", dest);
    if (is_dir(keys))
        printf("note: keys are NOT copied: %s holds secrets; back it up separately\n", keys);
    else
        printf("note: keys are NOT copied (only the ledger is)\n");
}

int main(int argc, char **argv)
{
    char src[PATH_MAX], dest_ledger[PATH_MAX];
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("lstd-backup %s\n", LSTD_VERSION);
        return EXIT_DONE;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return EXIT_DONE;
    }
    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        usage(stderr);
        return EXIT_USAGE;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *dest = argv[2];
    int n = snprintf(dest_ledger, sizeof dest_ledger, "%s/ledger", dest);
    if (n < 0 || (size_t)n >= sizeof dest_ledger) {
        fprintf(stderr, "lstd-backup: destination path too long\n");
        return EXIT_USAGE;
    }
    if (store_lmdb_locate("lstd-backup", argv[1], src, sizeof src) != 0)
        return EXIT_UNREADABLE;
    snprintf(dest_data, sizeof dest_data, "%s/data.mdb", dest_ledger);
    signals_install();
    int status = dest_usable(dest);
    if (status == EXIT_DONE)
        status = copy_store(src, dest, dest_ledger);
    if (status == EXIT_DONE)
        status = check_backup(dest_ledger);
    if (status == EXIT_DONE)
        report_done(dest, argv[1]);
    return status;
}

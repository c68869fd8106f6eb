/* rpc_log.h - lstd's operator log: levels, one key=value line per event, a reopenable file */
#ifndef LSTD_RPC_LOG_H
#define LSTD_RPC_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "ledger.h"

/* Levels, most severe first: a line is written when its level is at most the one set. */
typedef enum rpc_log_level {
    RPC_LOG_ERROR = 0,
    RPC_LOG_WARN = 1,
    RPC_LOG_INFO = 2, /* the default */
    RPC_LOG_DEBUG = 3
} rpc_log_level;

/* Every line goes to file descriptor 2: stderr, or the --log-file put in its place, so that
 * anything else writing to stderr (a library, a sanitizer) lands in the same file. */

/** The name of a level ("error", "warn", "info", "debug"). Static storage. */
const char *rpc_log_level_name(rpc_log_level level);

/** Parse a level name. Out: *out. Returns: 0, or -1 for a name that is none of the four. */
int rpc_log_level_parse(const char *name, rpc_log_level *out);

/** Set the level (any thread; the next line checks it). */
void rpc_log_set_level(rpc_log_level level);

/** Returns: whether a line of this level would be written (one relaxed atomic load: callers
 *  on a hot path check this before preparing a line). */
bool rpc_log_enabled(rpc_log_level level);

/** Plain mode (lstd init, an operator at a terminal): rpc_log_msg writes "lstd: MESSAGE"
 *  instead of a key=value line. Off by default. Call before any thread logs. */
void rpc_log_set_plain(bool plain);

/** Send the log to path (appended, created mode 0640), or back to the original stderr when
 *  path is NULL or "". Opens the path anew each time, so calling it again after logrotate
 *  renamed the file starts a new one. On failure the log stays where it was.
 *  Out: err (why). Returns: 0 or -1. Called by one thread at a time (lstd's main thread). */
int rpc_log_open(const char *path, char *err, size_t err_size);

/** Write one line, if level is enabled: `ts=<UTC, ms> level=<level> event=<event>` and then
 *  the fields fmt makes (` key=value` pairs, each starting with a space; quote any value that
 *  may hold a space with rpc_log_quote). One write(2) per line, so lines of different threads
 *  never mix. Under systemd's journal (JOURNAL_STREAM names this stderr) the line starts with
 *  the syslog priority, `<3>` .. `<7>`, which journald takes as the line's priority. */
void rpc_log(rpc_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** As rpc_log, for an event told as one sentence: the line ends in ` msg="SENTENCE"` (plain
 *  mode: the line is "lstd: SENTENCE"). */
void rpc_log_msg(rpc_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** A value as a log field holds it: s itself when it has no space, quote, '=', backslash or
 *  control character, else s in double quotes with '"' and '\' escaped and control characters
 *  as \n, \t or \xHH; cut to fit size. Out: out. Returns: out. */
const char *rpc_log_quote(char *out, size_t size, const char *s);

/** Log a recorded transaction an operator must see, once its batch is durable: reports
 *  (`report`, or `report_held` at warn when a sanity limit held it) and every admin kind
 *  (`report_accept`, `operator_register`, `operator_set_active`, `operator_set_keys`,
 *  `fee_set`, `param_set`, `pause_set`, `role_set`, `operator_reset`), named by its kind, with
 *  its seq, signer, result code, fields and outputs. Anything else (a transfer, say) is
 *  written at debug only. */
void rpc_log_tx(const ledger_tx *tx, const ledger_result *res);

/** Returns: whether rpc_log_tx would write a line for a transaction of this kind now
 *  (the sequencer keeps only those). */
bool rpc_log_tx_wanted(unsigned kind);

#endif

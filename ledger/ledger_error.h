/* ledger_error.h - the one list of result codes: enum value, stable wire name, message */
#ifndef LSTD_LEDGER_ERROR_H
#define LSTD_LEDGER_ERROR_H

/* Append-only: a code's number and name never change once released.
 * Codes 1..99: rejections that are NOT recorded (no nonce consumed): transaction decoding and
 * nonce rules (1..9) and the service's request errors (10..99).
 * Codes 100..899: rule violations recorded in the history with the nonce consumed.
 * Codes 900..: internal or storage failures; a batch that meets one is aborted whole. */
#define LEDGER_ERRORS(X)                                                                           \
    X(OK, 0, "success")                                                                            \
    X(KIND_UNKNOWN, 1, "unknown transaction kind")                                                 \
    X(NONCE_USED, 2, "nonce already used by a different transaction of this signer")               \
    X(NONCE_GAP, 3, "nonce is ahead of the signer's next nonce")                                   \
    X(TX_MALFORMED, 4, "transaction bytes do not match the documented layout")                     \
    X(SIGNER_HOLDS_NOTHING, 5,                                                                     \
      "signer holds no shares, role, allowance or lien this transaction needs; not recorded")      \
    X(MALFORMED, 10, "request is not one well-formed msgpack map")                                 \
    X(TOO_LARGE, 11, "request exceeds the size limit")                                             \
    X(WRONG_TYPE, 12, "field has the wrong type or size")                                          \
    X(MISSING_FIELD, 13, "required field is missing")                                              \
    X(UNKNOWN_FIELD, 14, "field is not defined for this operation")                                \
    X(DUPLICATE_FIELD, 15, "field appears twice")                                                  \
    X(UNKNOWN_OP, 16, "unknown operation")                                                         \
    X(OUT_OF_RANGE, 17, "field value out of range")                                                \
    X(BAD_SIGNATURE, 18, "signature does not verify")                                              \
    X(LEDGER_MISMATCH, 19, "transaction was signed for another ledger")                            \
    X(BUSY, 20, "server queue is full; retry later")                                               \
    X(NOT_FOUND, 21, "no such object")                                                             \
    X(SHUTTING_DOWN, 22, "server is shutting down")                                                \
    X(NOT_LEADER, 23, "this replica is a follower; send transactions to the leader")               \
    X(NO_QUORUM, 24, "replication has no quorum; transactions are not accepted until it returns")  \
    X(NOT_ADMIN, 100, "signer is not the admin")                                                   \
    X(NOT_CUSTODIAN, 101, "signer is not the custodian")                                           \
    X(NOT_OPERATOR, 102, "signer is not this operator's key")                                      \
    X(NOT_OPERATOR_OR_CUSTODIAN, 103, "signer is neither the custodian nor this operator")         \
    X(AMOUNT_ZERO, 104, "amount or shares must be greater than zero")                              \
    X(OVERFLOW, 105, "result does not fit in 64 bits")                                             \
    X(INVALID_ACCOUNT, 106, "account is not a valid x-only public key")                            \
    X(POOL_EMPTY, 107, "pool has no assets or no shares; the rate is undefined")                   \
    X(DEPOSITS_PAUSED, 110, "deposits are paused")                                                 \
    X(TRANSFERS_PAUSED, 111, "transfers are paused")                                               \
    X(WITHDRAWALS_PAUSED, 112, "withdrawals are paused")                                           \
    X(DEPOSIT_REF_USED, 120, "external deposit reference already credited")                        \
    X(STAKE_LIMIT_EXCEEDED, 121, "deposit exceeds the current stake limit")                        \
    X(SHARES_OUT_TOO_LOW, 122, "shares minted would be below min_shares_out")                      \
    X(DEPOSIT_TOO_SMALL, 123, "deposit would mint zero shares")                                    \
    X(INSUFFICIENT_SHARES, 130, "free share balance too low")                                      \
    X(ALLOWANCE_EXCEEDED, 131, "allowance too low")                                                \
    X(SELF_APPROVAL, 132, "an account cannot approve itself")                                      \
    X(LIEN_NOT_FOUND, 140, "no such lien")                                                         \
    X(LIEN_SELF, 141, "owner and beneficiary must differ")                                         \
    X(LIEN_NOT_BENEFICIARY, 142, "signer is not the lien's beneficiary")                           \
    X(LIEN_NOT_EXPIRED, 143, "owner may release only after expiry")                                \
    X(LIEN_EXPIRED, 144, "lien has expired and can no longer be seized")                           \
    X(LIEN_SHARES_EXCEEDED, 145, "more shares than the lien holds")                                \
    X(EXPIRY_IN_PAST, 146, "expiry is not after the batch time")                                   \
    X(WITHDRAWAL_NOT_FOUND, 150, "no such withdrawal request")                                     \
    X(WITHDRAWAL_NOT_OWNER, 151, "signer does not own this withdrawal request")                    \
    X(WITHDRAWAL_NOT_PENDING, 152, "withdrawal request is no longer pending")                      \
    X(WITHDRAWAL_NOT_FINALIZED, 153, "withdrawal request is not finalized")                        \
    X(WITHDRAWAL_ALREADY_SETTLED, 154, "withdrawal request is already settled")                    \
    X(MIN_AMOUNT_OUT_NOT_MET, 155, "amount at the current rate is below min_amount_out")           \
    X(WITHDRAWAL_TOO_SMALL, 156, "shares are worth zero base units")                               \
    X(FINALIZE_NOTHING, 157, "requests up to this id are already finalized")                       \
    X(FINALIZE_BEYOND_QUEUE, 158, "no withdrawal request with this id yet")                        \
    X(FINALIZE_TOO_MANY, 159, "too many requests for one finalize transaction")                    \
    X(INSUFFICIENT_BUFFER, 160, "buffered assets do not cover the payouts")                        \
    X(OPERATOR_NOT_FOUND, 170, "no such operator")                                                 \
    X(OPERATOR_INACTIVE, 171, "operator is deactivated")                                           \
    X(OPERATOR_KEY_IN_USE, 172, "key already belongs to an operator")                              \
    X(OPERATOR_CAP_EXCEEDED, 173, "operator would exceed its maximum share of pooled assets")      \
    X(OPERATOR_BALANCE_EXCEEDED, 174, "amount exceeds the operator's balance")                     \
    X(OPERATOR_LIMIT, 175, "too many operators")                                                   \
    X(EPOCH_NOT_INCREASING, 180, "report epoch must exceed the operator's last epoch")             \
    X(REPORT_APR_EXCEEDED, 181, "reward exceeds the annualised increase limit")                    \
    X(REPORT_DROP_EXCEEDED, 182, "decrease exceeds the one-off decrease limit")                    \
    X(REPORT_NOT_PENDING, 183, "no held report matches the accepted epoch and balance")            \
    X(EPOCH_IN_FUTURE, 184, "report epoch has not started at the batch time")                      \
    X(FEE_TOO_HIGH, 190, "fees would exceed 100 percent")                                          \
    X(PARAM_UNKNOWN, 191, "unknown parameter")                                                     \
    X(PARAM_OUT_OF_RANGE, 192, "parameter value out of range")                                     \
    X(PAUSE_FLAGS_UNKNOWN, 193, "unknown pause flag bits")                                         \
    X(ROLE_UNKNOWN, 194, "unknown role")                                                           \
    X(NOT_ORACLE_MEMBER, 200, "signer is not an oracle committee member")                          \
    X(ORACLE_MEMBER_EXISTS, 201, "key is already an oracle committee member")                      \
    X(ORACLE_MEMBER_NOT_FOUND, 202, "no such oracle committee member")                             \
    X(ORACLE_MEMBER_LIMIT, 203, "too many oracle committee members")                               \
    X(QUORUM_OUT_OF_RANGE, 204, "quorum must be 1..members (0 only with no members)")              \
    X(QUORUM_NO_MAJORITY, 205,                                                                     \
      "quorum is not more than half the members; quorum_set with minority 1 accepts it")           \
    X(REPORT_MODE_UNKNOWN, 206, "unknown report mode")                                             \
    X(COMMITTEE_MODE_REQUIRED, 207, "votes count only in committee report mode")                   \
    X(OPERATOR_REPORTS_DISABLED, 208,                                                              \
      "the oracle committee books balances: operator reports are disabled")                        \
    X(EPOCH_ALREADY_APPLIED, 209, "a report for this or a later epoch was already applied")        \
    X(PERFORMANCE_OUT_OF_RANGE, 210, "performance_bps exceeds 10000")                              \
    X(STORE_IO, 900, "storage input/output failure")                                               \
    X(STORE_FULL, 901, "storage map is full")                                                      \
    X(STORE_CORRUPT, 902, "stored record does not decode")                                         \
    X(NO_MEMORY, 903, "out of memory")                                                             \
    X(GENESIS_INVALID, 904, "genesis configuration is invalid")                                    \
    X(NOT_INITIALIZED, 905, "store holds no genesis")                                              \
    X(INTERNAL, 906, "internal server error")                                                      \
    X(ALREADY_INITIALIZED, 907, "store already holds a genesis")

typedef enum ledger_err {
#define LEDGER_ERR_ENUM(name, num, msg) LEDGER_##name = num,
    LEDGER_ERRORS(LEDGER_ERR_ENUM)
#undef LEDGER_ERR_ENUM
} ledger_err;

/** Returns: the stable wire name of a code ("INSUFFICIENT_SHARES"), or "UNKNOWN". Static. */
const char *ledger_err_name(int code);

/** Returns: the human message of a code. Static storage. */
const char *ledger_err_message(int code);

/** Returns: 1 if a transaction rejected with this code is still recorded (nonce consumed). */
int ledger_err_recorded(int code);

#endif

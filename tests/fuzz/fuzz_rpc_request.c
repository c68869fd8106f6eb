/* fuzz_rpc_request.c - libFuzzer target: rpc_request_decode and rpc_msgpack_check on any bytes */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Beyond "no crash" (ASan/UBSan): the code is one of the documented ones, the message is
 * NUL-terminated, and the walk never passes what msgpack-c then refuses. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rpc_request req;
    char msg[256];
    memset(msg, 'z', sizeof msg);
    int rc = rpc_request_decode(&req, data, size, msg, sizeof msg);
    int check = rpc_msgpack_check(data, size);
    if (memchr(msg, '\0', sizeof msg) == NULL)
        abort();
    switch (rc) {
    case LEDGER_OK:
        if (req.is_tx ? ledger_kind_lookup(req.tx.kind) == NULL : rpc_query_name(req.query) == NULL)
            abort();
        break;
    case LEDGER_MALFORMED:
        if (check == LEDGER_OK && strstr(msg, "must be a msgpack map") == NULL)
            abort(); /* the walk passed bytes that msgpack-c refused */
        break;
    case LEDGER_TOO_LARGE:
        if (size <= RPC_REQUEST_MAX_BYTES)
            abort();
        break;
    case LEDGER_WRONG_TYPE:
    case LEDGER_MISSING_FIELD:
    case LEDGER_UNKNOWN_FIELD:
    case LEDGER_DUPLICATE_FIELD:
    case LEDGER_UNKNOWN_OP:
    case LEDGER_OUT_OF_RANGE:
        if (check != LEDGER_OK)
            abort();
        break;
    default:
        abort();
    }
    return 0;
}

/* ledger_error.c - names and messages of the result codes */
#include "ledger_error.h"

const char *ledger_err_name(int code)
{
    switch (code) {
#define LEDGER_ERR_NAME(name, num, msg)                                                            \
    case num:                                                                                      \
        return #name;
        LEDGER_ERRORS(LEDGER_ERR_NAME)
#undef LEDGER_ERR_NAME
    }
    return "UNKNOWN";
}

const char *ledger_err_message(int code)
{
    switch (code) {
#define LEDGER_ERR_MSG(name, num, msg)                                                             \
    case num:                                                                                      \
        return msg;
        LEDGER_ERRORS(LEDGER_ERR_MSG)
#undef LEDGER_ERR_MSG
    }
    return "unknown error";
}

int ledger_err_recorded(int code)
{
    return code == LEDGER_OK || (code >= 100 && code < 900);
}

/* test_smoke.c - end-to-end walk through the main flows on a real store */
#include "fixture.h"
#include "test_util.h"

int main(void)
{
    fixture f;
    fx_open(&f, NULL);
    ledger_result r =
        fx_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, FX_USER, FX_NONE, 0, 1000000000, 0);
    CHECK_CODE(r.code, LEDGER_OK);
    CHECK_U64(r.out[0], 1000000000);
    r = fx_do(&f, FX_USER, LEDGER_TX_TRANSFER, FX_USER + 1, FX_NONE, 0, 400, 0);
    CHECK_CODE(r.code, LEDGER_OK);
    CHECK_U64(fx_account(&f, FX_USER + 1).shares, 400);
    r = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 500000000, 0);
    CHECK_CODE(r.code, LEDGER_OK);
    f.now += 86400;
    r = fx_do(&f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 500010000, 100);
    CHECK_CODE(r.code, LEDGER_OK);
    CHECK_U64(r.out[0], 10000);
    r = fx_do(&f, FX_USER, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 1000, 0);
    CHECK_CODE(r.code, LEDGER_OK);
    r = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 1, 0, 0);
    CHECK_CODE(r.code, LEDGER_OK);
    CHECK_U64(r.out[0], 1);
    fx_check(&f);
    fx_close(&f);
    return test_finish("test_smoke");
}

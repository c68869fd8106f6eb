#!/bin/sh
# rate_demo.sh - a development ledger with a few reports, plotted by `lst rate-history --png`
#
#   tools/rate_demo.sh [OUT.png] [BUILD_DIR]     (defaults: tools/rate-history.png, build)
#
# Starts `lstd --dev` on a fresh temporary directory (ports chosen by the kernel, metrics off),
# deposits 2000 tokens, funds operator 1 with 1000, then reports every 3 s: gains at about 6% a
# year of the operator's balance (within the 10% limit, VEST_S 0 so each reaches the rate at
# once), one report held (about 30% a year) and accepted by the admin, one slash, an
# operator_reset; then writes the plot and stops lstd. About 45 s. Needs gnuplot (gnuplot-nox).
set -eu
out=${1:-tools/rate-history.png}
bin=${2:-build}
work=$(mktemp -d "${TMPDIR:-/tmp}/lstd-rate-demo.XXXXXX")
"$bin/lstd" --dev --data "$work/data" --endpoint 'tcp://127.0.0.1:*' --events 'tcp://127.0.0.1:*' \
    --metrics off --durability nosync >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    grep -q '^lstd: ready ' "$work/out" && break
    sleep 0.1
done
LST_ENDPOINT=$(sed -n 's/^lstd: ready requests=\([^ ]*\) .*/\1/p' "$work/out")
export LST_ENDPOINT
lst() { "$bin/lst" "$@" >/dev/null; }
K=$work/data/keys
"$bin/lst" keygen "$work/alice.key" >/dev/null 2>&1
lst --key "$K/admin.key" param_set --param VEST_S --value 0
lst --key "$K/custodian.key" deposit --to "$work/alice.key" --amount 2000tok --external_ref demo-1
lst --key "$K/custodian.key" operator_fund --operator_id 1 --amount 1000tok
balance=1000000000000 # base units
epoch=1
report() { # report BALANCE: the operator's report of the next epoch
    lst --key "$K/operator.key" report --operator_id 1 --epoch "$epoch" --balance "${1}u"
}
report "$balance"
for step in 1 2 3 4 5 6 7 8 9 10 11 12; do
    sleep 3
    epoch=$((epoch + 1))
    case $step in
    4) # +0.000003% (about 30% a year over 3 s): held by the 10% limit, accepted by the admin
        balance=$((balance + balance / 1000000000 * 30))
        report "$balance" || true
        lst --key "$K/admin.key" report_accept --operator_id 1 --epoch "$epoch" --balance "${balance}u"
        ;;
    8) # -0.000002%: a slash
        balance=$((balance - balance / 1000000000 * 20))
        report "$balance"
        ;;
    10) # re-anchored by the admin at its balance plus a little
        balance=$((balance + 3000))
        lst --key "$K/admin.key" operator_reset --operator_id 1 --epoch "$epoch" --balance "${balance}u"
        ;;
    *) # about 6% a year over 3 s
        balance=$((balance + balance / 1000000000 * 57 / 10))
        report "$balance"
        ;;
    esac
done
"$bin/lst" rate-history
"$bin/lst" rate-history --png "$out"

#!/bin/sh
# test_replicas.sh - tools/replicas.sh as README shows it: 3 NATS servers and 3 replicas start,
# a transaction sent to a follower first reaches the leader through the endpoint list, every
# replica has it, and stopping the script stops every process it started.
#
#   test_replicas.sh SOURCE_DIR LSTD LST
set -eu
src=$1
export LSTD=$2 LST=$3
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || {
    echo "skipped: no nats-server"
    exit 77
}
work=$(mktemp -d "${TMPDIR:-/tmp}/lstd-replicas-test.XXXXXX")
base=$((20000 + $$ % 120 * 100)) # ports base+1 .. base+53, below the ephemeral range (32768..)
failures=0
fail() {
    echo "test_replicas: FAILED: $*" >&2
    failures=$((failures + 1))
}
"$src/tools/replicas.sh" --seconds 120 --dir "$work/run" --port-base "$base" >"$work/out" 2>&1 &
script=$!
trap 'kill $script 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 600); do
    grep -q 'replicas.sh: ready' "$work/out" && break
    kill -0 $script 2>/dev/null || break
    sleep 0.1
done
cat "$work/out"
grep -q 'replicas.sh: ready' "$work/out" || { fail "the replicas did not start"; exit 1; }
r1=tcp://127.0.0.1:$((base + 31)) r2=tcp://127.0.0.1:$((base + 41)) r3=tcp://127.0.0.1:$((base + 51))
keys=$work/run/r1/keys
"$LST" --endpoint "$r2,$r1,$r3" --key "$keys/custodian.key" deposit --to "$keys/treasury.key" \
    --amount 1.5 --external_ref replicas-test >"$work/deposit" 2>&1 || fail "deposit through the list"
cat "$work/deposit"
grep -q 'deposit OK  seq 1' "$work/deposit" || fail "the deposit was not recorded at seq 1"
"$LST" --endpoint "$r2" health >"$work/health" 2>&1 || fail "health of r2"
grep -q 'replication.role *follower' "$work/health" || fail "r2 is not a follower"
for r in "$r1" "$r2" "$r3"; do # each replica has it (a follower once it applied it)
    ok=no
    for _ in $(seq 50); do
        "$LST" --endpoint "$r" pool 2>/dev/null | grep -q '^seq *1$' && ok=yes && break
        sleep 0.1
    done
    [ $ok = yes ] || fail "$r does not hold seq 1"
done
kill $script
wait $script 2>/dev/null || true
sleep 1
if pgrep -f "$work/run" >/dev/null; then
    pgrep -af "$work/run" >&2
    fail "processes of the run are left"
fi
[ $failures -eq 0 ] && echo "test_replicas: all checks passed"
exit $failures

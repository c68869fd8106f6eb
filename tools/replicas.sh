#!/bin/sh
# replicas.sh - a 3-server NATS JetStream cluster and 3 lstd replicas of one ledger, on loopback
#
#   tools/replicas.sh [--seconds N] [--dir DIR] [--port-base P]
#
# Starts nats-server ×3 (one cluster, JetStream, every listener on 127.0.0.1), creates a
# development ledger in DIR/r1 (lstd init --dev), serves it with --replicate (it makes the
# stream and leads), joins DIR/r2 and DIR/r3 from the stream (lstd init --join) and serves them
# as followers. Prints each replica's endpoints and an `lst` command line with the endpoint
# list, then waits. Everything stops by itself after N seconds (default 600; 0: until
# Ctrl-C/SIGTERM), or when this script is killed (each child has a parent-death signal).
#   ports: P+1..3 NATS clients, P+11..13 NATS routes, P+21..23 NATS monitoring,
#          P+31.. requests, events and metrics of r1, P+41.. of r2, P+51.. of r3 (P = 14200)
# LSTD and LST name the binaries (default build/lstd and build/lst).
set -eu
cd "$(dirname "$0")/.."

seconds=600 dir="" base=14200
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --port-base) base=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "replicas.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
LSTD=${LSTD:-build/lstd}
LST=${LST:-build/lst}
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
for b in "$LSTD" "$LST" "$NATS"; do
    [ -x "$b" ] || { echo "replicas.sh: $b is missing (tools/setup.sh build; apt-get install nats-server)" >&2; exit 1; }
done
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/lstd-replicas.XXXXXX")
mkdir -p "$dir"
pids=""
stop() {
    trap - EXIT INT TERM
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    echo "replicas.sh: stopped (data and logs in $dir)"
}
trap stop EXIT
trap 'exit 0' INT TERM

# run NAME CMD...: in the background, dying with this script, output in DIR/NAME.log
run() {
    name=$1
    shift
    setpriv --pdeathsig KILL -- "$@" >"$dir/$name.log" 2>&1 &
    pids="$pids $!"
}

urls=""
routes=""
for i in 1 2 3; do
    urls="$urls${urls:+,}nats://127.0.0.1:$((base + i))"
    routes="$routes${routes:+, }nats-route://127.0.0.1:$((base + 10 + i))"
done
for i in 1 2 3; do
    mkdir -p "$dir/nats$i"
    cat >"$dir/nats$i.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$((base + i))
http: 127.0.0.1:$((base + 20 + i))
max_payload: 8MB
jetstream { store_dir: "$dir/nats$i", max_mem_store: 64MB, max_file_store: 4GB }
cluster { name: lstd, listen: 127.0.0.1:$((base + 10 + i)), routes: [$routes] }
EOF
    run "nats$i" "$NATS" -c "$dir/nats$i.conf"
done
# nats_logs: the end of each NATS server's log (why a replica could not start)
nats_logs() {
    for i in 1 2 3; do
        echo "--- nats$i.log (last lines)" >&2
        tail -n 8 "$dir/nats$i.log" >&2 2>/dev/null || true
    done
}
for i in 1 2 3; do # each server listening (a port taken by another process ends it at once)
    for _ in $(seq 100); do
        grep -q 'Server is ready' "$dir/nats$i.log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q 'Server is ready' "$dir/nats$i.log" 2>/dev/null || {
        echo "replicas.sh: NATS server n$i did not start (a port of $((base + i)), $((base + 10 + i)), $((base + 20 + i)) taken?)" >&2
        nats_logs
        exit 1
    }
done
# replica N's flags
flags() {
    port=$((base + 20 + 10 * $1))
    echo "--data $dir/r$1 --endpoint tcp://127.0.0.1:$((port + 1)) --events tcp://127.0.0.1:$((port + 2))" \
        "--metrics 127.0.0.1:$((port + 3)) --replicate $urls --node r$1"
}
ready() { # ready N: wait for replica N's ready line
    for _ in $(seq 300); do
        grep -q 'event=ready' "$dir/r$1.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "replicas.sh: replica r$1 did not start; its log:" >&2
    cat "$dir/r$1.log" >&2
    nats_logs
    exit 1
}

"$LSTD" init --dev --data "$dir/r1" >"$dir/init.log" 2>&1
# shellcheck disable=SC2046
run r1 "$LSTD" $(flags 1)
ready 1
id=$(sed -n 's/.*event=ready ledger_id=\([^ ]*\).*/\1/p' "$dir/r1.log" | head -1)
for n in 2 3; do
    "$LSTD" init --join "$id" --replicate "$urls" --data "$dir/r$n" >>"$dir/init.log" 2>&1
    # shellcheck disable=SC2046
    run "r$n" "$LSTD" $(flags $n)
    ready $n
done

list="tcp://127.0.0.1:$((base + 31)),tcp://127.0.0.1:$((base + 41)),tcp://127.0.0.1:$((base + 51))"
echo "replicas.sh: ledger $id on 3 replicas; NATS $urls"
for n in 1 2 3; do
    port=$((base + 20 + 10 * n))
    echo "  r$n: requests tcp://127.0.0.1:$((port + 1)) events tcp://127.0.0.1:$((port + 2)) metrics http://127.0.0.1:$((port + 3))/metrics log $dir/r$n.log"
done
echo "  try: $LST --endpoint $list --key $dir/r1/keys/custodian.key deposit --to $dir/r1/keys/treasury.key --amount 1.5 --external_ref demo1"
echo "       $LST --endpoint tcp://127.0.0.1:$((base + 41)) health    (a follower: role, lease holder, lag)"
echo "replicas.sh: ready; stopping in ${seconds}s (0: on Ctrl-C)"
if [ "$seconds" -gt 0 ]; then
    sleep "$seconds" &
    pids="$pids $!"
    wait $!
else
    while :; do sleep 3600; done
fi

#!/bin/sh
# setup.sh - install missing Debian packages, build lstd, then start it or run the test suite
#
#   tools/setup.sh start [lstd flags]   build lstd and lst (build/; not the tests) and start the
#                                       service with --dev (data: ./lstd-data; a development
#                                       ledger on the first start)
#   tools/setup.sh test [--long]        build normal and ASan+UBSan trees, run every test in both,
#                                       the integration tests in a ThreadSanitizer tree, then the
#                                       JavaScript client's tests (clients/js) on build/
#   tools/setup.sh build                build only
#
# --long raises the property-test steps, crash rounds and replication failovers
# (LSTD_ITERATIONS, LSTD_CRASH_ROUNDS, LSTD_REPL_ROUNDS)
# for runs outside the default CI budget.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake pkg-config liblmdb-dev libzmq3-dev libmsgpack-dev libsecp256k1-dev libsodium-dev libssl-dev libgmp-dev libsystemd-dev systemd help2man libmicrohttpd-dev gnuplot-nox nats-server libnats-dev"

install_missing() {
    missing=""
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "setup: installing$missing"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
}

build() { # build <dir> [cmake args]: every target (the tests too)
    dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j "$(nproc)"
}

build_service() { # build_service <dir>: only what `start` runs (lstd, and lst to talk to it)
    cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$1" -j "$(nproc)" --target lstd lst
}

run_tests() { # run_tests <dir> [ctest args]
    dir=$1
    shift
    echo "setup: running the test suite in $dir $*"
    (cd "$dir" && ctest --output-on-failure -j "$(nproc)" "$@")
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
start)
    install_missing
    build_service build
    exec build/lstd --dev "$@"
    ;;
test)
    if [ "${1:-}" = "--long" ]; then
        export LSTD_ITERATIONS="${LSTD_ITERATIONS:-200000}"
        export LSTD_CRASH_ROUNDS="${LSTD_CRASH_ROUNDS:-50}"
        export LSTD_REPL_ROUNDS="${LSTD_REPL_ROUNDS:-30}"
    fi
    # the JavaScript client's tests need node and npm: Debian's nodejs and npm unless on PATH
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
        PACKAGES="$PACKAGES nodejs npm"
    install_missing
    build build
    build build-asan -DLSTD_SANITIZE=ON
    build build-tsan -DLSTD_TSAN=ON
    run_tests build
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_tests build-asan
    # threads meet in the service: its integration tests under ThreadSanitizer (a report fails
    # the test or the lstd it started); libzmq is uninstrumented, hence the suppressions
    TSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/tsan.supp second_deadlock_stack=1" \
        run_tests build-tsan -L integration
    echo "setup: running the JavaScript client's tests (clients/js) against build/lstd"
    (cd clients/js && npm ci --no-audit --no-fund && LSTD_BINARY="$PWD/../../build/lstd" npm test)
    echo "setup: all tests passed (normal, ASan+UBSan and TSan builds, JavaScript client)"
    ;;
build)
    install_missing
    build build
    ;;
*)
    echo "usage: tools/setup.sh start [lstd flags] | test [--long] | build" >&2
    exit 2
    ;;
esac

#!/bin/sh
# bench_plot.sh - lstd-bench-ledger over account counts (uniform, zipf): data files and a PNG
#
#   tools/bench_plot.sh [--big] [--sync] [--batches N] [--bin DIR] [OUT_DIR] [-- BENCH FLAGS]
#
# For each scenario (uniform, zipf) and account count (1000 100000 1000000; --big adds
# 10000000) runs `lstd-bench-ledger --json --strict` on a fresh ledger under OUT_DIR (default
# build/bench; each ledger is removed after its run) and writes into OUT_DIR:
#   ledger.jsonl          every JSON line, as printed, appended run by run
#   ledger-SCENARIO.dat   accounts transfers_per_s p50_ms p99_ms p999_ms max_ms setup_per_s rss_mb
#   ledger.png            transfers/s (top) and batch p99 in ms (bottom) against accounts, log x
# --sync fsyncs every commit; --batches sets measured batches per run (default 200); --bin is
# the build directory holding lstd-bench-ledger (default build); flags after `--` go to every
# run (e.g. -- --batch-size 4096). BENCH_ACCOUNTS="1000 50000" overrides the account counts.
# gnuplot comes from the Debian package gnuplot-nox, installed with apt-get when missing.
set -eu
cd "$(dirname "$0")/.."

big=0 sync="" batches=200 bin=build out=build/bench
while [ $# -gt 0 ]; do
    case "$1" in
    --big) big=1 ;;
    --sync) sync=--sync ;;
    --batches) batches=$2; shift ;;
    --bin) bin=$2; shift ;;
    --) shift; break ;;
    -h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "bench_plot: unknown flag $1 (--help)" >&2; exit 2 ;;
    *) out=$1 ;;
    esac
    shift
done
accounts=${BENCH_ACCOUNTS:-"1000 100000 1000000"}
[ "$big" = 1 ] && accounts="$accounts 10000000"
bench="$bin/lstd-bench-ledger"
if [ ! -x "$bench" ]; then
    echo "bench_plot: $bench not found: build it first (cmake --build $bin --target lstd-bench-ledger)" >&2
    exit 1
fi

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "bench_plot: installing gnuplot-nox"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends gnuplot-nox
fi

mkdir -p "$out"
dir=""
trap 'if [ -n "$dir" ]; then rm -rf "$dir"; fi' EXIT # a failed run leaves no ledger behind
field() { # field JSON KEY: the value of a top-level number or string
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

for scenario in uniform zipf; do
    dat="$out/ledger-$scenario.dat"
    echo "# accounts transfers_per_s p50_ms p99_ms p999_ms max_ms setup_per_s rss_mb" >"$dat"
    for n in $accounts; do
        dir="$out/ledger-$scenario-$n"
        rm -rf "$dir"
        echo "bench_plot: $scenario, $n accounts" >&2
        # shellcheck disable=SC2086
        line=$("$bench" --json --strict --scenario "$scenario" --accounts "$n" \
            --batches "$batches" $sync "$@" "$dir")
        rm -rf "$dir"
        printf '%s\n' "$line" >>"$out/ledger.jsonl"
        printf '%s\n' "$line" >&2
        row=""
        for k in accounts transfers_per_s p50_ms p99_ms p999_ms max_ms setup_per_s rss_mb; do
            row="$row $(field "$line" "$k")"
        done
        echo "$row" >>"$dat"
    done
done

mode="no fsync"
[ -n "$sync" ] && mode="fsync every batch"
gnuplot <<EOF
set terminal pngcairo size 900,900 noenhanced font ",10"
set output "$out/ledger.png"
set multiplot layout 2,1 title "lstd-bench-ledger: $mode, $batches batches, $(date -u +%Y-%m-%d) on $(hostname)"
set logscale x
set format x "%.0s%c"
set xlabel "accounts"
set grid
set key top right
set ylabel "transfers/s"
set yrange [0:*]
plot "$out/ledger-uniform.dat" using 1:2 with linespoints title "uniform", \
     "$out/ledger-zipf.dat" using 1:2 with linespoints title "zipf (s = 1)"
set ylabel "batch apply + commit p99 (ms)"
plot "$out/ledger-uniform.dat" using 1:4 with linespoints title "uniform", \
     "$out/ledger-zipf.dat" using 1:4 with linespoints title "zipf (s = 1)"
unset multiplot
EOF
echo "bench_plot: wrote $out/ledger.png, $out/ledger-uniform.dat, $out/ledger-zipf.dat, $out/ledger.jsonl"

#!/usr/bin/env bash
# Every measurement BENCHMARKS.md and the performance guide quote, one after the other, in one
# run: the machine and the date first, then each command and what it printed. Not run in CI
# (about 15 minutes; nothing else should run on the machine meanwhile).
#
#   bash benches/all.sh 2>&1 | tee bench-run.txt
#   SKIP_SDKS=1 bash benches/all.sh     # without the Python and Node SDK comparison
#
# Each bench prints the ratio it is judged by; this script only runs them in order and keeps
# their summaries (criterion's per-benchmark lines are dropped: its estimates are in
# target/criterion).
set -euo pipefail
cd "$(dirname "$0")/.."

CRITERION_ARGS=(--warm-up-time 1 --measurement-time 3)

echo "== machine"
date -u '+%Y-%m-%d %H:%M:%S UTC'
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "sha_ni: $(grep -q -m1 -w sha_ni /proc/cpuinfo && echo yes || echo no)"
rustc --version
uname -sr

summary() { # keeps the lines a bench prints after criterion's own
    grep -v -E '^(Benchmarking|Found [0-9]+ outliers|  [0-9]+ \(|Gnuplot|WARNING|$)' |
        grep -v -E '^[a-z0-9_]+/[a-z0-9_]+ *$|(time|thrpt|change): +\[|^ +(time|thrpt|change):' |
        grep -v -E '^ +(Performance has|No change in|Change within)' || true
}

for bench in verify layer replay scaling tenants; do
    echo
    echo "== cargo bench --bench $bench -- ${CRITERION_ARGS[*]}"
    cargo bench --quiet --bench "$bench" -- "${CRITERION_ARGS[@]}" 2>&1 | summary
done

echo
echo "== cargo test --release --test allocations --test in_flight_memory -- --nocapture"
cargo test --release --quiet --test allocations --test in_flight_memory -- --nocapture 2>&1 |
    grep -v -E '^(running|test result|$)' || true

echo
echo "== bash benches/load.sh"
bash benches/load.sh 2>&1 | grep -v -E '^(building|installing)'

if [ -z "${SKIP_SDKS:-}" ]; then
    echo
    echo "== bash benches/compare_sdks/compare.sh"
    bash benches/compare_sdks/compare.sh 2>&1 | grep -v -E '^(installing|measuring)'
fi

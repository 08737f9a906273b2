#!/usr/bin/env bash
# End-to-end load: the `server` example (PlivoSignatureLayer on every path) against the same app
# without the layer (`server_unguarded`), both release builds on 127.0.0.1, driven by `wrk` with
# the same signed 1 KiB form POST, the two servers alternating round by round. Prints
# requests/s, p50/p99 latency and the server CPU time per request (read from /proc/PID/stat
# around each run) for each, and the ratios of the medians it is judged by: server CPU per
# request (target <= 1.10) and throughput (target >= 0.90).
#
#   bash benches/load.sh                 # 10 s per run, 5 rounds, 32 connections
#   DURATION=30 ROUNDS=3 CONNECTIONS=64 bash benches/load.sh
#   KEEP_WORK=1 bash benches/load.sh      # keep the temp dir (wrk script, server logs)
#
# Loopback only, bounded (ROUNDS x 2 runs of DURATION seconds), and the servers are stopped on
# exit. Installs wrk (Debian package) with apt-get when it is missing.
#
# Settings, the same for both servers:
# - the signature is fixed (one body, one nonce), so the guarded server runs with
#   PLIVO_REPLAY_STORE=off: with replay protection on, every request after the first would be a
#   replay (403). The replay store's own cost is measured by `cargo bench --bench replay`.
# - RUST_LOG=tower_plivo=info: accepted requests log at debug, so nothing is logged per request
#   (production setting). LOG=debug runs with one log line per accepted request instead.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
LOG=${LOG:-info}
GUARDED_PORT=${GUARDED_PORT:-39481}
BASELINE_PORT=${BASELINE_PORT:-39482}
TOKEN=loadTESTtokenNOTaSECRET000000000
ORIGIN=https://hooks.example.com
NONCE=31627761595286130198

if ! command -v wrk >/dev/null; then
    echo "installing wrk (apt-get)..." >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq wrk >/dev/null
fi

echo "building release binaries..." >&2
cargo build --release --quiet --example server --example server_unguarded --example sign
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BIN="$TARGET_DIR/release/examples"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A 1 KiB Plivo-like form body: public vector 1's parameters (docs/wire-format.md, §8), then padding params.
BODY='Direction=outbound&From=19792014278&ALegUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&CallStatus=in-progress&BillRate=0.002&ParentAuthID=MANWVLYTK4ZWU1YTY4QA&To=sip%3APlivoSignature382029104058171078704104%40phone-qa.voice.plivodev.com&ALegRequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&CallUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&RequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&SIP-H-To=%3Csip%3APlivoSignature382029104058171078704104%4052.9.11.55%3Btransport%3Dudp%3E%3Btag%3D1&SessionStart=2020-04-08+11%3A34%3A33.238707&Event=StartApp'
i=0
while [ ${#BODY} -lt 1000 ]; do
    BODY="$BODY&Extra$i=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"
    i=$((i + 1))
done
BODY=${BODY:0:1024}
# The cut may leave a dangling `%` or `%X`: still a valid body (kept literally), signed as is.

SIGNATURE=$("$BIN/sign" --token "$TOKEN" --url "$ORIGIN/answer" --data "$BODY" --nonce "$NONCE" |
    grep -o 'X-Plivo-Signature-V3: [A-Za-z0-9+/=]*' | cut -d' ' -f2)
[ -n "$SIGNATURE" ] || { echo "could not sign the request" >&2; exit 1; }

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.path = "/answer"
wrk.body = [[$BODY]]
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["X-Plivo-Signature-V3"] = "$SIGNATURE"
wrk.headers["X-Plivo-Signature-V3-Nonce"] = "$NONCE"

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  local socket = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), non2xx, socket))
end
LUA

start_server() { # name binary port
    local log="$WORK/$1.log"
    env BIND="127.0.0.1:$3" PLIVO_AUTH_TOKEN="$TOKEN" PLIVO_PUBLIC_URL="$ORIGIN" \
        PLIVO_REPLAY_STORE=off RUST_LOG="tower_plivo=$LOG" "$2" >"$log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        if grep -q "listening on" "$log"; then return 0; fi
        sleep 0.1
    done
    echo "$1 did not start:" >&2
    cat "$log" >&2
    exit 1
}

start_server guarded "$BIN/server" "$GUARDED_PORT"
GUARDED_PID=${PIDS[-1]}
start_server baseline "$BIN/server_unguarded" "$BASELINE_PORT"
BASELINE_PID=${PIDS[-1]}

# CPU time (user + system, in clock ticks) a server process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# The guarded server must accept the request (and refuse a tampered one), or the run is moot.
check() { # port body -> status
    curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/answer" \
        -H "X-Plivo-Signature-V3: $SIGNATURE" -H "X-Plivo-Signature-V3-Nonce: $NONCE" \
        -H 'Content-Type: application/x-www-form-urlencoded' --data-raw "$2"
}
[ "$(check "$GUARDED_PORT" "$BODY")" = 200 ] || { echo "guarded server refused the signed request" >&2; exit 1; }
[ "$(check "$GUARDED_PORT" "${BODY}x")" = 403 ] || { echo "guarded server accepted a tampered body" >&2; exit 1; }

run() { # name port pid -> "rps p50_us p99_us server_cpu_us_per_request"
    local out cpu_before cpu_after
    cpu_before=$(cpu_ticks "$3")
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" \
        "http://127.0.0.1:$2" | grep '^RESULT')
    cpu_after=$(cpu_ticks "$3")
    read -r _ requests duration_us p50 p99 non2xx socket <<<"$out"
    if [ "$non2xx" != 0 ] || [ "$socket" != 0 ]; then
        echo "$1: $non2xx non-2xx responses, $socket socket errors" >&2
        exit 1
    fi
    awk -v r="$requests" -v d="$duration_us" -v a="$p50" -v b="$p99" \
        -v c="$((cpu_after - cpu_before))" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f %d %d %.1f\n", r / (d / 1e6), a, b, c / hz * 1e6 / r }'
}

echo "load: $ROUNDS round(s) x ${DURATION}s per server, $CONNECTIONS connections, $THREADS wrk thread(s), 1 KiB signed form POST, $(nproc) CPUs shared by wrk and the server"
best_base=0; best_guard=0
base_all=(); guard_all=(); base_cpu_all=(); guard_cpu_all=()
for round in $(seq "$ROUNDS"); do
    read -r base_rps base_p50 base_p99 base_cpu <<<"$(run baseline "$BASELINE_PORT" "$BASELINE_PID")"
    read -r guard_rps guard_p50 guard_p99 guard_cpu <<<"$(run guarded "$GUARDED_PORT" "$GUARDED_PID")"
    printf 'round %d: without layer %6d req/s (p50 %5d us, p99 %6d us, server CPU %5.1f us/req) | with layer %6d req/s (p50 %5d us, p99 %6d us, server CPU %5.1f us/req) | ratio %.3f\n' \
        "$round" "$base_rps" "$base_p50" "$base_p99" "$base_cpu" \
        "$guard_rps" "$guard_p50" "$guard_p99" "$guard_cpu" \
        "$(awk -v g="$guard_rps" -v b="$base_rps" 'BEGIN { print g / b }')"
    base_all+=("$base_rps"); guard_all+=("$guard_rps")
    base_cpu_all+=("$base_cpu"); guard_cpu_all+=("$guard_cpu")
    if [ "$base_rps" -gt "$best_base" ]; then best_base=$base_rps; bb50=$base_p50; bb99=$base_p99; fi
    if [ "$guard_rps" -gt "$best_guard" ]; then best_guard=$guard_rps; bg50=$guard_p50; bg99=$guard_p99; fi
done
printf 'best: without layer %d req/s (p50 %d us, p99 %d us); with layer %d req/s (p50 %d us, p99 %d us)\n' \
    "$best_base" "$bb50" "$bb99" "$best_guard" "$bg50" "$bg99"
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base_median=$(median "${base_all[@]}"); guard_median=$(median "${guard_all[@]}")
base_cpu_median=$(median "${base_cpu_all[@]}"); guard_cpu_median=$(median "${guard_cpu_all[@]}")
printf 'median of %d rounds: without layer %.0f req/s, server CPU %.2f us/req; with layer %.0f req/s, server CPU %.2f us/req\n' \
    "$ROUNDS" "$base_median" "$base_cpu_median" "$guard_median" "$guard_cpu_median"
awk -v g="$guard_cpu_median" -v b="$base_cpu_median" \
    'BEGIN { r = g / b; printf "server CPU per request, ratio of the medians (with / without layer): %.3f (target <= 1.10) %s\n", r, (r <= 1.10 ? "met" : "MISSED") }'
awk -v g="$guard_median" -v b="$base_median" \
    'BEGIN { r = g / b; printf "throughput ratio of the medians (with / without layer): %.3f (target >= 0.90) %s\n", r, (r >= 0.90 ? "met" : "MISSED") }'
echo "non-2xx responses and socket errors: 0 (a run with any stops the script)"
